package overlay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// randBytes returns n random bytes.
func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// tempFile creates a file in dir holding data, open for reading and writing
// at position 0.
func tempFile(t testing.TB, dir string, data []byte) *os.File {
	t.Helper()
	f, err := os.CreateTemp(dir, "f")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	return f
}

// testCase is a random overlay together with the bytes it must produce.
type testCase struct {
	im       *Image
	ref      []byte   // the overlay's bytes, built naively
	base     []byte   // the base's bytes
	baseFile *os.File // the file behind the base, if any
	bounds   []int64  // interesting offsets: patch and extent boundaries
	desc     string
}

// randomBaseSize picks sizes that matter: empty, tiny, page multiples, page
// multiples plus an odd remainder, and a few larger ones.
func randomBaseSize(rng *rand.Rand) int {
	switch rng.IntN(7) {
	case 0:
		return 0
	case 1:
		return rng.IntN(10)
	case 2:
		return 4096 * rng.IntN(24)
	case 3:
		return 4096*rng.IntN(24) + 1 + rng.IntN(4095)
	case 4:
		return 300000 + rng.IntN(100000)
	default:
		return rng.IntN(20000)
	}
}

// randomCase builds a random overlay and its reference. It also checks that
// Patch refuses exactly the overlapping and out-of-bounds patches and that
// Append returns the right offsets.
func randomCase(t *testing.T, rng *rand.Rand, dir string) *testCase {
	t.Helper()
	bsize := randomBaseSize(rng)
	base := randBytes(rng, bsize)
	tc := &testCase{base: base}
	var baseR io.ReaderAt
	switch kind := rng.IntN(4); kind {
	case 0, 1:
		tc.baseFile = tempFile(t, dir, base)
		baseR = tc.baseFile
		tc.desc = "file base"
	case 2:
		// A section of a larger file, at an aligned or odd offset.
		pre := 4096 * rng.IntN(3)
		if rng.IntN(2) == 0 {
			pre += rng.IntN(4096)
		}
		all := append(append(randBytes(rng, pre), base...), randBytes(rng, rng.IntN(5000))...)
		tc.baseFile = tempFile(t, dir, all)
		baseR = io.NewSectionReader(tc.baseFile, int64(pre), int64(bsize+rng.IntN(100)))
		tc.desc = fmt.Sprintf("section base at %d", pre)
	default:
		baseR = bytes.NewReader(base)
		tc.desc = "memory base"
	}
	tc.im = New(baseR, int64(bsize))
	ref := bytes.Clone(base)
	type span struct{ off, n int }
	var spans []span
	overlaps := func(off, n int) bool {
		for _, s := range spans {
			if off < s.off+s.n && s.off < off+n {
				return true
			}
		}
		return false
	}
	for range rng.IntN(9) {
		n := 1 + rng.IntN(3000)
		if rng.IntN(4) == 0 {
			n = 1 + rng.IntN(8)
		}
		var off int
		switch rng.IntN(6) {
		case 0:
			off = 0
		case 1:
			off = bsize - n
		case 2:
			off = bsize - n + 1 + rng.IntN(3) // out of bounds
		case 3:
			off = -1 - rng.IntN(3) // out of bounds
		default:
			off = rng.IntN(bsize + 1)
		}
		if rng.IntN(12) == 0 {
			n = 0
		}
		data := randBytes(rng, n)
		err := tc.im.Patch(int64(off), data)
		switch {
		case n == 0:
			if err != nil {
				t.Fatalf("zero-length patch at %d: %v", off, err)
			}
		case off < 0 || off+n > bsize || overlaps(off, n):
			if err == nil {
				t.Fatalf("patch of %d bytes at %d (base %d, patches %v) was accepted", n, off, bsize, spans)
			}
		default:
			if err != nil {
				t.Fatalf("patch of %d bytes at %d (base %d, patches %v): %v", n, off, bsize, spans, err)
			}
			spans = append(spans, span{off, n})
			copy(ref[off:], data)
			tc.bounds = append(tc.bounds, int64(off), int64(off+n))
		}
	}
	tc.bounds = append(tc.bounds, 0, int64(bsize))
	for range rng.IntN(4) {
		n := rng.IntN(10000)
		if rng.IntN(5) == 0 {
			n = 0
		}
		data := randBytes(rng, n+rng.IntN(50)) // only the first n bytes count
		var r io.ReaderAt
		switch rng.IntN(3) {
		case 0:
			r = bytes.NewReader(data)
		case 1:
			r = tempFile(t, dir, data)
		default:
			pre := rng.IntN(3) * 4096
			f := tempFile(t, dir, append(randBytes(rng, pre), data...))
			r = io.NewSectionReader(f, int64(pre), int64(len(data)))
		}
		off, err := tc.im.Append(r, int64(n))
		if err != nil {
			t.Fatal(err)
		}
		if off != int64(len(ref)) {
			t.Fatalf("Append returned offset %d, want %d", off, len(ref))
		}
		ref = append(ref, data[:n]...)
		tc.bounds = append(tc.bounds, off)
	}
	tc.ref = ref
	tc.bounds = append(tc.bounds, int64(len(ref)))
	if tc.im.Size() != int64(len(ref)) {
		t.Fatalf("Size() = %d, want %d", tc.im.Size(), len(ref))
	}
	tc.desc = fmt.Sprintf("%s, base %d bytes, %d patches, size %d", tc.desc, bsize, len(spans), len(ref))
	return tc
}

