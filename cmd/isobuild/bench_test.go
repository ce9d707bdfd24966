package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/internal/testiso"
)

// benchSize is the rootfs size of the benchmark image: at least 1 GiB.
const benchSize = 1 << 30

var (
	benchOnce sync.Once
	benchISO  string
	benchErr  error
)

// benchImage builds the >= 1 GiB CoreOS-layout image once per run.
func benchImage(b *testing.B) string {
	b.Helper()
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "isobuild-bench-")
		if err != nil {
			benchErr = err
			return
		}
		benchISO = filepath.Join(dir, "base.iso")
		f, err := os.Create(benchISO)
		if err != nil {
			benchErr = err
			return
		}
		w := bufio.NewWriterSize(f, 1<<20)
		if benchErr = testiso.Build(w, testiso.Options{RootfsSize: benchSize}); benchErr == nil {
			benchErr = w.Flush()
		}
		if err := f.Close(); benchErr == nil {
			benchErr = err
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchISO
}

// reportMem reports the process's peak RSS (VmHWM). The image is built
// streaming, so the peak is what the measured code needed; scripts/bench.sh
// measures the CLI binary against cp as separate processes.
func reportMem(b *testing.B) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(kib)/1024, "MiB-peak-RSS")
			return
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
}

// BenchmarkBuild measures isobuild build -o on a 1 GiB image.
func BenchmarkBuild(b *testing.B) {
	base := benchImage(b)
	st, _ := os.Stat(base)
	b.SetBytes(st.Size())
	dir := b.TempDir()
	out := filepath.Join(dir, "out.iso")
	args := []string{"build", "--butane", "../../examples/ssh-hostname.bu", "--karg-append", "console=ttyS0,115200n8", "-o", out, base}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		os.Remove(out)
		if code := run(context.Background(), args, nil, io.Discard, io.Discard); code != 0 {
			b.Fatalf("build failed with exit %d", code)
		}
	}
	b.StopTimer()
	reportMem(b)
}

// BenchmarkCopy is the baseline: a plain file copy of the same image, as
// cp does it (the kernel's copy_file_range through io.Copy).
func BenchmarkCopy(b *testing.B) {
	base := benchImage(b)
	st, _ := os.Stat(base)
	b.SetBytes(st.Size())
	out := filepath.Join(b.TempDir(), "copy.iso")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in, err := os.Open(base)
		if err != nil {
			b.Fatal(err)
		}
		dst, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(dst, in); err != nil {
			b.Fatal(err)
		}
		if err := dst.Sync(); err != nil {
			b.Fatal(err)
		}
		dst.Close()
		in.Close()
	}
	b.StopTimer()
	reportMem(b)
}

// TestMain removes the benchmark image after the run. With
// ISOBUILD_TEST_RUN_MAIN=1 in its environment the test binary is isobuild
// itself, for tests that need a separate process (signals).
func TestMain(m *testing.M) {
	if os.Getenv("ISOBUILD_TEST_RUN_MAIN") == "1" {
		main()
	}
	fixture.Main(benchCleanup{m})
}

// benchCleanup runs the tests, then removes the benchmark image.
type benchCleanup struct{ m *testing.M }

func (b benchCleanup) Run() int {
	code := b.m.Run()
	if benchISO != "" {
		os.RemoveAll(filepath.Dir(benchISO))
	}
	return code
}
