//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Flatcar boot tests: a small ISO laid out like Flatcar's
// (scripts/make-flatcar-iso.sh: ISOLINUX only, an isohybrid MBR, no EFI),
// whose probe /init (scripts/e2e/init-flatcar) does what Flatcar's
// bootengine does with Ignition on a live boot. The base image and each
// customization of it boot in bios-cd and bios-usb; UEFI does not apply,
// as the image has no EFI boot entry.

// flatcarModes are the modes every Flatcar image boots in.
var flatcarModes = []string{"bios-cd", "bios-usb"}

// flatcarSyslinuxCfg is the base image's /syslinux/syslinux.cfg: Flatcar's,
// with prompt 0 (no wait) and a serial console and panic=-1 appended.
const flatcarSyslinuxCfg = `default flatcar
prompt 0
timeout 15
label flatcar
  menu default
  kernel /flatcar/vmlinuz
  append initrd=/flatcar/cpio.gz flatcar.autologin console=ttyS0,115200n8 panic=-1
`

// flatcarBaseFiles are the regular files of the base image (the El Torito
// catalog /isolinux/boot.cat is listed apart by xorriso).
var flatcarBaseFiles = []string{
	"/flatcar/cpio.gz", "/flatcar/vmlinuz",
	"/isolinux/isolinux.bin", "/isolinux/isolinux.cfg", "/isolinux/ldlinux.c32",
	"/syslinux/syslinux.cfg",
}

// flatcarBaseKargs are on the command line of every Flatcar image.
var flatcarBaseKargs = []string{"flatcar.autologin", "console=ttyS0,115200n8"}

// flatcarButane is the Butane file of the isobuild-build row.
const flatcarButane = "e2e/testdata/flatcar.bu"

// flatcarWant is what booting one Flatcar image must show, in every mode.
type flatcarWant struct {
	expected           // the checks shared with the CoreOS tests (bootProblems)
	firstBoot   string // the E2E-FIRSTBOOT line, e.g. "1 yes" or "absent no"; "yes" alone: any value that is a first boot
	spec        string // E2E-CONFIG-SPEC, when there is a config
	oem         map[string][]byte
	oemAnyExtra bool              // other files under /usr/share/oem are allowed
	files       map[string][]byte // E2E-FILE paths; nil contents: must be missing
	// extraFile says which files besides flatcarBaseFiles the image may
	// hold; nil: none.
	extraFile func(p string) bool
	// pristine: the image is make-flatcar-iso.sh's own, so its
	// syslinux.cfg, volume ID and cpio.gz are checked exactly.
	pristine bool
}

// A flatcarCustomization makes one image from the Flatcar base ISO.
type flatcarCustomization struct {
	name string
	make func(t *testing.T, s *suite, base, dir string) flatcarWant
}

var flatcarCustomizations = []flatcarCustomization{
	{name: "xorriso-remaster", make: func(t *testing.T, s *suite, base, dir string) flatcarWant {
		return flatcarRemaster(t, base, dir, "flatcar.first_boot=1")
	}},
	{name: "xorriso-first-boot-off", make: func(t *testing.T, s *suite, base, dir string) flatcarWant {
		return flatcarRemaster(t, base, dir, "flatcar.first_boot=0")
	}},
	{name: "isobuild-build", make: flatcarIsobuildBuild},
	{name: "isobuild-installer", make: flatcarIsobuildInstaller},
}

// flatcarTestConfig is the Ignition 3.4.0 config of the xorriso rows: a file
// and an enabled unit.
const flatcarTestConfig = `{"ignition":{"version":"3.4.0"},"storage":{"files":[` +
	`{"path":"/etc/flatcar-e2e.conf","mode":384,"contents":{"source":"data:,hello%20from%20the%20OEM%20initramfs%0A"}}]},` +
	`"systemd":{"units":[{"name":"flatcar-e2e.service","enabled":true,` +
	`"contents":"[Unit]\nDescription=Flatcar e2e\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/true\n\n[Install]\nWantedBy=multi-user.target\n"}]}}`

