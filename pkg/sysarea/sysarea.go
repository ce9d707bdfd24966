package sysarea

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf16"
)

// Sizes and limits of the structures this package reads.
const (
	// SectorSize is the logical sector size of the MBR and GPT.
	SectorSize = 512
	// SystemAreaSize is the size of the ISO 9660 system area (LBA 0–15).
	SystemAreaSize = 32 * 1024

	// MaxGPTEntries, MinGPTEntrySize, MaxGPTEntrySize and MaxGPTArray
	// bound the GPT entry array that Read accepts.
	MaxGPTEntries   = 4096
	MinGPTEntrySize = 128
	MaxGPTEntrySize = 4096
	MaxGPTArray     = 1 << 20

	gptSignature     = "EFI PART"
	gptMinHeaderSize = 92
	mbrTableOff      = 446
	mbrSigOff        = 510
)

// Layout is the system area of one image as Read found it.
type Layout struct {
	Size int64 // the image size it was read from
	MBR  *MBR  // nil if no 0x55AA at byte 510
	GPT  *GPT  // nil if no "EFI PART" at LBA 1 (512-byte sectors)
	APM  *APM  // nil if not "ER" at byte 0 with "PM" entries

	// BackupGPT is the header (and its array) found at the last whole
	// 512-byte sector of Size or, when there is none there, at the
	// primary's AlternateLBA if that lies inside the image and holds a
	// header whose MyLBA says so (an image with bytes appended after its
	// backup GPT; Verify reports it as not at the last sector). It is nil
	// when there is none. Read only looks for it when GPT is set.
	BackupGPT *GPT

	twin        int64 // partition offset confirmed by Read, see PartitionOffset
	twinChecked bool
}

// MBR is the master boot record partition table in sector 0.
type MBR struct {
	Signature  uint32 // disk signature, bytes 440–443 (little-endian)
	Partitions [4]MBRPartition
}

// MBRPartition is one 16-byte entry of the MBR partition table. Start and
// Sectors count 512-byte sectors.
type MBRPartition struct {
	Status, Type     byte
	Start, Sectors   uint32
	StartCHS, EndCHS [3]byte // as stored: head, sector|cylinder<<6 bits, cylinder
}

// GPT is one GPT header with the partitions of the array it points at.
type GPT struct {
	DiskGUID    [16]byte
	EntryLBA    uint64
	EntryCount  uint32
	EntrySize   uint32
	FirstUsable uint64
	LastUsable  uint64
	BackupLBA   uint64 // the header's AlternateLBA
	// Partitions are the entries with a non-zero type GUID. Index is the
	// 0-based position in the array (partition number Index+1).
	Partitions []GPTPartition

	MyLBA      uint64
	Revision   uint32
	HeaderSize uint32
	HeaderCRC  uint32 // as stored
	ArrayCRC   uint32 // as stored

	header []byte // HeaderSize bytes as read
	array  []byte // EntryCount*EntrySize bytes as read
	at     uint64 // the LBA Read found this header at; 0 when not from Read
}

// GPTPartition is one non-empty GPT entry. First and Last are inclusive
// 512-byte LBAs.
type GPTPartition struct {
	Index       int
	Type, GUID  [16]byte
	First, Last uint64
	Attributes  uint64
	Name        string
}

// APM is an Apple Partition Map.
type APM struct {
	BlockSize int // 512 or 2048, from block 0
	Entries   []APMEntry
}

// APMEntry is one "PM" map entry. Index is its block number (the first map
// entry is block 1); Start and Count are in BlockSize units.
type APMEntry struct {
	Index        int
	Start, Count uint32
	Name, Type   string

	LogicalStart, LogicalCount uint32
}

