//go:build e2e

package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/isobuild/isobuild/internal/fixture"
)

// modes are the four ways every image is booted (see scripts/boot-check.sh).
var modes = []string{"bios-cd", "uefi-cd", "bios-usb", "uefi-usb"}

// bootPath says, per mode, which boot path boot-check.sh must report
// (booted_from): the device SeaBIOS booted, or the device GRUB was loaded
// from. uefi-usb boots a copy whose El Torito catalog is zeroed, so that OVMF
// has to load GRUB from the hybrid MBR's EFI partition.
var bootPath = map[string]func(string) bool{
	"bios-cd":  func(v string) bool { return v == "cdrom" },
	"bios-usb": func(v string) bool { return v == "disk" },
	"uefi-cd":  func(v string) bool { return v == "(cd0)" },
	"uefi-usb": func(v string) bool { return strings.HasPrefix(v, "(hd0,") },
}

// expected is what the guest must report for one image, in every mode.
type expected struct {
	iso      string
	kargs    []string // each must be an argument on the kernel command line
	noKargs  []string // none may be
	config   []byte   // the embedded /config.ign, nil for none
	tree     wantTree // what Ignition must write when config is not nil
	keyfiles map[string][]byte
	// check adds scenario-specific problems for one boot.
	check func(rep bootReport) []string
}

// A scenario prepares one image from the base ISO and says what booting it
// must show. Adding a case is adding a row to scenarios.
type scenario struct {
	name string
	// prepare may write its images and inputs to dir.
	prepare func(t *testing.T, s *suite, dir string) expected
}

var scenarios = []scenario{
	{"pristine", preparePristine},
	{"build", prepareBuild},
	{"customize-installer", prepareInstaller},
	{"build-big-config", prepareBigConfig}, // e2e/bigconfig_test.go
}

// The customized image: a Butane example with files from examples/files, a
// network keyfile, and kernel arguments appended, deleted and replaced.
const (
	exampleButane = "examples/systemd-files.bu"
	exampleFiles  = "examples/files"
	exampleKeyf   = "examples/eth0.nmconnection"
)

var (
	appendKargs  = []string{"e2e.appended=1", "isobuild.e2e=build"}
	deleteKargs  = []string{"mitigations=auto,nosmt"}
	replaceKargs = []string{"ignition.platform.id=metal=qemu"}
)

func preparePristine(t *testing.T, s *suite, dir string) expected {
	return expected{iso: s.base, kargs: s.defaultKargs, keyfiles: map[string][]byte{}}
}

func prepareBuild(t *testing.T, s *suite, dir string) expected {
	iso, err := s.builtISO(t)
	if err != nil {
		t.Fatal(err)
	}
	// What Ignition must do, from the Butane file itself, read as YAML here
	// (not translated with the project's pkg/butane, which the boot checks).
	src, err := os.ReadFile(filepath.Join(s.root, exampleButane))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := expectTreeFromButane(src, filepath.Join(s.root, exampleFiles))
	if err != nil {
		t.Fatalf("%s: %v", exampleButane, err)
	}
	// The karg edits must act on arguments the base ISO has, or deleting
	// and replacing would be checked against nothing.
	for _, k := range deleteKargs {
		if !slices.Contains(s.defaultKargs, k) {
			t.Fatalf("--karg-delete %s: the base ISO's default kargs %q lack it", k, s.defaultKargs)
		}
	}
	for _, r := range replaceKargs {
		if old := r[:strings.LastIndex(r, "=")]; !slices.Contains(s.defaultKargs, old) {
			t.Fatalf("--karg-replace %s: the base ISO's default kargs %q lack %s", r, s.defaultKargs, old)
		}
	}
	keyf, err := os.ReadFile(filepath.Join(s.root, exampleKeyf))
	if err != nil {
		t.Fatal(err)
	}
	var kargs, gone []string
	for _, k := range s.defaultKargs {
		if !slices.Contains(deleteKargs, k) {
			kargs = append(kargs, k)
		}
	}
	for _, r := range replaceKargs {
		i := strings.LastIndex(r, "=")
		old, repl := r[:i], r[:strings.Index(r, "=")+1]+r[i+1:]
		kargs = slices.DeleteFunc(kargs, func(k string) bool { return k == old })
		kargs = append(kargs, repl)
		gone = append(gone, old)
	}
	kargs = append(kargs, appendKargs...)
	gone = append(gone, deleteKargs...)
	return expected{
		iso:      iso,
		kargs:    kargs,
		noKargs:  gone,
		config:   s.embeddedConfig(t, iso),
		tree:     tree,
		keyfiles: map[string][]byte{filepath.Base(exampleKeyf): keyf},
	}
}

// runBoots boots e.iso in every mode, as many at a time as the suite
// allows, keeping the serial logs in dir.
func (s *suite) runBoots(ctx context.Context, dir, name string, e expected) []bootReport {
	reports := make([]bootReport, len(modes))
	var wg sync.WaitGroup
	for i, mode := range modes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{"--log", filepath.Join(dir, name+"-"+mode+".log")}
			for _, k := range e.kargs {
				args = append(args, "--expect-karg", k)
			}
			for _, k := range e.noKargs {
				args = append(args, "--reject-karg", k)
			}
			if e.config == nil {
				args = append(args, "--expect-config", "none")
			} else {
				args = append(args, "--expect-config", "present", "--expect-ignition")
			}
			reports[i] = s.boot(ctx, e.iso, mode, args...)
		}()
	}
	wg.Wait()
	return reports
}

func TestBoot(t *testing.T) {
	s := getSuite(t)
	dir := testDir(t)
	ctx := testContext(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			e := sc.prepare(t, s, dir)
			before := fixture.SHA256(t, e.iso)
			reports := s.runBoots(ctx, dir, sc.name, e)
			for i, mode := range modes {
				rep := reports[i]
				ok := t.Run(mode, func(t *testing.T) {
					for _, p := range bootProblems(mode, e, rep) {
						t.Error(p)
					}
				})
				recordBoot(sc.name, mode, rep, ok)
				if !ok {
					t.Logf("boot-check output for %s %s:\n%s\n%s", sc.name, mode, rep.Stdout, rep.Stderr)
				}
			}
			// All modes must agree on what Ignition wrote (the result
			// file's boot ID and date aside).
			for i := 1; i < len(reports); i++ {
				if d := diffEntries(reports[0].Entries, reports[i].Entries); d != "" {
					t.Errorf("Ignition wrote different files in %s and %s: %s", modes[0], modes[i], d)
				}
			}
			recordScenario(sc.name, e, reports)
			if after := fixture.SHA256(t, e.iso); after != before {
				t.Errorf("%s changed while it was booted (sha256 %s, was %s)", e.iso, after, before)
			}
		})
	}
}

