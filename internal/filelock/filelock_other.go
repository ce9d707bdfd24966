//go:build !unix && !windows

package filelock

import "os"

func tryLock(f *os.File, exclusive bool) error { return ErrUnsupported }

func unlock(f *os.File) error { return nil }
