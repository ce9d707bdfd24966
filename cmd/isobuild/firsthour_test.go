package main

// Tests of what a new user meets in the first hour: the installer footgun,
// usage errors, --version, and messages that say what to do.

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/isobuild/isobuild/internal/fixture"
)

// diskButane partitions, encrypts and formats a disk, like the homelab
// config the issue replays: a config for the installed system.
const diskButane = `variant: fcos
version: 1.4.0
storage:
  disks:
    - device: /dev/nvme0n1
      wipe_table: true
      partitions:
        - label: root
          number: 4
          size_mib: 16384
        - label: var
  luks:
    - name: var
      device: /dev/disk/by-partlabel/var
      clevis:
        tpm2: true
  filesystems:
    - device: /dev/mapper/var
      path: /var
      format: xfs
      with_mount_unit: true
passwd:
  users:
    - name: core
      ssh_authorized_keys:
        - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxZ7lMqj0b0aJ0E4pFlwXyRLEy6OUTCgk7HX7rNZVjT user@example
`

// usageFails runs the CLI and requires exit status 2 with want in stderr.
func usageFails(t *testing.T, want string, args ...string) result {
	t.Helper()
	r := fails(t, want, nil, args...)
	if r.code != 2 {
		t.Fatalf("isobuild %s: exit %d, want 2 (usage error)\n%s", strings.Join(args, " "), r.code, r.combined())
	}
	return r
}

func noFiles(t *testing.T, dir string) {
	t.Helper()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("a failed command left %d file(s) in %s", len(ents), dir)
	}
}

func TestBuildDestDeviceNeedsDestConfig(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	dir := t.TempDir()
	out := filepath.Join(dir, "custom.iso")
	bu := writeTemp(t, "config.bu", []byte(diskButane))

	// The headline command plus the obvious install flag.
	r := usageFails(t, "no config for the installed system", "build", "--butane", bu, "--dest-device", "/dev/nvme0n1", "-o", out, iso)
	for _, want := range []string{"--butane " + bu + " configures the live installer environment only", "--dest-butane " + bu} {
		if !strings.Contains(r.combined(), want) {
			t.Errorf("message does not say %q:\n%s", want, r.combined())
		}
	}
	if strings.Contains(r.combined(), "Boot media will") {
		t.Errorf("a failed build printed the install banner:\n%s", r.combined())
	}
	// No config at all.
	usageFails(t, "--dest-butane", "build", "--dest-device", "/dev/sda", "-o", out, iso)
	noFiles(t, dir)

	// The right way, and an installer config that names the config.
	r = ok(t, nil, "build", "--dest-butane", bu, "--dest-device", "/dev/nvme0n1", "-o", out, iso)
	if !strings.Contains(r.combined(), "installs to:          /dev/nvme0n1") {
		t.Errorf("build does not say where it installs:\n%s", r.combined())
	}
	conf := writeTemp(t, "install.yaml", []byte("ignition-url: https://example.com/config.ign\n"))
	ok(t, nil, "build", "--installer-config", conf, "--dest-device", "/dev/sda", "-o", filepath.Join(dir, "url.iso"), iso)
}

func TestBuildRefusesLiveStorage(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	dir := t.TempDir()
	bu := writeTemp(t, "config.bu", []byte(diskButane))
	out := filepath.Join(dir, "live.iso")
	r := usageFails(t, "changes disks in the live system", "build", "--butane", bu, "-o", out, iso)
	for _, want := range []string{"storage.disks: /dev/nvme0n1", "storage.luks: var", "storage.filesystems: /dev/mapper/var", "--live-storage", "--dest-butane"} {
		if !strings.Contains(r.combined(), want) {
			t.Errorf("message does not name %q:\n%s", want, r.combined())
		}
	}
	noFiles(t, dir)
	// The same as Ignition JSON.
	ign := writeTemp(t, "config.ign", ok(t, nil, "butane", bu).stdout)
	usageFails(t, "--ignition "+ign+" changes disks", "build", "--ignition", ign, "-o", out, iso)
	noFiles(t, dir)

	// Intended: allowed, and the config is embedded as it is.
	ok(t, nil, "build", "--butane", bu, "--live-storage", "-o", out, iso)
	jsonEqual(t, ok(t, nil, "iso", "ignition", "show", out).stdout, readTestFile(t, ign))

	// A live config without storage is not affected, nor is iso customize.
	ok(t, nil, "build", "--butane", fixture.Customize(t, "live.bu"), "-o", filepath.Join(dir, "plain.iso"), iso)
	ok(t, nil, "iso", "customize", "--live-ignition", ign, "-o", filepath.Join(dir, "compat.iso"), iso)
}

