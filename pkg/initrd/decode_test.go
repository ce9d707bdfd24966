package initrd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

func mustWriteNewc(t testing.TB, files Files) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteNewc(&buf, files); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustEncodeXZ(t testing.TB, files Files) []byte {
	t.Helper()
	b, err := EncodeXZ(files)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	big := make([]byte, 300<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.IntN(4)) // compressible but not trivially
	}
	sets := map[string]Files{
		"example":        exampleFiles(),
		"one empty file": {"empty": {}},
		"nested and odd sizes": {
			"a": []byte("1"), "b/c": []byte("22"), "b/d/e": []byte("333"), "b/d/f": []byte("4444"),
			"z z/ünïcode name": []byte("5"), "etc/coreos-firstboot-network/x.nmconnection": []byte("[connection]\n"),
		},
		"large member": {"big": big, "etc/small": []byte("s")},
	}
	for name, files := range sets {
		t.Run(name, func(t *testing.T) {
			raw := mustWriteNewc(t, files)
			got, err := Decode(bytes.NewReader(raw), nil)
			if err != nil {
				t.Fatalf("Decode(WriteNewc): %v", err)
			}
			if d := diffFiles(files, got); d != "" {
				t.Errorf("Decode(WriteNewc): %s", d)
			}

			enc := mustEncodeXZ(t, files)
			area := cat(enc, zeroBytes(262144-len(enc)))
			got, err = DecodeArea(area)
			if err != nil {
				t.Fatalf("DecodeArea(EncodeXZ + zeros): %v", err)
			}
			if d := diffFiles(files, got); d != "" {
				t.Errorf("DecodeArea(EncodeXZ + zeros): %s", d)
			}

			// An independent xz decoder gives back exactly WriteNewc's bytes.
			xr, err := xz.NewReader(bytes.NewReader(enc))
			if err != nil {
				t.Fatal(err)
			}
			plain, err := io.ReadAll(xr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(plain, raw) {
				t.Errorf("xz-decompressed EncodeXZ output differs from WriteNewc output")
			}
		})
	}
}

func TestEncodeXZFormat(t *testing.T) {
	files := exampleFiles()
	a, b := mustEncodeXZ(t, files), mustEncodeXZ(t, files)
	if !bytes.Equal(a, b) {
		t.Fatal("EncodeXZ is not deterministic")
	}
	if !bytes.HasPrefix(a, xzMagic) {
		t.Fatalf("no xz magic: % x", a[:6])
	}
	if a[6] != 0x00 || a[7] != 0x01 {
		t.Errorf("stream flags = %#02x %#02x, want 0x00 0x01 (CRC32)", a[6], a[7])
	}
	if len(a)%4 != 0 {
		t.Errorf("len = %d, not a multiple of 4", len(a))
	}
	// One stream: the footer is at the very end and repeats the flags.
	if !bytes.HasSuffix(a, []byte{0x00, 0x01, 'Y', 'Z'}) {
		t.Errorf("stream does not end with its footer: % x", a[len(a)-4:])
	}
	// Reading exactly one stream consumes all of it.
	x, err := newXZReader(bytes.NewReader(a), 0, DefaultLimits.Window, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, x); err != nil {
		t.Fatal(err)
	}
	if x.pos != int64(len(a)) {
		t.Errorf("one xz stream ends at %d, want %d", x.pos, len(a))
	}
	if len(x.records) != 1 {
		t.Errorf("%d blocks, want 1", len(x.records))
	}
	// Changing the content changes the output.
	files["config.ign"] = []byte("{}\n")
	if bytes.Equal(a, mustEncodeXZ(t, files)) {
		t.Error("EncodeXZ ignores its input")
	}
}

func TestDecodeArea(t *testing.T) {
	for _, area := range [][]byte{nil, {}, zeroBytes(1), zeroBytes(262144)} {
		files, err := DecodeArea(area)
		if err != nil || files == nil || len(files) != 0 {
			t.Errorf("DecodeArea(%d zero bytes) = %v, %v, want empty non-nil", len(area), files, err)
		}
	}
	// A non-zero area is parsed (and garbage rejected).
	area := zeroBytes(64)
	area[10] = 'x'
	if _, err := DecodeArea(area); err == nil || !strings.Contains(err.Error(), "offset 10") {
		t.Errorf("DecodeArea(garbage) = %v, want an error at offset 10", err)
	}
}