// checkReadAt compares one ReadAt of the overlay with bytes.Reader.ReadAt of
// the reference, which follows the io.ReaderAt contract.
func checkReadAt(t *testing.T, im *Image, ref []byte, off int64, n int) {
	t.Helper()
	got := make([]byte, n)
	want := make([]byte, n)
	gn, gerr := im.ReadAt(got, off)
	wn, werr := bytes.NewReader(ref).ReadAt(want, off)
	if gn != wn || gerr != werr || !bytes.Equal(got[:gn], want[:wn]) {
		t.Fatalf("ReadAt(%d bytes, %d) of %d-byte overlay = %d, %v; want %d, %v (or data differs)",
			n, off, len(ref), gn, gerr, wn, werr)
	}
}

// randomRange picks a read range, often around a boundary.
func randomRange(rng *rand.Rand, tc *testCase) (int64, int) {
	size := int64(len(tc.ref))
	var off int64
	switch rng.IntN(4) {
	case 0, 1:
		off = tc.bounds[rng.IntN(len(tc.bounds))] + int64(rng.IntN(21)) - 10
	case 2:
		off = size + int64(rng.IntN(10)) // at or past the end
	default:
		off = rng.Int64N(size + 1)
	}
	off = max(off, 0)
	var n int
	switch rng.IntN(5) {
	case 0:
		n = 0
	case 1:
		n = 1 + rng.IntN(16)
	case 2:
		n = int(size - min(off, size) + int64(rng.IntN(3))) // to about the end
	default:
		n = rng.IntN(12000)
	}
	return off, n
}

// setSmallChunks makes copies split into many chunks, so that small test
// images cross chunk boundaries.
func setChunkSize(t testing.TB, n int64) {
	old := chunkSize
	chunkSize = n
	t.Cleanup(func() { chunkSize = old })
}

