package output

import (
	"os"

	"golang.org/x/sys/windows"
)

// renameNoReplace moves oldpath to newpath unless newpath exists:
// MoveFileEx without MOVEFILE_REPLACE_EXISTING fails with
// ERROR_ALREADY_EXISTS (which os.ErrExist matches) instead of replacing,
// on every file system, FAT included. The caller closes the file first:
// Windows moves no open file.
func renameNoReplace(oldpath, newpath string) error {
	from, err := windows.UTF16PtrFromString(oldpath)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	to, err := windows.UTF16PtrFromString(newpath)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	if err := windows.MoveFileEx(from, to, windows.MOVEFILE_WRITE_THROUGH); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}
