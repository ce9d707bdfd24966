// Package overlay describes an edited copy of a large image as a value, so
// that the copy can be produced without holding the image in memory.
//
// In isobuild's pipeline, Butane → Ignition → initramfs → overlay → output,
// this package is the overlay step: packages embed and pxe express an edit
// as an Image, and every output consumes one.
//
// An [Image] is a base [io.ReaderAt] of known size, a sorted set of
// non-overlapping patches (byte slices that replace base bytes at fixed
// offsets) and extents appended after the base. It is the hand-off between
// the edit planners and the outputs: package embed plans the patches that
// customize a CoreOS live ISO (the initrd embed area and the kernel-argument
// areas), package pxe appends an archive to an initramfs, and every output of
// the tool (a new file, stdout, an in-place edit, and later a block device or
// an HTTP Range server) consumes the resulting Image through [Image.ReadAt],
// [Image.WriteTo], [Image.WriteToContext] or [Image.ApplyTo].
//
// # Concurrency
//
// An Image is built with [New], [Image.Patch] and [Image.Append] by one
// goroutine. Once built, any number of goroutines may call ReadAt, WriteTo,
// WriteToContext and ApplyTo at the same time, provided nobody calls Patch or
// Append concurrently and the base and extent readers are themselves safe for
// concurrent ReadAt (as [*os.File], [*io.SectionReader] of one and
// [*bytes.Reader] are). The package never moves the shared file position of
// a base or extent reader: every read names its offset (pread,
// copy_file_range or sendfile with an offset pointer).
//
// # Why the copy syscalls are called directly
//
// On Linux, writing an Image to a regular [*os.File] copies the base with
// copy_file_range(2), which lets the kernel share blocks on file systems that
// support reflinks and otherwise copies inside the kernel; writing to a pipe
// or other non-regular file uses sendfile(2). The package makes these calls
// itself, with offset pointers, because the standard library uses
// copy_file_range in [os.File.ReadFrom] only for a source that is an
// *os.File or an [io.LimitedReader] of one, read at its shared file
// position. Going through it would force a Seek on the caller's base file
// (racing with every other user of that file) instead of explicit offsets,
// and it would copy strictly in output order, one range between two patches
// at a time. Those ranges start and end at arbitrary offsets (for example
// 325632); copy_file_range calls at offsets that are not block-aligned fall
// off the kernel's fast path, which made a customized copy 20–50% slower
// than cp. This package instead copies the whole base in calls of at most
// 64 MiB at offsets that are multiples of 64 MiB from the start of the copy,
// then writes the patches over it with pwrite, then the appended extents.
package overlay

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
)

// chunkSize bounds a single kernel copy call and the distance between two
// checks of the context. It is a variable only so that tests can make it
// small.
var chunkSize int64 = 64 << 20

// bufSize is the buffer of the read-then-write copies.
const bufSize = 1 << 20

// Image is an overlay: the bytes of a base image with some ranges replaced by
// patches and some extents appended at the end. The zero value is not usable;
// create one with [New]. See the package documentation for the concurrency
// rules.
type Image struct {
	base     io.ReaderAt
	baseSize int64
	patches  []patch  // sorted by off, non-overlapping, all inside the base
	extents  []extent // in order, contiguous from baseSize to size
	size     int64
}

// patch replaces len(data) base bytes at off.
type patch struct {
	off  int64
	data []byte
}

func (p patch) end() int64 { return p.off + int64(len(p.data)) }

// extent is the first n bytes of r, placed at off in the overlay.
type extent struct {
	off int64
	r   io.ReaderAt
	n   int64
}

func (e extent) end() int64 { return e.off + e.n }

// New returns an overlay of the first size bytes of base, with no patches
// and nothing appended. The base is read only when the overlay is read or
// written, so a base shorter than size is reported then. New panics if size
// is negative, or if base is nil and size is not zero.
func New(base io.ReaderAt, size int64) *Image {
	if size < 0 {
		panic(fmt.Sprintf("overlay: negative base size %d", size))
	}
	if base == nil && size > 0 {
		panic("overlay: nil base")
	}
	return &Image{base: base, baseSize: size, size: size}
}

