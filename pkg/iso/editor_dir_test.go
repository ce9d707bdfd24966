package iso_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/iso"
	"github.com/isobuild/isobuild/pkg/overlay"
)

// mkdirEdits creates the parents of each new file with MkdirAll, then adds
// the files, and returns the output image. A path may hold a second path
// after "|": the file's path in the tree after MkdirAll of the first one's
// directory (a name shortened in a tree without Rock Ridge).
func mkdirEdits(data []byte, twins []int64, files [][2]string) ([]byte, error) {
	im, err := iso.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	trees, err := im.Trees(twins...)
	if err != nil {
		return nil, err
	}
	ov := overlay.New(bytes.NewReader(data), int64(len(data)))
	end := (int64(len(data)) + 2047) / 2048 * 2048
	if pad := end - int64(len(data)); pad > 0 {
		if _, err := ov.Append(bytes.NewReader(make([]byte, pad)), pad); err != nil {
			return nil, err
		}
	}
	ed := iso.NewEditor(im, trees, ov, end)
	for _, f := range files {
		p, short, _ := strings.Cut(f[0], "|")
		if err := ed.MkdirAll(filepath.Dir(p)); err != nil {
			return nil, err
		}
		if short != "" {
			p = short
		}
		if err := ed.AddFile(p, strings.NewReader(f[1]), int64(len(f[1]))); err != nil {
			return nil, err
		}
	}
	if err := ed.Finish(ed.End()); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := ov.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// treePath is the path a file of mkdirEdits has in the tree.
func treePath(p string) string {
	if _, short, ok := strings.Cut(p, "|"); ok {
		return short
	}
	return p
}

// checkPathTableOrder parses every path table each tree's descriptor names
// (L, M and the optional copies) and checks them against a walk of the
// tree: same directories, breadth-first order, right parent numbers.
func checkPathTableOrder(t *testing.T, img []byte, trees []*iso.Tree) {
	t.Helper()
	for _, tr := range trees {
		d := img[tr.Descriptor:]
		size := int(binary.LittleEndian.Uint32(d[132:]))
		if binary.BigEndian.Uint32(d[136:]) != uint32(size) {
			t.Errorf("%s tree at %d: path table size halves differ", tr.Kind, tr.Descriptor)
		}
		// Expected: breadth first, children in record order.
		type ent struct {
			lba    int64
			parent int
		}
		root, err := tr.Lookup("")
		if err != nil {
			t.Fatal(err)
		}
		want := []ent{{root.Offset, 1}}
		paths := []string{""}
		for i := 0; i < len(paths); i++ {
			ents, err := tr.ReadDir(paths[i])
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if e.IsDir {
					want = append(want, ent{e.Offset, i + 1})
					paths = append(paths, e.Path)
				}
			}
		}
		locs := []struct {
			at  int
			big bool
		}{{140, false}, {144, false}, {148, true}, {152, true}}
		for _, l := range locs {
			var order binary.ByteOrder = binary.LittleEndian
			if l.big {
				order = binary.BigEndian
			}
			lba := int64(order.Uint32(d[l.at:]))
			if lba == 0 && (l.at == 144 || l.at == 152) {
				continue
			}
			tab := img[tr.Base+lba*2048:][:size]
			var got []ent
			for pos := 0; pos < len(tab); {
				n := int(tab[pos])
				if n == 0 {
					t.Fatalf("%s tree at %d: path table at %d: zero identifier length at %d", tr.Kind, tr.Descriptor, lba, pos)
				}
				got = append(got, ent{tr.Base + int64(order.Uint32(tab[pos+2:]))*2048, int(order.Uint16(tab[pos+6:]))})
				pos += 8 + n + n%2
			}
			if len(got) != len(want) {
				t.Errorf("%s tree at %d: path table at %d (+%d) has %d entries, the tree %d directories", tr.Kind, tr.Descriptor, lba, l.at, len(got), len(want))
				continue
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("%s tree at %d: path table at %d (+%d) entry %d is %+v, want %+v (%s)", tr.Kind, tr.Descriptor, lba, l.at, i+1, got[i], want[i], paths[i])
				}
			}
		}
	}
}

