package iso

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"time"
)

// TreeKind tells which directory hierarchy a Tree is.
type TreeKind int

// The kinds of directory trees an image can hold.
const (
	PrimaryTree TreeKind = iota // ECMA-119 primary tree (with Rock Ridge if present)
	JolietTree                  // Joliet supplementary tree (UCS-2BE names)
	ISO1999Tree                 // ISO 9660:1999 enhanced tree (version 2 descriptor)
)

// String returns "primary", "joliet" or "iso9660:1999".
func (k TreeKind) String() string {
	switch k {
	case PrimaryTree:
		return "primary"
	case JolietTree:
		return "joliet"
	case ISO1999Tree:
		return "iso9660:1999"
	}
	return fmt.Sprintf("TreeKind(%d)", int(k))
}

// Limits that keep corrupt images from costing unbounded memory or work.
const (
	maxDirExtent   = 16 << 20 // bytes of one directory extent
	maxEntries     = 1 << 20  // entries visited by one Walk
	maxDescriptors = 64       // volume descriptors of one set
)

// readFn reads len(buf) bytes at an absolute offset.
type readFn func(buf []byte, off int64) error

// Tree is one directory hierarchy of an image: the primary tree (with Rock
// Ridge names if present), a Joliet tree, an ISO 9660:1999 tree, or one of
// their twins in a descriptor set at a partition offset. Its methods read
// the image on demand and may be called concurrently.
type Tree struct {
	Kind       TreeKind
	Descriptor int64 // byte offset of its volume descriptor
	Base       int64 // byte offset its LBAs are relative to: 0, or the partition offset of a twin set
	RockRidge  bool  // SUSP/Rock Ridge names in use (primary tree)

	im      *Image
	joliet  int    // Joliet level 1–3
	skip    int    // SUSP skip bytes (SP entry)
	volSize uint32 // volume space size at open, in sectors
	ptSize  uint32 // path table size in bytes
	ptLocs  [4]ptLoc
}

// ptLoc is one path table: its LBA (relative to Base) and byte order.
type ptLoc struct {
	lba       uint32
	bigEndian bool
}

// Entry is one file or directory of a Tree.
type Entry struct {
	Name    string  // the tree's name: Rock Ridge NM, decoded Joliet, or ISO 9660 (";1" and a trailing "." dropped)
	Path    string  // slash-separated from the root, e.g. "syslinux/syslinux.cfg" ("" for the root)
	IsDir   bool    //
	Offset  int64   // absolute byte offset of the data: Base + LBA*2048 (first part of a multi-extent file)
	Length  int64   // data length in bytes (sum of the parts of a multi-extent file)
	Records []int64 // absolute byte offsets of its directory record(s); for the root, of the root record in the descriptor

	parts [][2]int64 // absolute offset and length of each extent
}

// dent is one directory record as read.
type dent struct {
	name    string
	id      []byte
	isDir   bool
	flags   byte
	lba     uint32
	length  uint32
	off     int64 // absolute offset of the record
	rec     []byte
	su      susp
	special int // 1 for ".", 2 for ".."
}

// Trees returns every directory tree of the volume descriptor set at sector
// 16 and of the twin set at each base given (a byte offset; that set's
// descriptors start at base + 16*2048 and a missing CD001 there is an error).
// A set yields its first primary tree, its first Joliet tree and its first
// ISO 9660:1999 tree; other supplementary descriptors are ignored.
func (im *Image) Trees(twinBases ...int64) ([]*Tree, error) {
	trees, err := im.descriptorSet(0)
	if err != nil {
		return nil, err
	}
	for _, b := range twinBases {
		if b < 0 || b >= im.size {
			return nil, fmt.Errorf("twin descriptor set at base %d: outside the %d-byte image", b, im.size)
		}
		ts, err := im.descriptorSet(b)
		if err != nil {
			return nil, fmt.Errorf("twin descriptor set at base %d: %w", b, err)
		}
		trees = append(trees, ts...)
	}
	return trees, nil
}

