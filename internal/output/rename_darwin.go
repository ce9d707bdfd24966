package output

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace moves oldpath to newpath unless newpath exists, with
// renamex_np(RENAME_EXCL) (macOS 10.12 and later; it also works on file
// systems without hard links, such as exFAT sticks). Where the file system
// does not support the flag, a hard link followed by removing oldpath does
// the same job.
func renameNoReplace(oldpath, newpath string) error {
	err := unix.RenamexNp(oldpath, newpath, unix.RENAME_EXCL)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.ENOSYS) {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	if err := os.Link(oldpath, newpath); err != nil {
		return err
	}
	// The output is in place; the caller removes oldpath in any case.
	os.Remove(oldpath)
	return nil
}
