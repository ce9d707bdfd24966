package remaster

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/isowrite"
	"github.com/isobuild/isobuild/pkg/bootcfg"
)

// FuzzFindRecord: reading a reset record from untrusted bytes never
// panics, allocates at most maxRecordSize, and a record it accepts is
// consistent.
func FuzzFindRecord(f *testing.F) {
	good, err := newRecord(bytes.NewReader(make([]byte, 8192)), 8192, nil, Description{OS: "flatcar"}, 4096)
	if err != nil {
		f.Fatal(err)
	}
	img := append(make([]byte, 8192), good...)
	if err := sealRecord(good, 8192, bytes.NewReader(img)); err != nil {
		f.Fatal(err)
	}
	img = append(make([]byte, 8192), good...)
	f.Add(img)
	f.Add(append(make([]byte, 8192), []byte(recordMagic)...))
	huge := append([]byte(nil), img...)
	binary.LittleEndian.PutUint64(huge[8192+32:], 1<<62)
	f.Add(huge)
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := FindRecord(bytes.NewReader(data), int64(len(data)))
		if err != nil || rec == nil {
			return
		}
		if rec.BaseSize <= 0 || rec.BaseSize > rec.Offset || len(rec.Ranges) != len(rec.originals) {
			t.Fatalf("inconsistent record %+v", rec)
		}
		for i, r := range rec.Ranges {
			if int64(len(rec.originals[i])) != r.Length || r.Offset+r.Length > rec.BaseSize {
				t.Fatalf("range %d %+v", i, r)
			}
		}
	})
}

// FuzzOverlay: opening and remastering a mutated image never panics, and
// a remaster that succeeds passes its own check of the output (Overlay
// re-reads every tree) and resets to the input byte for byte.
func FuzzOverlay(f *testing.F) {
	var img bytes.Buffer
	file := func(p, data string) isowrite.File {
		return isowrite.File{Path: p, Size: int64(len(data)), Open: func() (io.Reader, error) { return strings.NewReader(data), nil }}
	}
	if err := isowrite.Write(&img, []isowrite.File{
		file("syslinux/syslinux.cfg", "label flatcar\n  kernel /flatcar/vmlinuz\n  append initrd=/flatcar/cpio.gz flatcar.autologin\n"),
		file("boot/grub/grub.cfg", "menuentry x {\n  linux /flatcar/vmlinuz a\n  initrd /flatcar/cpio.gz\n}\n"),
		file("flatcar/vmlinuz", "kernel"),
		file("flatcar/cpio.gz", "initramfs"),
	}, isowrite.WriteOptions{VolumeID: "FUZZ"}); err != nil {
		f.Fatal(err)
	}
	f.Add(img.Bytes())
	// The seed itself remasters, so the fuzzer starts from inputs that
	// reach the edit and the reset.
	if im, err := Open(bytes.NewReader(img.Bytes()), int64(img.Len())); err != nil {
		f.Fatal(err)
	} else if _, err := im.Overlay(Change{Initrd: []byte("extra")}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		im, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		ov, err := im.Overlay(Change{
			Initrd: []byte("extra"),
			Args:   func(_ bootcfg.Entry, a string) (string, error) { return a + " x=1", nil },
			Files:  []File{{Path: "/flatcar/notes.txt", Data: []byte("n")}},
		})
		if err != nil {
			return
		}
		var out bytes.Buffer
		if _, err := ov.WriteTo(&out); err != nil {
			t.Fatal(err)
		}
		again, err := Open(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatalf("the output does not open: %v", err)
		}
		reset, err := again.Reset()
		if err != nil {
			t.Fatalf("reset: %v", err)
		}
		var back bytes.Buffer
		if _, err := reset.WriteTo(&back); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back.Bytes(), data) {
			t.Fatal("reset is not the input")
		}
	})
}
