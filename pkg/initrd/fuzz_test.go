package initrd

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

// decodeSeeds are valid and almost valid inputs for the decoding fuzzers.
func decodeSeeds(f *testing.F) [][]byte {
	files := exampleFiles()
	raw := mustWriteNewc(f, files)
	enc := mustEncodeXZ(f, files)
	gz := gzipBytes(f, raw)
	zst := zstdBytes(f, raw)
	return [][]byte{
		raw,
		enc,
		cat(enc, zeroBytes(64)),
		gz,
		zst,
		cat(raw, zeroBytes(3), gz, zeroBytes(1), enc, zst),
		cat(skippable(0x184d2a50, "x"), zst),
		xzBytes(f, xz.WriterConfig{CheckSum: xz.SHA256, BlockSize: 100}, raw),
		newc(entry{magic: "070702", name: "a", extra: 3, mode: 0o100644, data: "b"}, entry{name: "a", mode: 0o40755}),
		gzipBytes(f, cat(raw, []byte{1})),
		raw[:200],
		enc[:len(enc)-3],
		[]byte("070701"),
		{0x1f, 0x8b, 8, 0},
		{0x28, 0xb5, 0x2f, 0xfd, 0x00},
		{0xfd, '7', 'z', 'X', 'Z', 0},
		nil,
	}
}

// FuzzDecode checks that Decode never panics, and that whatever it accepts
// survives WriteNewc and Decode unchanged.
func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := Decode(bytes.NewReader(data), nil)
		if err != nil {
			if files != nil {
				t.Fatal("files returned with an error")
			}
			if msg := err.Error(); strings.ToLower(msg[:1]) != msg[:1] {
				t.Fatalf("error %q does not start in lower case", msg)
			}
			return
		}
		var buf bytes.Buffer
		if err := WriteNewc(&buf, files); err != nil {
			return // names a kernel accepts but WriteNewc refuses, such as "./a"
		}
		again, err := Decode(&buf, nil)
		if err != nil {
			t.Fatalf("Decode(WriteNewc(Decode(data))): %v", err)
		}
		if d := diffFiles(files, again); d != "" {
			t.Fatalf("round trip changed files: %s", d)
		}
	})
}

// FuzzReader checks the low-level reader on arbitrary input.
func FuzzReader(f *testing.F) {
	for _, s := range decodeSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		for {
			h, err := r.Next()
			if err != nil {
				return
			}
			n, err := io.Copy(io.Discard, r)
			if err == nil && n != h.Size {
				t.Fatalf("read %d bytes of %q, size %d", n, h.Name, h.Size)
			}
			if strings.IndexByte(h.Name, 0) >= 0 {
				t.Fatalf("name %q contains NUL", h.Name)
			}
		}
	})
}

// FuzzRoundTrip builds member sets from fuzz input and checks that what
// WriteNewc and EncodeXZ write, Decode and DecodeArea read back, with a
// directory entry before every file that needs one.
func FuzzRoundTrip(f *testing.F) {
	f.Add("config.ign\netc/coreos-firstboot-network/a.nmconnection", []byte("{}\n[connection]\n"), false)
	f.Add("a/b/c\na/b/d\na/e\nb", []byte("0123456789"), true)
	f.Add("a-b/c\na/c\na.b", []byte{}, false)
	f.Add("x\nx/y", []byte("conflict"), false)
	f.Add("/abs\n../up\na//b", []byte("invalid"), false)
	f.Add("ü/名前\n\xff\xfe", []byte("bytes"), true)
	f.Fuzz(func(t *testing.T, names string, content []byte, compress bool) {
		files := Files{}
		for i, name := range strings.Split(names, "\n") {
			// Give each member a different slice of content.
			start := min(i, len(content))
			files[name] = content[start:]
		}
		var buf bytes.Buffer
		if err := WriteNewc(&buf, files); err != nil {
			if !strings.HasPrefix(err.Error(), "invalid member path") {
				t.Fatalf("WriteNewc: unexpected error %v", err)
			}
			return
		}
		raw := buf.Bytes()
		if len(raw)%4 != 0 {
			t.Fatalf("archive length %d is not a multiple of 4", len(raw))
		}

		// Structure: inodes count up from 0, every parent directory comes
		// before its files.
		r := NewReader(bytes.NewReader(raw))
		dirs := map[string]bool{}
		var ino uint32
		for {
			h, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Ino != ino {
				t.Fatalf("entry %q has ino %d, want %d", h.Name, h.Ino, ino)
			}
			ino++
			if i := strings.LastIndexByte(h.Name, '/'); i >= 0 && !dirs[h.Name[:i]] {
				t.Fatalf("entry %q comes before its directory", h.Name)
			}
			switch h.Mode {
			case 0o40755:
				if dirs[h.Name] {
					t.Fatalf("directory %q emitted twice", h.Name)
				}
				dirs[h.Name] = true
			case 0o100600:
				if _, ok := files[h.Name]; !ok {
					t.Fatalf("unexpected file %q", h.Name)
				}
			default:
				t.Fatalf("entry %q has mode %o", h.Name, h.Mode)
			}
		}

		got, err := Decode(bytes.NewReader(raw), nil)
		if err != nil {
			t.Fatalf("Decode(WriteNewc): %v", err)
		}
		if d := diffFiles(files, got); d != "" {
			t.Fatalf("Decode(WriteNewc): %s", d)
		}
		if compress {
			enc, err := EncodeXZ(files)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeArea(cat(enc, zeroBytes(5)))
			if err != nil {
				t.Fatalf("DecodeArea(EncodeXZ): %v", err)
			}
			if d := diffFiles(files, got); d != "" {
				t.Fatalf("DecodeArea(EncodeXZ): %s", d)
			}
		}
	})
}

// FuzzXZBlock wraps fuzzed LZMA2 data in an xz container with valid header
// CRCs, so that the fuzzer reaches the LZMA2 decoder and the block, index
// and footer checks behind it instead of failing at the first CRC.
func FuzzXZBlock(f *testing.F) {
	valid := xzBytes(f, xz.WriterConfig{CheckSum: xz.CRC32}, newc(file("a", "hello hello hello")))
	hdrSize := int(valid[12]+1) * 4
	f.Add(valid[12+hdrSize:], byte(0x01))
	f.Add([]byte{0x01, 0x00, 0x03, 'a', 'b', 'c', 'd', 0x00}, byte(0x00))
	f.Add([]byte{0xe0, 0x00, 0x10, 0x00, 0x05, 0x5d, 0x00}, byte(0x04))
	f.Fuzz(func(t *testing.T, rest []byte, check byte) {
		flags := []byte{0, check & 0x0f}
		s := append([]byte{}, xzMagic...)
		s = append(s, flags...)
		s = binary.LittleEndian.AppendUint32(s, crc32.ChecksumIEEE(flags))
		// Block header: size 12, one LZMA2 filter, 64 KiB dictionary.
		hdr := []byte{2, 0x00, lzma2Filter, 1, 10, 0, 0, 0}
		hdr = binary.LittleEndian.AppendUint32(hdr, crc32.ChecksumIEEE(hdr))
		s = append(s, hdr...)
		s = append(s, rest...)
		x, err := newXZReader(bytes.NewReader(s), 0, DefaultLimits.Window, nil)
		if err != nil {
			if c := flags[1]; c == 0 || c == 1 || c == 4 || c == 10 {
				t.Fatalf("valid stream header rejected: %v", err)
			}
			return
		}
		// LZMA2 chunks expand up to 2 MiB each: bound the work per input.
		io.Copy(io.Discard, io.LimitReader(x, 64<<20))
	})
}
