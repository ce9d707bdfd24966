// Package filelock takes advisory whole-file locks through a descriptor
// the caller already holds: shared for readers, exclusive for writers.
//
// Why not github.com/gofrs/flock: it opens the path a second time and
// locks that descriptor. A rename between the two opens then locks
// another file than the one in use; on NFS, where flock is emulated with
// fcntl locks, an exclusive lock needs a descriptor open for writing; and
// on Windows its lock covers the file's first byte, which makes writes
// through any other handle fail. Locking the descriptor that is read and
// written avoids all three.
//
// On Unix the lock is flock(2). On Windows it is LockFileEx on one byte
// far beyond any end of file, through the same handle, so that it only
// excludes other lockers and never blocks I/O.
package filelock

import (
	"context"
	"errors"
	"os"
	"time"
)

// ErrLocked is returned by TryLock when another holder's lock conflicts.
var ErrLocked = errors.New("file is locked by another process")

// ErrUnsupported is wrapped by errors for file systems or systems without
// locks (some network file systems); callers may go on without one.
var ErrUnsupported = errors.New("file locking is not supported here")

// TryLock locks f, exclusively or shared, without waiting.
func TryLock(f *os.File, exclusive bool) error {
	return tryLock(f, exclusive)
}

// Unlock releases the lock on f. Closing f releases it too.
func Unlock(f *os.File) error {
	return unlock(f)
}

// Lock locks f, polling until ctx is done.
func Lock(ctx context.Context, f *os.File, exclusive bool) error {
	for {
		err := tryLock(f, exclusive)
		if !errors.Is(err, ErrLocked) {
			return err
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
