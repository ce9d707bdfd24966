package remaster_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/bootcfg"
	"github.com/isobuild/isobuild/pkg/iso"
	"github.com/isobuild/isobuild/pkg/remaster"
	"github.com/isobuild/isobuild/pkg/sysarea"
)

// makeUbuntuStyleISO builds an image with scripts/make-ubuntu-style-iso.sh
// (a stand-in kernel: the image is not booted here) into dir.
func makeUbuntuStyleISO(t *testing.T, dir string) string {
	t.Helper()
	for _, tool := range []string{"xorriso", "grub-mkimage", "mkfs.vfat", "mcopy", "mmd", "cpio", "gzip"} {
		fixture.NeedTool(t, tool)
	}
	for _, f := range []string{"/bin/busybox", "/usr/lib/grub/i386-pc/boot_hybrid.img", "/usr/lib/grub/x86_64-efi/linux.mod"} {
		if _, err := os.Stat(f); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing; .ci/run must install it", f)
			}
			fixture.Skipf(t, "%s is missing (grub-pc-bin, grub-efi-amd64-bin, busybox-static)", f)
		}
	}
	kernel := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(kernel, bytes.Repeat([]byte("not a kernel "), 20000), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "ubuntu-style.iso")
	cmd := exec.Command("../../scripts/make-ubuntu-style-iso.sh", out)
	cmd.Env = append(os.Environ(), "ISOBUILD_E2E_VMLINUZ="+kernel, "TMPDIR="+dir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make-ubuntu-style-iso.sh: %v\n%s", err, b)
	}
	return out
}

