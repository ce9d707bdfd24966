// Package iso reads ISO 9660 (ECMA-119) images: it finds where each file
// of a live ISO lies, which is how package embed locates the embed areas
// that the rest of the pipeline rewrites.
//
// The reader parses the volume descriptors (and recognises an El Torito boot
// record) and walks the primary directory tree only. It exposes the byte
// extent of every file, which is what in-place customization of a live ISO
// needs: the embed areas are rewritten at fixed offsets without remastering.
// Names are the primary-tree ISO 9660 names (upper case, 8.3 style, e.g.
// "COREOS/KARGS.JSO"); Joliet and Rock Ridge are ignored, as in
// coreos-installer, so callers upper-case the Rock Ridge spellings found in
// CoreOS metadata before a lookup. The algorithm follows the coreos-installer
// reader (the project's CoreOS live ISO specification, §1.1). Nothing is read
// beyond the descriptors until a path is looked up, and every read is
// bounds-checked against the image size, so a corrupt image yields a
// *FormatError rather than a panic or a huge allocation.
//
// Beyond that, Trees reads every directory hierarchy of an image (the
// primary tree with Rock Ridge names, Joliet, ISO 9660:1999, and their twins
// in a descriptor set at a partition offset), and Editor adds or replaces
// files by appending new extents after the image end and repointing the
// directory records, path tables and volume sizes of every tree
// ("append and repoint", the project's remastering specification §4.2),
// without rebuilding the image or moving El Torito boot images.
//
// Why not github.com/kdomanski/iso9660: its reader hides file extents and
// prefers Joliet/Rock Ridge names (which breaks upper-case ISO 9660 lookups).
// The small image writer that the tests and the demo use lives in the
// module's internal/isowrite, since only they need it.
package iso

import (
	"encoding/binary"
	"fmt"
	"io"
)

// SectorSize is the ISO 9660 logical block size in bytes.
const SectorSize = 2048

// Volume descriptor types.
const (
	TypeBootRecord    = 0
	TypePrimary       = 1
	TypeSupplementary = 2
	TypePartition     = 3
	TypeTerminator    = 255
)

// ElToritoID is the boot system identifier of an El Torito boot record.
const ElToritoID = "EL TORITO SPECIFICATION"

const (
	firstDescriptorSector = 16
	rootRecordOffset      = 156 // of the root directory record in the PVD
	rootRecordLen         = 34
	catalogOffset         = 71 // of the boot catalog LBA in an El Torito boot record
)

// Descriptor is one volume descriptor (sector 16 onwards up to the
// terminator, which is not included).
type Descriptor struct {
	Type   byte  // 0 boot record, 1 primary, 2 supplementary, 3 partition
	Offset int64 // byte offset in the image

	SystemID, VolumeID string // primary (trimmed a-strings)
	VolumeSpaceSize    uint32 // primary, LE half, in sectors

	BootSystemID, BootID string // boot record (trimmed)
}

// Image is an opened ISO 9660 image. Its methods may be called concurrently
// if the underlying io.ReaderAt allows it.
type Image struct {
	r           io.ReaderAt
	size        int64
	descs       []Descriptor
	primary     int // index in descs
	root        Record
	catalog     uint32
	hasElTorito bool
}

// Open parses the volume descriptors and the primary root directory record.
// Nothing else is read up front. It fails if there is no primary volume
// descriptor, if a descriptor lacks the CD001 identifier or version 1, and,
// with an error matching ErrIncomplete, if the volume space size recorded in
// the primary descriptor exceeds size. (A supplementary descriptor of
// version 2, the ISO 9660:1999 enhanced descriptor, is accepted.)
func Open(r io.ReaderAt, size int64) (*Image, error) {
	if size < 0 {
		return nil, fmt.Errorf("open ISO: negative image size %d", size)
	}
	im := &Image{r: r, size: size, primary: -1}
	buf := make([]byte, SectorSize)
	for off := int64(firstDescriptorSector * SectorSize); ; off += SectorSize {
		first := off == firstDescriptorSector*SectorSize
		if err := im.readAt(buf, off); err != nil {
			if first {
				err = notISOError{err}
			}
			return nil, &FormatError{Offset: off, What: "volume descriptor", Err: err}
		}
		if string(buf[1:6]) != "CD001" {
			err := errUnknownID
			if first {
				err = notISOError{fmt.Errorf("no CD001 signature (%w)", errUnknownID)}
			}
			return nil, &FormatError{Offset: off, What: "volume descriptor", Err: err}
		}
		if buf[6] != 1 && !(buf[0] == TypeSupplementary && buf[6] == 2) { // an ISO 9660:1999 EVD has version 2
			return nil, &FormatError{Offset: off, What: "volume descriptor", Err: errUnknownVersion}
		}
		d := Descriptor{Type: buf[0], Offset: off}
		var err error
		switch d.Type {
		case TypeTerminator:
			return im.finish()
		case TypeBootRecord:
			if d.BootSystemID, err = aString(buf[7:39]); err != nil {
				return nil, &FormatError{Offset: off + 7, What: "boot record: boot system identifier", Err: err}
			}
			if d.BootID, err = aString(buf[39:71]); err != nil {
				return nil, &FormatError{Offset: off + 39, What: "boot record: boot identifier", Err: err}
			}
			if d.BootSystemID == ElToritoID && !im.hasElTorito {
				im.hasElTorito = true
				im.catalog = binary.LittleEndian.Uint32(buf[catalogOffset:])
			}
		case TypePrimary:
			if d.SystemID, err = aString(buf[8:40]); err != nil {
				return nil, &FormatError{Offset: off + 8, What: "primary volume descriptor: system identifier", Err: err}
			}
			if d.VolumeID, err = aString(buf[40:72]); err != nil {
				return nil, &FormatError{Offset: off + 40, What: "primary volume descriptor: volume identifier", Err: err}
			}
			d.VolumeSpaceSize = binary.LittleEndian.Uint32(buf[80:])
			if im.primary < 0 {
				root, _, err := decodeRecord(buf[rootRecordOffset:rootRecordOffset+rootRecordLen], "")
				if err != nil {
					return nil, &FormatError{Offset: off + rootRecordOffset, What: "primary volume descriptor: root directory record", Err: err}
				}
				if !root.IsDir {
					return nil, &FormatError{Offset: off + rootRecordOffset, What: "primary volume descriptor: root directory record", Err: fmt.Errorf("not a directory")}
				}
				root.Name, root.Path = ".", ""
				im.root = root
				im.primary = len(im.descs)
			}
		}
		im.descs = append(im.descs, d)
	}
}

