package initrd

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Test archives are built here with fmt, independently of Writer, so that
// reader tests do not depend on the code under test.

// entry describes one raw newc entry for newc().
type entry struct {
	magic string // default "070701"
	ino   uint32
	mode  uint32
	nlink uint32
	name  string // written as is, followed by one NUL
	extra int    // additional NULs after the name, counted in namesize (dracut)
	data  string
	upper bool // upper-case hex
}

// rawEntry returns the bytes of one entry, padded relative to an archive
// starting at offset 0 (every entry is a multiple of 4 bytes long).
func rawEntry(e entry) []byte {
	magic := e.magic
	if magic == "" {
		magic = "070701"
	}
	nameField := e.name + strings.Repeat("\x00", 1+e.extra)
	format := "%08x"
	if e.upper {
		format = "%08X"
	}
	var b bytes.Buffer
	b.WriteString(magic)
	for _, v := range []uint32{e.ino, e.mode, 0, 0, e.nlink, 0, uint32(len(e.data)), 0, 0, 0, 0, uint32(len(nameField)), 0} {
		fmt.Fprintf(&b, format, v)
	}
	b.WriteString(nameField)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	b.WriteString(e.data)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

// trailerEntry is the trailer as spec §2.2 writes it.
var trailerEntry = entry{name: "TRAILER!!!", nlink: 1}

// newc concatenates raw entries and appends the trailer.
func newc(entries ...entry) []byte {
	var b []byte
	for _, e := range entries {
		b = append(b, rawEntry(e)...)
	}
	return append(b, rawEntry(trailerEntry)...)
}

// file is a regular file entry with mode 0100644.
func file(name, data string) entry {
	return entry{name: name, mode: 0o100644, nlink: 1, data: data}
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func xzBytes(t testing.TB, cfg xz.WriterConfig, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, err := cfg.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstdBytes(t testing.TB, data []byte, opts ...zstd.EOption) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll(data, nil)
}

func cat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

func zeroBytes(n int) []byte { return make([]byte, n) }

// equalFiles reports the differences between two Files, or "".
func diffFiles(want, got Files) string {
	var d []string
	for _, name := range want.Names() {
		g, ok := got[name]
		switch {
		case !ok:
			d = append(d, fmt.Sprintf("missing %q", name))
		case !bytes.Equal(g, want[name]):
			d = append(d, fmt.Sprintf("%q = %q, want %q", name, trunc(g), trunc(want[name])))
		}
	}
	for _, name := range got.Names() {
		if _, ok := want[name]; !ok {
			d = append(d, fmt.Sprintf("unexpected %q", name))
		}
	}
	return strings.Join(d, "; ")
}

func trunc(b []byte) []byte {
	if len(b) > 40 {
		return append(b[:40:40], "…"...)
	}
	return b
}
