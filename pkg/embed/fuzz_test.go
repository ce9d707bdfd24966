package embed

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/initrd"
	"github.com/isobuild/isobuild/pkg/installer"
	"github.com/isobuild/isobuild/pkg/iso"
)

// The fuzz targets of this file mutate the CoreOS fixture images in memory.
// A whole 1 MiB image is far too big for the fuzzer to mutate usefully, so
// the fuzzed values are small patches or metadata files that the targets
// write over a copy of a fixture.

// fuzzImage is a decompressed fixture image and the offsets in it that are
// worth patching.
type fuzzImage struct {
	name  string
	data  []byte
	bases []int64 // offsets of metadata: descriptors, directories, JSON files, areas
}

var fuzzImages struct {
	sync.Mutex
	imgs []fuzzImage
}

// loadFuzzImages decompresses every embed-areas fixture once per process.
// The order is the sorted order of the fixture names, which the committed
// seed corpora rely on.
func loadFuzzImages(tb testing.TB) []fuzzImage {
	tb.Helper()
	fuzzImages.Lock()
	defer fuzzImages.Unlock()
	if fuzzImages.imgs != nil {
		return fuzzImages.imgs
	}
	var imgs []fuzzImage
	for _, name := range fixture.ISONames(tb, "embed-areas") {
		data, err := os.ReadFile(fixture.ISO(tb, name))
		if err != nil {
			tb.Fatal(err)
		}
		fi := fuzzImage{name: name, data: data, bases: []int64{kargHeaderOffset, 16 * iso.SectorSize}}
		img, err := iso.Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		if err := img.Walk(func(r iso.Record) error {
			if r.IsDir || strings.HasSuffix(r.Path, ".JSO") {
				fi.bases = append(fi.bases, r.Offset)
			}
			return nil
		}); err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		im, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		fi.bases = append(fi.bases, im.Initrd.Offset)
		if im.Kargs != nil {
			for _, a := range im.Kargs.Areas {
				fi.bases = append(fi.bases, a.Offset)
			}
		}
		imgs = append(imgs, fi)
	}
	fuzzImages.imgs = imgs
	return imgs
}

// fuzzImageNamed returns the index of the named fixture in loadFuzzImages.
func fuzzImageNamed(tb testing.TB, name string) int {
	for i, fi := range loadFuzzImages(tb) {
		if fi.name == name {
			return i
		}
	}
	tb.Fatalf("no fixture %s", name)
	return 0
}

// patchedReader reads base with patch laid over it at off, without copying
// the image.
type patchedReader struct {
	base  []byte
	off   int64
	patch []byte
}