func TestDecodeConcatenated(t *testing.T) {
	uncompressed := newc(
		file("config.ign", "first"),
		file("etc/coreos-firstboot-network/a", "A1"),
		entry{name: "etc", mode: 0o40755, nlink: 1},
		entry{name: "lib", mode: 0o120777, nlink: 1, data: "usr/lib"},
		entry{name: "dev/console", mode: 0o20600, nlink: 1},
		file("only-uncompressed", "u"),
		file("becomes-dir", "gone"),
	)
	gz := gzipBytes(t, newc(
		file("config.ign", "second"),
		entry{magic: "070702", name: "etc/coreos-firstboot-network/b", mode: 0o100600, nlink: 1, data: "B"},
		entry{name: "becomes-dir", mode: 0o40755, nlink: 1},
		file("only-gzip", "g"),
	))
	xzs := xzBytes(t, xz.WriterConfig{CheckSum: xz.CRC32}, newc(
		file("config.ign", "third"),
		entry{name: "etc/coreos-firstboot-network/a", extra: 6, mode: 0o100644, nlink: 1, data: "A2"},
		file("only-xz", "x"),
	))
	zst := zstdBytes(t, newc(
		file("config.ign", "fourth"),
		file("only-zstd", "z"),
	))
	input := cat(uncompressed, zeroBytes(3), gz, zeroBytes(1), xzs, zeroBytes(7), zst, zeroBytes(5))

	want := Files{
		"config.ign":                     []byte("fourth"),
		"etc/coreos-firstboot-network/a": []byte("A2"),
		"etc/coreos-firstboot-network/b": []byte("B"),
		"only-uncompressed":              []byte("u"),
		"only-gzip":                      []byte("g"),
		"only-xz":                        []byte("x"),
		"only-zstd":                      []byte("z"),
	}
	got, err := Decode(bytes.NewReader(input), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffFiles(want, got); d != "" {
		t.Errorf("Decode: %s", d)
	}

	// The same with a filter: only network keyfiles.
	got, err = Decode(bytes.NewReader(input), func(name string) bool {
		return strings.HasPrefix(name, "etc/coreos-firstboot-network/")
	})
	if err != nil {
		t.Fatal(err)
	}
	wantNet := Files{"etc/coreos-firstboot-network/a": []byte("A2"), "etc/coreos-firstboot-network/b": []byte("B")}
	if d := diffFiles(wantNet, got); d != "" {
		t.Errorf("Decode with keep: %s", d)
	}

	// Every permutation of the formats, with no padding at all between
	// them: each decompressor must stop exactly at the end of its stream.
	parts := map[string][]byte{"raw": uncompressed, "gz": gz, "xz": xzs, "zstd": zst}
	for _, order := range [][]string{
		{"gz", "raw"}, {"xz", "raw"}, {"zstd", "raw"},
		{"gz", "xz", "zstd"}, {"zstd", "xz", "gz"}, {"xz", "gz", "raw"},
		{"gz", "gz"}, {"xz", "xz"}, {"zstd", "zstd"},
	} {
		var in []byte
		for _, p := range order {
			in = append(in, parts[p]...)
		}
		if _, err := Decode(bytes.NewReader(in), nil); err != nil {
			t.Errorf("Decode(%v): %v", order, err)
		}
	}
}

// oneByteReader returns one byte per Read, to shake out assumptions about
// short reads.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

// TestDecodeAfterCompressed checks that the input right after each kind of
// compressed stream is decoded, for several ways of producing the stream.
func TestDecodeAfterCompressed(t *testing.T) {
	payload := newc(file("in", "side"))
	random := make([]byte, 200<<10) // incompressible: raw zstd blocks, stored LZMA2 chunks
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	bigPayload := newc(file("in", string(random)), file("zeros", string(zeroBytes(300<<10))))
	streams := map[string][]byte{
		"gzip":                  gzipBytes(t, payload),
		"xz crc32":              xzBytes(t, xz.WriterConfig{CheckSum: xz.CRC32}, payload),
		"xz crc64":              xzBytes(t, xz.WriterConfig{CheckSum: xz.CRC64}, payload),
		"xz sha256":             xzBytes(t, xz.WriterConfig{CheckSum: xz.SHA256}, payload),
		"xz no check":           xzBytes(t, xz.WriterConfig{NoCheckSum: true}, payload),
		"xz small dict":         xzBytes(t, xz.WriterConfig{CheckSum: xz.CRC32, DictCap: 4096}, payload),
		"xz many blocks":        xzBytes(t, xz.WriterConfig{CheckSum: xz.CRC32, BlockSize: 64 << 10}, bigPayload),
		"xz incompressible":     xzBytes(t, xz.WriterConfig{CheckSum: xz.CRC32}, bigPayload),
		"zstd":                  zstdBytes(t, payload),
		"zstd no checksum":      zstdBytes(t, payload, zstd.WithEncoderCRC(false)),
		"zstd incompressible":   zstdBytes(t, bigPayload),
		"zstd single segment":   zstdBytes(t, payload, zstd.WithSingleSegment(true)),
		"zstd fastest":          zstdBytes(t, bigPayload, zstd.WithEncoderLevel(zstd.SpeedFastest)),
		"NewCompressor(gzip)":   compressWith(t, Gzip, bigPayload),
		"NewCompressor(xz)":     compressWith(t, XZ, bigPayload),
		"NewCompressor(zstd)":   compressWith(t, Zstd, bigPayload),
		"zstd skippable frames": cat(skippable(0x184d2a50, "meta"), skippable(0x184d2a5f, ""), zstdBytes(t, payload)),
	}
	after := newc(file("after", "!"))
	for name, stream := range streams {
		t.Run(name, func(t *testing.T) {
			for _, gap := range []int{0, 1, 2, 3, 4, 13} {
				in := cat(stream, zeroBytes(gap), after, zeroBytes(gap))
				for _, r := range []io.Reader{bytes.NewReader(in), oneByteReader{bytes.NewReader(in)}} {
					got, err := Decode(r, nil)
					if err != nil {
						t.Fatalf("gap %d: %v", gap, err)
					}
					if string(got["after"]) != "!" || len(got["in"]) == 0 {
						t.Fatalf("gap %d: got %v", gap, got.Names())
					}
				}
			}
		})
	}
}

func compressWith(t testing.TB, c Compression, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, err := NewCompressor(&b, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func skippable(magic uint32, data string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, magic)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

func TestDecodeTrailingData(t *testing.T) {
	payload := newc(file("a", "1"))
	compressors := map[string]func([]byte) []byte{
		"gzip": func(b []byte) []byte { return gzipBytes(t, b) },
		"xz":   func(b []byte) []byte { return xzBytes(t, xz.WriterConfig{CheckSum: xz.CRC32}, b) },
		"zstd": func(b []byte) []byte { return zstdBytes(t, b) },
	}
	for name, compress := range compressors {
		t.Run(name, func(t *testing.T) {
			// Zeros after the trailer inside the stream are fine.
			if _, err := Decode(bytes.NewReader(compress(cat(payload, zeroBytes(1000)))), nil); err != nil {
				t.Errorf("zeros after the trailer: %v", err)
			}
			// Anything else is garbage, even another archive.
			for _, garbage := range [][]byte{{1}, cat(zeroBytes(999), []byte{'x'}), payload} {
				in := cat(zeroBytes(8), compress(cat(payload, garbage)))
				_, err := Decode(bytes.NewReader(in), nil)
				if !errors.Is(err, ErrTrailingGarbage) {
					t.Fatalf("Decode = %v, want ErrTrailingGarbage", err)
				}
				wantOff := "decompressed offset " + strconv.Itoa(len(payload)+firstNonZero(garbage))
				if !strings.Contains(err.Error(), "archive at offset 8") || !strings.Contains(err.Error(), wantOff) ||
					!strings.Contains(err.Error(), "found trailing garbage inside compressed archive") {
					t.Errorf("error %q lacks the archive offset, %q or the message", err, wantOff)
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good := newc(file("config.ign", "{}"))
	xzGood := xzBytes(t, xz.WriterConfig{CheckSum: xz.CRC32}, good)
	corruptXZ := bytes.Clone(xzGood)
	corruptXZ[len(corruptXZ)-20] ^= 0xff // inside the check or index
	gzGood := gzipBytes(t, good)
	corruptGz := bytes.Clone(gzGood)
	corruptGz[len(corruptGz)-6] ^= 0xff // the CRC32 in the gzip trailer
	zstdGood := zstdBytes(t, good)
	corruptZstd := bytes.Clone(zstdGood)
	corruptZstd[len(corruptZstd)-1] ^= 0xff // the content checksum

	tests := []struct {
		name string
		in   []byte
		want []string
	}{
		{"garbage", []byte("hello world, this is not an initramfs"),
			[]string{"decode uncompressed archive at offset 0: read cpio header at offset 0: bad magic \"hello \""}},
		{"garbage after padding", cat(zeroBytes(5), []byte("junk")),
			[]string{"decode uncompressed archive at offset 5", "read cpio header at offset 5: unexpected EOF"}},
		{"garbage after archive", cat(good, zeroBytes(4), []byte("0707 what")),
			[]string{"decode uncompressed archive at offset " + strconv.Itoa(len(good)+4), "at offset " + strconv.Itoa(len(good)+4)}},
		{"truncated uncompressed", good[:len(good)-10],
			[]string{"decode uncompressed archive at offset 0: read name of cpio entry at offset " + strconv.Itoa(len(good)-124), "unexpected EOF"}},
		{"truncated member data", good[:115+10],
			[]string{`read data of "config.ign" at offset`, "unexpected EOF"}},
		{"truncated xz", xzGood[:len(xzGood)-5], []string{"decode xz archive at offset 0", "footer", "unexpected EOF"}},
		{"truncated xz header", xzGood[:8], []string{"decode xz archive at offset 0: read xz stream header: unexpected EOF"}},
		{"corrupt xz", corruptXZ, []string{"decode xz archive at offset 0"}},
		{"truncated gzip", gzGood[:len(gzGood)-3], []string{"decode gzip archive at offset 0", "unexpected EOF"}},
		{"corrupt gzip", corruptGz, []string{"decode gzip archive at offset 0", "checksum"}},
		{"truncated zstd", cat(zeroBytes(4), zstdGood[:len(zstdGood)-2]), []string{"decode zstd archive at offset 4", "unexpected EOF"}},
		{"corrupt zstd", corruptZstd, []string{"decode zstd archive at offset 0", "CRC"}},
		{"truncated skippable frame", skippable(0x184d2a51, "abc")[:9], []string{"skip zstd skippable frame at offset 0", "unexpected EOF"}},
		{"bzip2", []byte("BZh91AY&SY"), []string{"decode archive at offset 0: unsupported compression format bzip2"}},
		{"lz4", cat(zeroBytes(12), []byte{0x02, 0x21, 0x4c, 0x18, 0, 0}), []string{"offset 12: unsupported compression format lz4"}},
		{"gzip magic only", []byte{0x1f, 0x8b}, []string{"decode gzip archive at offset 0", "unexpected EOF"}},
		{"empty xz stream", xzBytes(t, xz.WriterConfig{CheckSum: xz.CRC32}, nil),
			[]string{"decode xz archive at offset 0: in decompressed data: read cpio header at offset 0: archive ends without TRAILER!!!"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files, err := Decode(bytes.NewReader(tc.in), nil)
			if err == nil {
				t.Fatalf("Decode = %v, nil; want error", files.Names())
			}
			if files != nil {
				t.Errorf("Decode returned files with an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if msg := err.Error(); msg != strings.ToLower(msg[:1])+msg[1:] {
				t.Errorf("error %q does not start in lower case", msg)
			}
		})
	}
}

// TestDecodeXZBlockHeaderSizes decodes xz streams whose block headers carry
// compressed and uncompressed sizes, and catches mismatches.
func TestDecodeXZBlockHeaderSizes(t *testing.T) {
	payload := newc(file("a", strings.Repeat("abc", 1000)))
	plain := xzBytes(t, xz.WriterConfig{CheckSum: xz.CRC32}, payload)
	// Rebuild the stream with sizes in the block header.
	x, err := newXZReader(bytes.NewReader(plain), 0, DefaultLimits.Window, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, x)
	rec := x.records[0]
	hdrSize := int(plain[12]+1) * 4
	compressed := rec.unpadded - int64(hdrSize) - 4
	build := func(csize, usize int64) []byte {
		body := []byte{0xc0} // flags: one filter, both sizes present
		body = appendXZVarint(body, uint64(csize))
		body = appendXZVarint(body, uint64(usize))
		body = append(body, plain[12+2:12+hdrSize-4]...) // filter flags and padding of the original
		for (len(body)+1+4)%4 != 0 {
			body = append(body, 0)
		}
		hdr := append([]byte{byte((len(body)+1+4)/4 - 1)}, body...)
		hdr = binary.LittleEndian.AppendUint32(hdr, crc32.ChecksumIEEE(hdr))
		var s []byte
		s = append(s, plain[:12]...)
		s = append(s, hdr...)
		blockEnd := 12 + hdrSize + int(compressed) + padLen(compressed) + 4
		s = append(s, plain[12+hdrSize:blockEnd]...) // data, padding, CRC32
		// New index with the new unpadded size.
		idx := []byte{0}
		idx = appendXZVarint(idx, 1)
		idx = appendXZVarint(idx, uint64(int64(len(hdr))+compressed+4))
		idx = appendXZVarint(idx, uint64(rec.uncompressed))
		for len(idx)%4 != 0 {
			idx = append(idx, 0)
		}
		idx = binary.LittleEndian.AppendUint32(idx, crc32.ChecksumIEEE(idx))
		s = append(s, idx...)
		footer := binary.LittleEndian.AppendUint32(nil, uint32(len(idx)/4-1))
		footer = append(footer, plain[6:8]...)
		footer = append(binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(footer)), footer...)
		return append(append(s, footer...), 'Y', 'Z')
	}
	if _, err := Decode(bytes.NewReader(build(compressed, rec.uncompressed)), nil); err != nil {
		t.Fatalf("xz with sizes in the block header: %v", err)
	}
	if _, err := Decode(bytes.NewReader(build(compressed+4, rec.uncompressed)), nil); err == nil || !strings.Contains(err.Error(), "compressed size") {
		t.Errorf("wrong compressed size: %v", err)
	}
	if _, err := Decode(bytes.NewReader(build(compressed, rec.uncompressed-1)), nil); err == nil || !strings.Contains(err.Error(), "more data than") {
		t.Errorf("wrong uncompressed size: %v", err)
	}
}

func appendXZVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// TestDecodeStreams checks that Decode does not hold the whole input in
// memory: a 64 MiB member that the filter drops must not be allocated.
func TestDecodeStreams(t *testing.T) {
	const size = 64 << 20
	head := rawEntry(entry{name: "huge", mode: 0o100644, nlink: 1, data: ""})
	copy(head[6+8*6:], "04000000") // filesize 64 MiB, data streamed below
	in := io.MultiReader(bytes.NewReader(head), io.LimitReader(zeroReader{}, size),
		bytes.NewReader(newc(file("small", "kept"))))
	// One archive: "huge" (64 MiB of zeros, no padding needed), "small",
	// trailer.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	files, err := Decode(in, func(name string) bool { return name != "huge" })
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if string(files["small"]) != "kept" || len(files) != 1 {
		t.Fatalf("files = %v", files.Names())
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("Decode allocated %d bytes for a %d-byte input", alloc, size)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
