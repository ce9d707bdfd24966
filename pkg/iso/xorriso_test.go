package iso_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/iso"
)

// reportLBA runs xorriso's report_lba over an image and returns
// path → (start LBA, size in bytes).
func reportLBA(t *testing.T, path string) map[string][2]int64 {
	t.Helper()
	out, err := exec.Command("xorriso", "-indev", path, "-find", "/", "-exec", "report_lba", "--").Output()
	if err != nil {
		t.Fatalf("xorriso: %v", err)
	}
	re := regexp.MustCompile(`^File data lba:\s*\d+\s*,\s*(\d+)\s*,\s*\d+\s*,\s*(\d+)\s*,\s*'(.*)'$`)
	got := map[string][2]int64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := re.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		lba, _ := strconv.ParseInt(m[1], 10, 64)
		size, _ := strconv.ParseInt(m[2], 10, 64)
		name := strings.ReplaceAll(m[3], `'"'"'`, `'`) // xorriso's shell quoting
		got[strings.TrimPrefix(name, "/")] = [2]int64{lba, size}
	}
	if len(got) == 0 {
		t.Fatalf("xorriso reported no files:\n%s", out)
	}
	return got
}

func needXorriso(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("xorriso"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("xorriso is not on PATH; CI must install it (apt-get install xorriso)")
		}
		t.Skip("xorriso not on PATH")
	}
}

// TestXorrisoFixtures checks the reader's extents on every fixture against
// xorriso (which reports Rock Ridge names, so files are compared as a
// multiset of extents; it leaves out the El Torito boot catalog).
func TestXorrisoFixtures(t *testing.T) {
	needXorriso(t)
	for _, name := range fixture.ISONames(t, "") {
		t.Run(name, func(t *testing.T) {
			path := fixture.ISO(t, name)
			var want []string
			for _, x := range reportLBA(t, path) {
				want = append(want, fmt.Sprintf("%d+%d", x[0]*2048, x[1]))
			}
			var got []string
			im := openFile(t, path)
			catalog, hasCatalog := im.ElTorito()
			for _, e := range walkEntries(t, im) {
				if hasCatalog && e.Offset == int64(catalog)*iso.SectorSize && e.Length == iso.SectorSize {
					continue // xorriso reports the boot catalog apart from the files
				}
				if e.Kind == "file" {
					got = append(got, fmt.Sprintf("%d+%d", e.Offset, e.Length))
				}
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("file extents differ:\nreader:  %v\nxorriso: %v", got, want)
			}
		})
	}
}
