package initrd

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ulikunitz/xz"
)

// headerOnly returns a newc header (and padded name) for a regular file of
// the given declared size, without its data.
func headerOnly(name string, size uint32) []byte {
	var b bytes.Buffer
	b.WriteString("070701")
	nameField := name + "\x00"
	for _, v := range []uint32{1, 0o100600, 0, 0, 1, 0, size, 0, 0, 0, 0, uint32(len(nameField)), 0} {
		fmt.Fprintf(&b, "%08x", v)
	}
	b.WriteString(nameField)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

// zstdRLEBomb returns one zstd frame: raw blocks holding prefix, then
// rleBlocks RLE blocks of 128 KiB of the byte fill. Each RLE block is 4
// bytes of input, so the frame expands about 32,768-fold.
func zstdRLEBomb(prefix []byte, fill byte, rleBlocks int) []byte {
	const block = 128 << 10
	out := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38} // magic; no size, no checksum; 128 KiB window
	blockHeader := func(typ, size int, last bool) {
		v := uint32(size)<<3 | uint32(typ)<<1
		if last {
			v |= 1
		}
		out = append(out, byte(v), byte(v>>8), byte(v>>16))
	}
	for len(prefix) > 0 {
		n := min(len(prefix), block)
		blockHeader(0, n, rleBlocks == 0 && n == len(prefix))
		out = append(out, prefix[:n]...)
		prefix = prefix[n:]
	}
	for i := range rleBlocks {
		blockHeader(1, block, i == rleBlocks-1)
		out = append(out, fill)
	}
	return out
}

func wantLimit(t *testing.T, err error, what string) {
	t.Helper()
	var le *LimitError
	if !errors.As(err, &le) || !errors.Is(err, ErrLimit) {
		t.Fatalf("err = %v, want a *LimitError", err)
	}
	if !strings.Contains(le.What, what) {
		t.Fatalf("limit %q hit, want %q (%v)", le.What, what, err)
	}
}

// TestAreaBombs feeds DecodeArea zstd streams that expand to 7 GiB; each
// must fail fast, with little memory, on the right limit.
func TestAreaBombs(t *testing.T) {
	const blocks7GiB = 7 << 30 / (128 << 10)
	cases := []struct {
		name, limit string
		data        []byte
	}{
		// A kept member claiming 4 GiB: refused at its header.
		{"kept member", "bytes of kept files", zstdRLEBomb(headerOnly("config.ign", 0xffffffff), 'A', blocks7GiB)},
		// Zeros after the trailer are read to check they are zeros.
		{"zeros after the trailer", "decompressed bytes", zstdRLEBomb(newc(file("config.ign", "{}")), 0, blocks7GiB)},
		// A member that is not kept is skipped, byte by decompressed byte.
		{"a huge skipped member", "decompressed bytes", zstdRLEBomb(headerOnly("x/"+strings.Repeat("y", 100), 0xffffffff), 'B', blocks7GiB)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if len(c.data) > 256<<10 {
				t.Fatalf("bomb is %d bytes, more than an embed area", len(c.data))
			}
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			keep := func(name string) bool { return name == "config.ign" }
			_, err := DecodeLimits(bytes.NewReader(c.data), keep, AreaLimits)
			wantLimit(t, err, c.limit)
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grown := after.TotalAlloc - before.TotalAlloc; grown > 160<<20 {
				t.Errorf("decoding allocated %d MiB", grown>>20)
			}
			t.Logf("%d-byte bomb: %v after %v", len(c.data), err, time.Since(start))
		})
	}
}

// TestLimitExact checks the boundary: a stream that decompresses to exactly
// the limit is accepted, one byte more is not.
func TestLimitExact(t *testing.T) {
	arc := newc(file("a", "hello"))
	z := zstdBytes(t, arc)
	lim := Limits{Decompressed: int64(len(arc)), Kept: 5, Entries: 1, Window: 1 << 20, Archives: 1}
	if _, err := DecodeLimits(bytes.NewReader(z), nil, lim); err != nil {
		t.Fatalf("at the limits: %v", err)
	}
	for _, c := range []struct {
		what string
		lim  Limits
	}{
		{"decompressed bytes", Limits{Decompressed: int64(len(arc)) - 1, Kept: 5, Entries: 1, Window: 1 << 20, Archives: 1}},
		{"bytes of kept files", Limits{Decompressed: 1 << 20, Kept: 4, Entries: 1, Window: 1 << 20, Archives: 1}},
		{"archive entries", Limits{Decompressed: 1 << 20, Kept: 5, Entries: 0, Window: 1 << 20, Archives: 1}},
	} {
		_, err := DecodeLimits(bytes.NewReader(z), nil, c.lim)
		wantLimit(t, err, c.what)
	}
}

func TestEntryFlood(t *testing.T) {
	var entries []entry
	for i := range AreaLimits.Entries + 1 {
		entries = append(entries, entry{name: fmt.Sprint(i), mode: 0o40755, nlink: 2})
	}
	_, err := DecodeArea(newc(entries...))
	wantLimit(t, err, "archive entries")
}

// TestWindowLimit: a stream that asks for a larger xz dictionary or zstd
// window than allowed is refused before the memory is allocated.
func TestWindowLimit(t *testing.T) {
	arc := newc(file("a", strings.Repeat("x", 1000)))
	x := xzBytes(t, xz.WriterConfig{CheckSum: xz.CRC32, DictCap: 8 << 20}, arc)
	lim := Limits{Decompressed: 1 << 20, Kept: 1 << 20, Entries: 10, Window: 1 << 20, Archives: 1}
	if _, err := DecodeLimits(bytes.NewReader(x), nil, lim); err == nil {
		t.Fatal("xz with an 8 MiB dictionary accepted under a 1 MiB window limit")
	} else {
		wantLimit(t, err, "dictionary")
	}
	lim.Window = 8 << 20
	if _, err := DecodeLimits(bytes.NewReader(x), nil, lim); err != nil {
		t.Fatal(err)
	}
	// A zstd frame header declaring a 64 MiB window.
	z := zstdRLEBomb(arc, 0, 0)
	z[5] = (26 - 10) << 3
	lim.Window = 1 << 20
	if _, err := DecodeLimits(bytes.NewReader(z), nil, lim); err == nil {
		t.Fatal("zstd frame with a 64 MiB window accepted under a 1 MiB window limit")
	}
}

func TestQuoteName(t *testing.T) {
	if got := quoteName("a\x1b[2Jb"); got != `"a\x1b[2Jb"` {
		t.Errorf("quoteName = %s", got)
	}
	long := quoteName(strings.Repeat("\x00", 1139))
	if len(long) > 300 || strings.ContainsRune(long, 0) {
		t.Errorf("quoteName of 1139 NULs = %d bytes: %q", len(long), long)
	}
}

// TestTinyStreams: many tiny compressed archives, each asking for a large
// dictionary, stop at the archive limit (and the dictionary budget)
// instead of allocating a dictionary each.
func TestTinyStreams(t *testing.T) {
	one := xzBytes(t, xz.WriterConfig{CheckSum: xz.CRC32, DictCap: 64 << 20}, newc())
	var many []byte
	for range 3000 {
		many = append(many, one...)
	}
	start := time.Now()
	_, err := DecodeArea(many)
	wantLimit(t, err, "")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("3000 tiny streams took %v", d)
	}
	// The dictionary budget on its own.
	lim := AreaLimits
	lim.Archives = 1000
	_, err = DecodeLimits(bytes.NewReader(many), nil, lim)
	wantLimit(t, err, "dictionary")
}