func (p *patchedReader) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= int64(len(p.base)) {
		return 0, io.EOF
	}
	n := copy(b, p.base[off:])
	// Overlay the part of the patch that falls inside [off, off+n).
	lo, hi := max(off, p.off), min(off+int64(n), p.off+int64(len(p.patch)))
	if lo < hi {
		copy(b[lo-off:hi-off], p.patch[lo-p.off:hi-p.off])
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// clampPatch cuts patch so that it lies inside an image of size bytes.
func clampPatch(off int64, patch []byte, size int64) []byte {
	if off >= size {
		return nil
	}
	return patch[:min(int64(len(patch)), size-off)]
}

// checkImage checks the invariants of an image that Open accepted and that
// its read and planning methods neither panic nor break them. r is what
// Open read and size its size.
func checkImage(t *testing.T, im *Image, r io.ReaderAt, size int64, extra string) {
	t.Helper()
	if im == nil {
		t.Fatal("Open returned neither an image nor an error")
	}
	a := im.Initrd
	if a.Length <= 0 || a.Length > MaxInitrdAreaSize || a.Offset < 0 || a.Offset+a.Length > size {
		t.Fatalf("initrd area %+v outside the %d-byte image", a, size)
	}
	if im.InitrdUsed < 0 || im.InitrdUsed > a.Length || (im.InitrdUsed%4 != 0 && im.InitrdUsed != a.Length) {
		t.Fatalf("InitrdUsed %d for an area of %d bytes", im.InitrdUsed, a.Length)
	}
	if im.ISO.Size() != size {
		t.Fatalf("ISO size %d, want %d", im.ISO.Size(), size)
	}

	// Members returns a copy.
	const probe = "isobuild-fuzz-probe"
	if _, ok := im.members[probe]; !ok {
		im.Members()[probe] = nil
		if _, ok := im.Members()[probe]; ok {
			t.Fatal("Members does not return a copy")
		}
	}
	if cfg, ok := im.Config(); ok && !bytes.Equal(cfg, im.Members()[installer.ConfigMember]) {
		t.Fatal("Config differs from the config.ign member")
	}
	for name := range im.NetworkFiles() {
		if !installer.IsNetworkMember(name) {
			t.Fatalf("NetworkFiles returned %q", name)
		}
	}

	if ka := im.Kargs; ka != nil {
		checkKargAreas(t, ka, size)
		if def, err := im.DefaultKargs(); err != nil || def != ka.Default {
			t.Fatalf("DefaultKargs = %q, %v; want %q", def, err, ka.Default)
		}
		if cur, err := im.CurrentKargs(); err == nil {
			if len(cur) > ka.Size || !utf8.ValidString(cur) || strings.TrimSpace(cur) != cur {
				t.Fatalf("CurrentKargs returned %q for areas of %d bytes", cur, ka.Size)
			}
		}
	} else {
		if _, err := im.CurrentKargs(); !errors.Is(err, ErrNoKargAreas) {
			t.Fatalf("CurrentKargs without karg areas: %v", err)
		}
		if _, err := im.DefaultKargs(); !errors.Is(err, ErrNoKargAreas) {
			t.Fatalf("DefaultKargs without karg areas: %v", err)
		}
	}
	_, _ = im.Features()
	_, _ = im.customized()

	// Planning: a karg edit and the initrd rewrite, then the overlay must
	// hold exactly what was planned.
	c, err := im.ModifyKargs(KargsEdit{Append: []string{extra}})
	if err != nil {
		if im.Kargs == nil && !errors.Is(err, ErrNoKargAreas) {
			t.Fatalf("ModifyKargs without karg areas: %v", err)
		}
		c = im.RemoveIgnition()
	}
	checkOverlay(t, im, c)
	checkOverlay(t, im, im.Reset())
}

// checkKargAreas checks what findKargAreas may return.
func checkKargAreas(t *testing.T, ka *KargAreas, size int64) {
	t.Helper()
	if ka.Size <= 0 || ka.Size > MaxKargsAreaSize {
		t.Fatalf("karg area size %d", ka.Size)
	}
	if len(ka.Default) > ka.Size {
		t.Fatalf("default kargs of %d bytes for areas of %d", len(ka.Default), ka.Size)
	}
	if len(ka.Areas) == 0 {
		t.Fatal("karg areas without any area")
	}
	if ka.Source != "kargs.json" && ka.Source != "coreKarg header" {
		t.Fatalf("karg source %q", ka.Source)
	}
	for _, a := range ka.Areas {
		if a.Length != ka.Size || a.Offset < 0 || a.Offset+int64(a.Length) > size {
			t.Fatalf("karg area %+v (size %d) outside the %d-byte image", a, ka.Size, size)
		}
		if a.Pad >= utf8.RuneSelf || a.End >= utf8.RuneSelf {
			t.Fatalf("karg area %+v has a non-ASCII pad or end byte", a)
		}
	}
}

// checkOverlay plans c and, when Overlay accepts it, reads the areas back
// through the overlay.
func checkOverlay(t *testing.T, im *Image, c Changes) {
	t.Helper()
	ov, err := im.Overlay(c)
	if err != nil {
		return
	}
	if ov.Size() != im.ISO.Size() {
		t.Fatalf("overlay size %d, image %d", ov.Size(), im.ISO.Size())
	}
	area := make([]byte, im.Initrd.Length)
	if _, err := ov.ReadAt(area, im.Initrd.Offset); err != nil {
		t.Fatalf("reading the new initrd area: %v", err)
	}
	got, err := initrd.DecodeArea(area)
	if err != nil {
		t.Fatalf("DecodeArea(new initrd area): %v", err)
	}
	if len(got) != len(c.Members) {
		t.Fatalf("new initrd area holds %v, planned %v", got.Names(), c.Members.Names())
	}
	for name, data := range c.Members {
		if !bytes.Equal(got[name], data) {
			t.Fatalf("new initrd area: member %q differs", name)
		}
	}
	if c.Kargs == nil {
		return
	}
	want := strings.TrimSpace(*c.Kargs)
	buf := make([]byte, im.Kargs.Size)
	for _, a := range im.Kargs.Areas {
		if _, err := ov.ReadAt(buf, a.Offset); err != nil {
			t.Fatalf("reading karg area at %d: %v", a.Offset, err)
		}
		if !bytes.Equal(buf, a.encode(want)) {
			t.Fatalf("karg area at %d holds %q, planned %q", a.Offset, buf, want)
		}
		if !isControl(a.End) {
			continue // kargs ending in a printable end byte do not read back
		}
		k, err := a.parse(buf)
		if err != nil {
			t.Fatalf("karg area at %d written with %q does not parse: %v", a.Offset, want, err)
		}
		if k != want {
			t.Fatalf("karg area at %d written with %q reads back as %q", a.Offset, want, k)
		}
	}
}

// FuzzOpenPatched runs embed.Open on fixture images with one patch of
// fuzzed bytes. The patch lands at an offset relative to a piece of
// metadata picked by base (the coreKarg header, the volume descriptors, a
// directory, a JSON metadata file, the initrd area or a karg area), or
// anywhere when base is 0. Whatever Open accepts must satisfy checkImage:
// areas inside the image, Members a copy, the read methods free of panics,
// and an overlay from ModifyKargs or Reset that holds exactly the planned
// areas. An error must come without an image.
func FuzzOpenPatched(f *testing.F) {
	imgs := loadFuzzImages(f)
	for i := range imgs {
		f.Add(uint8(i), uint8(0), uint32(0), []byte{}, "isobuild.fuzz=1")
	}
	header := fuzzImageNamed(f, "embed-areas-2021-01.iso")
	f.Add(uint8(header), uint8(1), uint32(8), []byte{0xff, 0xff}, "a")
	f.Add(uint8(header), uint8(1), uint32(16), []byte{0, 0, 0, 0, 0, 0, 0, 0x80}, "a")
	f.Add(uint8(header), uint8(1), uint32(24), []byte{0xff, 0xff, 0xff, 0xff}, "b")
	f.Add(uint8(header), uint8(1), uint32(0), []byte("coreKarx"), "c")
	f.Add(uint8(0), uint8(2), uint32(80), []byte{0xff, 0xff, 0xff, 0x7f}, "")
	f.Add(uint8(3), uint8(3), uint32(10), []byte{0xff, 0xff, 0xff, 0xff, 0xff}, "")
	f.Add(uint8(9), uint8(6), uint32(0), []byte(`{"file": "images/ignition.img", "offset": 99999999}`), "x")
	f.Add(uint8(9), uint8(200), uint32(0), []byte("\xfd7zXZ\x00\x00\x04"), "x")
	f.Fuzz(func(t *testing.T, fix, base uint8, off uint32, patch []byte, extra string) {
		fi := imgs[int(fix)%len(imgs)]
		size := int64(len(fi.data))
		pos := int64(off) % size
		if base != 0 {
			pos = fi.bases[int(base-1)%len(fi.bases)] + int64(off%4096)
		}
		patch = clampPatch(pos, patch, size)
		// FuzzKargArea covers kargs that are not UTF-8 (see its corpus).
		extra = strings.ToValidUTF8(extra, "?")
		r := &patchedReader{base: fi.data, off: pos, patch: patch}
		im, err := Open(r, size)
		if err != nil {
			if im != nil {
				t.Fatal("Open returned an image with an error")
			}
			return
		}
		checkImage(t, im, r, size, extra)
	})
}

// metadataFiles are the JSON metadata files FuzzMetadata replaces.
var metadataFiles = []string{IgnInfoPath, KargsInfoPath, FeaturesPath}

// withFile returns a copy of data, an ISO image, whose file path holds
// content instead: the content is written over the file's extent and the
// data length of its directory record (both byte orders) is set to
// len(content), which must fit the file's sector.
func withFile(tb testing.TB, data []byte, path string, content []byte) []byte {
	tb.Helper()
	img, err := iso.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatal(err)
	}
	rec, err := img.Lookup(path)
	if err != nil {
		tb.Fatal(err)
	}
	dirPath, _, _ := strings.Cut(path, "/")
	dir, err := img.Lookup(dirPath)
	if err != nil {
		tb.Fatal(err)
	}
	out := bytes.Clone(data)
	ext := out[dir.Offset : dir.Offset+dir.Length]
	found := false
	for i := 0; i < len(ext); {
		n := int(ext[i])
		if n == 0 { // records do not cross sectors
			i = (i/iso.SectorSize + 1) * iso.SectorSize
			continue
		}
		r := ext[i : i+n]
		name := string(r[33 : 33+int(r[32])])
		name = strings.TrimSuffix(strings.TrimSuffix(name, ";1"), ".")
		if dirPath+"/"+name == path && int64(binary.LittleEndian.Uint32(r[2:]))*iso.SectorSize == rec.Offset {
			binary.LittleEndian.PutUint32(r[10:], uint32(len(content)))
			binary.BigEndian.PutUint32(r[14:], uint32(len(content)))
			found = true
		}
		i += n
	}
	if !found {
		tb.Fatalf("no directory record for %s", path)
	}
	copy(out[rec.Offset:rec.Offset+iso.SectorSize], make([]byte, iso.SectorSize))
	copy(out[rec.Offset:], content)
	return out
}

