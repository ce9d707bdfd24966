// Package output writes an edited image, an overlay.Image, to where the
// user asked: to a new file, which is created without clobbering anything
// and appears only once it is complete, or as a stream, such as standard
// output. (The third mode, into the image file itself, is package
// imagefile's.) For the same overlay the modes give the same bytes. Every
// function that writes an image takes a context and stops soon after it is
// cancelled; a new file that was not finished is removed.
//
// In isobuild's pipeline, Butane → Ignition → initramfs → overlay → output,
// this package is the last step.
package output

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/term"

	"github.com/isobuild/isobuild/internal/filelock"
	"github.com/isobuild/isobuild/pkg/overlay"
)

// Stdout is the -o value that selects streaming to standard output.
const Stdout = "-"

// TempPrefix starts the names of the temporary files that new outputs are
// written to, in the output directory.
const TempPrefix = ".isobuild-temp-"

// ErrTerminal refuses to write an image to a terminal.
var ErrTerminal = errors.New("refusing to write binary data to a terminal")

// ExistsError reports an output path that already exists.
type ExistsError struct {
	Path string
}

func (e *ExistsError) Error() string { return fmt.Sprintf("output %s already exists", e.Path) }

// Unwrap makes errors.Is(err, fs.ErrExist) true.
func (e *ExistsError) Unwrap() error { return fs.ErrExist }

// Write writes img to dest: Stdout means the stream stdout; anything else
// is the path of a new file, which must not exist. (Edits in place go
// through package imagefile, whose journal makes them atomic.)
func Write(ctx context.Context, dest string, stdout io.Writer, img *overlay.Image) error {
	if dest == Stdout {
		return Stream(ctx, stdout, img)
	}
	return NewFile(ctx, dest, img)
}

// Stream writes img to w, refusing a terminal. When w is a pipe or another
// non-regular file, a cancelled ctx also ends a write that waits for a
// reader that does not read.
func Stream(ctx context.Context, w io.Writer, img *overlay.Image) error {
	if err := RefuseTerminal(w); err != nil {
		return err
	}
	if f, ok := w.(*os.File); ok {
		if pf, restore, err := pollable(f); err == nil {
			defer restore()
			stop := context.AfterFunc(ctx, func() { pf.SetWriteDeadline(time.Now()) })
			defer stop()
			w = pf
		}
	}
	_, err := img.WriteToContext(ctx, w)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("writing the image: %w", context.Cause(ctx))
	}
	return err
}

// ErrSameFile refuses to stream an image into the file it is read from.
var ErrSameFile = errors.New("standard output is the input image itself: refusing to write the image into the file it is being read from")

// ErrClosed refuses to stream to a standard output that the caller
// closed (as with ">&-"): the bytes would be lost while the command
// reports success. A closed standard output looks like /dev/null opened
// read-write (the Go runtime puts that in its place), so that is refused
// too; ">/dev/null" (write-only) discards an image on purpose.
var ErrClosed = errors.New("standard output is closed (or is /dev/null opened read-write): refusing to discard the image; redirect it with >/dev/null to discard it on purpose")

// CheckStream checks, before anything is planned or written, that w can
// take an image read from in: w must be open, and must not be in itself
// (as with ">> in.iso" or "1<> in.iso"), which would change the input
// while it is read.
func CheckStream(w io.Writer, in *os.File) error {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	if closedStdout(f, st) {
		return ErrClosed
	}
	if in != nil {
		if ist, err := in.Stat(); err == nil && os.SameFile(st, ist) {
			return ErrSameFile
		}
	}
	return nil
}

// NewFile writes img to a new file at path, as CreateNew does.
func NewFile(ctx context.Context, path string, img *overlay.Image) error {
	if err := CheckNew(path); err != nil {
		return err
	}
	return viaTemp(ctx, path, func(f *os.File) error {
		_, err := img.WriteToContext(ctx, f)
		return err
	}, (*temp).linkNew)
}

// RefuseTerminal returns ErrTerminal when w is a terminal.
func RefuseTerminal(w io.Writer) error {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil
	}
	isTerm := false
	// Control, unlike Fd, leaves the descriptor's blocking mode alone.
	rc.Control(func(fd uintptr) { isTerm = term.IsTerminal(int(fd)) })
	if isTerm {
		return ErrTerminal
	}
	return nil
}

// CheckNew fails early, before a whole image is copied, when path exists.
// The no-replace rename in CreateNew is what really guards against
// clobbering.
func CheckNew(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return &ExistsError{Path: path}
	}
	return nil
}