// Read parses the system area of an image of the given size: the first
// 32 KiB, the GPT array wherever its header says, and the backup GPT at the
// last 512-byte sector. An image without the MBR signature 0x55AA yields a
// Layout whose tables are all nil and no error. Tables that are present
// but malformed give an error naming the byte offset.
func Read(r io.ReaderAt, size int64) (*Layout, error) {
	l := &Layout{Size: size}
	if size < SectorSize {
		return l, nil
	}
	sa := make([]byte, min(size, SystemAreaSize))
	if err := readFull(r, sa, 0); err != nil {
		return nil, err
	}
	if sa[mbrSigOff] != 0x55 || sa[mbrSigOff+1] != 0xAA {
		return l, nil
	}
	l.MBR = parseMBR(sa)

	if size >= 2*SectorSize && string(sa[SectorSize:SectorSize+8]) == gptSignature {
		g, err := readGPT(r, size, 1)
		if err != nil {
			return nil, err
		}
		l.GPT = g
		if last := size/SectorSize - 1; last > 1 {
			var sig [8]byte
			if err := readFull(r, sig[:], last*SectorSize); err != nil {
				return nil, err
			}
			if string(sig[:]) == gptSignature {
				b, err := readGPT(r, size, uint64(last))
				if err != nil {
					return nil, fmt.Errorf("backup gpt: %w", err)
				}
				l.BackupGPT = b
			} else if alt := g.BackupLBA; alt > 1 && alt < uint64(last) {
				// Bytes appended after the backup GPT: it is where the
				// primary points. Being off the standard place, it is
				// taken only when it parses and names its own LBA.
				if err := readFull(r, sig[:], int64(alt)*SectorSize); err != nil {
					return nil, err
				}
				if string(sig[:]) == gptSignature {
					if b, err := readGPT(r, size, alt); err == nil && b.MyLBA == alt {
						l.BackupGPT = b
					}
				}
			}
		}
	}

	apm, err := parseAPM(sa)
	if err != nil {
		return nil, err
	}
	l.APM = apm

	l.twinChecked = true
	if off := l.tableOffset(); off > 0 && off+17*2048 <= size {
		var id [6]byte
		if err := readFull(r, id[:], off+16*2048); err != nil {
			return nil, err
		}
		if string(id[1:6]) == "CD001" {
			l.twin = off
		}
	}
	return l, nil
}

func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read %d bytes at byte offset %d: %w", len(p), off, err)
}

func parseMBR(sa []byte) *MBR {
	m := &MBR{Signature: binary.LittleEndian.Uint32(sa[440:])}
	for i := range m.Partitions {
		e := sa[mbrTableOff+16*i:]
		p := &m.Partitions[i]
		p.Status = e[0]
		copy(p.StartCHS[:], e[1:4])
		p.Type = e[4]
		copy(p.EndCHS[:], e[5:8])
		p.Start = binary.LittleEndian.Uint32(e[8:])
		p.Sectors = binary.LittleEndian.Uint32(e[12:])
	}
	return m
}

func (p *MBRPartition) marshal(e []byte) {
	e[0] = p.Status
	copy(e[1:4], p.StartCHS[:])
	e[4] = p.Type
	copy(e[5:8], p.EndCHS[:])
	binary.LittleEndian.PutUint32(e[8:], p.Start)
	binary.LittleEndian.PutUint32(e[12:], p.Sectors)
}

// readGPT reads the header at 512-byte LBA lba and its entry array.
func readGPT(r io.ReaderAt, size int64, lba uint64) (*GPT, error) {
	hoff := int64(lba) * SectorSize
	sec := make([]byte, SectorSize)
	if err := readFull(r, sec, hoff); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	g := &GPT{
		Revision:    le.Uint32(sec[8:]),
		HeaderSize:  le.Uint32(sec[12:]),
		HeaderCRC:   le.Uint32(sec[16:]),
		MyLBA:       le.Uint64(sec[24:]),
		BackupLBA:   le.Uint64(sec[32:]),
		FirstUsable: le.Uint64(sec[40:]),
		LastUsable:  le.Uint64(sec[48:]),
		EntryLBA:    le.Uint64(sec[72:]),
		EntryCount:  le.Uint32(sec[80:]),
		EntrySize:   le.Uint32(sec[84:]),
		ArrayCRC:    le.Uint32(sec[88:]),
	}
	copy(g.DiskGUID[:], sec[56:72])
	g.at = lba
	if g.HeaderSize < gptMinHeaderSize || g.HeaderSize > SectorSize {
		return nil, fmt.Errorf("gpt header at byte offset %d: header size %d at byte offset %d is outside %d..%d",
			hoff, g.HeaderSize, hoff+12, gptMinHeaderSize, SectorSize)
	}
	g.header = sec[:g.HeaderSize]
	if g.EntrySize < MinGPTEntrySize || g.EntrySize > MaxGPTEntrySize || g.EntrySize%8 != 0 {
		return nil, fmt.Errorf("gpt header at byte offset %d: entry size %d at byte offset %d is not a multiple of 8 in %d..%d",
			hoff, g.EntrySize, hoff+84, MinGPTEntrySize, MaxGPTEntrySize)
	}
	if g.EntryCount > MaxGPTEntries {
		return nil, fmt.Errorf("gpt header at byte offset %d: entry count %d at byte offset %d exceeds %d",
			hoff, g.EntryCount, hoff+80, MaxGPTEntries)
	}
	n := int64(g.EntryCount) * int64(g.EntrySize)
	if n > MaxGPTArray {
		return nil, fmt.Errorf("gpt header at byte offset %d: entry array of %d bytes (count at byte offset %d, size at %d) exceeds %d",
			hoff, n, hoff+80, hoff+84, MaxGPTArray)
	}
	if g.EntryLBA > uint64(size/SectorSize) || int64(g.EntryLBA)*SectorSize+n > size {
		return nil, fmt.Errorf("gpt header at byte offset %d: entry array at LBA %d (byte offset %d) with %d bytes lies beyond the image end %d",
			hoff, g.EntryLBA, hoff+72, n, size)
	}
	aoff := int64(g.EntryLBA) * SectorSize
	if g.EntryLBA < 2 || (aoff <= hoff && hoff < aoff+n) {
		return nil, fmt.Errorf("gpt header at byte offset %d: entry array at LBA %d (field at byte offset %d) overlaps the MBR or a GPT header",
			hoff, g.EntryLBA, hoff+72)
	}
	g.array = make([]byte, n)
	if err := readFull(r, g.array, aoff); err != nil {
		return nil, err
	}
	g.Partitions = parseEntries(g.array, g.EntryCount, g.EntrySize)
	return g, nil
}

