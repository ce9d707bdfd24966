package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
)

func TestExtractPXE(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		files   map[string]string
	}{
		{"embed-areas-2023-07.x86_64.iso", map[string]string{"vmlinuz": "the kernel\n", "initrd.img": "initrd data\n", "rootfs.img": "rootfs data\n"}},
		{"embed-areas-2020-09.iso", map[string]string{"vmlinuz": "the kernel", "initrd.img": "initrd data", "rootfs.img": "rootfs data"}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			iso := fixture.ISO(t, tc.fixture)
			dir := filepath.Join(t.TempDir(), "pxe")
			r := ok(t, nil, "iso", "extract", "pxe", "-o", dir, iso)
			stem := strings.TrimSuffix(tc.fixture, ".iso")
			lines := strings.Fields(string(r.stdout))
			if len(lines) != len(tc.files) {
				t.Fatalf("printed %q, want %d paths", r.stdout, len(tc.files))
			}
			for name, want := range tc.files {
				got := readTestFile(t, filepath.Join(dir, stem+"-"+name))
				if !bytes.HasPrefix(got, []byte(want)) {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			fails(t, "File exists", nil, "iso", "extract", "pxe", "-o", dir, iso)
		})
	}
}

func TestDevShowISO(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.s390x.iso")
	if got := string(ok(t, nil, "dev", "show", "iso", "--ignition", iso).stdout); got != "{\n  \"offset\": 203776,\n  \"length\": 262144\n}\n" {
		t.Errorf("--ignition: %q", got)
	}
	want := "{\n  \"length\": 896,\n  \"default\": \"mitigations=auto,nosmt coreos.liveiso=fedora-coreos-38.20230718.dev.0 ignition.firstboot ignition.platform.id=metal\",\n" +
		"  \"kargs\": [\n    {\n      \"offset\": 138368,\n      \"length\": 896,\n      \"pad\": \"\\u0000\",\n      \"end\": \"\\u0000\"\n    }\n  ]\n}\n"
	if got := string(ok(t, nil, "dev", "show", "iso", "--kargs", iso).stdout); got != want {
		t.Errorf("--kargs:\n%s\nwant\n%s", got, want)
	}
	if got := string(ok(t, nil, "dev", "show", "iso", "--kargs", fixture.ISO(t, "embed-areas-2020-09.iso")).stdout); got != "null\n" {
		t.Errorf("--kargs without areas: %q", got)
	}
}
