package embed

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/isobuild/isobuild/pkg/iso"
)

// KargsInfoPath is the ISO9660 name of /coreos/kargs.json, which describes
// the kernel-argument embed areas.
const KargsInfoPath = "COREOS/KARGS.JSO"

// MaxKargsAreaSize is the largest karg area this package accepts; the OS
// build never makes a bigger one, so a larger value means a corrupt image.
const MaxKargsAreaSize = 2048

// Offsets of the legacy coreKarg header in the ISO9660 system area. Images
// built before kargs.json existed describe their karg areas only there.
const (
	kargHeaderOffset = 32672
	kargHeaderSize   = 72
	kargHeaderMagic  = "coreKarg"
	kargHeaderSlots  = 6
)

// ErrNoKargAreas is returned by karg operations on an image without karg
// embed areas (images built before 2021 have none).
var ErrNoKargAreas = errors.New("image has no karg embed areas")

// ErrEmptyKargAreas is returned by Open for an image whose karg descriptor
// (kargs.json or the legacy header) lists no areas: a corrupt image.
var ErrEmptyKargAreas = errors.New("karg embed area descriptor lists no areas")

// KargsMismatchError reports karg areas that hold different command lines,
// which a bootloader config edited by hand can cause.
type KargsMismatchError struct {
	// Want is the command line of the first area; Offset is the area
	// that holds Found instead.
	Want   string
	Offset int64
	Found  string
}

func (e *KargsMismatchError) Error() string {
	return fmt.Sprintf("karg areas disagree: the first holds %s, the one at offset %d holds %s", Quote(e.Want), e.Offset, Quote(e.Found))
}

// MaxQuoted is how many bytes of a string read from an image Quote keeps.
const MaxQuoted = 96

// Quote quotes a string read from an image for a message: Go-escaped, so
// that control bytes and escape sequences cannot reach a terminal, and cut
// to MaxQuoted bytes.
func Quote(s string) string {
	if len(s) > MaxQuoted {
		return strconv.Quote(s[:MaxQuoted]) + fmt.Sprintf("… (%d bytes)", len(s))
	}
	return strconv.Quote(s)
}

// KargsTooLongError reports kernel arguments that do not fit the karg
// areas: Need bytes (with the end byte) against Size.
type KargsTooLongError struct {
	Need, Size int
}

func (e *KargsTooLongError) Error() string {
	return fmt.Sprintf("kernel arguments need %d bytes, more than the %d bytes of the karg embed areas", e.Need, e.Size)
}

// ReplaceSyntaxError reports a karg replacement that is not KEY=OLD=NEW.
type ReplaceSyntaxError struct {
	Arg string
}

func (e *ReplaceSyntaxError) Error() string {
	return fmt.Sprintf("karg replacement %q is not of the form KEY=OLD=NEW", e.Arg)
}

// KargArea is one fixed-size slot holding the kernel command line.
type KargArea struct {
	// File is the path of the containing file as kargs.json spells it
	// (empty for areas found through the legacy header).
	File string `json:"file,omitempty"`
	// Offset is the absolute byte offset of the area in the image.
	Offset int64 `json:"offset"`
	// Length is the size of the area in bytes.
	Length int `json:"length"`
	// Pad fills the area after the end character; End follows the kargs.
	Pad byte `json:"-"`
	End byte `json:"-"`
	// Explicit is true when kargs.json gave pad and end itself.
	Explicit bool `json:"-"`
}

// KargAreas describes all karg embed areas of an image.
type KargAreas struct {
	// Size is the length of every area.
	Size int
	// Default is the pristine kernel command line of the image.
	Default string
	// Areas are the writable areas, sorted by offset for kargs.json and in
	// header order for the legacy header.
	Areas []KargArea
	// Source says where the areas were described: "kargs.json" or
	// "coreKarg header".
	Source string

	defaultOffset int64 // of the default kargs block of the coreKarg header
}

type kargsJSON struct {
	Default *string `json:"default"`
	Files   []struct {
		Path   string  `json:"path"`
		Offset *int64  `json:"offset"`
		Pad    *string `json:"pad"`
		End    *string `json:"end"`
	} `json:"files"`
	Size *int `json:"size"`
}

// findKargAreas locates the karg areas: kargs.json first, then the legacy
// header. It returns nil for an image that has neither, and the extents
// of the legacy header and its default kargs block, which no area may
// overlap.
func findKargAreas(img *iso.Image, r io.ReaderAt) (*KargAreas, []Extent, error) {
	raw, err := readMetadata(img, KargsInfoPath)
	switch {
	case err == nil:
		ka, err := parseKargsJSON(img, r, raw)
		return ka, nil, err
	case !errors.Is(err, iso.ErrNotFound):
		return nil, nil, fmt.Errorf("reading %s: %w", KargsInfoPath, err)
	}
	ka, err := parseKargHeader(img, r)
	if ka == nil || err != nil {
		return nil, nil, err
	}
	extra := []Extent{
		{What: "coreKarg header", Offset: kargHeaderOffset, Length: kargHeaderSize},
		{What: "default kargs block", Offset: ka.defaultOffset, Length: int64(ka.Size)},
	}
	return ka, extra, nil
}