// parseEntries returns the non-empty entries of a GPT entry array.
func parseEntries(array []byte, count, size uint32) []GPTPartition {
	le := binary.LittleEndian
	var out []GPTPartition
	for i := 0; i < int(count) && (i+1)*int(size) <= len(array); i++ {
		e := array[i*int(size):]
		var p GPTPartition
		copy(p.Type[:], e[0:16])
		if p.Type == ([16]byte{}) {
			continue
		}
		p.Index = i
		copy(p.GUID[:], e[16:32])
		p.First = le.Uint64(e[32:])
		p.Last = le.Uint64(e[40:])
		p.Attributes = le.Uint64(e[48:])
		p.Name = decodeName(e[56:128])
		out = append(out, p)
	}
	return out
}

func decodeName(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// APM entry field offsets.
const (
	apmMapCount  = 4
	apmStart     = 8
	apmCount     = 12
	apmName      = 16
	apmType      = 48
	apmLogStart  = 80
	apmLogCount  = 84
	apmEntrySize = 136 // the bytes this package reads of each entry
)

func parseAPM(sa []byte) (*APM, error) {
	if len(sa) < 4 || sa[0] != 'E' || sa[1] != 'R' {
		return nil, nil
	}
	bs := int(binary.BigEndian.Uint16(sa[2:]))
	if bs != 512 && bs != 2048 {
		for _, cand := range []int{512, 2048} {
			if len(sa) >= cand+2 && sa[cand] == 'P' && sa[cand+1] == 'M' {
				return nil, fmt.Errorf("apm: block size %d at byte offset 2 is neither 512 nor 2048 but a map entry is at byte offset %d", bs, cand)
			}
		}
		return nil, nil
	}
	if len(sa) < 2*bs || sa[bs] != 'P' || sa[bs+1] != 'M' {
		return nil, nil
	}
	count := binary.BigEndian.Uint32(sa[bs+apmMapCount:])
	if count == 0 || int64(count)+1 > int64(len(sa)/bs) {
		return nil, fmt.Errorf("apm: map entry count %d at byte offset %d does not fit blocks 1..%d of %d bytes in the system area",
			count, bs+apmMapCount, len(sa)/bs-1, bs)
	}
	a := &APM{BlockSize: bs}
	be := binary.BigEndian
	for i := 1; i <= int(count); i++ {
		e := sa[i*bs : i*bs+apmEntrySize]
		if e[0] != 'P' || e[1] != 'M' {
			return nil, fmt.Errorf("apm: entry %d at byte offset %d lacks the \"PM\" signature (map count %d)", i, i*bs, count)
		}
		a.Entries = append(a.Entries, APMEntry{
			Index:        i,
			Start:        be.Uint32(e[apmStart:]),
			Count:        be.Uint32(e[apmCount:]),
			Name:         cString(e[apmName : apmName+32]),
			Type:         cString(e[apmType : apmType+32]),
			LogicalStart: be.Uint32(e[apmLogStart:]),
			LogicalCount: be.Uint32(e[apmLogCount:]),
		})
	}
	return a, nil
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// PartitionOffset returns the byte offset of the partition that holds a
// second (twin) ISO 9660 volume-descriptor set, as made by xorriso
// -partition_offset: the start of MBR partition 1 (when it is not the 0xEE
// protective entry) or else of GPT partition 1, when that start is not 0.
// For a Layout from Read it is also required that "CD001" is at that offset
// plus 16 blocks of 2048 bytes. It returns 0 when there is none.
func (l *Layout) PartitionOffset() int64 {
	if l.twinChecked {
		return l.twin
	}
	return l.tableOffset()
}

func (l *Layout) tableOffset() int64 {
	if l.MBR != nil {
		p := l.MBR.Partitions[0]
		if p.Type != 0xEE && p.Sectors != 0 {
			return int64(p.Start) * SectorSize
		}
	}
	if l.GPT != nil {
		for _, p := range l.GPT.Partitions {
			if p.Index == 0 && p.First <= uint64(l.Size/SectorSize) {
				return int64(p.First) * SectorSize
			}
		}
	}
	return 0
}
