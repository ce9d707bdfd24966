//go:build !linux

package output

import (
	"errors"
	"os"
)

// openUnnamed is Linux-only (O_TMPFILE); elsewhere new files go through a
// named, locked temporary file.
func openUnnamed(dir string) (*os.File, error) {
	return nil, errors.ErrUnsupported
}

func linkUnnamed(f *os.File, path string) error {
	return errors.ErrUnsupported
}
