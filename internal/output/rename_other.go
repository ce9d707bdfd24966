//go:build !linux && !darwin && !windows

package output

import "os"

// renameNoReplace moves oldpath to newpath unless newpath exists: a hard
// link fails when newpath exists, and removing oldpath then completes the
// move. (Linux, macOS and Windows have a rename that refuses to replace,
// which also works where there are no hard links; see rename_*.go.)
func renameNoReplace(oldpath, newpath string) error {
	if err := os.Link(oldpath, newpath); err != nil {
		return err
	}
	// The output is in place; the caller removes oldpath in any case.
	os.Remove(oldpath)
	return nil
}
