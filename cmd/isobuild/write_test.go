package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/internal/testiso"
	"github.com/isobuild/isobuild/pkg/blockdev"
)

// writeTestISO writes a small live ISO into dir and returns its path and
// bytes.
func writeTestISO(t *testing.T, dir string) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	if err := testiso.Build(&b, testiso.Options{RootfsSize: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "live.iso")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b.Bytes()
}

func TestWriteRegularFile(t *testing.T) {
	dir := t.TempDir()
	iso, img := writeTestISO(t, dir)
	out := filepath.Join(dir, "stick.img")
	ok(t, nil, "write", iso, out)
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, img) {
		t.Fatalf("written file differs from the image (%v)", err)
	}
	// No clobbering, as with -o FILE.
	if err := os.WriteFile(out, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := cli(t, nil, "write", "--yes", "--force", iso, out)
	if r.code == 0 || !strings.Contains(r.combined(), "never overwrites") {
		t.Errorf("existing file: exit %d\n%s", r.code, r.combined())
	}
	if got, _ := os.ReadFile(out); string(got) != "keep" {
		t.Errorf("existing file was changed")
	}
}

func TestWriteRefusals(t *testing.T) {
	dir := t.TempDir()
	iso, _ := writeTestISO(t, dir)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"write", iso, "/dev/isobuild-no-such-disk"}, "no such device /dev/isobuild-no-such-disk"},
		{[]string{"write", iso, dir}, "is a directory"},
		{[]string{"write", iso}, "expects IMAGE and DEVICE"},
		{[]string{"write", "--list", iso}, "no arguments with --list"},
		{[]string{"write", filepath.Join(dir, "missing.iso"), filepath.Join(dir, "x")}, "no such file"},
		{[]string{"write", iso, "/dev/null"}, "not a block device"},
	} {
		r := cli(t, nil, tc.args...)
		if r.code == 0 || !strings.Contains(r.combined(), tc.want) {
			t.Errorf("isobuild %s: exit %d, want an error with %q:\n%s", strings.Join(tc.args, " "), r.code, tc.want, r.combined())
		}
	}
	if _, err := os.Stat("/dev/isobuild-no-such-disk"); err == nil {
		t.Error("a mistyped device was created as a file")
	}
}

func TestWriteDeviceList(t *testing.T) {
	var b bytes.Buffer
	err := writeDeviceList(&b, []*blockdev.Device{
		{Path: "/dev/sdb", Size: 32 << 30, Transport: "usb", RemovableFlag: true, Model: "SanDisk Ultra"},
		{Path: "/dev/sda", Size: 1 << 40, Transport: "sata", Model: "Samsung SSD",
			Mounts:  []blockdev.Mount{{Source: "sda2", Point: "/", Root: true}},
			Holders: []blockdev.Holder{{On: "sda3", Name: "dm-0", Label: "luks-home"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `DEVICE    SIZE      TRANSPORT  REMOVABLE  MODEL          IN USE
/dev/sdb  32.0 GiB  usb        yes        SanDisk Ultra  -
/dev/sda  1.0 TiB   sata       no         Samsung SSD    sda2 on /, sda3 held by dm-0 (luks-home)
`
	if b.String() != want {
		t.Errorf("list:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestWriteLoopDevice writes to a loop device (root only): refused as not
// removable, then for want of a terminal, then written with --force --yes.
func TestWriteLoopDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		fixture.Skipf(t, "loop devices need root")
	}
	losetup := fixture.NeedTool(t, "losetup")
	dir := t.TempDir()
	iso, img := writeTestISO(t, dir)
	backing := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(backing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(backing, 8<<20); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(losetup, "--find", "--show", backing).CombinedOutput()
	if err != nil {
		fixture.Skipf(t, "losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command(losetup, "-d", dev).Run() })

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"write", "--yes", iso, dev}, "does not look removable"},
		{[]string{"write", "--force", iso, dev}, "no terminal to confirm on"},
	} {
		r := cli(t, nil, tc.args...)
		if r.code == 0 || !strings.Contains(r.combined(), tc.want) || !strings.Contains(r.combined(), "refusing to write to "+dev) {
			t.Errorf("isobuild %s: exit %d, want %q:\n%s", strings.Join(tc.args, " "), r.code, tc.want, r.combined())
		}
	}
	r := ok(t, nil, "write", "--force", "--yes", iso, dev)
	if !strings.Contains(string(r.stderr), "read back and verified") || !strings.Contains(string(r.stderr), "Device: "+dev) {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	got, err := os.ReadFile(backing)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:len(img)], img) {
		t.Error("the loop device does not hold the image")
	}
	// A device smaller than the image.
	if err := os.Truncate(backing, 512<<10); err != nil {
		t.Fatal(err)
	}
	exec.Command(losetup, "-c", dev).Run()
	if r := cli(t, nil, "write", "--force", "--yes", iso, dev); r.code == 0 || !strings.Contains(r.combined(), "but the image is") {
		t.Errorf("too small: exit %d\n%s", r.code, r.combined())
	}
}

// TestBuildToDevice builds straight onto a loop device (root only): the
// device then holds the bytes 'build -o FILE' writes.
func TestBuildToDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		fixture.Skipf(t, "loop devices need root")
	}
	losetup := fixture.NeedTool(t, "losetup")
	dir := t.TempDir()
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	args := []string{"build", "--ignition", fixture.Customize(t, "live.ign"), "--network-keyfile", fixture.Customize(t, "installer-test.nmconnection")}
	file := filepath.Join(dir, "out.iso")
	ok(t, nil, append(append([]string{}, args...), "-o", file, iso)...)
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	backing := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(backing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(backing, int64(len(want))+1<<20); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(losetup, "--find", "--show", backing).CombinedOutput()
	if err != nil {
		fixture.Skipf(t, "losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command(losetup, "-d", dev).Run() })

	// Refused without --yes (no terminal) and, for a loop device, without
	// --force-device; nothing is written.
	for _, extra := range [][]string{{"--force-device"}, {"--yes"}} {
		r := cli(t, nil, append(append(append([]string{}, args...), extra...), "-o", dev, iso)...)
		if r.code == 0 || !strings.Contains(r.combined(), "refusing to write to "+dev) {
			t.Errorf("build %v -o %s: exit %d\n%s", extra, dev, r.code, r.combined())
		}
	}
	if got, _ := os.ReadFile(backing); !bytes.Equal(got[:len(want)], make([]byte, len(want))) {
		t.Fatal("a refused build wrote to the device")
	}
	r := ok(t, nil, append(append([]string{}, args...), "--yes", "--force-device", "-o", dev, iso)...)
	if !strings.Contains(string(r.stderr), "read back and verified") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	got, err := os.ReadFile(backing)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:len(want)], want) {
		t.Error("build -o DEVICE wrote other bytes than build -o FILE")
	}
}
