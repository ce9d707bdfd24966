package sysarea

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Growth is the plan for a grown image.
type Growth struct {
	// Size is the size of the new image in bytes.
	Size int64
	// Patches change bytes that exist in the old image. Apply them in
	// order: the zeroing of the old backup GPT comes first.
	Patches []Patch
	// Tail goes at [Size-len(Tail), Size): the backup GPT array and
	// header. It is nil without GPT.
	Tail []byte
	// Moves are the partitions that lay after the old ISO 9660 volume
	// (an appended EFI system partition, a gap partition) and now lie
	// after the new one, sorted by To. The caller must copy each one:
	// the Length bytes of the old image at From go to To of the new
	// image, which the tables now point at. Move sources are old bytes
	// that no Patch changes.
	Moves []Move
}

// Move is a run of Length bytes of the old image at byte From that goes to
// byte To of the new image.
type Move struct {
	From, To, Length int64
}

// Patch is data to write at byte offset Off.
type Patch struct {
	Off  int64
	Data []byte
}

const mib = 1 << 20

// Grow plans the table changes for an image whose ISO 9660 volume ends at
// oldVolumeEnd now and will end at newVolumeEnd (bytes, multiples of 2048,
// newVolumeEnd at least l.Size). The new image size is newVolumeEnd plus
// room for the backup GPT, rounded up to 1 MiB when l.Size is a multiple
// of 1 MiB and to 2048 otherwise. Bytes between newVolumeEnd and
// Size-len(Tail) are zeros.
//
// Partitions that start at or after oldVolumeEnd (xorriso's appended
// partitions and gap partitions after an ISO whose volume is partition 1
// at a partition offset) would overlap a partition 1 grown to the new
// volume end; they move behind the new data instead, keeping their order
// and the gaps between them. The run from the first one's start to the
// last one's end (but not into the old backup GPT) becomes one [Move] to
// the first multiple of A at or after newVolumeEnd, where A is the
// largest power of two up to 1 MiB that divides the old start, so the
// partitions keep their alignment. Their MBR and GPT entries move by the
// same amount (start and end CHS recomputed), and one that ended at the
// old image end or LastUsable is stretched as below. The new image is
// then, in order: the old image (patched), the caller's data up to
// newVolumeEnd, zeros, the moved run at To, zeros, the Tail; Size leaves
// room for the Tail after the moved run and is rounded as above. Grow
// never makes partitions overlap that did not overlap before.
//
// l.Size need not be a multiple of 512 (a base with a few stray bytes at
// its end): the caller pads the old image with zeros up to its new data,
// which starts at or after l.Size rounded up to 2048 bytes, and
// newVolumeEnd >= l.Size already implies newVolumeEnd reaches that
// rounded size. Both the whole and the rounded-up sector count of l.Size
// count as "the old image end" below.
//
// The old last sector is the primary GPT's AlternateLBA when it lies
// inside the image after LastUsable (an image may carry bytes after its
// backup GPT), else the last sector of l.Size. MBR: entries that start at
// 0 or at the partition offset and end at the old image end or the old
// last sector + 1 (or else the old volume end) are stretched to the new
// image end (or volume end), with a new end CHS; the 0xEE entry gets size
// min(total-1, 0xFFFFFFFF); other entries (0xEF) stay. GPT: AlternateLBA
// goes to the new last sector and LastUsable moves by the same amount; a
// partition whose end+1 is the old image end, the old last sector + 1, the
// old volume end, the old LastUsable+1 or that rounded down to 2048 bytes
// (xorriso) moves to the new corresponding value, never beyond the new
// LastUsable; CRCs are recomputed and the old backup (if Read found one,
// at the last sector or at AlternateLBA) is zeroed. APM: the last entry,
// when it reaches the old image end, is stretched to the new image end.
func (l *Layout) Grow(oldVolumeEnd, newVolumeEnd int64) (*Growth, error) {
	switch {
	case oldVolumeEnd <= 0 || oldVolumeEnd%2048 != 0 || newVolumeEnd%2048 != 0:
		return nil, fmt.Errorf("grow: volume ends %d and %d must be positive multiples of 2048", oldVolumeEnd, newVolumeEnd)
	case oldVolumeEnd > l.Size:
		return nil, fmt.Errorf("grow: old volume end %d is beyond the image size %d", oldVolumeEnd, l.Size)
	case newVolumeEnd < l.Size:
		return nil, fmt.Errorf("grow: new volume end %d is before the old image end %d; data must be appended after it", newVolumeEnd, l.Size)
	case newVolumeEnd > 1<<50:
		return nil, fmt.Errorf("grow: new volume end %d is too large", newVolumeEnd)
	}

	var tailLen int64
	var arraySectors uint64
	if g := l.GPT; g != nil {
		arraySectors = (uint64(len(g.array)) + SectorSize - 1) / SectorSize
		tailLen = int64(arraySectors+1) * SectorSize
	}
	align := int64(2048)
	if l.Size%mib == 0 {
		align = mib
	}
	mv, extent, err := l.planMove(oldVolumeEnd, newVolumeEnd)
	if err != nil {
		return nil, err
	}
	dataEnd := newVolumeEnd
	if mv != nil {
		dataEnd = mv.To + extent
	}
	size := (dataEnd + tailLen + align - 1) / align * align
	gr := &Growth{Size: size}
	if mv != nil {
		gr.Moves = []Move{*mv}
	}

	o := oldEnds{
		floor: uint64(l.Size / SectorSize),
		ceil:  uint64((l.Size + SectorSize - 1) / SectorSize),
	}
	o.alt = o.floor - 1 // l.Size >= oldVolumeEnd >= 2048
	if g := l.GPT; g != nil && g.BackupLBA > g.LastUsable && g.BackupLBA < o.floor {
		o.alt = g.BackupLBA
	}
	newEnd := uint64(size / SectorSize)
	oldVol := uint64(oldVolumeEnd / SectorSize)
	newVol := uint64(newVolumeEnd / SectorSize)

	var gptPatches []Patch
	if g := l.GPT; g != nil {
		zeros, patches, tail := l.growGPT(g, arraySectors, o, newEnd, oldVol, newVol, mv)
		gr.Patches = append(gr.Patches, zeros...)
		gptPatches = patches
		gr.Tail = tail
	}
	if m := l.MBR; m != nil {
		p, err := l.growMBR(m, o, newEnd, oldVol, newVol, mv)
		if err != nil {
			return nil, err
		}
		gr.Patches = append(gr.Patches, p...)
	}
	gr.Patches = append(gr.Patches, gptPatches...)
	if a := l.APM; a != nil {
		p, err := l.growAPM(a, size)
		if err != nil {
			return nil, err
		}
		gr.Patches = append(gr.Patches, p...)
	}
	if err := l.checkGrowth(gr); err != nil {
		return nil, err
	}
	return gr, nil
}

