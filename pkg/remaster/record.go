package remaster

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/isobuild/isobuild/pkg/iso"
	"github.com/isobuild/isobuild/pkg/overlay"
	"github.com/isobuild/isobuild/pkg/sysarea"
)

// Record layout, all integers little-endian, padded with zeros to a whole
// number of sectors:
//
//	0    32  magic
//	32    8  record length in bytes, before the padding
//	40    8  base image size
//	48    8  the record's own byte offset in the image
//	56    8  guard length G
//	64    4  number of patched ranges N
//	68    4  description length D
//	72   32  SHA-256 of bytes [32, 72) and [104, record length)
//	104  32  SHA-256 of the remastered image's bytes [0, G): the system
//	         area and the volume descriptors, as the remaster wrote them,
//	         with an implanted media checksum (isomd5) read as spaces
//	136 12N  ranges: offset (8), length (4)
//	     ... the original bytes of each range, in order
//	     D   the description, JSON
//
// The own offset tells a record from a copy of one inside a file of the
// image (an ISO that ships a remastered ISO); the guard tells an image
// that something changed after the remaster (a partitioning tool, a
// second remaster by another tool), which a reset would not undo.
const (
	recordMagic   = "ISOBUILD REMASTER RECORD v1\n\x00\x00\x00\x00"
	recordHeader  = 136
	maxRecordSize = 2 << 20
	// recordSearch bounds how far from the end of an image the record is
	// looked for: the padding to 1 MiB and the backup GPT follow it.
	recordSearch = maxRecordSize + 2<<20
)

// Description is what a remaster changed, as stored in its record.
type Description struct {
	Generator string   `json:"generator,omitempty"` // e.g. "isobuild build"
	OS        string   `json:"os,omitempty"`        // "flatcar", ...
	Initrd    string   `json:"initrd,omitempty"`    // ISO path of the extra initramfs
	Kargs     []string `json:"kargs,omitempty"`     // the kernel-argument edits, as given
	Files     []string `json:"files,omitempty"`     // ISO files added or replaced by the user
}

// Record is a decoded reset record.
type Record struct {
	Offset      int64 // byte offset of the record in the image
	BaseSize    int64 // size of the base image
	Ranges      []overlay.Range
	originals   [][]byte
	Description Description

	guard    int64
	guardSum [32]byte
}

// ErrModified is returned by Reset for an image whose system area or
// volume descriptors changed after isobuild remastered it.
var ErrModified = errors.New("the image changed after isobuild customized it (its partition tables or volume descriptors are not as isobuild wrote them), so undoing the customization would not give the original image back: start from the original image")

func newRecord(r io.ReaderAt, size int64, ranges []overlay.Range, d Description, guard int64) ([]byte, error) {
	desc, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	for _, rg := range ranges {
		var b [12]byte
		binary.LittleEndian.PutUint64(b[:], uint64(rg.Offset))
		binary.LittleEndian.PutUint32(b[8:], uint32(rg.Length))
		body.Write(b[:])
	}
	for _, rg := range ranges {
		orig := make([]byte, rg.Length)
		if _, err := r.ReadAt(orig, rg.Offset); err != nil {
			return nil, fmt.Errorf("reading the original bytes at %d: %w", rg.Offset, err)
		}
		body.Write(orig)
	}
	body.Write(desc)
	n := recordHeader + body.Len()
	if n > maxRecordSize {
		return nil, fmt.Errorf("reset record of %d bytes is larger than %d", n, maxRecordSize)
	}
	out := make([]byte, alignUp(int64(n), iso.SectorSize))
	copy(out, recordMagic)
	binary.LittleEndian.PutUint64(out[32:], uint64(n))
	binary.LittleEndian.PutUint64(out[40:], uint64(size))
	binary.LittleEndian.PutUint64(out[56:], uint64(guard))
	binary.LittleEndian.PutUint32(out[64:], uint32(len(ranges)))
	binary.LittleEndian.PutUint32(out[68:], uint32(len(desc)))
	copy(out[recordHeader:], body.Bytes())
	return out, nil
}

