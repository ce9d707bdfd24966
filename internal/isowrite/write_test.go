package isowrite_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/internal/isowrite"
	"github.com/isobuild/isobuild/pkg/iso"
)

func bytesFile(path string, data string) isowrite.File {
	return isowrite.File{Path: path, Size: int64(len(data)), Open: func() (io.Reader, error) {
		return strings.NewReader(data), nil
	}}
}

func openBytes(t testing.TB, data []byte) *iso.Image {
	t.Helper()
	im, err := iso.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	return im
}

func descriptorTypes(im *iso.Image) []byte {
	var types []byte
	for _, d := range im.Descriptors() {
		types = append(types, d.Type)
	}
	return types
}

// patternFile is a file of size bytes whose content depends on its path.
func patternFile(path string, size int64) isowrite.File {
	return isowrite.File{Path: path, Size: size, Open: func() (io.Reader, error) {
		return io.LimitReader(&patternReader{seed: byte(len(path))}, size), nil
	}}
}

type patternReader struct {
	seed byte
	n    int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.n) ^ r.seed
		r.n++
	}
	return len(p), nil
}

func content(t testing.TB, f isowrite.File) []byte {
	t.Helper()
	r, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// testFiles exercises nesting, empty files, multi-sector files, a directory
// spanning several sectors, names without extension and Rock Ridge names.
func testFiles() []isowrite.File {
	files := []isowrite.File{
		bytesFile("coreos/igninfo.jso", `{"file": "images/ignition.img"}`),
		{Path: "coreos/kargs.jso", RRPath: "coreos/kargs.json", Size: 5, Open: func() (io.Reader, error) { return strings.NewReader("{}\n\n\n"), nil }},
		bytesFile("EFI/fedora/grub.cfg", "menuentry {}\n"),
		patternFile("images/ignition.img", 262144),
		patternFile("images/pxeboot/rootfs.img", 3*2048+17),
		bytesFile("images/pxeboot/vmlinuz", "the kernel\n"),
		bytesFile("images/empty", ""),
		bytesFile("a/b/c/d/e/f/g/deep.txt", "deep\n"),
		bytesFile("README", "read me\n"),
		bytesFile("x_1.a", "x"),
		// The longest identifier with the longest Rock Ridge name.
		{Path: "longname/abcdefgh.ijk", RRPath: "longname/" + strings.Repeat("r", 160), Size: 2, Open: func() (io.Reader, error) { return strings.NewReader("rr"), nil }},
	}
	for i := 1; i <= 120; i++ {
		files = append(files, bytesFile(fmt.Sprintf("many/f%d.dat", i), strconv.Itoa(i)))
	}
	for _, name := range []string{"b", "a_", "ab", "a1.x", "a.x", "a.b"} {
		files = append(files, bytesFile("order/"+name, name))
	}
	return files
}

func writeImage(t testing.TB, files []isowrite.File, opts isowrite.WriteOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := isowrite.Write(&buf, files, opts); err != nil {
		t.Fatalf("Write = %v", err)
	}
	return buf.Bytes()
}

func TestWriteRoundTrip(t *testing.T) {
	files := testFiles()
	opts := isowrite.WriteOptions{VolumeID: "fedora-coreos-40.20240101.demo.0", SystemID: "LINUX"}
	data := writeImage(t, files, opts)
	if len(data)%iso.SectorSize != 0 {
		t.Fatalf("image size %d is not a multiple of the sector size", len(data))
	}
	im := openBytes(t, data)

	pvd := im.Primary()
	if pvd.VolumeID != opts.VolumeID || pvd.SystemID != opts.SystemID || int64(pvd.VolumeSpaceSize)*2048 != int64(len(data)) {
		t.Errorf("Primary() = %+v, want ids %q %q and volume space size %d", pvd, opts.VolumeID, opts.SystemID, len(data)/2048)
	}
	if types := descriptorTypes(im); !bytes.Equal(types, []byte{iso.TypePrimary}) {
		t.Errorf("descriptor types = %v, want [1]", types)
	}
	if _, ok := im.ElTorito(); ok {
		t.Errorf("ElTorito() ok, want no boot record")
	}

	// Every file is found under its upper-cased path with its contents.
	for _, f := range files {
		up := strings.ToUpper(f.Path)
		rec, err := im.Lookup(up)
		if err != nil {
			t.Errorf("Lookup(%s) = %v", up, err)
			continue
		}
		if rec.IsDir || rec.Length != f.Size || rec.Offset%iso.SectorSize != 0 {
			t.Errorf("Lookup(%s) = %+v, want a sector-aligned file of %d bytes", up, rec, f.Size)
		}
		got, err := im.ReadFile(up)
		if err != nil || !bytes.Equal(got, content(t, f)) {
			t.Errorf("ReadFile(%s) = %d bytes, %v; contents differ", up, len(got), err)
		}
	}

	// The walk lists each file once, directories before their contents,
	// and file data in walk order without overlaps.
	var paths []string
	var prevEnd int64
	dirs := map[string]bool{"": true}
	err := im.Walk(func(r iso.Record) error {
		paths = append(paths, r.Path)
		if !dirs[filepath.Dir(r.Path)] && filepath.Dir(r.Path) != "." {
			t.Errorf("%s visited before its directory", r.Path)
		}
		if r.IsDir {
			dirs[r.Path] = true
			return nil
		}
		if r.Offset < prevEnd {
			t.Errorf("%s at %d overlaps the previous file ending at %d", r.Path, r.Offset, prevEnd)
		}
		prevEnd = r.Offset + r.Length
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(paths), len(files)+len(dirs)-1; got != want {
		t.Errorf("Walk visited %d records, want %d", got, want)
	}
	for _, p := range []string{"IMAGES/EMPTY", "README", "X_1.A", "A/B/C/D/E/F/G/DEEP.TXT", "MANY/F120.DAT"} {
		if !slices.Contains(paths, p) {
			t.Errorf("Walk did not visit %s", p)
		}
	}
	many, err := im.Lookup("MANY")
	if err != nil || many.Length <= iso.SectorSize {
		t.Errorf("MANY = %+v, %v, want a directory spanning several sectors", many, err)
	}
	if recs, _ := im.ReadDir("MANY"); len(recs) != 120 {
		t.Errorf("ReadDir(MANY) = %d records, want 120", len(recs))
	}
	// ISO 9660 order: by name padded with spaces, then extension.
	recs, _ := im.ReadDir("")
	var names []string
	for _, r := range recs {
		names = append(names, r.Name)
	}
	if want := []string{"A", "COREOS", "EFI", "IMAGES", "LONGNAME", "MANY", "ORDER", "README", "X_1.A"}; !slices.Equal(names, want) {
		t.Errorf("root entries = %q, want %q", names, want)
	}
	recs, _ = im.ReadDir("ORDER")
	names = names[:0]
	for _, r := range recs {
		names = append(names, r.Name)
	}
	if want := []string{"A.B", "A.X", "A1.X", "AB", "A_", "B"}; !slices.Equal(names, want) {
		t.Errorf("ORDER entries = %q, want %q (name, then extension, padded with spaces)", names, want)
	}
	checkStructure(t, data)
}

// checkStructure verifies what the reader does not use: both-endian fields
// of the PVD and of every directory record, and the L and M path tables.
func checkStructure(t *testing.T, data []byte) {
	t.Helper()
	le32, be32 := binary.LittleEndian.Uint32, binary.BigEndian.Uint32
	both32 := func(b []byte, what string) uint32 {
		if le32(b) != be32(b[4:]) {
			t.Errorf("%s: little-endian %d != big-endian %d", what, le32(b), be32(b[4:]))
		}
		return le32(b)
	}
	pvd := data[16*2048 : 17*2048]
	both32(pvd[80:], "volume space size")
	ptSize := both32(pvd[132:], "path table size")
	if binary.LittleEndian.Uint16(pvd[128:]) != 2048 || binary.BigEndian.Uint16(pvd[130:]) != 2048 {
		t.Errorf("logical block size is not 2048 in both halves")
	}
	if data[17*2048] != 255 || string(data[17*2048+1:17*2048+6]) != "CD001" {
		t.Errorf("sector 17 is not a terminator")
	}
	if bytes.ContainsFunc(data[:16*2048], func(r rune) bool { return r != 0 }) {
		t.Errorf("system area is not zero")
	}
	im := openBytes(t, data)

	// Path tables: L (little-endian) and M (big-endian) must agree with the
	// directory tree.
	type ptEntry struct {
		path string
		lba  uint32
	}
	parseTable := func(lba uint32, order binary.ByteOrder) []ptEntry {
		tbl := data[int64(lba)*2048 : int64(lba)*2048+int64(ptSize)]
		var es []ptEntry
		for off := 0; off < len(tbl); {
			n := int(tbl[off])
			e := ptEntry{lba: order.Uint32(tbl[off+2:])}
			parent := int(order.Uint16(tbl[off+6:]))
			name := string(tbl[off+8 : off+8+n])
			if len(es) > 0 {
				if parent < 1 || parent > len(es) {
					t.Fatalf("path table entry %d: parent %d out of range", len(es)+1, parent)
				}
				e.path = strings.TrimPrefix(es[parent-1].path+"/"+name, "/")
			}
			es = append(es, e)
			off += 8 + n + n&1
		}
		return es
	}
	l := parseTable(le32(pvd[140:]), binary.LittleEndian)
	m := parseTable(be32(pvd[148:]), binary.BigEndian)
	if !slices.Equal(l, m) {
		t.Errorf("L and M path tables differ:\n%v\n%v", l, m)
	}
	var dirs []string
	im.Walk(func(r iso.Record) error {
		if r.IsDir {
			dirs = append(dirs, r.Path)
		}
		return nil
	})
	if len(l) != len(dirs)+1 {
		t.Errorf("path table has %d entries, want %d directories", len(l), len(dirs)+1)
	}
	for i, e := range l {
		rec, err := im.Lookup(e.path)
		if err != nil || !rec.IsDir || int64(e.lba)*2048 != rec.Offset {
			t.Errorf("path table entry %d %q at LBA %d: directory is %+v, %v", i+1, e.path, e.lba, rec, err)
		}
		if i > 0 && strings.Count(l[i-1].path, "/") > strings.Count(e.path, "/") && l[i-1].path != "" {
			t.Errorf("path table not ordered by level: %q before %q", l[i-1].path, e.path)
		}
	}

	// Directory records: both-endian fields, no record crossing a sector.
	for _, d := range append([]string{""}, dirs...) {
		rec, _ := im.Lookup(d)
		ext := data[rec.Offset : rec.Offset+rec.Length]
		for off := 0; off < len(ext); {
			n := int(ext[off])
			if n == 0 {
				off = (off/2048 + 1) * 2048
				continue
			}
			if off%2048+n > 2048 {
				t.Errorf("directory %q: record at %d crosses a sector boundary", d, off)
			}
			r := ext[off : off+n]
			both32(r[2:], fmt.Sprintf("directory %q record %d LBA", d, off))
			both32(r[10:], fmt.Sprintf("directory %q record %d data length", d, off))
			if binary.LittleEndian.Uint16(r[28:]) != 1 || binary.BigEndian.Uint16(r[30:]) != 1 {
				t.Errorf("directory %q record %d: volume sequence number is not 1", d, off)
			}
			off += n
		}
	}
}

// TestWriteDirectorySizes packs directories of 1 to 80 entries with names
// of varied lengths, so records land on every position near a sector
// boundary.
func TestWriteDirectorySizes(t *testing.T) {
	names := []string{"a", "bb.c", "ccc.dd", "dddd.eee", "eeeee", "ffffffff.ggg", "g1", "h_2.x"}
	for n := 1; n <= 80; n += 1 + n/10 {
		var files []isowrite.File
		for i := 0; i < n; i++ {
			name := names[i%len(names)]
			base, ext, _ := strings.Cut(name, ".")
			num := strconv.Itoa(i)
			name = base[:min(len(base), 8-len(num))] + num
			if ext != "" {
				name += "." + ext
			}
			files = append(files, bytesFile("d/"+name, name))
		}
		data := writeImage(t, files, isowrite.WriteOptions{})
		checkStructure(t, data)
		if recs, err := openBytes(t, data).ReadDir("D"); err != nil || len(recs) != n {
			t.Fatalf("%d files: ReadDir(D) = %d records, %v", n, len(recs), err)
		}
	}
}

func TestWriteEmpty(t *testing.T) {
	im := openBytes(t, writeImage(t, nil, isowrite.WriteOptions{}))
	if recs, err := im.ReadDir("/"); err != nil || len(recs) != 0 {
		t.Errorf("ReadDir(/) of an empty image = %v, %v", recs, err)
	}
	if im.Primary().VolumeID != "" {
		t.Errorf("volume ID = %q, want empty", im.Primary().VolumeID)
	}
}

func TestWriteDeterministic(t *testing.T) {
	opts := isowrite.WriteOptions{VolumeID: "VOL", SystemID: "LINUX"}
	a := writeImage(t, testFiles(), opts)
	b := writeImage(t, testFiles(), opts)
	if !bytes.Equal(a, b) {
		t.Fatal("two writes of the same input differ")
	}
	rev := testFiles()
	slices.Reverse(rev)
	if c := writeImage(t, rev, opts); !bytes.Equal(a, c) {
		t.Error("the order of files changes the image")
	}
	epoch := opts
	epoch.ModTime = time.Unix(0, 0)
	if d := writeImage(t, testFiles(), epoch); !bytes.Equal(a, d) {
		t.Error("zero ModTime is not the 1970 epoch")
	}
	later := opts
	later.ModTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	e := writeImage(t, testFiles(), later)
	if bytes.Equal(a, e) {
		t.Error("ModTime does not change the image")
	}
	if !bytes.Contains(e[16*2048:17*2048], []byte("2024010203040500")) {
		t.Error("PVD does not carry ModTime")
	}
}

func TestWriteErrors(t *testing.T) {
	ok := bytesFile("ok.txt", "ok")
	tests := []struct {
		name  string
		files []isowrite.File
		opts  isowrite.WriteOptions
		want  string
	}{
		{"long name", []isowrite.File{bytesFile("images/pxeboot/toolongname.img", "")}, isowrite.WriteOptions{}, `file name "toolongname.img" (upper-cased "TOOLONGNAME.IMG") is not a valid ISO 9660 level-1 name: longer than 8 characters`},
		{"long extension", []isowrite.File{bytesFile("coreos/kargs.json", "")}, isowrite.WriteOptions{}, "extension longer than 3 characters"},
		{"dash", []isowrite.File{bytesFile("a-b.txt", "")}, isowrite.WriteOptions{}, `character '-' is not one of A-Z, 0-9, _`},
		{"two dots", []isowrite.File{bytesFile("a.b.c", "")}, isowrite.WriteOptions{}, "more than one dot"},
		{"leading dot", []isowrite.File{bytesFile(".cmdline", "")}, isowrite.WriteOptions{}, "empty name before the dot"},
		{"dot in directory", []isowrite.File{bytesFile("a.d/x", "")}, isowrite.WriteOptions{}, `directory name "a.d"`},
		{"long directory", []isowrite.File{bytesFile("directory/x", "")}, isowrite.WriteOptions{}, `directory name "directory"`},
		{"non-ASCII", []isowrite.File{bytesFile("é.txt", "")}, isowrite.WriteOptions{}, "not a valid ISO 9660 level-1 name"},
		{"absolute", []isowrite.File{bytesFile("/a.txt", "")}, isowrite.WriteOptions{}, `invalid path component ""`},
		{"empty component", []isowrite.File{bytesFile("a//b.txt", "")}, isowrite.WriteOptions{}, `invalid path component ""`},
		{"dot dot", []isowrite.File{bytesFile("a/../b.txt", "")}, isowrite.WriteOptions{}, `invalid path component ".."`},
		{"empty path", []isowrite.File{bytesFile("", "")}, isowrite.WriteOptions{}, `invalid path component ""`},
		{"too deep", []isowrite.File{bytesFile("a/b/c/d/e/f/g/h/x", "")}, isowrite.WriteOptions{}, "more than 7 directory levels"},
		{"duplicate", []isowrite.File{ok, bytesFile("OK.TXT", "")}, isowrite.WriteOptions{}, `duplicate ISO 9660 path OK.TXT (already used by "ok.txt")`},
		{"file then directory", []isowrite.File{bytesFile("a", ""), bytesFile("a/b", "")}, isowrite.WriteOptions{}, `"a" is also a file`},
		{"directory then file", []isowrite.File{bytesFile("a/b", ""), bytesFile("a", "")}, isowrite.WriteOptions{}, `"a" is also a directory`},
		{"directory spellings", []isowrite.File{bytesFile("efi/a", ""), bytesFile("EFI/b", "")}, isowrite.WriteOptions{}, `directory "EFI" is also spelled "efi"`},
		{"Rock Ridge components", []isowrite.File{{Path: "a/b.txt", RRPath: "b.txt", Open: ok.Open}}, isowrite.WriteOptions{}, "has 1 components, want 2"},
		{"Rock Ridge duplicate", []isowrite.File{{Path: "a.txt", RRPath: "x", Open: ok.Open}, {Path: "b.txt", RRPath: "x", Open: ok.Open}}, isowrite.WriteOptions{}, `Rock Ridge name "x" is also used`},
		{"Rock Ridge name too long", []isowrite.File{{Path: "a.txt", RRPath: strings.Repeat("n", 161), Open: ok.Open}}, isowrite.WriteOptions{}, "longer than 160 bytes"},
		{"4 GiB", []isowrite.File{{Path: "big.img", Size: 1 << 32, Open: ok.Open}}, isowrite.WriteOptions{}, "exceeds the ISO 9660 single-extent limit of 4294967295 bytes"},
		{"negative size", []isowrite.File{{Path: "neg.img", Size: -1, Open: ok.Open}}, isowrite.WriteOptions{}, "negative size"},
		{"nil Open", []isowrite.File{{Path: "nil.img"}}, isowrite.WriteOptions{}, "nil Open"},
		{"volume ID too long", nil, isowrite.WriteOptions{VolumeID: strings.Repeat("v", 33)}, "longer than 32 characters"},
		{"volume ID char", nil, isowrite.WriteOptions{VolumeID: "a\tb"}, `character '\t' is not allowed`},
		{"system ID char", nil, isowrite.WriteOptions{SystemID: "ü"}, "system ID"},
		{"mod time", nil, isowrite.WriteOptions{ModTime: time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC)}, "outside the years 1900–2155"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := isowrite.Write(&buf, tc.files, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Write = %v, want an error containing %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "write ISO: ") {
				t.Errorf("error %q lacks the \"write ISO: \" context", err)
			}
			if buf.Len() != 0 {
				t.Errorf("Write wrote %d bytes before failing validation", buf.Len())
			}
		})
	}
}

type closeRecorder struct {
	io.Reader
	closed *bool
}

func (c closeRecorder) Close() error { *c.closed = true; return nil }

func TestWriteReaderErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		f    isowrite.File
		want string
		is   error
	}{
		{"open fails", isowrite.File{Path: "a.txt", Size: 1, Open: func() (io.Reader, error) { return nil, boom }}, `open "a.txt": boom`, boom},
		{"short", isowrite.File{Path: "a.txt", Size: 10, Open: func() (io.Reader, error) { return strings.NewReader("abc"), nil }}, "reader returned 3 bytes, declared size is 10", io.ErrUnexpectedEOF},
		{"long", isowrite.File{Path: "a.txt", Size: 2, Open: func() (io.Reader, error) { return strings.NewReader("abc"), nil }}, "more bytes than the declared size", nil},
		{"read fails", isowrite.File{Path: "a.txt", Size: 10, Open: func() (io.Reader, error) { return io.MultiReader(strings.NewReader("ab"), errReader{boom}), nil }}, `copy "a.txt": boom`, boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := isowrite.Write(io.Discard, []isowrite.File{tc.f}, isowrite.WriteOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Write = %v, want an error containing %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.is)
			}
		})
	}
	closed := false
	f := isowrite.File{Path: "a.txt", Size: 3, Open: func() (io.Reader, error) {
		return closeRecorder{strings.NewReader("abc"), &closed}, nil
	}}
	if err := isowrite.Write(io.Discard, []isowrite.File{f}, isowrite.WriteOptions{}); err != nil || !closed {
		t.Errorf("Write = %v, closed = %v; want the reader closed", err, closed)
	}
	if err := isowrite.Write(failWriter{}, []isowrite.File{f}, isowrite.WriteOptions{}); err == nil {
		t.Error("Write to a failing writer succeeded")
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// headWriter keeps the first bytes written and counts the rest, so a
// multi-GiB image of zeros can be checked without storing it.
type headWriter struct {
	head  []byte
	limit int
	n     int64
}

func (w *headWriter) Write(p []byte) (int, error) {
	if room := w.limit - len(w.head); room > 0 {
		w.head = append(w.head, p[:min(room, len(p))]...)
	}
	w.n += int64(len(p))
	return len(p), nil
}

// sparseImage serves head and zeros after it.
type sparseImage struct{ head []byte }

func (s sparseImage) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	if off < int64(len(s.head)) {
		copy(p, s.head[off:])
	}
	return len(p), nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestWriteLargeFile streams a file of the maximum size, 4 GiB − 1 bytes.
func TestWriteLargeFile(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 4 GiB")
	}
	const size = isowrite.MaxFileSize
	files := []isowrite.File{
		{Path: "images/pxeboot/rootfs.img", Size: size, Open: func() (io.Reader, error) { return io.LimitReader(zeros{}, size), nil }},
		bytesFile("zz/after.txt", "after\n"),
	}
	w := &headWriter{limit: 64 << 10}
	if err := isowrite.Write(w, files, isowrite.WriteOptions{VolumeID: "BIG"}); err != nil {
		t.Fatal(err)
	}
	im, err := iso.Open(sparseImage{w.head}, w.n)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := im.Lookup("IMAGES/PXEBOOT/ROOTFS.IMG")
	if err != nil || rec.Length != size {
		t.Fatalf("Lookup(rootfs) = %+v, %v, want length %d", rec, err, int64(size))
	}
	after, err := im.Lookup("ZZ/AFTER.TXT")
	if err != nil || after.Offset != rec.Offset+(size+2047)/2048*2048 || after.Offset+2048 != w.n {
		t.Errorf("Lookup(ZZ/AFTER.TXT) = %+v, %v; image is %d bytes", after, err, w.n)
	}
}

// TestXorrisoWriter checks the writer's extents and Rock Ridge names
// against xorriso.
func TestXorrisoWriter(t *testing.T) {
	fixture.NeedTool(t, "xorriso")
	files := testFiles()
	data := writeImage(t, files, isowrite.WriteOptions{VolumeID: "XORRISO-CHECK"})
	path := filepath.Join(t.TempDir(), "w.iso")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	got := fixture.XorrisoExtents(t, path)
	im := openBytes(t, data)
	for _, f := range files {
		rr := f.Path
		if f.RRPath != "" {
			rr = f.RRPath
		}
		x, ok := got[rr]
		if !ok {
			t.Errorf("xorriso does not list %s (Rock Ridge name)", rr)
			continue
		}
		rec, err := im.Lookup(strings.ToUpper(f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if x[0]*2048 != rec.Offset || x[1] != rec.Length {
			t.Errorf("%s: xorriso says LBA %d size %d, reader says offset %d length %d", rr, x[0], x[1], rec.Offset, rec.Length)
		}
	}
	if len(got) != len(files) {
		t.Errorf("xorriso lists %d files, want %d", len(got), len(files))
	}
}