// TestMkdirTools adds /nocloud/user-data and /a/b/c/file to images made by
// xorriso and genisoimage, creating the directories, and checks the result
// with isoinfo, xorriso and osirrox and the package's reader.
func TestMkdirTools(t *testing.T) {
	for _, tool := range []string{"xorriso", "genisoimage", "isoinfo"} {
		fixture.NeedTool(t, tool)
	}
	boot := []string{"-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table"}
	builds := []isoBuild{
		{name: "xorriso-rj", tool: "xorriso", args: []string{"-r", "-J"}, kinds: 2},
		{name: "xorriso-level1", tool: "xorriso", args: []string{"-iso-level", "1"}, kinds: 1}, // Rock Ridge by default
		{name: "xorriso-level1-rj", tool: "xorriso", args: []string{"-iso-level", "1", "-r", "-J"}, kinds: 2},
		{name: "xorriso-level3", tool: "xorriso", args: []string{"-iso-level", "3", "-r", "-J"}, kinds: 2},
		{name: "xorriso-1999", tool: "xorriso", args: []string{"-r", "-J", "-iso-level", "4"}, kinds: 3},
		{name: "xorriso-rrip112", tool: "xorriso-rrip112", args: []string{"-r", "-J"}, kinds: 2},
		{name: "xorriso-po16", tool: "xorriso", args: []string{"-r", "-J", "-partition_offset", "16"}, twin: 16 * 2048, kinds: 4},
		{name: "xorriso-isolinux", tool: "xorriso", args: append([]string{"-r", "-J", "-isohybrid-mbr", "/usr/lib/ISOLINUX/isohdpfx.bin", "-partition_offset", "16"}, boot...), twin: 16 * 2048, kinds: 4, boot: true},
		{name: "genisoimage-rj", tool: "genisoimage", args: []string{"-quiet", "-r", "-J"}, kinds: 2},
		{name: "genisoimage-1999", tool: "genisoimage", args: []string{"-quiet", "-r", "-iso-level", "4"}, kinds: 2},
		{name: "genisoimage-plain", tool: "genisoimage", args: []string{"-quiet"}, kinds: 1, norr: true},
	}
	files := [][2]string{
		{"/nocloud/user-data", "#cloud-config\nautoinstall:\n  version: 1\n"},
		{"/nocloud/meta-data", ""},
		{"/a/b/c/file", strings.Repeat("deep", 1000)},
		{"/flatcar/new/x.txt", "in an existing directory"},
	}
	// Without Rock Ridge the names must be ISO 9660 ones to be found again.
	plain := [][2]string{
		{"/nocloud/userdata", files[0][1]},
		{"/nocloud/metadata", ""},
		files[2], files[3],
		{"/longdirectoryname/x.txt|/LONGDIRE/x.txt", "8.3: LONGDIRE"},
	}
	for _, b := range builds {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			files := files
			if b.norr {
				files = plain
			}
			if _, err := os.Stat("/usr/lib/ISOLINUX/isolinux.bin"); err != nil && b.boot {
				fixture.Skipf(t, "isolinux is not installed")
			}
			src := t.TempDir()
			want := writeSrc(t, src, "", 0)
			base := b.make(t, src)
			if b.boot {
				// The builder wrote a boot-info table into isolinux.bin.
				tr, err := openBytes(t, base).Trees()
				if err != nil {
					t.Fatal(err)
				}
				if want["isolinux/isolinux.bin"], err = fs.ReadFile(tr[0].FS(), "isolinux/isolinux.bin"); err != nil {
					t.Fatal(err)
				}
			}
			var twins []int64
			if b.twin > 0 {
				twins = []int64{b.twin}
			}
			out, err := mkdirEdits(base, twins, files)
			if err != nil {
				t.Fatal(err)
			}
			again, err := mkdirEdits(base, twins, files)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, again) {
				t.Error("two runs of the same edits differ")
			}
			if !bytes.Equal(out[:len(base)][:16*2048], base[:16*2048]) {
				t.Error("system area changed")
			}
			for _, f := range files {
				want[strings.TrimPrefix(treePath(f[0]), "/")] = []byte(f[1])
			}
			trees := checkTrees(t, out, twins, want, b.kinds)
			checkPathTableOrder(t, out, trees)
			for _, tr := range trees {
				if tr.Kind == iso.PrimaryTree && tr.RockRidge {
					checkSerials(t, out, tr)
				}
				if tr.Kind != iso.PrimaryTree || tr.RockRidge {
					for _, d := range []string{"nocloud", "a/b/c", "flatcar/new"} {
						if e, err := tr.Lookup(d); err != nil || !e.IsDir || !strings.HasSuffix(d, e.Name) {
							t.Errorf("%s tree at %d: %s: %+v, %v", tr.Kind, tr.Descriptor, d, e, err)
						}
					}
				}
			}
			path := filepath.Join(t.TempDir(), "out.iso")
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			isoinfo := fixture.NeedTool(t, "isoinfo")
			views := [][]string{{}}
			if !b.norr {
				views = append(views, []string{"-R"})
			}
			if b.kinds%2 == 0 && !strings.Contains(b.name, "genisoimage-1999") {
				views = append(views, []string{"-J"})
			}
			for _, v := range views {
				l := run(t, isoinfo, append([]string{"-i", path, "-l"}, v...)...)
				for _, d := range []string{"/nocloud/", "/a/b/c/", "/flatcar/new/"} {
					ll := l
					if len(v) == 0 {
						// Upper case, but kept like the siblings where the
						// builder kept their case.
						d, ll = strings.ToUpper(d), strings.ToUpper(l)
					}
					if !strings.Contains(ll, "Directory listing of "+d+"\n") && !strings.Contains(ll, "DIRECTORY LISTING OF "+d+"\n") {
						t.Errorf("isoinfo -l %v lacks %s:\n%s", v, d, l)
					}
				}
				if len(v) == 1 && v[0] == "-R" {
					// The new directory has the mode of the others.
					mode := func(name string) string {
						for _, line := range strings.Split(l, "\n") {
							if strings.HasSuffix(line, "]  "+name+" ") {
								return line[:10]
							}
						}
						return "missing " + name
					}
					if a, b := mode("nocloud"), mode("flatcar"); a != b || a[0] != 'd' {
						t.Errorf("isoinfo -R -l: nocloud has mode %q, flatcar %q", a, b)
					}
				}
				if len(v) == 0 {
					continue
				}
				for _, f := range files {
					if got := run(t, isoinfo, append([]string{"-i", path, "-x", f[0]}, v...)...); got != f[1] {
						t.Errorf("isoinfo -x %s %v: %d bytes, want %d", f[0], v, len(got), len(f[1]))
					}
				}
			}
			if b.norr {
				for _, f := range files {
					if got := run(t, isoinfo, "-i", path, "-x", isoPath(treePath(f[0]))); got != f[1] {
						t.Errorf("isoinfo -x %s: %d bytes, want %d", isoPath(treePath(f[0])), len(got), len(f[1]))
					}
				}
			}
			pt := run(t, isoinfo, "-i", path, "-p")
			names := []string{"NOCLOUD", "A", "B", "C", "NEW"}
			if b.norr {
				names = append(names, "LONGDIRE")
			}
			for _, n := range names {
				if !strings.Contains(strings.ToUpper(pt), " "+n+"\n") {
					t.Errorf("isoinfo -p lacks %s:\n%s", n, pt)
				}
			}
			checkXorriso(t, path, want, b.boot, base, !b.norr)
		})
	}
}

