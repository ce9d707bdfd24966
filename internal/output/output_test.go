package output

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/isobuild/isobuild/internal/imagefile"
	"github.com/isobuild/isobuild/pkg/overlay"
)

func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestCreateNew(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.iso")
	write := func(f *os.File) error { _, err := f.WriteString("data"); return err }
	if err := CreateNew(p, write); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "data" {
		t.Fatalf("content %q", b)
	}
	// No clobbering, with the text scripts match on.
	err := CreateNew(p, func(f *os.File) error { _, err := f.WriteString("other"); return err })
	var exists *ExistsError
	if !errors.As(err, &exists) || exists.Path != p || !errors.Is(err, os.ErrExist) {
		t.Fatalf("second CreateNew: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "data" {
		t.Fatal("existing file was overwritten")
	}
	// A failing fill leaves nothing behind.
	boom := errors.New("boom")
	q := filepath.Join(dir, "failed.iso")
	if err := CreateNew(q, func(f *os.File) error { f.WriteString("partial"); return boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if got := entries(t, dir); len(got) != 1 || got[0] != "out.iso" {
		t.Fatalf("directory holds %v, want only out.iso", got)
	}
}

func TestWriteModesAgree(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	in := filepath.Join(dir, "in.img")
	if err := os.WriteFile(in, src, 0o644); err != nil {
		t.Fatal(err)
	}
	want := append([]byte{}, src...)
	copy(want[10:], "XX")
	copy(want[60000:], "YYYY")
	want = append(want, "tail"...)
	edit := func(f *os.File) *overlay.Image {
		img := overlay.New(f, int64(len(src)))
		for _, p := range []struct {
			off  int64
			data string
		}{{10, "XX"}, {60000, "YYYY"}} {
			if err := img.Patch(p.off, []byte(p.data)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := img.Append(strings.NewReader("tail"), 4); err != nil {
			t.Fatal(err)
		}
		return img
	}

	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stream bytes.Buffer
	if err := Write(ctx, Stdout, &stream, edit(f)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.img")
	if err := Write(ctx, out, nil, edit(f)); err != nil {
		t.Fatal(err)
	}
	// In place (package imagefile, with its journal).
	rw, err := imagefile.Open(ctx, in, imagefile.Edit, imagefile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rw.Apply(ctx, edit(rw.File)); err != nil {
		t.Fatal(err)
	}
	rw.Close()
	got, _ := os.ReadFile(out)
	inplace, _ := os.ReadFile(in)
	if !bytes.Equal(stream.Bytes(), want) || !bytes.Equal(got, want) || !bytes.Equal(inplace, want) {
		t.Fatal("output modes differ from the expected bytes")
	}
}

func TestCancelledNewFileLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(dir, "out")
	if err := NewFile(ctx, out, overlay.New(f, 1<<20)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled NewFile: %v", err)
	}
	if got := entries(t, dir); len(got) != 1 || got[0] != "src" {
		t.Fatalf("directory holds %v, want only src", got)
	}
}

func TestRefuseTerminal(t *testing.T) {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	defer ptmx.Close()
	if err := RefuseTerminal(ptmx); !errors.Is(err, ErrTerminal) {
		t.Fatalf("terminal accepted: %v", err)
	}
	f, _ := os.CreateTemp(t.TempDir(), "x")
	defer f.Close()
	if err := RefuseTerminal(f); err != nil {
		t.Fatalf("regular file refused: %v", err)
	}
	if err := RefuseTerminal(&bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
}

func TestRenameNoReplace(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, []byte("a"), 0o644)
	os.WriteFile(b, []byte("b"), 0o644)
	if err := renameNoReplace(a, b); !errors.Is(err, os.ErrExist) {
		t.Fatalf("rename over an existing file: %v", err)
	}
	if got, _ := os.ReadFile(b); string(got) != "b" {
		t.Fatal("existing file replaced")
	}
	c := filepath.Join(dir, "c")
	if err := renameNoReplace(a, c); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a); !os.IsNotExist(err) {
		t.Fatal("source still there after the rename")
	}
}

// zeroCanceler is an image of zeros that cancels a context once more than
// after bytes of it have been read: a signal arriving mid-copy.
type zeroCanceler struct {
	after  int64
	read   atomic.Int64
	cancel context.CancelFunc
}

func (z *zeroCanceler) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	if z.read.Add(int64(len(p))) > z.after {
		z.cancel()
	}
	return len(p), nil
}

// TestCancelMidCopy: a new file whose copy is cancelled half-way is
// removed; nothing is left in the directory.
func TestCancelMidCopy(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base := &zeroCanceler{after: 8 << 20, cancel: cancel}
	const size = 300 << 20
	err := NewFile(ctx, filepath.Join(dir, "out.iso"), overlay.New(base, size))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("NewFile = %v, want a cancellation", err)
	}
	if n := base.read.Load(); n >= size {
		t.Errorf("the whole image was read (%d bytes) despite the cancellation", n)
	}
	if got := entries(t, dir); len(got) != 0 {
		t.Fatalf("directory holds %v after a cancelled copy", got)
	}
}

func TestReplace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "blob")
	for _, content := range []string{"first", "second, longer"} {
		img := overlay.New(strings.NewReader(content), int64(len(content)))
		if err := Replace(context.Background(), p, img); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != content {
			t.Fatalf("content %q, want %q", b, content)
		}
	}
	// A failed write keeps the old file.
	short := overlay.New(strings.NewReader("x"), 10)
	if err := Replace(context.Background(), p, short); err == nil {
		t.Fatal("a short image was written")
	}
	if b, _ := os.ReadFile(p); string(b) != "second, longer" {
		t.Fatalf("failed Replace changed the file to %q", b)
	}
	if got := entries(t, dir); len(got) != 1 {
		t.Fatalf("directory holds %v", got)
	}
	if err := Replace(context.Background(), filepath.Join(dir, "no", "such", "dir", "x"), short); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing directory: %v", err)
	}
}

// TestPending: an output begun before the edit is planned ends up as
// NewFile writes it; an aborted or failed one leaves nothing behind.
func TestPending(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	in := filepath.Join(dir, "in.img")
	if err := os.WriteFile(in, src, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	edit := overlay.New(f, int64(len(src)))
	if err := edit.Patch(325632+7, []byte("patched")); err != nil {
		t.Fatal(err)
	}
	if _, err := edit.Append(strings.NewReader("tail"), 4); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "want.img")
	if err := NewFile(ctx, want, edit); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(dir, "out.img")
	p, err := Begin(ctx, out, f, int64(len(src)))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Finish(ctx, edit); err != nil {
		t.Fatal(err)
	}
	p.Abort() // after Finish: nothing happens
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(want)
	if !bytes.Equal(a, b) {
		t.Fatal("Begin and Finish wrote other bytes than NewFile")
	}
	p, err = Begin(ctx, out, f, int64(len(src)))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Finish(ctx, edit); !errors.As(err, new(*ExistsError)) {
		t.Fatalf("Finish over an existing file: %v", err)
	}

	// Aborted while planning.
	p, err = Begin(ctx, filepath.Join(dir, "aborted.img"), f, int64(len(src)))
	if err != nil {
		t.Fatal(err)
	}
	p.Abort()
	// A base shorter than announced fails in Finish.
	p, err = Begin(ctx, filepath.Join(dir, "short.img"), f, int64(len(src))+100)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Finish(ctx, edit); err == nil {
		t.Fatal("Finish succeeded on a short base")
	}
	if got := entries(t, dir); len(got) != 3 {
		t.Fatalf("directory holds %v, want in.img, out.img and want.img", got)
	}
}
