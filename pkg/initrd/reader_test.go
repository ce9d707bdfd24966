package initrd

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReaderRoundTrip(t *testing.T) {
	in := []struct {
		h    Header
		data string
	}{
		{Header{Name: ".", Mode: ModeDir | 0o755, Nlink: 2, Mtime: 1700000000, Ino: 7}, ""},
		{Header{Name: "bin", Mode: ModeSymlink | 0o777, Nlink: 1, Ino: 8, Size: 7}, "usr/bin"},
		{Header{Name: "init", Mode: ModeRegular | 0o755, UID: 1, GID: 2, Nlink: 1, Ino: 9, Size: 13}, "#!/bin/sh\nid\n"},
		{Header{Name: "dev/null", Mode: 0o20666, Nlink: 1, RdevMajor: 1, RdevMinor: 3, DevMajor: 253, DevMinor: 1}, ""},
		{Header{Name: "crc", Mode: ModeRegular | 0o644, Nlink: 1, Size: 2, Check: 'h' + 'i'}, "hi"},
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, e := range in {
		h := e.h
		if err := w.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&buf)
	for i, e := range in {
		h, err := r.Next()
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if *h != e.h {
			t.Errorf("entry %d = %+v, want %+v", i, *h, e.h)
		}
		// Entries whose data is not read are skipped by Next.
		if i%2 == 0 {
			data, err := io.ReadAll(r)
			if err != nil || string(data) != e.data {
				t.Errorf("entry %d data = %q, %v, want %q", i, data, err, e.data)
			}
		}
	}
	for range 2 {
		if h, err := r.Next(); err != io.EOF {
			t.Fatalf("Next at trailer = %+v, %v, want io.EOF", h, err)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("%d bytes left unread after the trailer", buf.Len())
	}
}

// TestReaderStopsAtTrailer checks that the reader consumes the archive and
// not one byte more, even when the trailer has odd padding needs.
func TestReaderStopsAtTrailer(t *testing.T) {
	archive := newc(file("a", "xyz"))
	rest := "\x00\x00next"
	src := bytes.NewReader(cat(archive, []byte(rest)))
	r := NewReader(src)
	for {
		if _, err := r.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	left, _ := io.ReadAll(src)
	if string(left) != rest {
		t.Errorf("left after the archive: %q, want %q", left, rest)
	}
}

func TestReaderVariants(t *testing.T) {
	tests := []struct {
		name    string
		archive []byte
		want    []string // name=data of each entry
	}{
		{"070702", newc(entry{magic: "070702", name: "a", mode: 0o100644, data: "1"}), []string{"a=1"}},
		{"upper-case hex", newc(entry{name: "abcdefghijk", mode: 0o100644, data: "x", upper: true}), []string{"abcdefghijk=x"}},
		{"dracut NUL-padded names", newc(
			entry{name: "a", mode: 0o100644, extra: 3, data: "1"},
			entry{name: "etc/x", mode: 0o100644, extra: 17, data: "22"},
		), []string{"a=1", "etc/x=22"}},
		{"trailer with padded name", cat(rawEntry(file("a", "1")), rawEntry(entry{name: "TRAILER!!!", extra: 5})), []string{"a=1"}},
		{"empty archive", newc(), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(tc.archive))
			var got []string
			for {
				h, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				data, err := io.ReadAll(r)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, h.Name+"="+string(data))
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("entries = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReaderErrors(t *testing.T) {
	good := newc(file("name", "data!"))
	// good: header 0..110, "name\0" 110..115, pad to 116, data 116..121, pad to 124, trailer 124..248.
	setField := func(b []byte, field int, v string) []byte {
		b = bytes.Clone(b)
		copy(b[6+8*field:], v)
		return b
	}
	tests := []struct {
		name     string
		in       []byte
		want     string
		eof      bool // wraps io.ErrUnexpectedEOF
		readData bool // read the data of the first entry with Read
	}{
		{"empty input", nil, "read cpio header at offset 0: archive ends without TRAILER!!!", true, false},
		{"no trailer", good[:124], "read cpio header at offset 124: archive ends without TRAILER!!!", true, false},
		{"truncated header", good[:50], "read cpio header at offset 0: unexpected EOF", true, false},
		{"truncated name", good[:112], "read name of cpio entry at offset 0: unexpected EOF", true, false},
		{"truncated data, skipped", good[:118], `skip data of "name" at offset 118: unexpected EOF`, true, false},
		{"truncated data, read", good[:118], `read data of "name" at offset 118: unexpected EOF`, true, true},
		{"truncated trailer", good[:200], "read cpio header at offset 124: unexpected EOF", true, false},
		{"bad magic", append([]byte("070707"), good[6:]...), `read cpio header at offset 0: bad magic "070707"`, false, false},
		{"bad magic later", cat(good[:124], []byte("garbage garbage"), zeroBytes(200)), `read cpio header at offset 124: bad magic "garbag"`, false, false},
		{"bad hex", setField(good, 1, "0000818g"), `read cpio header at offset 0: bad mode field "0000818g"`, false, false},
		{"space in hex", setField(good, 6, " 0000005"), `bad filesize field " 0000005"`, false, false},
		{"namesize 0", setField(good, 11, "00000000"), "name size 0 out of range", false, false},
		{"namesize huge", setField(good, 11, "ffffffff"), "name size 4294967295 out of range", false, false},
		{"name not terminated", setField(good, 11, "00000004"), `name "name" is not NUL-terminated`, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(tc.in))
			var err error
			for err == nil {
				_, err = r.Next()
				if err == nil && tc.readData {
					_, err = io.ReadAll(r)
				}
			}
			if err == io.EOF || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
			if got := errors.Is(err, io.ErrUnexpectedEOF); got != tc.eof {
				t.Errorf("errors.Is(%v, io.ErrUnexpectedEOF) = %v, want %v", err, got, tc.eof)
			}
			if _, err2 := r.Next(); err2 != err {
				t.Errorf("Next after error = %v, want the sticky %v", err2, err)
			}
		})
	}
}