// bootProblems checks one boot against the expectation.
func bootProblems(mode string, e expected, rep bootReport) []string {
	var probs []string
	if !rep.Markers {
		probs = append(probs, "the guest did not report E2E-INIT-BEGIN and E2E-INIT-END")
	}
	if rep.Result != "PASS" {
		probs = append(probs, fmt.Sprintf("boot-check.sh result %q, want PASS", rep.Result))
	}
	if want := strings.SplitN(mode, "-", 2)[0]; rep.Firmware != want {
		probs = append(probs, fmt.Sprintf("firmware %q, want %q", rep.Firmware, want))
	}
	if ok := bootPath[mode]; ok == nil || !ok(rep.BootedFrom) {
		probs = append(probs, fmt.Sprintf("%s took the wrong boot path: booted from %q", mode, rep.BootedFrom))
	}
	if rep.InitramfsError != "" {
		probs = append(probs, "the kernel rejected an initramfs: "+rep.InitramfsError)
	}
	for _, k := range e.kargs {
		if !slices.Contains(rep.Cmdline, k) {
			probs = append(probs, fmt.Sprintf("kernel command line lacks %s: %q", k, strings.Join(rep.Cmdline, " ")))
		}
	}
	for _, k := range e.noKargs {
		if slices.Contains(rep.Cmdline, k) {
			probs = append(probs, fmt.Sprintf("kernel command line still has %s: %q", k, strings.Join(rep.Cmdline, " ")))
		}
	}
	if e.config == nil {
		if rep.Config != "none" {
			probs = append(probs, fmt.Sprintf("config %q, want none", rep.Config))
		}
		if rep.Ignition != "" || len(rep.Entries) > 0 {
			probs = append(probs, "Ignition ran without a config")
		}
	} else {
		sum := sha256.Sum256(e.config)
		if rep.Config != "present" || rep.ConfigSize != int64(len(e.config)) || rep.ConfigSHA256 != hex.EncodeToString(sum[:]) {
			probs = append(probs, fmt.Sprintf("/config.ign is %s %d bytes sha256 %s, want the embedded %d bytes sha256 %x",
				rep.Config, rep.ConfigSize, rep.ConfigSHA256, len(e.config), sum))
		}
		if rep.Ignition != "fetch=0 files=0" {
			probs = append(probs, fmt.Sprintf("Ignition stages: %q, want fetch=0 files=0", rep.Ignition))
		}
		probs = append(probs, treeProblems(e.tree, rep.Entries)...)
	}
	for name, data := range e.keyfiles {
		sum := sha256.Sum256(data)
		got, ok := rep.Keyfiles[name]
		switch {
		case !ok:
			probs = append(probs, fmt.Sprintf("etc/coreos-firstboot-network/%s is not in the initramfs", name))
		case got.SHA256 != hex.EncodeToString(sum[:]) || got.Size != int64(len(data)):
			probs = append(probs, fmt.Sprintf("etc/coreos-firstboot-network/%s has other contents than the keyfile", name))
		case got.Mode != 0o600:
			probs = append(probs, fmt.Sprintf("etc/coreos-firstboot-network/%s has mode %04o, want 0600", name, got.Mode))
		}
	}
	for name := range rep.Keyfiles {
		if _, ok := e.keyfiles[name]; !ok {
			probs = append(probs, fmt.Sprintf("unexpected keyfile etc/coreos-firstboot-network/%s", name))
		}
	}
	if e.check != nil && rep.Markers {
		probs = append(probs, e.check(rep)...)
	}
	return probs
}

// diffEntries compares two listings, ignoring the contents of Ignition's
// result file; it returns "" when they agree.
func diffEntries(a, b map[string]entry) string {
	norm := func(e entry) entry {
		if e.Path == resultFile {
			e.SHA256, e.Size = "", 0
		}
		return e
	}
	var d []string
	for p, ea := range a {
		eb, ok := b[p]
		if !ok {
			d = append(d, "only in the first: "+p)
		} else if norm(ea) != norm(eb) {
			d = append(d, fmt.Sprintf("%s vs %s", ea, eb))
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			d = append(d, "only in the second: "+p)
		}
	}
	slices.Sort(d)
	return strings.Join(d, "; ")
}

// TestReset: iso reset gives back the base ISO byte for byte.
func TestReset(t *testing.T) {
	s := getSuite(t)
	custom, err := s.builtISO(t)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(testDir(t), "reset.iso")
	s.isobuildRun(t, "iso", "reset", "-o", out, custom)
	if got, want := fixture.SHA256(t, out), fixture.SHA256(t, s.base); got != want {
		t.Fatalf("iso reset of the customized ISO: sha256 %s, want the base ISO's %s", got, want)
	}
	t.Logf("iso reset -o %s %s: byte-identical to the base ISO", filepath.Base(out), filepath.Base(custom))
}

// A broken image must make the boot check fail, and for the reason the
// damage causes: this proves that the harness can fail, for the reasons it
// claims to detect (a QEMU that does not start, or a boot that fails in
// some other way, does not count).
type brokenImage struct {
	name string
	mode string
	// make writes the broken image to path.
	make func(t *testing.T, s *suite, path string)
	args []string // extra boot-check.sh options
	// reason returns "" if rep (and the serial log) show the failure that
	// the damage must cause, else what is wrong with it.
	reason func(rep bootReport, serial string) string
}

// Firmware and loader messages the broken cases expect.
var (
	seabiosCDFailure   = regexp.MustCompile(`Could not read from CDROM|No bootable device|Boot failed`)
	seabiosDiskFailure = regexp.MustCompile(`Boot failed: not a bootable disk|No bootable device`)
	ovmfNoBootOption   = regexp.MustCompile(`UEFI Interactive Shell|No bootable option or device`)
	ovmfDiskNotFound   = regexp.MustCompile(`BdsDxe: failed to load Boot\S+ "[^"]*" .*: Not Found`)
)

