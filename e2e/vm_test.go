//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestVM boots images with isobuild vm, as a user trying an image would,
// instead of boot-check.sh: the customized CoreOS-layout image in BIOS and
// UEFI (the probe's report must be the same as under boot-check.sh), the
// installer image with a scratch disk (the probe's stand-in installer must
// have written the destination config to it), and the installer image
// again with a bootable disk (the base image, an isohybrid disk): the disk
// is first in the boot order, so the base image's probe must answer.
func TestVM(t *testing.T) {
	s := getSuite(t)
	dir := testDir(t)
	ctx := testContext(t)

	t.Run("build", func(t *testing.T) {
		t.Parallel()
		e := prepareBuild(t, s, dir)
		for _, fw := range []string{"bios", "uefi"} {
			t.Run(fw, func(t *testing.T) {
				t.Parallel()
				rep := s.vm(t, ctx, e.iso, fw, "--disk-size", "64M")
				for _, p := range bootProblems(fw+"-cd", e, rep) {
					t.Error(p)
				}
				recordBoot("vm-build", fw+"-cd", rep, !t.Failed())
			})
		}
	})

	t.Run("installer", func(t *testing.T) {
		t.Parallel()
		e := prepareInstaller(t, s, dir)
		want := e.tree.Contents[destIgnPath]
		if len(want) == 0 {
			t.Fatalf("the installer's live config writes no %s", destIgnPath)
		}
		t.Run("scratch-disk", func(t *testing.T) {
			t.Parallel()
			disk := filepath.Join(dir, "vm-scratch.img")
			rep := s.vm(t, ctx, e.iso, "bios", "--disk", disk, "--disk-size", "64M")
			for _, p := range bootProblems("bios-cd", e, rep) {
				t.Error(p)
			}
			recordBoot("vm-installer", "bios-cd", rep, !t.Failed())
			sum := fmt.Sprintf("%x", sha256.Sum256(want))
			wantLine := fmt.Sprintf("wrote %d %s to %s", len(want), sum, destDevice)
			if rep.Install != wantLine {
				t.Errorf("E2E-INSTALL: %q, want %q", rep.Install, wantLine)
			}
			// The disk: created by isobuild vm, sparse, of the size asked
			// for, starting with what the stand-in installer wrote.
			var st syscall.Stat_t
			if err := syscall.Stat(disk, &st); err != nil {
				t.Fatal(err)
			}
			if st.Size != 64<<20 {
				t.Errorf("%s is %d bytes, want 64 MiB", disk, st.Size)
			}
			if used := st.Blocks * 512; used > 8<<20 {
				t.Errorf("%s uses %d bytes on disk: not created sparse", disk, used)
			}
			got := make([]byte, 4096)
			f, err := os.Open(disk)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.ReadAt(got, 0); err != nil {
				t.Fatal(err)
			}
			head := fmt.Sprintf("ISOBUILD-E2E-INSTALL %d %s\n", len(want), sum)
			if !bytes.HasPrefix(got, append([]byte(head), want...)) {
				t.Errorf("the scratch disk starts with %q, want %q and the destination config %q", got[:min(len(got), len(head)+len(want))], head, want)
			}
		})
		t.Run("installed-disk-boots-first", func(t *testing.T) {
			t.Parallel()
			disk := filepath.Join(dir, "vm-installed.img")
			copyFile(t, s.base, disk)
			rep := s.vm(t, ctx, e.iso, "bios", "--disk", disk)
			// The CD has a config and the disk none: a report without
			// one came from the disk.
			if rep.Result != "PASS" || rep.Config != "none" || rep.Ignition != "" {
				t.Errorf("report: result %s, config %q, Ignition %q; want PASS and no config, the base image's probe on the disk", rep.Result, rep.Config, rep.Ignition)
			}
			for _, k := range s.defaultKargs {
				if !slices.Contains(rep.Cmdline, k) {
					t.Errorf("kernel command line lacks the base image's %s: %q", k, strings.Join(rep.Cmdline, " "))
				}
			}
			recordBoot("vm-installed", "bios-disk", rep, !t.Failed())
		})
	})
}

// vm boots iso with isobuild vm (no terminal, no SSH forward: the tests
// run in parallel) and returns the probe's report. Result is PASS when
// isobuild vm exited 0 with the report complete; BootedFrom is (cd0) when
// GRUB says it was loaded from the CD, cdrom when the console shows
// ISOLINUX's banner (boot-check.sh's names): the loader of the CD, and
// the only bootable medium when the scratch disk is blank. (From a disk
// holding an isohybrid image the banner would be the same: the test that
// boots one checks the report instead.)
func (s *suite) vm(t *testing.T, ctx context.Context, iso, firmware string, args ...string) bootReport {
	t.Helper()
	select {
	case s.jobs <- struct{}{}:
	case <-ctx.Done():
		t.Fatalf("not started: %v", context.Cause(ctx))
	}
	defer func() { <-s.jobs }()
	all := append([]string{"vm", "--firmware", firmware, "--accel", s.accel, "--ssh-port", "0", "--memory", "1024"}, args...)
	all = append(all, iso)
	cmd := command(ctx, s.isobuild, all...)
	cmd.Dir = s.root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	console := cleanConsole(stdout.String())
	log := filepath.Join(testDir(t), "vm-"+strings.ReplaceAll(t.Name(), "/", "-")+".log")
	if werr := os.WriteFile(log, []byte(console), 0o644); werr != nil {
		t.Error(werr)
	}
	rep, perr := parseReport(console)
	rep.Mode, rep.Accel, rep.Seconds = firmware+"-cd", s.accel, time.Since(start).Seconds()
	rep.Stderr = stderr.String()
	t.Logf("isobuild %s: %v, %.1fs\n%s", strings.Join(all, " "), err, rep.Seconds, rep.Stderr)
	if perr != nil {
		t.Errorf("the console of isobuild vm: %v", perr)
	}
	if err != nil {
		t.Errorf("isobuild vm: %v\n%s", err, rep.Stderr)
	}
	if err == nil && perr == nil && rep.Markers {
		rep.Result = "PASS"
	} else {
		rep.Result = "FAIL"
		t.Logf("console (%s):\n%s", log, tail(console, 4000))
	}
	rep.BootedFrom = "-"
	if m := grubLoadedFrom.FindStringSubmatch(console); m != nil {
		rep.BootedFrom = m[1]
	} else if strings.Contains(console, "ISOLINUX ") {
		rep.BootedFrom = "cdrom"
	}
	return rep
}

var (
	grubLoadedFrom = regexp.MustCompile(`(?m)^E2E-GRUB: loaded from (\([^)]*\))`)
	// ansiEscape matches the colour and cursor sequences of OVMF and GRUB.
	ansiEscape = regexp.MustCompile(`\x1b(\[[0-9;?=]*[A-Za-z]|[()][0-9A-Za-z])`)
)

// cleanConsole is a serial console's text without carriage returns and
// terminal escape sequences, as boot-check.sh cleans its log.
func cleanConsole(s string) string {
	return ansiEscape.ReplaceAllString(strings.ReplaceAll(s, "\r", ""), "")
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
