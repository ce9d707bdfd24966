package initrd

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// File type bits of Header.Mode (the S_IFMT part of st_mode).
const (
	ModeType    uint32 = 0o170000 // mask of the file type bits
	ModeRegular uint32 = 0o100000 // regular file
	ModeDir     uint32 = 0o040000 // directory
	ModeSymlink uint32 = 0o120000 // symbolic link; the data is the target
)

const (
	magicNewc    = "070701" // "SVR4 no CRC"
	magicNewcCRC = "070702" // "SVR4 with CRC"; the kernel ignores the checksum
	headerLen    = 110
	trailerName  = "TRAILER!!!"
	maxNameSize  = 4096 // PATH_MAX, including the terminating NUL
	maxFieldVal  = math.MaxUint32
)

var (
	// ErrWriteTooLong is returned by Writer.Write when more than Header.Size
	// bytes are written for an entry.
	ErrWriteTooLong = errors.New("write too long")
	// ErrWriteAfterClose is returned by Writer methods called after Close.
	ErrWriteAfterClose = errors.New("write after close")
)

// The newc writer and reader are hand-written rather than taken from
// github.com/cavaliergopher/cpio: that package writes upper-case hex, assigns
// inode numbers itself (from 1), cannot write a trailer with inode 0, and its
// reader neither strips the NUL padding dracut adds to names nor tells where
// an uncompressed archive ends inside a longer stream, which Decode must know
// to go on with the next archive.

// Header is one newc entry. Mode holds the full st_mode, file type bits
// included (see ModeRegular and friends). All numeric fields are stored as
// 32-bit values in the archive; WriteHeader rejects values that do not fit.
type Header struct {
	Name      string // path inside the archive, without the terminating NUL
	Mode      uint32 // st_mode: file type and permission bits
	UID       uint32
	GID       uint32
	Nlink     uint32
	Mtime     int64 // seconds since the Unix epoch, 0 … 2^32-1
	Size      int64 // length of the data; for symlinks, of the target
	Ino       uint32
	DevMajor  uint32
	DevMinor  uint32
	RdevMajor uint32
	RdevMinor uint32
	Check     uint32 // checksum of a 070702 entry; written only if non-zero
}

// Writer writes a newc ("SVR4 no CRC") cpio archive, in the manner of
// archive/tar.Writer: WriteHeader starts an entry, Write supplies exactly
// Header.Size bytes of its data, Close writes the trailer. The first error is
// sticky: every later call returns it.
//
// The archive is written byte by byte as the Linux initramfs unpacker expects
// it (Documentation/driver-api/early-userspace/buffer-format.rst): lower-case
// hex, header plus name padded to 4 bytes, data padded to 4 bytes, inode
// numbers exactly as given, and a trailer without any block padding.
type Writer struct {
	w       io.Writer
	off     int64  // bytes written so far
	name    string // current entry, for error messages
	remain  int64  // data bytes the current entry still needs
	pad     int    // padding to write once the current entry's data is complete
	err     error  // sticky
	closed  bool
	scratch [headerLen]byte
}

// NewWriter returns a Writer that writes an archive to w. The caller must call
// Close to write the trailer; Close does not close w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// WriteHeader finishes the current entry (which must have received all of its
// data) and writes the header and name of h. The data of h, if any, follows
// with Write.
func (w *Writer) WriteHeader(h *Header) error {
	if err := w.finishEntry(); err != nil {
		return err
	}
	if h.Name == trailerName {
		return w.fail(fmt.Errorf("write cpio header at offset %d: name %q is reserved for the trailer", w.off, h.Name))
	}
	if err := w.writeHeader(h); err != nil {
		return err
	}
	w.name = h.Name
	w.remain = h.Size
	w.pad = padLen(h.Size)
	return nil
}