func (im *Image) descriptorSet(base int64) ([]*Tree, error) {
	var trees []*Tree
	have := map[TreeKind]bool{}
	buf := make([]byte, SectorSize)
	for i := 0; ; i++ {
		off := base + firstDescriptorSector*SectorSize + int64(i)*SectorSize
		if i >= maxDescriptors {
			return nil, &FormatError{Offset: off, What: "volume descriptor", Err: fmt.Errorf("no terminator within %d descriptors", maxDescriptors)}
		}
		if err := im.readAt(buf, off); err != nil {
			return nil, &FormatError{Offset: off, What: "volume descriptor", Err: err}
		}
		if string(buf[1:6]) != "CD001" {
			return nil, &FormatError{Offset: off, What: "volume descriptor", Err: errUnknownID}
		}
		kind := TreeKind(-1)
		switch {
		case buf[0] == TypeTerminator:
			if !have[PrimaryTree] {
				return nil, &FormatError{Offset: base + firstDescriptorSector*SectorSize, What: "volume descriptor set", Err: errNoPrimary}
			}
			return trees, nil
		case buf[0] == TypePrimary:
			kind = PrimaryTree
		case buf[0] == TypeSupplementary && buf[6] == 2:
			kind = ISO1999Tree
		case buf[0] == TypeSupplementary && jolietLevel(buf) > 0:
			kind = JolietTree
		}
		if kind < 0 || have[kind] {
			continue
		}
		t, err := im.newTree(kind, base, off, buf)
		if err != nil {
			return nil, err
		}
		have[kind] = true
		trees = append(trees, t)
	}
}

func (im *Image) newTree(kind TreeKind, base, off int64, d []byte) (*Tree, error) {
	t := &Tree{Kind: kind, Descriptor: off, Base: base, im: im}
	what := kind.String() + " volume descriptor: root directory record"
	if kind == JolietTree {
		t.joliet = jolietLevel(d)
	}
	t.volSize = binary.LittleEndian.Uint32(d[80:])
	t.ptSize = binary.LittleEndian.Uint32(d[132:])
	t.ptLocs = [4]ptLoc{
		{binary.LittleEndian.Uint32(d[140:]), false},
		{binary.LittleEndian.Uint32(d[144:]), false},
		{binary.BigEndian.Uint32(d[148:]), true},
		{binary.BigEndian.Uint32(d[152:]), true},
	}
	root, err := t.rootDent(d, off)
	if err != nil {
		return nil, &FormatError{Offset: off + rootRecordOffset, What: what, Err: err}
	}
	if err := t.checkExtent(int64(root.lba), int64(root.length)); err != nil {
		return nil, &FormatError{Offset: off + rootRecordOffset, What: what, Err: err}
	}
	if kind == PrimaryTree && root.length > 0 {
		// Rock Ridge: an SP entry in the System Use area of the root ".".
		first := make([]byte, min(SectorSize, int64(root.length)))
		if err := im.readAt(first, t.abs(root.lba)); err != nil {
			return nil, &FormatError{Offset: t.abs(root.lba), What: "root directory", Err: err}
		}
		if l := int(first[0]); l >= recMinLen && l <= len(first) && recName+int(first[recNameLen]) <= l {
			s, _ := parseSUSP(im.readAt, systemUse(first[:l]), 0, base)
			if s.sp {
				t.RockRidge, t.skip = true, s.spSkip
			}
		}
	}
	return t, nil
}

// rootDent decodes the root directory record of the descriptor d at off.
func (t *Tree) rootDent(d []byte, off int64) (dent, error) {
	b := d[rootRecordOffset : rootRecordOffset+rootRecordLen]
	if b[0] < recMinLen {
		return dent{}, fmt.Errorf("record length %d is shorter than %d", b[0], recMinLen)
	}
	if b[recFlags]&flagDirectory == 0 {
		return dent{}, fmt.Errorf("not a directory")
	}
	return dent{
		isDir:  true,
		flags:  b[recFlags],
		lba:    binary.LittleEndian.Uint32(b[recLBA:]),
		length: binary.LittleEndian.Uint32(b[recDataLength:]),
		off:    off + rootRecordOffset,
		rec:    append([]byte(nil), b...),
	}, nil
}

// abs returns the absolute byte offset of the tree-relative lba.
func (t *Tree) abs(lba uint32) int64 { return t.Base + int64(lba)*SectorSize }

func (t *Tree) checkExtent(lba, length int64) error { return t.checkExtentIn(lba, length, t.im.size) }

// checkExtentIn fails unless the extent lies below limit.
func (t *Tree) checkExtentIn(lba, length, limit int64) error {
	off := t.Base + lba*SectorSize
	if off > limit || length > limit-off {
		return fmt.Errorf("extent [%d, %d) beyond end of image (%d bytes)", off, off+length, limit)
	}
	return nil
}

func (t *Tree) describe(path string) string {
	return t.Kind.String() + " tree: " + describeDir(path)
}

