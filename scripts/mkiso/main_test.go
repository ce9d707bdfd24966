package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/pkg/iso"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "demo.iso")
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-rootfs-size", "100000", "-volume-id", "fedora-coreos-test", out}, &stdout, &stderr); err != nil {
		t.Fatalf("run = %v (stderr %q)", err, stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	im, err := iso.Open(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if im.Primary().VolumeID != "fedora-coreos-test" {
		t.Errorf("volume ID = %q", im.Primary().VolumeID)
	}
	if rec, err := im.Lookup("IMAGES/PXEBOOT/ROOTFS.IMG"); err != nil || rec.Length != 100000 {
		t.Errorf("rootfs = %+v, %v, want 100000 bytes", rec, err)
	}
	for _, want := range []string{"wrote " + out, "COREOS/KARGS.JSO", "IMAGES/IGNITION.IMG"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the image (no temporary file left)", len(entries))
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{nil, "expected one output file"},
		{[]string{"a.iso", "b.iso"}, "expected one output file"},
		{[]string{"-rootfs-size", "-5", filepath.Join(dir, "x.iso")}, "-rootfs-size must be positive"},
		{[]string{"-volume-id", strings.Repeat("v", 40), filepath.Join(dir, "x.iso")}, "longer than 32 characters"},
		{[]string{filepath.Join(dir, "missing", "x.iso")}, "no such file or directory"},
	}
	for _, tc := range tests {
		var stdout, stderr bytes.Buffer
		err := run(tc.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed runs left %d files behind", len(entries))
	}
}
