package initrd

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// FuzzCompression checks the compression names and the compressors behind
// them; the package has no parser for names, so the names are checked as
// the only spelling of each format. String gives one of "none", "gzip",
// "xz" or "zstd" for the four formats, distinct and lower case, and
// "Compression(n)" for any other value; NewCompressor fails exactly for
// the other values, and for the four formats an archive written through
// it decodes to the same files.
func FuzzCompression(f *testing.F) {
	for c := None - 1; c <= Zstd+1; c++ {
		f.Add(int(c), "config.ign", []byte(`{"ignition":{"version":"3.3.0"}}`))
	}
	f.Add(1<<40, "a/b", []byte{})
	f.Add(-1<<40, "x", []byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, n int, name string, data []byte) {
		c := Compression(n)
		valid := c >= None && c <= Zstd
		s := c.String()
		if valid {
			if s == "" || s != strings.ToLower(s) || strings.ContainsAny(s, " ()") {
				t.Fatalf("%d.String() = %q", n, s)
			}
			for o := None; o <= Zstd; o++ {
				if o != c && o.String() == s {
					t.Fatalf("%d and %d are both named %q", c, o, s)
				}
			}
		} else if s != fmt.Sprintf("Compression(%d)", n) {
			t.Fatalf("%d.String() = %q", n, s)
		}
		var buf bytes.Buffer
		zw, err := NewCompressor(&buf, c)
		if !valid {
			if err == nil || zw != nil || !strings.Contains(err.Error(), s) {
				t.Fatalf("NewCompressor(%s) = %v, %v", s, zw, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("NewCompressor(%s): %v", s, err)
		}
		files := Files{name: data}
		if err := WriteNewc(zw, files); err != nil {
			return // an invalid member path
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := Decode(bytes.NewReader(buf.Bytes()), nil)
		if err != nil {
			t.Fatalf("Decode(%s archive): %v", s, err)
		}
		if d := diffFiles(files, got); d != "" {
			t.Fatalf("%s round trip: %s", s, d)
		}
	})
}