func TestDestDevicePath(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	dir := t.TempDir()
	dest := fixture.Customize(t, "dest.bu")
	r := usageFails(t, "--dest-device nvme0n1 is not a device path", "build", "--dest-butane", dest, "--dest-device", "nvme0n1", "-o", filepath.Join(dir, "a.iso"), iso)
	if !strings.Contains(r.combined(), "did you mean /dev/nvme0n1?") {
		t.Errorf("no hint: %s", r.combined())
	}
	noFiles(t, dir)
	// The compatible command accepts it as coreos-installer does, with a
	// warning after the image is written.
	r = ok(t, nil, "iso", "customize", "--dest-ignition", fixture.Customize(t, "dest.ign"), "--dest-device", "nvme0n1", "-o", filepath.Join(dir, "b.iso"), iso)
	if !strings.Contains(string(r.stderr), "Warning: --dest-device nvme0n1 is not a device path") || !strings.Contains(string(r.stderr), "/dev/nvme0n1?") {
		t.Errorf("iso customize does not warn: %s", r.stderr)
	}
	r = ok(t, nil, "pxe", "customize", "--dest-ignition", fixture.Customize(t, "dest.ign"), "--dest-device", "sda", "-o", filepath.Join(dir, "c.img"), liveInitramfs(t, pxeFeatures))
	if !strings.Contains(string(r.stderr), "Warning: --dest-device sda is not a device path") {
		t.Errorf("pxe customize does not warn: %s", r.stderr)
	}
}

// The install banner describes the written image: a command that fails
// prints its error only.
func TestInstallBannerOnlyAfterWrite(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	dir := t.TempDir()
	taken := writeTemp(t, "taken.iso", []byte("x"))
	dest := fixture.Customize(t, "dest.ign")
	for _, args := range [][]string{
		{"iso", "customize", "--dest-ignition", dest, "--dest-device", "/dev/sda", "-o", taken, iso},
		{"build", "--dest-ignition", dest, "--dest-device", "/dev/sda", "-o", taken, iso},
		{"pxe", "customize", "--dest-ignition", dest, "--dest-device", "/dev/sda", "-o", taken, liveInitramfs(t, pxeFeatures)},
	} {
		r := fails(t, "File exists", nil, args...)
		if strings.Contains(r.combined(), "Boot media will") {
			t.Errorf("%s: banner printed although nothing was written:\n%s", args[0], r.combined())
		}
		if !strings.Contains(r.combined(), "hint: isobuild never overwrites an output") {
			t.Errorf("%s: no hint for the existing output:\n%s", args[0], r.combined())
		}
	}
	r := ok(t, nil, "iso", "customize", "--dest-ignition", dest, "--dest-device", "/dev/sda", "-o", filepath.Join(dir, "ok.iso"), iso)
	if !strings.Contains(string(r.stderr), "Boot media will automatically install to /dev/sda without confirmation.") {
		t.Errorf("banner missing after a successful write: %s", r.stderr)
	}
}

func TestUnknownCommands(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"iso", "customise", iso}, "did you mean 'isobuild iso customize'?"},
		{[]string{"pxe", "custom", "x"}, "unknown command \"custom\" for \"isobuild pxe\""},
		{[]string{"iso", "extract", "pxee", iso}, "did you mean 'isobuild iso extract pxe'?"},
		{[]string{"iso", "ignition", "shwo", iso}, "did you mean 'isobuild iso ignition show'?"},
		{[]string{"iso", "kargs", "bogus", iso}, "the commands of isobuild iso kargs are modify, reset, show"},
		{[]string{"isoo"}, "did you mean 'isobuild iso'?"},
		{[]string{"biuld", "x"}, "did you mean 'isobuild build'?"},
		{[]string{"iso"}, "isobuild iso needs a command"},
		{[]string{"pxe", "network"}, "isobuild pxe network needs a command: unwrap, wrap"},
		{[]string{}, "isobuild needs a command"},
		{[]string{"help", "bogus"}, "no help topic \"bogus\""},
		{[]string{"help", "iso", "custmize"}, "did you mean 'isobuild help iso customize'?"},
	} {
		r := usageFails(t, tc.want, tc.args...)
		if len(r.stdout) != 0 {
			t.Errorf("%v wrote to stdout: %q", tc.args, r.stdout)
		}
	}
	// Asking for help is not an error.
	for _, args := range [][]string{{"--help"}, {"iso", "--help"}, {"help", "iso", "ignition"}, {"pxe", "ignition", "-h"}} {
		if r := ok(t, nil, args...); !strings.Contains(string(r.stdout), "Usage:") {
			t.Errorf("%v: no usage in %q", args, r.stdout)
		}
	}
}