// checkWrites writes the overlay to every kind of destination and checks
// the bytes, the count and the positions of the files involved.
func checkWrites(t *testing.T, rng *rand.Rand, dir string, tc *testCase) {
	t.Helper()
	im, ref := tc.im, tc.ref
	var basePos int64
	if tc.baseFile != nil {
		basePos = rng.Int64N(1000)
		if _, err := tc.baseFile.Seek(basePos, io.SeekStart); err != nil {
			t.Fatal(err)
		}
	}
	checkCount := func(what string, n int64, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: WriteTo: %v", what, err)
		}
		if n != int64(len(ref)) {
			t.Fatalf("%s: WriteTo returned %d, want %d", what, n, len(ref))
		}
	}
	checkFile := func(what string, f *os.File, prefix []byte) {
		t.Helper()
		pos, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(len(prefix) + len(ref)); pos != want {
			t.Fatalf("%s: file position after WriteTo is %d, want %d", what, pos, want)
		}
		got, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, append(bytes.Clone(prefix), ref...)) {
			t.Fatalf("%s: file holds %d bytes that differ from the %d-byte prefix plus the %d-byte reference",
				what, len(got), len(prefix), len(ref))
		}
	}

	// (a) a bytes.Buffer: the generic path.
	var buf bytes.Buffer
	n, err := im.WriteTo(&buf)
	checkCount("buffer", n, err)
	if !bytes.Equal(buf.Bytes(), ref) {
		t.Fatalf("buffer: output differs from the reference")
	}

	// (b) a new regular file: copy_file_range when the base is a file.
	f := tempFile(t, dir, nil)
	n, err = im.WriteTo(f)
	checkCount("file", n, err)
	checkFile("file", f, nil)

	// (c) a regular file positioned after some existing bytes, aligned or
	// not.
	prefix := randBytes(rng, rng.IntN(3)*4096+rng.IntN(2)*rng.IntN(4096))
	f = tempFile(t, dir, prefix)
	if _, err := f.Seek(int64(len(prefix)), io.SeekStart); err != nil {
		t.Fatal(err)
	}
	n, err = im.WriteTo(f)
	checkCount("positioned file", n, err)
	checkFile("positioned file", f, prefix)

	// (d) a pipe read by another goroutine: sendfile when the base is a file.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var piped []byte
	var readErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		piped, readErr = io.ReadAll(pr)
		pr.Close()
	})
	n, err = im.WriteTo(pw)
	pw.Close()
	wg.Wait()
	checkCount("pipe", n, err)
	if readErr != nil {
		t.Fatal(readErr)
	}
	if !bytes.Equal(piped, ref) {
		t.Fatalf("pipe: %d bytes differ from the %d-byte reference", len(piped), len(ref))
	}

	// (e) a file opened with O_APPEND, which already holds some bytes.
	prefix = randBytes(rng, rng.IntN(5000))
	name := tempFile(t, dir, prefix).Name()
	f, err = os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	n, err = im.WriteTo(f)
	checkCount("append file", n, err)
	f.Close()
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append(prefix, ref...)) {
		t.Fatalf("append file: contents differ from prefix plus reference")
	}

	// ApplyTo on a copy of the base file, and through a plain io.WriterAt.
	for _, hide := range []bool{false, true} {
		f = tempFile(t, dir, tc.base)
		var w io.WriterAt = f
		if hide {
			w = struct{ io.WriterAt }{f}
		}
		if err := im.ApplyTo(context.Background(), w); err != nil {
			t.Fatalf("ApplyTo: %v", err)
		}
		got, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, ref) {
			t.Fatalf("ApplyTo (hidden type %v): result differs from the reference", hide)
		}
	}

	if tc.baseFile != nil {
		pos, err := tc.baseFile.Seek(0, io.SeekCurrent)
		if err != nil {
			t.Fatal(err)
		}
		if pos != basePos {
			t.Fatalf("base file position moved from %d to %d", basePos, pos)
		}
	}
}

