package overlay

import (
	"bytes"
	"io"
	"math/rand"
	"os"
	"testing"
)

// TestPieces: the pieces of any range, read one by one, are the bytes
// ReadAt gives, and they tile the range without gaps.
func TestPieces(t *testing.T) {
	base := make([]byte, 1<<16)
	rand.New(rand.NewSource(1)).Read(base)
	im := New(bytes.NewReader(base), int64(len(base)))
	for _, p := range []struct {
		off int64
		n   int
	}{{0, 10}, {100, 1000}, {5000, 1}, {60000, 5536}} {
		data := bytes.Repeat([]byte{byte(p.off)}, p.n)
		if err := im.Patch(p.off, data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := im.Append(bytes.NewReader(bytes.Repeat([]byte{7}, 3000)), 3000); err != nil {
		t.Fatal(err)
	}
	if _, err := im.Append(bytes.NewReader(bytes.Repeat([]byte{9}, 100)), 100); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, im.Size())
	if _, err := im.ReadAt(want, 0); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 500; i++ {
		off := rng.Int63n(im.Size())
		n := rng.Int63n(im.Size()-off+100) + 1
		var got []byte
		next := off
		for _, p := range im.Pieces(off, n) {
			if p.Off != next || p.N <= 0 {
				t.Fatalf("Pieces(%d, %d): piece at %d (%d bytes), want one at %d", off, n, p.Off, p.N, next)
			}
			if p.Data != nil {
				if int64(len(p.Data)) != p.N {
					t.Fatalf("a patch piece of %d bytes holds %d", p.N, len(p.Data))
				}
				got = append(got, p.Data...)
			} else {
				b, err := io.ReadAll(io.NewSectionReader(p.R, p.ROff, p.N))
				if err != nil || int64(len(b)) != p.N {
					t.Fatalf("piece at %d: %d bytes, %v", p.Off, len(b), err)
				}
				got = append(got, b...)
			}
			next += p.N
		}
		end := min(off+n, im.Size())
		if !bytes.Equal(got, want[off:end]) {
			t.Fatalf("Pieces(%d, %d) give other bytes than ReadAt", off, n)
		}
	}
	if ps := im.Pieces(im.Size(), 10); ps != nil {
		t.Errorf("Pieces at the end: %v", ps)
	}
}

// TestPiecesFiles: a piece of a file's bytes names the file and the file
// offset of its bytes, through sections of the file too; a piece of
// another reader names none.
func TestPiecesFiles(t *testing.T) {
	content := make([]byte, 1<<15)
	rand.New(rand.NewSource(3)).Read(content)
	f, err := os.CreateTemp(t.TempDir(), "base")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(content); err != nil {
		t.Fatal(err)
	}
	im := New(f, 1<<14) // the first half of the file is the base
	if err := im.Patch(100, []byte("patch")); err != nil {
		t.Fatal(err)
	}
	// An appended extent that is a section of the file's second half.
	if _, err := im.Append(io.NewSectionReader(f, 1<<14, 4096), 4096); err != nil {
		t.Fatal(err)
	}
	if _, err := im.Append(bytes.NewReader(make([]byte, 10)), 10); err != nil {
		t.Fatal(err)
	}
	files, others := 0, 0
	for _, p := range im.Pieces(0, im.Size()) {
		switch {
		case p.Data != nil:
			if p.File != nil {
				t.Errorf("patch piece at %d names a file", p.Off)
			}
		case p.File == nil:
			others++
		default:
			files++
			want := make([]byte, p.N)
			if _, err := im.ReadAt(want, p.Off); err != nil {
				t.Fatal(err)
			}
			if p.File != f || !bytes.Equal(content[p.FileOff:p.FileOff+p.N], want) {
				t.Errorf("piece at %d: file offset %d does not hold its bytes", p.Off, p.FileOff)
			}
		}
	}
	if files < 3 || others == 0 {
		t.Errorf("%d file pieces and %d others, want the base's two, the section's and the bytes.Reader's", files, others)
	}
}
