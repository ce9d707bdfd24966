// Package imagefile opens image files for reading or for editing in place,
// so that concurrent isobuild processes never lose an update and an
// interrupted edit never leaves a half-written image.
//
//   - Locking: a reader holds a shared lock on the image for as long as it
//     has it open, an editor an exclusive one (flock(2) on Unix, LockFileEx
//     on Windows; see package filelock). A process that finds the image
//     locked waits a bounded time, saying so, and then fails.
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
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/isobuild/isobuild/internal/filelock"
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
	waited := "did not wait"
	if e.Wait > 0 {
		waited = fmt.Sprintf("gave up after waiting %v", e.Wait)
	}
	return fmt.Sprintf("%s is locked by another process (another isobuild command editing or reading it, or a program holding a lock on it); %s: try again once it has finished, or allow a longer wait with ISOBUILD_LOCK_TIMEOUT (e.g. 2m)", e.Path, waited)
}

// File is an image opened by Open. It holds its lock until Close.
type File struct {
	*os.File
	name string // as the caller gave it, for messages
	path string // with symlinks resolved: where the journal is
	mode Mode
	o    Options
	// Recovered is true when Open rolled back an interrupted edit.
	Recovered bool
	unlocked  bool // the file system has no locks; see acquire
}

// Open opens the image at path for mode, taking the lock, and rolls back
// an edit that a dead process left unfinished (which needs write access
// to the image even for Read).
func Open(ctx context.Context, path string, mode Mode, o Options) (*File, error) {
	im := &File{name: path, path: path, mode: mode, o: o}
	// The journal belongs to the file, not to a symlink that leads to it,
	// so that every way of naming the image through symlinks finds it.
	if real, err := filepath.EvalSymlinks(path); err == nil {
		im.path = real
	}
	flag := os.O_RDONLY
	if mode == Edit {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(im.path, flag, 0)
	if err != nil {
		return nil, err
	}
	im.File = f
	if err := im.acquire(ctx, mode == Edit); err != nil {
		f.Close()
		return nil, err
	}
	if mode == Edit {
		if st, err := f.Stat(); err == nil && linkCount(st) > 1 {
			im.notify(fmt.Sprintf("warning: %s has %d hard links; an interrupted edit is rolled back only when the image is next opened by this name", im.name, linkCount(st)))
		}
	}
	if _, err := os.Lstat(JournalPath(im.path)); err == nil {
		if err := im.recover(ctx); err != nil {
			im.File.Close()
			return nil, err
		}
	}
	// A journal that a dead process had not finished writing: the image
	// was not touched yet. No live writer can be writing one while we
	// hold the lock.
	os.Remove(JournalPath(im.path) + ".tmp")
	return im, nil
}

func (im *File) notify(msg string) {
	if im.o.Notify != nil {
		im.o.Notify(msg)
	}
}

// acquire locks the open file, waiting at most o.LockTimeout for another
// holder. On a file system without locks it goes on without one, saying
// so once.
func (im *File) acquire(ctx context.Context, exclusive bool) error {
	err := filelock.TryLock(im.File, exclusive)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, filelock.ErrUnsupported):
		if !im.unlocked {
			im.unlocked = true
			im.notify(fmt.Sprintf("warning: the file system of %s has no file locks; nothing keeps another command from editing it at the same time", im.name))
		}
		return nil
	case !errors.Is(err, filelock.ErrLocked):
		return fmt.Errorf("locking %s: %w", im.name, err)
	}
	wait := im.o.LockTimeout
	if wait == 0 {
		wait = DefaultLockTimeout
	}
	if wait < 0 {
		return &LockedError{Path: im.name}
	}
	im.notify(fmt.Sprintf("%s is in use by another process (another isobuild command editing or reading it); waiting up to %v", im.name, wait))
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	err = filelock.Lock(wctx, im.File, exclusive)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("waiting for the lock on %s: %w", im.name, context.Cause(ctx))
	case !errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("locking %s: %w", im.name, err)
	}
	return &LockedError{Path: im.name, Wait: wait}
}