// Patch replaces len(data) bytes at off with data. The range must lie inside
// the base (0 <= off and off+len(data) <= the base size given to [New]) and
// must not overlap a range patched earlier; otherwise Patch returns an error
// naming the offsets and lengths and changes nothing. A zero-length patch is
// a no-op. The overlay keeps data without copying it, so the caller must not
// change it afterwards.
func (im *Image) Patch(off int64, data []byte) error {
	n := int64(len(data))
	if n == 0 {
		return nil
	}
	if off < 0 || off > im.baseSize-n {
		return fmt.Errorf("patch of %d bytes at offset %d lies outside the %d-byte base image", n, off, im.baseSize)
	}
	// i is the first patch that ends after off.
	i := sort.Search(len(im.patches), func(i int) bool { return im.patches[i].end() > off })
	if i < len(im.patches) && im.patches[i].off < off+n {
		q := im.patches[i]
		return fmt.Errorf("patch of %d bytes at offset %d overlaps the patch of %d bytes at offset %d", n, off, len(q.data), q.off)
	}
	im.patches = append(im.patches, patch{})
	copy(im.patches[i+1:], im.patches[i:])
	im.patches[i] = patch{off: off, data: data}
	return nil
}

// Append adds the first n bytes of r after the current end of the overlay
// and returns the offset at which they start. r is read only when the
// overlay is read or written. n < 0 is an error; n == 0 adds nothing and
// returns the current size.
func (im *Image) Append(r io.ReaderAt, n int64) (int64, error) {
	switch {
	case n < 0:
		return 0, fmt.Errorf("append at offset %d: negative length %d", im.size, n)
	case n == 0:
		return im.size, nil
	case r == nil:
		return 0, fmt.Errorf("append of %d bytes at offset %d: nil reader", n, im.size)
	case n > math.MaxInt64-im.size:
		return 0, fmt.Errorf("append of %d bytes at offset %d: overlay size overflows int64", n, im.size)
	}
	off := im.size
	im.extents = append(im.extents, extent{off: off, r: r, n: n})
	im.size += n
	return off, nil
}

// Range is a run of Length bytes at Offset.
type Range struct {
	Offset, Length int64
}

// Patched returns the ranges of the base that the patches replace, sorted
// by offset. Together with BaseSize it tells what writing the overlay in
// place changes, for a caller that must save those bytes first.
func (im *Image) Patched() []Range {
	out := make([]Range, len(im.patches))
	for i, p := range im.patches {
		out[i] = Range{Offset: p.off, Length: int64(len(p.data))}
	}
	return out
}

// BaseSize returns the size of the base: the size of the overlay before
// anything was appended.
func (im *Image) BaseSize() int64 { return im.baseSize }

// Size returns the size of the overlay: the base size plus the appended
// bytes.
func (im *Image) Size() int64 { return im.size }

// ReadAt reads len(p) bytes of the overlay starting at off. It follows the
// [io.ReaderAt] contract: it returns n < len(p) only together with an error,
// and io.EOF when the read reaches the end of the overlay; a read at or after
// the end returns 0, io.EOF. A base or extent reader that ends early gives
// an error naming the offset, wrapping [io.ErrUnexpectedEOF]. ReadAt may be
// called by many goroutines at once (see the package documentation).
func (im *Image) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read overlay at offset %d: negative offset", off)
	}
	if off >= im.size {
		return 0, io.EOF
	}
	want := len(p)
	if rest := im.size - off; int64(len(p)) > rest {
		p = p[:rest]
	}
	n := 0
	for n < len(p) {
		m, err := im.readSome(p[n:], off+int64(n))
		n += m
		if err != nil {
			return n, err
		}
	}
	if n < want {
		return n, io.EOF
	}
	return n, nil
}

// readSome fills a prefix of p, which lies inside the overlay, with the bytes
// at pos, up to the next boundary between base, patch and extent.
func (im *Image) readSome(p []byte, pos int64) (int, error) {
	if pos < im.baseSize {
		i := sort.Search(len(im.patches), func(i int) bool { return im.patches[i].end() > pos })
		limit := im.baseSize
		if i < len(im.patches) {
			q := im.patches[i]
			if q.off <= pos {
				return copy(p, q.data[pos-q.off:]), nil
			}
			limit = q.off
		}
		if int64(len(p)) > limit-pos {
			p = p[:limit-pos]
		}
		return readFull(im.base, p, pos, pos, "base image")
	}
	j := sort.Search(len(im.extents), func(j int) bool { return im.extents[j].end() > pos })
	e := im.extents[j]
	if int64(len(p)) > e.end()-pos {
		p = p[:e.end()-pos]
	}
	return readFull(e.r, p, pos-e.off, pos, "appended data")
}

// readFull reads len(p) bytes of r at roff. An early end is an error naming
// the overlay offset (logical + bytes read) of the missing byte.
func readFull(r io.ReaderAt, p []byte, roff, logical int64, what string) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.ReadAt(p[n:], roff+int64(n))
		if m < 0 || m > len(p)-n {
			return n, fmt.Errorf("read %s at offset %d: reader returned invalid count %d", what, logical+int64(n), m)
		}
		n += m
		if n == len(p) {
			break // a full read with io.EOF is a success
		}
		switch {
		case err == io.EOF:
			return n, fmt.Errorf("read %s at offset %d: %w", what, logical+int64(n), io.ErrUnexpectedEOF)
		case err != nil:
			return n, fmt.Errorf("read %s at offset %d: %w", what, logical+int64(n), err)
		case m == 0:
			return n, fmt.Errorf("read %s at offset %d: %w", what, logical+int64(n), io.ErrNoProgress)
		}
	}
	return n, nil
}

