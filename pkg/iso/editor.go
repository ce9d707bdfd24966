package iso

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"sort"
	"strings"
	"unicode/utf16"
)

// Target receives the bytes of an edit. *overlay.Image (package overlay)
// implements it. Patch replaces bytes inside the base image (the Editor
// never sends overlapping patches); Append adds bytes after the current end
// and returns the offset where they start.
type Target interface {
	Patch(off int64, data []byte) error
	Append(r io.ReaderAt, n int64) (int64, error)
}

// Editor adds and replaces files of an image without rebuilding it
// ("append and repoint"): new file data and moved directories are appended
// after the image end, and the directory records, path tables and volume
// descriptors of every tree are patched to point at them. El Torito images,
// the boot catalog and file extents are never rewritten; only the bytes
// that must change are patched.
//
// Every edit is planned in memory: appended bytes and patches reach the
// Target only in Finish, in order, so several AddFile/ReplaceFile calls
// compose (a directory moved by one call can be rewritten by the next).
type Editor struct {
	im     *Image
	trees  []*Tree
	target Target
	end    int64 // where appended data starts
	cur    int64 // end of the data appended so far
	err    error // from NewEditor or a failed Finish

	sectors  map[int64][]byte // edited base sectors by absolute offset
	chunks   []chunk          // appended, in order from end
	serials  map[*Tree]uint32 // next Rock Ridge PX serial per tree
	styles   map[*Tree]int    // primary-tree name length limit (see nameStyle)
	tables   map[*Tree]ptInfo // path tables rewritten by MkdirAll (else the descriptor's)
	stale    map[*Tree]bool   // trees whose path tables MkdirAll is about to rewrite
	lower    map[*Tree]bool   // primary tree has lower-case names (see treeLower)
	finished bool
}

// chunk is one appended run: file data (r) or metadata kept in memory (buf).
type chunk struct {
	off, n int64
	r      io.ReaderAt
	buf    []byte
}

// NewEditor returns an editor of im for the given trees (usually all of
// im.Trees(...)) writing to t. end is where appended data starts: the base
// image size rounded up to 2048; the caller guarantees that t's current end
// equals end (the Editor pads its own data to 2048 bytes).
func NewEditor(im *Image, trees []*Tree, t Target, end int64) *Editor {
	e := &Editor{im: im, trees: trees, target: t, end: end, cur: end, sectors: map[int64][]byte{}, serials: map[*Tree]uint32{}, styles: map[*Tree]int{}, tables: map[*Tree]ptInfo{}, stale: map[*Tree]bool{}, lower: map[*Tree]bool{}}
	switch {
	case end%SectorSize != 0 || end < im.size:
		e.err = fmt.Errorf("edit ISO: appended data must start at a multiple of 2048 at or after the %d-byte image, not at %d", im.size, end)
	case len(trees) == 0:
		e.err = errors.New("edit ISO: no trees given")
	}
	for _, tr := range trees {
		if tr.im != im && e.err == nil {
			e.err = fmt.Errorf("edit ISO: the %s tree at offset %d belongs to another image", tr.Kind, tr.Descriptor)
		}
		if tr.Base%SectorSize != 0 && e.err == nil {
			e.err = fmt.Errorf("edit ISO: the %s tree's base %d is not a multiple of 2048", tr.Kind, tr.Base)
		}
	}
	return e
}

// End returns the end of the data appended so far (a multiple of 2048): the
// volume end after Finish.
func (e *Editor) End() int64 { return e.cur }

func (e *Editor) check(op, path string) error {
	if e.err != nil {
		return e.err
	}
	if e.finished {
		return fmt.Errorf("%s %q: editor already finished", op, path)
	}
	return nil
}

// readMeta reads metadata as edited so far: appended metadata chunks,
// edited sectors, else the base image (zeros between its end and end).
func (e *Editor) readMeta(buf []byte, off int64) error {
	if off < 0 {
		return fmt.Errorf("read at negative offset %d", off)
	}
	for len(buf) > 0 {
		sec := off &^ (SectorSize - 1)
		in := off - sec
		k := min(int64(len(buf)), SectorSize-in)
		switch s, ok := e.sectors[sec]; {
		case off >= e.end:
			c := e.chunkAt(off)
			if c == nil || c.buf == nil {
				return fmt.Errorf("read of %d bytes at offset %d: not appended metadata (volume end %d): %w", len(buf), off, e.cur, io.ErrUnexpectedEOF)
			}
			copy(buf[:k], c.buf[off-c.off:])
		case ok:
			copy(buf[:k], s[in:])
		default:
			if err := e.readBase(buf[:k], off); err != nil {
				return err
			}
		}
		buf, off = buf[k:], off+k
	}
	return nil
}

// readBase reads base bytes below end; bytes past the image size are zero.
func (e *Editor) readBase(buf []byte, off int64) error {
	n := max(0, min(int64(len(buf)), e.im.size-off))
	if n > 0 {
		if err := e.im.readAt(buf[:n], off); err != nil {
			return err
		}
	}
	clear(buf[n:])
	return nil
}

