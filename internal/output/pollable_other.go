//go:build !unix

package output

import (
	"errors"
	"os"
)

// pollable is only needed where a pipe can block a write for good; off
// Unix a stream is written as it is.
func pollable(f *os.File) (*os.File, func(), error) {
	return nil, nil, errors.New("no pollable duplicate on this system")
}

// closedStdout cannot tell a closed standard output off Unix.
func closedStdout(f *os.File, st os.FileInfo) bool { return false }
