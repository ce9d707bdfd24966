package initrd

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"

	"github.com/ulikunitz/xz/lzma"
)

// xz container parsing (The .xz File Format, version 1.0.4,
// https://tukaani.org/xz/xz-file-format.txt).
//
// github.com/ulikunitz/xz.Reader cannot stop at the end of one stream: after
// the stream footer it reads on, either to parse the next stream (consuming
// padding and the start of whatever follows) or, with SingleStream, to check
// that nothing follows. Initramfs images continue after the stream with zero
// padding and further archives, so we parse the container ourselves and use
// only the library's LZMA2 decoder, which reads exactly up to its end marker.

var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}

const (
	xzHeaderLen = 12
	xzFooterLen = 12
	lzma2Filter = 0x21
)

var crc64Table = crc64.MakeTable(crc64.ECMA)

type xzRecord struct {
	unpadded, uncompressed int64
}

// xzReader decompresses exactly one xz stream from src, verifying block
// checks, the index and the footer, and leaves src positioned just after the
// stream footer. Stream padding is not consumed.
type xzReader struct {
	src   io.ByteReader
	rd    io.Reader
	pos   int64 // absolute input offset of the next byte of src
	flags [2]byte
	check byte
	err   error // sticky; io.EOF after the footer

	records []xzRecord

	// Current block, lz == nil between blocks.
	lz           *lzma.Reader2
	hash         hash.Hash
	blockStart   int64 // offset of the block header
	headerSize   int64
	compressed   int64 // declared in the block header, or -1
	uncompressed int64 // declared in the block header, or -1
	produced     int64 // uncompressed bytes so far

	maxDict int64  // largest dictionary a block may ask for
	budget  *int64 // dictionary bytes left for all blocks, nil for no bound
}

type byteSource interface {
	io.Reader
	io.ByteReader
}

// newXZReader reads the stream header at offset pos of src.
func newXZReader(src byteSource, pos, maxDict int64, budget *int64) (*xzReader, error) {
	x := &xzReader{src: src, rd: src, pos: pos, maxDict: maxDict, budget: budget}
	var h [xzHeaderLen]byte
	if err := x.readFull(h[:]); err != nil {
		return nil, fmt.Errorf("read xz stream header: %w", noEOF(err))
	}
	if !bytes.Equal(h[:6], xzMagic) {
		return nil, errors.New("bad xz magic")
	}
	if crc32.ChecksumIEEE(h[6:8]) != binary.LittleEndian.Uint32(h[8:]) {
		return nil, errors.New("xz stream header CRC32 mismatch")
	}
	if h[6] != 0 || h[7]&0xf0 != 0 {
		return nil, fmt.Errorf("unsupported xz stream flags %#02x%02x", h[6], h[7])
	}
	x.flags = [2]byte{h[6], h[7]}
	x.check = h[7]
	if _, err := x.newHash(); err != nil {
		return nil, err
	}
	return x, nil
}

// newHash returns the hash for the stream's check type (nil for none).
func (x *xzReader) newHash() (hash.Hash, error) {
	switch x.check {
	case 0x00:
		return nil, nil
	case 0x01:
		return crc32.NewIEEE(), nil
	case 0x04:
		return crc64.New(crc64Table), nil
	case 0x0a:
		return sha256.New(), nil
	}
	return nil, fmt.Errorf("unsupported xz check type %#x", x.check)
}

// Read implements io.Reader over the stream's uncompressed data.
func (x *xzReader) Read(p []byte) (int, error) {
	for x.err == nil {
		if x.lz == nil {
			if err := x.startBlock(); err != nil {
				x.err = err
				break
			}
		}
		n, err := x.lz.Read(p)
		if x.hash != nil {
			x.hash.Write(p[:n])
		}
		x.produced += int64(n)
		if x.uncompressed >= 0 && x.produced > x.uncompressed {
			x.err = fmt.Errorf("xz block at offset %d: more data than the %d bytes its header declares", x.blockStart, x.uncompressed)
			return n, x.err
		}
		if err == io.EOF {
			if err := x.endBlock(); err != nil {
				x.err = err
				return n, err
			}
			if n > 0 || len(p) == 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			x.err = fmt.Errorf("decompress xz block at offset %d: %w", x.blockStart, noEOF(err))
		}
		return n, x.err
	}
	return 0, x.err
}