func TestRandomOverlays(t *testing.T) {
	rng := rand.New(rand.NewPCG(20240601, 7))
	reads := 0
	for i := range 260 {
		dir := t.TempDir()
		tc := randomCase(t, rng, dir)
		t.Logf("case %d: %s", i, tc.desc)
		for range 40 {
			off, n := randomRange(rng, tc)
			checkReadAt(t, tc.im, tc.ref, off, n)
			reads++
		}
		// Every boundary, read across by a few bytes.
		for _, b := range tc.bounds {
			checkReadAt(t, tc.im, tc.ref, max(b-3, 0), 7)
			reads++
		}
		if rng.IntN(2) == 0 {
			setChunkSize(t, int64(4096*(1+rng.IntN(4))))
		} else {
			setChunkSize(t, 64<<20)
		}
		checkWrites(t, rng, dir, tc)
	}
	if reads < 10000 {
		t.Fatalf("only %d random reads", reads)
	}
	t.Logf("%d ReadAt calls checked", reads)
}

func TestReadAtNegativeOffset(t *testing.T) {
	im := New(bytes.NewReader(make([]byte, 10)), 10)
	if n, err := im.ReadAt(make([]byte, 1), -1); n != 0 || err == nil || err == io.EOF {
		t.Fatalf("ReadAt at -1 = %d, %v; want an error", n, err)
	}
}

func TestConcurrentReads(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	dir := t.TempDir()
	base := randBytes(rng, 1<<20+123)
	f := tempFile(t, dir, base)
	im := New(f, int64(len(base)))
	ref := bytes.Clone(base)
	for _, off := range []int{0, 4095, 325632 + 7, 700000, len(base) - 9} {
		data := randBytes(rng, 9)
		if err := im.Patch(int64(off), data); err != nil {
			t.Fatal(err)
		}
		copy(ref[off:], data)
	}
	ext := randBytes(rng, 70000)
	if _, err := im.Append(tempFile(t, dir, ext), int64(len(ext))); err != nil {
		t.Fatal(err)
	}
	if _, err := im.Append(bytes.NewReader(ext[:333]), 333); err != nil {
		t.Fatal(err)
	}
	ref = append(append(ref, ext...), ext[:333]...)

	var wg sync.WaitGroup
	errs := make(chan error, 12)
	// While 8 goroutines read ranges, 4 more write the whole overlay: two
	// to buffers (the generic path) and two to files (copy_file_range).
	outs := []*os.File{nil, tempFile(t, dir, nil), nil, tempFile(t, dir, nil)}
	for g, out := range outs {
		wg.Go(func() {
			var w io.Writer = &bytes.Buffer{}
			if out != nil {
				w = out
			}
			if _, err := im.WriteTo(w); err != nil {
				errs <- fmt.Errorf("concurrent WriteTo: %w", err)
				return
			}
			var got []byte
			if out != nil {
				var err error
				if got, err = os.ReadFile(out.Name()); err != nil {
					errs <- err
					return
				}
			} else {
				got = w.(*bytes.Buffer).Bytes()
			}
			if !bytes.Equal(got, ref) {
				errs <- fmt.Errorf("concurrent WriteTo %d: output differs", g)
			}
		})
	}
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 99))
			got := make([]byte, 100000)
			for range 300 {
				off := rng.Int64N(int64(len(ref)) + 10)
				n := rng.IntN(len(got))
				gn, gerr := im.ReadAt(got[:n], off)
				wn, werr := bytes.NewReader(ref).ReadAt(make([]byte, n), off)
				if gn != wn || gerr != werr {
					errs <- fmt.Errorf("ReadAt(%d, %d) = %d, %v; want %d, %v", n, off, gn, gerr, wn, werr)
					return
				}
				if gn > 0 && !bytes.Equal(got[:gn], ref[off:off+int64(gn)]) {
					errs <- fmt.Errorf("ReadAt(%d, %d): data differs", n, off)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// cancelWriter cancels a context on its first Write.
type cancelWriter struct {
	cancel context.CancelFunc
	n      int64
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.cancel()
	w.n += int64(len(p))
	return len(p), nil
}

func TestCancel(t *testing.T) {
	dir := t.TempDir()
	base := bytes.Repeat([]byte("0123456789abcdef"), 16384) // 256 KiB
	f := tempFile(t, dir, base)
	im := New(f, int64(len(base)))
	if err := im.Patch(5000, []byte("patch")); err != nil {
		t.Fatal(err)
	}
	if _, err := im.Append(bytes.NewReader(base), 100000); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	for _, w := range []io.Writer{&bytes.Buffer{}, tempFile(t, dir, nil), pw} {
		n, err := im.WriteToContext(ctx, w)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("WriteToContext(%T) with a cancelled context: %d, %v", w, n, err)
		}
		if n != 0 {
			t.Fatalf("WriteToContext(%T) with a cancelled context wrote %d bytes", w, n)
		}
	}
	if err := im.ApplyTo(ctx, tempFile(t, dir, base)); !errors.Is(err, context.Canceled) {
		t.Fatalf("ApplyTo with a cancelled context: %v", err)
	}

	// Cancelled during the copy: stops at the next chunk.
	setChunkSize(t, 64<<10)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	cw := &cancelWriter{cancel: cancel}
	n, err := im.WriteToContext(ctx, cw)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteToContext cancelled while writing: %d, %v", n, err)
	}
	if n != cw.n || n >= im.Size() || n > 64<<10 {
		t.Fatalf("WriteToContext cancelled while writing returned %d after %d bytes", n, cw.n)
	}
}

