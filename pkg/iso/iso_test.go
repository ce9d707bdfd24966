package iso_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/iso"
)

// openFile opens an ISO file and fails the test on error.
func openFile(t testing.TB, path string) *iso.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	im, err := iso.Open(f, st.Size())
	if err != nil {
		t.Fatalf("Open(%s) = %v", path, err)
	}
	return im
}

func openBytes(t testing.TB, data []byte) *iso.Image {
	t.Helper()
	im, err := iso.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	return im
}

// readFixture returns the bytes of a decompressed fixture.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(fixture.ISO(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// entry is one line of a listing: "dir"/"file", offset, length, path.
type entry struct {
	Kind   string
	Offset int64
	Length int64
	Path   string
}

func (e entry) String() string { return fmt.Sprintf("%s %d %d %s", e.Kind, e.Offset, e.Length, e.Path) }

func walkEntries(t testing.TB, im *iso.Image) []entry {
	t.Helper()
	var got []entry
	err := im.Walk(func(r iso.Record) error {
		kind := "file"
		if r.IsDir {
			kind = "dir"
		}
		got = append(got, entry{kind, r.Offset, r.Length, r.Path})
		return nil
	})
	if err != nil {
		t.Fatalf("Walk = %v", err)
	}
	return got
}

// listing is the expectation for one fixture, from testdata/listings.txt
// (transcribed from spec §7.4).
type listing struct {
	SystemID, VolumeID string
	VolumeSpaceSize    uint32
	Types              []byte
	Entries            []entry
}

func readListings(t testing.TB) map[string]*listing {
	t.Helper()
	f, err := os.Open("testdata/listings.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	all := map[string]*listing{}
	var cur *listing
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if name, ok := strings.CutPrefix(line, "fixture "); ok {
			cur = &listing{}
			all[name] = cur
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) != 4 && len(fields) != 5 {
			t.Fatalf("listings.txt: bad line %q", line)
		}
		if fields[0] == "pvd" {
			cur.SystemID, cur.VolumeID = fields[1], fields[2]
			n, _ := strconv.Atoi(fields[3])
			cur.VolumeSpaceSize = uint32(n)
			for _, s := range strings.Split(fields[4], ",") {
				n, _ := strconv.Atoi(s)
				cur.Types = append(cur.Types, byte(n))
			}
			continue
		}
		off, err1 := strconv.ParseInt(fields[1], 10, 64)
		n, err2 := strconv.ParseInt(fields[2], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("listings.txt: bad line %q", line)
		}
		cur.Entries = append(cur.Entries, entry{fields[0], off, n, fields[3]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return all
}

func descriptorTypes(im *iso.Image) []byte {
	var types []byte
	for _, d := range im.Descriptors() {
		types = append(types, d.Type)
	}
	return types
}

// TestSynthetic covers spec §6.7 item 44 on synthetic.iso.
func TestSynthetic(t *testing.T) {
	im := openFile(t, fixture.ISO(t, "synthetic.iso"))
	want := readListings(t)["synthetic.iso"]

	pvd := im.Primary()
	if pvd.SystemID != "system-ID-string" || pvd.VolumeID != "volume-ID-string" || pvd.VolumeSpaceSize != 338 {
		t.Errorf("Primary() = %+v, want system-ID-string, volume-ID-string, 338", pvd)
	}
	if pvd.Offset != 32768 || pvd.Type != iso.TypePrimary {
		t.Errorf("Primary() offset %d type %d, want 32768, 1", pvd.Offset, pvd.Type)
	}
	if got := descriptorTypes(im); !bytes.Equal(got, want.Types) {
		t.Errorf("descriptor types = %v, want %v", got, want.Types)
	}
	if _, ok := im.ElTorito(); ok {
		t.Errorf("ElTorito() ok on synthetic.iso, which has no boot record")
	}
	if im.Size() != 692224 {
		t.Errorf("Size() = %d, want 692224", im.Size())
	}

	root, err := im.Lookup("/")
	if err != nil {
		t.Fatal(err)
	}
	if root.Name != "." || root.Path != "" || !root.IsDir {
		t.Errorf("root = %+v, want name \".\", path \"\", directory", root)
	}

	recs, err := im.ReadDir("CONTENT")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range recs {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{"DIR", "FILE.TXT"}) {
		t.Errorf("ReadDir(CONTENT) names = %q, want [DIR FILE.TXT]", names)
	}
	if !recs[0].IsDir || recs[1].IsDir || recs[1].Path != "CONTENT/FILE.TXT" {
		t.Errorf("ReadDir(CONTENT) = %+v", recs)
	}

	data, err := im.ReadFile("REALLY/VERY/DEEPLY/NESTED/FILE.TXT")
	if err != nil || string(data) != "foo\n" {
		t.Errorf("ReadFile(REALLY/VERY/DEEPLY/NESTED/FILE.TXT) = %q, %v, want \"foo\\n\"", data, err)
	}

	// The walk must return exactly the §7.4 listing plus the 150 LARGEDIR
	// files, which occupy sectors 38..187 in name order.
	exp := slices.Clone(want.Entries)
	var large []string
	for i := 1; i <= 150; i++ {
		large = append(large, fmt.Sprintf("LARGEDIR/%d.DAT", i))
	}
	slices.Sort(large)
	for i, p := range large {
		exp = append(exp, entry{"file", int64(38+i) * 2048, 4, p})
	}
	got := walkEntries(t, im)
	sortEntries := func(es []entry) {
		slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.Path, b.Path) })
	}
	sortEntries(exp)
	sortEntries(got)
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("Walk listing differs from spec §7.4:\n%s", diffEntries(got, exp))
	}

	large2, err := im.ReadDir("LARGEDIR")
	if err != nil || len(large2) != 150 {
		t.Fatalf("ReadDir(LARGEDIR) = %d records, %v, want 150", len(large2), err)
	}
	if dir, _ := im.Lookup("LARGEDIR"); dir.Length != 4*iso.SectorSize {
		t.Errorf("LARGEDIR length = %d, want 4 sectors", dir.Length)
	}
	last, err := im.Lookup("LARGEDIR/99.DAT")
	if err != nil || last.Offset != 187*2048 {
		t.Errorf("Lookup(LARGEDIR/99.DAT) = %+v, %v, want the record in the 4th sector at sector 187", last, err)
	}
}