// planMove finds the partitions that start at or after oldVolumeEnd and
// plans their move behind newVolumeEnd (see Grow). It returns nil when
// there are none, else the move and the length of the run of partitions
// (which can be longer than the bytes to copy, when a partition reaches
// into the old backup GPT).
func (l *Layout) planMove(oldVolumeEnd, newVolumeEnd int64) (*Move, int64, error) {
	from, end := int64(-1), int64(0)
	limit := (l.Size + SectorSize - 1) / SectorSize
	add := func(what string, field int64, start, stop uint64) error {
		if int64(start)*SectorSize < oldVolumeEnd {
			return nil
		}
		if stop > uint64(limit) || start >= stop {
			return fmt.Errorf("grow: %s (byte offset %d) spans sectors %d..%d, not inside the %d-byte image, so it cannot be moved behind the new data", what, field, start, stop, l.Size)
		}
		if from < 0 || int64(start)*SectorSize < from {
			from = int64(start) * SectorSize
		}
		end = max(end, int64(stop)*SectorSize)
		return nil
	}
	if m := l.MBR; m != nil {
		for i, p := range m.Partitions {
			if p.Sectors == 0 || p.Type == 0xEE {
				continue
			}
			if err := add(fmt.Sprintf("mbr partition %d", i+1), int64(mbrTableOff+16*i+8), uint64(p.Start), uint64(p.Start)+uint64(p.Sectors)); err != nil {
				return nil, 0, err
			}
		}
	}
	if g := l.GPT; g != nil {
		for _, p := range g.Partitions {
			if p.Last == ^uint64(0) {
				continue
			}
			if err := add(fmt.Sprintf("gpt partition %d", p.Index+1), int64(g.EntryLBA)*SectorSize+int64(p.Index)*int64(g.EntrySize)+32, p.First, p.Last+1); err != nil {
				return nil, 0, err
			}
		}
	}
	if from < 0 {
		return nil, 0, nil
	}
	// The old backup GPT is not partition data: it is zeroed in place
	// and written anew at the end, so it is not copied.
	copyEnd := min(end, l.Size)
	if b := l.BackupGPT; b != nil {
		for _, at := range []int64{int64(b.at) * SectorSize, int64(b.EntryLBA) * SectorSize} {
			if at > from && at < copyEnd {
				copyEnd = at
			}
		}
	}
	align := int64(mib)
	for from%align != 0 {
		align /= 2
	}
	to := (newVolumeEnd + align - 1) / align * align
	return &Move{From: from, To: to, Length: copyEnd - from}, end - from, nil
}

