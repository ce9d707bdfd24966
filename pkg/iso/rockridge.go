package iso

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// SUSP / Rock Ridge limits on corrupt input.
const (
	maxCEHops    = 32       // continuation areas followed per record
	maxSUBytes   = 64 << 10 // system-use bytes examined per record
	rrPXSerialAt = 36       // offset of the inode serial in a 44-byte PX entry
)

// susp is what the reader takes from the System Use area of one record.
type susp struct {
	name     string // NM name ("" if none)
	hasNM    bool
	hidden   bool // RE: a relocated directory, shown through its CL entry
	cl       bool // CL: child link (not followed)
	ce       bool // a CE continuation entry was present
	zf       bool // ZF (zisofs) present
	pxLen    int  // length of the PX entry (36 or 44), 0 if none
	pxSerial uint32
	spSkip   int  // SP entry: bytes to skip (root "." only)
	sp       bool // SP entry present
}

// systemUse returns the System Use area of the directory record b.
func systemUse(b []byte) []byte {
	n := int(b[recNameLen])
	start := recName + n
	if n%2 == 0 {
		start++ // padding byte after an even-length identifier
	}
	if start >= len(b) {
		return nil
	}
	return b[start:]
}

var errSUSP = errors.New("malformed SUSP entry")

// parseSUSP walks the SUSP entries of the System Use area su (after skip
// bytes), following CE continuation areas through rd with bounded work.
// Malformed entries end the walk; a broken continuation area is an error.
func parseSUSP(rd readFn, su []byte, skip int, base int64) (susp, error) {
	var s susp
	if skip > len(su) {
		return s, nil
	}
	area := su[skip:]
	var nm []byte
	nmDone := false
	total := 0
	for hop := 0; ; hop++ {
		var next struct {
			ok        bool
			block     int64
			off, size int64
		}
		for len(area) >= 4 {
			l := int(area[2])
			if l < 4 || l > len(area) {
				break
			}
			e := area[:l]
			area = area[l:]
			sig := string(e[:2])
			switch sig {
			case "ST":
				area = nil
			case "SP":
				if l >= 7 && e[4] == 0xBE && e[5] == 0xEF {
					s.sp, s.spSkip = true, int(e[6])
				}
			case "CE":
				if l >= 28 {
					s.ce = true
					next.ok = true
					next.block = int64(binary.LittleEndian.Uint32(e[4:]))
					next.off = int64(binary.LittleEndian.Uint32(e[12:]))
					next.size = int64(binary.LittleEndian.Uint32(e[20:]))
				}
			case "NM":
				if l >= 5 && !nmDone {
					flags := e[4]
					if flags&0x06 == 0 { // not CURRENT / PARENT
						nm = append(nm, e[5:]...)
						s.hasNM = true
					}
					if flags&0x01 == 0 {
						nmDone = true
					}
				}
			case "PX":
				if l >= 36 {
					s.pxLen = l
					if l >= 44 {
						s.pxSerial = binary.LittleEndian.Uint32(e[rrPXSerialAt:])
					}
				}
			case "RE":
				s.hidden = true
			case "CL":
				s.cl = true
			case "ZF":
				s.zf = true
			}
		}
		if !next.ok {
			break
		}
		if hop >= maxCEHops {
			return s, fmt.Errorf("more than %d SUSP continuation areas: %w", maxCEHops, errSUSP)
		}
		if next.off >= SectorSize || next.size > SectorSize-next.off || next.size == 0 {
			return s, fmt.Errorf("continuation area %d+%d at block %d: %w", next.off, next.size, next.block, errSUSP)
		}
		if total += int(next.size); total > maxSUBytes {
			return s, fmt.Errorf("SUSP areas exceed %d bytes: %w", maxSUBytes, errSUSP)
		}
		buf := make([]byte, next.size)
		if err := rd(buf, base+next.block*SectorSize+next.off); err != nil {
			return s, fmt.Errorf("continuation area: %w", err)
		}
		area = buf
	}
	s.name = string(nm)
	return s, nil
}

// rrEntries splits the System Use area su (after skip bytes) into its SUSP
// entries; trailing bytes that are not an entry are dropped.
func rrEntries(su []byte) [][]byte {
	var out [][]byte
	for len(su) >= 4 {
		l := int(su[2])
		if l < 4 || l > len(su) {
			break
		}
		out = append(out, su[:l])
		if string(su[:2]) == "ST" {
			break
		}
		su = su[l:]
	}
	return out
}
