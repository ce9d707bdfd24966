package iso_test

import (
	"bytes"
	"io"
	"io/fs"
	"testing"

	"github.com/isobuild/isobuild/internal/isowrite"
	"github.com/isobuild/isobuild/pkg/iso"
)

// nullTarget accepts an edit and keeps only its size.
type nullTarget struct{ end int64 }

func (n *nullTarget) Patch(int64, []byte) error { return nil }
func (n *nullTarget) Append(_ io.ReaderAt, k int64) (int64, error) {
	off := n.end
	n.end += k
	return off, nil
}

// FuzzTrees feeds mutated small images to Trees, Walk, Lookup, FS and the
// Editor: nothing may panic, entries must lie inside the image, and the work
// must stay bounded. Seeds are images written by internal/isowrite, one of
// them edited (a directory moved, a file added and one replaced).
//
//	go test -run='^$' -fuzz=FuzzTrees -fuzzminimizetime=50x ./pkg/iso/
func FuzzTrees(f *testing.F) {
	var small bytes.Buffer
	files := []isowrite.File{
		fuzzFile("a/b.txt", "hello"),
		{Path: "coreos/kargs.jso", RRPath: "coreos/kargs.json", Size: 3, Open: func() (io.Reader, error) { return bytes.NewReader([]byte("{}\n")), nil }},
		fuzzFile("c", ""),
	}
	for _, n := range []string{"d/f1.txt", "d/f2.txt", "d/f3.txt", "d/f4.txt", "d/f5.txt"} {
		files = append(files, fuzzFile(n, n))
	}
	if err := isowrite.Write(&small, files, isowrite.WriteOptions{VolumeID: "FUZZ"}); err != nil {
		f.Fatal(err)
	}
	f.Add(small.Bytes())
	var edits []edit
	for _, n := range []string{"/d/n1.img", "/d/n2.img", "/d/n3.img", "/d/n4.img", "/d/n5.img", "/d/n6.img", "/d/n7.img", "/d/n8.img", "/d/n9.img", "/d/na.img", "/d/nb.img", "/d/nc.img", "/d/nd.img", "/d/ne.img", "/d/nf.img", "/d/ng.img", "/d/nh.img", "/d/ni.img", "/d/nj.img", "/d/nk.img", "/d/nl.img", "/d/nm.img", "/d/nn.img", "/d/no.img", "/d/np.img", "/d/nq.img", "/d/nr.img", "/d/ns.img"} {
		edits = append(edits, edit{path: n, data: []byte("x")})
	}
	edits = append(edits, edit{path: "/a/b.txt", data: []byte("replaced"), replace: true})
	edited, err := tryEdits(small.Bytes(), nil, edits, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(edited)
	f.Add(small.Bytes()[:40<<10])

	f.Fuzz(func(t *testing.T, data []byte) {
		size := int64(len(data))
		im, err := iso.Open(bytes.NewReader(data), size)
		if err != nil {
			return
		}
		trees, err := im.Trees()
		if err != nil {
			return
		}
		for _, tr := range trees {
			visits, reads := 0, 0
			_ = tr.Walk(func(e iso.Entry) error {
				visits++
				if visits > len(data)/34+1 {
					t.Fatalf("Walk visited %d entries in a %d-byte image", visits, len(data))
				}
				if e.Offset < 0 || e.Offset > size || (len(e.Records) == 1 && e.Length > size-e.Offset) {
					t.Fatalf("entry %+v outside the %d-byte image", e, size)
				}
				if !e.IsDir && reads < 20 {
					reads++
					_, _ = fs.ReadFile(tr.FS(), e.Path)
				}
				return nil
			})
			for _, p := range []string{"", "a/b.txt", "COREOS/kargs.json", "d", "missing/x"} {
				if e, err := tr.Lookup(p); err == nil && (e.Offset > size || len(e.Records) == 1 && e.Length > size-e.Offset) {
					t.Fatalf("Lookup(%q) = %+v outside the image", p, e)
				}
				_, _ = tr.ReadDir(p)
				_, _ = fs.ReadDir(tr.FS(), ".")
			}
		}
		end := (size + 2047) / 2048 * 2048
		ed := iso.NewEditor(im, trees, &nullTarget{end: end}, end)
		_ = ed.AddFile("/d/new.img", bytes.NewReader([]byte("new")), 3)
		_ = ed.AddFile("/new.img", bytes.NewReader([]byte("new")), 3)
		_ = ed.ReplaceFile("/a/b.txt", bytes.NewReader([]byte("new")), 3)
		if ed.MkdirAll("/d/new/dir") == nil {
			_ = ed.AddFile("/d/new/dir/f", bytes.NewReader([]byte("new")), 3)
		}
		_ = ed.MkdirAll("/nocloud")
		_ = ed.Finish(ed.End())
	})
}