func TestFlagSuggestions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"build", "--live-karg-append", "quiet", "-o", "x.iso", "base.iso"}, "did you mean --karg-append?"},
		{[]string{"iso", "customize", "--karg-append", "quiet", "base.iso"}, "did you mean --live-karg-append?"},
		{[]string{"build", "--dest-ignitoin", "d.ign", "base.iso"}, "did you mean --dest-ignition?"},
		{[]string{"build", "--butan", "c.bu", "base.iso"}, "did you mean --butane?"},
		{[]string{"inspect", "--jsn", "base.iso"}, "did you mean --json?"},
	} {
		usageFails(t, tc.want, tc.args...)
	}
	// Nothing close: no guess.
	r := usageFails(t, "unknown flag: --frobnicate", "build", "--frobnicate", "x")
	if strings.Contains(r.combined(), "did you mean") {
		t.Errorf("suggestion for an unrelated flag: %s", r.combined())
	}
}

func TestVersion(t *testing.T) {
	gomod := string(readTestFile(t, "../../go.mod"))
	want := map[string]string{}
	for _, mod := range []string{butaneModule, ignitionModule} {
		m := regexp.MustCompile(regexp.QuoteMeta(mod) + ` (v\S+)`).FindStringSubmatch(gomod)
		if m == nil {
			t.Fatalf("%s not in go.mod", mod)
		}
		want[mod] = m[1]
	}
	a := ok(t, nil, "version").stdout
	b := ok(t, nil, "--version").stdout
	if string(a) != string(b) {
		t.Errorf("version and --version differ:\n%s\n%s", a, b)
	}
	for _, line := range []string{
		"isobuild ",
		"butane library:   " + butaneModule + " " + want[butaneModule],
		"ignition library: " + ignitionModule + " " + want[ignitionModule],
		"Ignition specs:   3.0.0, 3.1.0, 3.2.0, 3.3.0, 3.4.0, 3.5.0",
		"revision:",
	} {
		if !strings.Contains(string(a), line) {
			t.Errorf("version output lacks %q:\n%s", line, a)
		}
	}
	j := ok(t, nil, "version", "--json").stdout
	if !strings.Contains(string(j), `"butane_library": "`+want[butaneModule]+`"`) {
		t.Errorf("version --json: %s", j)
	}

	// What a release build reports.
	v := buildVersion(&debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/isobuild/isobuild", Version: "v1.2.3"},
		Deps:      []*debug.Module{{Path: butaneModule, Version: "v0.25.1"}, {Path: ignitionModule, Version: "v2.0.0", Replace: &debug.Module{Path: ignitionModule, Version: "v2.23.0"}}},
		Settings:  []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}},
	}, true).String()
	for _, line := range []string{"isobuild v1.2.3\n", "revision:         0123abcd (2026-12-01T10:00:00Z, with uncommitted changes)", "ignition library: github.com/coreos/ignition/v2 v2.23.0"} {
		if !strings.Contains(v, line) {
			t.Errorf("buildVersion lacks %q:\n%s", line, v)
		}
	}
	if v := buildVersion(nil, false); v.Version != "(devel)" || !strings.Contains(v.String(), "revision:         unknown") {
		t.Errorf("without build info: %+v", v)
	}
}

func TestNotAnISOHints(t *testing.T) {
	// A download that was not decompressed: the fixture as it is stored.
	xz := filepath.Join(fixture.SharedDir(t), "fixtures", "coreos-iso", "embed-areas-2023-07.x86_64.iso.xz")
	for _, tc := range []struct {
		file string
		want []string
	}{
		{writeTemp(t, "notes.txt", []byte(strings.Repeat("not an ISO\n", 5000))), []string{"notes.txt: parsing ISO9660 image: not an ISO 9660 image: no CD001 signature", "offset 32768 (sector 16)", "hint: isobuild takes a CoreOS live ISO"}},
		{writeTemp(t, "short.iso", []byte("tiny")), []string{"not an ISO 9660 image: too short"}},
		{xz, []string{"not an ISO 9660 image", "xz-compressed file: decompress it first"}},
	} {
		r := fails(t, tc.want[0], nil, "inspect", tc.file)
		for _, w := range tc.want[1:] {
			if !strings.Contains(r.combined(), w) {
				t.Errorf("inspect %s: no %q in\n%s", tc.file, w, r.combined())
			}
		}
	}
}