func (e *Editor) chunkAt(off int64) *chunk {
	i := sort.Search(len(e.chunks), func(i int) bool { return e.chunks[i].off+e.chunks[i].n > off })
	if i < len(e.chunks) && e.chunks[i].off <= off {
		return &e.chunks[i]
	}
	return nil
}

// writeMeta replaces metadata bytes at off (base sectors or appended
// metadata).
func (e *Editor) writeMeta(off int64, data []byte) error {
	for len(data) > 0 {
		sec := off &^ (SectorSize - 1)
		in := off - sec
		k := min(int64(len(data)), SectorSize-in)
		if off >= e.end {
			c := e.chunkAt(off)
			if c == nil || c.buf == nil {
				return fmt.Errorf("write at offset %d: not appended metadata", off)
			}
			copy(c.buf[off-c.off:], data[:k])
		} else {
			if off+k > e.im.size {
				return fmt.Errorf("write of metadata at offset %d beyond the %d-byte image", off, e.im.size)
			}
			s, ok := e.sectors[sec]
			if !ok {
				s = make([]byte, SectorSize)
				if err := e.readBase(s, sec); err != nil {
					return err
				}
				e.sectors[sec] = s
			}
			copy(s[in:], data[:k])
		}
		data, off = data[k:], off+k
	}
	return nil
}

func (e *Editor) appendChunk(c chunk) int64 {
	c.off = e.cur
	e.chunks = append(e.chunks, c)
	e.cur += c.n
	return c.off
}

type zeros struct{}

func (zeros) ReadAt(b []byte, _ int64) (int, error) { clear(b); return len(b), nil }

// appendData plans size bytes of r, zero padded to 2048, and returns where
// they start.
func (e *Editor) appendData(r io.ReaderAt, size int64) int64 {
	off := e.cur
	if size == 0 {
		return off
	}
	e.appendChunk(chunk{n: size, r: r})
	if pad := (SectorSize - size%SectorSize) % SectorSize; pad > 0 {
		e.appendChunk(chunk{n: pad, r: zeros{}})
	}
	return off
}

// relLBA returns the tree-relative LBA of the absolute offset off.
func relLBA(t *Tree, off int64) (uint32, error) {
	rel := (off - t.Base) / SectorSize
	if off < t.Base || (off-t.Base)%SectorSize != 0 || rel > math.MaxUint32 {
		return 0, fmt.Errorf("offset %d cannot be addressed by the %s tree with base %d", off, t.Kind, t.Base)
	}
	return uint32(rel), nil
}

func putBoth32(b []byte, v uint32) {
	binary.LittleEndian.PutUint32(b, v)
	binary.BigEndian.PutUint32(b[4:], v)
}

func both32(v uint32) []byte {
	b := make([]byte, 8)
	putBoth32(b, v)
	return b
}

// setExtent patches the LBA and data length of the record at off.
func (e *Editor) setExtent(off int64, lba, length uint32) error {
	if err := e.writeMeta(off+recLBA, both32(lba)); err != nil {
		return err
	}
	return e.writeMeta(off+recDataLength, both32(length))
}

// Reserve plans size bytes of r, zero padded to 2048, to be appended inside
// the volume but in no tree (for data found by other means, such as a
// record at a known place), and returns the offset where they will start.
func (e *Editor) Reserve(r io.ReaderAt, size int64) (int64, error) {
	if err := e.check("reserve", ""); err != nil {
		return 0, err
	}
	if size < 0 || (size > 0 && r == nil) {
		return 0, fmt.Errorf("reserve %d bytes: invalid size or nil reader", size)
	}
	return e.appendData(r, size), nil
}

// bootExtent reports whether off is the El Torito catalog or the start of
// a boot image named by it.
func (e *Editor) bootExtent(off int64) bool {
	cat, ok := e.im.ElTorito()
	if !ok {
		return false
	}
	if off == int64(cat)*SectorSize {
		return true
	}
	entries, _ := e.im.BootCatalog()
	for _, b := range entries {
		if off == int64(b.LoadRBA)*SectorSize {
			return true
		}
	}
	return false
}

