//go:build unix

package filelock

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

func tryLock(f *os.File, exclusive bool) error {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	return flock(f, how|unix.LOCK_NB)
}

func unlock(f *os.File) error { return flock(f, unix.LOCK_UN) }

func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	// Control, unlike Fd, leaves the descriptor's blocking mode alone.
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = unix.Flock(int(fd), how)
			if ferr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	switch {
	case ferr == nil:
		return nil
	case errors.Is(ferr, unix.EWOULDBLOCK):
		return ErrLocked
	case errors.Is(ferr, unix.ENOLCK), errors.Is(ferr, unix.EOPNOTSUPP), errors.Is(ferr, unix.ENOTSUP), errors.Is(ferr, unix.EINVAL), errors.Is(ferr, unix.ENOSYS):
		return fmt.Errorf("%w: flock %s: %w", ErrUnsupported, f.Name(), ferr)
	}
	return fmt.Errorf("flock %s: %w", f.Name(), ferr)
}
