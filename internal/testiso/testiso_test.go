package testiso_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/internal/isowrite"
	"github.com/isobuild/isobuild/internal/testiso"
	"github.com/isobuild/isobuild/pkg/iso"
)

func build(t testing.TB, o testiso.Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := testiso.Build(&buf, o); err != nil {
		t.Fatalf("Build(%+v) = %v", o, err)
	}
	return buf.Bytes()
}

func open(t testing.TB, data []byte) *iso.Image {
	t.Helper()
	im, err := iso.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("iso.Open = %v", err)
	}
	return im
}

func readJSON(t *testing.T, im *iso.Image, path string, v any) {
	t.Helper()
	data, err := im.ReadFile(path)
	if err != nil {
		t.Fatalf("ReadFile(%s) = %v", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
}

// checkLayout verifies an image built with o the way the tool consumes it
// (spec §1.2, §3.2, §3.3, §4.1).
func checkLayout(t *testing.T, data []byte, o testiso.Options, wantKargs string, wantKargsSize int, wantAreaSize, wantRootfs int64) {
	t.Helper()
	im := open(t, data)
	volID := o.VolumeID
	if volID == "" {
		volID = testiso.DefaultVolumeID
	}
	if got := im.Primary().VolumeID; got != volID {
		t.Errorf("volume ID = %q, want %q", got, volID)
	}

	var ign struct {
		File string `json:"file"`
	}
	readJSON(t, im, "COREOS/IGNINFO.JSO", &ign)
	if ign.File != "images/ignition.img" {
		t.Errorf("igninfo.json file = %q", ign.File)
	}
	area, err := im.Lookup(strings.ToUpper(ign.File))
	if err != nil {
		t.Fatalf("Lookup(igninfo file) = %v", err)
	}
	if area.Length != wantAreaSize {
		t.Errorf("initrd embed area is %d bytes, want %d", area.Length, wantAreaSize)
	}
	zeros, err := io.ReadAll(im.Section(area))
	if err != nil || int64(len(zeros)) != wantAreaSize || bytes.ContainsFunc(zeros, func(r rune) bool { return r != 0 }) {
		t.Errorf("initrd embed area is not %d zero bytes (err %v)", wantAreaSize, err)
	}

	var kargs testiso.Kargs
	readJSON(t, im, "COREOS/KARGS.JSO", &kargs)
	if kargs.Default != wantKargs || kargs.Size != wantKargsSize || len(kargs.Files) != 2 {
		t.Fatalf("kargs.json = %+v, want default %q size %d and 2 files", kargs, wantKargs, wantKargsSize)
	}
	prefixes := map[string]string{
		"EFI/fedora/grub.cfg":   "\tlinux /images/pxeboot/vmlinuz ",
		"isolinux/isolinux.cfg": "  append initrd=/images/pxeboot/initrd.img,/images/ignition.img ",
	}
	wantArea := []byte(wantKargs + "\n" + strings.Repeat("#", wantKargsSize-len(wantKargs)-1))
	for _, f := range kargs.Files {
		if f.Pad != "#" || f.End != "\n" {
			t.Errorf("kargs.json entry %+v: want pad '#' and end '\\n'", f)
		}
		rec, err := im.Lookup(strings.ToUpper(f.Path))
		if err != nil {
			t.Fatalf("Lookup(%s) = %v", strings.ToUpper(f.Path), err)
		}
		// Read through the whole image, as the tool does: extent + offset.
		abs := rec.Offset + f.Offset
		if abs+int64(kargs.Size) >= rec.Offset+rec.Length {
			t.Fatalf("%s: karg area [%d, +%d) does not end inside the file", f.Path, f.Offset, kargs.Size)
		}
		got := data[abs : abs+int64(kargs.Size)]
		if !bytes.Equal(got, wantArea) {
			t.Errorf("%s: karg area at %d = %q, want %q", f.Path, abs, got, wantArea)
		}
		if data[abs+int64(kargs.Size)] != '#' {
			t.Errorf("%s: byte after the karg area is %q, want '#'", f.Path, data[abs+int64(kargs.Size)])
		}
		after := data[abs+int64(kargs.Size):]
		if !bytes.HasPrefix(after, []byte(testiso.KargEmbedMarker)) {
			t.Errorf("%s: karg area not followed by %q", f.Path, testiso.KargEmbedMarker)
		}
		prefix := prefixes[f.Path]
		if prefix == "" || !bytes.HasSuffix(data[rec.Offset:abs], []byte("\n"+prefix)) {
			t.Errorf("%s: karg area is not preceded by the line start %q", f.Path, prefix)
		}
	}
	grub, _ := im.ReadFile("EFI/FEDORA/GRUB.CFG")
	if !bytes.Contains(grub, []byte("menuentry ")) || !bytes.Contains(grub, []byte("\tinitrd /images/pxeboot/initrd.img /images/ignition.img\n")) {
		t.Errorf("grub.cfg lacks the menuentry initrd line:\n%s", grub)
	}
	// The regex that coreos-assembler and assisted-image-service use to
	// find an area must match each configuration once.
	re := regexp.MustCompile(`(#+)# COREOS_KARG_EMBED_AREA`)
	for _, p := range []string{"EFI/FEDORA/GRUB.CFG", "ISOLINUX/ISOLINUX.CFG"} {
		cfg, _ := im.ReadFile(p)
		if n := len(re.FindAll(cfg, -1)); n != 1 {
			t.Errorf("%s: %d matches of %s, want 1", p, n, re)
		}
	}

	var features struct {
		InstallerConfig           bool            `json:"installer-config"`
		InstallerConfigDirectives map[string]bool `json:"installer-config-directives"`
		LiveInitrdNetwork         bool            `json:"live-initrd-network"`
	}
	readJSON(t, im, "COREOS/FEATURES.JSO", &features)
	if !features.InstallerConfig || !features.LiveInitrdNetwork || len(features.InstallerConfigDirectives) != 22 || !features.InstallerConfigDirectives["console"] {
		t.Errorf("features.json = %+v, want all flags and 22 directives", features)
	}
	for k, v := range features.InstallerConfigDirectives {
		if !v {
			t.Errorf("features.json directive %s is false", k)
		}
	}

	for path, want := range map[string]string{"IMAGES/PXEBOOT/VMLINUZ": "the kernel\n", "IMAGES/PXEBOOT/INITRD.IMG": "initrd data\n"} {
		if got, err := im.ReadFile(path); err != nil || string(got) != want {
			t.Errorf("ReadFile(%s) = %q, %v, want %q", path, got, err, want)
		}
	}
	rootfs, err := im.Lookup("IMAGES/PXEBOOT/ROOTFS.IMG")
	if err != nil || rootfs.Length != wantRootfs {
		t.Errorf("rootfs = %+v, %v, want %d bytes", rootfs, err, wantRootfs)
	} else {
		want := make([]byte, wantRootfs)
		io.ReadFull(testiso.NewRandReader(1), want)
		if got, _ := io.ReadAll(im.Section(rootfs)); !bytes.Equal(got, want) {
			t.Errorf("rootfs content is not the seeded pseudo-random stream")
		}
	}
}

func TestBuildDefault(t *testing.T) {
	data := build(t, testiso.Options{})
	want := "mitigations=auto,nosmt coreos.liveiso=fedora-coreos-40.20240101.demo.0 ignition.firstboot ignition.platform.id=metal"
	checkLayout(t, data, testiso.Options{}, want, 1139, 262144, 64<<10)
	if !bytes.Equal(data, build(t, testiso.Options{})) {
		t.Error("two builds differ")
	}
}

func TestBuildOptions(t *testing.T) {
	tests := []struct {
		name      string
		o         testiso.Options
		kargs     string
		kargsSize int
		area      int64
		rootfs    int64
	}{
		{
			name:      "volume id",
			o:         testiso.Options{VolumeID: "fedora-coreos-41.20241027.3.0"},
			kargs:     "mitigations=auto,nosmt coreos.liveiso=fedora-coreos-41.20241027.3.0 ignition.firstboot ignition.platform.id=metal",
			kargsSize: 1139, area: 262144, rootfs: 65536,
		},
		{
			name:      "all sizes",
			o:         testiso.Options{DefaultKargs: "console=ttyS0 foo=bar", KargsSize: 896, RootfsSize: 3<<20 + 3, AreaSize: 4096},
			kargs:     "console=ttyS0 foo=bar",
			kargsSize: 896, area: 4096, rootfs: 3<<20 + 3,
		},
		{
			name:      "tight karg area",
			o:         testiso.Options{DefaultKargs: "a", KargsSize: 3},
			kargs:     "a",
			kargsSize: 3, area: 262144, rootfs: 65536,
		},
		{
			name:      "largest karg area",
			o:         testiso.Options{KargsSize: 2048},
			kargs:     "mitigations=auto,nosmt coreos.liveiso=fedora-coreos-40.20240101.demo.0 ignition.firstboot ignition.platform.id=metal",
			kargsSize: 2048, area: 262144, rootfs: 65536,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkLayout(t, build(t, tc.o), tc.o, tc.kargs, tc.kargsSize, tc.area, tc.rootfs)
		})
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		o    testiso.Options
		want string
	}{
		{"area too small", testiso.Options{DefaultKargs: "abc", KargsSize: 4}, "default kargs (3 bytes) plus newline and one '#' do not fit the karg embed area (4 bytes)"},
		{"area too large", testiso.Options{KargsSize: 2049}, "karg embed area size larger than 2048 (found 2049)"},
		{"newline", testiso.Options{DefaultKargs: "a\nb"}, "newline"},
		{"negative rootfs", testiso.Options{RootfsSize: -1}, "negative rootfs size"},
		{"negative area", testiso.Options{AreaSize: -1}, "negative initrd embed area size"},
		{"volume id too long", testiso.Options{VolumeID: strings.Repeat("x", 33)}, "longer than 32 characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := testiso.Build(&buf, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Build = %v, want an error containing %q", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("Build wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

// TestMatchesFixture compares the metadata with fixture 2023-07.x86_64,
// which this package imitates: features.json and igninfo.json byte for
// byte, kargs.json and the configuration layout up to the karg offsets.
func TestMatchesFixture(t *testing.T) {
	path := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	ref, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fx := open(t, ref)
	o := testiso.Options{VolumeID: "fedora-coreos-38.20230718.dev.0"}
	im := open(t, build(t, o))
	for _, p := range []string{"COREOS/FEATURES.JSO", "COREOS/IGNINFO.JSO"} {
		want, err1 := fx.ReadFile(p)
		got, err2 := im.ReadFile(p)
		if err1 != nil || err2 != nil || !bytes.Equal(got, want) {
			t.Errorf("%s = %q (%v), fixture has %q (%v)", p, got, err2, want, err1)
		}
	}
	offsets := regexp.MustCompile(`"offset": \d+`)
	want, _ := fx.ReadFile("COREOS/KARGS.JSO")
	got, _ := im.ReadFile("COREOS/KARGS.JSO")
	if g, w := offsets.ReplaceAll(got, []byte(`"offset": N`)), offsets.ReplaceAll(want, []byte(`"offset": N`)); !bytes.Equal(g, w) {
		t.Errorf("kargs.json differs from the fixture beyond the offsets:\n%s\nfixture:\n%s", got, want)
	}
	// Both images name the same files at the same ISO 9660 paths (the
	// fixture has a few more: boot files, miniso.dat, zipl.prm).
	paths := map[string]bool{}
	fx.Walk(func(r iso.Record) error { paths[r.Path] = true; return nil })
	im.Walk(func(r iso.Record) error {
		if !paths[r.Path] {
			t.Errorf("%s is not in the fixture", r.Path)
		}
		return nil
	})
}

func TestFilesAndISOPath(t *testing.T) {
	files, err := testiso.Files(testiso.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := isowrite.Write(&buf, files, testiso.WriteOptions(testiso.Options{})); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), build(t, testiso.Options{})) {
		t.Error("Files + WriteOptions differ from Build")
	}
	for in, want := range map[string]string{
		"coreos/kargs.json":   "COREOS/KARGS.JSO",
		"EFI/fedora/grub.cfg": "EFI/FEDORA/GRUB.CFG",
		"images/ignition.img": "IMAGES/IGNITION.IMG",
	} {
		if got := testiso.ISOPath(in); got != want {
			t.Errorf("ISOPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRandReader(t *testing.T) {
	want := make([]byte, 1000)
	io.ReadFull(testiso.NewRandReader(7), want)
	// Reading in odd chunk sizes yields the same stream.
	r := testiso.NewRandReader(7)
	var got []byte
	for _, n := range []int{1, 3, 8, 13, 2, 500, 7, 466} {
		p := make([]byte, n)
		if m, err := r.Read(p); m != n || err != nil {
			t.Fatalf("Read(%d) = %d, %v", n, m, err)
		}
		got = append(got, p...)
	}
	if !bytes.Equal(got, want) {
		t.Error("chunked reads differ from one read")
	}
	other := make([]byte, 1000)
	io.ReadFull(testiso.NewRandReader(8), other)
	if bytes.Equal(want, other) || bytes.Count(want, []byte{0}) > 20 {
		t.Error("stream does not look pseudo-random")
	}
}

// BenchmarkBuild1GiB measures streaming a 1 GiB rootfs through the writer.
func BenchmarkBuild1GiB(b *testing.B) {
	o := testiso.Options{RootfsSize: 1 << 30}
	b.SetBytes(o.RootfsSize)
	for b.Loop() {
		if err := testiso.Build(io.Discard, o); err != nil {
			b.Fatal(err)
		}
	}
}