// ReplaceFile appends size bytes of r as the new data of the file at path
// and repoints its record in every tree (LBA and length, both halves; twin
// trees get LBAs relative to their base). Directories, multi-extent files, El
// Torito boot images and the boot catalog are refused, as are
// zisofs-compressed files (Rock Ridge ZF), and a tree
// lacking the file is an error. The old extent is left as it is.
func (e *Editor) ReplaceFile(path string, r io.ReaderAt, size int64) error {
	if err := e.check("replace", path); err != nil {
		return err
	}
	if size < 0 || size > math.MaxUint32 {
		return fmt.Errorf("replace %q: size %d is not 0..4294967295 (multi-extent files are not written)", path, size)
	}
	recs := make([]int64, len(e.trees))
	for i, t := range e.trees {
		ent, err := t.resolve(e.readMeta, e.cur, path)
		if err != nil {
			return fmt.Errorf("replace %q: %w", path, err)
		}
		if ent.IsDir {
			return fmt.Errorf("replace %q: a directory in the %s tree", path, t.Kind)
		}
		if e.bootExtent(ent.Offset) {
			return fmt.Errorf("replace %q: the El Torito boot catalog or a boot image, which is never moved; refusing", path)
		}
		if len(ent.Records) != 1 {
			return fmt.Errorf("replace %q: a multi-extent file in the %s tree (%d records); refusing", path, t.Kind, len(ent.Records))
		}
		if t.Kind == PrimaryTree && t.RockRidge {
			b := make([]byte, 255)
			if err := e.readMeta(b[:1], ent.Records[0]); err != nil {
				return fmt.Errorf("replace %q: %w", path, err)
			}
			b = b[:b[0]]
			if err := e.readMeta(b, ent.Records[0]); err != nil {
				return fmt.Errorf("replace %q: %w", path, err)
			}
			if len(b) >= recMinLen && recName+int(b[recNameLen]) <= len(b) {
				if s, _ := parseSUSP(e.readMeta, systemUse(b), t.skip, t.Base); s.zf {
					return fmt.Errorf("replace %q: zisofs-compressed (Rock Ridge ZF) in the %s tree; refusing", path, t.Kind)
				}
			}
		}
		recs[i] = ent.Records[0]
	}
	off := e.appendData(r, size)
	done := map[int64]uint32{} // records already patched (trees sharing a directory extent share them)
	for i, t := range e.trees {
		lba, err := relLBA(t, off)
		if err != nil {
			return fmt.Errorf("replace %q: %w", path, err)
		}
		if size == 0 {
			lba = 0
		}
		if prev, ok := done[recs[i]]; ok {
			if prev != lba {
				return fmt.Errorf("replace %q: the %s tree shares the record at offset %d with a tree of another base; refusing", path, t.Kind, recs[i])
			}
			continue
		}
		done[recs[i]] = lba
		if err := e.setExtent(recs[i], lba, uint32(size)); err != nil {
			return fmt.Errorf("replace %q in the %s tree: %w", path, t.Kind, err)
		}
	}
	return nil
}

// addPlan is the new record of one tree and where it goes.
type addPlan struct {
	t      *Tree
	parent Entry
	ds     []dent
	rec    []byte
}

// AddFile appends size bytes of r as a new file at path. The parent
// directory must exist in every tree and the name must not. In each tree a
// record is inserted, sorted, into the parent's directory extent, following
// the conventions of the parent's other files: upper-case d-character ECMA
// names with ";1" if the siblings have it, Joliet names with or without
// ";1" like the siblings, and for Rock Ridge the PX/TF entries of a sibling
// file (a fresh serial in a 44-byte PX) with a new NM. Siblings whose SUSP
// uses CE are not cloned. If the parent's extent has room it is rewritten
// in place; otherwise the directory is moved: its re-packed extent is
// appended, and its record in its parent (or the descriptor's root record),
// its "." (and ".." for the root), the ".." of each child directory and its
// L and M path table entries are repointed. Directories are never created
// here: MkdirAll makes missing parents.
func (e *Editor) AddFile(path string, r io.ReaderAt, size int64) error {
	if err := e.check("add", path); err != nil {
		return err
	}
	if size < 0 || size > math.MaxUint32 {
		return fmt.Errorf("add %q: size %d is not 0..4294967295 (multi-extent files are not written)", path, size)
	}
	comps := splitPath(path)
	if len(comps) == 0 {
		return fmt.Errorf("add %q: no file name", path)
	}
	leaf, parentPath := comps[len(comps)-1], strings.Join(comps[:len(comps)-1], "/")
	// Trees whose parent directory is one extent (genisoimage -iso-level 4
	// writes a single hierarchy for the primary and ISO 9660:1999
	// descriptors) get one record: the primary tree's (with its Rock Ridge
	// entries), named like the ISO 9660:1999 tree when it shares it.
	parents := make([]int64, len(e.trees))
	for i, t := range e.trees {
		parent, err := t.resolve(e.readMeta, e.cur, parentPath)
		if err != nil {
			return fmt.Errorf("add %q: %w", path, err)
		}
		parents[i] = parent.Offset
	}
	plans := make([]addPlan, 0, len(e.trees))
	for i, t := range e.trees {
		free := false
		for j, u := range e.trees {
			if t.Kind == PrimaryTree && u.Kind == ISO1999Tree && parents[j] == parents[i] {
				free = true
			}
		}
		p, err := e.planAdd(t, parentPath, leaf, size, free)
		if err != nil {
			return fmt.Errorf("add %q: %w", path, err)
		}
		plans = append(plans, p)
	}
	off := e.appendData(r, size)
	for i, p := range plans {
		if p.t == nil {
			continue // inserted with its group
		}
		group := []addPlan{p}
		for j := i + 1; j < len(plans); j++ {
			if q := plans[j]; q.t != nil && q.parent.Offset == p.parent.Offset {
				if q.t.Base != p.t.Base {
					return fmt.Errorf("add %q: the %s and %s trees share the directory at offset %d but have different bases; refusing", path, p.t.Kind, q.t.Kind, p.parent.Offset)
				}
				group = append(group, q)
				plans[j].t = nil
			}
		}
		lead := 0
		for k, q := range group {
			if q.t.Kind == PrimaryTree && (group[lead].t.Kind != PrimaryTree || q.t.RockRidge && !group[lead].t.RockRidge) {
				lead = k
			}
		}
		group[0], group[lead] = group[lead], group[0]
		lp := group[0]
		lba, err := relLBA(lp.t, off)
		if err != nil {
			return fmt.Errorf("add %q: %w", path, err)
		}
		if size == 0 {
			lba = 0
		}
		putBoth32(lp.rec[recLBA:], lba)
		if err := e.insert(group); err != nil {
			return fmt.Errorf("add %q in the %s tree: %w", path, lp.t.Kind, err)
		}
	}
	return nil
}

