//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/isobuild/isobuild/internal/output"
	"github.com/isobuild/isobuild/internal/testiso"
)

// isobuildProcess starts the test binary as isobuild (see TestMain).
func isobuildProcess(t *testing.T, stdin io.Reader, stdout io.Writer, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "ISOBUILD_TEST_RUN_MAIN=1")
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, &stderr
}

// waitExit waits for cmd and returns its exit status.
func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(30 * time.Second):
		t.Fatal("isobuild did not stop within 30 s of the signal")
		return -1
	}
}

func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), output.TempPrefix) {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// TestSignalWhileReadingStdin: a command waiting for its config on stdin
// ends at the first SIGINT, with status 130 and no output.
func TestSignalWhileReadingStdin(t *testing.T) {
	iso := filepath.Join(t.TempDir(), "base.iso")
	buildTestISO(t, iso, 0)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	dir := t.TempDir()
	cmd, stderr := isobuildProcess(t, pr, io.Discard, "build", "--ignition", "-", "-o", filepath.Join(dir, "out.iso"), iso)
	pr.Close()
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd); code != exitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", code, exitInterrupted, stderr)
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Errorf("stderr %q does not say the command was stopped", stderr)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("output directory holds %d entries", len(ents))
	}
}

// TestSignalStalledReader: a stream into a pipe whose reader reads nothing
// ends at the first signal, with 128 + the signal's number.
func TestSignalStalledReader(t *testing.T) {
	iso := filepath.Join(t.TempDir(), "base.iso")
	buildTestISO(t, iso, 16<<20)
	// A blocking pipe, as a shell makes for "isobuild ... | consumer".
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	r, w := os.NewFile(uintptr(fds[0]), "r"), os.NewFile(uintptr(fds[1]), "w")
	defer r.Close()
	cmd, stderr := isobuildProcess(t, nil, w, "iso", "kargs", "modify", "-a", "x", "-o", "-", iso)
	w.Close()
	// Wait until the pipe is full, so that the writer is blocked.
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd); code != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit %d, want %d\n%s", code, 128+int(syscall.SIGTERM), stderr)
	}
	if !strings.Contains(stderr.String(), "terminated signal received") {
		t.Errorf("stderr %q does not name the signal", stderr)
	}
}

// TestSignalWhileCopying: SIGINT in the middle of writing an image stops
// the copy; a new file's temporary file is removed.
func TestSignalWhileCopying(t *testing.T) {
	iso := filepath.Join(t.TempDir(), "base.iso")
	buildTestISO(t, iso, 256<<20)
	t.Run("stream", func(t *testing.T) {
		// Read the stream slowly, so that the copy is surely under way
		// when the signal arrives.
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd, stderr := isobuildProcess(t, nil, pw, "iso", "kargs", "modify", "-a", "x", "-o", "-", iso)
		pw.Close()
		buf := make([]byte, 1<<20)
		if _, err := io.ReadFull(pr, buf); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, pr)
		if code := waitExit(t, cmd); code != exitInterrupted {
			t.Fatalf("exit %d, want %d\n%s", code, exitInterrupted, stderr)
		}
		if total := n + int64(len(buf)); total >= 256<<20 {
			t.Errorf("the whole image (%d bytes) was written despite the signal", total)
		}
	})
	t.Run("file", func(t *testing.T) {
		dir := t.TempDir()
		out := filepath.Join(dir, "out.iso")
		cmd, stderr := isobuildProcess(t, nil, io.Discard, "iso", "kargs", "modify", "-a", "x", "-o", out, iso)
		waitForTemp(t, cmd.Process.Pid, dir)
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		code := waitExit(t, cmd)
		noTempFiles(t, dir)
		switch code {
		case exitInterrupted:
			if _, err := os.Stat(out); err == nil {
				t.Error("an interrupted command left its output")
			}
		case 0:
			// The copy won the race; the output must then be complete.
			t.Log("the copy finished before the signal arrived")
			if st, err := os.Stat(out); err != nil || st.Size() != fileSize(t, iso) {
				t.Errorf("finished output: %v", err)
			}
		default:
			t.Fatalf("exit %d\n%s", code, stderr)
		}
	})
}

// TestKillWhileCopying: SIGKILL while a new file is written leaves nothing
// at all in the output directory: the file has no name until it is
// complete (O_TMPFILE).
func TestKillWhileCopying(t *testing.T) {
	iso := filepath.Join(t.TempDir(), "base.iso")
	buildTestISO(t, iso, 256<<20)
	dir := t.TempDir()
	cmd, _ := isobuildProcess(t, nil, io.Discard, "iso", "kargs", "modify", "-a", "x", "-o", filepath.Join(dir, "out.iso"), iso)
	waitForTemp(t, cmd.Process.Pid, dir)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitExit(t, cmd)
	if ents, _ := os.ReadDir(dir); len(ents) > 0 {
		t.Errorf("SIGKILL left %d files in the output directory, first %s", len(ents), ents[0].Name())
	}
}

// waitForTemp waits until process pid has a file open in dir: the
// temporary file of a new output, named or not.
func waitForTemp(t *testing.T, pid int, dir string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
		for _, fd := range fds {
			if target, err := os.Readlink(fd); err == nil && strings.HasPrefix(target, dir+"/") {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("process %d opened no file in %s within 10s", pid, dir)
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// buildTestISO writes a CoreOS-layout test image with a rootfs of rootfs
// bytes (0 for the default) to path.
func buildTestISO(t *testing.T, path string, rootfs int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := testiso.Build(w, testiso.Options{RootfsSize: rootfs}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
