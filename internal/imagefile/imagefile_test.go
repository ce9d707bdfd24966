package imagefile

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isobuild/isobuild/pkg/overlay"
)

func testImage(t *testing.T) (string, []byte) {
	t.Helper()
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	path := filepath.Join(t.TempDir(), "live.iso")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// edit returns an overlay of f with three patches and the bytes it means.
func edit(t *testing.T, f *os.File, data []byte) (*overlay.Image, []byte) {
	t.Helper()
	ov := overlay.New(f, int64(len(data)))
	want := bytes.Clone(data)
	for i, off := range []int64{100, 20000, 60000} {
		p := bytes.Repeat([]byte{'A' + byte(i)}, 300)
		if err := ov.Patch(off, p); err != nil {
			t.Fatal(err)
		}
		copy(want[off:], p)
	}
	if _, err := ov.Append(strings.NewReader("appended"), 8); err != nil {
		t.Fatal(err)
	}
	return ov, append(want, "appended"...)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func noJournal(t *testing.T, path string) {
	t.Helper()
	for _, p := range []string{JournalPath(path), JournalPath(path) + ".tmp"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s is left behind", p)
		}
	}
}

func TestApply(t *testing.T) {
	path, data := testImage(t)
	f, err := Open(context.Background(), path, Edit, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ov, want := edit(t, f.File, data)
	if err := f.Apply(context.Background(), ov); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !bytes.Equal(mustRead(t, path), want) {
		t.Error("image does not hold the edit")
	}
	noJournal(t, path)
}

// cancelAfter is a context whose Err turns to Canceled after n calls, to
// stop ApplyTo between two patches.
type cancelAfter struct {
	context.Context
	n atomic.Int32
}

func (c *cancelAfter) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestApplyRollsBack: an edit stopped between its writes restores the
// original bytes and removes the journal.
func TestApplyRollsBack(t *testing.T) {
	for n := int32(1); n <= 3; n++ {
		path, data := testImage(t)
		f, err := Open(context.Background(), path, Edit, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ov, _ := edit(t, f.File, data)
		ctx := &cancelAfter{Context: context.Background()}
		ctx.n.Store(n) // Apply's own check, then one per patch
		err = f.Apply(ctx, ov)
		f.Close()
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "restored") {
			t.Fatalf("stopped after %d checks: err = %v", n, err)
		}
		if !bytes.Equal(mustRead(t, path), data) {
			t.Errorf("stopped after %d checks: image not restored", n)
		}
		noJournal(t, path)
	}
}

// TestRecover plays a process that died after writing its journal and
// some of the patches: the next Open, even for reading, restores the
// image and says so.
func TestRecover(t *testing.T) {
	for _, mode := range []Mode{Read, Edit} {
		path, data := testImage(t)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		ov, want := edit(t, f, data)
		j, err := record(f, ov)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeJournal(JournalPath(path), j); err != nil {
			t.Fatal(err)
		}
		f.WriteAt(want[100:400], 100)                   // the first patch only
		f.WriteAt([]byte("appended"), int64(len(data))) // and something past the end
		f.Close()

		var notes []string
		im, err := Open(context.Background(), path, mode, Options{Notify: func(s string) { notes = append(notes, s) }})
		if err != nil {
			t.Fatal(err)
		}
		if !im.Recovered || len(notes) != 1 || !strings.Contains(notes[0], "rolled back") {
			t.Errorf("mode %d: Recovered = %v, notes %q", mode, im.Recovered, notes)
		}
		got := make([]byte, len(data)+10)
		n, _ := im.ReadAt(got, 0)
		im.Close()
		if !bytes.Equal(got[:n], data) {
			t.Errorf("mode %d: image not restored (%d bytes)", mode, n)
		}
		noJournal(t, path)
	}
}

// TestTornJournal: a journal that a dead process had not finished (only
// the temporary file) means the image was never touched; it is removed.
func TestTornJournal(t *testing.T) {
	path, data := testImage(t)
	os.WriteFile(JournalPath(path)+".tmp", []byte(journalMagic+"abc"), 0o600)
	im, err := Open(context.Background(), path, Read, Options{})
	if err != nil {
		t.Fatal(err)
	}
	im.Close()
	if im.Recovered || !bytes.Equal(mustRead(t, path), data) {
		t.Error("a torn journal changed the image")
	}
	noJournal(t, path)
}

// TestForeignJournal: a journal left by an edit of an image that has been
// replaced since, or one that others could have written, is refused and
// nothing is written into the image.
func TestForeignJournal(t *testing.T) {
	for _, c := range []struct {
		name, want string
		spoil      func(path string)
	}{
		{"replaced image", "neither the original ones nor the edit's", func(path string) {
			os.WriteFile(path, bytes.Repeat([]byte("another release "), 4096), 0o644)
		}},
		{"world-writable journal", "writable by others", func(path string) {
			os.Chmod(JournalPath(path), 0o666)
		}},
		{"symlinked journal", "not a regular file", func(path string) {
			os.Rename(JournalPath(path), path+".j")
			os.Symlink(path+".j", JournalPath(path))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path, data := testImage(t)
			f, _ := os.Open(path)
			ov, _ := edit(t, f, data)
			j, err := record(f, ov)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := writeJournal(JournalPath(path), j); err != nil {
				t.Fatal(err)
			}
			c.spoil(path)
			before := mustRead(t, path)
			_, err = Open(context.Background(), path, Read, Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "nothing was restored") {
				t.Fatalf("Open = %v, want %q", err, c.want)
			}
			if !bytes.Equal(mustRead(t, path), before) {
				t.Error("a refused journal changed the image")
			}
		})
	}
}

func TestDamagedJournal(t *testing.T) {
	path, _ := testImage(t)
	f, _ := os.Open(path)
	ov, _ := edit(t, f, mustRead(t, path))
	j, _ := record(f, ov)
	f.Close()
	raw := j.marshal()
	raw[len(journalMagic)+20] ^= 1
	os.WriteFile(JournalPath(path), raw, 0o600)
	_, err := Open(context.Background(), path, Read, Options{})
	if !errors.Is(err, errDamaged) || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("Open with a damaged journal = %v", err)
	}
}

func TestLock(t *testing.T) {
	path, _ := testImage(t)
	ctx := context.Background()
	a, err := Open(ctx, path, Edit, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	start := time.Now()
	_, err = Open(ctx, path, Read, Options{LockTimeout: 200 * time.Millisecond, Notify: func(s string) { notes = append(notes, s) }})
	var le *LockedError
	if !errors.As(err, &le) || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("reader of a locked image: %v after %v", err, time.Since(start))
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "waiting") {
		t.Errorf("notes = %q", notes)
	}
	// The waiter gets the lock as soon as the holder lets go.
	go func() {
		time.Sleep(100 * time.Millisecond)
		a.Close()
	}()
	b, err := Open(ctx, path, Edit, Options{LockTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Readers share.
	c, err := Open(ctx, path, Read, Options{LockTimeout: -1})
	if err == nil {
		t.Fatal("a reader got in beside an editor")
	}
	b.Close()
	c, err = Open(ctx, path, Read, Options{LockTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(ctx, path, Read, Options{LockTimeout: -1})
	if err != nil {
		t.Fatalf("two readers: %v", err)
	}
	c.Close()
	d.Close()
	// A cancelled wait ends at once.
	e, _ := Open(ctx, path, Edit, Options{})
	defer e.Close()
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := Open(cctx, path, Edit, Options{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled wait: %v", err)
	}
}

func TestOpenMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.iso")
	if _, err := Open(context.Background(), path, Read, Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open of a missing image = %v", err)
	}
	if _, err := os.Lstat(path); err == nil {
		t.Error("Open created the missing image")
	}
}

// FuzzParseJournal: a journal is read back from disk, where anything can
// happen to it; parsing must never panic or accept a region it does not
// hold, and a parsed journal marshals back to the same bytes.
func FuzzParseJournal(f *testing.F) {
	j := &journal{size: 1 << 20, newSize: 1 << 20, regions: []region{{off: 139264, data: make([]byte, 64)}, {off: 65903, data: []byte("karg area####\n")}}}
	f.Add(j.marshal())
	f.Add((&journal{}).marshal())
	f.Add([]byte(journalMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := parseJournal(b)
		if err != nil {
			if !errors.Is(err, errDamaged) {
				t.Fatalf("error %v does not wrap errDamaged", err)
			}
			return
		}
		if !bytes.Equal(j.marshal(), b) {
			t.Fatal("a parsed journal does not marshal back to its bytes")
		}
	})
}