// moves reports whether a partition starting at sector start is moved.
func (mv *Move) moves(start uint64) bool {
	return mv != nil && int64(start)*SectorSize >= mv.From
}

// delta is the distance of a move in sectors.
func (mv *Move) delta() uint64 { return uint64((mv.To - mv.From) / SectorSize) }

// checkGrowth makes sure that the tables Grow wrote have no overlapping
// partitions that did not overlap before.
func (l *Layout) checkGrowth(gr *Growth) error {
	n := &Layout{Size: gr.Size}
	patched := func(off int64) []byte {
		for _, p := range gr.Patches {
			if p.Off == off {
				return p.Data
			}
		}
		return nil
	}
	if m := l.MBR; m != nil {
		n.MBR = &MBR{Partitions: m.Partitions}
		if tab := patched(mbrTableOff); len(tab) == 64 {
			sa := make([]byte, mbrTableOff+64)
			copy(sa[mbrTableOff:], tab)
			n.MBR.Partitions = parseMBR(sa).Partitions
		}
	}
	if g := l.GPT; g != nil {
		n.GPT = &GPT{EntryLBA: g.EntryLBA, EntrySize: g.EntrySize, Partitions: g.Partitions}
		if a := patched(int64(g.EntryLBA) * SectorSize); len(a) == len(g.array) {
			n.GPT.Partitions = parseEntries(a, g.EntryCount, g.EntrySize)
		}
	}
	if err := n.NewOverlaps(l); err != nil {
		return fmt.Errorf("grow: internal error: %w", err)
	}
	return nil
}

// oldEnds are the 512-byte sector counts that Grow takes as "the end of
// the old image": the whole sectors of l.Size, l.Size rounded up, and the
// old last sector (AlternateLBA or floor-1), so that alt+1 is an end too.
type oldEnds struct {
	floor, ceil, alt uint64
}

// isEnd reports whether end (exclusive, in sectors) is one of them.
func (o oldEnds) isEnd(end uint64) bool {
	return end == o.floor || end == o.ceil || end == o.alt+1
}

