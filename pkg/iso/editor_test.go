package iso_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/internal/isowrite"
	"github.com/isobuild/isobuild/pkg/iso"
	"github.com/isobuild/isobuild/pkg/overlay"
)

// edit is one editor call: a replacement (replace true) or a new file.
type edit struct {
	path    string
	data    []byte
	replace bool
}

// applyEdits edits the image data through an overlay.Image and returns the
// output bytes. twins are the twin descriptor set bases.
func applyEdits(t testing.TB, data []byte, twins []int64, edits []edit, extraTail int64) []byte {
	t.Helper()
	out, err := tryEdits(data, twins, edits, extraTail)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tryEdits(data []byte, twins []int64, edits []edit, extraTail int64) ([]byte, error) {
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
	for _, e := range edits {
		var err error
		if e.replace {
			err = ed.ReplaceFile(e.path, bytes.NewReader(e.data), int64(len(e.data)))
		} else {
			err = ed.AddFile(e.path, bytes.NewReader(e.data), int64(len(e.data)))
		}
		if err != nil {
			return nil, err
		}
	}
	total := ed.End() + extraTail
	if err := ed.Finish(total); err != nil {
		return nil, err
	}
	if extraTail > 0 {
		if _, err := ov.Append(bytes.NewReader(make([]byte, extraTail)), extraTail); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	if _, err := ov.WriteTo(&buf); err != nil {
		return nil, err
	}
	if int64(buf.Len()) != total {
		return nil, fmt.Errorf("output has %d bytes, want %d", buf.Len(), total)
	}
	return buf.Bytes(), nil
}

// checkTrees re-opens out and checks that every tree resolves every
// path of want to its contents.
func checkTrees(t *testing.T, out []byte, twins []int64, want map[string][]byte, kinds int) []*iso.Tree {
	t.Helper()
	im, err := iso.Open(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatalf("re-open output: %v", err)
	}
	trees, err := im.Trees(twins...)
	if err != nil {
		t.Fatalf("Trees of output: %v", err)
	}
	if len(trees) != kinds {
		t.Errorf("output has %d trees, want %d", len(trees), kinds)
	}
	for _, tr := range trees {
		root, err := tr.Lookup("")
		if err != nil {
			t.Fatal(err)
		}
		checkDots(t, out, tr, root, root)
		dirs := map[string]iso.Entry{"": root}
		if err := tr.Walk(func(e iso.Entry) error {
			if e.IsDir {
				dirs[e.Path] = e
				parent := dirs[e.Path[:max(0, strings.LastIndexByte(e.Path, '/'))]]
				checkDots(t, out, tr, e, parent)
			}
			return nil
		}); err != nil {
			t.Errorf("%s tree at %d: Walk: %v", tr.Kind, tr.Descriptor, err)
		}
		var expect []string
		for p := range want {
			if sampled(p) {
				continue
			}
			if tr.Kind == iso.PrimaryTree && !tr.RockRidge {
				p = strings.ToUpper(p) // the names fstest compares are the tree's own
			}
			expect = append(expect, p)
		}
		// fstest over the filled directories takes seconds; the other
		// builds cover it.
		if len(want) <= 30 {
			if err := fstest.TestFS(tr.FS(), expect...); err != nil {
				t.Errorf("%s tree at %d: %v", tr.Kind, tr.Descriptor, err)
			}
		}
		for p, data := range want {
			got, err := fs.ReadFile(tr.FS(), strings.TrimPrefix(p, "/"))
			if err != nil {
				t.Errorf("%s tree at %d: %s: %v", tr.Kind, tr.Descriptor, p, err)
				continue
			}
			if !bytes.Equal(got, data) {
				t.Errorf("%s tree at %d: %s has %d bytes %.20q, want %d bytes %.20q", tr.Kind, tr.Descriptor, p, len(got), got, len(data), data)
			}
		}
	}
	return trees
}

// checkDots checks that the "." and ".." records of dir point at dir and
// at parent.
func checkDots(t *testing.T, img []byte, tr *iso.Tree, dir, parent iso.Entry) {
	t.Helper()
	rec := func(off int64, what string, want iso.Entry) {
		lba := le32(img, off+2)*2048 + tr.Base
		if what == ".." && lba == dir.Offset && tr.Kind != iso.PrimaryTree {
			want = dir // libisofs writes Joliet and ISO 9660:1999 ".." as the directory itself
		}
		if lba != want.Offset || le32(img, off+10) != want.Length || be32(img, off+6)*2048+tr.Base != lba || be32(img, off+14) != want.Length {
			t.Errorf("%s tree at %d: %q %s points at %d+%d, want %d+%d", tr.Kind, tr.Descriptor, dir.Path, what, lba, le32(img, off+10), want.Offset, want.Length)
		}
	}
	rec(dir.Offset, ".", dir)
	rec(dir.Offset+int64(img[dir.Offset]), "..", parent)
}

// TestEditIsowrite edits an image written by internal/isowrite (primary
// tree with Rock Ridge NM) without external tools.
func TestEditIsowrite(t *testing.T) {
	var files []isowrite.File
	want := map[string][]byte{}
	for i := range 60 { // the root directory fills more than one sector
		p := fmt.Sprintf("d/f%03d.txt", i)
		data := fmt.Sprintf("file %d\n", i)
		files = append(files, fuzzFile(p, data))
		want[p] = []byte(data)
	}
	files = append(files, fuzzFile("boot.cfg", "old config\n"))
	var img bytes.Buffer
	if err := isowrite.Write(&img, files, isowrite.WriteOptions{VolumeID: "EDIT"}); err != nil {
		t.Fatal(err)
	}
	cfg := bytes.Repeat([]byte("new config line\n"), 300)
	want["boot.cfg"] = cfg
	edits := []edit{{path: "/boot.cfg", data: cfg, replace: true}}
	for i := range 40 {
		p := fmt.Sprintf("/d/n%03d.img", i)
		data := bytes.Repeat([]byte{byte(i)}, 100*i+1)
		edits = append(edits, edit{path: p, data: data})
		want[strings.TrimPrefix(p, "/")] = data
	}
	edits = append(edits, edit{path: "/extra.img", data: []byte("root file")})
	want["extra.img"] = []byte("root file")
	out := applyEdits(t, img.Bytes(), nil, edits, 0)
	trees := checkTrees(t, out, nil, want, 1)
	d, err := trees[0].Lookup("D")
	if err != nil {
		t.Fatal(err)
	}
	if d.Offset < int64(img.Len()) {
		t.Errorf("directory d at %d was not moved past the old end %d", d.Offset, img.Len())
	}
	// The old reader's ISO names see the new files too.
	im := openBytes(t, out)
	if _, err := im.Lookup("D/N039.IMG"); err != nil {
		t.Errorf("primary ISO name of the new file: %v", err)
	}
	// Errors: existing name, missing parent, directory replacement.
	for _, tc := range []struct {
		e    edit
		want error
	}{
		{edit{path: "/d/f001.txt", data: []byte("x")}, fs.ErrExist},
		{edit{path: "/nodir/x", data: []byte("x")}, fs.ErrNotExist},
		{edit{path: "/missing.cfg", data: []byte("x"), replace: true}, fs.ErrNotExist},
	} {
		if _, err := tryEdits(img.Bytes(), nil, []edit{tc.e}, 0); !errors.Is(err, tc.want) {
			t.Errorf("%+v: error %v, want %v", tc.e.path, err, tc.want)
		}
	}
	if _, err := tryEdits(img.Bytes(), nil, []edit{{path: "/d", data: []byte("x"), replace: true}}, 0); err == nil {
		t.Errorf("replacing a directory succeeded")
	}
}

// isoBuild describes how a test image is made.
type isoBuild struct {
	name  string
	tool  string
	args  []string // before -o
	twin  int64    // twin set base, 0 for none
	kinds int      // trees in total
	norr  bool     // no Rock Ridge
	boot  bool     // El Torito
	full  string   // a directory filled with many files ("" for none)
}

func writeSrc(t *testing.T, dir string, full string, n int) map[string][]byte {
	t.Helper()
	want := map[string][]byte{
		"syslinux/syslinux.cfg": []byte("default flatcar\nlabel flatcar\n  kernel /flatcar/vmlinuz\n"),
		"flatcar/vmlinuz":       bytes.Repeat([]byte("kernel"), 2000),
		"readme.txt":            []byte("hello\n"),
	}
	isolinux, err := os.ReadFile("/usr/lib/ISOLINUX/isolinux.bin")
	if err == nil {
		want["isolinux/isolinux.bin"] = isolinux
	}
	if full != "" {
		for i := range n {
			want[filepath.Join(full, fmt.Sprintf("f%04d.txt", i))] = []byte(strconv.Itoa(i))
		}
	}
	for p, data := range want {
		fp := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(fp), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fp, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return want
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out) + stderr.String()
}

func (b isoBuild) make(t *testing.T, src string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), b.name+".iso")
	args := append(slices.Clone(b.args), "-o", out, src)
	tool := b.tool
	switch tool {
	case "xorriso":
		args = append([]string{"-as", "mkisofs"}, args...)
	case "xorriso-rrip112":
		tool = "xorriso" // RRIP 1.12: 44-byte PX entries with serial numbers
		args = append([]string{"-compliance", "new_rr", "-as", "mkisofs"}, args...)
	}
	run(t, fixture.NeedTool(t, tool), args...)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestEditTools builds images with xorriso and genisoimage, edits them and
// checks the result with isoinfo, osirrox and xorriso as well as with the
// package's own reader.
func TestEditTools(t *testing.T) {
	for _, tool := range []string{"xorriso", "genisoimage", "isoinfo"} {
		fixture.NeedTool(t, tool)
	}
	boot := []string{"-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table"}
	builds := []isoBuild{
		{name: "xorriso-rj", tool: "xorriso", args: []string{"-r", "-J"}, kinds: 2},
		{name: "xorriso-po16", tool: "xorriso", args: []string{"-r", "-J", "-partition_offset", "16"}, twin: 16 * 2048, kinds: 4},
		{name: "xorriso-1999", tool: "xorriso", args: []string{"-r", "-J", "-iso-level", "4"}, kinds: 3},
		{name: "xorriso-isolinux", tool: "xorriso", args: append([]string{"-r", "-J", "-isohybrid-mbr", "/usr/lib/ISOLINUX/isohdpfx.bin", "-partition_offset", "16"}, boot...), twin: 16 * 2048, kinds: 4, boot: true},
		{name: "xorriso-fullroot", tool: "xorriso", args: []string{"-r", "-J", "-partition_offset", "16"}, twin: 16 * 2048, kinds: 4, full: "."},
		{name: "xorriso-rrip112-1999", tool: "xorriso-rrip112", args: []string{"-r", "-J", "-iso-level", "4"}, kinds: 3, full: "many"},
		{name: "genisoimage-rj", tool: "genisoimage", args: append([]string{"-quiet", "-r", "-J"}, boot...), kinds: 2, boot: true},
		{name: "genisoimage-full", tool: "genisoimage", args: []string{"-quiet", "-r", "-J"}, kinds: 2, full: "many"},
		{name: "genisoimage-plain", tool: "genisoimage", args: []string{"-quiet"}, kinds: 1, norr: true},
	}
	for _, b := range builds {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			if _, err := os.Stat("/usr/lib/ISOLINUX/isolinux.bin"); err != nil && b.boot {
				fixture.Skipf(t, "isolinux is not installed")
			}
			src := t.TempDir()
			want := writeSrc(t, src, b.full, 0)
			if b.full != "" {
				want = b.fill(t, src)
			}
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
			testEdit(t, b, base, want)
		})
	}
}

