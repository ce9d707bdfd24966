package output

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/isobuild/isobuild/internal/filelock"
	"github.com/isobuild/isobuild/pkg/overlay"
)

// TestNamedTemps covers the fallback for file systems without unnamed
// files: a named temporary file, locked while its owner lives, that a
// later run removes once it is stale and unlocked.
func TestNamedTemps(t *testing.T) {
	unnamedTemps = false
	defer func() { unnamedTemps = true }()
	dir := t.TempDir()

	tmp, err := newTemp(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tmp.name == "" || !strings.HasPrefix(filepath.Base(tmp.name), TempPrefix) {
		t.Fatalf("fallback temporary file %q", tmp.name)
	}
	other, err := os.OpenFile(tmp.name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := filelock.TryLock(other, true); !errors.Is(err, filelock.ErrLocked) {
		t.Fatalf("a live owner's temporary file is not locked: %v", err)
	}
	other.Close()
	// Even when old, a locked file is not taken for a dead one.
	old := time.Now().Add(-time.Hour)
	os.Chtimes(tmp.name, old, old)
	removeStale(dir)
	if _, err := os.Lstat(tmp.name); err != nil {
		t.Fatal("removeStale removed a live owner's file")
	}
	tmp.discard()
	if _, err := os.Lstat(tmp.name); err == nil {
		t.Fatal("discard left the file")
	}

	// A dead process's file: unlocked and old. A fresh unlocked one may
	// be another process's that has not locked it yet.
	dead := filepath.Join(dir, TempPrefix+"dead")
	fresh := filepath.Join(dir, TempPrefix+"fresh")
	os.WriteFile(dead, []byte("half an image"), 0o644)
	os.WriteFile(fresh, []byte("just created"), 0o644)
	os.Chtimes(dead, old, old)
	img := overlay.New(bytes.NewReader([]byte("new file")), 8)
	out := filepath.Join(dir, "out.img")
	if err := NewFile(context.Background(), out, img); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dead); err == nil {
		t.Error("the stale temporary file of a dead process was not removed")
	}
	if _, err := os.Lstat(fresh); err != nil {
		t.Error("a fresh temporary file was removed")
	}
	if b, _ := os.ReadFile(out); string(b) != "new file" {
		t.Errorf("output holds %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("directory holds %d files, want out.img and the fresh one", len(ents))
	}
	// Replace through the fallback too.
	if err := Replace(context.Background(), out, overlay.New(bytes.NewReader([]byte("replaced")), 8)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "replaced" {
		t.Errorf("replaced output holds %q", b)
	}
}

// TestUnnamedTemps: on Linux a new file has no name in the directory
// until it is complete.
func TestUnnamedTemps(t *testing.T) {
	dir := t.TempDir()
	tmp, err := newTemp(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.discard()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 && tmp.name == "" {
		t.Fatalf("an unnamed temporary file shows up as %s", ents[0].Name())
	}
	if tmp.name != "" {
		t.Logf("this file system has no O_TMPFILE: %s", tmp.name)
	}
}
