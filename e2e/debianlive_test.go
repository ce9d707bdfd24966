//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
)

// The Debian live boot tests: a small ISO laid out like the output of
// Debian's live-build (scripts/make-debian-live-iso.sh: /live/vmlinuz and
// /live/initrd.img, ISOLINUX with isolinux.cfg -> menu.cfg -> live.cfg, GRUB
// with /boot/grub/efi.img and /boot/grub/grub.cfg, an MBR, a GPT and an
// APM). It runs no Ignition: its probe /init (scripts/e2e/init-generic)
// reports the kernel command line and the files the test asks for, which
// an extra initramfs loaded after /live/initrd.img brings along. The base
// image and each customization of it boot in all four modes.

// debianLiveKargs are the arguments of the base image's entries.
var debianLiveKargs = []string{"boot=live", "components", "console=ttyS0,115200n8", "panic=-1"}

// debianLiveVolID is the base image's volume ID.
const debianLiveVolID = "d-live test"

// The base image's boot configs, as make-debian-live-iso.sh writes them.
const (
	debianLiveIsolinuxCfg = "serial 0 115200\ninclude menu.cfg\ndefault live-amd64\nprompt 0\ntimeout 0\n"
	debianLiveMenuCfg     = "menu hshift 0\nmenu width 82\nmenu title Boot menu\ninclude live.cfg\n"
	debianLiveLiveCfg     = "label live-amd64\n\tmenu label ^Live (amd64)\n\tmenu default\n\tlinux /live/vmlinuz\n" +
		"\tinitrd /live/initrd.img\n\tappend boot=live components console=ttyS0,115200n8 panic=-1\n"
	debianLiveGrubCfg = "set default=0\nset timeout=0\necho \"E2E-GRUB: grub.cfg from $prefix\"\n" +
		"menuentry \"Live system (amd64)\" --hotkey=l {\n\tlinux\t/live/vmlinuz boot=live components console=ttyS0,115200n8 panic=-1\n" +
		"\tinitrd\t/live/initrd.img\n}\n"
)

// debianLiveBaseFiles are the regular files of the base image (xorriso
// lists the El Torito catalog /isolinux/boot.cat apart).
var debianLiveBaseFiles = []string{
	"/.disk/info", "/EFI/boot/bootx64.efi", "/boot/grub/efi.img", "/boot/grub/grub.cfg",
	"/isolinux/isolinux.bin", "/isolinux/isolinux.cfg", "/isolinux/ldlinux.c32", "/isolinux/live.cfg",
	"/isolinux/menu.cfg", "/live/initrd.img", "/live/vmlinuz",
}

// The files that the customizations deliver by an extra initramfs: a file,
// and the list that makes the probe report it (and a path that must be
// missing).
var (
	debianLiveHello     = []byte("hello from the isobuild extra initramfs\n")
	debianLiveFileList  = []byte("/etc/isobuild-e2e-hello\n/etc/isobuild-e2e-absent\n")
	debianLiveUserData  = []byte("#cloud-config\nhostname: isobuild-e2e\n")
	debianLiveTestKarg  = "isobuild.test=1"
	debianLiveWantFiles = map[string][]byte{"/etc/isobuild-e2e-hello": debianLiveHello, "/etc/isobuild-e2e-absent": nil}
)

// debianLiveWant is what booting one Debian live image must show, in every
// mode.
type debianLiveWant struct {
	expected                   // the checks shared with the CoreOS tests (bootProblems)
	files    map[string][]byte // E2E-FILE paths; nil contents: must be missing
	// extraFile says which files besides debianLiveBaseFiles the image may
	// hold; nil: none.
	extraFile func(p string) bool
	// isoFiles must be in the ISO 9660 tree with these contents (read with
	// isoinfo -R -x).
	isoFiles map[string][]byte
	// initrd is the BIOS initrd= argument; "" checks only that
	// /live/initrd.img comes first.
	initrd string
	// pristine: the image is make-debian-live-iso.sh's own; its configs
	// are checked byte for byte, its command line exactly.
	pristine bool
}