// startBlock reads a block header and sets up its decoder, or reads the index
// and footer and returns io.EOF.
func (x *xzReader) startBlock() error {
	start := x.pos
	b, err := x.readByte()
	if err != nil {
		return fmt.Errorf("read xz block header at offset %d: %w", start, noEOF(err))
	}
	if b == 0 {
		if err := x.readIndex(start); err != nil {
			return err
		}
		return io.EOF
	}
	size := (int64(b) + 1) * 4
	h := make([]byte, size)
	h[0] = b
	if err := x.readFull(h[1:]); err != nil {
		return fmt.Errorf("read xz block header at offset %d: %w", start, noEOF(err))
	}
	fail := func(format string, a ...any) error {
		return fmt.Errorf("xz block header at offset %d: %s", start, fmt.Sprintf(format, a...))
	}
	if crc32.ChecksumIEEE(h[:size-4]) != binary.LittleEndian.Uint32(h[size-4:]) {
		return fail("CRC32 mismatch")
	}
	body := h[2 : size-4]
	flags := h[1]
	if flags&0x3c != 0 {
		return fail("reserved flags %#02x set", flags)
	}
	x.compressed, x.uncompressed = -1, -1
	if flags&0x40 != 0 {
		v, n := xzUvarint(body)
		if n <= 0 || v == 0 || v > 1<<62 {
			return fail("bad compressed size")
		}
		x.compressed, body = int64(v), body[n:]
	}
	if flags&0x80 != 0 {
		v, n := xzUvarint(body)
		if n <= 0 || v > 1<<62 {
			return fail("bad uncompressed size")
		}
		x.uncompressed, body = int64(v), body[n:]
	}
	if nf := flags&3 + 1; nf != 1 {
		return fail("%d filters, only a single LZMA2 filter is supported", nf)
	}
	id, n := xzUvarint(body)
	if n <= 0 {
		return fail("bad filter id")
	}
	body = body[n:]
	if id != lzma2Filter {
		return fail("unsupported filter %#x, only LZMA2 is supported", id)
	}
	propSize, n := xzUvarint(body)
	if n <= 0 || propSize != 1 || len(body) < n+1 {
		return fail("bad LZMA2 filter properties")
	}
	prop := body[n]
	body = body[n+1:]
	if !allZero(body) {
		return fail("non-zero header padding")
	}
	dict, err := lzma.DecodeDictCap(prop)
	if err != nil {
		return fail("LZMA2 dictionary size property %#x not supported", prop)
	}
	if x.uncompressed >= 0 && x.uncompressed < dict {
		// A dictionary larger than the data is never used; don't allocate it.
		dict = max(x.uncompressed, lzma.MinDictCap)
	}
	if dict > x.maxDict {
		return fmt.Errorf("xz block header at offset %d: %w", start, &LimitError{What: "LZMA2 dictionary bytes", Limit: x.maxDict})
	}
	if x.budget != nil {
		if *x.budget < dict {
			return fmt.Errorf("xz block header at offset %d: %w", start, &LimitError{What: "LZMA2 dictionary bytes in all", Limit: 2 * x.maxDict})
		}
		*x.budget -= dict
	}
	x.blockStart, x.headerSize, x.produced = start, size, 0
	x.hash, _ = x.newHash()
	lz, err := lzma.Reader2Config{DictCap: int(dict)}.NewReader2(xzSource{x})
	if err != nil {
		return fmt.Errorf("xz block at offset %d: %w", start, err)
	}
	x.lz = lz
	return nil
}

// endBlock verifies the sizes, padding and check of the finished block.
func (x *xzReader) endBlock() error {
	x.lz = nil
	compressed := x.pos - x.blockStart - x.headerSize
	if x.compressed >= 0 && compressed != x.compressed {
		return fmt.Errorf("xz block at offset %d: compressed size %d, header says %d", x.blockStart, compressed, x.compressed)
	}
	if x.uncompressed >= 0 && x.produced != x.uncompressed {
		return fmt.Errorf("xz block at offset %d: uncompressed size %d, header says %d", x.blockStart, x.produced, x.uncompressed)
	}
	var buf [3 + sha256.Size]byte
	pad := buf[:padLen(compressed)]
	if err := x.readFull(pad); err != nil {
		return fmt.Errorf("read xz block padding at offset %d: %w", x.pos, noEOF(err))
	}
	if !allZero(pad) {
		return fmt.Errorf("xz block at offset %d: non-zero block padding", x.blockStart)
	}
	checkSize := 0
	if x.hash != nil {
		checkSize = x.hash.Size()
		sum := buf[:checkSize]
		if err := x.readFull(sum); err != nil {
			return fmt.Errorf("read xz block check at offset %d: %w", x.pos, noEOF(err))
		}
		var ok bool
		switch h := x.hash.(type) {
		case hash.Hash32:
			ok = binary.LittleEndian.Uint32(sum) == h.Sum32()
		case hash.Hash64:
			ok = binary.LittleEndian.Uint64(sum) == h.Sum64()
		default:
			ok = bytes.Equal(sum, h.Sum(nil))
		}
		if !ok {
			return fmt.Errorf("xz block at offset %d: check mismatch, data corrupt", x.blockStart)
		}
	}
	x.records = append(x.records, xzRecord{x.headerSize + compressed + int64(checkSize), x.produced})
	return nil
}

