package initrd

import (
	"encoding/binary"
	"fmt"
	"io"
)

// zstd frame delimiting (RFC 8878, section 3.1).
//
// The klauspost zstd decoder reads its input ahead and decodes any number of
// frames in a row, so it cannot tell us where one frame ends inside a longer
// initramfs. zstdFrameReader walks the frame structure itself (frame header,
// then block headers, whose sizes say how many bytes follow, then the optional
// content checksum) and hands the decoder exactly the bytes of one frame,
// followed by io.EOF. The decoder does all the actual validation.

const (
	zstdFrameMagic     = 0xfd2fb528
	zstdSkippableMagic = 0x184d2a50 // low 4 bits are free
	zstdSkippableMask  = 0xfffffff0
	zstdMaxBlockSize   = 128 << 10
)

type zstdState int

const (
	zstdFrameHeader zstdState = iota
	zstdBlockHeader
	zstdDone
)

// zstdFrameReader passes through exactly one zstd frame from src, starting at
// absolute input offset pos, then returns io.EOF.
type zstdFrameReader struct {
	src      io.Reader
	pos      int64
	state    zstdState
	checksum bool // frame has a content checksum
	last     bool // the last block header has been read
	pending  []byte
	body     int64 // bytes to pass through before the next header
	hdr      [18]byte
	err      error
}

func newZstdFrameReader(src io.Reader, pos int64) *zstdFrameReader {
	return &zstdFrameReader{src: src, pos: pos}
}

// done reports whether the whole frame has been handed out.
func (z *zstdFrameReader) done() bool {
	return z.state == zstdDone && len(z.pending) == 0 && z.body == 0
}

func (z *zstdFrameReader) Read(p []byte) (int, error) {
	for z.err == nil {
		if len(z.pending) > 0 {
			n := copy(p, z.pending)
			z.pending = z.pending[n:]
			return n, nil
		}
		if z.body > 0 {
			if int64(len(p)) > z.body {
				p = p[:z.body]
			}
			n, err := z.src.Read(p)
			z.pos += int64(n)
			z.body -= int64(n)
			if err == io.EOF && z.body > 0 {
				z.err = fmt.Errorf("read zstd frame at offset %d: %w", z.pos, io.ErrUnexpectedEOF)
				return n, z.err
			}
			if err != nil && err != io.EOF {
				z.err = fmt.Errorf("read zstd frame at offset %d: %w", z.pos, err)
				return n, z.err
			}
			return n, nil
		}
		z.err = z.advance()
	}
	return 0, z.err
}

// advance reads the next frame or block header into pending; at the end of
// the frame it returns io.EOF.
func (z *zstdFrameReader) advance() error {
	start := z.pos
	switch z.state {
	case zstdFrameHeader:
		h := z.hdr[:5]
		if err := z.readFull(h); err != nil {
			return fmt.Errorf("read zstd frame header at offset %d: %w", start, noEOF(err))
		}
		if binary.LittleEndian.Uint32(h) != zstdFrameMagic {
			return fmt.Errorf("zstd frame header at offset %d: bad magic", start)
		}
		fhd := h[4]
		if fhd&0x08 != 0 {
			return fmt.Errorf("zstd frame header at offset %d: reserved bit set", start)
		}
		singleSegment := fhd&0x20 != 0
		n := [4]int{0, 1, 2, 4}[fhd&3] // dictionary ID
		switch fcs := fhd >> 6; {      // frame content size
		case fcs == 0 && singleSegment:
			n++
		case fcs > 0:
			n += 1 << fcs
		}
		if !singleSegment {
			n++ // window descriptor
		}
		rest := z.hdr[5 : 5+n]
		if err := z.readFull(rest); err != nil {
			return fmt.Errorf("read zstd frame header at offset %d: %w", start, noEOF(err))
		}
		z.checksum = fhd&0x04 != 0
		z.pending = z.hdr[:5+n]
		z.state = zstdBlockHeader
	case zstdBlockHeader:
		if z.last {
			z.state = zstdDone
			if z.checksum {
				z.body = 4
			}
			return nil
		}
		h := z.hdr[:3]
		if err := z.readFull(h); err != nil {
			return fmt.Errorf("read zstd block header at offset %d: %w", start, noEOF(err))
		}
		v := uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16
		z.last = v&1 != 0
		size := int64(v >> 3)
		switch v >> 1 & 3 {
		case 0: // raw
			z.body = size
		case 1: // RLE: one byte, repeated size times
			z.body = 1
		case 2: // compressed
			z.body = size
		default:
			return fmt.Errorf("zstd block header at offset %d: reserved block type", start)
		}
		if size > zstdMaxBlockSize {
			return fmt.Errorf("zstd block header at offset %d: block size %d exceeds %d", start, size, zstdMaxBlockSize)
		}
		z.pending = h
	case zstdDone:
		return io.EOF
	}
	return nil
}

func (z *zstdFrameReader) readFull(p []byte) error {
	n, err := io.ReadFull(z.src, p)
	z.pos += int64(n)
	return err
}