func diffEntries(got, want []entry) string {
	var b strings.Builder
	g := map[entry]bool{}
	for _, e := range got {
		g[e] = true
	}
	w := map[entry]bool{}
	for _, e := range want {
		w[e] = true
	}
	for _, e := range want {
		if !g[e] {
			fmt.Fprintf(&b, "  missing: %v\n", e)
		}
	}
	for _, e := range got {
		if !w[e] {
			fmt.Fprintf(&b, "  extra:   %v\n", e)
		}
	}
	if b.Len() == 0 {
		b.WriteString("  same entries, different order\n")
	}
	return b.String()
}

func TestLookup(t *testing.T) {
	im := openFile(t, fixture.ISO(t, "synthetic.iso"))
	tests := []struct {
		path     string
		want     string // Path of the result
		notFound bool
	}{
		{path: "", want: ""},
		{path: "/", want: ""},
		{path: ".", want: ""},
		{path: "..", want: ""},
		{path: "CONTENT", want: "CONTENT"},
		{path: "/CONTENT/DIR/", want: "CONTENT/DIR"},
		{path: "//CONTENT//DIR//SUBFILE.TXT", want: "CONTENT/DIR/SUBFILE.TXT"},
		{path: "/CONTENT/./../REALLY", want: "REALLY"},
		{path: "./CONTENT/../../NAMES", want: "NAMES"},
		{path: "../../CONTENT/DIR/..", want: "CONTENT"},
		{path: "REALLY/VERY/DEEPLY/NESTED/FILE.TXT", want: "REALLY/VERY/DEEPLY/NESTED/FILE.TXT"},
		{path: `NAMES/!"%&'()*.+,-`, want: `NAMES/!"%&'()*.+,-`},
		{path: "NAMES/:<=>?", want: "NAMES/:<=>?"},
		{path: "NAMES/ABCDEFGH.MNO", want: "NAMES/ABCDEFGH.MNO"},
		// A file at the root of the path is fine, and ".." after it pops it
		// lexically without it being used as a directory.
		{path: "CONTENT/FILE.TXT/../DIR", want: "CONTENT/DIR"},
		{path: "MISSING", notFound: true},
		{path: "MISSING/STUFF.TXT", notFound: true},
		{path: "CONTENT/FILE.TXT/STUFF.TXT", notFound: true},
		{path: "content", notFound: true}, // case-sensitive
		{path: "CONTENT/FILE.TXT;1", notFound: true},
		{path: "NAMES/ABC.", notFound: true},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got, err := im.Lookup(tc.path)
			if tc.notFound {
				if !errors.Is(err, iso.ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("Lookup(%q) = %+v, %v, want ErrNotFound", tc.path, got, err)
				}
				return
			}
			if err != nil || got.Path != tc.want {
				t.Fatalf("Lookup(%q) = %q, %v, want %q", tc.path, got.Path, err, tc.want)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	im := openFile(t, fixture.ISO(t, "synthetic.iso"))
	if _, err := im.ReadFile("CONTENT"); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("ReadFile(CONTENT) = %v, want an \"is a directory\" error", err)
	}
	if _, err := im.ReadDir("CONTENT/FILE.TXT"); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("ReadDir(CONTENT/FILE.TXT) = %v, want a \"not a directory\" error", err)
	}
	if _, err := im.ReadFile("MISSING"); !errors.Is(err, iso.ErrNotFound) {
		t.Errorf("ReadFile(MISSING) = %v, want ErrNotFound", err)
	}
	if _, err := im.ReadDir("MISSING"); !errors.Is(err, iso.ErrNotFound) {
		t.Errorf("ReadDir(MISSING) = %v, want ErrNotFound", err)
	}
	rec, err := im.Lookup("CONTENT/DIR/SUBFILE.TXT")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	n, _ := im.Section(rec).ReadAt(buf, 0)
	if n != 4 {
		t.Errorf("Section(SUBFILE.TXT) read %d bytes, want 4", n)
	}
}