// root reads the root record from the descriptor through rd.
func (t *Tree) root(rd readFn) (dent, error) {
	d := make([]byte, SectorSize)
	if err := rd(d, t.Descriptor); err != nil {
		return dent{}, &FormatError{Offset: t.Descriptor, What: t.Kind.String() + " volume descriptor", Err: err}
	}
	r, err := t.rootDent(d, t.Descriptor)
	if err != nil {
		return dent{}, &FormatError{Offset: t.Descriptor + rootRecordOffset, What: t.Kind.String() + " volume descriptor: root directory record", Err: err}
	}
	return r, nil
}

// readDir reads the records of the directory extent (lba, length) through
// rd, including "." and "..".
func (t *Tree) readDir(rd readFn, limit int64, lba, length uint32, path string) ([]dent, error) {
	start := t.abs(lba)
	if length > maxDirExtent {
		return nil, &FormatError{Offset: start, What: t.describe(path), Err: fmt.Errorf("directory extent of %d bytes exceeds the %d-byte limit", length, maxDirExtent)}
	}
	buf := make([]byte, length)
	if err := rd(buf, start); err != nil {
		return nil, &FormatError{Offset: start, What: t.describe(path), Err: err}
	}
	var out []dent
	for pos := 0; pos < len(buf); {
		l := int(buf[pos])
		if l == 0 {
			pos = (pos/SectorSize + 1) * SectorSize
			continue
		}
		if l < recMinLen || l > len(buf)-pos {
			return nil, &FormatError{Offset: start + int64(pos), What: t.describe(path), Err: errIncompleteRecord}
		}
		b := buf[pos : pos+l]
		nl := int(b[recNameLen])
		if recName+nl > l {
			return nil, &FormatError{Offset: start + int64(pos), What: t.describe(path), Err: fmt.Errorf("identifier length %d overruns directory record of %d bytes", nl, l)}
		}
		d := dent{
			id:     b[recName : recName+nl],
			isDir:  b[recFlags]&flagDirectory != 0,
			flags:  b[recFlags],
			lba:    binary.LittleEndian.Uint32(b[recLBA:]),
			length: binary.LittleEndian.Uint32(b[recDataLength:]),
			off:    start + int64(pos),
			rec:    b,
		}
		if nl == 1 && d.id[0] <= 1 {
			d.special = int(d.id[0]) + 1
		} else {
			if t.Kind == PrimaryTree && t.RockRidge {
				s, err := parseSUSP(rd, systemUse(b), t.skip, t.Base)
				if err != nil {
					return nil, &FormatError{Offset: d.off, What: t.describe(path) + ": Rock Ridge", Err: err}
				}
				d.su = s
			}
			d.name = t.decodeName(d)
		}
		if err := t.checkExtentIn(int64(d.lba), int64(d.length), limit); err != nil && d.special == 0 {
			return nil, &FormatError{Offset: d.off, What: t.describe(path), Err: err}
		}
		out = append(out, d)
		pos += l
	}
	return out, nil
}

func (t *Tree) decodeName(d dent) string {
	switch {
	case t.Kind == JolietTree:
		return stripVersion(decodeUCS2(d.id))
	case t.RockRidge && d.su.hasNM:
		return d.su.name
	}
	return isoName(d.id)
}

// isoName decodes an ISO 9660 identifier: a NUL ends it, a version and
// then a trailing "." are dropped.
func isoName(id []byte) string {
	if i := strings.IndexByte(string(id), 0); i >= 0 {
		id = id[:i]
	}
	s := stripVersion(string(id))
	return strings.TrimSuffix(s, ".")
}

// entries merges the records of a directory into entries: "." and "..",
// and Rock Ridge relocated directories (RE), are left out; the parts of a
// multi-extent file become one entry.
func (t *Tree) entries(ds []dent, dir string) []Entry {
	var out []Entry
	for i := 0; i < len(ds); i++ {
		d := ds[i]
		if d.special != 0 || d.su.hidden {
			continue
		}
		e := Entry{Name: d.name, Path: joinPath(dir, d.name), IsDir: d.isDir, Offset: t.abs(d.lba)}
		for {
			e.Records = append(e.Records, d.off)
			e.parts = append(e.parts, [2]int64{t.abs(d.lba), int64(d.length)})
			e.Length += int64(d.length)
			if d.flags&0x80 == 0 || i+1 >= len(ds) || ds[i+1].special != 0 {
				break
			}
			i++
			d = ds[i]
		}
		out = append(out, e)
	}
	return out
}

