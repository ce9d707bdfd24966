package output

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	if err := Write(ctx, Stdout, f, &stream, edit(f)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.img")
	if err := Write(ctx, out, f, nil, edit(f)); err != nil {
		t.Fatal(err)
	}
	rw, err := os.OpenFile(in, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(ctx, "", rw, nil, edit(rw)); err != nil {
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
	// In place, a cancelled edit does not start.
	rw, err := os.OpenFile(src, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	img := overlay.New(rw, 1<<20)
	if err := img.Patch(5, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := InPlace(ctx, rw, img); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled InPlace: %v", err)
	}
	if b, _ := os.ReadFile(src); b[5] != 0 {
		t.Fatal("a cancelled in-place edit wrote")
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
