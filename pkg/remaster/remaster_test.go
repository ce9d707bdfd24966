package remaster_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/bootcfg"
	"github.com/isobuild/isobuild/pkg/overlay"
	"github.com/isobuild/isobuild/pkg/remaster"
	"github.com/isobuild/isobuild/pkg/sysarea"
)

const isolinuxDir = "/usr/lib/ISOLINUX"

// layout is a way of building a test image with xorriso.
type layout struct {
	name string
	args []string // extra xorriso -as mkisofs arguments
	esp  bool     // append a FAT image as partition 2
}

var layouts = []layout{
	// Flatcar's own: ISOLINUX, isohybrid MBR only.
	{name: "flatcar-mbr", args: []string{"-isohybrid-mbr", isolinuxDir + "/isohdpfx.bin"}},
	// With a hybrid GPT, as isohybrid --uefi makes.
	{name: "flatcar-gpt", args: []string{"-isohybrid-mbr", isolinuxDir + "/isohdpfx.bin", "-isohybrid-gpt-basdat"}},
	// An ISO 9660:1999 tree besides primary and Joliet.
	{name: "iso1999", args: []string{"-isohybrid-mbr", isolinuxDir + "/isohdpfx.bin", "-iso-level", "4"}},
}

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			fixture.Skipf(t, "%s not installed (Debian packages xorriso, genisoimage)", tool)
		}
	}
	if _, err := os.Stat(isolinuxDir + "/isolinux.bin"); err != nil {
		fixture.Skipf(t, "isolinux not installed: %v", err)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// makeFlatcarISO builds a small image laid out like Flatcar's live ISO.
func makeFlatcarISO(t *testing.T, l layout, extraFiles int) string {
	t.Helper()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	files := map[string]string{
		"isolinux/isolinux.cfg": "INCLUDE /syslinux/syslinux.cfg\n",
		"syslinux/syslinux.cfg": "default flatcar\nprompt 1\ntimeout 15\n\nlabel flatcar\n  menu default\n  kernel /flatcar/vmlinuz\n  append initrd=/flatcar/cpio.gz flatcar.autologin\n",
		"flatcar/vmlinuz":       strings.Repeat("kernel", 1000),
		"flatcar/cpio.gz":       strings.Repeat("initrd", 3000),
		"boot/grub/grub.cfg":    "menuentry 'Flatcar' {\n\tlinux /flatcar/vmlinuz flatcar.autologin\n\tinitrd /flatcar/cpio.gz\n}\n",
	}
	for i := 0; i < extraFiles; i++ {
		files[filepath.Join("flatcar", "extra-file-with-a-long-name-"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26))+".txt")] = "x"
	}
	for name, data := range files {
		p := filepath.Join(tree, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"isolinux.bin", "ldlinux.c32"} {
		src := isolinuxDir + "/" + f
		if f == "ldlinux.c32" {
			src = "/usr/lib/syslinux/modules/bios/ldlinux.c32"
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(tree, "isolinux", f), data, 0o644)
	}
	out := filepath.Join(dir, l.name+".iso")
	args := []string{"-as", "mkisofs", "-quiet", "-l", "-r", "-J", "-o", out,
		"-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table"}
	args = append(args, l.args...)
	if l.esp {
		esp := filepath.Join(dir, "esp.img")
		run(t, "mkfs.vfat", "-C", esp, "1024")
		args = append(args, "-append_partition", "2", "0xef", esp, "-eltorito-alt-boot", "-e", "--interval:appended_partition_2:all::", "-no-emul-boot")
	}
	args = append(args, "--modification-date=2026010100000000", tree)
	run(t, "xorriso", args...)
	return out
}

func openImage(t *testing.T, path string) (*os.File, *remaster.Image) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	im, err := remaster.Open(f, st.Size())
	if err != nil {
		t.Fatalf("Open %s: %v", path, err)
	}
	return f, im
}

func write(t *testing.T, ov *overlay.Image, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := ov.WriteTo(f); err != nil {
		t.Fatal(err)
	}
}