func (l *Layout) growMBR(m *MBR, o oldEnds, newEnd, oldVol, newVol uint64, mv *Move) ([]Patch, error) {
	var old, tab [64]byte
	for i := range m.Partitions {
		m.Partitions[i].marshal(old[16*i:])
	}
	tab = old
	heads, secs := m.geometry()
	offset := uint64(l.tableOffset() / SectorSize)
	for i, p := range m.Partitions {
		if p.Sectors == 0 {
			continue
		}
		start, end := uint64(p.Start), uint64(p.Start)+uint64(p.Sectors)
		if mv.moves(start) && p.Type != 0xEE {
			d := mv.delta()
			ns, ne := start+d, end+d
			if o.isEnd(end) {
				ne = max(ne, newEnd)
			}
			if ne > 0xFFFFFFFF {
				return nil, fmt.Errorf("grow: mbr partition %d (byte offset %d) would end at sector %d, beyond what an MBR entry holds; the image is too big for an MBR",
					i+1, mbrTableOff+16*i+8, ne)
			}
			p.Start, p.Sectors = uint32(ns), uint32(ne-ns)
			p.StartCHS = chs(ns, heads, secs)
			p.EndCHS = chs(ne-1, heads, secs)
			p.marshal(tab[16*i:])
			continue
		}
		var target uint64
		switch {
		case p.Type == 0xEE:
			if start != 1 {
				// A protective entry that does not start at 1 is
				// not the standard one; keep it.
				continue
			}
			target = start + min(newEnd-1, 0xFFFFFFFF)
		case p.Type == 0xEF:
			continue
		case start != 0 && start != offset:
			continue
		case o.isEnd(end):
			target = newEnd
		case end == oldVol:
			target = newVol
		default:
			continue
		}
		n := target - start
		if n > 0xFFFFFFFF {
			return nil, fmt.Errorf("grow: mbr partition %d (byte offset %d) would need %d sectors, more than an MBR entry holds; the image is too big for an MBR",
				i+1, mbrTableOff+16*i+12, n)
		}
		p.Sectors = uint32(n)
		p.EndCHS = chs(target-1, heads, secs)
		p.marshal(tab[16*i:])
	}
	if tab == old {
		return nil, nil
	}
	return []Patch{{Off: mbrTableOff, Data: tab[:]}}, nil
}

// geometry returns the heads per cylinder and sectors per track implied by
// the first entry whose end CHS is consistent with its end LBA when read as
// the last sector of a cylinder; 64 and 32 (1 MiB cylinders) otherwise.
func (m *MBR) geometry() (heads, secs uint64) {
	for _, p := range m.Partitions {
		if p.Sectors == 0 {
			continue
		}
		h := uint64(p.EndCHS[0]) + 1
		s := uint64(p.EndCHS[1] & 0x3f)
		c := uint64(p.EndCHS[2]) | uint64(p.EndCHS[1]&0xc0)<<2
		if s == 0 || (p.EndCHS == [3]byte{0xfe, 0xff, 0xff}) {
			continue
		}
		if c*h*s+(h-1)*s+s-1 == uint64(p.Start)+uint64(p.Sectors)-1 {
			return h, s
		}
	}
	return 64, 32
}

// chs encodes a 512-byte LBA as MBR CHS bytes, 0xFEFFFF beyond 1023
// cylinders.
func chs(lba, heads, secs uint64) [3]byte {
	c := lba / (heads * secs)
	if c > 1023 {
		return [3]byte{0xfe, 0xff, 0xff}
	}
	h := lba / secs % heads
	s := lba%secs + 1
	return [3]byte{byte(h), byte(s&0x3f) | byte(c>>2)&0xc0, byte(c)}
}