// flatcarRemaster rebuilds the base ISO with xorriso, the way flatcar.md
// says an ISO is customized: /flatcar/oem.img, a gzip newc cpio with
// usr/share/oem/config.ign (plus a file list for the probe and a file it
// names), appended to the initrd= list of syslinux.cfg, with firstBoot
// added to the kernel arguments.
func flatcarRemaster(t *testing.T, base, dir, firstBoot string) flatcarWant {
	name := strings.NewReplacer(".", "-", "=", "-").Replace(firstBoot)
	root := filepath.Join(dir, name+"-oem")
	extra := []byte("delivered by the OEM initramfs\n")
	for p, data := range map[string][]byte{
		"usr/share/oem/config.ign": []byte(flatcarTestConfig),
		"etc/flatcar-e2e-extra":    extra,
		"etc/isobuild-e2e-files":   []byte("/etc/flatcar-e2e-extra\n"),
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	oem := filepath.Join(dir, name+"-oem.img")
	runOut(t, root, "bash", "-c", "set -o pipefail; find etc usr | sort | cpio -o -H newc -R 0:0 --quiet | gzip -n > \"$1\"", "bash", oem)

	cfgPath := filepath.Join(dir, name+"-syslinux.cfg")
	extractFromISO(t, base, "/syslinux/syslinux.cfg", cfgPath)
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	const old = "append initrd=/flatcar/cpio.gz "
	if bytes.Count(cfg, []byte(old)) != 1 {
		t.Fatalf("%s: /syslinux/syslinux.cfg has no single %q line:\n%s", base, old, cfg)
	}
	newArgs := "initrd=/flatcar/cpio.gz,/flatcar/oem.img " + firstBoot + " e2e.files=/etc/no-such-file"
	cfg = bytes.Replace(cfg, []byte(old), []byte("append "+newArgs+" "), 1)
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(dir, name+".iso")
	runOut(t, "", "xorriso", "-indev", base, "-outdev", iso, "-boot_image", "any", "replay",
		"-map", oem, "/flatcar/oem.img", "-map", cfgPath, "/syslinux/syslinux.cfg", "-commit")

	// The extraction that the isobuild-build row relies on must find the
	// config this row put in.
	if got := flatcarOEMConfig(t, iso, dir); !bytes.Equal(got, []byte(flatcarTestConfig)) {
		t.Fatalf("%s: flatcarOEMConfig found %q, want the config of oem.img", iso, got)
	}
	w := flatcarWant{
		expected: expected{iso: iso, kargs: append(slices.Clone(flatcarBaseKargs), strings.Fields(newArgs)...),
			keyfiles: map[string][]byte{}},
		oem:       map[string][]byte{"/usr/share/oem/config.ign": []byte(flatcarTestConfig)},
		files:     map[string][]byte{"/etc/flatcar-e2e-extra": extra, "/etc/no-such-file": nil},
		extraFile: func(p string) bool { return p == "/flatcar/oem.img" },
	}
	if firstBoot == "flatcar.first_boot=1" {
		tree, err := expectTree([]byte(flatcarTestConfig))
		if err != nil {
			t.Fatal(err)
		}
		w.config, w.tree, w.firstBoot, w.spec = []byte(flatcarTestConfig), tree, "1 yes", "3.4.0 -> 3.3.0"
	} else {
		w.firstBoot = strings.TrimPrefix(firstBoot, "flatcar.first_boot=") + " no"
	}
	return w
}

// flatcarIsobuildBuild: isobuild build --butane e2e/testdata/flatcar.bu -o
// OUT BASE. The expectation comes from the Butane file (read as YAML), the
// config compared with the one that the image's syslinux.cfg loads.
func flatcarIsobuildBuild(t *testing.T, s *suite, base, dir string) flatcarWant {
	iso := filepath.Join(dir, "isobuild-build.iso")
	args := []string{"build", "--butane", flatcarButane, "--karg-append", "isobuild.e2e=flatcar", "-o", iso, base}
	s.isobuildLogged(t, args...)
	src, err := os.ReadFile(filepath.Join(s.root, flatcarButane))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := expectTreeFromFlatcarButane(src, filepath.Join(s.root, "e2e/testdata"))
	if err != nil {
		t.Fatalf("%s: %v", flatcarButane, err)
	}
	config := flatcarOEMConfig(t, iso, dir)
	return flatcarWant{
		expected:    expected{iso: iso, kargs: append(slices.Clone(flatcarBaseKargs), "flatcar.first_boot=1", "isobuild.e2e=flatcar"), config: config, tree: tree, keyfiles: map[string][]byte{}},
		firstBoot:   "1 yes",
		spec:        "3.4.0 -> 3.3.0",
		oem:         map[string][]byte{"/usr/share/oem/config.ign": config},
		oemAnyExtra: true,
		// flatcar.md: the config goes into a file next to cpio.gz.
		extraFile: func(p string) bool { return strings.HasPrefix(p, "/flatcar/") },
	}
}

// flatcarIsobuildInstaller: isobuild build --dest-butane
// e2e/testdata/flatcar.bu --dest-device /dev/vda -o OUT BASE. The live
// system must write the destination config to /opt/isobuild/install.ign and
// enable the unit that runs flatcar-install with it (the probe has no
// flatcar-install to run); the expectation is the generated config's own
// tree, and the destination config is compared with the Butane file's
// translation by isobuild butane.
func flatcarIsobuildInstaller(t *testing.T, s *suite, base, dir string) flatcarWant {
	iso := filepath.Join(dir, "isobuild-installer.iso")
	args := []string{"build", "--dest-butane", flatcarButane, "--dest-device", "/dev/vda", "-o", iso, base}
	out := s.isobuildLogged(t, args...)
	if !bytes.Contains(out, []byte("installs to:          /dev/vda")) {
		t.Errorf("isobuild build does not say where it installs:\n%s", out)
	}
	config := flatcarOEMConfig(t, iso, dir)
	tree, err := expectTree(config)
	if err != nil {
		t.Fatal(err)
	}
	dest, ok := tree.Contents["/opt/isobuild/install.ign"]
	if !ok {
		t.Fatalf("the live config writes no /opt/isobuild/install.ign: %s", config)
	}
	bu := command(testContext(t), s.isobuild, "butane", flatcarButane)
	bu.Dir = s.root
	want, err := bu.Output()
	if err != nil {
		t.Fatalf("isobuild butane %s: %v", flatcarButane, err)
	}
	var gotJSON, wantJSON any
	if err := json.Unmarshal(dest, &gotJSON); err != nil {
		t.Fatalf("/opt/isobuild/install.ign: %v", err)
	}
	if err := json.Unmarshal(want, &wantJSON); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotJSON, wantJSON) {
		t.Errorf("/opt/isobuild/install.ign is\n%s\nwant the translation of %s:\n%s", dest, flatcarButane, want)
	}
	unit, ok := tree.Contents["/etc/systemd/system/isobuild-install.service"]
	if !ok || !bytes.Contains(unit, []byte("ExecStart=/usr/bin/flatcar-install -d /dev/vda -i /opt/isobuild/install.ign\n")) {
		t.Errorf("isobuild-install.service: %q", unit)
	}
	return flatcarWant{
		expected:    expected{iso: iso, kargs: append(slices.Clone(flatcarBaseKargs), "flatcar.first_boot=1"), config: config, tree: tree, keyfiles: map[string][]byte{}},
		firstBoot:   "1 yes",
		spec:        "3.3.0",
		oem:         map[string][]byte{"/usr/share/oem/config.ign": config},
		oemAnyExtra: true,
		extraFile:   func(p string) bool { return strings.HasPrefix(p, "/flatcar/") },
	}
}

