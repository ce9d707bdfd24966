package initrd

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"math/bits"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

func TestCompressionNames(t *testing.T) {
	for _, tc := range []struct {
		c    Compression
		name string
	}{{None, "none"}, {Gzip, "gzip"}, {XZ, "xz"}, {Zstd, "zstd"}} {
		if got := tc.c.String(); got != tc.name {
			t.Errorf("%d.String() = %q, want %q", int(tc.c), got, tc.name)
		}
	}
	if got := Compression(42).String(); got != "Compression(42)" {
		t.Errorf("Compression(42).String() = %q", got)
	}
	if _, err := NewCompressor(io.Discard, Compression(-1)); err == nil {
		t.Error("NewCompressor(Compression(-1)) succeeded")
	}
}

// decompressAll decompresses with the third-party decoders, independently of
// Decode.
func decompressAll(t *testing.T, c Compression, b []byte) []byte {
	t.Helper()
	var r io.Reader
	var err error
	switch c {
	case None:
		return b
	case Gzip:
		r, err = gzip.NewReader(bytes.NewReader(b))
	case XZ:
		r, err = xz.NewReader(bytes.NewReader(b))
	case Zstd:
		var d *zstd.Decoder
		d, err = zstd.NewReader(bytes.NewReader(b))
		if err == nil {
			defer d.Close()
		}
		r = d
	}
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNewCompressor(t *testing.T) {
	files := exampleFiles()
	files["big"] = bytes.Repeat([]byte("initramfs "), 100000)
	raw := mustWriteNewc(t, files)
	for _, c := range []Compression{None, Gzip, XZ, Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			var dst closeRecorder
			zw, err := NewCompressor(&dst, c)
			if err != nil {
				t.Fatal(err)
			}
			if err := WriteNewc(zw, files); err != nil {
				t.Fatal(err)
			}
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			if dst.closed {
				t.Error("Close closed the underlying writer")
			}
			out := dst.Bytes()
			if again := compressWith(t, c, raw); !bytes.Equal(out, again) {
				t.Error("output is not deterministic")
			}
			if c != None && len(out) >= len(raw)/10 {
				t.Errorf("%d bytes compressed to %d", len(raw), len(out))
			}
			if got := decompressAll(t, c, out); !bytes.Equal(got, raw) {
				t.Error("decompressed output differs from the input")
			}
			got, err := Decode(bytes.NewReader(out), nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffFiles(files, got); d != "" {
				t.Error(d)
			}
			switch c {
			case Gzip:
				// ID1 ID2 CM FLG MTIME(4) XFL OS: no name flag, mtime 0.
				if out[3] != 0 || !bytes.Equal(out[4:8], []byte{0, 0, 0, 0}) || out[8] != 2 {
					t.Errorf("gzip header % x: want FLG 0, MTIME 0, XFL 2 (best compression)", out[:10])
				}
			case XZ:
				if out[6] != 0 || out[7] != 1 {
					t.Errorf("xz stream flags % x, want 00 01 (CRC32)", out[6:8])
				}
			case Zstd:
				if out[4]&0x04 == 0 {
					t.Errorf("zstd frame header descriptor %#x: no content checksum", out[4])
				}
			}
		})
	}
}

func TestNewCompressorEmptyInput(t *testing.T) {
	for _, c := range []Compression{Gzip, XZ, Zstd} {
		out := compressWith(t, c, nil)
		if len(out) == 0 {
			t.Errorf("%v: empty input gives no stream at all", c)
		}
		if got := decompressAll(t, c, out); len(got) != 0 {
			t.Errorf("%v: empty input decompresses to %d bytes", c, len(got))
		}
	}
}

// xzDictOf returns the dictionary size that the first block of the xz
// stream x declares in its LZMA2 filter properties.
func xzDictOf(t *testing.T, x []byte) int64 {
	t.Helper()
	h := x[12:] // the first block header follows the 12-byte stream header
	flags := h[1]
	p := h[2:]
	varint := func() uint64 {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			t.Fatalf("bad varint in block header % x", h[:h[0]*4+4])
		}
		p = p[n:]
		return v
	}
	if flags&0x40 != 0 {
		varint() // compressed size
	}
	if flags&0x80 != 0 {
		varint() // uncompressed size
	}
	if id := varint(); id != lzma2Filter {
		t.Fatalf("first filter %#x, want LZMA2", id)
	}
	if n := varint(); n != 1 {
		t.Fatalf("LZMA2 properties of %d bytes", n)
	}
	d, err := lzma.DecodeDictCap(p[0])
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestEncodeXZDictionary: EncodeXZ's dictionary covers the whole archive
// and is no larger than needed (the writer's memory grows with it), up to
// NewCompressor's 8 MiB; the stream still decodes to the archive.
func TestEncodeXZDictionary(t *testing.T) {
	for _, size := range []int{10, 5000, 300 << 10, 9 << 20} {
		files := Files{"config.ign": bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]}
		arc := mustWriteNewc(t, files)
		x := mustEncodeXZ(t, files)
		got := xzDictOf(t, x)
		want := int64(xzMaxDict)
		if len(arc) < xzMaxDict {
			want = max(int64(xzMinDict), 1<<bits.Len(uint(len(arc)-1)))
		}
		if got != want {
			t.Errorf("%d-byte archive: dictionary %d, want %d", len(arc), got, want)
		}
		r, err := xz.NewReader(bytes.NewReader(x))
		if err != nil {
			t.Fatal(err)
		}
		back, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back, arc) {
			t.Errorf("%d-byte archive: xz stream does not decode to it", len(arc))
		}
	}
	var buf bytes.Buffer
	zw, err := NewCompressor(&buf, XZ)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if got := xzDictOf(t, buf.Bytes()); got != xzMaxDict {
		t.Errorf("NewCompressor(XZ): dictionary %d, want %d", got, xzMaxDict)
	}
}
