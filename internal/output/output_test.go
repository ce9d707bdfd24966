package output

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/pkg/embed"
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
	if err == nil || !strings.Contains(err.Error(), "File exists") || !errors.Is(err, os.ErrExist) {
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

func TestImageModesAgree(t *testing.T) {
	dir := t.TempDir()
	src := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	in := filepath.Join(dir, "in.img")
	os.WriteFile(in, src, 0o644)
	regions := []embed.Region{{Offset: 10, Data: []byte("XX"), What: "a"}, {Offset: 60000, Data: []byte("YYYY"), What: "b"}}
	want := append([]byte{}, src...)
	copy(want[10:], "XX")
	copy(want[60000:], "YYYY")

	f, _ := os.Open(in)
	defer f.Close()
	var stream bytes.Buffer
	if err := Image(Stdout, f, int64(len(src)), regions, &stream); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.img")
	if err := Image(out, f, int64(len(src)), regions, nil); err != nil {
		t.Fatal(err)
	}
	rw, _ := os.OpenFile(in, os.O_RDWR, 0)
	if err := Image("", rw, int64(len(src)), regions, nil); err != nil {
		t.Fatal(err)
	}
	rw.Close()
	got, _ := os.ReadFile(out)
	inplace, _ := os.ReadFile(in)
	if !bytes.Equal(stream.Bytes(), want) || !bytes.Equal(got, want) || !bytes.Equal(inplace, want) {
		t.Fatal("output modes differ from the expected bytes")
	}

	// Overlapping or out-of-range regions are refused in stream mode.
	bad := []embed.Region{{Offset: 10, Data: []byte("XXXX")}, {Offset: 12, Data: []byte("Y")}}
	if err := Image(Stdout, f, int64(len(src)), bad, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "precedes current offset") {
		t.Fatalf("overlap: %v", err)
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
