package initrd

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/klauspost/compress/zstd"
)

// ErrTrailingGarbage is wrapped by Decode when a compressed archive holds
// non-zero data after its TRAILER!!! entry.
var ErrTrailingGarbage = errors.New("found trailing garbage inside compressed archive")

// ErrLimit is wrapped by the errors of Decode when the input would make it
// exceed one of its Limits; the error is a *LimitError.
var ErrLimit = errors.New("limit exceeded")

// Limits bound the work and memory of decoding untrusted input, so that a
// small hostile archive (a decompression bomb, a flood of entries) ends in
// an error instead of exhausting memory or time. Decoding stops as soon as
// a limit is reached.
type Limits struct {
	// Decompressed bounds the bytes produced by all decompressors
	// together, padding and zeros after the trailers included.
	Decompressed int64
	// Kept bounds the data of the files returned, summed over every entry
	// kept (an entry that replaces an earlier one still counts).
	Kept int64
	// Entries bounds the number of archive entries (trailers not counted).
	Entries int
	// Window bounds the memory a compressed stream may ask its
	// decompressor for: the xz dictionary and the zstd window.
	Window int64
	// Archives bounds the number of archives (each compressed stream,
	// gzip member, zstd frame or uncompressed archive counts once), and
	// so the decompressor set-ups that tiny streams could repeat, each
	// allocating a dictionary.
	Archives int
}

// DefaultLimits are the limits of Decode, generous for a whole initramfs
// image: distribution initramfs images unpack to a few hundred MiB (the
// kernel unpacks them into RAM) and tens of thousands of entries. 128 MiB is the largest zstd window the kernel's
// own initramfs decompressor accepts (lib/decompress_unzstd.c); xz -9 uses
// a 64 MiB dictionary. Kept files (configs, keyfiles) are small.
var DefaultLimits = Limits{Decompressed: 1 << 30, Kept: 64 << 20, Entries: 1 << 20, Window: 128 << 20, Archives: 64}

// AreaLimits are the limits of DecodeArea. A CoreOS embed area holds a few
// small files in at most a few MiB of compressed data; coreos-installer
// writes it with xz preset 9, whose stream declares a 64 MiB dictionary.
var AreaLimits = Limits{Decompressed: 64 << 20, Kept: 64 << 20, Entries: 4096, Window: 64 << 20, Archives: 16}

// LimitError reports input that would exceed one of the Limits.
type LimitError struct {
	// What names the limit, such as "decompressed bytes".
	What string
	// Limit is its value.
	Limit int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("more than %d %s: refusing to decode further (a corrupt or hostile archive)", e.Limit, e.What)
}

// Unwrap makes errors.Is(err, ErrLimit) true.
func (e *LimitError) Unwrap() error { return ErrLimit }

// Magic numbers of compression formats the kernel may accept but Decode
// does not, to name them in errors.
var unsupportedMagic = []struct {
	name  string
	magic string
}{
	{"bzip2", "BZh"},
	{"lzma", "\x5d\x00\x00"},
	{"lz4", "\x02\x21\x4c\x18"},
	{"lzo", "\x89LZO"},
}

// Decode reads the concatenated archives of an initramfs image or of an
// embed area from r and returns the regular files in them.
//
// Each archive is an uncompressed newc archive or a gzip member, an xz stream
// or a zstd frame holding one; zstd skippable frames are skipped, as are runs
// of zero bytes of any length between and after archives. Decode keeps the
// regular files (mode&ModeType == ModeRegular) for which keep(name) is true
// (keep == nil keeps all). As when the kernel unpacks the image, a later entry
// replaces an earlier one of the same name; a later entry of another type
// (directory, symlink, ...) removes it. Names are stored as found in the
// archive, minus NUL padding.
//
// After the trailer of a compressed archive, the rest of that compressed
// stream must decompress to zero bytes only, or the error wraps
// ErrTrailingGarbage. Decoding then continues with the input that follows the
// compressed stream. Errors give the input offset of the archive and, for
// compressed ones, the offset inside the decompressed data.
//
// Decode streams: besides the result it holds at most one member's data and
// the decompressors' buffers in memory. It applies DefaultLimits; see
// DecodeLimits.
//
// Not supported: xz filters other than a lone LZMA2 (such as BCJ), zstd
// dictionaries, and the bzip2, lzma, lz4 and lzo formats (reported by name).
// Hard links are not resolved: each entry yields its own data, so the earlier
// names of a GNU cpio hard-link group come out empty.
func Decode(r io.Reader, keep func(name string) bool) (Files, error) {
	return DecodeLimits(r, keep, DefaultLimits)
}

