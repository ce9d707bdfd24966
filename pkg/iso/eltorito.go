package iso

import (
	"encoding/binary"
	"fmt"
)

// Platform IDs of El Torito validation entries and section headers.
const (
	PlatformX86 = 0x00
	PlatformPPC = 0x01
	PlatformMac = 0x02
	PlatformEFI = 0xEF
)

// BootEntry is one bootable entry of the El Torito boot catalog: the
// initial/default entry or a section entry.
type BootEntry struct {
	Platform  byte   // of the validation entry or of the section header
	Bootable  bool   // boot indicator 0x88
	Media     byte   // 0 no emulation, 1-3 floppy, 4 hard disk
	LoadRBA   uint32 // first 2048-byte block of the image
	Sectors   uint16 // sectors of 512 bytes to load (0 for large EFI images)
	Offset    int64  // byte offset of the entry in the image
	SectionID string // of the section header, trimmed
}

// PlatformName returns "BIOS", "UEFI", "PPC", "Mac" or the number.
func (e BootEntry) PlatformName() string {
	switch e.Platform {
	case PlatformX86:
		return "BIOS"
	case PlatformEFI:
		return "UEFI"
	case PlatformPPC:
		return "PPC"
	case PlatformMac:
		return "Mac"
	}
	return fmt.Sprintf("platform 0x%02x", e.Platform)
}

// BootCatalog reads the El Torito boot catalog: one sector of 32-byte
// entries, a validation entry, the initial entry, then section headers
// each followed by its entries. It returns nil without an El Torito boot
// record. The catalog is checked (validation key, checksum) and bounded to
// its sector, so a corrupt catalog gives a *FormatError.
func (im *Image) BootCatalog() ([]BootEntry, error) {
	lba, ok := im.ElTorito()
	if !ok {
		return nil, nil
	}
	off := int64(lba) * SectorSize
	fail := func(at int64, format string, args ...any) error {
		return &FormatError{Offset: at, What: "El Torito boot catalog", Err: fmt.Errorf(format, args...)}
	}
	if off+SectorSize > im.size {
		return nil, fail(off, "sector %d lies beyond the end of the image", lba)
	}
	buf := make([]byte, SectorSize)
	if err := im.readAt(buf, off); err != nil {
		return nil, err
	}
	if buf[0] != 0x01 || buf[30] != 0x55 || buf[31] != 0xAA {
		return nil, fail(off, "no validation entry (header %#02x, key % x)", buf[0], buf[30:32])
	}
	var sum uint16
	for i := 0; i < 32; i += 2 {
		sum += binary.LittleEndian.Uint16(buf[i:])
	}
	if sum != 0 {
		return nil, fail(off, "validation entry checksum is %#04x, not 0", sum)
	}
	platform := buf[1]
	entry := func(b []byte, at int64, platform byte, id string) BootEntry {
		return BootEntry{
			Platform:  platform,
			Bootable:  b[0] == 0x88,
			Media:     b[1] & 0x0F,
			Sectors:   binary.LittleEndian.Uint16(b[6:]),
			LoadRBA:   binary.LittleEndian.Uint32(b[8:]),
			Offset:    at,
			SectionID: id,
		}
	}
	out := []BootEntry{entry(buf[32:64], off+32, platform, "")}
	for pos := 64; pos+32 <= SectorSize; {
		h := buf[pos : pos+32]
		if h[0] != 0x90 && h[0] != 0x91 {
			break // the rest of the sector is unused
		}
		last := h[0] == 0x91
		platform := h[1]
		n := int(binary.LittleEndian.Uint16(h[2:]))
		id := trimID(h[4:32])
		pos += 32
		for i := 0; i < n; i++ {
			if pos+32 > SectorSize {
				return nil, fail(off+int64(pos), "section header announces %d entries beyond the catalog sector", n-i)
			}
			e := buf[pos : pos+32]
			pos += 32
			out = append(out, entry(e, off+int64(pos-32), platform, id))
			// Extension entries (0x44) follow an entry whose media
			// byte has bit 5 set.
			for e[1]&0x20 != 0 && pos+32 <= SectorSize && buf[pos] == 0x44 {
				e = buf[pos : pos+32]
				pos += 32
			}
		}
		if last {
			break
		}
	}
	return out, nil
}

// trimID trims NULs and spaces from an ID field.
func trimID(b []byte) string {
	end := len(b)
	for end > 0 && (b[end-1] == 0 || b[end-1] == ' ') {
		end--
	}
	s := make([]byte, 0, end)
	for _, c := range b[:end] {
		if c >= 0x20 && c < 0x7F {
			s = append(s, c)
		} else {
			s = append(s, '?')
		}
	}
	return string(s)
}