// recover rolls back the edit recorded in the journal. A reader switches
// to a read-write descriptor under an exclusive lock for it, and back to
// a shared lock afterwards, so that other readers need not wait for it.
func (im *File) recover(ctx context.Context) error {
	if im.mode == Read {
		rw, err := os.OpenFile(im.path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("%s has an unfinished edit (journal %s), and restoring it needs write access: %w", im.name, JournalPath(im.path), err)
		}
		// The shared lock goes first: the exclusive one, on another
		// descriptor, would wait for it.
		im.File.Close()
		im.File = rw
		if err := im.acquire(ctx, true); err != nil {
			return err
		}
	}
	done, err := rollback(im.File, im.name, JournalPath(im.path))
	if err != nil {
		return err
	}
	if done {
		im.Recovered = true
		im.notify(fmt.Sprintf("%s: rolled back an edit that was interrupted; the image is as it was before that edit", im.name))
	}
	if im.mode == Read && !im.unlocked {
		if err := filelock.TryLock(im.File, false); err != nil {
			return fmt.Errorf("locking %s: %w", im.name, err)
		}
	}
	return nil
}

// Close closes the file, which releases its lock.
func (im *File) Close() error {
	return im.File.Close()
}

// Apply writes the patches and appended extents of img into the image
// (opened with Edit; img must be an overlay of this very file) under the
// journal, and syncs it. On any error, and when ctx is cancelled before
// the edit is complete, the image is rolled back and the error says so.
func (im *File) Apply(ctx context.Context, img *overlay.Image) error {
	if im.mode != Edit {
		return fmt.Errorf("%s was opened for reading, not editing", im.name)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	jpath := JournalPath(im.path)
	j, err := record(im.File, img)
	if err != nil {
		return fmt.Errorf("saving the original bytes of %s: %w", im.name, err)
	}
	journaled := true
	if err := writeJournal(jpath, j); err != nil {
		// An image that is writable in a directory that is not (as
		// coreos-installer allows): edit it, with the roll-back on
		// errors and signals but without the crash safety.
		if !errors.Is(err, fs.ErrPermission) && !isReadOnlyFS(err) {
			return err
		}
		journaled = false
		im.notify(fmt.Sprintf("warning: cannot write a journal beside %s (%v): editing without one, so a crash or SIGKILL during the edit could leave the image half-edited", im.name, withoutPath(errors.Unwrap(err))))
	}
	err = img.ApplyTo(ctx, im.File)
	if err == nil {
		err = im.File.Sync()
	}
	if err == nil {
		// The edit is complete and durable: the image is as meant, and
		// only now may the journal go.
		if !journaled {
			return nil
		}
		if err := removeJournal(jpath); err != nil {
			return fmt.Errorf("the edit of %s is complete, but removing its journal failed: %w", im.name, err)
		}
		return nil
	}
	if rerr := restore(im.File, j); rerr != nil {
		if !journaled {
			return fmt.Errorf("modifying %s in place: %w; restoring the original bytes failed too (%v): the image is half-edited, reset it with 'isobuild iso reset'", im.name, withoutPath(err), withoutPath(rerr))
		}
		return fmt.Errorf("modifying %s in place: %w; restoring the original bytes failed too (%v), so the journal is kept: the next isobuild command that opens the image restores it", im.name, withoutPath(err), withoutPath(rerr))
	}
	if journaled {
		if rerr := removeJournal(jpath); rerr != nil {
			return fmt.Errorf("modifying %s in place: %w (the image was restored; its journal %s could not be removed: %v)", im.name, withoutPath(err), jpath, rerr)
		}
	}
	return fmt.Errorf("modifying %s in place: %w (the image was restored to its original bytes)", im.name, withoutPath(err))
}

// JournalSuffix ends the name of an image's journal.
const JournalSuffix = ".isobuild-journal"

// JournalPath returns the path of the journal of the image at path: a
// hidden file beside it.
func JournalPath(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+JournalSuffix)
}

// withoutPath drops the file name from the *os.PathError inside err, for a
// message that names the file already; errors.Is and errors.As still see
// err.
func withoutPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pathless{strings.Replace(err.Error(), pe.Error(), pe.Err.Error(), 1), err}
	}
	return err
}

// pathless is an error with another text than the one it wraps.
type pathless struct {
	msg string
	err error
}

func (p pathless) Error() string { return p.msg }
func (p pathless) Unwrap() error { return p.err }
