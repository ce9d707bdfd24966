//go:build unix

package imagefile

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// linkCount returns the number of hard links of the file st describes.
func linkCount(st os.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Nlink)
	}
	return 1
}

// isReadOnlyFS reports whether err comes from a read-only file system.
func isReadOnlyFS(err error) bool { return errors.Is(err, syscall.EROFS) }

// checkJournalFile refuses a journal that someone other than the image's
// owner (or the current user) could have written: its bytes are written
// into the image.
func checkJournalFile(j, image os.FileInfo) error {
	if !j.Mode().IsRegular() {
		return fmt.Errorf("not a regular file (%v)", j.Mode().Type())
	}
	if j.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("writable by others (mode %v)", j.Mode().Perm())
	}
	js, ok1 := j.Sys().(*syscall.Stat_t)
	is, ok2 := image.Sys().(*syscall.Stat_t)
	if ok1 && ok2 && js.Uid != is.Uid && int(js.Uid) != os.Geteuid() {
		return fmt.Errorf("owned by user %d, not by the image's owner %d or the current user", js.Uid, is.Uid)
	}
	return nil
}