// planAdd plans the record of leaf in the tree's parentPath; free names it
// like an ISO 9660:1999 tree (the primary tree shares the parent's extent
// with one).
func (e *Editor) planAdd(t *Tree, parentPath, leaf string, size int64, free bool) (addPlan, error) {
	return e.planRecord(t, parentPath, leaf, free, func(ds []dent) ([]byte, error) { return e.newRecord(t, ds, leaf, size, free) })
}

// planRecord plans the record that mk builds for leaf in the tree's
// parentPath, after checking that the parent is a directory without leaf.
func (e *Editor) planRecord(t *Tree, parentPath, leaf string, free bool, mk func([]dent) ([]byte, error)) (addPlan, error) {
	parent, err := t.resolve(e.readMeta, e.cur, parentPath)
	if err != nil {
		return addPlan{}, err
	}
	if !parent.IsDir {
		return addPlan{}, fmt.Errorf("%s tree: parent %q is not a directory", t.Kind, parentPath)
	}
	lba, _ := relLBA(t, parent.Offset)
	ds, err := t.readDir(e.readMeta, e.cur, lba, uint32(parent.Length), parent.Path)
	if err != nil {
		return addPlan{}, err
	}
	if len(ds) < 2 || ds[0].special != 1 || ds[1].special != 2 {
		return addPlan{}, &FormatError{Offset: parent.Offset, What: t.describe(parent.Path), Err: errors.New(`does not start with "." and ".."`)}
	}
	for _, d := range ds {
		if d.special == 0 && strings.EqualFold(d.name, leaf) {
			return addPlan{}, fmt.Errorf("%s tree: %s: %w", t.Kind, joinPath(parent.Path, d.name), fs.ErrExist)
		}
	}
	rec, err := mk(ds)
	if err != nil {
		return addPlan{}, fmt.Errorf("%s tree: %w", t.Kind, err)
	}
	newID := stripVersion(string(rec[recName : recName+int(rec[recNameLen])]))
	for _, d := range ds {
		if d.special == 0 && strings.EqualFold(stripVersion(string(d.id)), newID) {
			return addPlan{}, fmt.Errorf("%s tree: identifier %q of %q is taken by %q: %w", t.Kind, newID, leaf, d.name, fs.ErrExist)
		}
	}
	return addPlan{t: t, parent: parent, ds: ds, rec: rec}, nil
}

// versionSuffix returns the ";1" of the tree's encoding.
func versionSuffix(t *Tree) []byte {
	if t.Kind == JolietTree {
		return []byte{0, ';', 0, '1'}
	}
	return []byte(";1")
}