// readIndex reads the index (its indicator byte at offset start already
// consumed) and the stream footer, and checks them against the blocks read.
func (x *xzReader) readIndex(start int64) error {
	crc := crc32.NewIEEE()
	crc.Write([]byte{0})
	fail := func(format string, a ...any) error {
		return fmt.Errorf("xz index at offset %d: %s", start, fmt.Sprintf(format, a...))
	}
	next := func() (byte, error) {
		b, err := x.readByte()
		if err != nil {
			return 0, fmt.Errorf("read xz index at offset %d: %w", x.pos, noEOF(err))
		}
		crc.Write([]byte{b})
		return b, nil
	}
	uvarint := func() (uint64, error) {
		v, err := xzReadUvarint(next)
		if errors.Is(err, errXZVarint) {
			return 0, fail("%v", err)
		}
		return v, err
	}
	count, err := uvarint()
	if err != nil {
		return err
	}
	if count != uint64(len(x.records)) {
		return fail("%d records for %d blocks", count, len(x.records))
	}
	for i, rec := range x.records {
		unpadded, err := uvarint()
		if err != nil {
			return err
		}
		uncompressed, err := uvarint()
		if err != nil {
			return err
		}
		if unpadded != uint64(rec.unpadded) || uncompressed != uint64(rec.uncompressed) {
			return fail("record %d (%d, %d) does not match block (%d, %d)", i, unpadded, uncompressed, rec.unpadded, rec.uncompressed)
		}
	}
	for (x.pos-start)%4 != 0 {
		b, err := next()
		if err != nil {
			return err
		}
		if b != 0 {
			return fail("non-zero index padding")
		}
	}
	var sum [4]byte
	if err := x.readFull(sum[:]); err != nil {
		return fmt.Errorf("read xz index CRC32 at offset %d: %w", x.pos, noEOF(err))
	}
	if binary.LittleEndian.Uint32(sum[:]) != crc.Sum32() {
		return fail("CRC32 mismatch")
	}
	indexSize := x.pos - start

	footerStart := x.pos
	var f [xzFooterLen]byte
	if err := x.readFull(f[:]); err != nil {
		return fmt.Errorf("read xz stream footer at offset %d: %w", footerStart, noEOF(err))
	}
	switch {
	case crc32.ChecksumIEEE(f[4:10]) != binary.LittleEndian.Uint32(f[:4]):
		return fmt.Errorf("xz stream footer at offset %d: CRC32 mismatch", footerStart)
	case (int64(binary.LittleEndian.Uint32(f[4:8]))+1)*4 != indexSize:
		return fmt.Errorf("xz stream footer at offset %d: backward size does not match the index", footerStart)
	case f[8] != x.flags[0] || f[9] != x.flags[1]:
		return fmt.Errorf("xz stream footer at offset %d: flags differ from the stream header", footerStart)
	case f[10] != 'Y' || f[11] != 'Z':
		return fmt.Errorf("xz stream footer at offset %d: bad magic", footerStart)
	}
	return nil
}

func (x *xzReader) readFull(p []byte) error {
	n, err := io.ReadFull(x.rd, p)
	x.pos += int64(n)
	return err
}

func (x *xzReader) readByte() (byte, error) {
	b, err := x.src.ReadByte()
	if err == nil {
		x.pos++
	}
	return b, err
}

// xzSource feeds the LZMA2 decoder from the xzReader's input, counting bytes.
type xzSource struct{ x *xzReader }

func (s xzSource) Read(p []byte) (int, error) {
	n, err := s.x.rd.Read(p)
	s.x.pos += int64(n)
	return n, err
}

func (s xzSource) ReadByte() (byte, error) { return s.x.readByte() }

// xzUvarint decodes an xz multibyte integer (at most 9 bytes, 7 bits each,
// little-endian, no superfluous zero byte at the end) from b. It returns the
// value and the number of bytes used, or n <= 0 if b holds no valid integer.
func xzUvarint(b []byte) (v uint64, n int) {
	i := 0
	v, err := xzReadUvarint(func() (byte, error) {
		if i == len(b) {
			return 0, io.ErrUnexpectedEOF
		}
		i++
		return b[i-1], nil
	})
	if err != nil {
		return 0, -1
	}
	return v, i
}

var errXZVarint = errors.New("bad xz multibyte integer")

func xzReadUvarint(next func() (byte, error)) (uint64, error) {
	var v uint64
	for i := 0; i < 9; i++ {
		b, err := next()
		if err != nil {
			return 0, err
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			if b == 0 && i > 0 {
				return 0, errXZVarint
			}
			return v, nil
		}
	}
	return 0, errXZVarint
}

func allZero(b []byte) bool { return firstNonZero(b) < 0 }