func TestWalkControl(t *testing.T) {
	im := openFile(t, fixture.ISO(t, "synthetic.iso"))
	var seen []string
	err := im.Walk(func(r iso.Record) error {
		seen = append(seen, r.Path)
		switch r.Path {
		case "LARGEDIR", "REALLY/VERY":
			return fs.SkipDir
		case "NAMES/ABC":
			return fs.SkipDir // on a file: skip the rest of NAMES
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CONTENT", "CONTENT/DIR", "CONTENT/DIR/SUBFILE.TXT", "CONTENT/FILE.TXT", "LARGEDIR",
		"NAMES", `NAMES/!"%&'()*.+,-`, "NAMES/:<=>?", "NAMES/ABC", "REALLY", "REALLY/VERY"}
	if !slices.Equal(seen, want) {
		t.Errorf("Walk with SkipDir visited %q, want %q", seen, want)
	}

	n := 0
	err = im.Walk(func(r iso.Record) error {
		n++
		if n == 3 {
			return fs.SkipAll
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Errorf("Walk with SkipAll: %d visits, %v, want 3, nil", n, err)
	}
	stop := errors.New("stop here")
	if err := im.Walk(func(iso.Record) error { return stop }); err != stop {
		t.Errorf("Walk returned %v, want the callback's error", err)
	}
}

// keyExtents are a few extents per fixture from spec §7.4 (and §7.2).
var keyExtents = map[string][]entry{
	"embed-areas-2020-09.iso": {
		{"file", 92160, 262144, "IMAGES/IGNITION.IMG"},
		{"file", 360448, 1061, "EFI/REDHAT/GRUB.CFG"},
		{"file", 90112, 2047, "ISOLINUX/ISOLINUX.CFG"},
		{"file", 86016, 2048, "ISOLINUX/BOOT.CAT"},
	},
	"embed-areas-2021-01.iso": {
		{"file", 96256, 262144, "IMAGES/IGNITION.IMG"},
		{"file", 364544, 2085, "EFI/REDHAT/GRUB.CFG"},
		{"file", 90112, 1131, "_CMDLINE"},
		{"file", 86016, 2048, "ISOLINUX/BOOT.CAT"},
	},
	"embed-areas-2021-09.iso": {
		{"file", 102400, 262144, "IMAGES/IGNITION.IMG"},
		{"file", 100352, 311, "COREOS/KARGS.JSO"},
		{"file", 370688, 2192, "EFI/FEDORA/GRUB.CFG"},
		{"file", 96256, 3083, "ISOLINUX/ISOLINUX.CFG"},
		{"file", 90112, 2048, "ISOLINUX/BOOT.CAT"},
	},
	"embed-areas-2021-12.iso": {
		{"file", 161792, 262144, "IMAGES/IGNITION.IMG"},
		{"file", 143360, 311, "COREOS/KARGS.JSO"},
		{"file", 141312, 62, "COREOS/FEATURES.JSO"},
		{"file", 430080, 2192, "EFI/FEDORA/GRUB.CFG"},
		{"file", 90112, 2048, "ISOLINUX/BOOT.CAT"},
	},
	"embed-areas-2022-02.iso": {
		{"file", 159744, 262144, "IMAGES/IGNITION.IMG"},
		{"file", 141312, 311, "COREOS/KARGS.JSO"},
		{"file", 428032, 2192, "EFI/FEDORA/GRUB.CFG"},
		{"file", 90112, 2048, "ISOLINUX/BOOT.CAT"},
	},
	"embed-areas-2022-09.iso": {
		{"file", 159744, 262144, "IMAGES/IGNITION.IMG"},
		{"file", 141312, 311, "COREOS/KARGS.JSO"},
		{"file", 139264, 660, "COREOS/FEATURES.JSO"},
		{"file", 428032, 2192, "EFI/FEDORA/GRUB.CFG"},
		{"file", 90112, 2048, "ISOLINUX/BOOT.CAT"},
	},
	"embed-areas-2023-03.s390x.iso": {
		{"file", 71680, 394240, "IMAGES/CDBOOT.IMG"},
		{"file", 468992, 74, "COREOS/IGNINFO.JSO"},
		{"file", 497664, 16, "IMAGES/INITRD.ADD"},
		{"file", 69632, 2048, "BOOT.CAT"},
	},
	"embed-areas-2023-03.x86_64.iso": {
		{"file", 157696, 262144, "IMAGES/IGNITION.IMG"},
		{"file", 139264, 311, "COREOS/KARGS.JSO"},
		{"file", 137216, 36, "COREOS/IGNINFO.JSO"},
		{"file", 430080, 2192, "EFI/FEDORA/GRUB.CFG"},
		{"file", 90112, 2048, "ISOLINUX/BOOT.CAT"},
	},
	"embed-areas-2023-07.s390x.iso": {
		{"file", 71680, 394240, "IMAGES/CDBOOT.IMG"},
		{"file", 471040, 283, "COREOS/KARGS.JSO"},
		{"file", 468992, 74, "COREOS/IGNINFO.JSO"},
		{"dir", 49152, 2048, "IMAGES/PXEBOOT"},
		{"file", 69632, 2048, "BOOT.CAT"},
	},
	"embed-areas-2023-07.x86_64.iso": {
		{"file", 139264, 262144, "IMAGES/IGNITION.IMG"},
		{"file", 415744, 385, "COREOS/KARGS.JSO"},
		{"file", 407552, 2192, "EFI/FEDORA/GRUB.CFG"},
		{"file", 135168, 3082, "ISOLINUX/ISOLINUX.CFG"},
		{"file", 90112, 2048, "ISOLINUX/BOOT.CAT"},
	},
}

func TestEmbedAreaFixtures(t *testing.T) {
	listings := readListings(t)
	names := fixture.ISONames(t, "embed-areas-")
	if len(names) != len(keyExtents) {
		t.Errorf("%d embed-areas fixtures, want %d", len(names), len(keyExtents))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			im := openFile(t, fixture.ISO(t, name))
			want := listings[name]
			if want == nil || keyExtents[name] == nil {
				t.Fatalf("no expectations for fixture %s", name)
			}
			pvd := im.Primary()
			if pvd.SystemID != want.SystemID || pvd.VolumeID != want.VolumeID || pvd.VolumeSpaceSize != want.VolumeSpaceSize {
				t.Errorf("Primary() = %+v, want %q %q %d", pvd, want.SystemID, want.VolumeID, want.VolumeSpaceSize)
			}
			types := descriptorTypes(im)
			if !bytes.Equal(types, []byte{iso.TypePrimary, iso.TypeBootRecord, iso.TypeSupplementary}) || !bytes.Equal(types, want.Types) {
				t.Errorf("descriptor types = %v, want [1 0 2]", types)
			}
			boot := im.Descriptors()[1]
			if boot.BootSystemID != iso.ElToritoID || boot.Offset != 34816 {
				t.Errorf("boot record = %+v, want %q at 34816", boot, iso.ElToritoID)
			}
			for _, e := range keyExtents[name] {
				rec, err := im.Lookup(e.Path)
				if err != nil {
					t.Errorf("Lookup(%s) = %v", e.Path, err)
					continue
				}
				if rec.Offset != e.Offset || rec.Length != e.Length || rec.IsDir != (e.Kind == "dir") {
					t.Errorf("Lookup(%s) = offset %d length %d dir %v, want %v", e.Path, rec.Offset, rec.Length, rec.IsDir, e)
				}
				if strings.HasSuffix(e.Path, "BOOT.CAT") {
					lba, ok := im.ElTorito()
					if !ok || int64(lba)*iso.SectorSize != e.Offset {
						t.Errorf("ElTorito() = %d, %v, want the BOOT.CAT sector %d", lba, ok, e.Offset/iso.SectorSize)
					}
				}
			}
			if got := walkEntries(t, im); !reflect.DeepEqual(got, want.Entries) {
				t.Errorf("Walk listing differs from spec §7.4:\n%s", diffEntries(got, want.Entries))
			}
		})
	}
}

// TestReadFileFixture checks ReadFile against the kargs.json bytes quoted in
// spec §3.2.
func TestReadFileFixture(t *testing.T) {
	im := openFile(t, fixture.ISO(t, "embed-areas-2023-07.x86_64.iso"))
	want := `{
  "default": "mitigations=auto,nosmt coreos.liveiso=fedora-coreos-38.20230718.dev.0 ignition.firstboot ignition.platform.id=metal",
  "files": [
    {
      "end": "\n",
      "offset": 970,
      "pad": "#",
      "path": "EFI/fedora/grub.cfg"
    },
    {
      "end": "\n",
      "offset": 1869,
      "pad": "#",
      "path": "isolinux/isolinux.cfg"
    }
  ],
  "size": 1139
}
`
	got, err := im.ReadFile("COREOS/KARGS.JSO")
	if err != nil || string(got) != want {
		t.Errorf("ReadFile(COREOS/KARGS.JSO) = %q, %v, want %q", got, err, want)
	}
}

func TestIncomplete(t *testing.T) {
	for _, name := range []string{"synthetic.iso", "embed-areas-2023-07.x86_64.iso"} {
		t.Run(name, func(t *testing.T) {
			path := fixture.ISO(t, name)
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, st.Size()/2); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			_, err = iso.Open(f, st.Size()/2)
			if !errors.Is(err, iso.ErrIncomplete) || !strings.Contains(err.Error(), "shorter than its ISO 9660 volume size") {
				t.Errorf("Open(half of %s) = %v, want ErrIncomplete", name, err)
			}
		})
	}
	if got := iso.ErrIncomplete.Error(); got != "image is shorter than its ISO 9660 volume size" {
		t.Errorf("ErrIncomplete text = %q", got)
	}
}

func TestNotISO(t *testing.T) {
	syn := readFixture(t, "synthetic.iso")
	patched := func(off int, b byte) []byte {
		d := slices.Clone(syn)
		d[off] = b
		return d
	}
	random := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := []byte(strings.Repeat("This is a plain text file, not an ISO image.\n", 2000))
	tests := []struct {
		name   string
		data   []byte
		want   string
		offset int64 // of the FormatError, -1 if not a FormatError
	}{
		{"empty", nil, "beyond end of image", 32768},
		{"short text", []byte("hello\n"), "beyond end of image", 32768},
		{"text", text, "unknown descriptor ID", 32768},
		{"random", random, "unknown descriptor ID", 32768},
		{"zeros", make([]byte, 40<<10), "unknown descriptor ID", 32768},
		{"bad magic", patched(32769, 'X'), "unknown descriptor ID", 32768},
		{"bad version", patched(32768+6, 2), "unknown descriptor version", 32768},
		{"bad terminator", patched(34816+3, 'X'), "unknown descriptor ID", 34816},
		{"no primary", patched(32768, iso.TypePartition), "no primary volume descriptor found in ISO", -1},
		{"no terminator", syn[:34816], "beyond end of image", 34816},
		{"bad volume id", patched(32768+40, 0x7f), "invalid string name", 32768 + 40},
		{"root extent beyond image", patched(32768+156+5, 0x40), "beyond end of image", 32768 + 156},
		{"root not a directory", patched(32768+156+25, 0), "not a directory", 32768 + 156},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := iso.Open(bytes.NewReader(tc.data), int64(len(tc.data)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %v, want an error containing %q", err, tc.want)
			}
			var fe *iso.FormatError
			if tc.offset < 0 {
				return
			}
			if !errors.As(err, &fe) || fe.Offset != tc.offset {
				t.Fatalf("Open = %v (%T), want a *FormatError at offset %d", err, err, tc.offset)
			}
			prefix := fmt.Sprintf("offset %d (sector %d): ", tc.offset, tc.offset/2048)
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q does not start with %q", err, prefix)
			}
		})
	}
}