// ecmaName maps name to upper-case d-characters with one "." separator;
// with keepCase (siblings written in mixed case, as xorriso does for some
// boot images) lower-case letters are kept.
func ecmaName(name string, keepCase bool) string {
	dot := strings.LastIndexByte(name, '.')
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case i == dot:
			b.WriteByte('.')
		case 'a' <= c && c <= 'z' && keepCase:
			b.WriteByte(c)
		case 'a' <= c && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

func (e *Editor) newRecord(t *Tree, ds []dent, leaf string, size int64, free bool) ([]byte, error) {
	if leaf == "" || strings.ContainsAny(leaf, "/\x00") || leaf == "." || leaf == ".." {
		return nil, fmt.Errorf("invalid file name %q", leaf)
	}
	suffix := versionSuffix(t)
	// Follow the sibling files: version suffix, dot without extension, template.
	withVersion := t.Kind == PrimaryTree
	sawFile, lower := false, false
	var tmpl *dent
	for i := range ds {
		d := &ds[i]
		if d.special == 0 && t.Kind == PrimaryTree && bytes.ContainsAny(d.id, "abcdefghijklmnopqrstuvwxyz") {
			lower = true
		}
		if d.special != 0 || d.isDir || d.su.hidden || d.flags&0x80 != 0 {
			continue
		}
		if !sawFile {
			withVersion, sawFile = false, true
		}
		if bytes.HasSuffix(d.id, suffix) {
			withVersion = true
		}
		if tmpl == nil && (!t.RockRidge || t.Kind != PrimaryTree || (d.su.pxLen > 0 && !d.su.ce && !d.su.zf && isRegular(systemUse(d.rec), t.skip))) {
			tmpl = d
		}
	}
	var id []byte
	switch t.Kind {
	case JolietTree:
		limit := 64
		for _, d := range ds {
			if d.special == 0 && len(d.id)/2 > 64 {
				limit = 103 // siblings use long Joliet names (xorriso -joliet-long)
			}
		}
		if n := len(utf16.Encode([]rune(leaf))); n > limit {
			return nil, fmt.Errorf("name %q has %d UCS-2 characters, more than the Joliet limit of %d", leaf, n, limit)
		}
		id = encodeUCS2(leaf)
	case ISO1999Tree:
		id = []byte(leaf)
	default:
		if free {
			id = []byte(leaf)
			break
		}
		style, err := e.nameStyle(t)
		if err != nil {
			return nil, err
		}
		name, err := primaryName(leaf, lower, style, ds)
		if err != nil {
			return nil, err
		}
		id = []byte(name)
		if !strings.Contains(name, ".") && withVersion {
			id = append(id, '.')
		}
	}
	if withVersion {
		id = append(id, suffix...)
	}
	var su []byte
	if t.Kind == PrimaryTree && t.RockRidge {
		var err error
		if su, err = e.cloneRR(t, ds, tmpl, leaf); err != nil {
			return nil, err
		}
	}
	n := recName + len(id)
	if len(id)%2 == 0 {
		n++
	}
	n += len(su)
	if n%2 != 0 {
		n++
	}
	if n > 255 || len(id) > 222 {
		return nil, fmt.Errorf("directory record for %q would be %d bytes, more than 255", leaf, n)
	}
	src := ds[0].rec // "."
	if tmpl != nil {
		src = tmpl.rec
	}
	rec := make([]byte, n)
	rec[0] = byte(n)
	putBoth32(rec[recDataLength:], uint32(size))
	copy(rec[18:25], src[18:25]) // recording date
	copy(rec[28:32], src[28:32]) // volume sequence number
	rec[recNameLen] = byte(len(id))
	copy(rec[recName:], id)
	suAt := recName + len(id)
	if len(id)%2 == 0 {
		suAt++
	}
	copy(rec[suAt:], su)
	return rec, nil
}

// isRegular reports whether the PX entry of su says a regular file.
func isRegular(su []byte, skip int) bool {
	if skip > len(su) {
		return false
	}
	for _, en := range rrEntries(su[skip:]) {
		if string(en[:2]) == "PX" && len(en) >= 12 {
			return binary.LittleEndian.Uint32(en[4:])&0o170000 == 0o100000
		}
	}
	return false
}

// suTemplate splits the system use area of a record to clone: the first
// t.skip bytes (padded to t.skip), which a new record starts with, and the
// Rock Ridge entries after them. rootDot is set for the root's ".", whose
// SP is not subject to skipping.
func suTemplate(t *Tree, rec []byte, rootDot bool) ([]byte, [][]byte, error) {
	src := systemUse(rec)
	skip := t.skip
	if rootDot {
		skip = 0
	}
	if skip > len(src) {
		return nil, nil, fmt.Errorf("rock ridge: system use area shorter than the skip count %d", skip)
	}
	out := append([]byte(nil), src[:min(t.skip, len(src))]...)
	if len(out) < t.skip {
		out = append(out, make([]byte, t.skip-len(out))...)
	}
	return out, rrEntries(src[skip:]), nil
}

// cloneRR builds the System Use area of a new file: the skip bytes, PX and
// TF (and RRIP 1.09 RR) of the template sibling, or of the parent's "." with
// a regular-file mode, and a new NM.
func (e *Editor) cloneRR(t *Tree, ds []dent, tmpl *dent, leaf string) ([]byte, error) {
	srcRec, fromDot := ds[0].rec, true
	if tmpl != nil {
		srcRec, fromDot = tmpl.rec, false
	}
	out, entries, err := suTemplate(t, srcRec, fromDot && ds[0].off == e.rootOffset(t))
	if err != nil {
		return nil, err
	}
	havePX := false
	for _, en := range entries {
		switch string(en[:2]) {
		case "CE":
			// A directory's "." (the root's holds ER in a continuation
			// area) lends only its PX and TF; a sibling file with CE is
			// never chosen as the template.
			if !fromDot {
				return nil, errors.New("rock ridge: the entries to clone use a CE continuation area; refusing")
			}
		case "PX":
			px := append([]byte(nil), en...)
			if fromDot && len(px) >= 20 {
				putBoth32(px[4:], 0o100444)
				putBoth32(px[12:], 1)
			}
			if len(px) >= 44 {
				s, err := e.nextSerial(t)
				if err != nil {
					return nil, err
				}
				putBoth32(px[rrPXSerialAt:], s)
			}
			out = append(out, px...)
			havePX = true
		case "TF", "RR":
			out = append(out, en...)
		}
	}
	if !havePX {
		return nil, errors.New("rock ridge: no PX entry to clone from a sibling file or the directory")
	}
	if len(leaf) > 250 {
		return nil, fmt.Errorf("rock ridge: name %q longer than 250 bytes", leaf)
	}
	nm := append([]byte{'N', 'M', byte(5 + len(leaf)), 1, 0}, leaf...)
	return append(out, nm...), nil
}

// rootOffset returns the offset of the root directory's "." record.
func (e *Editor) rootOffset(t *Tree) int64 {
	r, err := t.root(e.readMeta)
	if err != nil {
		return -1
	}
	return t.abs(r.lba)
}

// walkTree calls fn for every record other than "." and ".." of the tree
// as edited so far (each directory extent once, relocated directories not
// followed).
func (e *Editor) walkTree(t *Tree, fn func(dent)) error {
	r, err := t.root(e.readMeta)
	if err != nil {
		return err
	}
	seen := map[int64]bool{}
	queue := []dent{r}
	budget := e.cur
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if seen[t.abs(d.lba)] || d.length == 0 {
			continue
		}
		seen[t.abs(d.lba)] = true
		if budget -= int64(d.length); budget < 0 || len(seen) > maxEntries {
			return &FormatError{Offset: t.abs(d.lba), What: t.describe(""), Err: errors.New("directory extents add up to more than the image size")}
		}
		ds, err := t.readDir(e.readMeta, e.cur, d.lba, d.length, "")
		if err != nil {
			return err
		}
		for _, c := range ds {
			if c.special == 0 {
				fn(c)
				if c.isDir && !c.su.cl {
					queue = append(queue, c)
				}
			}
		}
	}
	return nil
}