func parseKargsJSON(img *iso.Image, r io.ReaderAt, raw []byte) (*KargAreas, error) {
	var info kargsJSON
	if err := json.Unmarshal(raw, &info); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", KargsInfoPath, err)
	}
	if info.Default == nil || info.Size == nil || info.Files == nil {
		return nil, fmt.Errorf("decoding %s: missing \"default\", \"files\" or \"size\"", KargsInfoPath)
	}
	size := *info.Size
	if size > MaxKargsAreaSize || size <= 0 {
		return nil, fmt.Errorf("karg embed area size larger than %d (found %d)", MaxKargsAreaSize, size)
	}
	if len(*info.Default) > size {
		return nil, fmt.Errorf("default kargs size %d larger than embed areas (%d)", len(*info.Default), size)
	}
	ka := &KargAreas{Size: size, Default: *info.Default, Source: "kargs.json"}
	for i, f := range info.Files {
		if f.Offset == nil || *f.Offset < 0 {
			return nil, fmt.Errorf("decoding %s: files[%d]: missing or negative offset", KargsInfoPath, i)
		}
		rec, err := img.Lookup(strings.ToUpper(f.Path))
		if err != nil {
			return nil, fmt.Errorf("looking up %s: %w", Quote(f.Path), err)
		}
		if rec.IsDir {
			return nil, fmt.Errorf("looking up %s: entry is a directory", Quote(f.Path))
		}
		area := KargArea{File: f.Path, Offset: rec.Offset + *f.Offset, Length: size, Pad: '#', End: '\n'}
		if f.Pad != nil || f.End != nil {
			area.Explicit = true
		}
		if f.Pad != nil {
			if len(*f.Pad) != 1 {
				return nil, fmt.Errorf("decoding %s: files[%d]: pad must be one byte, found %s", KargsInfoPath, i, Quote(*f.Pad))
			}
			area.Pad = (*f.Pad)[0]
		}
		if f.End != nil {
			if len(*f.End) != 1 {
				return nil, fmt.Errorf("decoding %s: files[%d]: end must be one byte, found %s", KargsInfoPath, i, Quote(*f.End))
			}
			area.End = (*f.End)[0]
		}
		if err := checkBounds(img, area.Offset, int64(size)); err != nil {
			return nil, fmt.Errorf("karg area of %s: %w", Quote(f.Path), err)
		}
		if err := within(Extent{What: "karg area", Offset: area.Offset, Length: int64(size)}, Quote(strings.ToUpper(f.Path)), rec); err != nil {
			return nil, err
		}
		ka.Areas = append(ka.Areas, area)
	}
	if len(ka.Areas) == 0 {
		return nil, ErrEmptyKargAreas
	}
	sort.SliceStable(ka.Areas, func(i, j int) bool { return ka.Areas[i].Offset < ka.Areas[j].Offset })
	return ka, nil
}

func parseKargHeader(img *iso.Image, r io.ReaderAt) (*KargAreas, error) {
	var hdr [kargHeaderSize]byte
	if _, err := r.ReadAt(hdr[:], kargHeaderOffset); err != nil {
		return nil, fmt.Errorf("reading coreKarg header at offset %d: %w", kargHeaderOffset, err)
	}
	if string(hdr[:8]) != kargHeaderMagic {
		return nil, nil
	}
	length := binary.LittleEndian.Uint64(hdr[8:])
	if length > MaxKargsAreaSize || length == 0 {
		return nil, fmt.Errorf("karg embed area length larger than %d (found %d)", MaxKargsAreaSize, length)
	}
	size := int(length)
	defOff := int64(binary.LittleEndian.Uint64(hdr[16:]))
	if err := checkBounds(img, defOff, int64(size)); err != nil {
		return nil, fmt.Errorf("default kargs block of coreKarg header: %w", err)
	}
	defArea := KargArea{Offset: defOff, Length: size, Pad: '#', End: '\n'}
	buf := make([]byte, size)
	if _, err := r.ReadAt(buf, defOff); err != nil {
		return nil, fmt.Errorf("reading default kargs at offset %d: %w", defOff, err)
	}
	def, err := defArea.parse(buf)
	if err != nil {
		return nil, fmt.Errorf("default kargs at offset %d: %w", defOff, err)
	}
	ka := &KargAreas{Size: size, Default: def, Source: "coreKarg header", defaultOffset: defOff}
	for i := 0; i < kargHeaderSlots; i++ {
		off := int64(binary.LittleEndian.Uint64(hdr[24+8*i:]))
		if off == 0 {
			break
		}
		if err := checkBounds(img, off, int64(size)); err != nil {
			return nil, fmt.Errorf("karg area %d of coreKarg header: %w", i, err)
		}
		ka.Areas = append(ka.Areas, KargArea{Offset: off, Length: size, Pad: '#', End: '\n'})
	}
	if len(ka.Areas) == 0 {
		return nil, ErrEmptyKargAreas
	}
	return ka, nil
}