// DecodeLimits is Decode with the given limits; errors for input that
// exceeds them wrap a *LimitError (and ErrLimit). A zero field means no
// input is accepted that needs any of it.
func DecodeLimits(r io.Reader, keep func(name string) bool, lim Limits) (Files, error) {
	// Each xz block allocates its whole dictionary; a budget of two
	// windows bounds what a run of tiny streams can make it allocate.
	d := &decoder{files: Files{}, keep: keep, lim: lim, dictBudget: 2 * lim.Window}
	d.cr = &countingReader{r: r}
	d.br = bufio.NewReaderSize(d.cr, 64<<10)
	defer d.close()
	for {
		if err := d.skipZeros(); err == io.EOF {
			return d.files, nil
		} else if err != nil {
			return nil, err
		}
		if err := d.archive(); err != nil {
			return nil, err
		}
	}
}

// DecodeArea decodes an embed area: all-zero data (an unused area) gives an
// empty, non-nil Files without any parsing; anything else is decoded with
// DecodeLimits and AreaLimits, keeping all files.
func DecodeArea(area []byte) (Files, error) {
	if allZero(area) {
		return Files{}, nil
	}
	return DecodeLimits(bytes.NewReader(area), nil, AreaLimits)
}

type decoder struct {
	cr    *countingReader
	br    *bufio.Reader
	files Files
	keep  func(string) bool
	zstd  *zstd.Decoder
	buf   []byte

	lim          Limits
	decompressed int64 // bytes produced by decompressors so far
	kept         int64 // data bytes of kept entries so far
	entries      int
	archives     int
	dictBudget   int64 // xz dictionary bytes left to allocate
}

// limited counts the bytes read from a decompressor against
// Limits.Decompressed and fails once they exceed it.
type limited struct {
	r io.Reader
	d *decoder
}

