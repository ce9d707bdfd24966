package output

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// openUnnamed creates an unnamed regular file in dir with O_TMPFILE: it
// has no name until linkUnnamed gives it one, so a process killed while
// writing it leaves nothing behind. It fails on file systems without
// O_TMPFILE support, and where /proc is missing, which linkUnnamed needs.
func openUnnamed(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(dir, "(new file)"))
	if _, err := os.Stat(procFD(f)); err != nil {
		// No /proc: a named temporary file instead.
		f.Close()
		return nil, fmt.Errorf("%w: %w", errors.ErrUnsupported, err)
	}
	return f, nil
}

// procFD names f's descriptor under /proc/self/fd.
func procFD(f *os.File) string {
	return "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
}

// linkUnnamed gives the unnamed file f the name path; it fails with an
// error wrapping os.ErrExist when path exists. Linking through
// /proc/self/fd needs no privilege, unlike AT_EMPTY_PATH.
func linkUnnamed(f *os.File, path string) error {
	if err := unix.Linkat(unix.AT_FDCWD, procFD(f), unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW); err != nil {
		return &os.LinkError{Op: "link", Old: f.Name(), New: path, Err: err}
	}
	return nil
}