// nextSerial returns a PX serial number not used in the tree: one more than
// the largest found by a walk of the whole tree (done once).
func (e *Editor) nextSerial(t *Tree) (uint32, error) {
	if s, ok := e.serials[t]; ok {
		e.serials[t] = s + 1
		return s, nil
	}
	var maxSerial uint32
	if err := e.walkTree(t, func(c dent) { maxSerial = max(maxSerial, c.su.pxSerial) }); err != nil {
		return 0, err
	}
	if maxSerial == math.MaxUint32 {
		return 0, errors.New("rock ridge: no free PX serial number")
	}
	e.serials[t] = maxSerial + 2
	return maxSerial + 1, nil
}

// nameStyle returns the longest ECMA name (name and extension, without
// ";1") that new primary-tree names may have: 0 when every name of the tree
// is 8.3 (ISO level 1, directories of at most 8 characters), else 30 (levels
// 2 and 3) or the longest name the tree already holds. It walks the tree
// once.
func (e *Editor) nameStyle(t *Tree) (int, error) {
	if n, ok := e.styles[t]; ok {
		return n, nil
	}
	short, longest := true, 0
	if err := e.walkTree(t, func(c dent) {
		if c.su.hidden {
			return
		}
		s := stripVersion(string(c.id))
		if !c.isDir {
			s = strings.TrimSuffix(s, ".")
		}
		base, ext, dot := strings.Cut(s, ".")
		longest = max(longest, len(base)+len(ext))
		if len(base) > 8 || len(ext) > 3 || strings.Contains(ext, ".") || (c.isDir && dot) {
			short = false
		}
	}); err != nil {
		return 0, err
	}
	n := max(30, longest)
	if short {
		n = 0
	}
	e.styles[t] = n
	return n, nil
}

// primaryName maps leaf to an ECMA name of the given style (see nameStyle)
// that no sibling in ds has: the base and extension are shortened (to 8.3
// for style 0) and, if that collides, end in "~1", "~2", ….
func primaryName(leaf string, keepCase bool, style int, ds []dent) (string, error) {
	full := ecmaName(leaf, keepCase)
	base, ext, dot := full, "", false
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		base, ext, dot = full[:i], full[i+1:], true
	}
	maxBase, maxExt := 8, 3
	if style > 0 {
		maxExt = min(len(ext), style-1)
		maxBase = style - maxExt
	}
	taken := map[string]bool{}
	for _, d := range ds {
		if d.special == 0 {
			taken[strings.ToUpper(strings.TrimSuffix(stripVersion(string(d.id)), "."))] = true
		}
	}
	fits := style > 0 && len(base)+len(ext) <= style || style == 0 && len(base) <= maxBase && len(ext) <= maxExt
	if fits && !taken[strings.ToUpper(full)] {
		return full, nil
	}
	if base == "" {
		base = "_"
	}
	ext = ext[:min(len(ext), maxExt)]
	join := func(b string) string {
		if dot {
			return b + "." + ext
		}
		return b
	}
	if name := join(base[:min(len(base), maxBase)]); !fits && !taken[strings.ToUpper(name)] {
		return name, nil
	}
	for i := 1; i < 1000000; i++ {
		sfx := fmt.Sprintf("~%d", i)
		if len(sfx) >= maxBase {
			break
		}
		if name := join(base[:min(len(base), maxBase-len(sfx))] + sfx); !taken[strings.ToUpper(name)] {
			return name, nil
		}
	}
	return "", fmt.Errorf("no free short ISO 9660 name for %q", leaf)
}

