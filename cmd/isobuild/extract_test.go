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
				got := readFile(t, filepath.Join(dir, stem+"-"+name))
				if !bytes.HasPrefix(got, []byte(want)) {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			fails(t, "File exists", nil, "iso", "extract", "pxe", "-o", dir, iso)
		})
	}
}