// FuzzMetadata replaces one of the JSON metadata files of a fixture image
// (coreos/igninfo.json, kargs.json or features.json, picked by which among
// the fixtures that have it) with fuzzed content of up to one sector, then
// opens the image. Open must fail for content that is not JSON (except
// features.json, which Open does not read), and what it accepts must
// satisfy checkImage; Features must succeed exactly when ParseFeatures
// accepts the content.
func FuzzMetadata(f *testing.F) {
	imgs := loadFuzzImages(f)
	// have lists the fixtures with each file; fix indexes it.
	have := make([][]fuzzImage, len(metadataFiles))
	for w, path := range metadataFiles {
		for _, fi := range imgs {
			img, err := iso.Open(bytes.NewReader(fi.data), int64(len(fi.data)))
			if err != nil {
				f.Fatal(err)
			}
			if raw, err := img.ReadFile(path); err == nil {
				f.Add(uint8(len(have[w])), uint8(w), raw)
				have[w] = append(have[w], fi)
			}
		}
	}
	f.Fuzz(func(t *testing.T, fix, which uint8, content []byte) {
		if len(content) > iso.SectorSize {
			return
		}
		w := int(which) % len(metadataFiles)
		path := metadataFiles[w]
		fi := have[w][int(fix)%len(have[w])]
		data := withFile(t, fi.data, path, content)
		r := bytes.NewReader(data)
		im, err := Open(r, int64(len(data)))
		if err != nil {
			if im != nil {
				t.Fatal("Open returned an image with an error")
			}
			return
		}
		if path != FeaturesPath && !json.Valid(content) {
			t.Fatalf("Open accepted %s holding invalid JSON %q", path, content)
		}
		_, ferr := im.Features()
		_, perr := installer.ParseFeatures(content)
		if path == FeaturesPath && (ferr == nil) != (perr == nil) {
			t.Fatalf("Features: %v, ParseFeatures: %v", ferr, perr)
		}
		checkImage(t, im, r, int64(len(data)), "isobuild.fuzz")
	})
}