func (l limited) Read(p []byte) (int, error) {
	left := l.d.lim.Decompressed - l.d.decompressed
	if left <= 0 {
		// One more byte tells a stream that ends exactly at the limit
		// from one that goes on.
		var b [1]byte
		if n, err := l.r.Read(b[:]); n == 0 {
			return 0, err
		}
		return 0, &LimitError{What: "decompressed bytes", Limit: l.d.lim.Decompressed}
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := l.r.Read(p)
	l.d.decompressed += int64(n)
	return n, err
}

// pos returns the input offset of the next unread byte.
func (d *decoder) pos() int64 {
	return d.cr.n - int64(d.br.Buffered())
}

func (d *decoder) close() {
	if d.zstd != nil {
		d.zstd.Close()
	}
}

// skipZeros discards zero bytes; it returns io.EOF at the end of the input.
func (d *decoder) skipZeros() error {
	for {
		if _, err := d.br.Peek(1); err == io.EOF {
			return io.EOF
		} else if err != nil {
			return fmt.Errorf("read initramfs at offset %d: %w", d.pos(), err)
		}
		buf, _ := d.br.Peek(d.br.Buffered())
		i := firstNonZero(buf)
		if i >= 0 {
			d.br.Discard(i)
			return nil
		}
		d.br.Discard(len(buf))
	}
}

// archive decodes one archive, compressed or not, starting at a non-zero
// byte.
func (d *decoder) archive() error {
	start := d.pos()
	if d.archives++; d.archives > d.lim.Archives {
		return fmt.Errorf("decode archive at offset %d: %w", start, &LimitError{What: "archives", Limit: int64(d.lim.Archives)})
	}
	magic, _ := d.br.Peek(6) // shorter at the end of the input
	var magic32 uint32
	if len(magic) >= 4 {
		magic32 = binary.LittleEndian.Uint32(magic)
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return d.compressed("gzip", start, func() (io.Reader, func() error, error) {
			zr, err := gzip.NewReader(d.br)
			if err != nil {
				return nil, nil, err
			}
			// The member ends where the gzip trailer ends; as d.br is an
			// io.ByteReader, the reader does not read beyond it.
			zr.Multistream(false)
			return zr, nil, nil
		})
	case bytes.Equal(magic, xzMagic):
		return d.compressed("xz", start, func() (io.Reader, func() error, error) {
			xr, err := newXZReader(d.br, start, d.lim.Window, &d.dictBudget)
			return xr, nil, err
		})
	case magic32 == zstdFrameMagic:
		return d.compressed("zstd", start, func() (io.Reader, func() error, error) {
			fr := newZstdFrameReader(d.br, start)
			if d.zstd == nil {
				zd, err := zstd.NewReader(nil,
					zstd.WithDecoderConcurrency(1),
					zstd.WithDecoderLowmem(true),
					zstd.WithDecoderMaxWindow(uint64(max(d.lim.Window, zstd.MinWindowSize))))
				if err != nil {
					return nil, nil, err
				}
				d.zstd = zd
			}
			if err := d.zstd.Reset(fr); err != nil {
				return nil, nil, err
			}
			check := func() error {
				if !fr.done() {
					return errors.New("zstd decoder stopped before the end of the frame")
				}
				return nil
			}
			return d.zstd, check, nil
		})
	case magic32&zstdSkippableMask == zstdSkippableMagic:
		return d.skippableFrame(start)
	}
	for _, u := range unsupportedMagic {
		if bytes.HasPrefix(magic, []byte(u.magic)) {
			return fmt.Errorf("decode archive at offset %d: unsupported compression format %s", start, u.name)
		}
	}
	// Uncompressed: read straight from d.br, which the cpio reader leaves
	// just after the trailer.
	if err := d.members(newReaderAt(d.br, start)); err != nil {
		return fmt.Errorf("decode uncompressed archive at offset %d: %w", start, err)
	}
	return nil
}

// compressed decodes an archive in one compressed stream, member or frame.
// open returns its decompressor and, optionally, a final check.
func (d *decoder) compressed(kind string, start int64, open func() (io.Reader, func() error, error)) error {
	zr, check, err := open()
	if err != nil {
		return fmt.Errorf("decode %s archive at offset %d: %w", kind, start, err)
	}
	zr = limited{r: zr, d: d}
	ar := NewReader(zr)
	if err := d.members(ar); err != nil {
		return fmt.Errorf("decode %s archive at offset %d: in decompressed data: %w", kind, start, err)
	}
	if err := d.trailingZeros(zr, ar.off); err != nil {
		return fmt.Errorf("decode %s archive at offset %d: %w", kind, start, err)
	}
	if check != nil {
		if err := check(); err != nil {
			return fmt.Errorf("decode %s archive at offset %d: %w", kind, start, err)
		}
	}
	return nil
}

// members reads the entries of one archive into d.files.
func (d *decoder) members(ar *Reader) error {
	for {
		h, err := ar.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if d.entries++; d.entries > d.lim.Entries {
			return &LimitError{What: "archive entries", Limit: int64(d.lim.Entries)}
		}
		if h.Mode&ModeType != ModeRegular {
			delete(d.files, h.Name)
			continue
		}
		if d.keep != nil && !d.keep(h.Name) {
			continue
		}
		// The size the header claims is checked against the limit before
		// anything is allocated; within it, one allocation of exactly that
		// size (a growing buffer could take twice as much on the way).
		if left := d.lim.Kept - d.kept; h.Size > left {
			return fmt.Errorf("entry %s: %w", quoteName(h.Name), &LimitError{What: "bytes of kept files", Limit: d.lim.Kept})
		}
		data := make([]byte, h.Size)
		if _, err := io.ReadFull(ar, data); err != nil {
			return err
		}
		d.kept += h.Size
		d.files[h.Name] = data
	}
}

// trailingZeros reads the rest of a decompressed stream after the trailer
// (which ended at decompressed offset off) and fails on any non-zero byte.
func (d *decoder) trailingZeros(zr io.Reader, off int64) error {
	if d.buf == nil {
		d.buf = make([]byte, 32<<10)
	}
	for {
		n, err := zr.Read(d.buf)
		if i := firstNonZero(d.buf[:n]); i >= 0 {
			return fmt.Errorf("after the trailer, at decompressed offset %d: %w", off+int64(i), ErrTrailingGarbage)
		}
		off += int64(n)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("after the trailer, at decompressed offset %d: %w", off, err)
		}
	}
}

// skippableFrame skips a zstd skippable frame: magic, 32-bit length, data.
func (d *decoder) skippableFrame(start int64) error {
	var h [8]byte
	if _, err := io.ReadFull(d.br, h[:]); err != nil {
		return fmt.Errorf("read zstd skippable frame at offset %d: %w", start, noEOF(err))
	}
	size := int64(binary.LittleEndian.Uint32(h[4:]))
	if n, err := d.br.Discard(int(size)); err != nil {
		return fmt.Errorf("skip zstd skippable frame at offset %d: %d of %d bytes: %w", start, n, size, noEOF(err))
	}
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// firstNonZero returns the index of the first non-zero byte of b, or -1.
func firstNonZero(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return i
		}
	}
	return -1
}

// maxQuoted is how many bytes of a name from an archive go into a message.
const maxQuoted = 64

// quoteName quotes a name read from an archive for a message: Go-escaped,
// so that control bytes cannot reach a terminal, and cut to maxQuoted bytes.
func quoteName(s string) string {
	if len(s) > maxQuoted {
		return strconv.Quote(s[:maxQuoted]) + fmt.Sprintf("… (%d bytes)", len(s))
	}
	return strconv.Quote(s)
}
