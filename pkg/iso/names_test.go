package iso_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/iso"
)

// isoinfoLine is one file line of isoinfo -l: mode, links, uid, gid and
// the name.
var isoinfoLine = regexp.MustCompile(`^([-dlrwxsStT]{10})\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+\s.*\]\s+(.*?)\s*$`)

// isoinfoListing returns, by directory and name, the mode, links, uid and
// gid columns of an isoinfo -l listing.
func isoinfoListing(t *testing.T, path string, view ...string) map[string]string {
	t.Helper()
	out := run(t, fixture.NeedTool(t, "isoinfo"), append([]string{"-i", path, "-l"}, view...)...)
	got := map[string]string{}
	dir := ""
	for _, l := range strings.Split(out, "\n") {
		if d, ok := strings.CutPrefix(l, "Directory listing of "); ok {
			dir = strings.TrimSpace(d)
			continue
		}
		if m := isoinfoLine.FindStringSubmatch(l); m != nil && m[5] != "." && m[5] != ".." {
			got[dir+m[5]] = strings.Join(m[1:5], " ")
		}
	}
	if len(got) == 0 {
		t.Fatalf("isoinfo -l %v lists nothing:\n%s", view, out)
	}
	return got
}

// TestEditSharedExtents edits a genisoimage -iso-level 4 image, whose
// primary and ISO 9660:1999 descriptors share one hierarchy: each new
// record is written once, with the primary tree's Rock Ridge entries, and
// moving a shared directory repoints both descriptors and path tables.
func TestEditSharedExtents(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/usr/lib/ISOLINUX/isolinux.bin"); err != nil {
		fixture.Skipf(t, "isolinux is not installed")
	}
	src := t.TempDir()
	want := map[string][]byte{
		"flatcar/vmlinuz":       []byte("kernel\n"),
		"flatcar/cpio.gz":       []byte("initrd\n"),
		"syslinux/syslinux.cfg": []byte("default flatcar\n"),
	}
	isolinux, err := os.ReadFile("/usr/lib/ISOLINUX/isolinux.bin")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"isolinux/isolinux.bin": isolinux}
	for p, d := range want {
		files[p] = d
	}
	for p, d := range files {
		fp := filepath.Join(src, p)
		if err := os.MkdirAll(filepath.Dir(fp), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fp, d, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b := isoBuild{name: "genisoimage-l4", tool: "genisoimage", args: []string{"-quiet", "-iso-level", "4", "-r", "-J", "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table"}}
	base := b.make(t, src)
	trees, err := openBytes(t, base).Trees()
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[iso.TreeKind]*iso.Tree{}
	for _, tr := range trees {
		byKind[tr.Kind] = tr
	}
	pr, l4 := byKind[iso.PrimaryTree], byKind[iso.ISO1999Tree]
	if len(trees) != 3 || pr == nil || l4 == nil || !pr.RockRidge {
		t.Fatalf("genisoimage -iso-level 4 wrote trees %v, want primary with Rock Ridge, Joliet and ISO 9660:1999", trees)
	}
	for _, p := range []string{"", "flatcar"} {
		a, err1 := pr.Lookup(p)
		c, err2 := l4.Lookup(p)
		if err1 != nil || err2 != nil || a.Offset != c.Offset {
			t.Fatalf("%q: primary at %d (%v), ISO 9660:1999 at %d (%v): not shared, the test needs shared extents", p, a.Offset, err1, c.Offset, err2)
		}
	}
	if want["isolinux/isolinux.bin"], err = readTree(pr, "isolinux/isolinux.bin"); err != nil {
		t.Fatal(err) // with the boot-info table genisoimage wrote
	}

	for _, tc := range []struct {
		name  string
		edits []edit
		moved bool // /flatcar must have moved
	}{
		{name: "in-place", edits: []edit{{path: "/flatcar/isobuild.img", data: bytes.Repeat([]byte("img"), 3000)}, {path: "/syslinux/syslinux.cfg", data: []byte("new config\n"), replace: true}}},
		{name: "moved", moved: true, edits: func() []edit {
			es := []edit{{path: "/flatcar/isobuild.img", data: []byte("image")}, {path: "/flatcar/cpio.gz", data: []byte("replaced"), replace: true}}
			for i := range 60 {
				es = append(es, edit{path: fmt.Sprintf("/flatcar/extra-file-%02d.img", i), data: []byte(fmt.Sprintf("extra %d", i))})
			}
			return es
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := maps(want)
			for _, e := range tc.edits {
				w[strings.TrimPrefix(e.path, "/")] = e.data
			}
			out := applyEdits(t, base, nil, tc.edits, 0)
			otrees := checkTrees(t, out, nil, w, 3)
			var flat []int64
			for _, tr := range otrees {
				if tr.Kind == iso.JolietTree {
					continue
				}
				d, err := tr.Lookup("flatcar")
				if err != nil {
					t.Fatal(err)
				}
				flat = append(flat, d.Offset)
			}
			if flat[0] != flat[1] {
				t.Errorf("/flatcar is at %d in the primary tree, %d in the ISO 9660:1999 tree: no longer shared", flat[0], flat[1])
			}
			if moved := flat[0] >= int64(len(base)); moved != tc.moved {
				t.Errorf("/flatcar at %d: moved %v, want %v", flat[0], moved, tc.moved)
			}
			path := filepath.Join(t.TempDir(), "out.iso")
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			// Rock Ridge view: the new files have their siblings' mode,
			// links and owner.
			rr := isoinfoListing(t, path, "-R")
			sib := rr["/flatcar/vmlinuz"]
			if sib == "" || strings.HasPrefix(sib, "----------") {
				t.Fatalf("isoinfo -R -l: sibling vmlinuz has %q, want a Rock Ridge mode", sib)
			}
			for p := range w {
				if strings.HasPrefix(p, "flatcar/") && rr["/"+p] != sib {
					t.Errorf("isoinfo -R -l: /%s has %q, sibling vmlinuz %q", p, rr["/"+p], sib)
				}
			}
			for p, data := range w {
				if got := run(t, fixture.NeedTool(t, "isoinfo"), "-i", path, "-R", "-x", "/"+p); got != string(data) {
					t.Errorf("isoinfo -R -x /%s: %d bytes, want %d", p, len(got), len(data))
				}
			}
			// Plain view: the shared records carry the ISO 9660:1999 names.
			plain := isoinfoListing(t, path)
			if _, ok := plain["/flatcar/isobuild.img"]; !ok {
				t.Errorf("isoinfo -l does not list /flatcar/isobuild.img")
			}
			checkIsoinfo(t, path, otrees, nil, nil, true, true) // path tables
			for _, tr := range otrees {
				checkPathTables(t, out, tr)
			}
			checkXorriso(t, path, w, true, base, true)
		})
	}
}

func readTree(tr *iso.Tree, p string) ([]byte, error) {
	e, err := tr.Lookup(p)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, e.Length)
	_, err = tr.Section(e).ReadAt(buf, 0)
	return buf, err
}

