package initrd

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

const (
	// The deliberately invalid config of the reference tests (spec §6.1).
	exampleConfig  = "{\"ignition\": {\"version\": \"3.0.0\"}\n"
	exampleKeyfile = "[connection]\nid=a\n"
	exampleKeyPath = "etc/coreos-firstboot-network/a.nmconnection"
)

func exampleFiles() Files {
	return Files{"config.ign": []byte(exampleConfig), exampleKeyPath: []byte(exampleKeyfile)}
}

// TestWriteNewcSpecExample checks the example of spec §2.2 byte for byte.
func TestWriteNewcSpecExample(t *testing.T) {
	if len(exampleConfig) != 34 || len(exampleKeyfile) != 18 {
		t.Fatalf("example sizes %d, %d, want 34, 18", len(exampleConfig), len(exampleKeyfile))
	}
	const zero = "00000000"
	// header: magic ino mode uid gid nlink mtime filesize devmaj devmin rdevmaj rdevmin namesize check
	hdr := func(ino, mode, nlink, size, namesize string) string {
		return "070701" + ino + mode + zero + zero + nlink + zero + size + zero + zero + zero + zero + namesize + zero
	}
	want := hdr("00000000", "00008180", "00000001", "00000022", "0000000b") + "config.ign\x00" + "\x00\x00\x00" +
		exampleConfig + "\x00\x00" +
		hdr("00000001", "000041ed", "00000001", zero, "00000004") + "etc\x00" + "\x00\x00" +
		hdr("00000002", "000041ed", "00000001", zero, "0000001d") + "etc/coreos-firstboot-network\x00" + "\x00" +
		hdr("00000003", "00008180", "00000001", "00000012", "0000002c") + exampleKeyPath + "\x00" + "\x00\x00" +
		exampleKeyfile + "\x00\x00" +
		hdr(zero, zero, "00000001", zero, "0000000b") + "TRAILER!!!\x00" + "\x00\x00\x00"
	if len(want) != 716 {
		t.Fatalf("test bug: expected archive is %d bytes, want 716", len(want))
	}

	var buf bytes.Buffer
	if err := WriteNewc(&buf, exampleFiles()); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	if got != want {
		t.Fatalf("WriteNewc(example) differs at byte %d:\n got %q\nwant %q", firstDiff(got, want), got, want)
	}
	if len(got) != 716 {
		t.Errorf("len = %d, want 716", len(got))
	}
	if !strings.HasSuffix(got, "TRAILER!!!\x00\x00\x00\x00") {
		t.Errorf("archive does not end with the unpadded trailer")
	}
	if strings.ContainsAny(got[:110], "ABCDEF") {
		t.Errorf("upper-case hex in header %q", got[:110])
	}
}

