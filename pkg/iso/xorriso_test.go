package iso_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/iso"
)

// TestXorrisoFixtures checks the reader's extents on every fixture against
// xorriso (which reports Rock Ridge names, so files are compared as a
// multiset of extents; it leaves out the El Torito boot catalog).
func TestXorrisoFixtures(t *testing.T) {
	fixture.NeedTool(t, "xorriso")
	for _, name := range fixture.ISONames(t, "") {
		t.Run(name, func(t *testing.T) {
			path := fixture.ISO(t, name)
			var want []string
			for _, x := range fixture.XorrisoExtents(t, path) {
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