func TestConfigKindHints(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	dir := t.TempDir()
	out := filepath.Join(dir, "out.iso")
	bu, ign := fixture.Customize(t, "dest.bu"), fixture.Customize(t, "dest.ign")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"iso", "customize", "--dest-ignition", bu, "--dest-device", "/dev/sda", "-o", out, iso}, bu + " is a Butane config, not Ignition JSON: translate it first (isobuild butane -o config.ign " + bu + ")"},
		{[]string{"build", "--ignition", bu, "-o", out, iso}, bu + " is a Butane config, not Ignition JSON: pass it as --butane " + bu},
		{[]string{"build", "--dest-ignition", bu, "--dest-device", "/dev/sda", "-o", out, iso}, bu + " is a Butane config, not Ignition JSON: pass it as --dest-butane " + bu},
		{[]string{"iso", "customize", "--butane", bu, "-o", out, iso}, "isobuild iso customize takes Ignition configs: translate the Butane file first"},
		{[]string{"build", "--butane", ign, "-o", out, iso}, ign + " is an Ignition config already, not Butane: pass it as --ignition " + ign},
		{[]string{"build", "--dest-butane", ign, "--dest-device", "/dev/sda", "-o", out, iso}, "not Butane: pass it as --dest-ignition " + ign},
	} {
		r := fails(t, "hint: ", nil, tc.args...)
		if !strings.Contains(r.combined(), tc.want) {
			t.Errorf("%v: no %q in\n%s", tc.args, tc.want, r.combined())
		}
		if r.code == 0 {
			t.Errorf("%v: exit %d", tc.args, r.code)
		}
	}
	noFiles(t, dir)
	// iso ignition embed stores any bytes, as coreos-installer does, and
	// warns.
	r := ok(t, nil, "iso", "ignition", "embed", "-i", bu, "-o", out, iso)
	if !strings.Contains(string(r.stderr), "Warning: "+bu+" is a Butane config, not Ignition JSON: the live system will fail to read it") {
		t.Errorf("iso ignition embed of a Butane file: %s", r.stderr)
	}
}

// Every command a user can run shows examples in its help, as the README
// promises.
func TestEveryCommandHasExamples(t *testing.T) {
	root := newRootCmd(nil, nil, nil)
	paths := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		paths[c.CommandPath()] = true
		if c.Runnable() && !c.HasSubCommands() && !strings.Contains(c.Example, "isobuild "+c.Name()) && !strings.Contains(c.Example, c.CommandPath()) {
			t.Errorf("%s: no example in its help", c.CommandPath())
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	for p := range commandExamples {
		if !paths[p] {
			t.Errorf("commandExamples has %q, which is not a command", p)
		}
	}
}

func TestInspectRelease(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	text := string(ok(t, nil, "inspect", iso).stdout)
	for _, want := range []string{
		"OS release:         Fedora CoreOS fedora-coreos-38.20230718.dev.0, built 2023-07-18\n",
		"Ignition specs:     3.0.0 to at most 3.4.0\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("inspect lacks %q:\n%s", want, text)
		}
	}
	rep := inspectJSON(t, iso)
	if rep.Release.OS != "Fedora CoreOS" || rep.Release.SpecMax != "3.4.0" || !rep.Release.SpecsCertain {
		t.Errorf("inspect --json release: %+v", rep.Release)
	}
	rhcos := inspectJSON(t, fixture.ISO(t, "embed-areas-2020-09.iso"))
	if rhcos.Release.OS != "RHCOS" || rhcos.Release.SpecMax != "3.3.0" {
		t.Errorf("RHCOS 4.6 fixture: %+v", rhcos.Release)
	}
	if r := releaseOf("volume-ID-string"); r.OS != "unknown" || r.IgnitionSpecs != "unknown" {
		t.Errorf("unknown volume id: %+v", r)
	}
}

// The README and the demo say what a new user needs first: the sections
// the README promises, and a demo that is honest about its image and shows
// the installer path.
func TestFirstHourDocs(t *testing.T) {
	readme := string(readTestFile(t, "../../README.md"))
	for _, want := range []string{"## Install", "## Supported images", "## Where to get a base image", "## Limitations",
		"CGO_ENABLED=0 go install", "GOOS=darwin", "$env:CGO_ENABLED", "isobuild version", "--live-storage", "isobuild butane"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README lacks %q", want)
		}
	}
	demo := string(readTestFile(t, "../../scripts/demo.sh"))
	for _, want := range []string{"--dest-butane", "--dest-device", `inspect "$dir/installer.iso"`, "layout model", "does not boot"} {
		if !strings.Contains(demo, want) {
			t.Errorf("scripts/demo.sh lacks %q", want)
		}
	}
}