func checkBounds(img *iso.Image, off, n int64) error {
	if off < 0 || n < 0 || off+n > img.Size() {
		return fmt.Errorf("region at offset %d, length %d lies outside the %d-byte image", off, n, img.Size())
	}
	return nil
}

// parse decodes the kargs held in one area's bytes.
func (a KargArea) parse(b []byte) (string, error) {
	if !utf8.Valid(b) {
		return "", errors.New("invalid UTF-8 in karg area")
	}
	s := strings.TrimRight(string(b), string(a.Pad))
	s = strings.TrimRight(s, string(a.End))
	return strings.TrimSpace(s), nil
}

// encode returns the area bytes holding kargs k: k, the end byte, then pad.
func (a KargArea) encode(k string) []byte {
	b := make([]byte, a.Length)
	n := copy(b, k)
	b[n] = a.End
	for i := n + 1; i < len(b); i++ {
		b[i] = a.Pad
	}
	return b
}

// current reads every area and returns the kargs they share.
func (ka *KargAreas) current(r io.ReaderAt) (string, error) {
	var first string
	buf := make([]byte, ka.Size)
	for i, a := range ka.Areas {
		if _, err := r.ReadAt(buf, a.Offset); err != nil {
			return "", fmt.Errorf("reading karg area at offset %d: %w", a.Offset, err)
		}
		k, err := a.parse(buf)
		if err != nil {
			return "", fmt.Errorf("karg area at offset %d: %w", a.Offset, err)
		}
		if i == 0 {
			first = k
		} else if k != first {
			return "", &KargsMismatchError{Want: first, Offset: a.Offset, Found: k}
		}
	}
	return first, nil
}

// regions returns the bytes that set every area to kargs k.
func (ka *KargAreas) regions(k string) ([]region, error) {
	k = strings.TrimSpace(k)
	// A newline would end the bootloader's command line early and start a
	// new config line; no control character belongs on a command line.
	if i := strings.IndexFunc(k, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
		return nil, fmt.Errorf("kernel arguments must not contain control characters (found %q at byte %d)", k[i], i)
	}
	// The areas are read back as UTF-8 (as coreos-installer reads them):
	// other bytes would make the image unreadable to both tools.
	if !utf8.ValidString(k) {
		return nil, fmt.Errorf("kernel arguments must be valid UTF-8 (found %s)", Quote(k))
	}
	if len(k) >= ka.Size {
		return nil, &KargsTooLongError{Need: len(k) + 1, Size: ka.Size}
	}
	var out []region
	for _, a := range ka.Areas {
		out = append(out, region{offset: a.Offset, data: a.encode(k), what: "karg area"})
	}
	return out, nil
}

var replaceRE = regexp.MustCompile(`^([^=]+)=([^=]+)=([^=]+)$`)

// KargsEdit is an edit of a kernel command line in coreos-installer's
// string-level semantics: first every Delete, then every Append, then every
// Replace, whatever order the user gave them in.
type KargsEdit struct {
	// Append adds each argument at the end (duplicates allowed).
	Append []string
	// Delete removes every whole-token occurrence of each argument,
	// including its value: "foo" does not remove "foo=bar".
	Delete []string
	// Replace holds KEY=OLD=NEW items; each turns "KEY=OLD" into "KEY=NEW".
	Replace []string
}

// Empty reports whether the edit changes nothing.
func (e KargsEdit) Empty() bool {
	return len(e.Append) == 0 && len(e.Delete) == 0 && len(e.Replace) == 0
}

// Apply applies the edit to the command line kargs.
func (e KargsEdit) Apply(kargs string) (string, error) {
	s := " " + kargs + " "
	for _, d := range e.Delete {
		s = strings.ReplaceAll(s, " "+strings.TrimSpace(d)+" ", " ")
	}
	for _, a := range e.Append {
		s += strings.TrimSpace(a) + " "
	}
	for _, r := range e.Replace {
		m := replaceRE.FindStringSubmatch(strings.TrimSpace(r))
		if m == nil {
			return "", &ReplaceSyntaxError{Arg: r}
		}
		s = strings.ReplaceAll(s, " "+m[1]+"="+m[2]+" ", " "+m[1]+"="+m[3]+" ")
	}
	return strings.TrimSpace(s), nil
}
