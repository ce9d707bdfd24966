package iso_test

import (
	"encoding/binary"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/iso"
)

// xorrisoBootImages returns xorriso's account of the El Torito images as
// "PLATFORM bootable LOADSIZE LBA" lines.
func xorrisoBootImages(t *testing.T, path string) []string {
	t.Helper()
	out, err := exec.Command("xorriso", "-indev", path, "-report_el_torito", "plain").CombinedOutput()
	if err != nil {
		t.Fatalf("xorriso: %v\n%s", err, out)
	}
	re := regexp.MustCompile(`(?m)^El Torito boot img :\s+\d+\s+(\S+)\s+(\S)\s+\S+\s+\S+\s+\S+\s+(\d+)\s+(\d+)$`)
	var got []string
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		got = append(got, strings.Join(m[1:], " "))
	}
	return got
}

func TestBootCatalogFixtures(t *testing.T) {
	fixture.NeedTool(t, "xorriso")
	for _, name := range fixture.ISONames(t, "") {
		t.Run(name, func(t *testing.T) {
			path := fixture.ISO(t, name)
			entries, err := openFile(t, path).BootCatalog()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range entries {
				b := "n"
				if e.Bootable {
					b = "y"
				}
				got = append(got, fmt.Sprintf("%s %s %d %d", e.PlatformName(), b, e.Sectors, e.LoadRBA))
			}
			want := xorrisoBootImages(t, path)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("boot catalog:\n%s\nxorriso:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// parseCatalog reads cat as the boot catalog of a real image (a fixture
// whose catalog sector is replaced).
func parseCatalog(t *testing.T, cat []byte) ([]iso.BootEntry, error) {
	t.Helper()
	img := readFixture(t, "embed-areas-2023-07.x86_64.iso")
	lba, ok := openBytes(t, img).ElTorito()
	if !ok {
		t.Fatal("fixture has no El Torito boot record")
	}
	copy(img[int64(lba)*iso.SectorSize:], cat)
	return openBytes(t, img).BootCatalog()
}

func validCatalog(sections ...[]byte) []byte {
	cat := make([]byte, iso.SectorSize)
	cat[0], cat[30], cat[31] = 1, 0x55, 0xAA
	var sum uint16
	for i := 0; i < 32; i += 2 {
		sum += binary.LittleEndian.Uint16(cat[i:])
	}
	binary.LittleEndian.PutUint16(cat[28:], -sum)
	cat[32] = 0x88
	binary.LittleEndian.PutUint16(cat[38:], 4)
	binary.LittleEndian.PutUint32(cat[40:], 30)
	pos := 64
	for _, s := range sections {
		pos += copy(cat[pos:], s)
	}
	return cat
}

func section(last bool, platform byte, n int, rba uint32) []byte {
	h := make([]byte, 32+32*n)
	h[0] = 0x90
	if last {
		h[0] = 0x91
	}
	h[1] = platform
	binary.LittleEndian.PutUint16(h[2:], uint16(n))
	for i := 0; i < n; i++ {
		e := h[32+32*i:]
		e[0] = 0x88
		binary.LittleEndian.PutUint32(e[8:], rba+uint32(i))
	}
	return h
}

func TestBootCatalogErrors(t *testing.T) {
	bad := validCatalog()
	bad[28]++ // checksum
	tooMany := validCatalog(section(true, iso.PlatformEFI, 200, 40))
	for _, tc := range []struct {
		name, want string
		cat        []byte
	}{
		{"checksum", "checksum", bad},
		{"no validation entry", "no validation entry", make([]byte, iso.SectorSize)},
		{"entries beyond the sector", "beyond the catalog sector", tooMany[:iso.SectorSize]},
	} {
		entries, err := parseCatalog(t, tc.cat)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "El Torito boot catalog") {
			t.Errorf("%s: got %v, %v; want an error about %q", tc.name, entries, err, tc.want)
		}
	}
	entries, err := parseCatalog(t, validCatalog(section(false, iso.PlatformEFI, 2, 40), section(true, iso.PlatformMac, 1, 50)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.PlatformName()+" "+strconv.Itoa(int(e.LoadRBA)))
	}
	if strings.Join(got, ",") != "BIOS 30,UEFI 40,UEFI 41,Mac 50" {
		t.Errorf("entries %v", got)
	}
}

func FuzzBootCatalog(f *testing.F) {
	f.Add(validCatalog(section(true, iso.PlatformEFI, 1, 40)))
	f.Add(validCatalog(section(false, iso.PlatformEFI, 2, 40), section(true, iso.PlatformMac, 1, 50)))
	f.Add(make([]byte, iso.SectorSize))
	img := readFixture(f, "embed-areas-2023-07.x86_64.iso")
	lba, _ := openBytes(f, img).ElTorito()
	at := int64(lba) * iso.SectorSize
	f.Fuzz(func(t *testing.T, cat []byte) {
		data := append([]byte(nil), img...)
		copy(data[at:at+iso.SectorSize], cat)
		im := openBytes(t, data)
		entries, err := im.BootCatalog()
		if err == nil && len(entries) > iso.SectorSize/32 {
			t.Fatalf("%d entries from one sector", len(entries))
		}
	})
}
