package overlay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/isobuild/isobuild/internal/fixture"
)

// cfrCall is one recorded copy_file_range call.
type cfrCall struct {
	roff, woff, n int64
	err           error // the result
}

// recordCopyFileRange replaces the copy_file_range hook with one that
// records every call before making it (or failing it with fail's error).
func recordCopyFileRange(t *testing.T, fail func(call int) error) *[]cfrCall {
	t.Helper()
	var calls []cfrCall
	old := copyFileRange
	copyFileRange = func(rfd int, roff *int64, wfd int, woff *int64, n int, flags int) (int, error) {
		calls = append(calls, cfrCall{roff: *roff, woff: *woff, n: int64(n)})
		if fail != nil {
			if err := fail(len(calls)); err != nil {
				calls[len(calls)-1].err = err
				return -1, err
			}
		}
		m, err := old(rfd, roff, wfd, woff, n, flags)
		calls[len(calls)-1].err = err
		return m, err
	}
	t.Cleanup(func() { copyFileRange = old })
	return &calls
}

// compareOverlay checks that the n bytes of f at off equal the overlay,
// reading both in pieces.
func compareOverlay(t *testing.T, f *os.File, off int64, im *Image) {
	t.Helper()
	a := make([]byte, 4<<20)
	b := make([]byte, 4<<20)
	for pos := int64(0); pos < im.Size(); pos += int64(len(a)) {
		n := int(min(int64(len(a)), im.Size()-pos))
		if _, err := f.ReadAt(a[:n], off+pos); err != nil {
			t.Fatalf("read output at %d: %v", off+pos, err)
		}
		if _, err := im.ReadAt(b[:n], pos); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if !bytes.Equal(a[:n], b[:n]) {
			t.Fatalf("output differs from the overlay in the %d bytes at %d", n, pos)
		}
	}
}