func TestFormatErrorText(t *testing.T) {
	err := error(&iso.FormatError{Offset: 34816, What: "volume descriptor", Err: errors.New("unknown descriptor ID")})
	if got, want := err.Error(), "offset 34816 (sector 17): volume descriptor: unknown descriptor ID"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestCorruptDirectory covers spec §6.7 item 42 and the directory-parsing
// errors of §1.1: each corruption must give a clear error naming the offset
// and the directory, never a panic.
func TestCorruptDirectory(t *testing.T) {
	t.Run("2021-09 item 42", func(t *testing.T) {
		data := readFixture(t, "embed-areas-2021-09.iso")
		if _, err := openBytes(t, data).Lookup("IMAGES/IGNITION.IMG"); err != nil {
			t.Fatalf("pristine Lookup = %v", err)
		}
		data[65903] = 'Z'
		rec, err := openBytes(t, data).Lookup("IMAGES/IGNITION.IMG")
		if err == nil {
			t.Fatalf("Lookup after corruption = %+v, want an error", rec)
		}
	})

	syn := readFixture(t, "synthetic.iso")
	im := openBytes(t, syn)
	content, _ := im.Lookup("CONTENT")
	names, _ := im.Lookup("NAMES")
	// CONTENT's records: "." (34 bytes), ".." (34), DIR, FILE.TXT.
	dirRec := content.Offset + 68
	// overrun chains 255-byte records from CONTENT's last record on until
	// one overruns the extent.
	overrun := map[int64]byte{}
	end := content.Offset
	for syn[end] != 0 {
		end += int64(syn[end])
	}
	for ; end+255 <= content.Offset+content.Length; end += 255 {
		overrun[end] = 0xff
	}
	overrun[end] = 0xff
	// NAMES's third record (after "." and "..", 34 bytes each) is the first
	// real name.
	tests := []struct {
		name   string
		patch  map[int64]byte
		path   string // looked up, or walked if ""
		want   string
		offset int64
	}{
		{"record overruns extent", overrun, "", "incomplete directory record", end},
		{"invalid name char", map[int64]byte{dirRec + 33: 0x80}, "CONTENT/FILE.TXT", "invalid string name", dirRec},
		{"short record", map[int64]byte{dirRec: 20}, "CONTENT/FILE.TXT", "shorter than 34", dirRec},
		{"name overruns record", map[int64]byte{dirRec + 32: 200}, "CONTENT/FILE.TXT", "overruns directory record", dirRec},
		{"extent beyond image", map[int64]byte{dirRec + 5: 0x10}, "CONTENT/DIR", "beyond end of image", dirRec},
		{"data length beyond image", map[int64]byte{dirRec + 13: 0x10}, "CONTENT/DIR", "beyond end of image", dirRec},
		// Point CONTENT/DIR at the root directory: a loop.
		{"directory loop", loopPatch(dirRec, im), "", "directory loop", -1},
		{"name in NAMES", map[int64]byte{names.Offset + 68 + 33: '/' + 0x80}, "NAMES/ABC", "invalid string name", names.Offset + 68},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := slices.Clone(syn)
			for off, b := range tc.patch {
				data[off] = b
			}
			im := openBytes(t, data)
			var err error
			if tc.path != "" {
				_, err = im.Lookup(tc.path)
			} else {
				err = im.Walk(func(iso.Record) error { return nil })
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			var fe *iso.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FormatError", err)
			}
			if tc.offset > 0 && fe.Offset != tc.offset {
				t.Errorf("FormatError offset = %d, want %d", fe.Offset, tc.offset)
			}
			if !strings.Contains(err.Error(), "directory") {
				t.Errorf("error %q does not name the directory", err)
			}
		})
	}
}

