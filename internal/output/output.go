// Package output writes a modified image in one of three ways: in place, to
// a new file created without clobbering, or as a stream to stdout. For the
// same input and regions the three give the same bytes.
package output

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/isobuild/isobuild/pkg/embed"
)

// Stdout is the -o value that selects streaming to standard output.
const Stdout = "-"

// TempPrefix starts the names of temporary files left in the output
// directory while an output is being written.
const TempPrefix = ".isobuild-temp-"

// ErrTerminal refuses to write an image to a terminal.
var ErrTerminal = errors.New("Refusing to write binary data to terminal")

// Image writes in (size bytes) with regions applied to dest: "" means in
// place (in must be open for writing), "-" means stdout, anything else is a
// path that must not exist yet.
func Image(dest string, in *os.File, size int64, regions []embed.Region, stdout io.Writer) error {
	switch dest {
	case "":
		if err := embed.Patch(in, regions); err != nil {
			return fmt.Errorf("modifying %s in place: %w", in.Name(), err)
		}
		if err := in.Sync(); err != nil {
			return fmt.Errorf("syncing %s: %w", in.Name(), err)
		}
		return nil
	case Stdout:
		if err := RefuseTerminal(stdout); err != nil {
			return err
		}
		return embed.Stream(stdout, in, size, regions)
	default:
		return CreateNew(dest, func(f *os.File) error {
			return embed.Stream(f, in, size, regions)
		})
	}
}

// RefuseTerminal returns ErrTerminal when w is a terminal.
func RefuseTerminal(w io.Writer) error {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return ErrTerminal
	}
	return nil
}

var (
	pendingMu sync.Mutex
	pending   = map[string]struct{}{}
)

// RemovePending deletes the temporary files of outputs still being written;
// the CLI calls it when a signal stops the process.
func RemovePending() {
	pendingMu.Lock()
	defer pendingMu.Unlock()
	for p := range pending {
		os.Remove(p)
	}
}

// CheckNew fails early, before a whole image is copied, when path exists.
// The no-replace rename in CreateNew is what really guards against
// clobbering.
func CheckNew(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("creating %s: File exists (%w)", path, os.ErrExist)
	}
	return nil
}

// CreateNew writes a new file at path through fill. fill writes into a
// temporary file in the same directory; only when it succeeds is the file
// linked into place, and never over an existing file: an existing path fails
// with an error containing "File exists". On any failure nothing is left
// behind.
func CreateNew(path string, fill func(*os.File) error) (err error) {
	if err := CheckNew(path); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, TempPrefix+"*")
	if err != nil {
		return fmt.Errorf("creating temporary file in %s: %w", dir, err)
	}
	name := tmp.Name()
	pendingMu.Lock()
	pending[name] = struct{}{}
	pendingMu.Unlock()
	defer func() {
		tmp.Close()
		os.Remove(name)
		pendingMu.Lock()
		delete(pending, name)
		pendingMu.Unlock()
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
			// coreos-installer scripts match the capitalised OS text.
			return fmt.Errorf("creating %s: File exists (%w)", path, err)
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

// Modify opens the image at path (read-write only when dest is "", which
// means in place), lets change compute the new area contents, checks them
// against the areas' capacities and writes the result to dest. Every check
// happens before the first byte is written.
func Modify(path, dest string, stdout io.Writer, change func(*embed.Image) (embed.Changes, error)) error {
	flag := os.O_RDONLY
	if dest == "" {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	im, size, err := OpenImage(f)
	if err != nil {
		return err
	}
	c, err := change(im)
	if err != nil {
		return err
	}
	regions, err := im.Regions(c)
	if err != nil {
		return err
	}
	return Image(dest, f, size, regions, stdout)
}

// OpenImage opens the CoreOS live image in f, naming f in errors.
func OpenImage(f *os.File) (*embed.Image, int64, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", f.Name(), err)
	}
	if !st.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s: not a regular file", f.Name())
	}
	im, err := embed.Open(f, st.Size())
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return im, st.Size(), nil
}