// TestCopyFileRangeAligned checks that a page-aligned layout gives only
// page-aligned copy_file_range calls, however odd the patch offsets are:
// the whole base is copied in 64 MiB steps and the patches written over it.
func TestCopyFileRangeAligned(t *testing.T) {
	dir := t.TempDir()
	const (
		pre   = 3 * 4096           // the base is a section of a file at this offset
		bsize = 2*64<<20 + 10*4096 // three copy_file_range calls
	)
	src, err := os.Create(dir + "/src")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	// Some data at the start and the end; the rest is a hole, read as zeros.
	rng := rand.New(rand.NewPCG(5, 6))
	if _, err := src.WriteAt(randBytes(rng, 400000), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := src.WriteAt(randBytes(rng, 8192), pre+bsize-8192); err != nil {
		t.Fatal(err)
	}
	im := New(io.NewSectionReader(src, pre, bsize), bsize)
	for _, p := range []struct {
		off int64
		n   int
	}{{325632 + 7, 5}, {325632 + 100, 3000}, {64<<20 - 2, 4}, {bsize - 1, 1}} {
		if err := im.Patch(p.off, randBytes(rng, p.n)); err != nil {
			t.Fatal(err)
		}
	}
	ext := tempFile(t, dir, randBytes(rng, 3*4096))
	if _, err := im.Append(ext, 3*4096); err != nil {
		t.Fatal(err)
	}

	for _, p0 := range []int64{0, 2 * 4096} {
		t.Run(fmt.Sprintf("p0=%d", p0), func(t *testing.T) { checkAligned(t, dir, im, pre, bsize, p0) })
	}
}

// checkAligned writes im at position p0 of a new file and checks the
// recorded copy_file_range calls.
func checkAligned(t *testing.T, dir string, im *Image, pre, bsize, p0 int64) {
	calls := recordCopyFileRange(t, nil)
	dst := tempFile(t, dir, make([]byte, p0))
	if _, err := dst.Seek(p0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	n, err := im.WriteTo(dst)
	if len(*calls) > 0 && (*calls)[0].err != nil {
		fixture.Skipf(t, "copy_file_range does not work here: %v", (*calls)[0].err)
	}
	if err != nil || n != im.Size() {
		t.Fatalf("WriteTo = %d, %v; want %d", n, err, im.Size())
	}
	if pos, _ := dst.Seek(0, io.SeekCurrent); pos != p0+im.Size() {
		t.Fatalf("output position %d, want %d", pos, p0+im.Size())
	}
	if len(*calls) < 4 {
		t.Fatalf("only %d copy_file_range calls: %v", len(*calls), *calls)
	}
	for i, c := range *calls {
		if c.roff%4096 != 0 || c.woff%4096 != 0 || c.n > 64<<20 {
			t.Errorf("copy_file_range call %d not aligned: %+v", i, c)
		}
	}
	for i, want := range []cfrCall{
		{roff: pre, woff: p0, n: 64 << 20},
		{roff: pre + 64<<20, woff: p0 + 64<<20, n: 64 << 20},
		{roff: pre + 128<<20, woff: p0 + 128<<20, n: 10 * 4096},
		{roff: 0, woff: p0 + bsize, n: 3 * 4096}, // the appended extent
	} {
		if got := (*calls)[i]; got.roff != want.roff || got.woff != want.woff || got.n != want.n {
			t.Errorf("copy_file_range call %d = %+v, want %+v", i, (*calls)[i], want)
		}
	}
	compareOverlay(t, dst, p0, im)
}

// TestCopyFileRangeFallback checks that an unsupported first copy_file_range
// call falls back to positioned reads and writes, and that a later failure
// is reported.
func TestCopyFileRangeFallback(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(8, 9))
	setChunkSize(t, 8192)
	base := randBytes(rng, 50000)
	im := New(tempFile(t, dir, base), int64(len(base)))
	if err := im.Patch(12345, []byte("patched")); err != nil {
		t.Fatal(err)
	}
	ext := randBytes(rng, 20000)
	if _, err := im.Append(tempFile(t, dir, ext), int64(len(ext))); err != nil {
		t.Fatal(err)
	}
	ref := append(bytes.Clone(base), ext...)
	copy(ref[12345:], "patched")

	for _, errno := range []error{unix.EXDEV, unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP, unix.EBADF} {
		t.Run(errno.Error(), func(t *testing.T) {
			calls := recordCopyFileRange(t, func(int) error { return errno })
			dst := tempFile(t, dir, nil)
			n, err := im.WriteTo(dst)
			if err != nil || n != int64(len(ref)) {
				t.Fatalf("WriteTo = %d, %v", n, err)
			}
			got, _ := os.ReadFile(dst.Name())
			if !bytes.Equal(got, ref) {
				t.Fatalf("output differs after the fallback")
			}
			// One failed call for the base and one for the extent.
			if len(*calls) != 2 {
				t.Fatalf("%d copy_file_range calls after the fallback, want 2", len(*calls))
			}
			// ApplyTo copies the extent the same way.
			dst = tempFile(t, dir, base)
			if err := im.ApplyTo(context.Background(), dst); err != nil {
				t.Fatal(err)
			}
			got, _ = os.ReadFile(dst.Name())
			if !bytes.Equal(got, ref) {
				t.Fatalf("ApplyTo result differs after the fallback")
			}
		})
	}

	// A failure after the first call is an error naming the offset.
	recordCopyFileRange(t, func(call int) error {
		if call == 3 {
			return unix.ENOSPC
		}
		return nil
	})
	n, err := im.WriteTo(tempFile(t, dir, nil))
	if !errors.Is(err, unix.ENOSPC) || !strings.Contains(err.Error(), "offset 16384") {
		t.Fatalf("WriteTo with a failing third copy_file_range = %d, %v", n, err)
	}
	if n != 12345 {
		t.Fatalf("WriteTo with a failing copy returned %d, want the 12345 bytes before the patch", n)
	}
}

// TestSendfileFallback checks the pipe path with an unsupported first
// sendfile, and with a failure later on.
func TestSendfileFallback(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(10, 11))
	base := randBytes(rng, 300000)
	im := New(tempFile(t, dir, base), int64(len(base)))
	if err := im.Patch(1000, []byte("x")); err != nil {
		t.Fatal(err)
	}
	ref := bytes.Clone(base)
	ref[1000] = 'x'

	pipeWrite := func(fail func(call int) error) ([]byte, int64, error, int) {
		old := sendfile
		calls := 0
		sendfile = func(outfd, infd int, off *int64, n int) (int, error) {
			calls++
			if err := fail(calls); err != nil {
				return -1, err
			}
			return old(outfd, infd, off, n)
		}
		defer func() { sendfile = old }()
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		var wg sync.WaitGroup
		wg.Go(func() { got, _ = io.ReadAll(pr); pr.Close() })
		n, err := im.WriteToContext(context.Background(), pw)
		pw.Close()
		wg.Wait()
		return got, n, err, calls
	}

	for _, errno := range []error{unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP} {
		got, n, err, calls := pipeWrite(func(int) error { return errno })
		if err != nil || n != int64(len(ref)) || !bytes.Equal(got, ref) {
			t.Fatalf("%v: WriteTo a pipe = %d, %v (output equal: %v)", errno, n, err, bytes.Equal(got, ref))
		}
		if calls != 1 {
			t.Fatalf("%v: %d sendfile calls, want 1", errno, calls)
		}
	}
	_, n, err, _ := pipeWrite(func(call int) error {
		if call == 2 {
			return unix.EIO
		}
		return nil
	})
	if !errors.Is(err, unix.EIO) || n == 0 || n >= int64(len(ref)) {
		t.Fatalf("WriteTo a pipe with a failing second sendfile = %d, %v", n, err)
	}
}

func TestApplyToAppendFile(t *testing.T) {
	dir := t.TempDir()
	im := New(bytes.NewReader(make([]byte, 100)), 100)
	if err := im.Patch(10, []byte("x")); err != nil {
		t.Fatal(err)
	}
	name := tempFile(t, dir, make([]byte, 100)).Name()
	// Opened by Go with O_APPEND, and as an inherited descriptor that Go
	// does not know to be in append mode.
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := unix.Open(name, unix.O_WRONLY|unix.O_APPEND|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	g := os.NewFile(uintptr(fd), name)
	defer g.Close()
	for _, w := range []*os.File{f, g} {
		if err := im.ApplyTo(context.Background(), w); err == nil || !strings.Contains(err.Error(), "O_APPEND") {
			t.Fatalf("ApplyTo an O_APPEND file: %v", err)
		}
	}
}