// firmwareFatal requires that the run was stopped by a fatal message of
// the given source that matches re, after the firmware tried the device
// (booted_from, for SeaBIOS).
func firmwareFatal(source string, re *regexp.Regexp, bootedFrom string) func(bootReport, string) string {
	return func(rep bootReport, serial string) string {
		switch {
		case rep.Outcome != "fatal":
			return fmt.Sprintf("outcome %q, want fatal (a fatal %s message)", rep.Outcome, source)
		case !re.MatchString(rep.Fatal[source]):
			return fmt.Sprintf("fatal %s message %q, want one matching %q (all: %q)", source, rep.Fatal[source], re, rep.Fatal)
		case rep.BootedFrom != bootedFrom:
			return fmt.Sprintf("booted_from %q, want %q", rep.BootedFrom, bootedFrom)
		}
		return ""
	}
}

// zeroRanges zeroes byte ranges {offset, length} of the file at path;
// negative offsets count from the end.
func zeroRanges(t *testing.T, path string, ranges ...[2]int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ranges {
		off := r[0]
		if off < 0 {
			off += fi.Size()
		}
		if _, err := f.WriteAt(make([]byte, r[1]), off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

var brokenImages = []brokenImage{
	{
		// The El Torito boot catalog of a copy of the base ISO destroyed:
		// SeaBIOS finds nothing to boot on the CD.
		name: "broken-catalog",
		mode: "bios-cd",
		make: func(t *testing.T, s *suite, path string) {
			copyFile(t, s.base, path)
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// The boot record volume descriptor is sector 17; bytes
			// 0x47-0x4a hold the catalog's sector (El Torito 1.0, 2.0).
			brvd := make([]byte, 2048)
			if _, err := f.ReadAt(brvd, 17*2048); err != nil {
				t.Fatal(err)
			}
			if brvd[0] != 0 || string(brvd[1:6]) != "CD001" || !bytes.HasPrefix(brvd[7:], []byte("EL TORITO SPECIFICATION")) {
				t.Fatalf("sector 17 of %s is not an El Torito boot record", s.base)
			}
			catalog := int64(binary.LittleEndian.Uint32(brvd[0x47:])) * 2048
			// The validation entry and the default entry.
			if _, err := f.WriteAt(bytes.Repeat([]byte{0xff}, 64), catalog); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		},
		args:   []string{"--timeout", "90"},
		reason: firmwareFatal("firmware", seabiosCDFailure, "cdrom"),
	},
	{
		// The MBR's partition entries and both GPT headers zeroed. For
		// uefi-usb, boot-check.sh also zeroes the El Torito catalog (of its
		// boot copy), so OVMF has nothing left to boot: this proves that
		// uefi-usb goes through the partition table. (bios-usb still boots
		// such an image: the isohybrid MBR code loads ISOLINUX by a sector
		// number written into the code and never reads the partition
		// table; broken-mbr covers that path.)
		name: "broken-partitions",
		mode: "uefi-usb",
		make: func(t *testing.T, s *suite, path string) {
			copyFile(t, s.base, path)
			zeroRanges(t, path,
				[2]int64{446, 64},   // MBR partition entries 1-4
				[2]int64{512, 512},  // primary GPT header (LBA 1)
				[2]int64{-512, 512}) // backup GPT header (last LBA)
		},
		args: []string{"--timeout", "90"},
		reason: func(rep bootReport, serial string) string {
			if why := firmwareFatal("serial", ovmfNoBootOption, "-")(rep, serial); why != "" {
				return why
			}
			if !strings.Contains(rep.Copy, "catalog") || !strings.Contains(rep.Copy, "all in that sector") {
				return fmt.Sprintf("boot-check.sh did not boot a catalog-zeroed copy: BOOT-COPY %q", rep.Copy)
			}
			if !ovmfDiskNotFound.MatchString(serial) {
				return "OVMF did not report that it found nothing to load on the disk"
			}
			return ""
		},
	},
	{
		// The MBR boot code and its 55 AA signature zeroed: SeaBIOS refuses
		// the disk, which proves that bios-usb boots through the MBR.
		name: "broken-mbr",
		mode: "bios-usb",
		make: func(t *testing.T, s *suite, path string) {
			copyFile(t, s.base, path)
			zeroRanges(t, path, [2]int64{0, 440}, [2]int64{510, 2})
		},
		args:   []string{"--timeout", "90"},
		reason: firmwareFatal("firmware", seabiosDiskFailure, "disk"),
	},
	{
		// A config embedded with xz's default CRC64 check, which the
		// kernel cannot unpack (isobuild uses CRC32 for that reason).
		name: "xz-crc64-area",
		mode: "bios-usb",
		make: func(t *testing.T, s *suite, path string) {
			copyFile(t, s.base, path)
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "config.ign"), []byte(`{"ignition":{"version":"3.3.0"}}`), 0o644); err != nil {
				t.Fatal(err)
			}
			payload := runOut(t, dir, "sh", "-c", "echo config.ign | cpio -o -H newc -R 0:0 --quiet | xz --check=crc64")
			lba := runOut(t, "", "sh", "-c", "xorriso -indev \"$1\" -find /images/ignition.img -exec report_lba -- 2>/dev/null |"+
				" awk -F, '/File data lba/ { gsub(/ /, \"\", $2); print $2; exit }'", "sh", path)
			sector, err := strconv.ParseInt(strings.TrimSpace(string(lba)), 10, 64)
			if err != nil {
				t.Fatalf("extent of images/ignition.img: %q: %v", lba, err)
			}
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(payload, sector*2048); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		},
		args: []string{"--expect-config", "present"},
		// The system boots; the kernel drops the archive it cannot decode.
		reason: func(rep bootReport, serial string) string {
			switch {
			case rep.Outcome != "finished" || !rep.Markers:
				return fmt.Sprintf("outcome %q, want a finished report", rep.Outcome)
			case !strings.Contains(rep.InitramfsError, "XZ decoder"):
				return fmt.Sprintf("initramfs error %q, want the kernel's XZ decoder message", rep.InitramfsError)
			case rep.Config != "none":
				return fmt.Sprintf("config %q, want none (the archive was dropped)", rep.Config)
			}
			return ""
		},
	},
	{
		// A valid config whose file claims gzip but is not: the real
		// Ignition verifies the data and its files stage fails.
		name: "bad-gzip-resource",
		mode: "bios-usb",
		make: func(t *testing.T, s *suite, path string) {
			ign := filepath.Join(t.TempDir(), "bad.ign")
			bad := `{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/etc/x","contents":` +
				`{"compression":"gzip","source":"data:;base64,` + base64.StdEncoding.EncodeToString([]byte("not gzip\n")) + `"}}]}}`
			if err := os.WriteFile(ign, []byte(bad), 0o644); err != nil {
				t.Fatal(err)
			}
			s.isobuildRun(t, "iso", "ignition", "embed", "-i", ign, "-o", path, s.base)
		},
		args: []string{"--expect-config", "present", "--expect-ignition"},
		reason: func(rep bootReport, serial string) string {
			switch {
			case rep.Outcome != "finished" || !rep.Markers:
				return fmt.Sprintf("outcome %q, want a finished report", rep.Outcome)
			case rep.Config != "present":
				return fmt.Sprintf("config %q, want present", rep.Config)
			case rep.Ignition != "fetch=0 files=1":
				return fmt.Sprintf("Ignition stages %q, want fetch=0 files=1 (the files stage fails)", rep.Ignition)
			case !slices.ContainsFunc(rep.IgnitionLog, func(l string) bool { return strings.Contains(l, "gzip") }):
				return "Ignition's log does not blame the gzip data"
			}
			return ""
		},
	},
}

func TestBrokenImagesFail(t *testing.T) {
	s := getSuite(t)
	dir := testDir(t)
	ctx := testContext(t)
	for _, b := range brokenImages {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, b.name+".iso")
			b.make(t, s, path)
			logPath := filepath.Join(dir, b.name+"-"+b.mode+".log")
			args := append([]string{"--log", logPath}, b.args...)
			rep := s.boot(ctx, path, b.mode, args...)
			serial, _ := os.ReadFile(logPath)
			var why string
			if rep.Result != "FAIL" || rep.ExitCode != 1 {
				why = fmt.Sprintf("result %q, exit status %d; want FAIL and 1", rep.Result, rep.ExitCode)
			} else {
				why = b.reason(rep, string(serial))
			}
			recordBoot(b.name+" (must FAIL)", b.mode, rep, why == "")
			if why != "" {
				t.Fatalf("boot of %s did not fail as it must: %s\n%s\n%s", b.name, why, rep.Stdout, rep.Stderr)
			}
			t.Logf("%s: %s boot failed as it must (%.1fs, outcome %s): %s", b.name, b.mode, rep.Seconds, rep.Outcome, failureSummary(rep))
		})
	}
}

