package iso_test

import (
	"bytes"
	"errors"
	"io/fs"
	"testing"

	"github.com/isobuild/isobuild/internal/isowrite"
	"github.com/isobuild/isobuild/pkg/iso"
)

func TestTreesBasics(t *testing.T) {
	var img bytes.Buffer
	if err := isowrite.Write(&img, []isowrite.File{fuzzFile("dir/file.txt", "data"), {Path: "coreos/kargs.jso", RRPath: "coreos/kargs.json", Size: 2, Open: fuzzFile("x", "{}").Open}}, isowrite.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	im := openBytes(t, img.Bytes())
	trees, err := im.Trees()
	if err != nil || len(trees) != 1 {
		t.Fatalf("Trees = %v, %v", trees, err)
	}
	tr := trees[0]
	if tr.Kind != iso.PrimaryTree || tr.Kind.String() != "primary" || iso.JolietTree.String() != "joliet" || iso.ISO1999Tree.String() != "iso9660:1999" {
		t.Errorf("kind %v", tr.Kind)
	}
	if !tr.RockRidge || tr.Descriptor != 32768 || tr.Base != 0 {
		t.Errorf("tree %+v", tr)
	}
	// Rock Ridge names, case-insensitive, leading slash optional.
	for _, p := range []string{"/coreos/kargs.json", "COREOS/KARGS.JSON", "dir/./../dir/file.txt"} {
		e, err := tr.Lookup(p)
		if err != nil {
			t.Errorf("Lookup(%q): %v", p, err)
			continue
		}
		rec, err := im.Lookup(map[bool]string{true: "COREOS/KARGS.JSO", false: "DIR/FILE.TXT"}[e.Name == "kargs.json"])
		if err != nil || rec.Offset != e.Offset || rec.Length != e.Length || len(e.Records) != 1 {
			t.Errorf("Lookup(%q) = %+v, primary record %+v, %v", p, e, rec, err)
		}
	}
	if _, err := tr.Lookup("coreos/kargs.jso"); !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, iso.ErrNotFound) {
		t.Errorf("ISO name in a Rock Ridge tree: %v, want not found", err)
	}
	if _, err := tr.Lookup("dir/file.txt/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file as directory: %v", err)
	}
	// A twin base without a descriptor set is an error naming the offset.
	var fe *iso.FormatError
	if _, err := im.Trees(16 * 2048); !errors.As(err, &fe) || fe.Offset != 32*2048 {
		t.Errorf("Trees(twin at 32768) = %v, want a FormatError at 65536", err)
	}
	if _, err := im.Trees(int64(img.Len())); err == nil {
		t.Errorf("Trees(twin at the end) succeeded")
	}
}
