//go:build linux

package overlay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// The kernel copy calls, as variables so that tests can watch or fail them.
var (
	copyFileRange = unix.CopyFileRange
	sendfile      = unix.Sendfile
)

// fileMode reports whether the file behind rc is a regular file and whether
// it is open with O_APPEND.
func fileMode(rc syscall.RawConn) (regular, appendMode bool, err error) {
	cerr := rc.Control(func(fd uintptr) {
		var st unix.Stat_t
		if err = unix.Fstat(int(fd), &st); err != nil {
			return
		}
		regular = st.Mode&unix.S_IFMT == unix.S_IFREG
		var fl int
		if fl, err = unix.FcntlInt(fd, unix.F_GETFL, 0); err != nil {
			return
		}
		appendMode = fl&unix.O_APPEND != 0
	})
	if err == nil {
		err = cerr
	}
	return regular, appendMode, err
}

// writeFile writes the overlay to f with copy_file_range or sendfile when f
// and the base allow it. handled is false when the caller should use the
// generic path instead; nothing has been written then.
func (im *Image) writeFile(ctx context.Context, f *os.File) (n int64, handled bool, err error) {
	src, srcOff, ok := asFile(im.base, im.baseSize)
	if !ok || im.baseSize == 0 {
		return 0, false, nil
	}
	srcRC, err := src.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	dstRC, err := f.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	regular, appendMode, err := fileMode(dstRC)
	switch {
	case err != nil:
		return 0, false, nil
	case regular && !appendMode:
		return im.writeRegular(ctx, f, dstRC, srcRC, srcOff)
	case !regular:
		return im.writeStream(ctx, f, dstRC, srcRC, srcOff)
	}
	return 0, false, nil // O_APPEND: only sequential writes are correct
}

// writeRegular writes the overlay into the regular file f at its current
// position: the whole base with copy_file_range in aligned 64 MiB calls, then
// the patches over it with pwrite, then the extents.
func (im *Image) writeRegular(ctx context.Context, f *os.File, dst, src syscall.RawConn, srcOff int64) (int64, bool, error) {
	p0, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, false, nil
	}
	// fail returns the length of the output prefix that is complete, and
	// leaves the file position after it.
	fail := func(complete int64, err error) (int64, bool, error) {
		_, _ = f.Seek(p0+complete, io.SeekStart)
		return complete, true, err
	}
	firstPatch := im.baseSize
	if len(im.patches) > 0 {
		firstPatch = im.patches[0].off
	}

	var buf []byte
	done, fallback, err := cfrCopy(ctx, dst, src, p0, srcOff, im.baseSize, 0, "base image")
	if err == nil && fallback {
		var m int64
		m, err = copyAt(ctx, f, p0+done, im.base, done, im.baseSize-done, done, "base image", &buf)
		done += m
	}
	if err != nil {
		return fail(min(done, firstPatch), err)
	}

	for _, q := range im.patches {
		if err := ctx.Err(); err != nil {
			return fail(q.off, fmt.Errorf("write overlay at offset %d: %w", q.off, err))
		}
		if _, err := f.WriteAt(q.data, p0+q.off); err != nil {
			return fail(q.off, fmt.Errorf("write patch of %d bytes at offset %d: %w", len(q.data), q.off, err))
		}
	}

	d := fastDst{rc: dst}
	for _, e := range im.extents {
		m, err := d.copyExtent(ctx, f, p0+e.off, e, &buf)
		if err != nil {
			return fail(e.off+m, err)
		}
	}
	if _, err := f.Seek(p0+im.size, io.SeekStart); err != nil {
		return im.size, true, fmt.Errorf("seek output to offset %d: %w", p0+im.size, err)
	}
	return im.size, true, nil
}

// cfrUnsupported reports whether a copy_file_range error on the first call
// means that the kernel or file system cannot do this copy, so that reading
// and writing through a buffer should be used instead.
func cfrUnsupported(err error) bool {
	switch err {
	case unix.EXDEV, unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP, unix.EBADF,
		unix.EPERM, // seccomp filters of some container runtimes
		unix.EIO:   // some network and FUSE file systems
		return true
	}
	return false
}

// cfrCopy copies n bytes from offset soff of src to offset doff of dst with
// copy_file_range. Each call copies at most chunkSize bytes and, unless the
// kernel copied less than asked, starts at a multiple of chunkSize from the
// start of the range, so the calls stay block-aligned when soff and doff
// are. logical is the overlay offset of the first byte, for errors.
//
// fallback is true when the caller should copy the bytes from offset copied
// on by other means: the first call failed with an error that means "not
// supported here", or the kernel copied nothing (the source ended early, or
// a file system that cannot splice); the caller's read then reports a short
// source properly.
func cfrCopy(ctx context.Context, dst, src syscall.RawConn, doff, soff, n, logical int64, what string) (copied int64, fallback bool, err error) {
	first := true
	for copied < n {
		if err := ctx.Err(); err != nil {
			return copied, false, fmt.Errorf("write overlay at offset %d: %w", logical+copied, err)
		}
		end := min(n, (copied/chunkSize+1)*chunkSize)
		var cerr error
		serr := src.Control(func(infd uintptr) {
			derr := dst.Control(func(outfd uintptr) {
				for copied < end {
					roff, woff := soff+copied, doff+copied
					m, e := copyFileRange(int(infd), &roff, int(outfd), &woff, int(end-copied), 0)
					switch {
					case e == unix.EINTR:
						continue
					case e != nil:
						if first && cfrUnsupported(e) {
							fallback = true
						} else {
							cerr = e
						}
						return
					case m <= 0:
						fallback = true
						return
					}
					first = false
					copied += int64(m)
				}
			})
			if cerr == nil {
				cerr = derr
			}
		})
		if cerr == nil {
			cerr = serr
		}
		if cerr != nil {
			return copied, false, fmt.Errorf("copy %s to output at offset %d: %w", what, logical+copied, cerr)
		}
		if fallback {
			return copied, true, nil
		}
	}
	return copied, false, nil
}