// sortKey is the identifier compared for ordering: the version dropped;
// ECMA-style names compare name then extension, padded.
func sortKey(t *Tree, id []byte) (string, string) {
	s := string(id)
	if t.Kind == JolietTree {
		if len(s) >= 4 && s[len(s)-4:] == "\x00;\x001" {
			s = s[:len(s)-4]
		}
		return s, ""
	}
	s = stripVersion(s)
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

func comparePad(a, b string) int {
	for i := 0; i < max(len(a), len(b)); i++ {
		ca, cb := byte(' '), byte(' ')
		if i < len(a) {
			ca = a[i]
		}
		if i < len(b) {
			cb = b[i]
		}
		if ca != cb {
			return int(ca) - int(cb)
		}
	}
	return 0
}

func idLess(t *Tree, a, b []byte) bool {
	an, ae := sortKey(t, a)
	bn, be := sortKey(t, b)
	if c := comparePad(an, bn); c != 0 {
		return c < 0
	}
	return comparePad(ae, be) < 0
}

// pack lays records out in sectors (never across a sector boundary) and
// returns the bytes (whole sectors) and each record's offset.
func pack(recs [][]byte) ([]byte, []int) {
	offs := make([]int, len(recs))
	pos := 0
	for i, r := range recs {
		if pos%SectorSize+len(r) > SectorSize {
			pos = (pos/SectorSize + 1) * SectorSize
		}
		offs[i] = pos
		pos += len(r)
	}
	n := (pos + SectorSize - 1) / SectorSize * SectorSize
	buf := make([]byte, max(n, SectorSize))
	for i, r := range recs {
		copy(buf[offs[i]:], r)
	}
	return buf, offs
}

// insert puts the record of group[0] into its parent directory, in place
// or by moving it. The other plans of group are of trees sharing that
// directory extent (same base): a move repoints each one's record of the
// directory and path tables too.
func (e *Editor) insert(group []addPlan) error {
	p := group[0]
	t := p.t
	recs := make([][]byte, 0, len(p.ds)+1)
	at := len(p.ds)
	for i, d := range p.ds {
		if d.special == 0 && at == len(p.ds) && idLess(t, p.rec[recName:recName+int(p.rec[recNameLen])], d.id) {
			at = i
		}
	}
	for i, d := range p.ds {
		if i == at {
			recs = append(recs, p.rec)
		}
		recs = append(recs, append([]byte(nil), d.rec...))
	}
	if at == len(p.ds) {
		recs = append(recs, p.rec)
	}
	buf, offs := pack(recs)
	used := offs[len(recs)-1] + len(recs[len(recs)-1])
	oldLBA, err := relLBA(t, p.parent.Offset)
	if err != nil {
		return err
	}
	if int64(used) <= p.parent.Length {
		// Room in the extent: rewrite it in place, keeping its length.
		out := make([]byte, p.parent.Length)
		copy(out, buf)
		return e.writeMeta(p.parent.Offset, out)
	}
	// Move the directory to the end.
	if len(buf) > maxDirExtent {
		return fmt.Errorf("directory %q would exceed %d bytes", p.parent.Path, maxDirExtent)
	}
	newOff := e.appendChunk(chunk{n: int64(len(buf)), buf: buf})
	newLBA, err := relLBA(t, newOff)
	if err != nil {
		return err
	}
	newLen := uint32(len(buf))
	if err := e.setExtent(newOff+int64(offs[0]), newLBA, newLen); err != nil { // "."
		return err
	}
	if binary.LittleEndian.Uint32(recs[1][recLBA:]) == oldLBA {
		// ".." of the root, or of any directory in a libisofs Joliet or
		// ISO 9660:1999 tree, which points at the directory itself.
		if err := e.setExtent(newOff+int64(offs[1]), newLBA, newLen); err != nil {
			return err
		}
	}
	patched := map[int64]bool{}
	for _, q := range group {
		if at := q.parent.Records[0]; !patched[at] { // record in its parent, or the descriptor's root record
			patched[at] = true
			if err := e.setExtent(at, newLBA, newLen); err != nil {
				return err
			}
		}
	}
	for i, r := range recs {
		if r[recFlags]&flagDirectory == 0 || (r[recNameLen] == 1 && r[recName] <= 1) {
			continue
		}
		if err := e.fixDotDot(t, binary.LittleEndian.Uint32(r[recLBA:]), oldLBA, newLBA, newLen); err != nil {
			return fmt.Errorf("child directory record at offset %d: %w", newOff+int64(offs[i]), err)
		}
	}
	tables := map[int64]bool{}
	for _, q := range group {
		if err := e.fixPathTables(q.t, oldLBA, newLBA, tables); err != nil {
			return err
		}
	}
	return nil
}

// fixDotDot repoints the ".." record of the child directory at lba if it
// points at the moved parent's old LBA.
func (e *Editor) fixDotDot(t *Tree, lba, oldLBA, parentLBA, parentLen uint32) error {
	start := t.abs(lba)
	first := make([]byte, SectorSize)
	if err := e.readMeta(first, start); err != nil {
		return err
	}
	l0 := int(first[0])
	if l0 < recMinLen || l0+recMinLen > SectorSize {
		return &FormatError{Offset: start, What: t.Kind.String() + " tree: child directory", Err: errIncompleteRecord}
	}
	dd := first[l0:]
	if int(dd[0]) < recMinLen || dd[recNameLen] != 1 || dd[recName] != 1 {
		return &FormatError{Offset: start + int64(l0), What: t.Kind.String() + " tree: child directory", Err: errors.New(`second record is not ".."`)}
	}
	if binary.LittleEndian.Uint32(dd[recLBA:]) != oldLBA {
		return nil // not a pointer to the parent (libisofs writes some Joliet ".." as the directory itself)
	}
	return e.setExtent(start+int64(l0), parentLBA, parentLen)
}

// fixPathTables repoints the path table entries of the directory at oldLBA
// in every path table of the tree not in done (tables, by offset, already
// repointed for a tree sharing them), and adds them to done.
func (e *Editor) fixPathTables(t *Tree, oldLBA, newLBA uint32, done map[int64]bool) error {
	if e.stale[t] {
		return nil // MkdirAll writes the tree's path tables afresh
	}
	pt := e.pathTables(t)
	if pt.size > maxDirExtent {
		return &FormatError{Offset: t.Descriptor + 132, What: t.Kind.String() + " volume descriptor", Err: fmt.Errorf("path table size %d exceeds %d", pt.size, maxDirExtent)}
	}
	found := false
	for i, pl := range pt.locs {
		if pl.lba == 0 || (i == 1 || i == 3) && pl.lba == pt.locs[i-1].lba {
			continue // absent optional copy
		}
		start := t.abs(pl.lba)
		if done[start] {
			found = found || i < 3
			continue
		}
		done[start] = true
		if start+int64(pt.size) > e.cur {
			return &FormatError{Offset: t.Descriptor + 132, What: t.Kind.String() + " volume descriptor", Err: fmt.Errorf("path table [%d, %d) beyond the image", start, start+int64(pt.size))}
		}
		tab := make([]byte, pt.size)
		if err := e.readMeta(tab, start); err != nil {
			return &FormatError{Offset: start, What: t.Kind.String() + " path table", Err: err}
		}
		order := binary.ByteOrder(binary.LittleEndian)
		if pl.bigEndian {
			order = binary.BigEndian
		}
		for pos := 0; pos+8 <= len(tab); {
			n := int(tab[pos])
			if n == 0 {
				break
			}
			if order.Uint32(tab[pos+2:]) == oldLBA {
				v := make([]byte, 4)
				order.PutUint32(v, newLBA)
				if err := e.writeMeta(start+int64(pos)+2, v); err != nil {
					return err
				}
				if i < 3 {
					found = true
				}
			}
			pos += 8 + n + n%2
		}
	}
	if !found && pt.locs[0].lba != 0 {
		return &FormatError{Offset: t.abs(pt.locs[0].lba), What: t.Kind.String() + " path table", Err: fmt.Errorf("no entry for the directory at LBA %d", oldLBA)}
	}
	return nil
}

// Finish updates the volume space size of every tree's descriptor, then
// appends the planned data to the Target and sends the patches (one per
// edited sector, only the changed bytes). A descriptor whose old size
// (plus its tree's base) covered the whole old file gets (total −
// Base)/2048; one that covered only the ISO data gets (End() − Base)/2048.
// total is the final file size the caller will produce: at least End() and
// a multiple of 2048. Nothing else of the descriptors changes.
func (e *Editor) Finish(total int64) error {
	if err := e.check("finish", ""); err != nil {
		return err
	}
	if total < e.cur || total%SectorSize != 0 {
		return fmt.Errorf("finish: total size %d must be a multiple of 2048 and at least the volume end %d", total, e.cur)
	}
	e.finished = true
	for _, t := range e.trees {
		size := e.cur
		if int64(t.volSize)*SectorSize+t.Base >= e.end {
			size = total
		}
		n := (size - t.Base) / SectorSize
		if n > math.MaxUint32 {
			e.err = fmt.Errorf("finish: %s volume of %d sectors does not fit 32 bits", t.Kind, n)
			return e.err
		}
		if err := e.writeMeta(t.Descriptor+80, both32(uint32(n))); err != nil {
			e.err = fmt.Errorf("finish: %s volume descriptor at %d: %w", t.Kind, t.Descriptor, err)
			return e.err
		}
	}
	for _, c := range e.chunks {
		r := c.r
		if c.buf != nil {
			r = bytes.NewReader(c.buf)
		}
		off, err := e.target.Append(r, c.n)
		if err == nil && off != c.off {
			err = fmt.Errorf("target appended at %d, want %d (its end must equal the editor's end %d)", off, c.off, e.end)
		}
		if err != nil {
			e.err = fmt.Errorf("finish: append %d bytes at %d: %w", c.n, c.off, err)
			return e.err
		}
	}
	secs := make([]int64, 0, len(e.sectors))
	for s := range e.sectors {
		secs = append(secs, s)
	}
	sort.Slice(secs, func(i, j int) bool { return secs[i] < secs[j] })
	base := make([]byte, SectorSize)
	for _, s := range secs {
		if err := e.readBase(base, s); err != nil {
			e.err = fmt.Errorf("finish: %w", err)
			return e.err
		}
		cur := e.sectors[s]
		lo, hi := 0, SectorSize
		for lo < hi && cur[lo] == base[lo] {
			lo++
		}
		for hi > lo && cur[hi-1] == base[hi-1] {
			hi--
		}
		if lo == hi {
			continue
		}
		if err := e.target.Patch(s+int64(lo), append([]byte(nil), cur[lo:hi]...)); err != nil {
			e.err = fmt.Errorf("finish: patch %d bytes at %d: %w", hi-lo, s+int64(lo), err)
			return e.err
		}
	}
	return nil
}