// expectTreeFromFlatcarButane is expectTreeFromButane for a variant
// flatcar 1.1.0 file: the storage and systemd fields that the checker
// understands are the same as in fcos 1.4.0, so the header is read as that.
func expectTreeFromFlatcarButane(src []byte, filesDir string) (wantTree, error) {
	lines := strings.Split(string(src), "\n")
	var variant, version bool
	for i, l := range lines {
		switch strings.TrimSpace(l) {
		case "variant: flatcar":
			lines[i], variant = "variant: fcos", true
		case "version: 1.1.0":
			lines[i], version = "version: 1.4.0", true
		}
	}
	if !variant || !version {
		return wantTree{}, fmt.Errorf("want a Butane file with variant: flatcar and version: 1.1.0")
	}
	return expectTreeFromButane([]byte(strings.Join(lines, "\n")), filesDir)
}

// ---- the base image ---------------------------------------------------------

// builtISO is a base ISO that a script builds once per test binary.
type builtISO struct {
	sync.Once
	base string
	err  error
}

// get returns the ISO named by the environment variable env, or the one
// the script (relative to the repository) builds once into the shared work
// directory as name, with the download cache of the other scripts; what
// names the image in messages.
func (b *builtISO) get(t *testing.T, s *suite, env, script, name, what string) string {
	t.Helper()
	b.Do(func() {
		if p := os.Getenv(env); p != "" {
			b.base = p
			return
		}
		start := time.Now()
		out := filepath.Join(s.work, name)
		mk := command(testContext(t), "bash", filepath.Join(s.root, script), out)
		var log bytes.Buffer
		mk.Stdout, mk.Stderr = &log, &log
		if err := mk.Run(); err != nil {
			b.err = fmt.Errorf("%s: %v\n%s", script, err, log.Bytes())
			return
		}
		fmt.Printf("%se2e: built the %s base ISO in %.1fs\n", log.Bytes(), what, time.Since(start).Seconds())
		b.base = out
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.base
}

var flatcarISO builtISO

// flatcarBase returns the Flatcar base ISO: ISOBUILD_E2E_FLATCAR_ISO, or
// the one scripts/make-flatcar-iso.sh builds.
func (s *suite) flatcarBase(t *testing.T) string {
	return flatcarISO.get(t, s, "ISOBUILD_E2E_FLATCAR_ISO", "scripts/make-flatcar-iso.sh", "flatcar-base.iso", "Flatcar")
}

func TestFlatcar(t *testing.T) {
	s := getSuite(t)
	base := s.flatcarBase(t)
	dir := testDir(t)
	ctx := testContext(t)
	t.Run("base", func(t *testing.T) {
		t.Parallel()
		w := flatcarWant{
			expected:  expected{iso: base, kargs: append(slices.Clone(flatcarBaseKargs), "initrd=/flatcar/cpio.gz"), keyfiles: map[string][]byte{}},
			firstBoot: "absent no",
			oem:       map[string][]byte{},
			pristine:  true,
		}
		for _, p := range flatcarLayoutProblems(t, base, dir, w) {
			t.Error(p)
		}
		s.flatcarBoots(t, ctx, dir, "base", w)
	})
	for _, c := range flatcarCustomizations {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := c.make(t, s, base, dir)
			for _, p := range flatcarLayoutProblems(t, w.iso, dir, w) {
				t.Error(p)
			}
			s.flatcarBoots(t, ctx, dir, c.name, w)
		})
	}
}

