//go:build !unix

package imagefile

import (
	"fmt"
	"os"
)

func linkCount(st os.FileInfo) uint64 { return 1 }

func isReadOnlyFS(err error) bool { return false }

func checkJournalFile(j, image os.FileInfo) error {
	if !j.Mode().IsRegular() {
		return fmt.Errorf("not a regular file (%v)", j.Mode().Type())
	}
	return nil
}
