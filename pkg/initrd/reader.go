package initrd

import (
	"bytes"
	"fmt"
	"io"
)

// Reader reads a newc cpio archive (magic 070701 or 070702) in the manner of
// archive/tar.Reader: Next advances to the next entry, Read reads its data.
//
// Reader consumes exactly the bytes of the archive from the underlying reader,
// up to and including the padded TRAILER!!! entry, and never more, so that a
// caller reading a longer stream (concatenated initramfs archives) can go on
// from where the archive ended. It does no buffering of its own; wrap slow
// readers in a bufio.Reader.
//
// Names are returned without their terminating NUL and without any further
// NUL padding (dracut pads names); like the kernel, Reader takes the name up to
// the first NUL. The checksum of 070702 entries is not verified, as the kernel
// does not verify it either.
type Reader struct {
	r      io.Reader
	off    int64 // input offset: bytes consumed from r, plus the start offset
	name   string
	remain int64 // data bytes of the current entry not yet read
	pad    int   // padding after the current entry's data
	err    error // sticky; io.EOF after the trailer
	buf    [headerLen]byte
}

// NewReader returns a Reader reading an archive from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r}
}

// newReaderAt returns a Reader whose error messages count offsets from pos,
// the position of the archive in a longer input.
func newReaderAt(r io.Reader, pos int64) *Reader {
	return &Reader{r: r, off: pos}
}

// Next skips what is left of the current entry and reads the next header. At
// the trailer it returns io.EOF (and keeps doing so). Any other error,
// including input that ends before the trailer, is returned with the offset
// where reading failed.
func (r *Reader) Next() (*Header, error) {
	if r.err != nil {
		return nil, r.err
	}
	if err := r.skip(r.remain + int64(r.pad)); err != nil {
		return nil, r.fail(fmt.Errorf("skip data of %s at offset %d: %w", quoteName(r.name), r.off, noEOF(err)))
	}
	r.remain, r.pad = 0, 0

	start := r.off
	h, nameSize, err := r.readHeader()
	if err != nil {
		return nil, r.fail(fmt.Errorf("read cpio header at offset %d: %w", start, err))
	}
	name := make([]byte, nameSize+int64(padLen(headerLen+nameSize)))
	if err := r.readFull(name); err != nil {
		return nil, r.fail(fmt.Errorf("read name of cpio entry at offset %d: %w", start, noEOF(err)))
	}
	name = name[:nameSize]
	if name[nameSize-1] != 0 {
		return nil, r.fail(fmt.Errorf("read name of cpio entry at offset %d: name %s is not NUL-terminated", start, quoteName(string(name))))
	}
	name = name[:bytes.IndexByte(name, 0)]
	h.Name = string(name)
	r.name = h.Name
	r.remain = h.Size
	r.pad = padLen(h.Size)
	if h.Name == trailerName {
		if err := r.skip(r.remain + int64(r.pad)); err != nil {
			return nil, r.fail(fmt.Errorf("skip data of %s at offset %d: %w", quoteName(r.name), r.off, noEOF(err)))
		}
		r.remain, r.pad = 0, 0
		r.err = io.EOF
		return nil, io.EOF
	}
	return h, nil
}

// readHeader reads and parses the fixed 110-byte part of a header.
func (r *Reader) readHeader() (*Header, int64, error) {
	b := r.buf[:]
	// Check the magic before reading on, for a clear error on short junk.
	if err := r.readFull(b[:6]); err == io.EOF {
		return nil, 0, fmt.Errorf("archive ends without %s: %w", trailerName, io.ErrUnexpectedEOF)
	} else if err != nil {
		return nil, 0, err
	}
	if m := string(b[:6]); m != magicNewc && m != magicNewcCRC {
		return nil, 0, fmt.Errorf("bad magic %q, want %q or %q", m, magicNewc, magicNewcCRC)
	}
	if err := r.readFull(b[6:]); err != nil {
		return nil, 0, noEOF(err)
	}
	var v [13]uint32
	names := [...]string{"ino", "mode", "uid", "gid", "nlink", "mtime", "filesize",
		"devmajor", "devminor", "rdevmajor", "rdevminor", "namesize", "check"}
	for i := range v {
		field := b[6+8*i : 14+8*i]
		x, ok := parseHex(field)
		if !ok {
			return nil, 0, fmt.Errorf("bad %s field %q", names[i], field)
		}
		v[i] = x
	}
	nameSize := int64(v[11])
	if nameSize < 1 || nameSize > maxNameSize {
		return nil, 0, fmt.Errorf("name size %d out of range 1…%d", nameSize, maxNameSize)
	}
	h := &Header{
		Ino: v[0], Mode: v[1], UID: v[2], GID: v[3], Nlink: v[4], Mtime: int64(v[5]), Size: int64(v[6]),
		DevMajor: v[7], DevMinor: v[8], RdevMajor: v[9], RdevMinor: v[10], Check: v[12],
	}
	return h, nameSize, nil
}

// Read reads data of the current entry. It returns io.EOF at the end of the
// entry's data. If the input ends early the error wraps
// io.ErrUnexpectedEOF.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.remain == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := r.r.Read(p)
	r.off += int64(n)
	r.remain -= int64(n)
	if err == io.EOF {
		if r.remain > 0 {
			err = io.ErrUnexpectedEOF
		} else {
			err = nil
		}
	}
	if err != nil {
		return n, r.fail(fmt.Errorf("read data of %s at offset %d: %w", quoteName(r.name), r.off, err))
	}
	return n, nil
}

func (r *Reader) readFull(p []byte) error {
	n, err := io.ReadFull(r.r, p)
	r.off += int64(n)
	return err
}

// skip discards n bytes of input.
func (r *Reader) skip(n int64) error {
	if n == 0 {
		return nil
	}
	k, err := io.CopyN(io.Discard, r.r, n)
	r.off += k
	return err
}

func (r *Reader) fail(err error) error {
	r.err = err
	return err
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF: inside an archive, the end of
// the input is always premature.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseHex parses 8 hex digits (either case, as the kernel accepts).
func parseHex(b []byte) (uint32, bool) {
	var v uint32
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint32(c)
	}
	return v, true
}