// finish checks what needs all descriptors.
func (im *Image) finish() (*Image, error) {
	if im.primary < 0 {
		return nil, errNoPrimary
	}
	if need := int64(im.descs[im.primary].VolumeSpaceSize) * SectorSize; need > im.size {
		return nil, fmt.Errorf("%w: volume space size is %d bytes, image has %d", ErrIncomplete, need, im.size)
	}
	if err := im.checkExtent(im.root); err != nil {
		d := im.descs[im.primary]
		return nil, &FormatError{Offset: d.Offset + rootRecordOffset, What: "primary volume descriptor: root directory record", Err: err}
	}
	return im, nil
}

// Size returns the image size given to Open.
func (im *Image) Size() int64 { return im.size }

// Descriptors returns the volume descriptors in on-disk order, without the
// terminator.
func (im *Image) Descriptors() []Descriptor {
	return append([]Descriptor(nil), im.descs...)
}

// Primary returns the (first) primary volume descriptor.
func (im *Image) Primary() Descriptor { return im.descs[im.primary] }

// ElTorito reports whether a boot record with boot system identifier
// "EL TORITO SPECIFICATION" exists and returns the boot catalog sector
// (u32 LE at descriptor offset 71) of the first such record.
func (im *Image) ElTorito() (catalogLBA uint32, ok bool) {
	return im.catalog, im.hasElTorito
}

// readAt fills buf from offset off, failing if that range is not inside the
// image.
func (im *Image) readAt(buf []byte, off int64) error {
	if off < 0 || off > im.size || int64(len(buf)) > im.size-off {
		return fmt.Errorf("read of %d bytes at offset %d beyond end of image (%d bytes): %w", len(buf), off, im.size, io.ErrUnexpectedEOF)
	}
	n, err := im.r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read %d bytes at offset %d: %w", len(buf), off, err)
}

// aString decodes a fixed-size identifier field: a NUL ends it, trailing
// spaces are trimmed, and only a-characters (plus lower-case letters, as
// written by common tools) are accepted.
func aString(b []byte) (string, error) {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		if !isNameChar(c) && c != ';' && c != '/' {
			return "", errInvalidStringName
		}
		out = append(out, c)
	}
	for len(out) > 0 && out[len(out)-1] == ' ' {
		out = out[:len(out)-1]
	}
	return string(out), nil
}

// isNameChar reports whether c may appear in a file name read from the
// primary tree: ASCII letters, digits, '_', space and !"%&'()*+,-.:<=>?.
func isNameChar(c byte) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '_', ' ', '!', '"', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', ':', '<', '=', '>', '?':
		return true
	}
	return false
}

// fileName normalises a raw directory record identifier: a trailing ";1" and
// then a trailing "." are dropped, ';' and '/' become '.', a NUL ends the
// name, and any other character outside isNameChar is an error.
func fileName(raw []byte) (string, error) {
	if n := len(raw); n >= 2 && raw[n-2] == ';' && raw[n-1] == '1' {
		raw = raw[:n-2]
	}
	if n := len(raw); n >= 1 && raw[n-1] == '.' {
		raw = raw[:n-1]
	}
	out := make([]byte, 0, len(raw))
	for _, c := range raw {
		switch {
		case c == 0:
			return string(out), nil
		case c == ';' || c == '/':
			out = append(out, '.')
		case isNameChar(c):
			out = append(out, c)
		default:
			return "", errInvalidStringName
		}
	}
	return string(out), nil
}
