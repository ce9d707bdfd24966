package blockdev

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"unsafe"
)

// BlockSize is the default size of the writes: large, and a multiple of
// every logical and physical block size, so that no write is split into a
// read-modify-write of a flash page.
const BlockSize = 4 << 20

// Target is what an image is written to: an opened device (see Open) or a
// test double that wraps one. Sync must make the written bytes durable;
// ReadAt must, after DropCache, read them from the device rather than
// from a cache.
type Target interface {
	io.WriterAt
	io.ReaderAt
	Sync() error
	// DropCache discards cached copies of the written range, so that the
	// read-back reads the device. It may do nothing for a target that has
	// no cache.
	DropCache() error
	// Name is the device path, for errors.
	Name() string
}

// Aligned is implemented by a Target that needs every transfer's memory,
// offset and length aligned to Alignment() bytes (a device opened with
// O_DIRECT). Write then pads the last block with zeros up to that size;
// the padding lies within the device, whose size is a multiple of its
// block size.
type Aligned interface {
	Alignment() int
}

// WriteOptions tune Write.
type WriteOptions struct {
	// BlockSize is the size of each write; 0 means BlockSize.
	BlockSize int
	// NoVerify skips the read-back.
	NoVerify bool
	// Progress, if set, is called after each block with the bytes done and
	// the total, first while writing (verifying false), then while reading
	// back (verifying true).
	Progress func(done, total int64, verifying bool)
}

// Result is what Write did.
type Result struct {
	Written  int64
	SHA256   [sha256.Size]byte // of the image's bytes as read from the source; zero with NoVerify
	Verified bool              // the read-back matched
}

// VerifyError reports that the bytes read back from the device differ from
// those written.
type VerifyError struct {
	Device string
	Offset int64 // start of the first block that differs
	Length int64
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("verifying %s: the %d bytes read back at byte offset %d differ from the image: the device did not store what was written (a failing or fake-capacity stick, or a bad cable); try another port or stick and write again",
		e.Device, e.Length, e.Offset)
}

// Write copies size bytes of src to dst from offset 0 in blocks, syncs, and
// (unless o.NoVerify) drops the cache and reads the range back, comparing
// its sha256 with that of what was read from src (and a CRC-32C of each
// block, to say where they differ). Reading and hashing the next block
// overlaps with writing the current one. With o.NoVerify nothing is
// hashed. It stops soon after ctx is done.
func Write(ctx context.Context, dst Target, src io.ReaderAt, size int64, o WriteOptions) (*Result, error) {
	bs := o.BlockSize
	if bs <= 0 {
		bs = BlockSize
	}
	align := 1
	if a, ok := dst.(Aligned); ok && a.Alignment() > 1 {
		align = a.Alignment()
		bs = (bs + align - 1) / align * align
	}
	progress := o.Progress
	if progress == nil {
		progress = func(int64, int64, bool) {}
	}
	name := dst.Name()
	verify := !o.NoVerify
	whole := sha256.New()
	var crcs []uint32

	type block struct {
		buf []byte // the image's bytes, then zeros up to the alignment
		n   int    // of them the image's
		off int64
		err error
	}
	// Two buffers circulate: one is filled from src and hashed while the
	// other is written to dst.
	free := make(chan []byte, 2)
	free <- alignedBuffer(bs, align)
	free <- alignedBuffer(bs, align)
	full := make(chan block, 1)
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	go func() {
		defer close(full)
		send := func(b block) bool {
			select {
			case full <- b:
				return true
			case <-readCtx.Done():
				return false
			}
		}
		for off := int64(0); off < size; {
			var buf []byte
			select {
			case buf = <-free:
			case <-readCtx.Done():
				return
			}
			n := int64(bs)
			if size-off < n {
				n = size - off
			}
			padded := (n + int64(align) - 1) / int64(align) * int64(align)
			buf = buf[:padded]
			if _, err := src.ReadAt(buf[:n], off); err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				send(block{off: off, err: fmt.Errorf("reading the image at byte offset %d: %w", off, err)})
				return
			}
			clear(buf[n:])
			if verify {
				whole.Write(buf[:n])
				crcs = append(crcs, crc32.Checksum(buf[:n], castagnoli))
			}
			if !send(block{buf: buf, n: int(n), off: off}) {
				return
			}
			off += n
		}
	}()

	res := &Result{}
	for b := range full {
		if b.err != nil {
			return res, b.err
		}
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("writing %s: stopped at byte offset %d: %w (the device now holds part of the image; write it again before booting from it)", name, b.off, context.Cause(ctx))
		}
		if _, err := dst.WriteAt(b.buf, b.off); err != nil {
			return res, fmt.Errorf("writing %s at byte offset %d: %w (was it unplugged? check dmesg, then write again)", name, b.off, err)
		}
		res.Written = b.off + int64(b.n)
		progress(res.Written, size, false)
		free <- b.buf[:cap(b.buf)]
	}
	if res.Written != size {
		return res, fmt.Errorf("writing %s: stopped at byte offset %d: %w", name, res.Written, context.Cause(ctx))
	}
	// The reader is done (full is closed), so whole and crcs are complete.
	if err := dst.Sync(); err != nil {
		return res, fmt.Errorf("syncing %s after writing %d bytes: %w (the data may not all have reached the device; write again)", name, size, err)
	}
	if !verify {
		return res, nil
	}
	copy(res.SHA256[:], whole.Sum(nil))
	if err := dst.DropCache(); err != nil {
		return res, fmt.Errorf("dropping the cached copy of %s before reading it back: %w (use --no-verify to skip the read-back)", name, err)
	}
	buf := <-free
	back := sha256.New()
	var bad *VerifyError
	for i, off := 0, int64(0); off < size; i, off = i+1, off+int64(bs) {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("verifying %s: stopped at byte offset %d: %w (the image was written and synced but not read back)", name, off, context.Cause(ctx))
		}
		n := int64(bs)
		if size-off < n {
			n = size - off
		}
		padded := (n + int64(align) - 1) / int64(align) * int64(align)
		if _, err := dst.ReadAt(buf[:padded], off); err != nil {
			return res, fmt.Errorf("verifying %s: reading back at byte offset %d: %w", name, off, err)
		}
		back.Write(buf[:n])
		if bad == nil && crc32.Checksum(buf[:n], castagnoli) != crcs[i] {
			bad = &VerifyError{Device: name, Offset: off, Length: n}
		}
		progress(off+n, size, true)
	}
	if bad != nil {
		return res, bad
	}
	if !bytes.Equal(back.Sum(nil), res.SHA256[:]) {
		return res, &VerifyError{Device: name, Offset: 0, Length: size}
	}
	res.Verified = true
	return res, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// alignedBuffer returns n bytes whose address is a multiple of align and
// of the page size.
func alignedBuffer(n, align int) []byte {
	if align <= 1 {
		return make([]byte, n)
	}
	align = max(align, 4096)
	b := make([]byte, n+align)
	skip := 0
	if r := int(uintptr(unsafe.Pointer(&b[0])) % uintptr(align)); r != 0 {
		skip = align - r
	}
	return b[skip : skip+n : skip+n]
}

// Hex is the sha256 in hex.
func (r *Result) Hex() string { return hex.EncodeToString(r.SHA256[:]) }