// flatcarBoots boots w.iso in every Flatcar mode at once and checks each
// report against w.
func (s *suite) flatcarBoots(t *testing.T, ctx context.Context, dir, name string, w flatcarWant) {
	args := []string{"--expect-config", "none"}
	if w.config != nil {
		args = []string{"--expect-config", "present", "--expect-ignition"}
	}
	reports := s.bootRow(t, ctx, dir, bootRow{
		scenario: "flatcar/" + name, name: name, modes: flatcarModes, timeout: "90", want: w.expected, args: args,
		check: func(t *testing.T, rep bootReport) {
			fr, err := parseFlatcarReport(rep.Stdout)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range flatcarProblems(w, fr) {
				t.Error(p)
			}
		},
	})
	if d := diffEntries(reports[0].Entries, reports[1].Entries); d != "" {
		t.Errorf("Ignition wrote different files in %s and %s: %s", flatcarModes[0], flatcarModes[1], d)
	}
}

// ---- the probe's Flatcar lines ---------------------------------------------

// probeFile is one E2E-OEM or E2E-FILE line.
type probeFile struct {
	Missing bool
	Mode    uint32
	Size    int64
	SHA256  string
}

// flatcarReport holds the lines of scripts/e2e/init-flatcar that
// parseReport does not read.
type flatcarReport struct {
	Mode      string // E2E-FLATCAR-MODE: pxe or normal
	FirstBoot string // E2E-FIRSTBOOT: "<value> yes|no"
	Skipped   string // E2E-IGNITION-SKIPPED
	Source    string // E2E-CONFIG-SOURCE
	Spec      string // E2E-CONFIG-SPEC
	OEM       map[string]probeFile
	Files     map[string]probeFile
}

func parseFlatcarReport(stdout string) (flatcarReport, error) {
	r := flatcarReport{OEM: map[string]probeFile{}, Files: map[string]probeFile{}}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		key, val, _ := strings.Cut(line, ": ")
		switch key {
		case "E2E-FLATCAR-MODE":
			r.Mode = val
		case "E2E-FIRSTBOOT":
			r.FirstBoot = val
		case "E2E-IGNITION-SKIPPED":
			r.Skipped = val
		case "E2E-CONFIG-SOURCE":
			r.Source = val
		case "E2E-CONFIG-SPEC":
			r.Spec = val
		case "E2E-OEM", "E2E-FILE":
			p, f, err := parseProbeFile(val)
			if err != nil {
				return r, fmt.Errorf("bad line %q: %v", line, err)
			}
			if key == "E2E-OEM" {
				r.OEM[p] = f
			} else {
				r.Files[p] = f
			}
		}
	}
	return r, sc.Err()
}

