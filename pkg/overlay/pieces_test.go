package overlay

import (
	"bytes"
	"io"
	"math/rand"
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