// failureSummary names what stopped a failing boot, for the log.
func failureSummary(rep bootReport) string {
	var parts []string
	for _, src := range []string{"firmware", "serial", "qemu"} {
		if l := rep.Fatal[src]; l != "" {
			parts = append(parts, fmt.Sprintf("%s: %q", src, l))
		}
	}
	if rep.InitramfsError != "" {
		parts = append(parts, "kernel: "+rep.InitramfsError)
	}
	if rep.Ignition != "" && rep.Ignition != "fetch=0 files=0" {
		parts = append(parts, "Ignition: "+rep.Ignition)
	}
	if rep.Copy != "" {
		parts = append(parts, "boot copy: "+rep.Copy)
	}
	return strings.Join(parts, "; ")
}

// TestChecksCatchMismatches feeds the checks reports that differ from the
// expectation in one way each, so that a check that always passes cannot go
// unnoticed. It needs no QEMU.
func TestChecksCatchMismatches(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("console"))
	zw.Close()
	config := []byte(`{"ignition":{"version":"3.3.0"},"storage":{"files":[` +
		`{"path":"/etc/a","mode":420,"contents":{"source":"data:,hello%0A"}},` +
		`{"path":"/usr/local/bin/b","mode":493,"contents":{"compression":"gzip","source":"data:;base64,` +
		base64.StdEncoding.EncodeToString(gz.Bytes()) + `"}}],` +
		`"directories":[{"path":"/var/d","mode":448}],"links":[{"path":"/etc/l","target":"/etc/a"}]},` +
		`"systemd":{"units":[{"name":"u.service","enabled":true,"contents":"[Unit]\n"}]}}`)
	tree, err := expectTree(config)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(tree.Contents["/usr/local/bin/b"]); got != "console" {
		t.Fatalf("gzip data URL decoded to %q, want %q", got, "console")
	}
	good := map[string]entry{}
	for p, w := range tree.Entries {
		e := entry{Type: w.Type, Mode: w.Mode, UID: w.UID, GID: w.GID, Size: w.Size, SHA256: w.SHA256, Target: w.Target, Path: p}
		if p == resultFile {
			e.Size, e.SHA256 = 99, strings.Repeat("0", 64)
		}
		good[p] = e
	}
	for _, d := range []string{"/etc", "/usr", "/usr/local", "/usr/local/bin", "/var", "/etc/systemd", "/etc/systemd/system", "/etc/systemd/system-preset"} {
		good[d] = entry{Type: 'd', Mode: 0o755, Size: -1, Path: d}
	}
	sum := sha256.Sum256(config)
	e := expected{kargs: []string{"a=1"}, noKargs: []string{"quiet"}, config: config, tree: tree,
		keyfiles: map[string][]byte{"k.nmconnection": []byte("k")}}
	ksum := sha256.Sum256([]byte("k"))
	rep := bootReport{Result: "PASS", Outcome: "finished", Markers: true, Firmware: "uefi", BootedFrom: "(cd0)", Cmdline: []string{"BOOT_IMAGE=x", "a=1"},
		Config: "present", ConfigSize: int64(len(config)), ConfigSHA256: hex.EncodeToString(sum[:]),
		Keyfiles: map[string]keyfile{"k.nmconnection": {Mode: 0o600, Size: 1, SHA256: hex.EncodeToString(ksum[:])}},
		Ignition: "fetch=0 files=0", Entries: good}
	if p := bootProblems("uefi-cd", e, rep); len(p) > 0 {
		t.Fatalf("a matching report has problems: %q", p)
	}
	clone := func(f func(r *bootReport)) bootReport {
		r := rep
		r.Entries = map[string]entry{}
		for k, v := range rep.Entries {
			r.Entries[k] = v
		}
		r.Keyfiles = map[string]keyfile{}
		for k, v := range rep.Keyfiles {
			r.Keyfiles[k] = v
		}
		f(&r)
		return r
	}
	setEntry := func(p string, f func(e *entry)) func(r *bootReport) {
		return func(r *bootReport) { e := r.Entries[p]; f(&e); r.Entries[p] = e }
	}
	cases := map[string]bootReport{
		"no end marker":      clone(func(r *bootReport) { r.Markers = false }),
		"bios firmware":      clone(func(r *bootReport) { r.Firmware = "bios" }),
		"boot path":          clone(func(r *bootReport) { r.BootedFrom = "(hd0,msdos2)" }),
		"no boot path":       clone(func(r *bootReport) { r.BootedFrom = "-" }),
		"karg missing":       clone(func(r *bootReport) { r.Cmdline = []string{"a=2"} }),
		"deleted karg":       clone(func(r *bootReport) { r.Cmdline = append(r.Cmdline, "quiet") }),
		"karg substring":     clone(func(r *bootReport) { r.Cmdline = []string{"aa=1"} }),
		"no config":          clone(func(r *bootReport) { r.Config = "none" }),
		"other config":       clone(func(r *bootReport) { r.ConfigSHA256 = strings.Repeat("1", 64) }),
		"ignition failed":    clone(func(r *bootReport) { r.Ignition = "fetch=0 files=1" }),
		"file missing":       clone(func(r *bootReport) { delete(r.Entries, "/etc/a") }),
		"file contents":      clone(setEntry("/etc/a", func(e *entry) { e.SHA256 = strings.Repeat("2", 64) })),
		"file mode":          clone(setEntry("/usr/local/bin/b", func(e *entry) { e.Mode = 0o644 })),
		"file owner":         clone(setEntry("/etc/a", func(e *entry) { e.UID = 1000 })),
		"dir mode":           clone(setEntry("/var/d", func(e *entry) { e.Mode = 0o755 })),
		"link target":        clone(setEntry("/etc/l", func(e *entry) { e.Target = "/etc/b" })),
		"unit not enabled":   clone(func(r *bootReport) { delete(r.Entries, presetFile) }),
		"extra file":         clone(func(r *bootReport) { r.Entries["/etc/x"] = entry{Type: 'f', Mode: 0o644, Path: "/etc/x"} }),
		"extra dir":          clone(func(r *bootReport) { r.Entries["/opt"] = entry{Type: 'd', Mode: 0o755, Path: "/opt"} }),
		"parent mode":        clone(setEntry("/usr/local", func(e *entry) { e.Mode = 0o700 })),
		"keyfile missing":    clone(func(r *bootReport) { delete(r.Keyfiles, "k.nmconnection") }),
		"keyfile contents":   clone(func(r *bootReport) { r.Keyfiles["k.nmconnection"] = keyfile{Mode: 0o600, Size: 1, SHA256: "x"} }),
		"unexpected keyfile": clone(func(r *bootReport) { r.Keyfiles["other"] = keyfile{} }),
		"initramfs error":    clone(func(r *bootReport) { r.InitramfsError = "junk in compressed archive" }),
	}
	for name, r := range cases {
		if p := bootProblems("uefi-cd", e, r); len(p) == 0 {
			t.Errorf("%s: no problem found", name)
		}
	}
	// Configs whose effects the boot test cannot check are refused, never
	// half-checked.
	for _, bad := range []string{
		`{"ignition":{"version":"3.3.0"},"passwd":{"users":[{"name":"core"}]}}`,
		`{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/a","contents":{"source":"https://example.com/a"}}]}}`,
		`{"ignition":{"version":"2.2.0"}}`,
	} {
		if _, err := expectTree([]byte(bad)); err == nil {
			t.Errorf("expectTree(%s) succeeded, want an error", bad)
		}
	}

	// A broken image must fail for its own reason: a QEMU that does not
	// start (QEMU=/bin/false), a timeout or a passing boot are not it.
	notStarted := bootReport{Result: "FAIL", ExitCode: 1, Outcome: "exited", BootedFrom: "-", Fatal: map[string]string{}}
	timedOut := bootReport{Result: "FAIL", ExitCode: 1, Outcome: "timeout", BootedFrom: "cdrom", Fatal: map[string]string{}}
	wrongFatal := bootReport{Result: "FAIL", ExitCode: 1, Outcome: "fatal", BootedFrom: "disk",
		Fatal: map[string]string{"serial": "Kernel panic - not syncing: VFS"}}
	for _, b := range brokenImages {
		for name, r := range map[string]bootReport{"QEMU did not start": notStarted, "timeout": timedOut, "other fatal": wrongFatal, "passing boot": rep} {
			if b.reason(r, "") == "" {
				t.Errorf("%s: the reason check accepts a %s", b.name, name)
			}
		}
	}
}