// parseProbeFile parses "<mode> <size> <sha256> <path>" or "missing <path>".
func parseProbeFile(s string) (string, probeFile, error) {
	if p, ok := strings.CutPrefix(s, "missing "); ok {
		return p, probeFile{Missing: true}, nil
	}
	f := strings.SplitN(s, " ", 4)
	if len(f) != 4 || !strings.HasPrefix(f[3], "/") {
		return "", probeFile{}, fmt.Errorf("want <mode> <size> <sha256> <path>")
	}
	mode, err1 := strconv.ParseUint(f[0], 8, 32)
	size, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || len(f[2]) != 64 {
		return "", probeFile{}, fmt.Errorf("bad mode, size or sha256")
	}
	return f[3], probeFile{Mode: uint32(mode), Size: size, SHA256: f[2]}, nil
}

// flatcarProblems checks the Flatcar lines of one report against w.
func flatcarProblems(w flatcarWant, r flatcarReport) []string {
	var probs []string
	if r.Mode != "pxe" {
		probs = append(probs, fmt.Sprintf("probe mode %q, want pxe (a live boot: /usr.squashfs in the initramfs, no usr= argument)", r.Mode))
	}
	switch {
	case w.firstBoot == "yes":
		if !strings.HasSuffix(r.FirstBoot, " yes") {
			probs = append(probs, fmt.Sprintf("flatcar.first_boot: %q, want a first boot", r.FirstBoot))
		}
	case r.FirstBoot != w.firstBoot:
		probs = append(probs, fmt.Sprintf("flatcar.first_boot: %q, want %q", r.FirstBoot, w.firstBoot))
	}
	if w.config == nil {
		if !strings.Contains(r.Skipped, "not a first boot") {
			probs = append(probs, fmt.Sprintf("the probe does not say that Ignition did not run for want of a first boot: %q", r.Skipped))
		}
	} else {
		if r.Skipped != "" {
			probs = append(probs, "Ignition was skipped: "+r.Skipped)
		}
		if r.Source != "/usr/share/oem/config.ign" {
			probs = append(probs, fmt.Sprintf("config source %q, want /usr/share/oem/config.ign", r.Source))
		}
		if r.Spec != w.spec {
			probs = append(probs, fmt.Sprintf("config spec %q, want %q", r.Spec, w.spec))
		}
	}
	probs = append(probs, probeFileProblems("/usr/share/oem", w.oem, r.OEM, w.oemAnyExtra)...)
	probs = append(probs, probeFileProblems("asked-for", w.files, r.Files, false)...)
	return probs
}

func probeFileProblems(what string, want map[string][]byte, got map[string]probeFile, anyExtra bool) []string {
	var probs []string
	for p, data := range want {
		g, ok := got[p]
		sum := sha256.Sum256(data)
		switch {
		case !ok:
			probs = append(probs, fmt.Sprintf("%s file %s is not in the report", what, p))
		case data == nil && !g.Missing:
			probs = append(probs, fmt.Sprintf("%s file %s exists, want it missing", what, p))
		case data == nil:
		case g.Missing:
			probs = append(probs, fmt.Sprintf("%s file %s is missing in the guest", what, p))
		case g.Size != int64(len(data)) || g.SHA256 != hex.EncodeToString(sum[:]):
			probs = append(probs, fmt.Sprintf("%s file %s has %d bytes sha256 %.16s…, want %d bytes %.16x…", what, p, g.Size, g.SHA256, len(data), sum))
		}
	}
	if !anyExtra {
		for p := range got {
			if _, ok := want[p]; !ok {
				probs = append(probs, fmt.Sprintf("unexpected %s file %s in the guest", what, p))
			}
		}
	}
	slices.Sort(probs)
	return probs
}

// ---- the image layout ------------------------------------------------------

var eltoritoImg = regexp.MustCompile(`^El Torito boot img :\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)`)

