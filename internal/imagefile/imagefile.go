// Package imagefile opens image files for reading or for editing in place,
// so that concurrent isobuild processes never lose an update and an
// interrupted edit never leaves a half-written image.
//
//   - Locking: a reader holds a shared lock on the image for as long as it
//     has it open, an editor an exclusive one (flock(2) on Unix, LockFileEx
//     on Windows, through github.com/gofrs/flock). A process that finds the
//     image locked waits a bounded time, saying so, and then fails.
//   - Journal: before an edit writes its first byte into the image, the
//     original bytes of every region it changes, and the image's size, are
//     written to a journal beside the image (".NAME.isobuild-journal") and
//     synced. The journal is removed only after the image is synced. On an
//     error or a cancelled context the edit is rolled back from it.
//   - Recovery: when a process died during an edit (SIGKILL, power loss),
//     its journal remains. The next Open of the image, for reading or
//     editing, finds it under the lock, restores the original bytes, and
//     reports that it did.
//
// So an image is always either as it was before an edit or as the edit
// meant it to be once the next isobuild command has opened it.
package imagefile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/isobuild/isobuild/pkg/overlay"
)

// Mode says what a caller wants to do with an image.
type Mode int

const (
	// Read opens the image read-only under a shared lock.
	Read Mode = iota
	// Edit opens the image read-write under an exclusive lock.
	Edit
)

// DefaultLockTimeout is how long Open waits for another process's lock.
const DefaultLockTimeout = 30 * time.Second

// Options tune Open.
type Options struct {
	// LockTimeout bounds the wait for a lock held by another process
	// (DefaultLockTimeout when zero; negative means do not wait).
	LockTimeout time.Duration
	// Notify, when set, receives one-line notices for a person: that Open
	// is waiting for a lock, that it rolled back an interrupted edit.
	Notify func(msg string)
}

// LockedError reports an image that another process kept locked for
// longer than the lock timeout.
type LockedError struct {
	Path string
	Wait time.Duration
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s is in use by another process (an isobuild command editing or reading it); gave up after waiting %v", e.Path, e.Wait)
}

// File is an image opened by Open. It holds its lock until Close.
type File struct {
	*os.File
	path string
	mode Mode
	lock *flock.Flock
	// Recovered is true when Open rolled back an interrupted edit.
	Recovered bool
}

// Open opens the image at path for mode, taking the lock, and rolls back
// an edit that a dead process left unfinished (which needs write access
// to the image even for Read).
func Open(ctx context.Context, path string, mode Mode, o Options) (*File, error) {
	// The journal and the lock belong to the file, not to a symlink that
	// leads to it, so that every way of naming the image finds them.
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	flag := os.O_RDONLY
	if mode == Edit {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	im := &File{File: f, path: path, mode: mode}
	// Lock through a descriptor of our own, opened read-only: flock needs
	// no write access, and never creates the file.
	im.lock = flock.New(path, flock.SetFlag(os.O_RDONLY))
	if err := im.acquire(ctx, mode, o); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := os.Lstat(JournalPath(path)); err == nil {
		if err := im.recover(ctx, o); err != nil {
			im.Close()
			return nil, err
		}
	}
	// A journal that a dead process had not finished writing: the image
	// was not touched yet. No live writer can be writing one while we
	// hold the lock.
	os.Remove(JournalPath(path) + ".tmp")
	return im, nil
}

// acquire takes the lock for mode, waiting at most o.LockTimeout.
func (im *File) acquire(ctx context.Context, mode Mode, o Options) error {
	try, tryCtx := im.lock.TryRLock, im.lock.TryRLockContext
	if mode == Edit {
		try, tryCtx = im.lock.TryLock, im.lock.TryLockContext
	}
	ok, err := try()
	if err != nil {
		return fmt.Errorf("locking %s: %w", im.path, err)
	}
	if ok {
		return nil
	}
	wait := o.LockTimeout
	if wait == 0 {
		wait = DefaultLockTimeout
	}
	if wait < 0 {
		return &LockedError{Path: im.path}
	}
	if o.Notify != nil {
		o.Notify(fmt.Sprintf("%s is in use by another isobuild command; waiting up to %v for it to finish", im.path, wait))
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	ok, err = tryCtx(wctx, 20*time.Millisecond)
	switch {
	case ok:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("waiting for the lock on %s: %w", im.path, context.Cause(ctx))
	case err != nil && !errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("locking %s: %w", im.path, err)
	}
	return &LockedError{Path: im.path, Wait: wait}
}

// recover rolls back the edit recorded in the journal. A reader upgrades
// to an exclusive lock and a read-write descriptor for it.
func (im *File) recover(ctx context.Context, o Options) error {
	if im.mode == Read {
		if err := im.lock.Unlock(); err != nil {
			return fmt.Errorf("unlocking %s: %w", im.path, err)
		}
		if err := im.acquire(ctx, Edit, o); err != nil {
			return err
		}
		rw, err := os.OpenFile(im.path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("%s has an unfinished edit (journal %s), and restoring it needs write access: %w", im.path, JournalPath(im.path), err)
		}
		im.File.Close()
		im.File = rw
	}
	done, err := rollback(im.File, JournalPath(im.path))
	if err != nil {
		return err
	}
	if done {
		im.Recovered = true
		if o.Notify != nil {
			o.Notify(fmt.Sprintf("%s: rolled back an edit that was interrupted; the image is as it was before that edit", im.path))
		}
	}
	return nil
}

// Close releases the lock and closes the file.
func (im *File) Close() error {
	err := im.File.Close()
	im.lock.Close()
	return err
}

// Apply writes the patches and appended extents of img into the image
// (opened with Edit; img must be an overlay of this very file) under the
// journal, and syncs it. On any error, and when ctx is cancelled before
// the edit is complete, the image is rolled back and the error says so.
func (im *File) Apply(ctx context.Context, img *overlay.Image) error {
	if im.mode != Edit {
		return fmt.Errorf("%s was opened for reading, not editing", im.path)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	jpath := JournalPath(im.path)
	j, err := record(im.File, img)
	if err != nil {
		return fmt.Errorf("saving the original bytes of %s: %w", im.path, err)
	}
	if err := writeJournal(jpath, j); err != nil {
		return err
	}
	err = img.ApplyTo(ctx, im.File)
	if err == nil {
		err = im.File.Sync()
	}
	if err == nil {
		// The edit is complete and durable: the image is as meant, and
		// only now may the journal go.
		if err := removeJournal(jpath); err != nil {
			return fmt.Errorf("the edit of %s is complete, but removing its journal failed: %w", im.path, err)
		}
		return nil
	}
	if rerr := restore(im.File, j); rerr != nil {
		return fmt.Errorf("modifying %s in place: %w; restoring the original bytes failed too (%v), so the journal is kept: the next isobuild command that opens the image restores it", im.path, err, withoutPath(rerr))
	}
	if rerr := removeJournal(jpath); rerr != nil {
		return fmt.Errorf("modifying %s in place: %w (the image was restored; its journal %s could not be removed: %v)", im.path, err, jpath, rerr)
	}
	return fmt.Errorf("modifying %s in place: %w (the image was restored to its original bytes)", im.path, err)
}

// JournalSuffix ends the name of an image's journal.
const JournalSuffix = ".isobuild-journal"

// JournalPath returns the path of the journal of the image at path: a
// hidden file beside it.
func JournalPath(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+JournalSuffix)
}

// withoutPath drops the file name from the *os.PathError inside err, for a
// message that names the file already.
func withoutPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return errors.New(strings.Replace(err.Error(), pe.Error(), pe.Err.Error(), 1))
	}
	return err
}