// TestButaneExpectation checks the expectation computed from the Butane
// example, and that Butane features the boot test does not check are
// refused. It needs no QEMU.
func TestButaneExpectation(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, exampleButane))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := expectTreeFromButane(src, filepath.Join(root, exampleFiles))
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(root, exampleFiles, "isobuild-hello.sh"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		typ  byte
		mode uint32
	}{
		"/var/lib/isobuild-hello":                    {'d', 0o755},
		"/usr/local/bin/isobuild-hello":              {'f', 0o755},
		"/etc/isobuild-hello.conf":                   {'f', 0o644},
		"/etc/systemd/system/isobuild-hello.service": {'f', 0o644},
		presetFile: {'f', 0o644},
		resultFile: {'f', 0o600},
	}
	for p, w := range want {
		if e, ok := tree.Entries[p]; !ok || e.Type != w.typ || e.Mode != w.mode {
			t.Errorf("%s: expectation %+v, want type %c mode %04o", p, e, w.typ, w.mode)
		}
	}
	if len(tree.Entries) != len(want) {
		t.Errorf("expectation has %d entries, want %d: %v", len(tree.Entries), len(want), tree.Entries)
	}
	if got := string(tree.Contents["/usr/local/bin/isobuild-hello"]); got != string(script) {
		t.Errorf("local contents not read from examples/files: %q", got)
	}
	if got := string(tree.Contents[presetFile]); got != "enable isobuild-hello.service\n" {
		t.Errorf("preset %q", got)
	}
	if !strings.Contains(string(tree.Contents["/etc/systemd/system/isobuild-hello.service"]), "ExecStart=/usr/local/bin/isobuild-hello\n") {
		t.Errorf("unit contents %q", tree.Contents["/etc/systemd/system/isobuild-hello.service"])
	}

	head := "variant: fcos\nversion: 1.4.0\n"
	for name, bad := range map[string]string{
		"passwd":           head + "passwd:\n  users:\n    - name: core\n",
		"links":            head + "storage:\n  links:\n    - path: /etc/l\n      target: /etc/a\n",
		"remote source":    head + "storage:\n  files:\n    - path: /a\n      contents:\n        source: https://example.com/a\n",
		"compression":      head + "storage:\n  files:\n    - path: /a\n      contents:\n        inline: x\n        compression: gzip\n",
		"owner":            head + "storage:\n  files:\n    - path: /a\n      user:\n        id: 1000\n",
		"dropins":          head + "systemd:\n  units:\n    - name: a.service\n      dropins:\n        - name: x.conf\n          contents: x\n",
		"mask":             head + "systemd:\n  units:\n    - name: a.service\n      mask: true\n",
		"kernel args":      head + "kernel_arguments:\n  should_exist: [quiet]\n",
		"local escapes":    head + "storage:\n  files:\n    - path: /a\n      contents:\n        local: ../README.md\n",
		"inline and local": head + "storage:\n  files:\n    - path: /a\n      contents:\n        inline: x\n        local: isobuild-hello.sh\n",
		"duplicate":        head + "storage:\n  files:\n    - path: /a\n    - path: /a\n",
		"relative path":    head + "storage:\n  files:\n    - path: a\n",
		"variant":          "variant: openshift\nversion: 4.14.0\n",
		"version 1.5.0":    "variant: fcos\nversion: 1.5.0\n",
		"unknown key":      head + "storage:\n  files:\n    - path: /a\n      modee: 0644\n",
	} {
		if _, err := expectTreeFromButane([]byte(bad), filepath.Join(root, exampleFiles)); err == nil {
			t.Errorf("%s: expectTreeFromButane accepted\n%s", name, bad)
		}
	}
}

