//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
)

// The Ubuntu-style boot tests: a small ISO laid out like Ubuntu's
// (scripts/make-ubuntu-style-iso.sh: /casper/vmlinuz and /casper/initrd,
// GRUB only, the ISO 9660 volume also partition 1 at a partition offset
// with twin trees, the ESP appended as GPT partition 2 that El Torito's
// UEFI entry points at too). Its probe /init (scripts/e2e/init-generic)
// reports the kernel command line and the files an extra initramfs
// brought; its grub.cfg lists /casper as partition 1 shows it (on disk
// boots). The base and an isobuild customization boot in all four modes:
// the customization grows partition 1 over the new files and moves the
// ESP behind them, where UEFI-USB boots find it.

// ubuntuStyleKargs are the arguments of the base image's entry.
var ubuntuStyleKargs = []string{"boot=casper", "console=ttyS0,115200n8", "panic=-1"}

// ubuntuStyleBaseFiles are the regular files of the base image (xorriso
// lists the El Torito catalog /boot.catalog apart).
var ubuntuStyleBaseFiles = []string{
	"/.disk/info", "/.disk/isobuild-ubuntu-style", "/boot/grub/grub.cfg",
	"/boot/grub/i386-pc/eltorito.img", "/casper/initrd", "/casper/vmlinuz",
}

// ubuntuStyleNote is the file put into the ISO tree; its directory exists
// in the base.
var ubuntuStyleNote = []byte("a note in /casper, put there by isobuild\n")

// ubuntuStyleWant is what booting one Ubuntu-style image must show.
type ubuntuStyleWant struct {
	expected
	files map[string][]byte // E2E-FILE paths; nil contents: must be missing
	// isoFiles are the files besides ubuntuStyleBaseFiles, in the
	// whole-disk trees and in partition 1's, with their contents (nil:
	// any).
	isoFiles map[string][]byte
	// part1 are the /casper files that GRUB must list on partition 1 in
	// disk boots.
	part1    []string
	pristine bool
}

var ubuntuStyleISO builtISO

// ubuntuStyleBase returns the Ubuntu-style base ISO:
// ISOBUILD_E2E_UBUNTU_STYLE_ISO, or the one
// scripts/make-ubuntu-style-iso.sh builds.
func (s *suite) ubuntuStyleBase(t *testing.T) string {
	return ubuntuStyleISO.get(t, s, "ISOBUILD_E2E_UBUNTU_STYLE_ISO", "scripts/make-ubuntu-style-iso.sh", "ubuntu-style-base.iso", "Ubuntu-style")
}

func TestUbuntuStyle(t *testing.T) {
	s := getSuite(t)
	base := s.ubuntuStyleBase(t)
	dir := testDir(t)
	t.Run("base", func(t *testing.T) {
		t.Parallel()
		w := ubuntuStyleWant{
			expected: expected{iso: base, kargs: ubuntuStyleKargs, noKargs: []string{debianLiveTestKarg}, keyfiles: map[string][]byte{}},
			files:    map[string][]byte{},
			part1:    []string{"initrd", "vmlinuz"},
			pristine: true,
		}
		for _, p := range ubuntuStyleLayoutProblems(t, base, dir, w) {
			t.Error(p)
		}
		s.ubuntuStyleBoots(t, dir, "base", w)
	})
	t.Run("isobuild-generic", func(t *testing.T) {
		t.Parallel()
		w := ubuntuStyleIsobuild(t, s, base, dir)
		for _, p := range ubuntuStyleLayoutProblems(t, w.iso, dir, w) {
			t.Error(p)
		}
		s.ubuntuStyleBoots(t, dir, "isobuild-generic", w)
	})
}

