package iso_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/isowrite"
	"github.com/isobuild/isobuild/pkg/iso"
)

// FuzzOpen feeds arbitrary images to the reader: it must not panic, must
// return records whose extents lie inside the image, and must stay within
// bounded work. Seeds are the synthetic fixture, a written image and a few
// small hand-made variants. The inputs are tens of KiB, so limit input
// minimisation, which otherwise stalls the fuzzer for a minute per new input:
//
//	go test -run='^$' -fuzz=FuzzOpen -fuzzminimizetime=50x ./pkg/iso/
func FuzzOpen(f *testing.F) {
	syn := readFixture(f, "synthetic.iso")
	f.Add(syn)
	var small bytes.Buffer
	if err := isowrite.Write(&small, []isowrite.File{
		fuzzFile("a/b.txt", "hello"),
		{Path: "coreos/kargs.jso", RRPath: "coreos/kargs.json", Size: 3, Open: func() (io.Reader, error) { return bytes.NewReader([]byte("{}\n")), nil }},
		fuzzFile("c", ""),
	}, isowrite.WriteOptions{VolumeID: "FUZZ"}); err != nil {
		f.Fatal(err)
	}
	f.Add(small.Bytes())
	f.Add(small.Bytes()[:40<<10])
	f.Add([]byte{})
	f.Add(make([]byte, 36<<10))

	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := iso.Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if im.Size() != int64(len(data)) {
			t.Fatalf("Size() = %d, want %d", im.Size(), len(data))
		}
		_ = im.Descriptors()
		_, _ = im.ElTorito()
		if int64(im.Primary().VolumeSpaceSize)*iso.SectorSize > im.Size() {
			t.Fatalf("Open accepted an incomplete image")
		}
		visits := 0
		err = im.Walk(func(r iso.Record) error {
			visits++
			if r.Offset < 0 || r.Length < 0 || r.Offset > im.Size() || r.Length > im.Size()-r.Offset {
				t.Fatalf("record %+v outside the image of %d bytes", r, im.Size())
			}
			// Each record takes at least 34 bytes of some directory, and
			// Walk reads at most as many directory bytes as the image has.
			if visits > len(data)/34+1 {
				t.Fatalf("Walk visited %d records in a %d-byte image", visits, len(data))
			}
			if !r.IsDir && visits < 50 {
				if _, err := io.Copy(io.Discard, im.Section(r)); err != nil {
					t.Fatalf("reading %s: %v", r.Path, err)
				}
				_, _ = im.ReadFile(r.Path) // may fail cleanly: an earlier record can have the same name
			}
			return nil
		})
		_ = err
		for _, p := range []string{"", "CONTENT/FILE.TXT", "A/B.TXT", "COREOS/KARGS.JSO", "MISSING/X"} {
			rec, err := im.Lookup(p)
			if err == nil && (rec.Offset > im.Size() || rec.Length > im.Size()-rec.Offset) {
				t.Fatalf("Lookup(%q) = %+v outside the image", p, rec)
			}
			_, _ = im.ReadDir(p)
		}
	})
}

func fuzzFile(path, data string) isowrite.File {
	return isowrite.File{Path: path, Size: int64(len(data)), Open: func() (io.Reader, error) {
		return strings.NewReader(data), nil
	}}
}