func (l *Layout) growGPT(g *GPT, arraySectors uint64, o oldEnds, newEnd, oldVol, newVol uint64, mv *Move) (zeros, patches []Patch, tail []byte) {
	le := binary.LittleEndian
	newLast := newEnd - 1
	// The backup moves from the old last sector (AlternateLBA when it is
	// sane, not necessarily the image's last sector) to the new one.
	delta := newLast - o.alt
	newBackupArray := newLast - arraySectors
	newLU := min(g.LastUsable+delta, newBackupArray-1)

	array := bytes.Clone(g.array)
	for _, p := range g.Partitions {
		end := p.Last + 1
		if mv.moves(p.First) {
			d := mv.delta()
			first, last := p.First+d, p.Last+d
			switch {
			case o.isEnd(end):
				last = max(last, newEnd-1)
			case end == g.LastUsable+1:
				last = max(last, newLU)
			case end == (g.LastUsable+1)&^3:
				last = max(last, (newLU+1)&^3-1)
			}
			last = min(last, newLU)
			e := array[p.Index*int(g.EntrySize):]
			le.PutUint64(e[32:], first)
			le.PutUint64(e[40:], last)
			continue
		}
		var target uint64
		switch {
		case o.isEnd(end):
			target = newEnd
		case end == oldVol:
			target = newVol
		case end == g.LastUsable+1:
			target = newLU + 1
		case end == (g.LastUsable+1)&^3:
			target = (newLU + 1) &^ 3
		default:
			continue
		}
		// A stretched partition stays out of the new backup tables.
		target = min(target, newLU+1)
		if target <= p.First || target == end {
			continue
		}
		le.PutUint64(array[p.Index*int(g.EntrySize)+40:], target-1)
	}
	arrayCRC := crc32.ChecksumIEEE(array)

	hdr := bytes.Clone(g.header)
	le.PutUint64(hdr[32:], newLast)
	le.PutUint64(hdr[48:], newLU)
	le.PutUint32(hdr[88:], arrayCRC)
	le.PutUint32(hdr[16:], headerCRC(hdr))

	bak := bytes.Clone(hdr)
	le.PutUint64(bak[24:], newLast)
	le.PutUint64(bak[32:], 1)
	le.PutUint64(bak[72:], newBackupArray)
	le.PutUint32(bak[16:], headerCRC(bak))

	tail = make([]byte, (arraySectors+1)*SectorSize)
	copy(tail, array)
	copy(tail[arraySectors*SectorSize:], bak)

	// Zero the old backup header and array. Only a backup that Read found
	// (at the last sector, or at AlternateLBA when bytes follow it) is
	// zeroed, and its array only where a backup array belongs (after
	// LastUsable and the primary tables, before the header): without one,
	// those sectors may be data.
	if b := l.BackupGPT; b != nil {
		at := b.at
		if at < 2 || at >= o.floor {
			at = o.floor - 1 // a Layout not made by Read
		}
		protect := max(int64(g.EntryLBA)*SectorSize+int64(len(g.array)), 2*SectorSize)
		aoff, n := int64(b.EntryLBA)*SectorSize, int64(len(b.array))
		if b.EntryLBA > g.LastUsable && aoff >= protect && n > 0 && aoff+n <= int64(at)*SectorSize {
			zeros = append(zeros, Patch{Off: aoff, Data: make([]byte, n)})
		}
		zeros = append(zeros, Patch{Off: int64(at) * SectorSize, Data: make([]byte, SectorSize)})
	}

	patches = append(patches, Patch{Off: SectorSize, Data: hdr})
	if !bytes.Equal(array, g.array) {
		patches = append(patches, Patch{Off: int64(g.EntryLBA) * SectorSize, Data: array})
	}
	return zeros, patches, tail
}

func (l *Layout) growAPM(a *APM, size int64) ([]Patch, error) {
	if len(a.Entries) == 0 {
		return nil, nil
	}
	e := a.Entries[len(a.Entries)-1]
	bs := int64(a.BlockSize)
	oldBlocks, newBlocks := uint64(l.Size/bs), uint64(size/bs)
	if uint64(e.Start)+uint64(e.Count) != oldBlocks || newBlocks <= uint64(e.Start) {
		return nil, nil
	}
	n := newBlocks - uint64(e.Start)
	if n > 0xFFFFFFFF {
		return nil, fmt.Errorf("grow: apm entry %d (byte offset %d) would need %d blocks of %d bytes, more than it holds", e.Index, int64(e.Index)*bs+apmCount, n, bs)
	}
	logical := uint64(e.LogicalCount) + (n - uint64(e.Count))
	if e.LogicalCount == 0 || logical > 0xFFFFFFFF {
		logical = uint64(e.LogicalCount)
	}
	off := int64(e.Index) * bs
	return []Patch{
		{Off: off + apmCount, Data: binary.BigEndian.AppendUint32(nil, uint32(n))},
		{Off: off + apmLogCount, Data: binary.BigEndian.AppendUint32(nil, uint32(logical))},
	}, nil
}