// CreateNew writes a new file at path through fill. fill writes into a
// temporary file in the same directory; only when it succeeds is the file
// synced and linked into place, and never over an existing file (an
// *ExistsError). On any failure the temporary file is removed, so nothing
// is left behind; see newTemp for what survives a SIGKILL (nothing, where
// the file system has unnamed temporary files).
func CreateNew(path string, fill func(*os.File) error) error {
	if err := CheckNew(path); err != nil {
		return err
	}
	return viaTemp(context.Background(), path, fill, (*temp).linkNew)
}

// Replace writes img to path, replacing the file there if there is one, as
// coreos-installer's "pxe ... wrap -o" does. Like CreateNew it goes through
// a temporary file, so path holds either the old file or the whole new one.
func Replace(ctx context.Context, path string, img *overlay.Image) error {
	fill := func(f *os.File) error {
		_, err := img.WriteToContext(ctx, f)
		return err
	}
	return viaTemp(ctx, path, fill, (*temp).replace)
}

// Pending is a new output file that is filled with its base image while
// the caller is still planning the edit. Begin starts copying the base into
// a temporary file beside the output; Finish writes the edit's patches and
// appended extents over the copy and links the file into place, as NewFile
// would; Abort removes it. The result is the same as NewFile's, but the
// planning (Butane translation, validation, xz compression) happens while
// the kernel copies, so that writing a customized image takes as long as
// copying it.
type Pending struct {
	path   string
	tmp    *temp
	base   int64 // size of the base that is being copied
	cancel context.CancelFunc
	copied chan error // receives the copy's result once
	waited bool
	err    error // the copy's result, once waited
	done   bool  // the file is in place
	// device writes the image to a device instead (see WithDevice).
	device func(context.Context, *overlay.Image) error
}

// wait waits for the copy to end and returns its error.
func (p *Pending) wait() error {
	if !p.waited {
		p.err, p.waited = <-p.copied, true
	}
	return p.err
}

// Begin starts copying the first size bytes of base into a temporary file
// beside path. Whether path exists is checked by Finish, so that the
// planning errors come first, as they do with NewFile. The caller must call
// Finish or Abort (Abort after Finish does nothing, so it can be deferred).
func Begin(ctx context.Context, path string, base io.ReaderAt, size int64) (*Pending, error) {
	if f := deviceFor(ctx, path); f != nil {
		return beginDevice(ctx, path, size, f)
	}
	tmp, err := openTemp(path)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	p := &Pending{path: path, tmp: tmp, base: size, cancel: cancel, copied: make(chan error, 1)}
	go func() {
		_, err := overlay.New(base, size).WriteToContext(cctx, tmp.File)
		p.copied <- err
	}()
	return p, nil
}

// Finish waits for the copy, writes the patches and appended extents of img
// into it, syncs it and links it into place without replacing anything. img
// must be an overlay of the base given to Begin, of at least its size.
func (p *Pending) Finish(ctx context.Context, img *overlay.Image) error {
	if p.device != nil {
		return p.device(ctx, img)
	}
	defer p.Abort()
	if err := CheckNew(p.path); err != nil {
		return err
	}
	if err := p.wait(); err != nil {
		return fmt.Errorf("writing %s: %w", p.path, err)
	}
	if img.Size() < p.base {
		return fmt.Errorf("writing %s: the edit (%d bytes) is smaller than its base (%d bytes)", p.path, img.Size(), p.base)
	}
	if err := img.ApplyTo(ctx, p.tmp.File); err != nil {
		return fmt.Errorf("writing %s: %w", p.path, err)
	}
	if err := p.tmp.finish(ctx, p.path, (*temp).linkNew); err != nil {
		return err
	}
	p.done = true
	return nil
}

// Abort stops the copy and removes the temporary file, unless Finish has
// put it in place.
func (p *Pending) Abort() {
	if p.device != nil {
		return
	}
	p.cancel()
	p.wait()
	p.tmp.discard()
}

// viaTemp fills a temporary file beside path and finishes it with place.
// The temporary file is removed on every failure.
func viaTemp(ctx context.Context, path string, fill func(*os.File) error, place func(*temp, string) error) error {
	tmp, err := openTemp(path)
	if err != nil {
		return err
	}
	defer tmp.discard()
	if err := fill(tmp.File); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return tmp.finish(ctx, path, place)
}

// openTemp creates a temporary file in the directory of path.
func openTemp(path string) (*temp, error) {
	dir := filepath.Dir(path)
	tmp, err := newTemp(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("output directory %s does not exist", dir)
		}
		return nil, fmt.Errorf("creating a temporary file in %s: %w", dir, err)
	}
	return tmp, nil
}

// temp is a temporary output file: unnamed where the file system allows
// it (O_TMPFILE on Linux), so that a process killed while writing it
// leaves nothing behind, or else named TempPrefix plus a random suffix and
// locked while its owner lives, so that a later run can tell it is stale
// and remove it (see removeStale).
type temp struct {
	*os.File
	dir    string
	name   string // path of a named temporary file; "" when unnamed
	closed bool
	done   bool // linked into place or discarded
	moved  bool // a named file was moved to its final path
}