// FuzzKargsJSON calls parseKargsJSON on fuzzed kargs.json content against
// a fixture's ISO9660 tree. It must reject input that is not JSON, and
// every result must satisfy checkKargAreas, list its areas sorted by offset,
// and keep the default pad and end bytes unless kargs.json gave its own.
func FuzzKargsJSON(f *testing.F) {
	imgs := loadFuzzImages(f)
	for i, fi := range imgs {
		img, err := iso.Open(bytes.NewReader(fi.data), int64(len(fi.data)))
		if err != nil {
			f.Fatal(err)
		}
		if raw, err := img.ReadFile(KargsInfoPath); err == nil {
			f.Add(uint8(i), raw)
		}
	}
	f.Add(uint8(0), []byte(`{"default": "", "files": [], "size": 1}`))
	f.Add(uint8(9), []byte(`{"default":"a","files":[{"path":"isolinux/isolinux.cfg","offset":0,"pad":"\u0000","end":"é"}],"size":2048}`))
	f.Fuzz(func(t *testing.T, fix uint8, raw []byte) {
		fi := imgs[int(fix)%len(imgs)]
		r := bytes.NewReader(fi.data)
		img, err := iso.Open(r, int64(len(fi.data)))
		if err != nil {
			t.Fatal(err)
		}
		ka, err := parseKargsJSON(img, r, raw)
		if err != nil {
			if ka != nil {
				t.Fatal("parseKargsJSON returned areas with an error")
			}
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("parseKargsJSON accepted invalid JSON %q", raw)
		}
		if ka.Source != "kargs.json" {
			t.Fatalf("source %q", ka.Source)
		}
		checkKargAreas(t, ka, img.Size())
		if !sort.SliceIsSorted(ka.Areas, func(i, j int) bool { return ka.Areas[i].Offset < ka.Areas[j].Offset }) {
			t.Fatalf("areas not sorted: %+v", ka.Areas)
		}
		for _, a := range ka.Areas {
			if !a.Explicit && (a.Pad != '#' || a.End != '\n') {
				t.Fatalf("area %+v: pad and end changed without kargs.json setting them", a)
			}
		}
	})
}