// ---- the suite: tools, binaries, the base ISO, the QEMU job pool --------

type suite struct {
	root         string // repository root
	work         string // shared by all tests: the isobuild binary, the base and the built ISO
	isobuild     string
	base         string
	defaultKargs []string
	accel        string   // what boot-check.sh --probe-accel chose
	accelArgs    []string // the accelerator options for every boot
	jobs         chan struct{}

	builtOnce sync.Once
	built     string
	builtErr  error
}

var (
	setupOnce  sync.Once
	theSuite   *suite
	setupErr   error
	setupSkip  string
	workDir    string
	resultsMu  sync.Mutex
	bootLines  []string
	treeBlocks []string
)

// keepWork says whether ISOBUILD_E2E_KEEP asks to keep the work directories.
func keepWork() bool { return os.Getenv("ISOBUILD_E2E_KEEP") != "" }

func TestMain(m *testing.M) {
	code := m.Run()
	printSummary()
	if workDir != "" {
		if keepWork() {
			fmt.Printf("e2e: shared work directory kept: %s\n", workDir)
		} else {
			os.RemoveAll(workDir)
		}
	}
	os.Exit(code)
}

func getSuite(t *testing.T) *suite {
	t.Helper()
	setupOnce.Do(func() { theSuite, setupSkip, setupErr = setup(testContext(t)) })
	if setupSkip != "" {
		t.Skip(setupSkip)
	}
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return theSuite
}

// testDir returns a new work directory for one test's images and serial
// logs. It is removed when the test and its subtests are done (also when
// they fail or panic), unless ISOBUILD_E2E_KEEP is set.
func testDir(t *testing.T) string {
	t.Helper()
	name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	dir, err := os.MkdirTemp("", "isobuild-e2e-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if keepWork() {
			t.Logf("work directory kept: %s", dir)
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing %s: %v", dir, err)
		}
	})
	return dir
}

// deadlineMargin is how long before go test's own -timeout the commands of
// a test are stopped, so that the test fails with their output, its
// cleanups run and no QEMU is left behind, instead of the test binary
// panicking with everything still running.
const deadlineMargin = 30 * time.Second

// testContext returns a context that ends with the test, or deadlineMargin
// before the test binary's deadline.
func testContext(t *testing.T) context.Context {
	ctx := t.Context()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-deadlineMargin))
		t.Cleanup(cancel)
	}
	return ctx
}

// killGrace is how long a command has to stop after SIGTERM (boot-check.sh
// stops QEMU and removes its temporary files) before its whole process
// group is killed.
const killGrace = 10 * time.Second

// command is exec.CommandContext for the scripts and tools the tests run:
// the command gets its own process group, and when ctx ends the whole group
// (boot-check.sh, timeout, QEMU; make-live-iso.sh, apt-get, ...) gets
// SIGTERM, then SIGKILL after killGrace.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		pgid := cmd.Process.Pid
		err := syscall.Kill(-pgid, syscall.SIGTERM)
		// Members of the group (an orphaned QEMU) can outlive the leader;
		// the group ID stays reserved while any of them is alive.
		time.AfterFunc(killGrace, func() { syscall.Kill(-pgid, syscall.SIGKILL) })
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
	// Wait returns at most this long after the cancel even if a member of
	// the group still holds stdout or stderr open.
	cmd.WaitDelay = killGrace + 5*time.Second
	return cmd
}

// requiredTools are the programs the scripts run; .ci/run installs them.
var requiredTools = []string{"qemu-system-x86_64", "xorriso", "grub-mkimage", "mkfs.vfat", "mcopy", "cpio", "apt-get", "dpkg-deb", "bash", "timeout", "sgdisk"}

// requiredFiles; the OVMF firmware is looked up by boot-check.sh
// --find-ovmf, with the same names and environment as the boots use.
var requiredFiles = []string{"/bin/busybox", "/usr/lib/ISOLINUX/isolinux.bin", "/usr/lib/syslinux/modules/bios/ldlinux.c32", "/usr/lib/grub/i386-pc/boot_hybrid.img"}