// The compatible commands embed a config the image cannot read, as
// coreos-installer does, but say so before the install banner, and inspect
// flags it.
func TestCompatSpecWarnings(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	dir := t.TempDir()
	bu := writeTemp(t, "new.bu", []byte("variant: fcos\nversion: 1.6.0\npasswd:\n  users:\n    - name: core\n"))
	ign := filepath.Join(dir, "new.ign")
	ok(t, nil, "butane", "-o", ign, bu)
	out := filepath.Join(dir, "custom.iso")
	r := ok(t, nil, "iso", "customize", "--dest-ignition", ign, "--dest-device", "/dev/sda", "-o", out, iso)
	stderr := string(r.stderr)
	warn := strings.Index(stderr, "Warning: --dest-ignition "+ign+": Ignition spec 3.5.0 is newer than fedora-coreos-38.20230718.dev.0 accepts (at most 3.4.0")
	banner := strings.Index(stderr, "Boot media will automatically install to /dev/sda")
	if warn < 0 || banner < warn || !strings.Contains(stderr, "the installed system will fail at its first boot") {
		t.Errorf("no warning before the banner:\n%s", stderr)
	}
	text := string(ok(t, nil, "inspect", out).stdout)
	if !strings.Contains(text, "Warning:            dest config /etc/coreos/dest.ign: Ignition spec 3.5.0 is newer than") {
		t.Errorf("inspect does not flag the conflict:\n%s", text)
	}
	if rep := inspectJSON(t, out); len(rep.SpecConflicts) != 1 {
		t.Errorf("inspect --json spec_conflicts: %q", rep.SpecConflicts)
	}
	// A config the image reads: no warning.
	old := writeTemp(t, "old.bu", []byte("variant: fcos\nversion: 1.5.0\n"))
	oldIgn := filepath.Join(dir, "old.ign")
	ok(t, nil, "butane", "-o", oldIgn, old)
	r = ok(t, nil, "iso", "customize", "--dest-ignition", oldIgn, "--dest-device", "/dev/sda", "-o", filepath.Join(dir, "ok.iso"), iso)
	if strings.Contains(string(r.stderr), "newer than") {
		t.Errorf("warning for a config the image reads: %s", r.stderr)
	}
	if rep := inspectJSON(t, filepath.Join(dir, "ok.iso")); len(rep.SpecConflicts) != 0 {
		t.Errorf("spec_conflicts for a readable config: %q", rep.SpecConflicts)
	}
}

func TestPXECustomizeOfAnISO(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	r := fails(t, "hint: this is a live ISO, not a PXE initramfs", nil, "pxe", "customize", "--dest-ignition", fixture.Customize(t, "dest.ign"),
		"--dest-device", "/dev/sda", "-o", filepath.Join(t.TempDir(), "x.img"), iso)
	if !strings.Contains(r.combined(), "isobuild iso extract pxe") {
		t.Errorf("no pointer to iso extract pxe: %s", r.combined())
	}
}

func TestPartitionOf(t *testing.T) {
	for dev, want := range map[string]string{
		"/dev/sda1": "/dev/sda", "/dev/vdb12": "/dev/vdb", "/dev/xvda2": "/dev/xvda", "sdc3": "/dev/sdc",
		"/dev/nvme0n1p2": "/dev/nvme0n1", "/dev/mmcblk0p1": "/dev/mmcblk0",
		"/dev/sda": "", "/dev/nvme0n1": "", "/dev/mmcblk0": "", "/dev/disk/by-id/nvme-x-part1": "", "/dev/md0": "", "/dev/loop0": "",
	} {
		got, ok := partitionOf(dev)
		if ok != (want != "") || got != want {
			t.Errorf("partitionOf(%q) = %q, %v; want %q", dev, got, ok, want)
		}
	}
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	r := usageFails(t, "--dest-device /dev/nvme0n1p3 is a partition", "build", "--dest-butane", fixture.Customize(t, "dest.bu"),
		"--dest-device", "/dev/nvme0n1p3", "-o", filepath.Join(t.TempDir(), "x.iso"), iso)
	if !strings.Contains(r.combined(), "give the disk, /dev/nvme0n1") {
		t.Errorf("no disk named: %s", r.combined())
	}
}