// WriteTo writes the whole overlay to w and returns the number of bytes
// written. It implements [io.WriterTo] and is WriteToContext with
// context.Background().
func (im *Image) WriteTo(w io.Writer) (int64, error) {
	return im.WriteToContext(context.Background(), w)
}

// WriteToContext writes the whole overlay to w and returns the number of
// bytes written. It stops with an error wrapping ctx.Err() soon after ctx is
// cancelled: the context is checked between chunks of at most 64 MiB.
//
// When w is an [*os.File] on Linux and the base is an *os.File (or an
// [*io.SectionReader] of one), the kernel copies the base: with
// copy_file_range into a regular file, at explicit offsets starting at the
// file's current position, which afterwards is moved to the end of the
// written overlay as for an ordinary write; or with sendfile into a pipe or
// other non-regular file. Any other writer, and a regular file opened with
// O_APPEND, gets the bytes in order through Write. Neither way moves the file
// position of the base or extent readers. On error the returned count is the
// length of the prefix of the output known to be complete.
func (im *Image) WriteToContext(ctx context.Context, w io.Writer) (int64, error) {
	if f, ok := w.(*os.File); ok {
		if n, handled, err := im.writeFile(ctx, f); handled {
			return n, err
		}
	}
	return im.writeSeq(ctx, w, 0)
}

// ApplyTo writes only the patches and the appended extents into w at their
// offsets. It is for editing in place a w that already holds the base bytes
// (typically the base file itself, opened for writing); the base is not
// read. The context is checked between patches and between chunks of at
// most 64 MiB of the extents. On Linux, extents backed by an *os.File are
// copied into a regular *os.File w with copy_file_range, and an *os.File
// opened with O_APPEND is refused, since positioned writes to it would
// append.
func (im *Image) ApplyTo(ctx context.Context, w io.WriterAt) error {
	f, _ := w.(*os.File)
	var fast fastDst
	if f != nil {
		var err error
		if fast, err = applyDst(f); err != nil {
			return err
		}
	}
	for _, q := range im.patches {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("apply overlay at offset %d: %w", q.off, err)
		}
		if _, err := w.WriteAt(q.data, q.off); err != nil {
			return fmt.Errorf("write patch of %d bytes at offset %d: %w", len(q.data), q.off, err)
		}
	}
	var buf []byte
	for _, e := range im.extents {
		if _, err := fast.copyExtent(ctx, w, e.off, e, &buf); err != nil {
			return err
		}
	}
	return nil
}

// segment is a piece of the overlay in output order: a patch (data != nil)
// or a range of the base or of an extent reader.
type segment struct {
	off  int64 // offset in the overlay
	n    int64
	data []byte
	r    io.ReaderAt
	roff int64 // offset in r
	what string
	base bool // r is the base
}

// segments lists the pieces of the overlay from offset from to the end.
func (im *Image) segments(from int64) []segment {
	var segs []segment
	add := func(s segment) {
		if s.off+s.n <= from || s.n == 0 {
			return
		}
		if d := from - s.off; d > 0 {
			s.off += d
			s.n -= d
			s.roff += d
			if s.data != nil {
				s.data = s.data[d:]
			}
		}
		segs = append(segs, s)
	}
	pos := int64(0)
	for _, q := range im.patches {
		add(segment{off: pos, n: q.off - pos, r: im.base, roff: pos, what: "base image", base: true})
		add(segment{off: q.off, n: int64(len(q.data)), data: q.data})
		pos = q.end()
	}
	add(segment{off: pos, n: im.baseSize - pos, r: im.base, roff: pos, what: "base image", base: true})
	for _, e := range im.extents {
		add(segment{off: e.off, n: e.n, r: e.r, what: "appended data"})
	}
	return segs
}

