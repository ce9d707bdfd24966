package initrd

import (
	"compress/gzip"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Compression selects how an initramfs layer is compressed.
type Compression int

// Compression formats; all of them are accepted by the Linux initramfs
// unpacker (zstd since Linux 5.9, and only if the kernel was built with it).
const (
	None Compression = iota
	Gzip
	XZ
	Zstd
)

var compressionNames = [...]string{None: "none", Gzip: "gzip", XZ: "xz", Zstd: "zstd"}

// String returns the name of the compression: "none", "gzip", "xz" or
// "zstd".
func (c Compression) String() string {
	if c < 0 || int(c) >= len(compressionNames) {
		return fmt.Sprintf("Compression(%d)", int(c))
	}
	return compressionNames[c]
}

// zstdLevel is fixed so that output depends only on the input.
const zstdLevel = zstd.SpeedBestCompression

// NewCompressor returns a writer that compresses what is written to it with
// c and writes the result to w. The caller must Close the returned writer to
// flush the compressed stream; Close does not close w.
//
// Settings are fixed, so the same input always gives the same output: gzip
// at best compression with mtime 0 and no name in its header; xz as a single
// stream with the CRC32 check (which the kernel requires); zstd at a fixed
// level with a single encoder goroutine and content checksums. For None,
// the data is passed through unchanged.
func NewCompressor(w io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case None:
		return nopWriteCloser{w}, nil
	case Gzip:
		// The zero gzip.Header (mtime 0, no name, no comment) is what
		// NewWriterLevel writes.
		zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
		if err != nil {
			return nil, fmt.Errorf("create gzip compressor: %w", err)
		}
		return zw, nil
	case XZ:
		return newXZ(w, xzMaxDict)
	case Zstd:
		zw, err := zstd.NewWriter(w,
			zstd.WithEncoderLevel(zstdLevel),
			zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(true),
			zstd.WithZeroFrames(true))
		if err != nil {
			return nil, fmt.Errorf("create zstd compressor: %w", err)
		}
		return zw, nil
	}
	return nil, fmt.Errorf("create compressor: unknown compression %v", c)
}

// Dictionary sizes of the xz writers: xzMaxDict is the library's default,
// used when the size of the input is not known; xzMinDict is the smallest
// the format has.
const (
	xzMinDict = 4 << 10
	xzMaxDict = 8 << 20
)

// xzDictFor returns the dictionary size for an input of n bytes: n rounded
// up to a power of two, within [xzMinDict, xzMaxDict].
func xzDictFor(n int) int {
	d := xzMinDict
	for d < n && d < xzMaxDict {
		d <<= 1
	}
	return d
}

// newXZ returns an xz writer with the CRC32 check and a dictionary of
// dictCap bytes.
func newXZ(w io.Writer, dictCap int) (io.WriteCloser, error) {
	zw, err := xz.WriterConfig{CheckSum: xz.CRC32, DictCap: dictCap}.NewWriter(w)
	if err != nil {
		return nil, fmt.Errorf("create xz compressor: %w", err)
	}
	return zw, nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