// sealRecord fills in the record's own offset and the guard checksum of
// the remastered image img, then the record's checksum.
func sealRecord(rec []byte, at int64, img io.ReaderAt) error {
	binary.LittleEndian.PutUint64(rec[48:], uint64(at))
	guard := make([]byte, binary.LittleEndian.Uint64(rec[56:]))
	if _, err := img.ReadAt(guard, 0); err != nil {
		return fmt.Errorf("reading the remastered image's descriptors: %w", err)
	}
	g := guardHash(guard)
	copy(rec[104:136], g[:])
	sum := recordSum(rec[:binary.LittleEndian.Uint64(rec[32:])])
	copy(rec[72:104], sum[:])
	return nil
}

// guardHash returns the guard checksum of head, the image's bytes [0, G).
// An implanted media checksum in the primary descriptor's application-use
// area is hashed as spaces (head is changed in place): it is implanted
// after the record is sealed (see implantChecksum).
func guardHash(head []byte) [32]byte {
	blankChecksum(head)
	return sha256.Sum256(head)
}

func recordSum(rec []byte) [32]byte {
	h := sha256.New()
	h.Write(rec[32:72])
	h.Write(rec[104:])
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// FindRecord returns the reset record of the image r of size bytes, or nil
// if isobuild did not remaster it. It reads only the system area, the end
// of the image and the few MiB before the start of each partition.
func FindRecord(r io.ReaderAt, size int64) (*Record, error) { return findRecord(r, size) }

// maxRecordWindows bounds how many partition starts findRecord searches
// before, besides the end of the image.
const maxRecordWindows = 8

// findRecord looks for a reset record in the last sectors of the image and
// in the sectors before the start of each partition that the MBR or GPT
// lists: a remaster that moved an appended partition behind its data left
// the record before that partition, which can be far from the end.
func findRecord(r io.ReaderAt, size int64) (*Record, error) {
	ends := []int64{size}
	if sys, err := sysarea.Read(r, size); err == nil {
		var starts []int64
		if m := sys.MBR; m != nil {
			for _, p := range m.Partitions {
				if p.Sectors != 0 && p.Type != 0xEE {
					starts = append(starts, int64(p.Start)*sysarea.SectorSize)
				}
			}
		}
		if g := sys.GPT; g != nil {
			for _, p := range g.Partitions {
				if p.First < uint64(size/sysarea.SectorSize) {
					starts = append(starts, int64(p.First)*sysarea.SectorSize)
				}
			}
		}
		// The latest starts first: a moved partition lies after the data.
		slices.Sort(starts)
		starts = slices.Compact(starts)
		for i := len(starts) - 1; i >= 0 && len(ends) <= maxRecordWindows; i-- {
			if s := starts[i]; s >= recordHeader && s < size {
				ends = append(ends, s)
			}
		}
	}
	var buf []byte
	for _, end := range ends {
		rec, err := findRecordBefore(r, size, end, &buf)
		if rec != nil || err != nil {
			return rec, err
		}
	}
	return nil, nil
}

// findRecordBefore looks for a record in the recordSearch bytes before
// end, reading them into *buf.
func findRecordBefore(r io.ReaderAt, size, end int64, buf *[]byte) (*Record, error) {
	start := max(0, end-recordSearch) / iso.SectorSize * iso.SectorSize
	if int64(cap(*buf)) < end-start {
		*buf = make([]byte, end-start)
	}
	tail := (*buf)[:end-start]
	if n, err := r.ReadAt(tail, start); err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading the image at byte %d: %w", start, err)
	} else if n < len(tail) {
		clear(tail[n:])
	}
	for off := int64(len(tail)) / iso.SectorSize * iso.SectorSize; off >= 0; off -= iso.SectorSize {
		if off+recordHeader > int64(len(tail)) || string(tail[off:off+32]) != recordMagic {
			continue
		}
		// A candidate that does not check out (damaged, or data that
		// only looks like a record) is not a record.
		if rec, err := readRecord(r, size, start+off); err == nil {
			return rec, nil
		}
	}
	return nil, nil
}