func TestPatchErrors(t *testing.T) {
	im := New(bytes.NewReader(make([]byte, 1000)), 1000)
	if err := im.Patch(100, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if err := im.Patch(200, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		off  int64
		n    int
		want []string
	}{
		{105, 20, []string{"20 bytes at offset 105", "10 bytes at offset 100"}},
		{95, 6, []string{"6 bytes at offset 95", "10 bytes at offset 100"}},
		{109, 1, []string{"1 bytes at offset 109", "10 bytes at offset 100"}},
		{50, 500, []string{"500 bytes at offset 50", "10 bytes at offset 100"}},
		{205, 1, []string{"1 bytes at offset 205", "10 bytes at offset 200"}},
		{-1, 5, []string{"5 bytes at offset -1", "1000-byte base"}},
		{996, 5, []string{"5 bytes at offset 996", "1000-byte base"}},
		{1000, 1, []string{"1 bytes at offset 1000"}},
		{9223372036854775807, 1, []string{"offset 9223372036854775807"}},
	} {
		err := im.Patch(c.off, make([]byte, c.n))
		if err == nil {
			t.Fatalf("Patch(%d, %d bytes) succeeded", c.off, c.n)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Patch(%d, %d bytes): error %q does not mention %q", c.off, c.n, err, w)
			}
		}
	}
	// Adjacent patches and zero-length patches are fine.
	for _, c := range []struct {
		off int64
		n   int
	}{{90, 10}, {110, 90}, {0, 1}, {995, 5}, {105, 0}, {-5, 0}, {5000, 0}} {
		if err := im.Patch(c.off, make([]byte, c.n)); err != nil {
			t.Errorf("Patch(%d, %d bytes): %v", c.off, c.n, err)
		}
	}
}

func TestAppendErrors(t *testing.T) {
	im := New(bytes.NewReader(nil), 0)
	if _, err := im.Append(bytes.NewReader(nil), -1); err == nil {
		t.Fatal("Append of -1 bytes succeeded")
	}
	if _, err := im.Append(nil, 5); err == nil {
		t.Fatal("Append of a nil reader succeeded")
	}
	if off, err := im.Append(nil, 0); err != nil || off != 0 {
		t.Fatalf("Append of 0 bytes = %d, %v", off, err)
	}
	if im.Size() != 0 {
		t.Fatalf("Size() = %d after failed appends", im.Size())
	}
}

