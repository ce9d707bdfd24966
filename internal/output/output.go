// Package output writes an edited image, an overlay.Image, to where the
// user asked: to a new file, which is created without clobbering anything
// and appears only once it is complete; as a stream, such as standard
// output; or into the image file itself, in place. For the same overlay the
// three give the same bytes. Every function that writes an image takes a
// context and stops soon after it is cancelled; a new file that was not
// finished is removed.
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

// Write writes img to dest: "" means in place, into in (which must be the
// file img was read from, open for writing); Stdout means the stream
// stdout; anything else is the path of a new file, which must not exist.
func Write(ctx context.Context, dest string, in *os.File, stdout io.Writer, img *overlay.Image) error {
	switch dest {
	case "":
		return InPlace(ctx, in, img)
	case Stdout:
		return Stream(ctx, stdout, img)
	default:
		return NewFile(ctx, dest, img)
	}
}

// InPlace writes the patches and appended extents of img into f, which
// already holds the rest of the bytes, and syncs f. A cancelled ctx stops it
// only before it starts: the patches of an edit are a few small writes, and
// stopping between them would leave some areas old and some new.
func InPlace(ctx context.Context, f *os.File, img *overlay.Image) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := img.ApplyTo(context.WithoutCancel(ctx), f); err != nil {
		return fmt.Errorf("modifying %s in place: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", f.Name(), err)
	}
	return nil
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

// NewFile writes img to a new file at path, as CreateNew does.
func NewFile(ctx context.Context, path string, img *overlay.Image) error {
	return CreateNew(path, func(f *os.File) error {
		_, err := img.WriteToContext(ctx, f)
		return err
	})
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
// is left behind.
func CreateNew(path string, fill func(*os.File) error) error {
	if err := CheckNew(path); err != nil {
		return err
	}
	return viaTemp(path, fill, placeNew(path))
}

// Replace writes img to path, replacing the file there if there is one, as
// coreos-installer's "pxe ... wrap -o" does. Like CreateNew it goes through
// a temporary file, so path holds either the old file or the whole new one.
func Replace(ctx context.Context, path string, img *overlay.Image) error {
	fill := func(f *os.File) error {
		_, err := img.WriteToContext(ctx, f)
		return err
	}
	return viaTemp(path, fill, func(tmp string) error {
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("replacing %s: %w", path, err)
		}
		return nil
	})
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
	tmp    *os.File
	base   int64 // size of the base that is being copied
	cancel context.CancelFunc
	copied chan error // receives the copy's result once
	waited bool
	err    error // the copy's result, once waited
	done   bool  // the file is in place
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
	tmp, err := openTemp(path)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	p := &Pending{path: path, tmp: tmp, base: size, cancel: cancel, copied: make(chan error, 1)}
	go func() {
		_, err := overlay.New(base, size).WriteToContext(cctx, tmp)
		p.copied <- err
	}()
	return p, nil
}

// Finish waits for the copy, writes the patches and appended extents of img
// into it, syncs it and links it into place without replacing anything. img
// must be an overlay of the base given to Begin, of at least its size.
func (p *Pending) Finish(ctx context.Context, img *overlay.Image) error {
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
	if err := img.ApplyTo(ctx, p.tmp); err != nil {
		return fmt.Errorf("writing %s: %w", p.path, err)
	}
	if err := finishTemp(p.tmp, placeNew(p.path)); err != nil {
		return err
	}
	p.done = true
	return nil
}

// Abort stops the copy and removes the temporary file, unless Finish has
// put it in place.
func (p *Pending) Abort() {
	p.cancel()
	p.wait()
	p.tmp.Close()
	if !p.done {
		os.Remove(p.tmp.Name())
	}
}

// placeNew returns the function that links a finished temporary file to
// path, never over an existing file.
func placeNew(path string) func(tmp string) error {
	return func(tmp string) error {
		if err := renameNoReplace(tmp, path); err != nil {
			if errors.Is(err, os.ErrExist) {
				return &ExistsError{Path: path}
			}
			return fmt.Errorf("creating %s: %w", path, err)
		}
		return nil
	}
}

// viaTemp fills a temporary file beside path and finishes it with place.
// The temporary file is removed on every failure.
func viaTemp(path string, fill func(*os.File) error, place func(tmp string) error) error {
	tmp, err := openTemp(path)
	if err != nil {
		return err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name()) // gone already once placed
	}()
	if err := fill(tmp); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return finishTemp(tmp, place)
}

// openTemp creates a temporary file in the directory of path.
func openTemp(path string) (*os.File, error) {
	dir := filepath.Dir(path)
	tmp, err := createTemp(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("output directory %s does not exist", dir)
		}
		return nil, fmt.Errorf("creating a temporary file in %s: %w", dir, err)
	}
	return tmp, nil
}

// finishTemp syncs and closes a filled temporary file and hands its name to
// place, which moves it to where it belongs.
func finishTemp(tmp *os.File, place func(tmp string) error) error {
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp.Name(), err)
	}
	return place(tmp.Name())
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
