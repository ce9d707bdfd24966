package remaster_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/pkg/remaster"
)

// A file in a directory the image lacks (the NoCloud seed of an Ubuntu
// autoinstall) creates the directories in every tree; Reset restores the
// base byte for byte.
func TestRemasterNewDirectory(t *testing.T) {
	need(t, "xorriso", "isoinfo", "mkfs.vfat")
	userData := "#cloud-config\nautoinstall:\n  version: 1\n"
	for _, l := range append(layouts, layout{name: "partition-offset", args: []string{"-partition_offset", "16", "-appended_part_as_gpt"}, esp: true}) {
		t.Run(l.name, func(t *testing.T) {
			base := makeFlatcarISO(t, l, 0)
			_, im := openImage(t, base)
			c := flatcarChange()
			c.Files = []remaster.File{
				{Path: "/nocloud/user-data", Data: []byte(userData)},
				{Path: "/nocloud/meta-data", Data: nil},
				{Path: "/a/b/c/file", Data: []byte("deep")},
			}
			ov, err := im.Overlay(c)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out.iso")
			write(t, ov, out)
			rep := checkXorriso(t, out)
			for _, p := range []string{"/nocloud/user-data", "/nocloud/meta-data", "/a/b/c/file", "/flatcar/isobuild.img"} {
				if !strings.Contains(rep, "'"+p+"'") {
					t.Errorf("xorriso -find lacks %s", p)
				}
			}
			for _, mode := range []string{"-R", "-J"} {
				if got := run(t, "isoinfo", "-i", out, mode, "-x", "/nocloud/user-data"); got != userData {
					t.Errorf("isoinfo %s -x /nocloud/user-data: %q", mode, got)
				}
				if got := run(t, "isoinfo", "-i", out, mode, "-x", "/a/b/c/file"); got != "deep" {
					t.Errorf("isoinfo %s -x /a/b/c/file: %q", mode, got)
				}
			}
			if pt := strings.ToUpper(run(t, "isoinfo", "-i", out, "-p")); !strings.Contains(pt, " NOCLOUD\n") || !strings.Contains(pt, " C\n") {
				t.Errorf("isoinfo -p lacks the new directories:\n%s", pt)
			}
			_, again := openImage(t, out)
			reset, err := again.Reset()
			if err != nil {
				t.Fatal(err)
			}
			resetPath := filepath.Join(t.TempDir(), "reset.iso")
			write(t, reset, resetPath)
			if sum(t, resetPath) != sum(t, base) {
				t.Error("reset is not byte-identical to the base")
			}
		})
	}
}