// writeSeq writes the overlay from offset from to the end to w, in order,
// and returns the number of bytes written.
func (im *Image) writeSeq(ctx context.Context, w io.Writer, from int64) (int64, error) {
	var written int64
	var buf []byte
	for _, s := range im.segments(from) {
		if s.data != nil {
			if err := ctx.Err(); err != nil {
				return written, fmt.Errorf("write overlay at offset %d: %w", s.off, err)
			}
			m, err := writeAll(w, s.data, s.off)
			written += int64(m)
			if err != nil {
				return written, err
			}
			continue
		}
		m, err := copySeq(ctx, w, s.r, s.roff, s.n, s.off, s.what, &buf)
		written += m
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// copySeq copies n bytes of r at roff (overlay offset logical) to w through
// a buffer of at most bufSize bytes, checking ctx every chunkSize bytes.
func copySeq(ctx context.Context, w io.Writer, r io.ReaderAt, roff, n, logical int64, what string, buf *[]byte) (int64, error) {
	var done int64
	for done < n {
		if done%chunkSize == 0 {
			if err := ctx.Err(); err != nil {
				return done, fmt.Errorf("write overlay at offset %d: %w", logical+done, err)
			}
		}
		b := getBuf(buf, min(n-done, chunkSize-done%chunkSize))
		m, err := readFull(r, b, roff+done, logical+done, what)
		if m > 0 {
			k, werr := writeAll(w, b[:m], logical+done)
			done += int64(k)
			if werr != nil {
				return done, werr
			}
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// copyAt copies n bytes of r at roff to w at woff (overlay offset logical)
// with positioned reads and writes through a buffer, checking ctx every
// chunkSize bytes.
func copyAt(ctx context.Context, w io.WriterAt, woff int64, r io.ReaderAt, roff, n, logical int64, what string, buf *[]byte) (int64, error) {
	var done int64
	for done < n {
		if done%chunkSize == 0 {
			if err := ctx.Err(); err != nil {
				return done, fmt.Errorf("write overlay at offset %d: %w", logical+done, err)
			}
		}
		b := getBuf(buf, min(n-done, chunkSize-done%chunkSize))
		m, err := readFull(r, b, roff+done, logical+done, what)
		if m > 0 {
			if _, werr := w.WriteAt(b[:m], woff+done); werr != nil {
				return done, fmt.Errorf("write output at offset %d: %w", logical+done, werr)
			}
			done += int64(m)
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// getBuf returns a buffer of min(want, bufSize) bytes, reusing *buf when it
// is large enough. Small overlays thus never allocate the full bufSize.
func getBuf(buf *[]byte, want int64) []byte {
	want = min(want, bufSize)
	if int64(cap(*buf)) < want {
		*buf = make([]byte, want)
	}
	return (*buf)[:want]
}

// writeAll writes p to w; logical is the overlay offset of p[0].
func writeAll(w io.Writer, p []byte, logical int64) (int, error) {
	n, err := w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return n, fmt.Errorf("write output at offset %d: %w", logical+int64(n), err)
	}
	return n, nil
}

// asFile reports whether the first n bytes of r are bytes of a file: an
// *os.File, or an *io.SectionReader (possibly nested) of one that holds at
// least n bytes. It returns the file and the file offset of r's byte 0.
func asFile(r io.ReaderAt, n int64) (*os.File, int64, bool) {
	var base int64
	for {
		switch v := r.(type) {
		case *os.File:
			return v, base, v != nil
		case *io.SectionReader:
			if v == nil {
				return nil, 0, false
			}
			outer, off, sn := v.Outer()
			if off < 0 || sn < n || off > math.MaxInt64-base {
				return nil, 0, false
			}
			// Within the section, n bytes starting at byte 0 must be
			// readable from outer at off; the outer reader must hold off+n.
			if off > math.MaxInt64-n {
				return nil, 0, false
			}
			base += off
			n += off
			r = outer
		default:
			return nil, 0, false
		}
	}
}

// A Piece is a run of an overlay's bytes that comes from one place: a
// patch's Data, or else N bytes of R (the base or an appended extent's
// reader) from ROff.
type Piece struct {
	Off, N int64 // in the overlay
	Data   []byte
	R      io.ReaderAt
	ROff   int64
	// File, when R's bytes ROff to ROff+N are bytes of a file (R is an
	// *os.File, or a section of one that holds them), is that file, and
	// FileOff the file offset of the piece's first byte.
	File    *os.File
	FileOff int64
}

// Pieces lists, in order, the pieces that make up the n bytes of the
// overlay from off (fewer when the overlay ends first). A writer that can
// send a file's bytes without copying them (sendfile to a socket) sends
// the pieces with a File that way.
func (im *Image) Pieces(off, n int64) []Piece {
	if off < 0 || n <= 0 || off >= im.size {
		return nil
	}
	end := min(off+n, im.size)
	var ps []Piece
	for _, s := range im.segments(off) {
		if s.off >= end {
			break
		}
		k := min(s.n, end-s.off)
		p := Piece{Off: s.off, N: k, R: s.r, ROff: s.roff}
		if s.data != nil {
			p = Piece{Off: s.off, N: k, Data: s.data[:k]}
		} else if f, base, ok := asFile(s.r, s.roff+k); ok {
			p.File, p.FileOff = f, base+s.roff
		}
		ps = append(ps, p)
	}
	return ps
}