// FuzzKargHeader writes a fuzzed 72-byte legacy coreKarg header into the
// system area of a fixture, and the fuzzed block at the offset the header
// gives for the default kargs, then calls parseKargHeader. Without the
// magic it must find nothing and report no error; a zero or oversized
// length must fail; a result must list exactly the leading non-zero area
// offsets of the header, each inside the image, with a trimmed UTF-8
// default that fits the areas.
func FuzzKargHeader(f *testing.F) {
	imgs := loadFuzzImages(f)
	for i, fi := range imgs {
		hdr := fi.data[kargHeaderOffset : kargHeaderOffset+kargHeaderSize]
		var block []byte
		if string(hdr[:8]) == kargHeaderMagic {
			n := binary.LittleEndian.Uint64(hdr[8:])
			off := binary.LittleEndian.Uint64(hdr[16:])
			block = fi.data[off : off+n]
		}
		f.Add(uint8(i), bytes.Clone(hdr), bytes.Clone(block))
	}
	f.Fuzz(func(t *testing.T, fix uint8, hdr, block []byte) {
		fi := imgs[int(fix)%len(imgs)]
		var h [kargHeaderSize]byte
		copy(h[:], hdr)
		data := bytes.Clone(fi.data)
		defOff := binary.LittleEndian.Uint64(h[16:])
		if defOff < uint64(len(data)) {
			copy(data[defOff:], block)
		}
		copy(data[kargHeaderOffset:], h[:])
		r := bytes.NewReader(data)
		img, err := iso.Open(r, int64(len(data)))
		if err != nil {
			return // the block overwrote the volume descriptors
		}
		ka, err := parseKargHeader(img, r)
		if string(h[:8]) != kargHeaderMagic {
			if ka != nil || err != nil {
				t.Fatalf("no magic: got %+v, %v", ka, err)
			}
			return
		}
		length := binary.LittleEndian.Uint64(h[8:])
		if err != nil {
			if ka != nil {
				t.Fatal("parseKargHeader returned areas with an error")
			}
			return
		}
		if length == 0 || length > MaxKargsAreaSize {
			t.Fatalf("accepted a header with area length %d", length)
		}
		if ka.Size != int(length) || ka.Source != "coreKarg header" {
			t.Fatalf("size %d from %q, header says %d", ka.Size, ka.Source, length)
		}
		checkKargAreas(t, ka, img.Size())
		var want []int64
		for i := 0; i < kargHeaderSlots; i++ {
			off := binary.LittleEndian.Uint64(h[24+8*i:])
			if off == 0 {
				break
			}
			want = append(want, int64(off))
		}
		if len(ka.Areas) != len(want) {
			t.Fatalf("%d areas, header lists %d", len(ka.Areas), len(want))
		}
		for i, a := range ka.Areas {
			if a.Offset != want[i] || a.Pad != '#' || a.End != '\n' || a.File != "" {
				t.Fatalf("area %d is %+v, header says offset %d", i, a, want[i])
			}
		}
		if !utf8.ValidString(ka.Default) || strings.TrimSpace(ka.Default) != ka.Default {
			t.Fatalf("default kargs %q", ka.Default)
		}
	})
}