// flatcarLayoutProblems checks iso against Flatcar's layout (flatcar.md
// §2), read with xorriso and from the raw bytes, not with isobuild: the
// files (those of the base, plus what w.extraFile allows), the ISOLINUX
// configs, one BIOS no-emulation El Torito entry, an isohybrid MBR with one
// partition and no GPT or EFI.
func flatcarLayoutProblems(t *testing.T, iso, dir string, w flatcarWant) []string {
	t.Helper()
	var probs []string
	var files []string
	for _, l := range strings.Split(strings.TrimSpace(string(runOut(t, "", "xorriso", "-indev", iso, "-find", "/", "-type", "f"))), "\n") {
		files = append(files, strings.Trim(l, "'"))
	}
	for _, f := range flatcarBaseFiles {
		if !slices.Contains(files, f) {
			probs = append(probs, fmt.Sprintf("%s lacks %s", iso, f))
		}
	}
	for _, f := range files {
		if slices.Contains(flatcarBaseFiles, f) {
			continue
		}
		if w.extraFile == nil || !w.extraFile(f) {
			probs = append(probs, fmt.Sprintf("%s has a file the layout does not allow: %s", iso, f))
		}
	}
	for _, f := range files {
		for _, bad := range []string{"/EFI/", "/coreos/", "/images/", "/boot/grub"} {
			if strings.HasPrefix(strings.ToUpper(f), strings.ToUpper(bad)) {
				probs = append(probs, fmt.Sprintf("%s has %s, which Flatcar's ISO does not", iso, f))
			}
		}
	}

	tmp := filepath.Join(dir, filepath.Base(iso)+".layout")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	extractFromISO(t, iso, "/isolinux/isolinux.cfg", filepath.Join(tmp, "isolinux.cfg"))
	extractFromISO(t, iso, "/syslinux/syslinux.cfg", filepath.Join(tmp, "syslinux.cfg"))
	if b, _ := os.ReadFile(filepath.Join(tmp, "isolinux.cfg")); string(b) != "INCLUDE /syslinux/syslinux.cfg\n" {
		probs = append(probs, fmt.Sprintf("/isolinux/isolinux.cfg is %q, want INCLUDE /syslinux/syslinux.cfg", b))
	}
	cfg, _ := os.ReadFile(filepath.Join(tmp, "syslinux.cfg"))
	if w.pristine && string(cfg) != flatcarSyslinuxCfg {
		probs = append(probs, fmt.Sprintf("/syslinux/syslinux.cfg is\n%s\nwant\n%s", cfg, flatcarSyslinuxCfg))
	}
	for _, l := range []string{"default flatcar", "label flatcar", "kernel /flatcar/vmlinuz"} {
		if !slices.Contains(strings.Split(strings.ReplaceAll(string(cfg), "\n  ", "\n"), "\n"), l) {
			probs = append(probs, fmt.Sprintf("/syslinux/syslinux.cfg lacks the line %q", l))
		}
	}
	if !regexp.MustCompile(`(?m)^  append initrd=/flatcar/cpio\.gz[ ,]`).Match(cfg) {
		probs = append(probs, "/syslinux/syslinux.cfg's append line does not load /flatcar/cpio.gz first")
	}

	report := string(runOut(t, "", "xorriso", "-indev", iso, "-report_el_torito", "plain", "-report_system_area", "plain"))
	var imgs []string
	for _, l := range strings.Split(report, "\n") {
		if m := eltoritoImg.FindStringSubmatch(l); m != nil {
			imgs = append(imgs, m[2]+"/"+m[4])
		}
	}
	if !slices.Equal(imgs, []string{"BIOS/none"}) {
		probs = append(probs, fmt.Sprintf("El Torito entries %q, want one BIOS no-emulation entry", imgs))
	}
	for _, want := range []string{"El Torito cat path : /isolinux/boot.cat", "El Torito img path :   1  /isolinux/isolinux.bin", "MBR isohybrid"} {
		if !strings.Contains(report, want) {
			probs = append(probs, fmt.Sprintf("xorriso does not report %q:\n%s", want, report))
		}
	}
	if strings.Contains(report, "GPT") {
		probs = append(probs, "xorriso reports a GPT:\n"+report)
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
	var parts []string
	for i := 0; i < 4; i++ {
		e := raw[446+16*i : 446+16*i+16]
		if typ := e[4]; typ != 0 {
			parts = append(parts, fmt.Sprintf("%#02x@%d", typ, int64(e[8])|int64(e[9])<<8|int64(e[10])<<16|int64(e[11])<<24))
		}
	}
	if !slices.Equal(parts, []string{"0x17@0"}) {
		probs = append(probs, fmt.Sprintf("MBR partitions %q, want isohybrid's one (type 0x17 from sector 0), no 0xEE/0xEF", parts))
	}
	for _, off := range []int64{512, 2048, int64(len(raw)) - 512} {
		if string(raw[off:off+8]) == "EFI PART" {
			probs = append(probs, fmt.Sprintf("a GPT header at byte %d", off))
		}
	}
	if w.pristine {
		if vol := strings.TrimRight(string(raw[0x8028:0x8028+32]), " "); vol != "CDROM" {
			probs = append(probs, fmt.Sprintf("volume ID %q, want CDROM (mkisofs' default; Flatcar gives no -V)", vol))
		}
		// The probe initramfs: what the boot needs, and Flatcar's usr.squashfs.
		extractFromISO(t, iso, "/flatcar/cpio.gz", filepath.Join(tmp, "cpio.gz"))
		list := strings.Fields(string(runOut(t, tmp, "bash", "-c", "set -o pipefail; gzip -dc cpio.gz | cpio -t --quiet")))
		for _, want := range []string{"init", "bin/busybox", "usr/bin/ignition", "usr/sbin/setfiles", "usr.squashfs"} {
			if !slices.Contains(list, want) {
				probs = append(probs, fmt.Sprintf("/flatcar/cpio.gz lacks %s", want))
			}
		}
	}
	return probs
}

// flatcarOEMConfig returns usr/share/oem/config.ign from the initramfs
// files that iso's syslinux.cfg loads (gzip, xz, zstd or plain newc cpio),
// extracted with xorriso and cpio.
func flatcarOEMConfig(t *testing.T, iso, dir string) []byte {
	t.Helper()
	tmp := filepath.Join(dir, filepath.Base(iso)+".oem")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	extractFromISO(t, iso, "/syslinux/syslinux.cfg", filepath.Join(tmp, "syslinux.cfg"))
	cfg, err := os.ReadFile(filepath.Join(tmp, "syslinux.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*append\s.*?\binitrd=(\S+)`).FindSubmatch(cfg)
	if m == nil {
		t.Fatalf("%s: no initrd= on an append line of /syslinux/syslinux.cfg:\n%s", iso, cfg)
	}
	var found []byte
	// Every member is searched, /flatcar/cpio.gz too (a tool may merge the
	// config into it). cpio reads the first archive of a member only.
	for i, member := range strings.Split(string(m[1]), ",") {
		local := filepath.Join(tmp, fmt.Sprintf("member%d", i))
		extractFromISO(t, iso, member, local)
		out := runOut(t, tmp, "bash", "-c", `set -o pipefail
case $(od -An -tx1 -N 4 "$1" | tr -d ' ') in
  1f8b*) dec='gzip -dc' ;; fd377a58) dec='xz -dc' ;; 28b52ffd) dec='zstd -dc' ;; *) dec=cat ;;
esac
$dec "$1" | cpio -i --quiet --to-stdout usr/share/oem/config.ign`, "bash", local)
		if len(out) > 0 {
			if found != nil {
				t.Fatalf("%s: more than one initramfs carries usr/share/oem/config.ign", iso)
			}
			found = out
		}
	}
	if found == nil {
		t.Fatalf("%s: no initramfs loaded by syslinux.cfg (%s) carries usr/share/oem/config.ign", iso, m[1])
	}
	return found
}

func extractFromISO(t *testing.T, iso, path, to string) {
	t.Helper()
	os.Remove(to)
	runOut(t, "", "xorriso", "-osirrox", "on", "-indev", iso, "-extract", path, to)
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestFlatcarChecksCatchMismatches feeds flatcarProblems reports that
// differ from the expectation in one way each. It needs no QEMU.
func TestFlatcarChecksCatchMismatches(t *testing.T) {
	cfg := []byte(flatcarTestConfig)
	sum := sha256.Sum256(cfg)
	w := flatcarWant{
		expected:  expected{config: cfg},
		firstBoot: "1 yes", spec: "3.4.0 -> 3.3.0",
		oem:   map[string][]byte{"/usr/share/oem/config.ign": cfg},
		files: map[string][]byte{"/etc/gone": nil},
	}
	good := flatcarReport{Mode: "pxe", FirstBoot: "1 yes", Source: "/usr/share/oem/config.ign", Spec: "3.4.0 -> 3.3.0",
		OEM:   map[string]probeFile{"/usr/share/oem/config.ign": {Mode: 0o644, Size: int64(len(cfg)), SHA256: hex.EncodeToString(sum[:])}},
		Files: map[string]probeFile{"/etc/gone": {Missing: true}}}
	if p := flatcarProblems(w, good); len(p) > 0 {
		t.Fatalf("a matching report has problems: %q", p)
	}
	text := "E2E-FLATCAR-MODE: pxe\nE2E-FIRSTBOOT: 1 yes\nE2E-OEM: 644 " + strconv.Itoa(len(cfg)) + " " + hex.EncodeToString(sum[:]) +
		" /usr/share/oem/config.ign\nE2E-FILE: missing /etc/gone\nE2E-CONFIG-SOURCE: /usr/share/oem/config.ign\nE2E-CONFIG-SPEC: 3.4.0 -> 3.3.0\n"
	if parsed, err := parseFlatcarReport(text); err != nil {
		t.Fatal(err)
	} else if p := flatcarProblems(w, parsed); len(p) > 0 {
		t.Fatalf("the parsed report has problems: %q", p)
	}
	clone := func(f func(r *flatcarReport)) flatcarReport {
		r := good
		r.OEM, r.Files = map[string]probeFile{}, map[string]probeFile{}
		for k, v := range good.OEM {
			r.OEM[k] = v
		}
		for k, v := range good.Files {
			r.Files[k] = v
		}
		f(&r)
		return r
	}
	for name, r := range map[string]flatcarReport{
		"normal mode":     clone(func(r *flatcarReport) { r.Mode = "normal" }),
		"no first boot":   clone(func(r *flatcarReport) { r.FirstBoot = "0 no" }),
		"skipped":         clone(func(r *flatcarReport) { r.Skipped = "flatcar.first_boot is absent: not a first boot" }),
		"other source":    clone(func(r *flatcarReport) { r.Source = "/config.ign" }),
		"spec":            clone(func(r *flatcarReport) { r.Spec = "3.3.0" }),
		"oem missing":     clone(func(r *flatcarReport) { delete(r.OEM, "/usr/share/oem/config.ign") }),
		"oem contents":    clone(func(r *flatcarReport) { r.OEM["/usr/share/oem/config.ign"] = probeFile{Size: 1, SHA256: "x"} }),
		"extra oem":       clone(func(r *flatcarReport) { r.OEM["/usr/share/oem/base/base.ign"] = probeFile{} }),
		"file not gone":   clone(func(r *flatcarReport) { r.Files["/etc/gone"] = probeFile{Size: 1} }),
		"file unreported": clone(func(r *flatcarReport) { delete(r.Files, "/etc/gone") }),
	} {
		if p := flatcarProblems(w, r); len(p) == 0 {
			t.Errorf("%s: no problem found", name)
		}
	}
	off := w
	off.config, off.firstBoot = nil, "0 no"
	if p := flatcarProblems(off, clone(func(r *flatcarReport) { r.FirstBoot = "0 no" })); len(p) == 0 {
		t.Error("no first boot without the probe's 'not a first boot': no problem found")
	}
	for _, bad := range []string{"E2E-OEM: 644 x y /a", "E2E-FILE: 644 1 short /a", "E2E-OEM: 644 1 " + strings.Repeat("0", 64) + " rel"} {
		if _, err := parseFlatcarReport(bad + "\n"); err == nil {
			t.Errorf("parseFlatcarReport(%q) succeeded, want an error", bad)
		}
	}
	if _, err := expectTreeFromFlatcarButane([]byte("variant: fcos\nversion: 1.4.0\n"), "."); err == nil {
		t.Error("expectTreeFromFlatcarButane accepted a fcos file")
	}
	src, err := os.ReadFile(filepath.Join("..", flatcarButane))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := expectTreeFromFlatcarButane(src, "testdata")
	if err != nil {
		t.Fatalf("%s: %v", flatcarButane, err)
	}
	for p, mode := range map[string]uint32{
		"/etc/flatcar-e2e/hello.conf":                   0o640,
		"/etc/systemd/system/flatcar-e2e-hello.service": 0o644,
		presetFile: 0o644,
		resultFile: 0o600,
	} {
		if e, ok := tree.Entries[p]; !ok || e.Type != 'f' || e.Mode != mode {
			t.Errorf("%s: %s expectation %+v, want a file with mode %04o", flatcarButane, p, e, mode)
		}
	}
	if len(tree.Entries) != 4 {
		t.Errorf("%s: %d expected entries, want 4: %v", flatcarButane, len(tree.Entries), tree.Entries)
	}
	if got := string(tree.Contents[presetFile]); got != "enable flatcar-e2e-hello.service\n" {
		t.Errorf("%s: preset %q", flatcarButane, got)
	}
}