// TestMkdirAllErrors: existing directories are kept, files and deep paths
// refused, AddFile still needs an existing parent.
func TestMkdirAllErrors(t *testing.T) {
	fixture.NeedTool(t, "xorriso")
	src := t.TempDir()
	writeSrc(t, src, "", 0)
	base := isoBuild{name: "e", tool: "xorriso", args: []string{"-r", "-J"}}.make(t, src)
	im := openBytes(t, base)
	trees, err := im.Trees()
	if err != nil {
		t.Fatal(err)
	}
	end := (int64(len(base)) + 2047) / 2048 * 2048
	ed := iso.NewEditor(im, trees, overlay.New(bytes.NewReader(base), end), end)
	if err := ed.MkdirAll("/flatcar"); err != nil || ed.End() != end {
		t.Errorf("MkdirAll of an existing directory: %v, end %d (want %d)", err, ed.End(), end)
	}
	if err := ed.MkdirAll("/readme.txt/x"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("MkdirAll through a file: %v", err)
	}
	if err := ed.MkdirAll("/1/2/3/4/5/6/7/8"); err == nil {
		t.Error("MkdirAll of 9 levels succeeded")
	}
	if err := ed.AddFile("/nodir/x", strings.NewReader("x"), 1); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("AddFile into a missing directory: %v", err)
	}
}
