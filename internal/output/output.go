// Package output writes an edited image, an overlay.Image, to where the
// user asked: to a new file, which is created without clobbering anything
// and appears only once it is complete; as a stream, such as standard
// output; or into the image file itself, in place. For the same overlay the
// three give the same bytes. Every function takes a context and stops soon
// after it is cancelled; a new file that was not finished is removed.
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
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
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

// Stream writes img to w, refusing a terminal.
func Stream(ctx context.Context, w io.Writer, img *overlay.Image) error {
	if err := RefuseTerminal(w); err != nil {
		return err
	}
	_, err := img.WriteToContext(ctx, w)
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
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
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
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, TempPrefix+"*")
	if err != nil {
		return fmt.Errorf("creating temporary file in %s: %w", dir, err)
	}
	name := tmp.Name()
	defer func() {
		tmp.Close()
		os.Remove(name) // gone already after the rename
	}()
	if err := fill(tmp); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644 &^ umask()); err != nil {
		return fmt.Errorf("setting mode of %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", name, err)
	}
	if err := renameNoReplace(name, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return &ExistsError{Path: path}
		}
		return fmt.Errorf("creating %s: %w", path, err)
	}
	return nil
}

// renameNoReplace moves oldpath to newpath unless newpath exists. It uses
// renameat2(RENAME_NOREPLACE), which also works on file systems without
// hard links (vfat, exFAT); where the kernel or file system lacks it, a
// hard link followed by removing oldpath does the same job.
func renameNoReplace(oldpath, newpath string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath, unix.RENAME_NOREPLACE)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EOPNOTSUPP) {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	if err := os.Link(oldpath, newpath); err != nil {
		return err
	}
	return os.Remove(oldpath)
}

var umaskOnce = sync.OnceValue(func() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
})

func umask() os.FileMode { return umaskOnce() }
