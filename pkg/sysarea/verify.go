package sysarea

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Verify checks the tables against each other and against l.Size: the MBR
// entries end within the image and a 0xEE protective entry starts at 1
// with size min(total-1, 0xFFFFFFFF); both GPT header CRCs and both array
// CRCs match, the primary is at LBA 1 and points at the last sector, the
// backup header is there and mirrors the primary; APM entries end within
// the image. It returns all problems found, joined.
func (l *Layout) Verify() error {
	var errs []error
	total := uint64(l.Size / SectorSize)
	if m := l.MBR; m != nil {
		for i, p := range m.Partitions {
			off := mbrTableOff + 16*i
			if p.Sectors == 0 {
				continue
			}
			if end := uint64(p.Start) + uint64(p.Sectors); end > total {
				errs = append(errs, fmt.Errorf("mbr partition %d (byte offset %d): ends at sector %d beyond the image end %d", i+1, off, end, total))
			}
			if p.Type == 0xEE {
				want := min(total-1, 0xFFFFFFFF)
				if total == 0 {
					want = 0
				}
				if p.Start != 1 {
					errs = append(errs, fmt.Errorf("mbr protective 0xEE partition %d (byte offset %d): starts at sector %d, want 1", i+1, off+8, p.Start))
				}
				if uint64(p.Sectors) != want {
					errs = append(errs, fmt.Errorf("mbr protective 0xEE partition %d (byte offset %d): size %d sectors, want min(total-1, 0xFFFFFFFF) = %d", i+1, off+12, p.Sectors, want))
				}
			}
		}
	}
	if g := l.GPT; g != nil {
		errs = append(errs, l.verifyGPT(g, total)...)
	}
	if a := l.APM; a != nil {
		blocks := uint64(l.Size) / uint64(a.BlockSize)
		for _, e := range a.Entries {
			if end := uint64(e.Start) + uint64(e.Count); end > blocks {
				errs = append(errs, fmt.Errorf("apm entry %d %q (byte offset %d): ends at block %d beyond the image end %d (blocks of %d bytes)",
					e.Index, e.Name, e.Index*a.BlockSize+apmStart, end, blocks, a.BlockSize))
			}
		}
	}
	return errors.Join(errs...)
}

func (l *Layout) verifyGPT(g *GPT, total uint64) []error {
	var errs []error
	last := total - 1
	const hoff = SectorSize
	if c := headerCRC(g.header); c != g.HeaderCRC {
		errs = append(errs, fmt.Errorf("gpt primary header CRC at byte offset %d is %#08x, computed %#08x", hoff+16, g.HeaderCRC, c))
	}
	if c := crc32.ChecksumIEEE(g.array); c != g.ArrayCRC {
		errs = append(errs, fmt.Errorf("gpt primary array CRC at byte offset %d is %#08x, computed %#08x over %d bytes at byte offset %d",
			hoff+88, g.ArrayCRC, c, len(g.array), g.EntryLBA*SectorSize))
	}
	if g.MyLBA != 1 {
		errs = append(errs, fmt.Errorf("gpt primary header MyLBA at byte offset %d is %d, want 1", hoff+24, g.MyLBA))
	}
	if g.BackupLBA != last {
		errs = append(errs, fmt.Errorf("gpt primary header AlternateLBA at byte offset %d is %d, want the last sector %d", hoff+32, g.BackupLBA, last))
	}
	arraySectors := (uint64(len(g.array)) + SectorSize - 1) / SectorSize
	if g.EntryLBA < 2 || g.EntryLBA+arraySectors > g.FirstUsable {
		errs = append(errs, fmt.Errorf("gpt primary array at LBA %d (field at byte offset %d) with %d sectors is not between the header and FirstUsable %d",
			g.EntryLBA, hoff+72, arraySectors, g.FirstUsable))
	}
	if g.FirstUsable > g.LastUsable+1 || g.LastUsable >= last {
		errs = append(errs, fmt.Errorf("gpt usable range %d..%d (byte offsets %d, %d) does not fit before the last sector %d",
			g.FirstUsable, g.LastUsable, hoff+40, hoff+48, last))
	}
	for _, p := range g.Partitions {
		if p.First > p.Last || p.Last > last {
			errs = append(errs, fmt.Errorf("gpt partition %d (byte offset %d): range %d..%d is empty or beyond the last sector %d",
				p.Index+1, g.EntryLBA*SectorSize+uint64(p.Index)*uint64(g.EntrySize)+32, p.First, p.Last, last))
		}
	}

	b := l.BackupGPT
	if b == nil {
		return append(errs, fmt.Errorf("gpt backup header missing: no %q at the last sector %d (byte offset %d)", gptSignature, last, last*SectorSize))
	}
	boff := last * SectorSize
	if c := headerCRC(b.header); c != b.HeaderCRC {
		errs = append(errs, fmt.Errorf("gpt backup header CRC at byte offset %d is %#08x, computed %#08x", boff+16, b.HeaderCRC, c))
	}
	if c := crc32.ChecksumIEEE(b.array); c != b.ArrayCRC {
		errs = append(errs, fmt.Errorf("gpt backup array CRC at byte offset %d is %#08x, computed %#08x over %d bytes at byte offset %d",
			boff+88, b.ArrayCRC, c, len(b.array), b.EntryLBA*SectorSize))
	}
	if b.MyLBA != last || b.BackupLBA != 1 {
		errs = append(errs, fmt.Errorf("gpt backup header at byte offset %d: MyLBA %d / AlternateLBA %d, want %d / 1", boff, b.MyLBA, b.BackupLBA, last))
	}
	if b.EntryLBA+arraySectors > last || b.EntryLBA <= g.LastUsable {
		errs = append(errs, fmt.Errorf("gpt backup array at LBA %d (field at byte offset %d) is not between LastUsable %d and the backup header %d",
			b.EntryLBA, boff+72, g.LastUsable, last))
	}
	type field struct {
		name     string
		off      uint64
		pri, bak any
	}
	for _, f := range []field{
		{"disk GUID", 56, g.DiskGUID, b.DiskGUID},
		{"FirstUsable", 40, g.FirstUsable, b.FirstUsable},
		{"LastUsable", 48, g.LastUsable, b.LastUsable},
		{"entry count", 80, g.EntryCount, b.EntryCount},
		{"entry size", 84, g.EntrySize, b.EntrySize},
		{"array CRC", 88, g.ArrayCRC, b.ArrayCRC},
		{"revision", 8, g.Revision, b.Revision},
	} {
		if f.pri != f.bak {
			errs = append(errs, fmt.Errorf("gpt backup header %s at byte offset %d differs from the primary (byte offset %d): %v vs %v",
				f.name, boff+f.off, hoff+f.off, f.bak, f.pri))
		}
	}
	return errs
}