// ubuntuStyleIsobuild: isobuild build --initrd-file F:/etc/... (twice)
// --iso-file N:/casper/note.txt --iso-file U:/nocloud/user-data (a new
// directory, as for a cloud-init NoCloud seed) --karg-append
// isobuild.test=1 -o OUT BASE.
func ubuntuStyleIsobuild(t *testing.T, s *suite, base, dir string) ubuntuStyleWant {
	in := map[string][]byte{"hello": debianLiveHello, "files": debianLiveFileList, "note": ubuntuStyleNote, "user-data": debianLiveUserData}
	for name, data := range in {
		if err := os.WriteFile(filepath.Join(dir, "ubuntu-"+name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src := func(name string) string { return filepath.Join(dir, "ubuntu-"+name) }
	iso := filepath.Join(dir, "ubuntu-isobuild-generic.iso")
	args := []string{"build",
		"--initrd-file", src("hello") + ":/etc/isobuild-e2e-hello",
		"--initrd-file", src("files") + ":/etc/isobuild-e2e-files",
		"--iso-file", src("note") + ":/casper/note.txt",
		"--iso-file", src("user-data") + ":/nocloud/user-data",
		"--karg-append", debianLiveTestKarg,
		"-o", iso, base}
	s.isobuildLogged(t, args...)
	return ubuntuStyleWant{
		expected: expected{iso: iso, kargs: append(slices.Clone(ubuntuStyleKargs), debianLiveTestKarg), keyfiles: map[string][]byte{}},
		files:    debianLiveWantFiles,
		isoFiles: map[string][]byte{"/casper/note.txt": ubuntuStyleNote, "/nocloud/user-data": debianLiveUserData, "/casper/isobuild.img": nil},
		part1:    []string{"initrd", "isobuild.img", "note.txt", "vmlinuz"},
	}
}

// ubuntuStyleBoots boots w.iso in every mode at once and checks each
// report against w.
func (s *suite) ubuntuStyleBoots(t *testing.T, dir, name string, w ubuntuStyleWant) {
	args := []string{"--expect-config", "none"}
	for _, k := range w.kargs {
		args = append(args, "--expect-karg", k)
	}
	for _, k := range w.noKargs {
		args = append(args, "--reject-karg", k)
	}
	reports := s.bootRow(t, testContext(t), dir, bootRow{
		scenario: "ubuntu-style/" + name, name: "ubuntu-" + name, modes: modes, timeout: "120", want: w.expected, args: args,
		check: func(t *testing.T, rep bootReport) {
			if !rep.Markers {
				return
			}
			r, err := parseDebianLiveReport(rep.Stdout)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ubuntuStyleProblems(w, rep, r) {
				t.Error(p)
			}
		},
	})
	recordDebianLiveFiles("ubuntu-style/"+name, reports)
}

// ubuntuStyleProblems checks one boot's command line, the files the probe
// reports and, for disk boots, what GRUB lists on partition 1.
func ubuntuStyleProblems(w ubuntuStyleWant, rep bootReport, r debianLiveReport) []string {
	var probs []string
	if r.Live != "boot=casper" {
		probs = append(probs, fmt.Sprintf("E2E-LIVE %q, want boot=casper", r.Live))
	}
	var rest []string
	bootImage := ""
	for _, k := range rep.Cmdline {
		switch {
		case strings.HasPrefix(k, "BOOT_IMAGE="):
			bootImage = strings.TrimPrefix(k, "BOOT_IMAGE=")
		case strings.HasPrefix(k, "initrd="):
			probs = append(probs, fmt.Sprintf("GRUB boot with an initrd= argument %q", k))
		default:
			rest = append(rest, k)
		}
	}
	if bootImage != "/casper/vmlinuz" {
		probs = append(probs, fmt.Sprintf("BOOT_IMAGE=%q, want /casper/vmlinuz", bootImage))
	}
	if w.pristine && !slices.Equal(rest, ubuntuStyleKargs) {
		probs = append(probs, fmt.Sprintf("kernel arguments %q, want exactly %q", rest, ubuntuStyleKargs))
	}
	if strings.HasSuffix(rep.Mode, "-usb") {
		var got []string
		for _, l := range rep.Grub {
			if f, ok := strings.CutPrefix(l, "partition 1 has (hd0,gpt1)/casper/"); ok {
				got = append(got, f)
			}
		}
		if !slices.Equal(got, w.part1) {
			probs = append(probs, fmt.Sprintf("GRUB lists /casper of partition 1 as %q, want %q (GRUB lines %q)", got, w.part1, rep.Grub))
		}
	}
	return append(probs, probeFileProblems("asked-for", w.files, r.Files, false)...)
}

// ubuntuStyleLayoutProblems checks iso with xorriso, isoinfo, sgdisk and
// from the raw bytes: the files (of the whole disk and of partition 1),
// the two El Torito entries, the GPT with the ISO, the ESP (holding the
// base's ESP bytes) and no overlaps, and the twin descriptors.
func ubuntuStyleLayoutProblems(t *testing.T, iso, dir string, w ubuntuStyleWant) []string {
	t.Helper()
	var probs []string
	raw, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	report := string(runOut(t, "", "xorriso", "-indev", iso, "-report_el_torito", "plain", "-report_system_area", "plain"))
	for _, want := range []string{"El Torito img path :   1  /boot/grub/i386-pc/eltorito.img", "Partition offset   : 16",
		"GPT partname local :   1  ISO9660", "GPT partname local :   2  Appended2"} {
		if !strings.Contains(report, want) {
			probs = append(probs, fmt.Sprintf("xorriso does not report %q:\n%s", want, report))
		}
	}
	var imgs []string
	for _, l := range strings.Split(report, "\n") {
		if m := eltoritoImg.FindStringSubmatch(l); m != nil {
			imgs = append(imgs, m[2]+"/"+m[4])
		}
	}
	if !slices.Equal(imgs, []string{"BIOS/none", "UEFI/none"}) {
		probs = append(probs, fmt.Sprintf("El Torito entries %q, want a BIOS and a UEFI no-emulation entry", imgs))
	}
	gpt := map[string][2]int64{}
	for _, m := range regexp.MustCompile(`(?m)^GPT start and size :\s+(\d+)\s+(\d+)\s+(\d+)`).FindAllStringSubmatch(report, -1) {
		var start, size int64
		fmt.Sscan(m[2], &start)
		fmt.Sscan(m[3], &size)
		gpt[m[1]] = [2]int64{start, size}
	}
	p1, esp := gpt["1"], gpt["2"]
	if p1[0] != 64 || esp[0] < p1[0]+p1[1] || esp[1] == 0 {
		probs = append(probs, fmt.Sprintf("GPT partitions 1 %v and 2 %v: want the ISO from sector 64, the ESP after it", p1, esp))
	}
	if m := regexp.MustCompile(`(?m)^El Torito boot img :\s+2\s+UEFI\s+\S+\s+\S+\s+\S+\s+\S+\s+\d+\s+(\d+)`).FindStringSubmatch(report); m != nil {
		// The catalog's EFI image is the base's ESP, which stays where it
		// was; the GPT's ESP (moved, in a customization) holds the same
		// bytes.
		var lba int64
		fmt.Sscan(m[1], &lba)
		n := esp[1] * 512
		if lba*2048+n > int64(len(raw)) || (esp[0]*512+n) > int64(len(raw)) ||
			!bytes.Equal(raw[lba*2048:lba*2048+n], raw[esp[0]*512:esp[0]*512+n]) {
			probs = append(probs, fmt.Sprintf("the ESP at sector %d does not hold the El Torito EFI image at LBA %d", esp[0], lba))
		}
	} else {
		probs = append(probs, "xorriso reports no UEFI El Torito image:\n"+report)
	}
	if out := string(runOut(t, "", "sgdisk", "-v", iso)); !strings.Contains(out, "No problems found") {
		probs = append(probs, "sgdisk -v:\n"+out)
	}

	// The files, as xorriso lists the whole disk's trees and as isoinfo
	// lists partition 1 (its bytes cut out).
	part := filepath.Join(dir, filepath.Base(iso)+".part1")
	if p1[1] > 0 {
		if err := os.WriteFile(part, raw[p1[0]*512:(p1[0]+p1[1])*512], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var files []string
	for _, l := range strings.Split(strings.TrimSpace(string(runOut(t, "", "xorriso", "-indev", iso, "-find", "/", "-type", "f"))), "\n") {
		files = append(files, strings.Trim(l, "'"))
	}
	want := slices.Clone(ubuntuStyleBaseFiles)
	for f := range w.isoFiles {
		want = append(want, f)
	}
	slices.Sort(want)
	slices.Sort(files)
	if !slices.Equal(files, want) {
		probs = append(probs, fmt.Sprintf("%s has the files %q, want %q", iso, files, want))
	}
	fixture.NeedTool(t, "isoinfo")
	for _, img := range []string{iso, part} {
		for _, mode := range []string{"-R", "-J"} {
			for f, data := range w.isoFiles {
				got := runOut(t, "", "isoinfo", "-i", img, mode, "-x", f)
				if (data != nil && string(got) != string(data)) || len(got) == 0 {
					probs = append(probs, fmt.Sprintf("isoinfo -i %s %s -x %s: %q", filepath.Base(img), mode, f, got))
				}
			}
			grub := string(runOut(t, "", "isoinfo", "-i", img, mode, "-x", "/boot/grub/grub.cfg"))
			wantInitrd := "\tinitrd\t/casper/initrd\n"
			if !w.pristine {
				wantInitrd = "\tinitrd\t/casper/initrd /casper/isobuild.img\n"
			}
			if !strings.Contains(grub, wantInitrd) || strings.Contains(grub, debianLiveTestKarg) == w.pristine {
				probs = append(probs, fmt.Sprintf("isoinfo -i %s %s: grub.cfg is\n%s", filepath.Base(img), mode, grub))
			}
		}
	}
	return probs
}

// TestUbuntuStyleChecksCatchMismatches feeds ubuntuStyleProblems reports
// that differ from the expectation in one way each. It needs no QEMU.
func TestUbuntuStyleChecksCatchMismatches(t *testing.T) {
	w := ubuntuStyleWant{files: map[string][]byte{"/etc/isobuild-e2e-absent": nil}, part1: []string{"initrd", "isobuild.img", "note.txt", "vmlinuz"}}
	cmdline := strings.Fields("BOOT_IMAGE=/casper/vmlinuz boot=casper console=ttyS0,115200n8 panic=-1 isobuild.test=1")
	var grub []string
	for _, f := range w.part1 {
		grub = append(grub, "partition 1 has (hd0,gpt1)/casper/"+f)
	}
	usb := bootReport{Mode: "uefi-usb", Firmware: "uefi", Cmdline: cmdline, Grub: grub}
	cd := bootReport{Mode: "bios-cd", Firmware: "bios", Cmdline: cmdline}
	good := func() debianLiveReport {
		return debianLiveReport{Live: "boot=casper", Files: map[string]probeFile{"/etc/isobuild-e2e-absent": {Missing: true}}}
	}
	for _, rep := range []bootReport{usb, cd} {
		if p := ubuntuStyleProblems(w, rep, good()); len(p) > 0 {
			t.Fatalf("a matching %s report has problems: %q", rep.Mode, p)
		}
	}
	for name, c := range map[string]struct {
		rep bootReport
		r   debianLiveReport
	}{
		"partition 1 lacks the new file": {bootReport{Mode: "bios-usb", Cmdline: cmdline, Grub: grub[:2]}, good()},
		"no partition 1 listing":         {bootReport{Mode: "uefi-usb", Cmdline: cmdline}, good()},
		"other kernel":                   {bootReport{Mode: "bios-cd", Cmdline: append([]string{"BOOT_IMAGE=/boot/vmlinuz"}, cmdline[1:]...)}, good()},
		"initrd argument":                {bootReport{Mode: "bios-cd", Cmdline: append(slices.Clone(cmdline), "initrd=/casper/initrd")}, good()},
		"not casper":                     {cd, func() debianLiveReport { r := good(); r.Live = "boot=live"; return r }()},
		"absent present": {cd, func() debianLiveReport {
			r := good()
			r.Files["/etc/isobuild-e2e-absent"] = probeFile{Size: 1}
			return r
		}()},
	} {
		if p := ubuntuStyleProblems(w, c.rep, c.r); len(p) == 0 {
			t.Errorf("%s: no problem found", name)
		}
	}
	pw := ubuntuStyleWant{files: map[string][]byte{}, part1: []string{"initrd", "vmlinuz"}, pristine: true}
	base := bootReport{Mode: "bios-cd", Cmdline: strings.Fields("BOOT_IMAGE=/casper/vmlinuz boot=casper console=ttyS0,115200n8 panic=-1")}
	if p := ubuntuStyleProblems(pw, base, debianLiveReport{Live: "boot=casper"}); len(p) > 0 {
		t.Fatalf("the pristine command line has problems: %q", p)
	}
	if p := ubuntuStyleProblems(pw, bootReport{Mode: "bios-cd", Cmdline: cmdline}, debianLiveReport{Live: "boot=casper"}); len(p) == 0 {
		t.Error("an extra argument on the pristine image: no problem found")
	}
}