// sendfileUnsupported reports whether a sendfile error on the first call
// means that the kernel cannot send to this output.
func sendfileUnsupported(err error) bool {
	switch err {
	case unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP:
		return true
	}
	return false
}

// writeStream writes the overlay in order to the non-regular file f (a pipe,
// a character or block device, a socket): the base ranges with sendfile at
// explicit offsets, patches and extents with Write.
func (im *Image) writeStream(ctx context.Context, f *os.File, dst, src syscall.RawConn, srcOff int64) (int64, bool, error) {
	var written int64
	var buf []byte
	first := true
	for _, s := range im.segments(0) {
		switch {
		case s.data != nil:
			if err := ctx.Err(); err != nil {
				return written, true, fmt.Errorf("write overlay at offset %d: %w", s.off, err)
			}
			m, err := writeAll(f, s.data, s.off)
			written += int64(m)
			if err != nil {
				return written, true, err
			}
		case s.base:
			m, fallback, err := sendCopy(ctx, dst, src, srcOff+s.roff, s.n, s.off, &first)
			written += m
			if err != nil {
				return written, true, err
			}
			if fallback {
				rest, err := im.writeSeq(ctx, f, s.off+m)
				return written + rest, true, err
			}
		default:
			m, err := copySeq(ctx, f, s.r, s.roff, s.n, s.off, s.what, &buf)
			written += m
			if err != nil {
				return written, true, err
			}
		}
	}
	return written, true, nil
}

// sendCopy sends n bytes from offset soff of src to dst with sendfile, in
// chunks of at most chunkSize bytes. A non-blocking dst that is full makes
// the runtime poller wait. *first is true until a call has succeeded.
// fallback is true when the caller should write the rest itself: the first
// call failed as unsupported, or the source ended early.
func sendCopy(ctx context.Context, dst, src syscall.RawConn, soff, n, logical int64, first *bool) (sent int64, fallback bool, err error) {
	for sent < n {
		if err := ctx.Err(); err != nil {
			return sent, false, fmt.Errorf("write overlay at offset %d: %w", logical+sent, err)
		}
		end := min(n, sent+chunkSize)
		var serr error
		cerr := src.Control(func(infd uintptr) {
			werr := dst.Write(func(outfd uintptr) bool {
				for sent < end {
					off := soff + sent
					m, e := sendfile(int(outfd), int(infd), &off, int(end-sent))
					switch {
					case e == unix.EAGAIN:
						return false // wait until dst is writable
					case e == unix.EINTR:
						continue
					case e != nil:
						if *first && sendfileUnsupported(e) {
							fallback = true
						} else {
							serr = e
						}
						return true
					case m <= 0:
						fallback = true
						return true
					}
					*first = false
					sent += int64(m)
				}
				return true
			})
			if serr == nil {
				serr = werr
			}
		})
		if serr == nil {
			serr = cerr
		}
		if serr != nil {
			return sent, false, fmt.Errorf("send base image to output at offset %d: %w", logical+sent, serr)
		}
		if fallback {
			return sent, true, nil
		}
	}
	return sent, false, nil
}

// fastDst is an ApplyTo or WriteTo destination; rc is set when it is a
// regular file without O_APPEND, which copy_file_range can write into.
type fastDst struct {
	rc syscall.RawConn
}

// applyDst inspects an *os.File given to ApplyTo. Positioned writes to a
// file opened with O_APPEND would append on Linux, so that is an error.
func applyDst(f *os.File) (fastDst, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return fastDst{}, nil
	}
	regular, appendMode, err := fileMode(rc)
	switch {
	case err != nil:
		return fastDst{}, nil
	case appendMode:
		return fastDst{}, errors.New("apply overlay: output file is opened with O_APPEND, so positioned writes would append")
	case regular:
		return fastDst{rc: rc}, nil
	}
	return fastDst{}, nil
}

// copyExtent writes extent e to w at woff: with copy_file_range when w is a
// regular file and e is backed by a file, otherwise with positioned reads
// and writes. It returns the number of bytes of e written in order.
func (d fastDst) copyExtent(ctx context.Context, w io.WriterAt, woff int64, e extent, buf *[]byte) (int64, error) {
	var done int64
	if d.rc != nil {
		if src, soff, ok := asFile(e.r, e.n); ok {
			if srcRC, err := src.SyscallConn(); err == nil {
				m, fallback, err := cfrCopy(ctx, d.rc, srcRC, woff, soff, e.n, e.off, "appended data")
				done = m
				if err != nil || !fallback {
					return done, err
				}
			}
		}
	}
	m, err := copyAt(ctx, w, woff+done, e.r, done, e.n-done, e.off+done, "appended data", buf)
	return done + m, err
}