// NewOverlaps returns an error naming every pair of partitions of one
// table (MBR or GPT) that overlap in l but not in base, matched by their
// entry numbers; with base nil, every overlapping pair. Hybrid images
// overlap on purpose (an isohybrid partition 1 covers the whole image, EFI
// image included; the 0xEE entry covers everything), so Verify accepts
// overlaps; NewOverlaps tells whether a change of the tables made new
// ones.
func (l *Layout) NewOverlaps(base *Layout) error {
	var errs []error
	type span struct {
		n          int
		start, end uint64
	}
	check := func(table string, cur, old []span) {
		overlap := func(a, b span) bool { return a.start < b.end && b.start < a.end }
		was := map[[2]int]bool{}
		for i, a := range old {
			for _, b := range old[i+1:] {
				if overlap(a, b) {
					was[[2]int{a.n, b.n}] = true
				}
			}
		}
		for i, a := range cur {
			for _, b := range cur[i+1:] {
				if overlap(a, b) && (base == nil || !was[[2]int{a.n, b.n}]) {
					errs = append(errs, fmt.Errorf("%s partitions %d (sectors %d..%d) and %d (sectors %d..%d) overlap", table, a.n, a.start, a.end-1, b.n, b.start, b.end-1))
				}
			}
		}
	}
	mbr := func(x *Layout) []span {
		var out []span
		if x == nil || x.MBR == nil {
			return nil
		}
		for i, p := range x.MBR.Partitions {
			if p.Sectors != 0 {
				out = append(out, span{i + 1, uint64(p.Start), uint64(p.Start) + uint64(p.Sectors)})
			}
		}
		return out
	}
	gpt := func(x *Layout) []span {
		var out []span
		if x == nil || x.GPT == nil {
			return nil
		}
		for _, p := range x.GPT.Partitions {
			if p.Last < ^uint64(0) {
				out = append(out, span{p.Index + 1, p.First, p.Last + 1})
			}
		}
		return out
	}
	// Bounded work: at most 4 MBR entries; GPT pairs are counted only for
	// tables as small as real images have.
	check("mbr", mbr(l), mbr(base))
	if cur := gpt(l); len(cur) <= 256 {
		check("gpt", cur, gpt(base))
	} else {
		errs = append(errs, fmt.Errorf("gpt has %d partitions, too many to check for overlaps", len(cur)))
	}
	return errors.Join(errs...)
}

// headerCRC computes the CRC-32 of a GPT header with its CRC field zeroed.
func headerCRC(h []byte) uint32 {
	if len(h) < gptMinHeaderSize {
		return 0
	}
	c := make([]byte, len(h))
	copy(c, h)
	binary.LittleEndian.PutUint32(c[16:], 0)
	return crc32.ChecksumIEEE(c)
}
