package iso

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"unicode/utf16"
)

// ptInfo is the path table size and the four table locations of a tree's
// descriptor (type L, optional L, type M, optional M).
type ptInfo struct {
	size uint32
	locs [4]ptLoc
}

// pathTables returns the tree's path tables as edited so far.
func (e *Editor) pathTables(t *Tree) ptInfo {
	if p, ok := e.tables[t]; ok {
		return p
	}
	return ptInfo{size: t.ptSize, locs: t.ptLocs}
}

// maxNewDirDepth is the deepest directory MkdirAll creates (components
// below the root): ECMA-119 allows 8 path table levels, the root being
// level 1. Deeper trees need Rock Ridge relocation, which is not written.
const maxNewDirDepth = 7

// MkdirAll creates the directory path, and every missing parent, in every
// tree of the editor; directories that exist in every tree are kept. A
// component that exists in some trees only, or as a file, is an error.
// AddFile does not create parents: call MkdirAll first for a file in a new
// directory.
//
// Each new directory gets a one-sector extent, appended, holding "." and
// ".." (for Rock Ridge, the PX and TF entries of the parent's "." after the
// tree's SUSP skip bytes, a 44-byte PX getting a fresh serial); its record
// is inserted, sorted, into the parent like a new file's (see AddFile: the
// parent is rewritten in place or moved). Names follow the tree: upper-case
// d-characters without version on the primary tree (8 characters when the
// image is 8.3 throughout, dots becoming "_"), the name as given in Joliet
// (UCS-2) and ISO 9660:1999 trees, and an NM entry with the name as given
// for Rock Ridge. The new directory's PX link count is 2 (or 1 where the
// builder writes 1 for every directory); the parent's link count, in its
// record, its "." and its children's "..", is not raised.
//
// A new directory renumbers the path tables, so after the directories are
// made, new L and M path tables (and the optional copies the descriptor
// names) are appended for every tree that gained one, built from a
// breadth-first walk of the tree as edited (level, then parent number, then
// record order, which is the sorted name order), and the descriptor's path
// table size and locations are repointed. Tables appended by an earlier
// MkdirAll call are abandoned in place.
func (e *Editor) MkdirAll(path string) error {
	if err := e.check("mkdir", path); err != nil {
		return err
	}
	comps := splitPath(path)
	made := false
	for i := range comps {
		dir := strings.Join(comps[:i+1], "/")
		have := 0
		for _, t := range e.trees {
			ent, err := t.resolve(e.readMeta, e.cur, dir)
			switch {
			case err == nil && ent.IsDir:
				have++
			case err == nil:
				return fmt.Errorf("mkdir %q: %s is a file in the %s tree: %w", path, dir, t.Kind, fs.ErrExist)
			case errors.Is(err, fs.ErrNotExist):
			default:
				return fmt.Errorf("mkdir %q: %w", path, err)
			}
		}
		if have == len(e.trees) {
			continue
		}
		if have > 0 {
			return fmt.Errorf("mkdir %q: %s exists in %d of the %d trees only; refusing", path, dir, have, len(e.trees))
		}
		if i+1 > maxNewDirDepth {
			return fmt.Errorf("mkdir %q: %s would be deeper than the %d levels ISO 9660 path tables allow", path, dir, maxNewDirDepth+1)
		}
		if err := e.mkdir(strings.Join(comps[:i], "/"), comps[i]); err != nil {
			return fmt.Errorf("mkdir %q: %w", path, err)
		}
		made = true
	}
	if !made {
		return nil
	}
	for _, t := range e.trees {
		if !e.stale[t] {
			continue
		}
		if err := e.writePathTables(t); err != nil {
			e.err = fmt.Errorf("mkdir %q: %s tree: %w", path, t.Kind, err)
			return e.err
		}
		delete(e.stale, t)
	}
	return nil
}