func (t *Tree) rootEntry(r dent) Entry {
	return Entry{IsDir: true, Offset: t.abs(r.lba), Length: int64(r.length), Records: []int64{r.off}, parts: [][2]int64{{t.abs(r.lba), int64(r.length)}}}
}

// resolve looks path up through rd, returning its entry and, for
// directories, its records.
func (t *Tree) resolve(rd readFn, limit int64, path string) (Entry, error) {
	r, err := t.root(rd)
	if err != nil {
		return Entry{}, err
	}
	cur := t.rootEntry(r)
	for _, c := range splitPath(path) {
		if !cur.IsDir {
			return Entry{}, fmt.Errorf("look up %q in the %s tree: %s is not a directory: %w", path, t.Kind, cur.Path, ErrNotFound)
		}
		ds, err := t.readDir(rd, limit, uint32((cur.Offset-t.Base)/SectorSize), uint32(cur.Length), cur.Path)
		if err != nil {
			return Entry{}, fmt.Errorf("look up %q: %w", path, err)
		}
		found := false
		for _, e := range t.entries(ds, cur.Path) {
			if strings.EqualFold(e.Name, c) {
				cur, found = e, true
				break
			}
		}
		if !found {
			return Entry{}, fmt.Errorf("look up %q in the %s tree: %s: %w", path, t.Kind, joinPath(cur.Path, c), ErrNotFound)
		}
	}
	return cur, nil
}

// Lookup resolves a "/"-separated path (a leading slash is optional, "."
// and ".." are handled like Image.Lookup) comparing each component
// case-insensitively with the tree's names. A missing component matches
// ErrNotFound and fs.ErrNotExist.
func (t *Tree) Lookup(path string) (Entry, error) { return t.resolve(t.im.readAt, t.im.size, path) }

// ReadDir lists the directory at path in on-disk order, without "." and
// "..".
func (t *Tree) ReadDir(path string) ([]Entry, error) {
	d, err := t.Lookup(path)
	if err != nil {
		return nil, err
	}
	if !d.IsDir {
		return nil, fmt.Errorf("read directory %q in the %s tree: not a directory", path, t.Kind)
	}
	ds, err := t.readDir(t.im.readAt, t.im.size, uint32((d.Offset-t.Base)/SectorSize), uint32(d.Length), d.Path)
	if err != nil {
		return nil, fmt.Errorf("read directory %q: %w", path, err)
	}
	return t.entries(ds, d.Path), nil
}

// Walk visits the tree in pre-order (a directory, then its contents, in
// on-disk order), excluding the root, with the SkipDir/SkipAll rules of
// Image.Walk. A directory extent reached twice, more than 256 levels,
// directories adding up to more than the image size or more than 2^20
// entries are errors.
func (t *Tree) Walk(fn func(Entry) error) error {
	r, err := t.root(t.im.readAt)
	if err != nil {
		return err
	}
	w := &treeWalker{t: t, rd: t.im.readAt, fn: fn, seen: map[int64]bool{t.abs(r.lba): true}, budget: t.im.size - int64(r.length)}
	err = w.walk(t.rootEntry(r), 0)
	if err == fs.SkipAll || err == fs.SkipDir || err == errStop {
		return nil
	}
	return err
}

type treeWalker struct {
	t      *Tree
	rd     readFn
	fn     func(Entry) error
	seen   map[int64]bool
	budget int64
	n      int
}