// unnamedTemps is false in tests of the named fallback.
var unnamedTemps = true

// staleAge is how old an unlocked named temporary file must be before
// removeStale takes it for a dead process's: a file that another process
// has just created and not yet locked is younger.
const staleAge = 10 * time.Second

// newTemp creates a temporary file in dir, after removing the stale
// temporary files of dead processes there.
func newTemp(dir string) (*temp, error) {
	removeStale(dir)
	if unnamedTemps {
		f, err := openUnnamed(dir)
		switch {
		case err == nil:
			// Locked too, for the moment Replace gives it a name.
			filelock.TryLock(f, true)
			return &temp{File: f, dir: dir}, nil
		case errors.Is(err, errors.ErrUnsupported):
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission):
			return nil, err
		}
		// Otherwise the file system (or the system) has no unnamed
		// files: use a name.
	}
	f, err := createTemp(dir)
	if err != nil {
		return nil, err
	}
	t := &temp{File: f, dir: dir, name: f.Name()}
	if err := filelock.TryLock(f, true); err != nil && !errors.Is(err, filelock.ErrUnsupported) {
		// Nobody else can hold a lock on a file just created with
		// O_EXCL; anything else is a real error.
		t.discard()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return t, nil
}

// finish syncs the filled file, hands it to place, which puts it at path,
// and closes it. A ctx cancelled before the file is placed stops it: a
// command that was told to stop leaves no output.
func (t *temp) finish(ctx context.Context, path string, place func(*temp, string) error) error {
	if err := t.Sync(); err != nil {
		return fmt.Errorf("syncing the new %s: %w", path, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("writing %s: %w", path, context.Cause(ctx))
	}
	if t.name != "" {
		// A named file is closed first: Windows renames no open file.
		t.closed = true
		if err := t.Close(); err != nil {
			return fmt.Errorf("closing %s: %w", t.name, err)
		}
	}
	if err := place(t, path); err != nil {
		return err
	}
	t.done = true
	if !t.closed {
		t.closed = true
		if err := t.Close(); err != nil {
			return fmt.Errorf("closing %s: %w", path, err)
		}
	}
	return nil
}

// linkNew puts the file at path, never over an existing file.
func (t *temp) linkNew(path string) error {
	var err error
	if t.name == "" {
		err = linkUnnamed(t.File, path)
	} else if err = renameNoReplace(t.name, path); err == nil {
		t.moved = true
	}
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return &ExistsError{Path: path}
		}
		return fmt.Errorf("creating %s: %w", path, err)
	}
	return nil
}

// replace puts the file at path, replacing what is there in one rename.
func (t *temp) replace(path string) error {
	name := t.name
	if name == "" {
		// An unnamed file gets a name first (locked, as it is open),
		// and then moves over path.
		var err error
		for range 100 {
			name = filepath.Join(t.dir, TempPrefix+strconv.FormatUint(rand.Uint64(), 36))
			if err = linkUnnamed(t.File, name); !errors.Is(err, os.ErrExist) {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("replacing %s: %w", path, err)
		}
	}
	if err := os.Rename(name, path); err != nil {
		if name != t.name {
			os.Remove(name)
		}
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	t.moved = true
	return nil
}

// discard closes and removes the file unless it was put in place.
func (t *temp) discard() {
	if t.done {
		return
	}
	t.done = true
	if !t.closed {
		t.closed = true
		t.Close()
	}
	if t.name != "" && !t.moved {
		os.Remove(t.name)
	}
}

// removeStale removes the named temporary files in dir that no live
// process holds: their owner was killed before it could remove them.
func removeStale(dir string) {
	names, err := filepath.Glob(filepath.Join(dir, TempPrefix+"*"))
	if err != nil {
		return
	}
	for _, name := range names {
		st, err := os.Lstat(name)
		if err != nil || !st.Mode().IsRegular() || time.Since(st.ModTime()) < staleAge {
			continue
		}
		// Read-write: on NFS an exclusive lock needs it.
		f, err := os.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if filelock.TryLock(f, true) == nil {
			os.Remove(name)
		}
		f.Close()
	}
}

// createTemp creates a new file named TempPrefix plus a random suffix in
// dir. Unlike os.CreateTemp it asks for mode 0644, so the output gets the
// mode the umask gives a new file, as with cp, without changing the
// process's umask to read it.
func createTemp(dir string) (*os.File, error) {
	for range 100 {
		name := filepath.Join(dir, TempPrefix+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("no unused temporary file name in %s", dir)
}