// mkdir creates leaf in parentPath in every tree.
func (e *Editor) mkdir(parentPath, leaf string) error {
	parents := make([]int64, len(e.trees))
	for i, t := range e.trees {
		parent, err := t.resolve(e.readMeta, e.cur, parentPath)
		if err != nil {
			return err
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
		p, err := e.planRecord(t, parentPath, leaf, free, func(ds []dent) ([]byte, error) { return e.newDirRecord(t, ds, leaf, free) })
		if err != nil {
			return err
		}
		plans = append(plans, p)
	}
	// Nothing is planned past this point that could fail on a sound image;
	// a failure leaves the editor unusable.
	fail := func(err error) error {
		e.err = err
		return err
	}
	for i, p := range plans {
		if p.t == nil {
			continue
		}
		group := []addPlan{p}
		for j := i + 1; j < len(plans); j++ {
			if q := plans[j]; q.t != nil && q.parent.Offset == p.parent.Offset {
				if q.t.Base != p.t.Base {
					return fail(fmt.Errorf("the %s and %s trees share the directory at offset %d but have different bases; refusing", p.t.Kind, q.t.Kind, p.parent.Offset))
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
		ext, err := e.newDirExtent(lp)
		if err != nil {
			return fail(fmt.Errorf("%s tree: %w", lp.t.Kind, err))
		}
		off := e.appendChunk(chunk{n: int64(len(ext)), buf: ext})
		lba, err := relLBA(lp.t, off)
		if err != nil {
			return fail(err)
		}
		putBoth32(lp.rec[recLBA:], lba)
		if err := e.setExtent(off, lba, SectorSize); err != nil { // "."
			return fail(err)
		}
		for _, q := range group {
			e.stale[q.t] = true
		}
		if err := e.insert(group); err != nil {
			return fail(fmt.Errorf("%s tree: %w", lp.t.Kind, err))
		}
	}
	return nil
}

// newDirRecord builds the record of the new directory leaf (LBA still 0)
// among the parent's records ds.
func (e *Editor) newDirRecord(t *Tree, ds []dent, leaf string, free bool) ([]byte, error) {
	if leaf == "" || strings.ContainsAny(leaf, "/\x00") || leaf == "." || leaf == ".." {
		return nil, fmt.Errorf("invalid directory name %q", leaf)
	}
	var id []byte
	switch {
	case t.Kind == JolietTree:
		limit := 64
		for _, d := range ds {
			if d.special == 0 && len(d.id)/2 > 64 {
				limit = 103
			}
		}
		if n := len(utf16.Encode([]rune(leaf))); n > limit {
			return nil, fmt.Errorf("name %q has %d UCS-2 characters, more than the Joliet limit of %d", leaf, n, limit)
		}
		id = encodeUCS2(leaf)
	case t.Kind == ISO1999Tree || free:
		id = []byte(leaf)
	default:
		lower, named := false, false
		for _, d := range ds {
			if d.special == 0 && !d.su.hidden {
				named = true
				lower = lower || bytes.ContainsAny(d.id, "abcdefghijklmnopqrstuvwxyz")
			}
		}
		if !named {
			// An empty (new) parent: follow the tree as a whole.
			var err error
			if lower, err = e.treeLower(t); err != nil {
				return nil, err
			}
		}
		style, err := e.nameStyle(t)
		if err != nil {
			return nil, err
		}
		if style > 31 {
			style = 31
		}
		name, err := primaryName(strings.ReplaceAll(leaf, ".", "_"), lower, style, ds)
		if err != nil {
			return nil, err
		}
		id = []byte(name)
	}
	var su []byte
	if t.Kind == PrimaryTree && t.RockRidge {
		var err error
		if su, err = e.dirSU(t, ds[0], true); err != nil {
			return nil, err
		}
		if len(leaf) > 250 {
			return nil, fmt.Errorf("rock ridge: name %q longer than 250 bytes", leaf)
		}
		su = append(su, append([]byte{'N', 'M', byte(5 + len(leaf)), 1, 0}, leaf...)...)
	}
	return buildRecord(ds[0].rec, id, su, SectorSize)
}

// buildRecord lays out a directory record with identifier id and System
// Use area su, taking the recording date and volume sequence number from
// src.
func buildRecord(src, id, su []byte, length uint32) ([]byte, error) {
	n := recName + len(id)
	if len(id)%2 == 0 {
		n++
	}
	n += len(su)
	if n%2 != 0 {
		n++
	}
	if n > 255 || len(id) > 222 {
		return nil, fmt.Errorf("directory record for %q would be %d bytes, more than 255", id, n)
	}
	rec := make([]byte, n)
	rec[0] = byte(n)
	putBoth32(rec[recDataLength:], length)
	copy(rec[18:25], src[18:25])
	rec[recFlags] = flagDirectory
	copy(rec[28:32], src[28:32])
	rec[recNameLen] = byte(len(id))
	copy(rec[recName:], id)
	suAt := recName + len(id)
	if len(id)%2 == 0 {
		suAt++
	}
	copy(rec[suAt:], su)
	return rec, nil
}

// dirSU returns the tree's SUSP skip bytes and the PX, TF (and RRIP 1.09
// RR) entries of the directory record dot (a "." record). With fresh (for
// a new directory) a 44-byte PX gets a new serial number, a link count
// above 1 becomes 2 (builders writing 1 for every directory keep it) and
// RR gets the NM flag.
func (e *Editor) dirSU(t *Tree, dot dent, fresh bool) ([]byte, error) {
	out, entries, err := suTemplate(t, dot.rec, dot.off == e.rootOffset(t))
	if err != nil {
		return nil, err
	}
	havePX := false
	for _, en := range entries {
		switch string(en[:2]) {
		case "PX":
			px := append([]byte(nil), en...)
			if fresh && len(px) >= 20 && binary.LittleEndian.Uint32(px[12:]) > 1 {
				putBoth32(px[12:], 2) // real link counts: an empty directory has 2
			}
			if len(px) >= 44 && fresh {
				s, err := e.nextSerial(t)
				if err != nil {
					return nil, err
				}
				putBoth32(px[rrPXSerialAt:], s)
			}
			out = append(out, px...)
			havePX = true
		case "TF":
			out = append(out, en...)
		case "RR":
			rr := append([]byte(nil), en...)
			if len(rr) >= 5 && fresh {
				rr[4] |= 0x08 // RRIP 1.09 flags: the new record has NM
			}
			out = append(out, rr...)
		}
	}
	if !havePX {
		return nil, errors.New(`rock ridge: the parent's "." has no PX entry to clone`)
	}
	return out, nil
}

// newDirExtent builds the one-sector extent of the directory planned by
// p: "." (LBA set by the caller) and ".." pointing at the parent.
func (e *Editor) newDirExtent(p addPlan) ([]byte, error) {
	t := p.t
	var dotSU, dotdotSU []byte
	if t.Kind == PrimaryTree && t.RockRidge {
		// "." repeats the new record's entries but NM.
		out := append([]byte(nil), systemUse(p.rec)[:t.skip]...)
		for _, en := range rrEntries(systemUse(p.rec)[t.skip:]) {
			switch string(en[:2]) {
			case "NM":
			case "RR":
				rr := append([]byte(nil), en...)
				if len(rr) >= 5 {
					rr[4] &^= 0x08 // no NM in "."
				}
				out = append(out, rr...)
			default:
				out = append(out, en...)
			}
		}
		dotSU = out
		var err error
		if dotdotSU, err = e.dirSU(t, p.ds[0], false); err != nil {
			return nil, err
		}
	}
	dot, err := buildRecord(p.rec, []byte{0}, dotSU, SectorSize)
	if err != nil {
		return nil, err
	}
	dotdot, err := buildRecord(p.ds[0].rec, []byte{1}, dotdotSU, uint32(p.parent.Length))
	if err != nil {
		return nil, err
	}
	plba, err := relLBA(t, p.parent.Offset)
	if err != nil {
		return nil, err
	}
	putBoth32(dotdot[recLBA:], plba)
	buf := make([]byte, SectorSize)
	copy(buf, dot)
	copy(buf[len(dot):], dotdot)
	return buf, nil
}

// ptDir is one path table entry being built.
type ptDir struct {
	id      []byte
	extAttr byte
	lba     uint32
	length  uint32
	parent  int // 1-based number of the parent entry
}

// buildPathTable lists the tree's directories, as edited so far, in path
// table order: breadth first from the root, each directory's children in
// record order. Rock Ridge child links (CL) are not followed; the
// relocated directories they name are listed where their records are.
func (e *Editor) buildPathTable(t *Tree) ([]ptDir, error) {
	r, err := t.root(e.readMeta)
	if err != nil {
		return nil, err
	}
	dirs := []ptDir{{id: []byte{0}, extAttr: r.rec[1], lba: r.lba, length: r.length, parent: 1}}
	seen := map[uint32]bool{r.lba: true}
	budget := e.cur
	for i := 0; i < len(dirs); i++ {
		d := dirs[i]
		if d.length == 0 {
			continue
		}
		if budget -= int64(d.length); budget < 0 {
			return nil, &FormatError{Offset: t.abs(d.lba), What: t.describe(""), Err: errors.New("directory extents add up to more than the image size")}
		}
		ds, err := t.readDir(e.readMeta, e.cur, d.lba, d.length, "")
		if err != nil {
			return nil, err
		}
		for _, c := range ds {
			if c.special != 0 || !c.isDir || c.su.cl || seen[c.lba] {
				continue
			}
			seen[c.lba] = true
			if len(dirs) >= 0xffff {
				return nil, fmt.Errorf("more than %d directories for the path table", 0xffff)
			}
			dirs = append(dirs, ptDir{id: c.id, extAttr: c.rec[1], lba: c.lba, length: c.length, parent: i + 1})
		}
	}
	return dirs, nil
}

// encodePathTable writes the path table of dirs in the given byte order.
func encodePathTable(dirs []ptDir, order binary.ByteOrder) []byte {
	var b []byte
	for _, d := range dirs {
		rec := make([]byte, 8+len(d.id)+len(d.id)%2)
		rec[0] = byte(len(d.id))
		rec[1] = d.extAttr
		order.PutUint32(rec[2:], d.lba)
		order.PutUint16(rec[6:], uint16(d.parent))
		copy(rec[8:], d.id)
		b = append(b, rec...)
	}
	return b
}

// writePathTables appends fresh path tables of the tree and repoints its
// descriptor (ECMA-119 8.4.14–8.4.18: size both-endian at 132, L at 140,
// optional L at 144, M at 148, optional M at 152).
func (e *Editor) writePathTables(t *Tree) error {
	dirs, err := e.buildPathTable(t)
	if err != nil {
		return err
	}
	old := e.pathTables(t)
	l, m := encodePathTable(dirs, binary.LittleEndian), encodePathTable(dirs, binary.BigEndian)
	if len(l) > maxDirExtent {
		return fmt.Errorf("path table of %d bytes exceeds %d", len(l), maxDirExtent)
	}
	pt := ptInfo{size: uint32(len(l))}
	for i, tab := range [][]byte{l, l, m, m} {
		pt.locs[i].bigEndian = i >= 2
		if (i == 1 || i == 3) && old.locs[i].lba == 0 {
			continue // the descriptor names no optional copy
		}
		if (i == 1 || i == 3) && old.locs[i].lba == old.locs[i-1].lba {
			pt.locs[i].lba = pt.locs[i-1].lba // it named the same table twice
			continue
		}
		n := (len(tab) + SectorSize - 1) / SectorSize * SectorSize
		buf := make([]byte, n)
		copy(buf, tab)
		off := e.appendChunk(chunk{n: int64(n), buf: buf})
		lba, err := relLBA(t, off)
		if err != nil {
			return err
		}
		pt.locs[i].lba = lba
	}
	if err := e.writeMeta(t.Descriptor+132, both32(pt.size)); err != nil {
		return err
	}
	for i, pl := range pt.locs {
		v := make([]byte, 4)
		if pl.bigEndian {
			binary.BigEndian.PutUint32(v, pl.lba)
		} else {
			binary.LittleEndian.PutUint32(v, pl.lba)
		}
		if (i == 1 || i == 3) && pl.lba == 0 {
			continue // no optional copy: keep the descriptor's 0
		}
		if err := e.writeMeta(t.Descriptor+140+int64(4*i), v); err != nil {
			return err
		}
	}
	e.tables[t] = pt
	return nil
}

// treeLower reports whether any name of the tree holds a lower-case
// letter (xorriso keeps the case of some primary names); it walks the tree
// once.
func (e *Editor) treeLower(t *Tree) (bool, error) {
	if l, ok := e.lower[t]; ok {
		return l, nil
	}
	lower := false
	if err := e.walkTree(t, func(c dent) {
		lower = lower || !c.su.hidden && bytes.ContainsAny(c.id, "abcdefghijklmnopqrstuvwxyz")
	}); err != nil {
		return false, err
	}
	e.lower[t] = lower
	return lower, nil
}