func setup(ctx context.Context) (s *suite, skip string, err error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return nil, "", err
	}
	bootCheck := filepath.Join(root, "scripts/boot-check.sh")
	var missing []string
	for _, tool := range requiredTools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	for _, f := range requiredFiles {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
		}
	}
	ovmf := "OVMF firmware"
	if slices.Contains(missing, "bash") {
		missing = append(missing, ovmf)
	} else if out, err := command(ctx, "bash", bootCheck, "--find-ovmf").CombinedOutput(); err != nil {
		missing = append(missing, ovmf+" ("+strings.TrimSpace(string(out))+")")
	} else {
		ovmf = strings.TrimSpace(string(out))
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("missing %s (see the apt-get install line in .ci/run)", strings.Join(missing, ", "))
		if os.Getenv("CI") == "" {
			return nil, msg, nil
		}
		return nil, "", errors.New(msg)
	}

	workDir, err = os.MkdirTemp("", "isobuild-e2e-")
	if err != nil {
		return nil, "", err
	}
	s = &suite{root: root, work: workDir}
	// A TCG guest keeps a core busy only part of the time (firmware waits,
	// the report's final sleep), so two boots per core finish sooner than
	// one; on CI's 2 cores that is 4 at a time.
	jobs := 2 * runtime.NumCPU()
	if v := os.Getenv("ISOBUILD_E2E_JOBS"); v != "" {
		if jobs, err = strconv.Atoi(v); err != nil || jobs < 1 {
			return nil, "", fmt.Errorf("ISOBUILD_E2E_JOBS=%q: want a positive number", v)
		}
	}
	s.jobs = make(chan struct{}, jobs)

	start := time.Now()
	s.isobuild = filepath.Join(s.work, "isobuild")
	build := command(ctx, "go", "build", "-o", s.isobuild, "./cmd/isobuild")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("go build ./cmd/isobuild: %v\n%s", err, out)
	}
	fmt.Printf("e2e: built isobuild in %.1fs\n", time.Since(start).Seconds())

	start = time.Now()
	if s.base = os.Getenv("ISOBUILD_E2E_BASE_ISO"); s.base == "" {
		s.base = filepath.Join(s.work, "base.iso")
		mk := command(ctx, "bash", filepath.Join(root, "scripts/make-live-iso.sh"), s.base)
		mk.Stdout, mk.Stderr = os.Stdout, os.Stdout
		if err := mk.Run(); err != nil {
			return nil, "", fmt.Errorf("scripts/make-live-iso.sh: %v", err)
		}
		fmt.Printf("e2e: built the base ISO in %.1fs\n", time.Since(start).Seconds())
	}

	// The default kernel arguments, as isobuild reads them, must be the
	// (non-empty) list that make-live-iso.sh wrote to coreos/kargs.json;
	// the ISO is read here with xorriso, not with isobuild.
	out, err := command(ctx, s.isobuild, "iso", "kargs", "show", "--default", s.base).Output()
	if err != nil {
		return nil, "", fmt.Errorf("isobuild iso kargs show --default %s: %v", s.base, err)
	}
	s.defaultKargs = strings.Fields(string(out))
	written, err := isoKargsDefault(ctx, s.base, filepath.Join(s.work, "kargs.json"))
	if err != nil {
		return nil, "", err
	}
	if len(written) == 0 {
		return nil, "", fmt.Errorf("%s: coreos/kargs.json has no default kernel arguments", s.base)
	}
	if !slices.Equal(s.defaultKargs, written) {
		return nil, "", fmt.Errorf("isobuild iso kargs show --default %s: %q, but coreos/kargs.json says %q", s.base, s.defaultKargs, written)
	}

	// The accelerator is probed once; each boot gets the result with
	// --accel auto, so that boot-check.sh still retries a failing KVM run
	// under TCG. ISOBUILD_E2E_ACCEL=tcg|kvm forces one (no retry).
	if a := os.Getenv("ISOBUILD_E2E_ACCEL"); a != "" && a != "auto" {
		s.accel, s.accelArgs = a, []string{"--accel", a}
	} else {
		out, err = command(ctx, "bash", bootCheck, "--accel", "auto", "--probe-accel").Output()
		if err != nil {
			return nil, "", fmt.Errorf("boot-check.sh --probe-accel: %v", err)
		}
		s.accel = strings.TrimSpace(string(out))
		s.accelArgs = []string{"--accel", "auto", "--probed-accel", s.accel}
	}
	fmt.Printf("e2e: QEMU accelerator %s (%s), %d boots at a time, %s\n", s.accel, strings.Join(s.accelArgs, " "), jobs, ovmf)
	return s, "", nil
}

// isoKargsDefault returns the default kernel arguments in the ISO's
// coreos/kargs.json, extracted with xorriso to tmp.
func isoKargsDefault(ctx context.Context, iso, tmp string) ([]string, error) {
	os.Remove(tmp)
	x := command(ctx, "xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/coreos/kargs.json", tmp)
	if out, err := x.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("xorriso -extract /coreos/kargs.json from %s: %v\n%s", iso, err, out)
	}
	data, err := os.ReadFile(tmp)
	if err != nil {
		return nil, err
	}
	var k struct {
		Default *string `json:"default"`
	}
	if err := json.Unmarshal(data, &k); err != nil || k.Default == nil {
		return nil, fmt.Errorf("%s: coreos/kargs.json: no default (%v): %s", iso, err, data)
	}
	return strings.Fields(*k.Default), nil
}

// builtISO is the image made by isobuild build from the example (made once).
func (s *suite) builtISO(t *testing.T) (string, error) {
	s.builtOnce.Do(func() {
		out := filepath.Join(s.work, "build.iso")
		args := []string{"build", "--butane", exampleButane, "-d", exampleFiles, "--network-keyfile", exampleKeyf}
		for _, k := range appendKargs {
			args = append(args, "--karg-append", k)
		}
		for _, k := range deleteKargs {
			args = append(args, "--karg-delete", k)
		}
		for _, k := range replaceKargs {
			args = append(args, "--karg-replace", k)
		}
		args = append(args, "-o", out, s.base)
		cmd := command(testContext(t), s.isobuild, args...)
		cmd.Dir = s.root
		if b, err := cmd.CombinedOutput(); err != nil {
			s.builtErr = fmt.Errorf("isobuild %s: %v\n%s", strings.Join(args, " "), err, b)
			return
		} else {
			fmt.Printf("e2e: isobuild %s\n%s", strings.Join(args, " "), b)
		}
		s.built = out
	})
	return s.built, s.builtErr
}