func sum(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

func flatcarChange() remaster.Change {
	return remaster.Change{
		Initrd: bytes.Repeat([]byte("extra initramfs "), 700),
		Args: func(e bootcfg.Entry, args string) (string, error) {
			return args + " flatcar.first_boot=1", nil
		},
		Description: remaster.Description{OS: "flatcar", Initrd: "/flatcar/isobuild.img"},
	}
}

// checkXorriso fails on any warning xorriso reports about the image.
func checkXorriso(t *testing.T, path string) string {
	t.Helper()
	out := run(t, "xorriso", "-abort_on", "NEVER", "-return_with", "SORRY", "0", "-indev", path, "-report_el_torito", "plain", "-report_system_area", "plain", "-find", "/", "-exec", "report_lba", "--")
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "WARNING") || strings.Contains(line, "FAILURE") || strings.Contains(line, "SORRY") {
			t.Errorf("xorriso on %s: %s", filepath.Base(path), line)
		}
	}
	return out
}

func TestRemasterLayouts(t *testing.T) {
	need(t, "xorriso", "isoinfo", "mkfs.vfat")
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			base := makeFlatcarISO(t, l, 0)
			baseSum := sum(t, base)
			_, im := openImage(t, base)
			if !im.Flatcar() {
				t.Fatalf("not recognised as Flatcar; entries %+v", im.Entries())
			}
			if len(im.Entries()) < 2 {
				t.Fatalf("entries: %+v, want the syslinux and the GRUB one", im.Entries())
			}
			c := flatcarChange()
			c.Files = []remaster.File{{Path: "/flatcar/notes.txt", Data: []byte("a new file\n")}}
			ov, err := im.Overlay(c)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out.iso")
			write(t, ov, out)
			if sum(t, base) != baseSum {
				t.Fatal("the base image changed")
			}

			// Same inputs, same bytes.
			ov2, err := im.Overlay(c)
			if err != nil {
				t.Fatal(err)
			}
			out2 := filepath.Join(t.TempDir(), "out2.iso")
			write(t, ov2, out2)
			if sum(t, out) != sum(t, out2) {
				t.Error("two remasters of the same image differ")
			}

			report := checkXorriso(t, out)
			for _, want := range []string{"/flatcar/isobuild.img", "/flatcar/notes.txt", "/syslinux/syslinux.cfg"} {
				if !strings.Contains(report, want) {
					t.Errorf("xorriso does not list %s:\n%s", want, report)
				}
			}
			// Every tree, as isoinfo reads it. xorriso keeps the case of
			// ISO 9660 names or upper-cases them, depending on the
			// options; the editor follows the siblings.
			extract := func(mode []string, path string) string {
				args := append([]string{"-i", out}, mode...)
				if len(mode) > 0 {
					return run(t, "isoinfo", append(args, "-x", path)...)
				}
				for _, p := range []string{path + ";1", strings.ToUpper(path) + ";1"} {
					if got := run(t, "isoinfo", append(args, "-x", p)...); got != "" {
						return got
					}
				}
				return ""
			}
			for _, mode := range [][]string{{"-R"}, {"-J"}, {}} {
				if got := extract(mode, "/flatcar/isobuild.img"); got != string(c.Initrd) {
					t.Errorf("isoinfo %v: the extra initramfs is %d bytes, want %d; listing:\n%s", mode, len(got), len(c.Initrd), run(t, "isoinfo", append(append([]string{"-i", out}, mode...), "-l")...))
				}
				if got := extract(mode, "/syslinux/syslinux.cfg"); !strings.Contains(got, "append initrd=/flatcar/cpio.gz,/flatcar/isobuild.img flatcar.autologin flatcar.first_boot=1\n") {
					t.Errorf("isoinfo %v: syslinux.cfg is\n%s", mode, got)
				}
			}
			grub := run(t, "isoinfo", "-i", out, "-R", "-x", "/boot/grub/grub.cfg")
			if !strings.Contains(grub, "initrd /flatcar/cpio.gz /flatcar/isobuild.img\n") || !strings.Contains(grub, "linux /flatcar/vmlinuz flatcar.autologin flatcar.first_boot=1\n") {
				t.Errorf("grub.cfg is\n%s", grub)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			sys, err := sysarea.Read(f, st.Size())
			if err != nil {
				t.Fatal(err)
			}
			if err := sys.Verify(); err != nil {
				t.Errorf("partition tables: %v", err)
			}
			if _, err := exec.LookPath("sfdisk"); err == nil && sys.MBR != nil {
				if v, err := exec.Command("sfdisk", "-V", out).CombinedOutput(); err != nil {
					t.Errorf("sfdisk -V: %v\n%s", err, v)
				}
			}
			// The record makes the image recognisable and resettable.
			_, again := openImage(t, out)
			rec := again.Record()
			if rec == nil {
				t.Fatal("no reset record in the output")
			}
			if rec.Description.OS != "flatcar" || rec.BaseSize != int64(len(mustRead(t, base))) {
				t.Errorf("record %+v", rec)
			}
			if _, err := again.Overlay(c); err != remaster.ErrCustomized {
				t.Errorf("customizing a customized image: %v, want ErrCustomized", err)
			}
			reset, err := again.Reset()
			if err != nil {
				t.Fatal(err)
			}
			resetPath := filepath.Join(t.TempDir(), "reset.iso")
			write(t, reset, resetPath)
			if sum(t, resetPath) != baseSum {
				t.Error("iso reset is not byte-identical to the base")
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// An image whose volume is partition 1 at a partition offset, followed by
// an appended ESP, is remastered with the ESP moved behind the new data
// and resets to the base (the Ubuntu-style tests in ubuntustyle_test.go
// check the layout in detail).
func TestRemasterPartitionOffset(t *testing.T) {
	need(t, "xorriso", "mkfs.vfat")
	base := makeFlatcarISO(t, layout{name: "partition-offset", args: []string{"-partition_offset", "16", "-appended_part_as_gpt"}, esp: true}, 0)
	_, im := openImage(t, base)
	if len(im.Trees) != 4 {
		t.Errorf("%d trees, want primary and Joliet, twice", len(im.Trees))
	}
	ov, err := im.Overlay(flatcarChange())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.iso")
	write(t, ov, out)
	checkXorriso(t, out)
	_, again := openImage(t, out)
	reset, err := again.Reset()
	if err != nil {
		t.Fatal(err)
	}
	resetPath := filepath.Join(t.TempDir(), "reset.iso")
	write(t, reset, resetPath)
	if sum(t, resetPath) != sum(t, base) {
		t.Error("reset is not byte-identical to the base")
	}
}

// A directory that has no room for one more record is moved.
func TestRemasterFullDirectory(t *testing.T) {
	need(t, "xorriso", "isoinfo")
	for n := 20; n <= 60; n += 8 {
		base := makeFlatcarISO(t, layouts[0], n)
		_, im := openImage(t, base)
		ov, err := im.Overlay(flatcarChange())
		if err != nil {
			t.Fatalf("%d files: %v", n, err)
		}
		out := filepath.Join(t.TempDir(), "out.iso")
		write(t, ov, out)
		checkXorriso(t, out)
		for _, mode := range []string{"-R", "-J"} {
			if got := run(t, "isoinfo", "-i", out, mode, "-x", "/flatcar/isobuild.img"); len(got) != 700*16 {
				t.Errorf("%d files, isoinfo %s: extra initramfs of %d bytes", n, mode, len(got))
			}
		}
		run(t, "isoinfo", "-i", out, "-p")
	}
}

// Images whose integrity data would silently go stale are refused: a UDF
// bridge. (An implanted media checksum is recomputed: isomd5_test.go.)
func TestRemasterIntegrity(t *testing.T) {
	need(t, "genisoimage")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "syslinux"), 0o755)
	os.MkdirAll(filepath.Join(tree, "flatcar"), 0o755)
	os.WriteFile(filepath.Join(tree, "syslinux", "syslinux.cfg"), []byte("label flatcar\n  kernel /flatcar/vmlinuz\n  append initrd=/flatcar/cpio.gz\n"), 0o644)
	os.WriteFile(filepath.Join(tree, "flatcar", "vmlinuz"), []byte("k"), 0o644)
	os.WriteFile(filepath.Join(tree, "flatcar", "cpio.gz"), []byte("i"), 0o644)
	udf := filepath.Join(dir, "udf.iso")
	run(t, "genisoimage", "-quiet", "-r", "-J", "-udf", "-o", udf, tree)
	_, im := openImage(t, udf)
	var ue *remaster.UDFError
	if _, err := im.Overlay(flatcarChange()); !errors.As(err, &ue) {
		t.Errorf("UDF bridge: got %v, want a UDFError", err)
	}
}

// The reset record is trusted only where it was written and only while the
// image is as the remaster left it.
func TestRecordRobustness(t *testing.T) {
	need(t, "xorriso")
	base := makeFlatcarISO(t, layouts[0], 0)
	f, im := openImage(t, base)
	ov, err := im.Overlay(flatcarChange())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.iso")
	write(t, ov, out)
	_, again := openImage(t, out)
	rec := again.Record()
	if rec == nil {
		t.Fatal("no record")
	}
	data := mustRead(t, out)
	recBytes := append([]byte(nil), data[rec.Offset:rec.Offset+2048]...)

	// A copy of the record one sector later (as inside a file of another
	// image) is not a record; neither is garbage after the magic.
	moved := append(append([]byte(nil), data[:len(data)-2048*8]...), make([]byte, 2048*8)...)
	copy(moved[len(moved)-4*2048:], recBytes)
	for i := rec.Offset; i < rec.Offset+2048 && i < int64(len(moved)-4*2048); i++ {
		moved[i] = 0
	}
	for name, img := range map[string][]byte{
		"moved":   moved,
		"garbage": append(append([]byte(nil), mustRead(t, base)...), append([]byte("ISOBUILD REMASTER RECORD v1\n\x00\x00\x00\x00garbage"), make([]byte, 2048-40)...)...),
	} {
		p := filepath.Join(t.TempDir(), name+".iso")
		os.WriteFile(p, img, 0o644)
		r, err := remaster.FindRecord(bytes.NewReader(img), int64(len(img)))
		if err != nil || r != nil {
			t.Errorf("%s: FindRecord = %+v, %v; want no record and no error", name, r, err)
		}
	}

	// An image changed after the remaster (here its MBR) is not reset.
	data[446+12]++
	changed := filepath.Join(t.TempDir(), "changed.iso")
	os.WriteFile(changed, data, 0o644)
	_, im2 := openImage(t, changed)
	if _, err := im2.Reset(); !errors.Is(err, remaster.ErrModified) {
		t.Errorf("reset of a changed image: %v, want ErrModified", err)
	}
	_ = f
}

// An image that boots under UEFI from a configuration inside its EFI image
// (no GRUB entry in the ISO tree) is refused: UEFI boots would miss the
// change.
func TestRemasterUEFIConfigInFAT(t *testing.T) {
	need(t, "xorriso", "mkfs.vfat")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "isolinux"), 0o755)
	os.MkdirAll(filepath.Join(tree, "live"), 0o755)
	os.WriteFile(filepath.Join(tree, "isolinux", "isolinux.cfg"), []byte("label live\n  linux /live/vmlinuz\n  initrd /live/initrd.img\n"), 0o644)
	os.WriteFile(filepath.Join(tree, "live", "vmlinuz"), []byte("k"), 0o644)
	os.WriteFile(filepath.Join(tree, "live", "initrd.img"), []byte("i"), 0o644)
	bin, _ := os.ReadFile(isolinuxDir + "/isolinux.bin")
	os.WriteFile(filepath.Join(tree, "isolinux", "isolinux.bin"), bin, 0o644)
	run(t, "mkfs.vfat", "-C", filepath.Join(tree, "efi.img"), "1024")
	out := filepath.Join(dir, "uefi.iso")
	run(t, "xorriso", "-as", "mkisofs", "-quiet", "-r", "-J", "-o", out, "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat",
		"-no-emul-boot", "-boot-load-size", "4", "-boot-info-table", "-eltorito-alt-boot", "-e", "efi.img", "-no-emul-boot", tree)
	_, im := openImage(t, out)
	if _, err := im.Overlay(flatcarChange()); !errors.Is(err, remaster.ErrUEFIConfig) {
		t.Errorf("got %v, want ErrUEFIConfig", err)
	}
	// Files alone do not touch the boot configuration.
	if _, err := im.Overlay(remaster.Change{Files: []remaster.File{{Path: "/user-data", Data: []byte("x")}}}); err != nil {
		t.Errorf("adding a file: %v", err)
	}
}
