package iso

import (
	"encoding/binary"
	"strings"
	"unicode/utf16"
)

// Joliet escape sequences at byte 88 of a supplementary volume descriptor:
// "%/@", "%/C" and "%/E" select UCS-2 levels 1, 2 and 3.
const jolietEscapeOffset = 88

// jolietLevel returns the Joliet level (1–3) named by the escape sequences
// field of the supplementary descriptor d, or 0 if it names none.
func jolietLevel(d []byte) int {
	esc := d[jolietEscapeOffset : jolietEscapeOffset+32]
	for i := 0; i+3 <= len(esc); i++ {
		if esc[i] != '%' || esc[i+1] != '/' {
			continue
		}
		switch esc[i+2] {
		case '@':
			return 1
		case 'C':
			return 2
		case 'E':
			return 3
		}
	}
	return 0
}

// decodeUCS2 decodes a UCS-2BE (UTF-16BE, surrogates tolerated) identifier;
// an odd trailing byte is ignored and a NUL character ends the name.
func decodeUCS2(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.BigEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// encodeUCS2 encodes s as UTF-16BE.
func encodeUCS2(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.BigEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// stripVersion drops a trailing ";" followed by digits (the file version)
// from a decoded name.
func stripVersion(s string) string {
	i := strings.LastIndexByte(s, ';')
	if i < 0 {
		return s
	}
	for _, c := range s[i+1:] {
		if c < '0' || c > '9' {
			return s
		}
	}
	return s[:i]
}