// A debianLiveCustomization makes one image from the Debian live base ISO.
type debianLiveCustomization struct {
	name string
	make func(t *testing.T, s *suite, base, dir string) debianLiveWant
}

var debianLiveCustomizations = []debianLiveCustomization{
	{name: "xorriso-remaster", make: debianLiveRemaster},
	{name: "isobuild-generic", make: debianLiveIsobuildGeneric},
}

// debianLiveRemaster rebuilds the base ISO with xorriso, by hand, the way
// isobuild's generic customization is meant to: /live/isobuild.img, a gzip
// newc cpio with the file list and a file, appended to the initrd lines of
// live.cfg and grub.cfg, and isobuild.test=1 added to both argument lines.
// It proves that the harness sees files and arguments delivered that way.
func debianLiveRemaster(t *testing.T, s *suite, base, dir string) debianLiveWant {
	root := filepath.Join(dir, "remaster-initrd")
	for p, data := range map[string][]byte{
		"etc/isobuild-e2e-hello": debianLiveHello,
		"etc/isobuild-e2e-files": debianLiveFileList,
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img := filepath.Join(dir, "remaster-isobuild.img")
	runOut(t, root, "bash", "-c", `set -o pipefail; find etc | sort | cpio -o -H newc -R 0:0 --quiet | gzip -n > "$1"`, "bash", img)

	edit := func(isoPath string, repl ...string) string {
		local := filepath.Join(dir, "remaster-"+filepath.Base(isoPath))
		extractFromISO(t, base, isoPath, local)
		cfg, err := os.ReadFile(local)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(repl); i += 2 {
			if bytes.Count(cfg, []byte(repl[i])) != 1 {
				t.Fatalf("%s: %s has no single %q:\n%s", base, isoPath, repl[i], cfg)
			}
			cfg = bytes.Replace(cfg, []byte(repl[i]), []byte(repl[i+1]), 1)
		}
		if err := os.WriteFile(local, cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		return local
	}
	// e2e.files= names the delivered file again (the probe reports it
	// once) and one that must be missing.
	added := []string{debianLiveTestKarg, "e2e.files=/etc/isobuild-e2e-hello,/etc/isobuild-e2e-karg-absent"}
	args := " " + strings.Join(debianLiveKargs, " ")
	more := " " + strings.Join(added, " ")
	liveCfg := edit("/isolinux/live.cfg",
		"\tinitrd /live/initrd.img\n", "\tinitrd /live/initrd.img,/live/isobuild.img\n",
		"\tappend"+args+"\n", "\tappend"+args+more+"\n")
	grubCfg := edit("/boot/grub/grub.cfg",
		"\tinitrd\t/live/initrd.img\n", "\tinitrd\t/live/initrd.img /live/isobuild.img\n",
		"/live/vmlinuz"+args+"\n", "/live/vmlinuz"+args+more+"\n")

	files := maps.Clone(debianLiveWantFiles)
	files["/etc/isobuild-e2e-karg-absent"] = nil
	iso := filepath.Join(dir, "xorriso-remaster.iso")
	// (xorriso's own commands write no Joliet tree unless told to, even
	// when the input has one.)
	runOut(t, "", "xorriso", "-indev", base, "-outdev", iso, "-joliet", "on", "-boot_image", "any", "replay",
		"-map", img, "/live/isobuild.img", "-map", liveCfg, "/isolinux/live.cfg",
		"-map", grubCfg, "/boot/grub/grub.cfg", "-commit")
	return debianLiveWant{
		expected:  expected{iso: iso, kargs: append(slices.Clone(debianLiveKargs), added...), keyfiles: map[string][]byte{}},
		files:     files,
		extraFile: func(p string) bool { return p == "/live/isobuild.img" },
		initrd:    "/live/initrd.img,/live/isobuild.img",
	}
}

// debianLiveIsobuildGeneric: isobuild build --initrd-file F:/etc/... (twice)
// --iso-file N:/user-data --karg-append isobuild.test=1 -o OUT BASE.
// isobuild chooses where the extra initramfs goes, so any extra file is
// allowed; /live/initrd.img must still come first.
func debianLiveIsobuildGeneric(t *testing.T, s *suite, base, dir string) debianLiveWant {
	in := map[string][]byte{"hello": debianLiveHello, "files": debianLiveFileList, "user-data": debianLiveUserData}
	for name, data := range in {
		if err := os.WriteFile(filepath.Join(dir, "generic-"+name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src := func(name string) string { return filepath.Join(dir, "generic-"+name) }
	iso := filepath.Join(dir, "isobuild-generic.iso")
	args := []string{"build",
		"--initrd-file", src("hello") + ":/etc/isobuild-e2e-hello",
		"--initrd-file", src("files") + ":/etc/isobuild-e2e-files",
		"--iso-file", src("user-data") + ":/user-data",
		"--karg-append", debianLiveTestKarg,
		"-o", iso, base}
	s.isobuildLogged(t, args...)
	return debianLiveWant{
		expected:  expected{iso: iso, kargs: append(slices.Clone(debianLiveKargs), debianLiveTestKarg), keyfiles: map[string][]byte{}},
		files:     debianLiveWantFiles,
		extraFile: func(p string) bool { return true },
		isoFiles:  map[string][]byte{"/user-data": debianLiveUserData},
	}
}

// ---- the base image ---------------------------------------------------------

var debianLiveISO builtISO

// debianLiveBase returns the Debian live base ISO:
// ISOBUILD_E2E_DEBIAN_LIVE_ISO, or the one scripts/make-debian-live-iso.sh
// builds.
func (s *suite) debianLiveBase(t *testing.T) string {
	return debianLiveISO.get(t, s, "ISOBUILD_E2E_DEBIAN_LIVE_ISO", "scripts/make-debian-live-iso.sh", "debian-live-base.iso", "Debian live")
}

func TestDebianLive(t *testing.T) {
	s := getSuite(t)
	base := s.debianLiveBase(t)
	dir := testDir(t)
	ctx := testContext(t)
	t.Run("base", func(t *testing.T) {
		t.Parallel()
		w := debianLiveWant{
			expected: expected{iso: base, kargs: debianLiveKargs, noKargs: []string{debianLiveTestKarg}, keyfiles: map[string][]byte{}},
			files:    map[string][]byte{},
			initrd:   "/live/initrd.img",
			pristine: true,
		}
		for _, p := range debianLiveLayoutProblems(t, base, dir, w) {
			t.Error(p)
		}
		s.debianLiveBoots(t, ctx, dir, "base", w)
	})
	for _, c := range debianLiveCustomizations {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := c.make(t, s, base, dir)
			for _, p := range debianLiveLayoutProblems(t, w.iso, dir, w) {
				t.Error(p)
			}
			s.debianLiveBoots(t, ctx, dir, c.name, w)
		})
	}
}

// debianLiveBoots boots w.iso in every mode at once and checks each report
// against w.
func (s *suite) debianLiveBoots(t *testing.T, ctx context.Context, dir, name string, w debianLiveWant) {
	args := []string{"--expect-config", "none"}
	for _, k := range w.kargs {
		args = append(args, "--expect-karg", k)
	}
	for _, k := range w.noKargs {
		args = append(args, "--reject-karg", k)
	}
	reports := s.bootRow(t, ctx, dir, bootRow{
		scenario: "debian-live/" + name, name: name, modes: modes, timeout: "120", want: w.expected, args: args,
		check: func(t *testing.T, rep bootReport) {
			if !rep.Markers {
				return
			}
			dr, err := parseDebianLiveReport(rep.Stdout)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range debianLiveProblems(w, rep, dr) {
				t.Error(p)
			}
		},
	})
	recordDebianLiveFiles("debian-live/"+name, reports)
}

// recordDebianLiveFiles keeps, for the summary, the E2E-FILE lines of each
// boot (the mode first: the same lines in every mode is the point).
func recordDebianLiveFiles(scenario string, reports []bootReport) {
	var b strings.Builder
	for _, rep := range reports {
		var lines []string
		for _, l := range strings.Split(rep.Stdout, "\n") {
			if strings.HasPrefix(l, "E2E-FILE: ") {
				lines = append(lines, strings.TrimPrefix(l, "E2E-FILE: "))
			}
		}
		if len(lines) == 0 {
			lines = []string{"(none asked for)"}
		}
		fmt.Fprintf(&b, "%s: %s files in the guest: %s\n", scenario, rep.Mode, strings.Join(lines, "; "))
	}
	resultsMu.Lock()
	treeBlocks = append(treeBlocks, b.String())
	resultsMu.Unlock()
}

// ---- the probe's lines ---------------------------------------------------------

// debianLiveReport holds the lines of scripts/e2e/init-generic that
// parseReport does not read.
type debianLiveReport struct {
	Live  string // E2E-LIVE: "boot=<value|absent>"
	Files map[string]probeFile
}

func parseDebianLiveReport(stdout string) (debianLiveReport, error) {
	r := debianLiveReport{Files: map[string]probeFile{}}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		key, val, _ := strings.Cut(line, ": ")
		switch key {
		case "E2E-LIVE":
			r.Live = val
		case "E2E-FILE":
			p, f, err := parseProbeFile(val)
			if err != nil {
				return r, fmt.Errorf("bad line %q: %v", line, err)
			}
			if _, dup := r.Files[p]; dup {
				return r, fmt.Errorf("%s is reported twice", p)
			}
			r.Files[p] = f
		}
	}
	return r, sc.Err()
}

// debianLiveProblems checks one boot's command line and asked-for files
// against w. BIOS boots get their arguments from live.cfg (ISOLINUX adds
// BOOT_IMAGE= and initrd=), UEFI boots from grub.cfg (GRUB adds
// BOOT_IMAGE=).
func debianLiveProblems(w debianLiveWant, rep bootReport, r debianLiveReport) []string {
	var probs []string
	if r.Live != "boot=live" {
		probs = append(probs, fmt.Sprintf("E2E-LIVE %q, want boot=live", r.Live))
	}
	var initrds, rest []string
	bootImage := ""
	for _, k := range rep.Cmdline {
		switch {
		case strings.HasPrefix(k, "initrd="):
			initrds = append(initrds, strings.TrimPrefix(k, "initrd="))
		case strings.HasPrefix(k, "BOOT_IMAGE="):
			bootImage = strings.TrimPrefix(k, "BOOT_IMAGE=")
		default:
			rest = append(rest, k)
		}
	}
	if bootImage != "/live/vmlinuz" {
		probs = append(probs, fmt.Sprintf("BOOT_IMAGE=%q, want /live/vmlinuz", bootImage))
	}
	if rep.Firmware == "bios" {
		switch {
		case len(initrds) != 1:
			probs = append(probs, fmt.Sprintf("BIOS boot with initrd= arguments %q, want one", initrds))
		case w.initrd != "" && initrds[0] != w.initrd:
			probs = append(probs, fmt.Sprintf("initrd=%s, want %s", initrds[0], w.initrd))
		case !strings.HasPrefix(initrds[0]+",", "/live/initrd.img,"):
			probs = append(probs, fmt.Sprintf("initrd=%s does not load /live/initrd.img first", initrds[0]))
		}
	} else if len(initrds) > 0 {
		probs = append(probs, fmt.Sprintf("UEFI boot with initrd= arguments %q (GRUB adds none)", initrds))
	}
	if w.pristine && !slices.Equal(rest, debianLiveKargs) {
		probs = append(probs, fmt.Sprintf("kernel arguments %q, want exactly %q", rest, debianLiveKargs))
	}
	return append(probs, probeFileProblems("asked-for", w.files, r.Files, false)...)
}

// ---- the image layout ------------------------------------------------------

var debianLiveInitrdLine = regexp.MustCompile(`(?m)^\s*initrd\s+(\S+)`)

// debianLiveLayoutProblems checks iso against live-build's layout, read
// with xorriso, isoinfo and from the raw bytes, not with isobuild: the files
// (those of the base, plus what w.extraFile allows, plus w.isoFiles), the
// boot configs, two El Torito entries (BIOS ISOLINUX, UEFI efi.img), the
// MBR, GPT and APM, Rock Ridge and Joliet, and the volume ID.
func debianLiveLayoutProblems(t *testing.T, iso, dir string, w debianLiveWant) []string {
	t.Helper()
	var probs []string
	var files []string
	for _, l := range strings.Split(strings.TrimSpace(string(runOut(t, "", "xorriso", "-indev", iso, "-find", "/", "-type", "f"))), "\n") {
		files = append(files, strings.Trim(l, "'"))
	}
	for _, f := range debianLiveBaseFiles {
		if !slices.Contains(files, f) {
			probs = append(probs, fmt.Sprintf("%s lacks %s", iso, f))
		}
	}
	for _, f := range files {
		if slices.Contains(debianLiveBaseFiles, f) || f == "/isolinux/boot.cat" {
			continue
		}
		if _, ok := w.isoFiles[f]; ok {
			continue
		}
		if w.extraFile == nil || !w.extraFile(f) {
			probs = append(probs, fmt.Sprintf("%s has a file the layout does not allow: %s", iso, f))
		}
	}

	tmp := filepath.Join(dir, filepath.Base(iso)+".layout")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		local := filepath.Join(tmp, strings.ReplaceAll(strings.TrimPrefix(p, "/"), "/", "_"))
		extractFromISO(t, iso, p, local)
		b, err := os.ReadFile(local)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cfgs := map[string]string{}
	for _, p := range []string{"/isolinux/isolinux.cfg", "/isolinux/menu.cfg", "/isolinux/live.cfg", "/boot/grub/grub.cfg"} {
		cfgs[p] = read(p)
	}
	if w.pristine {
		for p, want := range map[string]string{"/isolinux/isolinux.cfg": debianLiveIsolinuxCfg, "/isolinux/menu.cfg": debianLiveMenuCfg,
			"/isolinux/live.cfg": debianLiveLiveCfg, "/boot/grub/grub.cfg": debianLiveGrubCfg} {
			if cfgs[p] != want {
				probs = append(probs, fmt.Sprintf("%s is\n%s\nwant\n%s", p, cfgs[p], want))
			}
		}
	}
	// The include chain and the entry, whatever else a tool changed.
	lines := func(s string) []string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
		return out
	}
	for p, want := range map[string][]string{
		"/isolinux/isolinux.cfg": {"include menu.cfg", "default live-amd64"},
		"/isolinux/menu.cfg":     {"include live.cfg"},
		"/isolinux/live.cfg":     {"label live-amd64", "menu label ^Live (amd64)", "linux /live/vmlinuz"},
	} {
		for _, l := range want {
			if !slices.Contains(lines(cfgs[p]), l) {
				probs = append(probs, fmt.Sprintf("%s lacks the line %q:\n%s", p, l, cfgs[p]))
			}
		}
	}
	for p, sep := range map[string]string{"/isolinux/live.cfg": ",", "/boot/grub/grub.cfg": " "} {
		m := debianLiveInitrdLine.FindAllStringSubmatch(cfgs[p], -1)
		if len(m) != 1 {
			probs = append(probs, fmt.Sprintf("%s has %d initrd lines, want 1:\n%s", p, len(m), cfgs[p]))
			continue
		}
		if first, _, _ := strings.Cut(m[0][1], sep); first != "/live/initrd.img" {
			probs = append(probs, fmt.Sprintf("%s's initrd line loads %s first, want /live/initrd.img", p, first))
		}
	}
	if !regexp.MustCompile(`(?m)^\s*menuentry\s`).MatchString(cfgs["/boot/grub/grub.cfg"]) ||
		!regexp.MustCompile(`(?m)^\s*linux\s+/live/vmlinuz\s+boot=live\s`).MatchString(cfgs["/boot/grub/grub.cfg"]) {
		probs = append(probs, "/boot/grub/grub.cfg has no menuentry with linux /live/vmlinuz boot=live ...:\n"+cfgs["/boot/grub/grub.cfg"])
	}

	report := string(runOut(t, "", "xorriso", "-indev", iso, "-report_el_torito", "plain", "-report_system_area", "plain"))
	var imgs []string
	for _, l := range strings.Split(report, "\n") {
		if m := eltoritoImg.FindStringSubmatch(l); m != nil {
			imgs = append(imgs, m[2]+"/"+m[4])
		}
	}
	if !slices.Equal(imgs, []string{"BIOS/none", "UEFI/none"}) {
		probs = append(probs, fmt.Sprintf("El Torito entries %q, want a BIOS and a UEFI no-emulation entry", imgs))
	}
	for _, want := range []string{"El Torito cat path : /isolinux/boot.cat", "El Torito img path :   1  /isolinux/isolinux.bin",
		"El Torito img path :   2  /boot/grub/efi.img", "MBR partition path :   2  /boot/grub/efi.img",
		"GPT partition path :   2  /boot/grub/efi.img", "APM partition path :   1  /boot/grub/efi.img"} {
		if !strings.Contains(report, want) {
			probs = append(probs, fmt.Sprintf("xorriso does not report %q:\n%s", want, report))
		}
	}
	if m := regexp.MustCompile(`(?m)^System area summary: (.*)$`).FindStringSubmatch(report); m == nil ||
		!strings.Contains(m[1], "MBR isohybrid") || !strings.Contains(m[1], "GPT") || !strings.Contains(m[1], "APM") {
		probs = append(probs, "xorriso's system area summary does not name MBR isohybrid, GPT and APM:\n"+report)
	}

	raw, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) < 0x8028+32 {
		return append(probs, fmt.Sprintf("%s is too small for an ISO 9660 image", iso))
	}
	if raw[510] != 0x55 || raw[511] != 0xaa {
		probs = append(probs, "no MBR signature 55 AA at byte 510")
	}
	if string(raw[512:520]) != "EFI PART" {
		probs = append(probs, "no GPT header at byte 512")
	}
	if string(raw[2048:2050]) != "PM" {
		probs = append(probs, "no Apple partition map entry at byte 2048")
	}
	if vol := strings.TrimRight(string(raw[0x8028:0x8028+32]), " "); vol != debianLiveVolID {
		probs = append(probs, fmt.Sprintf("volume ID %q, want %q", vol, debianLiveVolID))
	}

	// Rock Ridge and Joliet, and the files put into the tree, by isoinfo.
	{
		fixture.NeedTool(t, "isoinfo")
		info := string(runOut(t, "", "isoinfo", "-d", "-i", iso))
		for _, want := range []string{"Rock Ridge signatures version", "Joliet with UCS level 3 found"} {
			if !strings.Contains(info, want) {
				probs = append(probs, fmt.Sprintf("isoinfo -d does not report %q:\n%s", want, info))
			}
		}
		for p, want := range w.isoFiles {
			if got := runOut(t, "", "isoinfo", "-R", "-x", p, "-i", iso); !bytes.Equal(got, want) {
				probs = append(probs, fmt.Sprintf("isoinfo -R -x %s: %q, want %q", p, got, want))
			}
		}
	}
	if w.pristine {
		extractFromISO(t, iso, "/live/initrd.img", filepath.Join(tmp, "initrd.img"))
		list := strings.Fields(string(runOut(t, tmp, "bash", "-c", "set -o pipefail; gzip -dc initrd.img | cpio -t --quiet")))
		for _, want := range []string{"init", "bin/busybox"} {
			if !slices.Contains(list, want) {
				probs = append(probs, fmt.Sprintf("/live/initrd.img lacks %s", want))
			}
		}
		if slices.Contains(list, "etc/isobuild-e2e-files") {
			probs = append(probs, "/live/initrd.img of the base image already has etc/isobuild-e2e-files")
		}
	}
	return probs
}

