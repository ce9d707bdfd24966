package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/internal/testiso"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden.txt from the current outputs")

// goldenPath records, for every fixture, mutating command and output mode,
// the sha256 of the output or the error it ends with. It pins the output
// bytes across refactoring: a change here is a change users would see.
const goldenPath = "testdata/golden.txt"

// goldenCase is one mutating command. iso cases run in the three output
// modes; pxe cases, which have no in-place mode, in two.
type goldenCase struct {
	name string
	args func(t *testing.T) []string
	pxe  bool
}

func goldenCases() []goldenCase {
	c := func(t *testing.T, n string) string { return fixture.Customize(t, n) }
	return []goldenCase{
		{name: "ignition-embed", args: func(t *testing.T) []string {
			return []string{"iso", "ignition", "embed", "-i", c(t, "live.ign")}
		}},
		{name: "kargs-modify", args: func(t *testing.T) []string {
			return []string{"iso", "kargs", "modify", "-a", "console=ttyS0,115200n8", "-d", "quiet", "-r", "ignition.platform.id=metal=qemu"}
		}},
		{name: "network-embed", args: func(t *testing.T) []string {
			return []string{"iso", "network", "embed", "-k", c(t, "installer-test.nmconnection"), "-k", c(t, "nmstate-js-eth1.nmconnection")}
		}},
		{name: "customize-dest", args: func(t *testing.T) []string {
			return []string{"iso", "customize", "--dest-ignition", c(t, "dest.ign"), "--dest-device", "/dev/vda", "--dest-console", "ttyS0,115200n8"}
		}},
		{name: "customize-full", args: fullOptions},
		{name: "build-butane", args: func(t *testing.T) []string {
			return []string{"build", "--butane", "../../examples/systemd-files.bu", "-d", "../../examples/files",
				"--karg-append", "console=ttyS0,115200n8", "--karg-delete", "quiet"}
		}},
		{name: "build-installer", args: func(t *testing.T) []string {
			return []string{"build", "--butane", c(t, "live.bu"), "--dest-butane", c(t, "dest.bu"), "--dest-device", "/dev/sda",
				"--network-keyfile", c(t, "installer-test.nmconnection"), "--karg-append", "console=ttyS0,115200n8"}
		}},
		{name: "build-keyfile", args: func(t *testing.T) []string {
			return []string{"build", "--ignition", c(t, "live.ign"), "--network-keyfile", c(t, "installer-test.nmconnection")}
		}},
		{name: "reset", args: func(t *testing.T) []string { return []string{"iso", "reset"} }},
		{name: "pxe-customize", pxe: true, args: func(t *testing.T) []string {
			return []string{"pxe", "customize", "--dest-ignition", c(t, "dest.ign"), "--dest-device", "/dev/vda",
				"--network-keyfile", c(t, "installer-test.nmconnection"), "--pre-install", c(t, "pre-install-1"), "--ignition-ca", c(t, "cert.pem")}
		}},
	}
}

// goldenRun runs args with the output in mode ("stdout", "file" or
// "inplace") on a copy of input and returns the line to record.
func goldenRun(t *testing.T, args []string, mode, input string, replacer *strings.Replacer) string {
	t.Helper()
	dir := t.TempDir()
	work := copyFile(t, input, filepath.Join(dir, "input"))
	before := fixture.SHA256(t, work)
	out := filepath.Join(dir, "out")
	var r result
	switch mode {
	case "stdout":
		r = cli(t, nil, append(append([]string{}, args...), "-o", "-", work)...)
	case "file":
		r = cli(t, nil, append(append([]string{}, args...), "-o", out, work)...)
	case "inplace":
		r = cli(t, nil, append(append([]string{}, args...), work)...)
	}
	if r.code != 0 {
		if after := fixture.SHA256(t, work); after != before {
			t.Errorf("%v (%s): failed and changed its input", args, mode)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v (%s): failed and left an output", args, mode)
		}
		var last string
		for _, line := range strings.Split(string(r.stderr), "\n") {
			if strings.HasPrefix(line, "isobuild: error: ") {
				last = line
			}
		}
		msg := strings.ReplaceAll(strings.TrimPrefix(last, "isobuild: error: "), dir, "DIR")
		return fmt.Sprintf("exit %d: %s", r.code, replacer.Replace(msg))
	}
	switch mode {
	case "stdout":
		return sum(r.stdout)
	case "file":
		return fixture.SHA256(t, out)
	default:
		return fixture.SHA256(t, work)
	}
}