// eightDotThree matches an ISO level 1 file name as isoinfo -l prints it.
// "~" (not a d-character) makes new names unique, as on FAT.
var eightDotThree = regexp.MustCompile(`^[A-Z0-9_~]{1,8}\.[A-Z0-9_]{0,3};1$`)

// TestEditLevelNames adds long names to level 1 images (genisoimage and
// xorriso) and to a level 2 image: on level 1 the primary names are 8.3,
// made unique with "~1"; on level 2 they keep up to 30 characters. The
// Rock Ridge and Joliet names are the full names.
func TestEditLevelNames(t *testing.T) {
	t.Parallel()
	long := "added_file_number_000.txt"
	long2 := "added_file_number_001.txt"
	noExt := "a_long_name_without_extension"
	huge := "a-very-long-file-name-of-more-than-thirty-characters.conf"
	for _, tc := range []struct {
		b     isoBuild
		level int
		extra string            // a source file whose name shows the level
		names map[string]string // new file: its plain isoinfo name
	}{
		{b: isoBuild{name: "genisoimage-rj", tool: "genisoimage", args: []string{"-quiet", "-r", "-J"}}, level: 1,
			names: map[string]string{long: "ADDED_FI.TXT;1", long2: "ADDED_~1.TXT;1", noExt: "A_LONG_N.;1", huge: "A_VERY_L.CON;1"}},
		{b: isoBuild{name: "genisoimage-plain", tool: "genisoimage", args: []string{"-quiet"}}, level: 1,
			names: map[string]string{long: "ADDED_FI.TXT;1", long2: "ADDED_~1.TXT;1", noExt: "A_LONG_N.;1", huge: "A_VERY_L.CON;1"}},
		{b: isoBuild{name: "xorriso-rj", tool: "xorriso", args: []string{"-r", "-J"}}, level: 1,
			names: map[string]string{long: "ADDED_FI.TXT;1", long2: "ADDED_~1.TXT;1", noExt: "A_LONG_N.;1", huge: "A_VERY_L.CON;1"}},
		{b: isoBuild{name: "genisoimage-l2", tool: "genisoimage", args: []string{"-quiet", "-iso-level", "2", "-r", "-J"}}, level: 2, extra: "syslinux/longer_than_level_one.cfg",
			names: map[string]string{long: "ADDED_FILE_NUMBER_000.TXT;1", long2: "ADDED_FILE_NUMBER_001.TXT;1", noExt: "A_LONG_NAME_WITHOUT_EXTENSION.;1", huge: "A_VERY_LONG_FILE_NAME_OF_M.CONF;1"}},
	} {
		t.Run(tc.b.name, func(t *testing.T) {
			t.Parallel()
			src := t.TempDir()
			want := writeSrc(t, src, "", 0)
			if tc.extra != "" {
				if err := os.WriteFile(filepath.Join(src, tc.extra), []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			base := tc.b.make(t, src)
			var edits []edit
			for _, n := range []string{long, long2, noExt, huge} {
				p := "flatcar/" + n
				want[p] = []byte("new " + n)
				edits = append(edits, edit{path: "/" + p, data: want[p]})
			}
			out := applyEdits(t, base, nil, edits, 0)
			path := filepath.Join(t.TempDir(), "out.iso")
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			plain := isoinfoListing(t, path)
			for n, isoName := range tc.names {
				if _, ok := plain["/FLATCAR/"+isoName]; !ok {
					t.Errorf("isoinfo -l: no /FLATCAR/%s for %s in %v", isoName, n, plain)
				}
			}
			for p := range plain {
				name := p[strings.LastIndexByte(p, '/')+1:]
				if tc.level == 1 && strings.HasSuffix(name, ";1") && !eightDotThree.MatchString(name) {
					t.Errorf("isoinfo -l: %s is not an 8.3 name on a level 1 image", p)
				}
				if s := strings.TrimSuffix(strings.TrimSuffix(name, ";1"), "."); len(s) > 31 {
					t.Errorf("isoinfo -l: %s is longer than 31 characters", p)
				}
			}
			for _, n := range []string{long, long2, noExt, huge} {
				if tc.b.args[len(tc.b.args)-1] == "-quiet" {
					break // no Rock Ridge or Joliet
				}
				for _, v := range []string{"-R", "-J"} {
					if got := run(t, fixture.NeedTool(t, "isoinfo"), "-i", path, v, "-x", "/flatcar/"+n); got != "new "+n {
						t.Errorf("isoinfo %s -x /flatcar/%s: %q", v, n, got)
					}
				}
			}
			for _, tr := range checkTreesKinds(t, out) {
				for _, n := range []string{long, long2, noExt, huge} {
					p := "flatcar/" + n
					if tr.Kind == iso.PrimaryTree && !tr.RockRidge {
						p = "FLATCAR/" + strings.TrimSuffix(strings.TrimSuffix(tc.names[n], ";1"), ".")
					}
					if got, err := readTree(tr, p); err != nil || string(got) != "new "+n {
						t.Errorf("%s tree: %s: %q, %v", tr.Kind, p, got, err)
					}
				}
			}
		})
	}
}

// checkTreesKinds re-opens out and returns its trees.
func checkTreesKinds(t *testing.T, out []byte) []*iso.Tree {
	t.Helper()
	trees, err := openBytes(t, out).Trees()
	if err != nil {
		t.Fatal(err)
	}
	return trees
}

// checkPathTables compares the L and M path tables of the tree's
// descriptor (isoinfo reads none of the ISO 9660:1999 tree) with the
// directories the tree holds.
func checkPathTables(t *testing.T, img []byte, tr *iso.Tree) {
	t.Helper()
	d := tr.Descriptor
	size := le32(img, d+132)
	dirs := map[int64]bool{}
	root, err := tr.Lookup("")
	if err != nil {
		t.Fatal(err)
	}
	dirs[root.Offset/2048] = true
	tr.Walk(func(e iso.Entry) error {
		if e.IsDir {
			dirs[e.Offset/2048] = true
		}
		return nil
	})
	for _, at := range []int64{140, 148} {
		var loc int64
		if at == 140 {
			loc = le32(img, d+at)
		} else {
			loc = be32(img, d+at)
		}
		tab := img[loc*2048:][:size]
		got := map[int64]bool{}
		for pos := 0; pos+8 <= len(tab) && tab[pos] != 0; pos += 8 + int(tab[pos]) + int(tab[pos])%2 {
			if at == 140 {
				got[le32(tab, int64(pos+2))] = true
			} else {
				got[be32(tab, int64(pos+2))] = true
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(dirs) {
			t.Errorf("%s tree: path table at LBA %d lists directories at %v, want %v", tr.Kind, loc, got, dirs)
		}
	}
}