func (w *treeWalker) walk(dir Entry, depth int) error {
	if depth >= maxDepth {
		return &FormatError{Offset: dir.Offset, What: w.t.describe(dir.Path), Err: fmt.Errorf("directory tree deeper than %d levels", maxDepth)}
	}
	ds, err := w.t.readDir(w.rd, w.t.im.size, uint32((dir.Offset-w.t.Base)/SectorSize), uint32(dir.Length), dir.Path)
	if err != nil {
		return err
	}
	for _, e := range w.t.entries(ds, dir.Path) {
		if w.n++; w.n > maxEntries {
			return &FormatError{Offset: dir.Offset, What: w.t.describe(dir.Path), Err: fmt.Errorf("more than %d entries", maxEntries)}
		}
		err := w.fn(e)
		if err == fs.SkipDir {
			if e.IsDir {
				continue
			}
			return nil
		}
		if err != nil {
			return err
		}
		if !e.IsDir || e.Length == 0 {
			continue
		}
		if w.seen[e.Offset] {
			return &FormatError{Offset: e.Offset, What: w.t.describe(e.Path), Err: fmt.Errorf("directory extent already visited (directory loop)")}
		}
		w.seen[e.Offset] = true
		if w.budget -= e.Length; w.budget < 0 {
			return &FormatError{Offset: e.Offset, What: w.t.describe(e.Path), Err: fmt.Errorf("directory extents add up to more than the image size (overlapping directories)")}
		}
		if err := w.walk(e, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// Section returns a reader over the data of e (all parts of a multi-extent
// file, in order).
func (t *Tree) Section(e Entry) *io.SectionReader {
	if len(e.parts) <= 1 {
		return io.NewSectionReader(t.im.r, e.Offset, e.Length)
	}
	return io.NewSectionReader(partsReader{t.im.r, e.parts}, 0, e.Length)
}

type partsReader struct {
	r     io.ReaderAt
	parts [][2]int64
}

func (p partsReader) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for _, pt := range p.parts {
		if len(b) == 0 {
			break
		}
		if off >= pt[1] {
			off -= pt[1]
			continue
		}
		k := min(int64(len(b)), pt[1]-off)
		m, err := p.r.ReadAt(b[:k], pt[0]+off)
		n += m
		if m < int(k) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		b, off = b[k:], 0
	}
	if len(b) > 0 {
		return n, io.EOF
	}
	return n, nil
}

// FS returns a read-only fs.FS view of the tree (fs.ReadDirFS and
// fs.ReadFileFS); names are matched case-insensitively like Lookup.
func (t *Tree) FS() fs.FS { return treeFS{t} }

type treeFS struct{ t *Tree }

func (f treeFS) lookup(op, name string) (Entry, error) {
	if !fs.ValidPath(name) {
		return Entry{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	e, err := f.t.Lookup(name)
	if err != nil {
		return Entry{}, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return e, nil
}

func (f treeFS) Open(name string) (fs.File, error) {
	e, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if e.IsDir {
		return &treeDir{fs: f, e: e, name: name}, nil
	}
	return &treeFile{e: e, r: f.t.Section(e), name: name}, nil
}

func (f treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	e, err := f.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if !e.IsDir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	ents, err := f.t.ReadDir(e.Path)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	out := make([]fs.DirEntry, 0, len(ents))
	for _, x := range ents {
		out = append(out, fs.FileInfoToDirEntry(entryInfo{x}))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

func (f treeFS) ReadFile(name string) ([]byte, error) {
	e, err := f.lookup("readfile", name)
	if err != nil {
		return nil, err
	}
	if e.IsDir {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errors.New("is a directory")}
	}
	buf := make([]byte, e.Length)
	if _, err := f.t.Section(e).ReadAt(buf, 0); err != nil && err != io.EOF {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: err}
	}
	return buf, nil
}

type entryInfo struct{ e Entry }

func (i entryInfo) Name() string {
	if i.e.Path == "" {
		return "."
	}
	return i.e.Name
}
func (i entryInfo) Size() int64 { return i.e.Length }
func (i entryInfo) Mode() fs.FileMode {
	if i.e.IsDir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i entryInfo) ModTime() time.Time { return time.Time{} }
func (i entryInfo) IsDir() bool        { return i.e.IsDir }
func (i entryInfo) Sys() any           { return nil }

type treeFile struct {
	e    Entry
	r    *io.SectionReader
	name string
}

func (f *treeFile) Stat() (fs.FileInfo, error) { return entryInfo{f.e}, nil }
func (f *treeFile) Read(b []byte) (int, error) { return f.r.Read(b) }
func (f *treeFile) ReadAt(b []byte, off int64) (int, error) {
	return f.r.ReadAt(b, off)
}
func (f *treeFile) Seek(off int64, whence int) (int64, error) { return f.r.Seek(off, whence) }
func (f *treeFile) Close() error                              { return nil }

type treeDir struct {
	fs   treeFS
	e    Entry
	name string
	ents []fs.DirEntry
	read bool
}

func (d *treeDir) Stat() (fs.FileInfo, error) { return entryInfo{d.e}, nil }
func (d *treeDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}
func (d *treeDir) Close() error { return nil }
func (d *treeDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		ents, err := d.fs.ReadDir(d.name)
		if err != nil {
			return nil, err
		}
		d.ents, d.read = ents, true
	}
	if n <= 0 {
		out := d.ents
		d.ents = nil
		return out, nil
	}
	if len(d.ents) == 0 {
		return nil, io.EOF
	}
	k := min(n, len(d.ents))
	out := d.ents[:k]
	d.ents = d.ents[k:]
	return out, nil
}