// embeddedConfig returns the live config stored in iso, as isobuild reads it.
func (s *suite) embeddedConfig(t *testing.T, iso string) []byte {
	t.Helper()
	return s.isobuildRun(t, "iso", "ignition", "show", iso)
}

func (s *suite) isobuildRun(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := command(testContext(t), s.isobuild, args...)
	cmd.Dir = s.root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("isobuild %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// isobuildLogged runs isobuild from the repository root, logs its command
// line and output, and returns the output (stdout and stderr); a failure
// is fatal.
func (s *suite) isobuildLogged(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := command(testContext(t), s.isobuild, args...)
	cmd.Dir = s.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("isobuild %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("isobuild %s\n%s", strings.Join(args, " "), out)
	return out
}

// boot runs scripts/boot-check.sh once, waiting for a free job slot. When
// ctx ends, the run is stopped (see command) and reported as failed.
func (s *suite) boot(ctx context.Context, iso, mode string, args ...string) bootReport {
	select {
	case s.jobs <- struct{}{}:
	case <-ctx.Done():
		return bootReport{Mode: mode, Result: "FAIL", ExitCode: -1, Seconds: -1, KernelAt: -1, InitAt: -1,
			Stderr: "not started: " + context.Cause(ctx).Error()}
	}
	defer func() { <-s.jobs }()
	all := append([]string{filepath.Join(s.root, "scripts/boot-check.sh")}, s.accelArgs...)
	all = append(all, args...)
	all = append(all, iso, mode)
	cmd := command(ctx, "bash", all...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	rep, perr := parseReport(stdout.String())
	rep.Stderr = stderr.String()
	if perr != nil {
		rep.Stderr += "\nparse error: " + perr.Error()
		rep.Result = "FAIL"
	}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		rep.ExitCode = -1
		rep.Result = "FAIL"
		rep.Stderr += fmt.Sprintf("\nboot-check.sh stopped: %v (%v)", context.Cause(ctx), err)
	case err == nil:
	case errors.As(err, &ee):
		rep.ExitCode = ee.ExitCode()
	default:
		rep.ExitCode = -1
		rep.Stderr += "\n" + err.Error()
	}
	if rep.Mode == "" {
		rep.Mode = mode
	}
	return rep
}

// ---- output for CI ---------------------------------------------------------

func recordBoot(scenario, mode string, rep bootReport, ok bool) {
	verdict := "ok"
	if !ok {
		verdict = "FAILED"
	}
	files := "-"
	if rep.Ignition != "" {
		files = fmt.Sprintf("%d entries", len(rep.Entries))
	}
	line := fmt.Sprintf("%-30s %-9s %-5s %5.1fs (kernel %s, init %s)  %-4s firmware=%-4s via=%-12s config=%-7s ignition=%-16q written=%-10s check=%s",
		scenario, mode, orDash(rep.Result), rep.Seconds, at(rep.KernelAt), at(rep.InitAt), orDash(rep.Accel),
		orDash(rep.Firmware), orDash(rep.BootedFrom), orDash(rep.Config), rep.Ignition, files, verdict)
	resultsMu.Lock()
	bootLines = append(bootLines, line)
	resultsMu.Unlock()
}

// recordScenario keeps, for the summary, what the guest saw of one image:
// the kernel command lines (BIOS modes get theirs from isolinux.cfg, UEFI
// modes from grub.cfg), the keyfiles and the files Ignition wrote.
func recordScenario(scenario string, e expected, reports []bootReport) {
	var b strings.Builder
	for _, rep := range reports {
		if rep.Mode == "bios-cd" || rep.Mode == "uefi-cd" {
			fmt.Fprintf(&b, "%s: kernel command line (%s): %s\n", scenario, rep.Mode, strings.Join(rep.Cmdline, " "))
		}
	}
	var paths []string
	for _, rep := range reports {
		paths = append(paths, rep.Mode+" via "+orDash(rep.BootedFrom))
		if rep.Copy != "" {
			fmt.Fprintf(&b, "%s: %s boot copy: %s\n", scenario, rep.Mode, rep.Copy)
		}
	}
	fmt.Fprintf(&b, "%s: boot paths: %s\n", scenario, strings.Join(paths, ", "))
	fmt.Fprintf(&b, "%s: kargs required: %s; absent: %s\n", scenario, strings.Join(e.kargs, " "), orDash(strings.Join(e.noKargs, " ")))
	rep := reports[0]
	names := make([]string, 0, len(rep.Keyfiles))
	for n := range rep.Keyfiles {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		k := rep.Keyfiles[n]
		fmt.Fprintf(&b, "%s: keyfile in the initramfs: etc/coreos-firstboot-network/%s %04o %d bytes sha256 %.16s…\n", scenario, n, k.Mode, k.Size, k.SHA256)
	}
	if e.config == nil {
		fmt.Fprintf(&b, "%s: no config embedded; Ignition did not run\n", scenario)
	} else {
		fmt.Fprintf(&b, "%s: Ignition wrote (%s, same in every mode):\n", scenario, rep.Mode)
		for _, p := range rep.Paths {
			g := rep.Entries[p]
			why := "parent directory"
			if w, ok := e.tree.Entries[p]; ok {
				why = w.Why
			}
			fmt.Fprintf(&b, "    %-90s  [%s]\n", g, why)
		}
	}
	resultsMu.Lock()
	treeBlocks = append(treeBlocks, b.String())
	resultsMu.Unlock()
}

func printSummary() {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	if len(bootLines) == 0 {
		return
	}
	slices.Sort(bootLines)
	slices.Sort(treeBlocks)
	fmt.Printf("\n==== e2e boot results (%d QEMU boots)\n", len(bootLines))
	for _, l := range bootLines {
		fmt.Println(l)
	}
	for _, b := range treeBlocks {
		fmt.Printf("\n%s", b)
	}
	fmt.Println()
}

// ---- small helpers -----------------------------------------------------------

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func at(sec float64) string {
	if sec < 0 {
		return "  -  "
	}
	return fmt.Sprintf("%4.1fs", sec)
}

// runOut runs a command in dir ("" for the current directory) and returns
// its standard output.
func runOut(t *testing.T, dir, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
