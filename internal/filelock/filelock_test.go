package filelock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, []byte("data"), 0o644)
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	a, b, c := open(), open(), open()
	if err := TryLock(a, true); err != nil {
		t.Fatal(err)
	}
	if err := TryLock(b, false); !errors.Is(err, ErrLocked) {
		t.Fatalf("shared lock beside an exclusive one: %v", err)
	}
	// The holder still reads and writes through its own descriptor.
	if _, err := a.WriteAt([]byte("DATA"), 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := Lock(ctx, b, true); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock on a locked file: %v", err)
	}
	go func() {
		time.Sleep(30 * time.Millisecond)
		Unlock(a)
	}()
	if err := Lock(context.Background(), b, false); err != nil {
		t.Fatal(err)
	}
	if err := TryLock(c, false); err != nil {
		t.Fatalf("two shared locks: %v", err)
	}
	if err := TryLock(a, true); !errors.Is(err, ErrLocked) {
		t.Fatalf("exclusive beside shared: %v", err)
	}
	// Closing releases.
	b.Close()
	c.Close()
	if err := TryLock(a, true); err != nil {
		t.Fatalf("after the others closed: %v", err)
	}
}