// TestShortBase checks that a base shorter than the size given to New is an
// error naming the offset where it ended, on every path.
func TestShortBase(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte{7}, 1000)
	f := tempFile(t, dir, data)
	const want = "read base image at offset 1000: unexpected EOF"
	for _, base := range []io.ReaderAt{f, bytes.NewReader(data), io.NewSectionReader(f, 0, 1000)} {
		im := New(base, 5000)
		if err := im.Patch(10, []byte("x")); err != nil {
			t.Fatal(err)
		}
		n, err := im.ReadAt(make([]byte, 200), 900)
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("%T: ReadAt past the short base = %d, %v", base, n, err)
		}
		if n != 100 {
			t.Fatalf("%T: ReadAt past the short base returned %d bytes, want 100", base, n)
		}
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		go io.Copy(io.Discard, pr)
		for _, w := range []io.Writer{&bytes.Buffer{}, tempFile(t, dir, nil), pw} {
			n, err := im.WriteTo(w)
			if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%T to %T: WriteTo of a short base = %d, %v", base, w, n, err)
			}
			if n > 1000 {
				t.Fatalf("%T to %T: WriteTo of a short base returned %d", base, w, n)
			}
		}
		pw.Close()
		pr.Close()
	}
}

// BenchmarkWriteTo writes a 256 MiB file-backed overlay with two small
// patches to a new file; compare with BenchmarkCopyFile.
func BenchmarkWriteTo(b *testing.B) {
	src := benchFile(b)
	fi, err := src.Stat()
	if err != nil {
		b.Fatal(err)
	}
	im := New(src, fi.Size())
	if err := im.Patch(325632+7, []byte("kargs")); err != nil {
		b.Fatal(err)
	}
	if err := im.Patch(fi.Size()/2+1, make([]byte, 1000)); err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(b.TempDir(), "out")
	b.SetBytes(fi.Size())
	benchCopies(b, out, func(dst *os.File) error {
		_, err := im.WriteTo(dst)
		return err
	})
}

// BenchmarkCopyFile copies the same file with io.Copy, which uses
// copy_file_range on Linux: the speed to match.
func BenchmarkCopyFile(b *testing.B) {
	src := benchFile(b)
	fi, err := src.Stat()
	if err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(b.TempDir(), "out")
	b.SetBytes(fi.Size())
	benchCopies(b, out, func(dst *os.File) error {
		if _, err := src.Seek(0, io.SeekStart); err != nil {
			return err
		}
		_, err := io.Copy(dst, src)
		return err
	})
}

// benchCopies times copy into a new file out, after one untimed copy that
// warms the page cache and lets earlier writeback settle.
func benchCopies(b *testing.B, out string, copy func(*os.File) error) {
	once := func() {
		dst, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		if err := copy(dst); err != nil {
			b.Fatal(err)
		}
		if err := dst.Close(); err != nil {
			b.Fatal(err)
		}
		os.Remove(out)
	}
	once()
	for b.Loop() {
		once()
	}
}

// benchFile creates a 256 MiB file of random data.
func benchFile(b *testing.B) *os.File {
	b.Helper()
	f, err := os.Create(filepath.Join(b.TempDir(), "base"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	rng := rand.New(rand.NewPCG(1, 1))
	chunk := randBytes(rng, 1<<20)
	for range 256 {
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	// Settle the writeback of the new file so that it does not slow down
	// the first timed copies.
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	return f
}

func TestPatched(t *testing.T) {
	base := bytes.Repeat([]byte{'.'}, 100)
	im := New(bytes.NewReader(base), int64(len(base)))
	for _, p := range []struct {
		off int64
		s   string
	}{{50, "xyz"}, {10, "ab"}, {90, "0123456789"}} {
		if err := im.Patch(p.off, []byte(p.s)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := im.Append(bytes.NewReader([]byte("tail")), 4); err != nil {
		t.Fatal(err)
	}
	want := []Range{{10, 2}, {50, 3}, {90, 10}}
	if got := im.Patched(); !slices.Equal(got, want) {
		t.Errorf("Patched = %v, want %v", got, want)
	}
	if im.BaseSize() != 100 || im.Size() != 104 {
		t.Errorf("BaseSize, Size = %d, %d, want 100, 104", im.BaseSize(), im.Size())
	}
}