// TestDebianLiveChecksCatchMismatches feeds debianLiveProblems reports that
// differ from the expectation in one way each. It needs no QEMU.
func TestDebianLiveChecksCatchMismatches(t *testing.T) {
	sum := sha256.Sum256(debianLiveHello)
	hello := probeFile{Mode: 0o644, Size: int64(len(debianLiveHello)), SHA256: hex.EncodeToString(sum[:])}
	w := debianLiveWant{files: debianLiveWantFiles, initrd: "/live/initrd.img,/live/isobuild.img"}
	bios := bootReport{Firmware: "bios", Cmdline: strings.Fields("BOOT_IMAGE=/live/vmlinuz boot=live components console=ttyS0,115200n8 panic=-1 isobuild.test=1 initrd=/live/initrd.img,/live/isobuild.img")}
	uefi := bootReport{Firmware: "uefi", Cmdline: strings.Fields("BOOT_IMAGE=/live/vmlinuz boot=live components console=ttyS0,115200n8 panic=-1 isobuild.test=1")}
	good := func() debianLiveReport {
		return debianLiveReport{Live: "boot=live", Files: map[string]probeFile{"/etc/isobuild-e2e-hello": hello, "/etc/isobuild-e2e-absent": {Missing: true}}}
	}
	for _, rep := range []bootReport{bios, uefi} {
		if p := debianLiveProblems(w, rep, good()); len(p) > 0 {
			t.Fatalf("a matching %s report has problems: %q", rep.Firmware, p)
		}
	}
	text := "E2E-LIVE: boot=live\nE2E-FILE: 644 " + fmt.Sprint(hello.Size) + " " + hello.SHA256 +
		" /etc/isobuild-e2e-hello\nE2E-FILE: missing /etc/isobuild-e2e-absent\n"
	if parsed, err := parseDebianLiveReport(text); err != nil {
		t.Fatal(err)
	} else if p := debianLiveProblems(w, bios, parsed); len(p) > 0 {
		t.Fatalf("the parsed report has problems: %q", p)
	}
	if _, err := parseDebianLiveReport(text + "E2E-FILE: missing /etc/isobuild-e2e-hello\n"); err == nil {
		t.Error("a path reported twice was accepted")
	}
	cmd := func(r bootReport, f func([]string) []string) bootReport {
		r.Cmdline = f(slices.Clone(r.Cmdline))
		return r
	}
	for name, c := range map[string]struct {
		rep bootReport
		r   debianLiveReport
	}{
		"hello missing": {bios, func() debianLiveReport {
			r := good()
			r.Files["/etc/isobuild-e2e-hello"] = probeFile{Missing: true}
			return r
		}()},
		"hello contents": {uefi, func() debianLiveReport {
			r := good()
			r.Files["/etc/isobuild-e2e-hello"] = probeFile{Size: 1, SHA256: "x"}
			return r
		}()},
		"absent present": {uefi, func() debianLiveReport { r := good(); r.Files["/etc/isobuild-e2e-absent"] = hello; return r }()},
		"unreported":     {bios, func() debianLiveReport { r := good(); delete(r.Files, "/etc/isobuild-e2e-hello"); return r }()},
		"extra file":     {bios, func() debianLiveReport { r := good(); r.Files["/etc/other"] = hello; return r }()},
		"not live":       {bios, func() debianLiveReport { r := good(); r.Live = "boot=absent"; return r }()},
		"other kernel":   {cmd(uefi, func(c []string) []string { c[0] = "BOOT_IMAGE=/boot/vmlinuz"; return c }), good()},
		"extra initrd first": {cmd(bios, func(c []string) []string {
			c[len(c)-1] = "initrd=/live/isobuild.img,/live/initrd.img"
			return c
		}), good()},
		"initrd on uefi": {cmd(uefi, func(c []string) []string { return append(c, "initrd=/x") }), good()},
	} {
		if p := debianLiveProblems(w, c.rep, c.r); len(p) == 0 {
			t.Errorf("%s: no problem found", name)
		}
	}
	// The pristine image's command line must be exactly the base arguments.
	pw := debianLiveWant{files: map[string][]byte{}, initrd: "/live/initrd.img", pristine: true}
	base := bootReport{Firmware: "uefi", Cmdline: strings.Fields("BOOT_IMAGE=/live/vmlinuz boot=live components console=ttyS0,115200n8 panic=-1")}
	if p := debianLiveProblems(pw, base, debianLiveReport{Live: "boot=live"}); len(p) > 0 {
		t.Fatalf("the pristine command line has problems: %q", p)
	}
	if p := debianLiveProblems(pw, cmd(base, func(c []string) []string { return append(c, "quiet") }), debianLiveReport{Live: "boot=live"}); len(p) == 0 {
		t.Error("an extra argument on the pristine image: no problem found")
	}
}
