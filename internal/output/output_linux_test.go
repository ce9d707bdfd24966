package output

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/isobuild/isobuild/pkg/overlay"
)

// TestStreamCancelStalledReader: a stream into a pipe whose reader does
// not read ends when ctx is cancelled, and the pipe is left blocking, as
// it was.
func TestStreamCancelStalledReader(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A blocking pipe, as a shell gives a command for "| consumer".
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	r := os.NewFile(uintptr(fds[0]), "pipe-r")
	w := os.NewFile(uintptr(fds[1]), "pipe-w")
	defer r.Close()
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Stream(ctx, w, overlay.New(f, 8<<20)) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Stream = %v, want the context's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Stream did not return after its context ended")
	}
	fl, err := unix.FcntlInt(uintptr(fds[1]), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fl&unix.O_NONBLOCK != 0 {
		t.Error("the pipe was left non-blocking")
	}
	// The pipe still works for a reader that reads.
	go io.Copy(io.Discard, r)
	if err := Stream(context.Background(), w, overlay.New(f, 8<<20)); err != nil {
		t.Fatalf("Stream to a reading pipe: %v", err)
	}
}

// TestOutputMode: outputs get mode 0644 less the umask, as a cp makes.
func TestOutputMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out")
	if err := NewFile(context.Background(), p, overlay.New(strings.NewReader("x"), 1)); err != nil {
		t.Fatal(err)
	}
	mask := syscall.Umask(0)
	syscall.Umask(mask)
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o644&^os.FileMode(mask) {
		t.Errorf("mode %v with umask %03o, want 0644 less the umask", st.Mode(), mask)
	}
}