func firstDiff(a, b string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

type listed struct {
	name string
	mode uint32
	ino  uint32
}

func list(t *testing.T, archive []byte) []listed {
	t.Helper()
	r := NewReader(bytes.NewReader(archive))
	var l []listed
	for {
		h, err := r.Next()
		if err == io.EOF {
			return l
		}
		if err != nil {
			t.Fatal(err)
		}
		l = append(l, listed{h.Name, h.Mode, h.Ino})
	}
}

func TestWriteNewcDirectories(t *testing.T) {
	const d, f = 0o40755, 0o100600
	tests := []struct {
		name  string
		files []string
		want  []listed
	}{
		{"empty", nil, nil},
		{"flat", []string{"b", "a"}, []listed{{"a", f, 0}, {"b", f, 1}}},
		{"spec example", []string{exampleKeyPath, "config.ign"}, []listed{
			{"config.ign", f, 0}, {"etc", d, 1}, {"etc/coreos-firstboot-network", d, 2}, {exampleKeyPath, f, 3}}},
		{"siblings share parents", []string{"a/b/c", "a/b/d", "a/e"}, []listed{
			{"a", d, 0}, {"a/b", d, 1}, {"a/b/c", f, 2}, {"a/b/d", f, 3}, {"a/e", f, 4}}},
		{"leave and enter", []string{"a/x/1", "b/x/2", "b/y"}, []listed{
			{"a", d, 0}, {"a/x", d, 1}, {"a/x/1", f, 2}, {"b", d, 3}, {"b/x", d, 4}, {"b/x/2", f, 5}, {"b/y", f, 6}}},
		{"byte order puts a-b before a/", []string{"a/c", "a-b/c", "a/d"}, []listed{
			{"a-b", d, 0}, {"a-b/c", f, 1}, {"a", d, 2}, {"a/c", f, 3}, {"a/d", f, 4}}},
		{"same component name elsewhere", []string{"x/a/1", "y/a/1"}, []listed{
			{"x", d, 0}, {"x/a", d, 1}, {"x/a/1", f, 2}, {"y", d, 3}, {"y/a", d, 4}, {"y/a/1", f, 5}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := Files{}
			for _, n := range tc.files {
				files[n] = []byte(n)
			}
			var buf bytes.Buffer
			if err := WriteNewc(&buf, files); err != nil {
				t.Fatal(err)
			}
			got := list(t, buf.Bytes())
			if len(got) != len(tc.want) {
				t.Fatalf("entries = %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("entry %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestWriteNewcInvalidPaths(t *testing.T) {
	tests := []struct {
		files []string
		want  string
	}{
		{[]string{""}, "empty"},
		{[]string{"/etc/x"}, "not relative"},
		{[]string{"a//b"}, "component"},
		{[]string{"a/"}, "component"},
		{[]string{"./a"}, "component"},
		{[]string{"a/../b"}, "component"},
		{[]string{"a\x00b"}, "NUL"},
		{[]string{"a", "a/b"}, "also a parent directory"},
		{[]string{"x/a", "x/a/b/c"}, "also a parent directory"},
	}
	for _, tc := range tests {
		files := Files{}
		for _, n := range tc.files {
			files[n] = nil
		}
		var buf bytes.Buffer
		err := WriteNewc(&buf, files)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "invalid member path") {
			t.Errorf("WriteNewc(%q) error = %v, want one containing %q", tc.files, err, tc.want)
		}
		if buf.Len() != 0 {
			t.Errorf("WriteNewc(%q) wrote %d bytes before failing", tc.files, buf.Len())
		}
	}
}

// TestWriterAlignment checks every entry starts on a 4-byte boundary and the
// padding bytes are zero, for all name and data length residues.
func TestWriterAlignment(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var starts []int
	for nameLen := 1; nameLen <= 8; nameLen++ {
		for dataLen := 0; dataLen <= 5; dataLen++ {
			name := strings.Repeat("n", nameLen)
			if err := w.WriteHeader(&Header{Name: name, Mode: 0o100644, Size: int64(dataLen)}); err != nil {
				t.Fatal(err)
			}
			// The previous entry's data padding is written by WriteHeader,
			// so find this entry's start from the end of its header.
			starts = append(starts, buf.Len()-(110+nameLen+1+3)&^3)
			if _, err := w.Write(bytes.Repeat([]byte{0xff}, dataLen)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	for _, s := range starts {
		if s%4 != 0 {
			t.Errorf("entry starts at offset %d", s)
		}
		if string(b[s:s+6]) != "070701" {
			t.Errorf("no magic at offset %d", s)
		}
	}
	if len(b)%4 != 0 {
		t.Errorf("archive length %d not a multiple of 4", len(b))
	}
	// Read back with an independent parser to check the padding is zero.
	r := NewReader(bytes.NewReader(b))
	n := 0
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		if err != nil || int64(len(data)) != h.Size || bytes.ContainsRune(data, 0) {
			t.Fatalf("entry %q: data %q, %v", h.Name, data, err)
		}
		n++
	}
	if n != len(starts) {
		t.Errorf("read %d entries, want %d", n, len(starts))
	}
}

func TestWriterHeaderFields(t *testing.T) {
	h := &Header{
		Name: "dev/console", Mode: 0o20600, UID: 0x12345678, GID: 0xabcdef01, Nlink: 2, Mtime: 0xfffffffe,
		Ino: 0xdeadbeef, DevMajor: 1, DevMinor: 2, RdevMajor: 5, RdevMinor: 1,
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.WriteHeader(h); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "070701deadbeef00002180" + "12345678abcdef0100000002fffffffe00000000" +
		"00000001000000020000000500000001" + "0000000c00000000" + "dev/console\x00"
	if got := buf.String()[:len(want)]; got != want {
		t.Errorf("header = %q, want %q", got, want)
	}

	// A non-zero checksum selects the 070702 magic.
	buf.Reset()
	w = NewWriter(&buf)
	if err := w.WriteHeader(&Header{Name: "f", Mode: 0o100644, Size: 1, Check: 0x61}); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("a"))
	w.Close()
	if got := buf.String(); !strings.HasPrefix(got, "070702") || got[102:110] != "00000061" {
		t.Errorf("entry with checksum = %q", got[:110])
	}
	if got := buf.String(); !strings.Contains(got, "070701"+"00000000"+"00000000") {
		t.Errorf("trailer does not use magic 070701: %q", got)
	}
}

type errWriter struct {
	n   int // bytes accepted before failing
	err error
}

func (w *errWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, w.err
	}
	w.n -= len(p)
	return len(p), nil
}

type closeRecorder struct {
	bytes.Buffer
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestWriterErrors(t *testing.T) {
	t.Run("write too long", func(t *testing.T) {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		w.WriteHeader(&Header{Name: "f", Mode: 0o100644, Size: 2})
		n, err := w.Write([]byte("abc"))
		if n != 2 || !errors.Is(err, ErrWriteTooLong) {
			t.Fatalf("Write = %d, %v, want 2, ErrWriteTooLong", n, err)
		}
		if err := w.Close(); !errors.Is(err, ErrWriteTooLong) {
			t.Errorf("Close after failure = %v, want the sticky error", err)
		}
		if err := w.WriteHeader(&Header{Name: "g"}); !errors.Is(err, ErrWriteTooLong) {
			t.Errorf("WriteHeader after failure = %v, want the sticky error", err)
		}
	})
	t.Run("missing data", func(t *testing.T) {
		w := NewWriter(io.Discard)
		w.WriteHeader(&Header{Name: "f", Mode: 0o100644, Size: 5})
		w.Write([]byte("ab"))
		err := w.Close()
		if err == nil || !strings.Contains(err.Error(), `"f"`) || !strings.Contains(err.Error(), "3 bytes of data missing") {
			t.Fatalf("Close = %v, want missing data error naming the entry", err)
		}
		if err2 := w.Close(); err2 != err {
			t.Errorf("second Close = %v, want %v", err2, err)
		}
	})
	t.Run("after close", func(t *testing.T) {
		w := NewWriter(io.Discard)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Errorf("second Close = %v", err)
		}
		if err := w.WriteHeader(&Header{Name: "f"}); !errors.Is(err, ErrWriteAfterClose) {
			t.Errorf("WriteHeader after Close = %v", err)
		}
		if _, err := w.Write(nil); !errors.Is(err, ErrWriteAfterClose) {
			t.Errorf("Write after Close = %v", err)
		}
	})
	t.Run("close does not close the underlying writer", func(t *testing.T) {
		var c closeRecorder
		w := NewWriter(&c)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if c.closed || c.Len() != 124 {
			t.Errorf("closed = %v, len = %d, want false, 124", c.closed, c.Len())
		}
	})
	t.Run("underlying error is sticky", func(t *testing.T) {
		boom := errors.New("boom")
		w := NewWriter(&errWriter{n: 200, err: boom})
		w.WriteHeader(&Header{Name: "f", Mode: 0o100644, Size: 100})
		_, err := w.Write(make([]byte, 100))
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "offset") {
			t.Fatalf("Write = %v, want boom with offset", err)
		}
		if err := w.Close(); !errors.Is(err, boom) {
			t.Errorf("Close = %v, want boom", err)
		}
	})
	for _, tc := range []struct {
		name string
		h    Header
		want string
	}{
		{"trailer name", Header{Name: "TRAILER!!!"}, "reserved"},
		{"empty name", Header{}, "empty name"},
		{"NUL in name", Header{Name: "a\x00"}, "NUL"},
		{"long name", Header{Name: strings.Repeat("a", 4096)}, "more than 4095"},
		{"negative size", Header{Name: "a", Size: -1}, "size -1"},
		{"huge size", Header{Name: "a", Size: 1 << 32}, "size 4294967296"},
		{"mtime", Header{Name: "a", Mtime: -1}, "mtime -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			err := w.WriteHeader(&tc.h)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "offset 0") {
				t.Errorf("WriteHeader(%+.60v) = %v, want error containing %q and the offset", tc.h, err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes", buf.Len())
			}
		})
	}
}