// cutPartition copies the bytes of GPT partition index (0-based) of the
// image at path into a file of its own and returns the path: the view of
// a program that reads the partition, such as the kernel through /dev/sdX1.
func cutPartition(t *testing.T, path string, l *sysarea.Layout, index int) string {
	t.Helper()
	for _, p := range l.GPT.Partitions {
		if p.Index != index {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		out := filepath.Join(t.TempDir(), "part.img")
		w, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		n := int64(p.Last-p.First+1) * sysarea.SectorSize
		if _, err := io.Copy(w, io.NewSectionReader(f, int64(p.First)*sysarea.SectorSize, n)); err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Fatalf("no GPT partition %d", index+1)
	return ""
}

func readLayout(t *testing.T, path string) (*sysarea.Layout, []byte) {
	t.Helper()
	data := mustRead(t, path)
	l, err := sysarea.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return l, data
}

func gptPart(t *testing.T, l *sysarea.Layout, index int) sysarea.GPTPartition {
	t.Helper()
	for _, p := range l.GPT.Partitions {
		if p.Index == index {
			return p
		}
	}
	t.Fatalf("no GPT partition %d", index+1)
	return sysarea.GPTPartition{}
}

// An image laid out like Ubuntu's (partition offset 16, twin trees, GRUB
// only, the ESP appended as GPT partition 2 and El Torito's UEFI entry)
// is remastered with partition 1 grown over the new files and the ESP
// moved behind them; its tables, trees and partition-1 view are checked
// with xorriso, isoinfo, sgdisk, fdisk and mtools, and it resets to the
// base byte for byte.
func TestUbuntuStyle(t *testing.T) {
	dir := t.TempDir()
	base := makeUbuntuStyleISO(t, dir)
	baseData := mustRead(t, base)
	_, im := openImage(t, base)
	if off := im.System.PartitionOffset(); off != 32768 {
		t.Fatalf("partition offset %d, want 32768", off)
	}
	if len(im.Trees) != 4 {
		t.Fatalf("%d trees, want primary and Joliet, twice", len(im.Trees))
	}
	oldSys, _ := readLayout(t, base)
	oldESP := gptPart(t, oldSys, 1)

	c := remaster.Change{
		Initrd: bytes.Repeat([]byte("extra initramfs "), 5000),
		Args: func(e bootcfg.Entry, args string) (string, error) {
			return args + " isobuild.test=1", nil
		},
		Files: []remaster.File{{Path: "/casper/note.txt", Data: []byte("a new file in an existing directory\n")}},
	}
	ov, err := im.Overlay(c)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.iso")
	write(t, ov, out)
	ov2, err := im.Overlay(c)
	if err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(dir, "out2.iso")
	write(t, ov2, out2)
	if sum(t, out) != sum(t, out2) {
		t.Error("two remasters of the same image differ")
	}
	initrdPath, err := im.InitrdPath(c)
	if err != nil {
		t.Fatal(err)
	}
	if initrdPath != "/casper/isobuild.img" {
		t.Errorf("extra initramfs at %s, want /casper/isobuild.img", initrdPath)
	}
	newFiles := []string{initrdPath, "/casper/note.txt"}

	t.Run("tables", func(t *testing.T) {
		l, data := readLayout(t, out)
		if err := l.Verify(); err != nil {
			t.Errorf("Verify: %v", err)
		}
		if err := l.NewOverlaps(nil); err != nil {
			t.Errorf("partitions overlap: %v", err)
		}
		if len(l.GPT.Partitions) != len(oldSys.GPT.Partitions) {
			t.Fatalf("%d GPT partitions, want %d", len(l.GPT.Partitions), len(oldSys.GPT.Partitions))
		}
		p1, esp := gptPart(t, l, 0), gptPart(t, l, 1)
		twin := im.Trees[len(im.Trees)-1]
		vol := int64(binaryLE32(data[twin.Descriptor+80:]))*2048 + twin.Base
		if p1.First != 64 || int64(p1.Last+1)*512 != vol {
			t.Errorf("partition 1 is %d..%d, want 64 up to the twin volume end %d", p1.First, p1.Last, vol/512)
		}
		if esp.First*512 < uint64(vol) || esp.Last-esp.First != oldESP.Last-oldESP.First || esp.GUID != oldESP.GUID || esp.Type != oldESP.Type {
			t.Errorf("ESP %+v, want %+v moved behind the volume end %d", esp, oldESP, vol)
		}
		if esp.First%4 != oldESP.First%4 {
			t.Errorf("ESP at sector %d lost the 2048-byte alignment of %d", esp.First, oldESP.First)
		}
		n := (oldESP.Last - oldESP.First + 1) * 512
		if !bytes.Equal(data[esp.First*512:esp.First*512+n], baseData[oldESP.First*512:oldESP.First*512+n]) {
			t.Error("partition 2 does not hold the ESP's bytes")
		}
		// The old ESP, where El Torito's UEFI entry points, is unchanged.
		if !bytes.Equal(data[oldESP.First*512:oldESP.First*512+n], baseData[oldESP.First*512:oldESP.First*512+n]) {
			t.Error("the old ESP bytes changed")
		}
		if mdir := run(t, fixture.NeedTool(t, "mdir"), "-i", out+"@@"+strconv.FormatUint(esp.First*512, 10), "::/EFI/BOOT"); !strings.Contains(mdir, "BOOTX64") {
			t.Errorf("mdir on the moved ESP:\n%s", mdir)
		}
		if v := run(t, fixture.NeedTool(t, "sgdisk"), "-v", out); !strings.Contains(v, "No problems found") {
			t.Errorf("sgdisk -v:\n%s", v)
		}
		fd := exec.Command(fixture.NeedTool(t, "fdisk"), "-l", out)
		b, err := fd.CombinedOutput()
		if err != nil || strings.Contains(strings.ToLower(string(b)), "warning") || strings.Contains(string(b), "overlap") {
			t.Errorf("fdisk -l: %v\n%s", err, b)
		}
		report := checkXorriso(t, out)
		for _, want := range []string{"El Torito boot img :   2  UEFI", "El Torito img path :   1  /boot/grub/i386-pc/eltorito.img"} {
			if !strings.Contains(report, want) {
				t.Errorf("xorriso does not report %q:\n%s", want, report)
			}
		}
	})

	t.Run("trees", func(t *testing.T) {
		report := run(t, "xorriso", "-indev", out, "-report_el_torito", "plain", "-find", "/")
		for _, line := range strings.Split(report, "\n") {
			if strings.Contains(line, "WARNING") || strings.Contains(line, "SORRY") {
				t.Errorf("xorriso: %s", line)
			}
		}
		for _, f := range newFiles {
			if !strings.Contains(report, "'"+f+"'") {
				t.Errorf("xorriso -find / does not list %s:\n%s", f, report)
			}
		}
		fixture.NeedTool(t, "isoinfo")
		for _, mode := range []string{"-R", "-J", "-l"} {
			list := strings.ToLower(run(t, "isoinfo", "-i", out, "-l", mode))
			for _, f := range []string{"isobuild.img", "note.txt"} {
				if !strings.Contains(list, f) {
					t.Errorf("isoinfo -l %s does not list %s:\n%s", mode, f, list)
				}
			}
		}
		if got := run(t, "isoinfo", "-i", out, "-J", "-x", "/casper/note.txt"); got != string(c.Files[0].Data) {
			t.Errorf("isoinfo -J -x /casper/note.txt: %q", got)
		}
	})

	t.Run("partition-1-view", func(t *testing.T) {
		l, _ := readLayout(t, out)
		part := cutPartition(t, out, l, 0)
		for _, mode := range []string{"-R", "-J"} {
			if got := run(t, "isoinfo", "-i", part, mode, "-x", "/casper/note.txt"); got != string(c.Files[0].Data) {
				t.Errorf("partition 1, isoinfo %s -x /casper/note.txt: %q", mode, got)
			}
			if got := run(t, "isoinfo", "-i", part, mode, "-x", initrdPath); got != string(c.Initrd) {
				t.Errorf("partition 1, isoinfo %s: the extra initramfs is %d bytes, want %d", mode, len(got), len(c.Initrd))
			}
			grub := run(t, "isoinfo", "-i", part, mode, "-x", "/boot/grub/grub.cfg")
			if !strings.Contains(grub, "initrd\t/casper/initrd "+initrdPath+"\n") || !strings.Contains(grub, "isobuild.test=1") {
				t.Errorf("partition 1, isoinfo %s: grub.cfg is\n%s", mode, grub)
			}
		}
		// The same view through package iso.
		data := mustRead(t, part)
		pim, err := iso.Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		trees, err := pim.Trees()
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range trees {
			e, err := tr.Lookup("/casper/note.txt")
			if err != nil {
				t.Errorf("%s tree of partition 1: %v", tr.Kind, err)
				continue
			}
			if got := data[e.Offset : e.Offset+e.Length]; !bytes.Equal(got, c.Files[0].Data) {
				t.Errorf("%s tree of partition 1: note.txt is %q", tr.Kind, got)
			}
		}
		run(t, "xorriso", "-indev", part, "-find", "/casper/note.txt")
	})

	t.Run("reset", func(t *testing.T) {
		f, again := openImage(t, out)
		st, _ := f.Stat()
		rec := again.Record()
		if rec == nil {
			t.Fatal("Open of the output found no reset record")
		}
		// The record lies before the moved ESP, farther from the end than
		// the search window at the end covers.
		if st.Size()-rec.Offset <= 4<<20 {
			t.Errorf("record at %d of %d: the test does not exercise the search before partitions", rec.Offset, st.Size())
		}
		reset, err := again.Reset()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "reset.iso")
		write(t, reset, p)
		if !bytes.Equal(mustRead(t, p), baseData) {
			t.Error("reset is not byte-identical to the base")
		}
	})
}

func binaryLE32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