// loopPatch makes the directory record at off point at the root extent.
func loopPatch(off int64, im *iso.Image) map[int64]byte {
	root, _ := im.Lookup("")
	lba := uint32(root.Offset / 2048)
	p := map[int64]byte{}
	for i := int64(0); i < 4; i++ {
		p[off+2+i] = byte(lba >> (8 * i))
	}
	return p
}

// TestCorruptEveryDirectoryByte overwrites each byte of the synthetic image's
// directory extents and system-area-adjacent descriptors with a few values:
// the reader must never panic and every record it returns must lie inside
// the image.
func TestCorruptEveryDirectoryByte(t *testing.T) {
	syn := readFixture(t, "synthetic.iso")
	im := openBytes(t, syn)
	var dirs []iso.Record
	root, _ := im.Lookup("")
	dirs = append(dirs, root)
	im.Walk(func(r iso.Record) error {
		if r.IsDir {
			dirs = append(dirs, r)
		}
		return nil
	})
	step := int64(1)
	if testing.Short() {
		step = 7
	}
	data := slices.Clone(syn)
	check := func(off int64) {
		im, err := iso.Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		n := 0
		im.Walk(func(r iso.Record) error {
			n++
			if r.Offset < 0 || r.Length < 0 || r.Offset+r.Length > im.Size() {
				t.Fatalf("byte %d corrupted: record %+v outside the image", off, r)
			}
			return nil
		})
	}
	for _, d := range dirs {
		for off := d.Offset; off < d.Offset+min(d.Length, 2048); off += step {
			orig := data[off]
			for _, b := range []byte{0, 0xff, 'Z', orig + 1} {
				data[off] = b
				check(off)
			}
			data[off] = orig
		}
	}
	for off := int64(32768); off < 32768+256; off++ {
		orig := data[off]
		data[off] ^= 0xff
		check(off)
		data[off] = orig
	}
}

func TestOpenNotISO(t *testing.T) {
	syn := make([]byte, 40<<10)
	copy(syn[32769:], "CD001")
	for _, tc := range []struct {
		name string
		data []byte
		not  bool
	}{
		{"empty", nil, true},
		{"short", []byte("hello\n"), true},
		{"zeros", make([]byte, 40<<10), true},
		{"later descriptor", syn, false},
	} {
		_, err := iso.Open(bytes.NewReader(tc.data), int64(len(tc.data)))
		if err == nil {
			t.Fatalf("%s: Open succeeded", tc.name)
		}
		if got := errors.Is(err, iso.ErrNotISO); got != tc.not {
			t.Errorf("%s: errors.Is(%v, ErrNotISO) = %v, want %v", tc.name, err, got, tc.not)
		}
		if tc.not && !strings.Contains(err.Error(), "not an ISO 9660 image") {
			t.Errorf("%s: %v does not say it is not an ISO 9660 image", tc.name, err)
		}
	}
}