// RecordError reports a damaged reset record.
type RecordError struct {
	Offset int64
	Err    error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("isobuild reset record at byte %d: %v", e.Offset, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

func readRecord(r io.ReaderAt, size, at int64) (*Record, error) {
	fail := func(format string, args ...any) error {
		return &RecordError{Offset: at, Err: fmt.Errorf(format, args...)}
	}
	var h [recordHeader]byte
	if _, err := r.ReadAt(h[:], at); err != nil {
		return nil, fail("%w", err)
	}
	n := int64(binary.LittleEndian.Uint64(h[32:]))
	base := int64(binary.LittleEndian.Uint64(h[40:]))
	own := int64(binary.LittleEndian.Uint64(h[48:]))
	guard := int64(binary.LittleEndian.Uint64(h[56:]))
	count := int64(binary.LittleEndian.Uint32(h[64:]))
	dlen := int64(binary.LittleEndian.Uint32(h[68:]))
	if own != at {
		return nil, fail("written for byte %d, not %d: a copy of a record", own, at)
	}
	if n < recordHeader || n > maxRecordSize || at+n > size {
		return nil, fail("length %d is out of range", n)
	}
	if base <= 0 || base > at {
		return nil, fail("base size %d is out of range", base)
	}
	if guard <= 0 || guard > min(base, 1<<20) {
		return nil, fail("guard length %d is out of range", guard)
	}
	data := make([]byte, n)
	if _, err := r.ReadAt(data, at); err != nil {
		return nil, fail("%w", err)
	}
	if sum := recordSum(data); !bytes.Equal(sum[:], h[72:104]) {
		return nil, fail("checksum mismatch")
	}
	body := data[recordHeader:]
	if count*12 > int64(len(body)) {
		return nil, fail("%d ranges do not fit", count)
	}
	rec := &Record{Offset: at, BaseSize: base, guard: guard}
	copy(rec.guardSum[:], h[104:136])
	pos := count * 12
	for i := int64(0); i < count; i++ {
		off := int64(binary.LittleEndian.Uint64(body[i*12:]))
		ln := int64(binary.LittleEndian.Uint32(body[i*12+8:]))
		if off < 0 || ln <= 0 || off+ln > base || pos+ln > int64(len(body)) {
			return nil, fail("range %d (%d bytes at %d) is out of range", i, ln, off)
		}
		if len(rec.Ranges) > 0 {
			if prev := rec.Ranges[len(rec.Ranges)-1]; off < prev.Offset+prev.Length {
				return nil, fail("range %d overlaps the one before", i)
			}
		}
		rec.Ranges = append(rec.Ranges, overlay.Range{Offset: off, Length: ln})
		rec.originals = append(rec.originals, body[pos:pos+ln])
		pos += ln
	}
	if pos+dlen != int64(len(body)) {
		return nil, fail("description of %d bytes does not end the record", dlen)
	}
	if err := json.Unmarshal(body[pos:], &rec.Description); err != nil {
		return nil, fail("description: %w", err)
	}
	return rec, nil
}

// ErrNotCustomized is returned by Reset for an image without a record.
var ErrNotCustomized = errors.New("the image has no isobuild reset record")

// Reset returns the base image the remastered image was made from, byte
// for byte: the image cut to the base size, with the original bytes of
// every patched range.
func (im *Image) Reset() (*overlay.Image, error) {
	rec := im.record
	if rec == nil {
		return nil, ErrNotCustomized
	}
	guard := make([]byte, rec.guard)
	if _, err := im.r.ReadAt(guard, 0); err != nil {
		return nil, &RecordError{Offset: rec.Offset, Err: err}
	}
	if guardHash(guard) != rec.guardSum {
		return nil, ErrModified
	}
	ov := overlay.New(im.r, rec.BaseSize)
	for i, rg := range rec.Ranges {
		if err := ov.Patch(rg.Offset, rec.originals[i]); err != nil {
			return nil, &RecordError{Offset: rec.Offset, Err: err}
		}
	}
	return ov, nil
}