// Write writes data of the current entry. Writing more than the Size given
// to WriteHeader returns an error wrapping ErrWriteTooLong.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, ErrWriteAfterClose
	}
	short := false
	if int64(len(p)) > w.remain {
		p = p[:w.remain]
		short = true
	}
	n, err := w.w.Write(p)
	w.off += int64(n)
	w.remain -= int64(n)
	if err != nil {
		return n, w.fail(fmt.Errorf("write data of %q at offset %d: %w", w.name, w.off, err))
	}
	if short {
		return n, w.fail(fmt.Errorf("write data of %q: more than its size: %w", w.name, ErrWriteTooLong))
	}
	return n, nil
}

// Close finishes the current entry and writes the TRAILER!!! entry (inode 0,
// one link, everything else zero). It adds no padding after the trailer and
// does not close the underlying writer. Calling Close twice is harmless.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	if err := w.finishEntry(); err != nil {
		return err
	}
	err := w.writeHeader(&Header{Name: trailerName, Nlink: 1})
	w.closed = true
	return err
}

// finishEntry checks that the current entry got all its data and writes its
// padding.
func (w *Writer) finishEntry() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrWriteAfterClose
	}
	if w.remain > 0 {
		return w.fail(fmt.Errorf("finish entry %q at offset %d: %d bytes of data missing", w.name, w.off, w.remain))
	}
	if err := w.writeZeros(w.pad); err != nil {
		return w.fail(fmt.Errorf("pad data of %q at offset %d: %w", w.name, w.off, err))
	}
	w.pad = 0
	return nil
}

func (w *Writer) writeHeader(h *Header) error {
	if err := checkHeader(h); err != nil {
		return w.fail(fmt.Errorf("write cpio header at offset %d: %w", w.off, err))
	}
	b := w.scratch[:]
	copy(b, magicNewc)
	if h.Check != 0 {
		copy(b, magicNewcCRC)
	}
	for i, v := range [...]uint32{
		h.Ino, h.Mode, h.UID, h.GID, h.Nlink, uint32(h.Mtime), uint32(h.Size),
		h.DevMajor, h.DevMinor, h.RdevMajor, h.RdevMinor, uint32(len(h.Name) + 1), h.Check,
	} {
		putHex(b[6+8*i:], v)
	}
	if err := w.writeAll(b); err != nil {
		return w.fail(fmt.Errorf("write cpio header for %q at offset %d: %w", h.Name, w.off, err))
	}
	if err := w.writeAll([]byte(h.Name)); err != nil {
		return w.fail(fmt.Errorf("write name %q at offset %d: %w", h.Name, w.off, err))
	}
	// The name is followed by its NUL, then padding so that header plus
	// name end on a 4-byte boundary.
	if err := w.writeZeros(1 + padLen(headerLen+int64(len(h.Name))+1)); err != nil {
		return w.fail(fmt.Errorf("write name %q at offset %d: %w", h.Name, w.off, err))
	}
	return nil
}

func checkHeader(h *Header) error {
	switch {
	case h.Name == "":
		return errors.New("empty name")
	case strings.IndexByte(h.Name, 0) >= 0:
		return fmt.Errorf("name %q contains a NUL byte", h.Name)
	case len(h.Name)+1 > maxNameSize:
		return fmt.Errorf("name %.40q… is %d bytes long, more than %d", h.Name, len(h.Name), maxNameSize-1)
	case h.Size < 0 || h.Size > maxFieldVal:
		return fmt.Errorf("size %d of %q out of range", h.Size, h.Name)
	case h.Mtime < 0 || h.Mtime > maxFieldVal:
		return fmt.Errorf("mtime %d of %q out of range", h.Mtime, h.Name)
	}
	return nil
}

func (w *Writer) writeAll(p []byte) error {
	n, err := w.w.Write(p)
	w.off += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	return err
}

var zeros [4]byte

func (w *Writer) writeZeros(n int) error {
	if n == 0 {
		return nil
	}
	return w.writeAll(zeros[:n])
}

func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return w.err
}

// padLen returns how many bytes bring n up to a multiple of 4.
func padLen(n int64) int {
	return int(-n & 3)
}

const hexDigits = "0123456789abcdef"

// putHex writes v as 8 lower-case hex digits.
func putHex(b []byte, v uint32) {
	for i := 7; i >= 0; i-- {
		b[i] = hexDigits[v&0xf]
		v >>= 4
	}
}