// TestGoldenOutputs compares every output with testdata/golden.txt; run
// "go test ./cmd/isobuild -run TestGoldenOutputs -update" to rewrite it
// after a change that is meant to alter output bytes.
func TestGoldenOutputs(t *testing.T) {
	fakeNmstatectl(t)
	replacer := strings.NewReplacer(fixture.SharedDir(t), "SHARED")
	var lines []string
	record := func(fx, cs, mode, got string) {
		lines = append(lines, fmt.Sprintf("%s %s %s %s", fx, cs, mode, got))
	}
	cases := goldenCases()
	for _, name := range fixture.ISONames(t, "") {
		iso := fixture.ISO(t, name)
		for _, gc := range cases {
			args := gc.args(t)
			if gc.pxe {
				// The fixture's own PXE initrd (a placeholder) goes
				// through iso extract pxe first.
				dir := t.TempDir()
				r := cli(t, nil, "iso", "extract", "pxe", "-o", dir, iso)
				if r.code != 0 {
					record(name, gc.name, "extract", fmt.Sprintf("exit %d", r.code))
					continue
				}
				initrdPath := ""
				for _, p := range strings.Fields(string(r.stdout)) {
					if strings.HasSuffix(p, "-initrd.img") {
						initrdPath = p
					}
				}
				record(name, gc.name, "extract", fixture.SHA256(t, initrdPath))
				for _, mode := range []string{"stdout", "file"} {
					record(name, gc.name, mode, goldenRun(t, args, mode, initrdPath, replacer))
				}
				continue
			}
			modes := []string{"stdout", "file", "inplace"}
			if args[0] == "build" {
				modes = modes[:2] // build always writes a new image
			}
			for _, mode := range modes {
				record(name, gc.name, mode, goldenRun(t, args, mode, iso, replacer))
			}
		}
	}
	// A larger image, so that copies span many chunks and the patches
	// sit between long unpatched runs.
	big := filepath.Join(t.TempDir(), "big.iso")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := testiso.Build(f, testiso.Options{RootfsSize: 96<<20 + 12345}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, gc := range cases {
		if gc.name != "build-butane" && gc.name != "kargs-modify" && gc.name != "customize-full" {
			continue
		}
		args := gc.args(t)
		modes := []string{"stdout", "file", "inplace"}
		if args[0] == "build" {
			modes = modes[:2]
		}
		for _, mode := range modes {
			record("testiso-96MiB", gc.name, mode, goldenRun(t, args, mode, big, replacer))
		}
	}
	live := liveInitramfs(t, pxeFeatures)
	for _, gc := range cases {
		if !gc.pxe {
			continue
		}
		for _, mode := range []string{"stdout", "file"} {
			record("live-initramfs", gc.name, mode, goldenRun(t, gc.args(t), mode, live, replacer))
		}
		record("live-initramfs", "pxe-customize-empty", "stdout", goldenRun(t, []string{"pxe", "customize"}, "stdout", live, replacer))
	}
	got := strings.Join(lines, "\n") + "\n"
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := string(readTestFile(t, goldenPath))
	if got == want {
		return
	}
	wantLines := strings.Split(want, "\n")
	gotLines := strings.Split(got, "\n")
	for i := 0; i < max(len(wantLines), len(gotLines)); i++ {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			t.Errorf("golden line %d:\n got  %s\n want %s", i+1, g, w)
		}
	}
}