// isControl reports whether a byte is a control character, which no
// kernel command line may hold.
func isControl(b byte) bool { return b < 0x20 || b == 0x7f }

// FuzzKargArea checks the karg area codec. parse never panics and returns
// trimmed UTF-8 no longer than its input. regions refuses control
// characters and kargs that leave no room for the end byte, and otherwise
// returns one region per area, each exactly as long as the area, holding
// the kargs, the end byte and padding, which parse reads back as the kargs
// (for the control-character end bytes that real images use). Pad and end
// are ASCII, as kargs.json can only give one-byte strings.
func FuzzKargArea(f *testing.F) {
	f.Add(uint16(1139), byte('#'), byte('\n'), "mitigations=auto,nosmt coreos.liveiso=fedora-coreos-38.20230718.dev.0 ignition.firstboot ignition.platform.id=metal", []byte("x\n###"))
	f.Add(uint16(896), byte(0), byte(0), "rd.neednet=1 ip=dhcp", []byte("a b\x00\x00\x00"))
	f.Add(uint16(10), byte('#'), byte('\n'), "0123456789", []byte("##########"))
	f.Add(uint16(10), byte('#'), byte('\n'), " foo# ", []byte(" foo#\n  ##"))
	f.Add(uint16(3), byte(' '), byte('x'), "a\nb", []byte("\xff"))
	f.Add(uint16(64), byte('#'), byte('\n'), "ünïcode=ok", []byte("ünïcode=ok\n#"))
	f.Fuzz(func(t *testing.T, length uint16, pad, end byte, kargs string, raw []byte) {
		a := KargArea{Offset: 100, Length: int(length%MaxKargsAreaSize) + 1, Pad: pad & 0x7f, End: end & 0x7f}
		if s, err := a.parse(raw); err == nil {
			if !utf8.ValidString(s) || strings.TrimSpace(s) != s || len(s) > len(raw) {
				t.Fatalf("parse(%q) = %q", raw, s)
			}
		} else if utf8.Valid(raw) {
			t.Fatalf("parse(%q) failed on valid UTF-8: %v", raw, err)
		}

		b := a
		b.Offset = 5000
		ka := &KargAreas{Size: a.Length, Areas: []KargArea{a, b}}
		regs, err := ka.regions(kargs)
		k := strings.TrimSpace(kargs)
		hasControl := strings.IndexFunc(k, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0
		var tooLong *KargsTooLongError
		switch {
		case hasControl:
			if err == nil || !strings.Contains(err.Error(), "control characters") {
				t.Fatalf("regions(%q) = %v, want a control character error", kargs, err)
			}
			return
		case !utf8.ValidString(k):
			if err == nil || !strings.Contains(err.Error(), "UTF-8") {
				t.Fatalf("regions(%q) = %v, want an invalid UTF-8 error", kargs, err)
			}
			return
		case len(k) >= ka.Size:
			if !errors.As(err, &tooLong) || tooLong.Need != len(k)+1 || tooLong.Size != ka.Size {
				t.Fatalf("regions(%q) with size %d: %v", kargs, ka.Size, err)
			}
			return
		case err != nil:
			t.Fatalf("regions(%q): %v", kargs, err)
		}
		if len(regs) != len(ka.Areas) {
			t.Fatalf("%d regions for %d areas", len(regs), len(ka.Areas))
		}
		for i, r := range regs {
			area := ka.Areas[i]
			if r.offset != area.Offset || len(r.data) != area.Length {
				t.Fatalf("region at %d of %d bytes for area %+v", r.offset, len(r.data), area)
			}
			if string(r.data[:len(k)]) != k || r.data[len(k)] != area.End || strings.Trim(string(r.data[len(k)+1:]), string(rune(area.Pad))) != "" {
				t.Fatalf("region %q for kargs %q", r.data, k)
			}
			if !isControl(area.End) {
				continue
			}
			got, err := area.parse(r.data)
			if err != nil || got != k {
				t.Fatalf("kargs %q written to an area read back as %q, %v", k, got, err)
			}
		}
	})
}

// FuzzKargsEdit applies fuzzed edits (newline-separated lists of deletions,
// appends and replacements) to fuzzed kargs. Empty must say whether the
// lists are empty; Apply fails exactly when a replacement is not
// KEY=OLD=NEW (three non-empty parts), with a ReplaceSyntaxError naming the
// first such item; its result is trimmed; deletions only remove tokens;
// appends add exactly their tokens at the end.
func FuzzKargsEdit(f *testing.F) {
	const def = "mitigations=auto,nosmt coreos.liveiso=fedora-coreos-34.20210921.dev.0 ignition.firstboot ignition.platform.id=metal"
	f.Add(def, "ignition.firstboot", "console=ttyS0,115200n8\nquiet", "ignition.platform.id=metal=qemu")
	f.Add("foo bar foobar", "foo", "", "")
	f.Add("foo=bar baz foo=bar", "", "", "foo=bar=qux")
	f.Add("a a a", "a", "", "")
	f.Add(" x  y ", "", " z ", "a==c")
	f.Add("k=1", "", "n=old", "n=old=new\nk=1=2")
	f.Add("", "", "first", "=b=c")
	f.Fuzz(func(t *testing.T, kargs, del, app, rep string) {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, "\n")
		}
		e := KargsEdit{Delete: split(del), Append: split(app), Replace: split(rep)}
		if e.Empty() != (del == "" && app == "" && rep == "") {
			t.Fatalf("Empty() = %v for %+v", e.Empty(), e)
		}
		got, err := e.Apply(kargs)
		bad, isBad := "", false
		for _, r := range e.Replace {
			if p := strings.Split(strings.TrimSpace(r), "="); len(p) != 3 || p[0] == "" || p[1] == "" || p[2] == "" {
				bad, isBad = r, true
				break
			}
		}
		var syntax *ReplaceSyntaxError
		if isBad {
			if !errors.As(err, &syntax) || syntax.Arg != bad || got != "" {
				t.Fatalf("Apply with replacement %q: %q, %v", bad, got, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		if strings.TrimSpace(got) != got {
			t.Fatalf("Apply result %q is not trimmed", got)
		}
		if e.Empty() && got != strings.TrimSpace(kargs) {
			t.Fatalf("empty edit turned %q into %q", kargs, got)
		}
		if e.Replace != nil {
			return
		}
		// Deletions remove whole tokens only.
		after := KargsEdit{Delete: e.Delete}
		deleted, err := after.Apply(kargs)
		if err != nil {
			t.Fatal(err)
		}
		left := map[string]int{}
		for _, tok := range strings.Fields(kargs) {
			left[tok]++
		}
		for _, tok := range strings.Fields(deleted) {
			if left[tok] == 0 {
				t.Fatalf("deleting %q from %q gave %q with new token %q", e.Delete, kargs, deleted, tok)
			}
			left[tok]--
		}
		// Appends add exactly their tokens at the end.
		want := strings.Fields(deleted)
		for _, a := range e.Append {
			want = append(want, strings.Fields(a)...)
		}
		if g := strings.Fields(got); strings.Join(g, " ") != strings.Join(want, " ") || len(g) != len(want) {
			t.Fatalf("Apply(%q) with %+v = %q, want tokens %q", kargs, e, got, want)
		}
	})
}