// fill rebuilds the source with as many files in b.full as make the last
// sector of that directory (in the primary tree) exactly full.
func (b isoBuild) fill(t *testing.T, src string) map[string][]byte {
	t.Helper()
	const first = 50
	writeSrc(t, src, b.full, first)
	img := b.make(t, src)
	im := openBytes(t, img)
	trees, err := im.Trees()
	if err != nil {
		t.Fatal(err)
	}
	dir := strings.TrimPrefix(b.full, ".")
	ents, err := trees[0].ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := trees[0].Lookup(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Record size of an fNNNN.txt file and end of the last record.
	var recSize, last int64
	for _, e := range ents {
		rl := int64(img[e.Records[0]])
		if strings.HasPrefix(e.Name, "f0") {
			recSize = rl
		}
		last = max(last, e.Records[0]+rl)
	}
	free := d.Offset + d.Length - last
	n := first + int(free/recSize)
	if n <= first && free >= recSize {
		t.Fatalf("cannot fill")
	}
	// Files sort after the others at the root, so they take the free space.
	return writeSrc(t, src, b.full, n)
}

func testEdit(t *testing.T, b isoBuild, base []byte, want map[string][]byte) {
	var twins []int64
	if b.twin > 0 {
		twins = []int64{b.twin}
	}
	cfg := bytes.Repeat([]byte("default isobuild\n"), 200) // grows to two sectors
	img := bytes.Repeat([]byte("initrd"), 5000)
	edits := []edit{
		{path: "/syslinux/syslinux.cfg", data: cfg, replace: true},
		{path: "/flatcar/isobuild.img", data: img},
	}
	newNames := []string{"isobuild.img"}
	want["syslinux/syslinux.cfg"] = cfg
	want["flatcar/isobuild.img"] = img
	if b.full != "" {
		dir := strings.TrimPrefix(b.full, ".")
		for i, name := range []string{"zz1.img", "zz2.img"} {
			p := joinP(dir, name)
			data := []byte(fmt.Sprintf("extra %d", i))
			edits = append(edits, edit{path: "/" + p, data: data})
			want[p] = data
			newNames = append(newNames, name)
		}
		// Enough more that every tree's copy of the directory must move
		// (50 records of at least 46 bytes exceed a sector), some twice.
		for i := range 50 {
			p := joinP(dir, fmt.Sprintf("f0z%02d.img", i))
			data := []byte(fmt.Sprintf("more %d", i))
			edits = append(edits, edit{path: "/" + p, data: data})
			want[p] = data
		}
	}
	extraTail := int64(0)
	if b.twin > 0 {
		extraTail = 64 << 10 // like an appended partition or backup GPT after the volume
	}
	out := applyEdits(t, base, twins, edits, extraTail)
	if len(out)%2048 != 0 {
		t.Errorf("output size %d is not a multiple of 2048", len(out))
	}
	trees := checkTrees(t, out, twins, want, b.kinds)
	if n := checkSerials(t, out, trees[0]); b.tool == "xorriso-rrip112" && n < len(want) {
		t.Errorf("only %d entries have 44-byte PX entries, want at least %d", n, len(want))
	}
	if b.full != "" {
		dir := strings.TrimPrefix(b.full, ".")
		for _, tr := range trees {
			d, err := tr.Lookup(dir)
			if err != nil {
				t.Fatal(err)
			}
			if d.Offset < int64(len(base)) {
				t.Errorf("%s tree at %d: full directory %q at %d was not moved past the old end %d", tr.Kind, tr.Descriptor, b.full, d.Offset, len(base))
			}
		}
	}
	// The new records follow their siblings' version convention.
	for _, tr := range trees {
		ids := map[string]bool{}
		for _, p := range []string{"flatcar/vmlinuz", "flatcar/isobuild.img"} {
			e, err := tr.Lookup(p)
			if err != nil {
				t.Fatal(err)
			}
			r := out[e.Records[0]:]
			ids[p] = bytes.HasSuffix(r[33:33+int(r[32])], map[bool][]byte{true: {0, ';', 0, '1'}, false: []byte(";1")}[tr.Kind == iso.JolietTree])
		}
		if ids["flatcar/vmlinuz"] != ids["flatcar/isobuild.img"] {
			t.Errorf("%s tree at %d: sibling has a version %v, new file %v", tr.Kind, tr.Descriptor, ids["flatcar/vmlinuz"], ids["flatcar/isobuild.img"])
		}
	}
	if b.boot {
		for _, p := range []string{"/isolinux/isolinux.bin", "/isolinux/boot.cat"} {
			if _, err := tryEdits(base, twins, []edit{{path: p, data: []byte("x"), replace: true}}, 0); err == nil || !strings.Contains(err.Error(), "El Torito") {
				t.Errorf("replacing %s: %v, want a refusal", p, err)
			}
		}
	}
	// Volume sizes: the descriptors keep their conventions.
	oldIm, newIm := openBytes(t, base), openBytes(t, out)
	oldTrees, _ := oldIm.Trees(twins...)
	newTrees, _ := newIm.Trees(twins...)
	for i, tr := range newTrees {
		oldSize := le32(base, oldTrees[i].Descriptor+80)
		newSize := le32(out, tr.Descriptor+80)
		if be32(out, tr.Descriptor+84) != newSize {
			t.Errorf("%s descriptor at %d: volume size halves differ", tr.Kind, tr.Descriptor)
		}
		wantSize := (int64(len(out)) - extraTail - tr.Base) / 2048
		if oldSize*2048+tr.Base >= int64(len(base)) {
			wantSize = (int64(len(out)) - tr.Base) / 2048
		}
		if newSize != wantSize {
			t.Errorf("%s descriptor at %d: volume size %d (was %d), want %d", tr.Kind, tr.Descriptor, newSize, oldSize, wantSize)
		}
		// Nothing else of the descriptor changed.
		ob, nb := slices.Clone(base[oldTrees[i].Descriptor:][:2048]), slices.Clone(out[tr.Descriptor:][:2048])
		copy(ob[80:88], nb[80:88])
		copy(ob[156:190], nb[156:190])
		if !bytes.Equal(ob, nb) {
			t.Errorf("%s descriptor at %d changed beyond volume size and root record", tr.Kind, tr.Descriptor)
		}
	}
	// El Torito: boot record, catalog and boot image are untouched.
	if cat, ok := oldIm.ElTorito(); ok {
		c := int64(cat) * 2048
		if !bytes.Equal(base[17*2048:18*2048], out[17*2048:18*2048]) || !bytes.Equal(base[c:c+2048], out[c:c+2048]) {
			t.Errorf("boot record or catalog changed")
		}
	}
	outPath := filepath.Join(t.TempDir(), "out.iso")
	if err := os.WriteFile(outPath, out, 0o644); err != nil {
		t.Fatal(err)
	}
	checkIsoinfo(t, outPath, trees, want, newNames, b.kinds > 1, !b.norr)
	checkXorriso(t, outPath, want, b.boot, base, !b.norr)
	if b.twin > 0 {
		part := filepath.Join(t.TempDir(), "part.iso")
		if err := os.WriteFile(part, out[b.twin:], 0o644); err != nil {
			t.Fatal(err)
		}
		im := openFile(t, part)
		ptrees, err := im.Trees()
		if err != nil {
			t.Fatal(err)
		}
		checkIsoinfo(t, part, ptrees, want, newNames, true, true)
	}
}

// sampled reports whether p is one of the many filler files other than
// the first, which the per-file isoinfo runs leave out to stay fast.
func sampled(p string) bool {
	b := p[strings.LastIndexByte(p, '/')+1:]
	return strings.HasPrefix(b, "f0") && b != "f0000.txt"
}

// isoPath spells a path the way the builders write primary-tree names:
// upper case, the file with a "." and ";1".
func isoPath(p string) string {
	p = strings.ToUpper(p)
	if !strings.Contains(p[strings.LastIndexByte(p, '/')+1:], ".") {
		p += "."
	}
	return p + ";1"
}

func joinP(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func le32(b []byte, off int64) int64 {
	return int64(b[off]) | int64(b[off+1])<<8 | int64(b[off+2])<<16 | int64(b[off+3])<<24
}

func be32(b []byte, off int64) int64 {
	return int64(b[off+3]) | int64(b[off+2])<<8 | int64(b[off+1])<<16 | int64(b[off])<<24
}

var ptLine = regexp.MustCompile(`^\s*([0-9a-f]+):\s+([0-9a-f]+)\s+([0-9a-f]+)\s`)

// checkIsoinfo lists and extracts the image with isoinfo in the primary,
// Rock Ridge and Joliet views and compares the path tables with the
// directories the trees hold.
func checkIsoinfo(t *testing.T, path string, trees []*iso.Tree, want map[string][]byte, newNames []string, joliet, rr bool) {
	t.Helper()
	isoinfo := fixture.NeedTool(t, "isoinfo")
	views := [][]string{{}}
	if rr {
		views = append(views, []string{"-R"})
	}
	if joliet {
		views = append(views, []string{"-J"})
	}
	for _, v := range views {
		listing := run(t, isoinfo, append([]string{"-i", path, "-l"}, v...)...)
		for _, n := range newNames {
			name := n
			l := listing
			if len(v) == 0 {
				name, l = strings.ToUpper(n)+";1", strings.ToUpper(listing)
			}
			if !strings.Contains(l, " "+name) {
				t.Errorf("isoinfo -l %v does not list %s", v, name)
			}
		}
		for p, data := range want {
			if sampled(p) {
				continue
			}
			xp := "/" + p
			if len(v) == 0 {
				xp = isoPath(xp)
			}
			got := run(t, isoinfo, append([]string{"-i", path, "-x", xp}, v...)...)
			if got == "" && len(v) == 0 {
				// isoinfo shows some xorriso hybrid images' primary names
				// in their original case ("README.txt;1").
				lp := "/" + p
				if !strings.Contains(p[strings.LastIndexByte(p, '/')+1:], ".") {
					lp += "."
				}
				got = run(t, isoinfo, "-i", path, "-x", lp+";1")
			}
			if got != string(data) {
				t.Errorf("isoinfo -x %s %v: %d bytes, want %d", xp, v, len(got), len(data))
			}
		}
	}
	// Path tables: the directories of each tree, by LBA (isoinfo prints hex).
	for _, tr := range trees {
		if tr.Kind == iso.ISO1999Tree || tr.Base != 0 {
			continue // isoinfo reads the primary and Joliet descriptors at sector 16
		}
		if tr.Kind == iso.JolietTree && !joliet {
			continue
		}
		args := []string{"-i", path, "-p"}
		if tr.Kind == iso.JolietTree {
			args = append(args, "-J")
		}
		var got []int64
		for _, line := range strings.Split(run(t, isoinfo, args...), "\n") {
			if m := ptLine.FindStringSubmatch(line); m != nil {
				lba, _ := strconv.ParseInt(m[3], 16, 64)
				got = append(got, lba)
			}
		}
		root, err := tr.Lookup("/")
		if err != nil {
			t.Fatal(err)
		}
		wantLBAs := []int64{root.Offset / 2048}
		tr.Walk(func(e iso.Entry) error {
			if e.IsDir {
				wantLBAs = append(wantLBAs, e.Offset/2048)
			}
			return nil
		})
		slices.Sort(got)
		slices.Sort(wantLBAs)
		if !slices.Equal(got, wantLBAs) {
			t.Errorf("%s path table LBAs %v, directories at %v", tr.Kind, got, wantLBAs)
		}
	}
}

var badReport = regexp.MustCompile(`(?m)^.*(WARNING|FAILURE|SORRY|MISHAP|FATAL).*$`)

// checkXorriso checks with xorriso that the image loads without
// complaints, that report_lba agrees with the files, that osirrox extracts
// the expected contents and that the El Torito report is unchanged.
func checkXorriso(t *testing.T, path string, want map[string][]byte, boot bool, base []byte, rr bool) {
	t.Helper()
	xorriso := fixture.NeedTool(t, "xorriso")
	rep := run(t, xorriso, "-indev", path, "-find", "/", "-exec", "report_lba", "--", "-report_el_torito", "plain")
	if m := badReport.FindAllString(rep, -1); len(m) > 0 {
		t.Errorf("xorriso complains: %q", m)
	}
	ext := fixture.XorrisoExtents(t, path)
	for p, data := range want {
		if !rr {
			p = strings.TrimSuffix(isoPath(p), ";1")
			p = strings.TrimSuffix(p, ".")
		}
		x, ok := ext[p]
		if !ok {
			t.Errorf("xorriso report_lba lacks /%s", p)
			continue
		}
		if x[1] != int64(len(data)) {
			t.Errorf("xorriso: /%s has %d bytes, want %d", p, x[1], len(data))
		}
	}
	if boot {
		basePath := filepath.Join(t.TempDir(), "base.iso")
		if err := os.WriteFile(basePath, base, 0o644); err != nil {
			t.Fatal(err)
		}
		el := func(p string) string {
			s := run(t, xorriso, "-indev", p, "-report_el_torito", "plain")
			var keep []string
			for _, l := range strings.Split(s, "\n") {
				if strings.HasPrefix(l, "El Torito") || strings.HasPrefix(l, "Boot record") {
					keep = append(keep, l)
				}
			}
			return strings.Join(keep, "\n")
		}
		if a, b := el(basePath), el(path); a != b || !strings.Contains(a, "El Torito boot img") {
			t.Errorf("El Torito report changed:\nbefore:\n%s\nafter:\n%s", a, b)
		}
	}
	dir := t.TempDir()
	run(t, xorriso, "-osirrox", "on", "-indev", path, "-extract", "/", dir)
	for p, data := range want {
		if !rr {
			p = strings.TrimSuffix(isoPath(p), ";1")
			p = strings.TrimSuffix(p, ".")
		}
		got, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Errorf("osirrox: %v", err)
			continue
		}
		if !bytes.Equal(got, data) {
			t.Errorf("osirrox: %s has %d bytes, want %d", p, len(got), len(data))
		}
	}
}

// TestMultiExtent marks two consecutive records as the parts of one file
// (flag 0x80 on the first, the same identifier on the second): the tree
// shows one entry with both parts, and the editor refuses to replace it.
func TestMultiExtent(t *testing.T) {
	a, b := strings.Repeat("A", 3000), strings.Repeat("B", 100)
	var img bytes.Buffer
	if err := isowrite.Write(&img, []isowrite.File{fuzzFile("m/aaaa.bin", a), fuzzFile("m/aaab.bin", b), fuzzFile("m/zz.txt", "z")}, isowrite.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	data := img.Bytes()
	trees, err := openBytes(t, data).Trees()
	if err != nil {
		t.Fatal(err)
	}
	ents, err := trees[0].ReadDir("m")
	if err != nil || len(ents) != 3 {
		t.Fatalf("ReadDir = %v, %v", ents, err)
	}
	r1, r2 := ents[0].Records[0], ents[1].Records[0]
	data[r1+25] |= 0x80
	data[r2+33+3] = 'A' // AAAB.BIN;1 -> AAAA.BIN;1
	trees, err = openBytes(t, data).Trees()
	if err != nil {
		t.Fatal(err)
	}
	e, err := trees[0].Lookup("/M/AAAA.BIN")
	if err != nil {
		t.Fatal(err)
	}
	if e.Length != int64(len(a)+len(b)) || !slices.Equal(e.Records, []int64{r1, r2}) {
		t.Errorf("multi-extent entry %+v, want length %d and records %d, %d", e, len(a)+len(b), r1, r2)
	}
	got, err := fs.ReadFile(trees[0].FS(), "m/aaaa.bin")
	if err != nil || string(got) != a+b {
		t.Errorf("ReadFile = %d bytes, %v; want the parts concatenated", len(got), err)
	}
	if _, err := tryEdits(data, nil, []edit{{path: "/m/aaaa.bin", data: []byte("x"), replace: true}}, 0); err == nil || !strings.Contains(err.Error(), "multi-extent") {
		t.Errorf("replacing a multi-extent file: %v", err)
	}
}

// TestRockRidgeDetails checks Rock Ridge relocation (genisoimage moves
// directories deeper than 8 levels to rr_moved: RE entries are hidden, CL
// entries are not followed) and NM names held in CE continuation areas
// (xorriso, for a long name), and edits such images.
func TestRockRidgeDetails(t *testing.T) {
	fixture.NeedTool(t, "genisoimage")
	fixture.NeedTool(t, "xorriso")
	long := strings.Repeat("long-name-", 22) + ".txt" // 224 bytes: NM goes to a CE area
	src := t.TempDir()
	files := map[string][]byte{
		"deep/1/2/3/4/5/6/7/8/9/f.txt": []byte("deep file"),
		"long/" + long:                 []byte("long file"),
		"long/short.txt":               []byte("short"),
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
	t.Run("relocated", func(t *testing.T) {
		img := isoBuild{name: "deep", tool: "genisoimage", args: []string{"-quiet", "-r"}}.make(t, src)
		trees, err := openBytes(t, img).Trees()
		if err != nil {
			t.Fatal(err)
		}
		if !trees[0].RockRidge {
			t.Fatal("no Rock Ridge")
		}
		moved, err := trees[0].ReadDir("rr_moved")
		if err != nil {
			t.Fatal(err)
		}
		if len(moved) != 0 {
			t.Errorf("rr_moved shows %v; relocated (RE) directories must be hidden", moved)
		}
		if err := trees[0].Walk(func(iso.Entry) error { return nil }); err != nil {
			t.Error(err)
		}
		out := applyEdits(t, img, nil, []edit{{path: "/new.txt", data: []byte("new")}, {path: "/deep/1/n.txt", data: []byte("n")}}, 0)
		checkTrees(t, out, nil, map[string][]byte{"new.txt": []byte("new"), "deep/1/n.txt": []byte("n"), "long/short.txt": []byte("short")}, 1)
		p := filepath.Join(t.TempDir(), "out.iso")
		if err := os.WriteFile(p, out, 0o644); err != nil {
			t.Fatal(err)
		}
		want := maps(files, "new.txt", "new", "deep/1/n.txt", "n")
		delete(want, "long/"+long) // genisoimage truncates long Rock Ridge names
		for k := range want {
			if strings.HasPrefix(k, "long/long") {
				delete(want, k)
			}
		}
		checkXorriso(t, p, want, false, nil, true)
	})
	t.Run("continuation", func(t *testing.T) {
		img := isoBuild{name: "long", tool: "xorriso", args: []string{"-r", "-J", "-joliet-long"}}.make(t, src)
		trees, err := openBytes(t, img).Trees()
		if err != nil {
			t.Fatal(err)
		}
		got, err := fs.ReadFile(trees[0].FS(), "long/"+long)
		if err != nil || string(got) != "long file" {
			t.Fatalf("long Rock Ridge name: %q, %v", got, err)
		}
		out := applyEdits(t, img, nil, []edit{{path: "/long/added.txt", data: []byte("added")}}, 0)
		checkTrees(t, out, nil, map[string][]byte{"long/added.txt": []byte("added"), "long/short.txt": []byte("short")}, 2)
		p := filepath.Join(t.TempDir(), "out.iso")
		if err := os.WriteFile(p, out, 0o644); err != nil {
			t.Fatal(err)
		}
		checkXorriso(t, p, maps(files, "long/added.txt", "added"), false, nil, true)
	})
}

// maps returns a copy of m with the key/value pairs kv added.
func maps(m map[string][]byte, kv ...string) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = []byte(kv[i+1])
	}
	return out
}

// checkSerials fails if two entries of the tree have the same Rock Ridge
// PX serial number (44-byte PX entries; the test images have no hard links).
func checkSerials(t *testing.T, img []byte, tr *iso.Tree) int {
	t.Helper()
	seen := map[int64]string{}
	n := 0
	tr.Walk(func(e iso.Entry) error {
		off := e.Records[0]
		rec := img[off : off+int64(img[off])]
		for i := 33 + int(rec[32]); i+4 <= len(rec); i++ {
			if rec[i] == 'P' && rec[i+1] == 'X' && rec[i+2] == 44 && rec[i+3] == 1 && i+44 <= len(rec) {
				serial := le32(rec, int64(i+36))
				if other, dup := seen[serial]; dup {
					t.Errorf("PX serial %d of %s is also used by %s", serial, e.Path, other)
				}
				seen[serial] = e.Path
				n++
				break
			}
		}
		return nil
	})
	return n
}
