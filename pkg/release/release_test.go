package release

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/iso"
)

// fixtureIDs are the volume ids of the shared ISO fixtures, with what they
// name. TestFixtureVolumeIDs reads them from the fixtures themselves.
var fixtureIDs = map[string]struct {
	id, os string
	built  string
}{
	"embed-areas-2020-09.iso":        {"rhcos-46.82.202112161843-0", "RHCOS", "2021-12-16"},
	"embed-areas-2021-01.iso":        {"rhcos-47.84.202112162337-0", "RHCOS", "2021-12-16"},
	"embed-areas-2021-09.iso":        {"fedora-coreos-34.20210921.dev.0", "Fedora CoreOS", "2021-09-21"},
	"embed-areas-2021-12.iso":        {"fedora-coreos-35.20211216.dev.0", "Fedora CoreOS", "2021-12-16"},
	"embed-areas-2022-02.iso":        {"fedora-coreos-35.20220217.dev.0", "Fedora CoreOS", "2022-02-17"},
	"embed-areas-2022-09.iso":        {"fedora-coreos-36.20220909.dev.0", "Fedora CoreOS", "2022-09-09"},
	"embed-areas-2023-03.x86_64.iso": {"fedora-coreos-37.20230306.dev.0", "Fedora CoreOS", "2023-03-06"},
	"embed-areas-2023-03.s390x.iso":  {"fedora-coreos-37.20230307.dev.0", "Fedora CoreOS", "2023-03-07"},
	"embed-areas-2023-07.x86_64.iso": {"fedora-coreos-38.20230718.dev.0", "Fedora CoreOS", "2023-07-18"},
	"embed-areas-2023-07.s390x.iso":  {"fedora-coreos-38.20230718.dev.0", "Fedora CoreOS", "2023-07-18"},
}

func TestFixtureVolumeIDs(t *testing.T) {
	names := fixture.ISONames(t, "")
	if len(names) != len(fixtureIDs)+1 {
		t.Errorf("fixtures %v; the test knows %d of them and synthetic.iso", names, len(fixtureIDs))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			id := volumeID(t, fixture.ISO(t, name))
			want, known := fixtureIDs[name]
			r, ok := FromVolumeID(id)
			if !known {
				if name != "synthetic.iso" || id != "volume-ID-string" {
					t.Fatalf("unexpected fixture %s (volume id %q)", name, id)
				}
				if ok {
					t.Fatalf("FromVolumeID(%q) = %+v, want unknown", id, r)
				}
				if got := r.Specs().String(); got != "unknown" {
					t.Errorf("specs of an unknown release: %q", got)
				}
				return
			}
			if id != want.id {
				t.Fatalf("volume id %q, want %q", id, want.id)
			}
			if !ok || r.OS != want.os || r.Built.Format(time.DateOnly) != want.built || r.String() != id {
				t.Fatalf("FromVolumeID(%q) = %+v, %v; want %s built %s", id, r, ok, want.os, want.built)
			}
		})
	}
}

// volumeID reads the volume id of the ISO at path as isobuild does (an
// embed.Image's ISO is the same iso.Image).
func volumeID(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	im, err := iso.Open(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return im.Primary().VolumeID
}

func TestFromVolumeID(t *testing.T) {
	for _, c := range []struct {
		id, os, rid, version, built string
	}{
		{"fedora-coreos-38.20230718.3.0", "Fedora CoreOS", "fedora-coreos", "38.20230718.3.0", "2023-07-18"},
		{"fedora-coreos-40.20240101.demo.0", "Fedora CoreOS", "fedora-coreos", "40.20240101.demo.0", "2024-01-01"},
		{"rhcos-46.82.202112161843-0", "RHCOS", "rhcos", "46.82.202112161843-0", "2021-12-16"},
		{"rhcos-410.84.202205191234-0", "RHCOS", "rhcos", "410.84.202205191234-0", "2022-05-19"},
		{"rhcos-9.6.20250523-0", "RHCOS", "rhcos", "9.6.20250523-0", "2025-05-23"},
		{"scos-9.0.20240102-0", "CentOS Stream CoreOS", "scos", "9.0.20240102-0", "2024-01-02"},
		{"scos-418.9.202411011506-0", "CentOS Stream CoreOS", "scos", "418.9.202411011506-0", "2024-11-01"},
	} {
		r, ok := FromVolumeID(c.id)
		if !ok || r.OS != c.os || r.ID != c.rid || r.Version != c.version || r.Built.Format(time.DateOnly) != c.built {
			t.Errorf("FromVolumeID(%q) = %+v, %v", c.id, r, ok)
		}
		if r.Built.Location() != time.UTC || r.Built.Hour() != 0 {
			t.Errorf("%s: Built %v is not a UTC day", c.id, r.Built)
		}
	}
	for _, id := range []string{
		"", "volume-ID-string", "fedora-coreos", "fedora-coreos-", "fedora-coreos-38",
		"fedora-coreos-38.20231345.3.0", // month 13
		"fedora-coreos-38.20230230.3.0", // 30 February
		"fedora-coreos-38.2023071.3.0",  // 7 digits
		"fedora-coreos-38.19991231.3.0", // before any CoreOS
		"rhcos-00010101",
		"fedora-coreos-38.x20230718.3.0",
		"rhcos-46.82.2021-12-16",
		"RHCOS-46.82.202112161843-0",
		"fedora-silverblue-38.20230718.0",
		"coreos-38.20230718.3.0",
		"rhcos-" + strings.Repeat("1", 300),
	} {
		if r, ok := FromVolumeID(id); ok {
			t.Errorf("FromVolumeID(%q) = %+v, want not ok", id, r)
		}
	}
}

func mustRelease(t *testing.T, id string) Release {
	t.Helper()
	r, ok := FromVolumeID(id)
	if !ok {
		t.Fatalf("FromVolumeID(%q) failed", id)
	}
	return r
}

func TestSpecs(t *testing.T) {
	for _, c := range []struct{ id, want string }{
		{"fedora-coreos-38.20230718.dev.0", "3.0.0 to at most 3.4.0"},
		{"fedora-coreos-36.20220909.dev.0", "3.0.0 to at most 3.3.0"},
		{"rhcos-46.82.202112161843-0", "3.0.0 to at most 3.3.0"},
		{"fedora-coreos-37.20230221.3.0", "3.0.0 to at most 3.4.0"}, // the day of 2.15.0: may have it
		{"fedora-coreos-37.20230220.3.0", "3.0.0 to at most 3.3.0"},
		{"fedora-coreos-32.20200505.3.0", "3.0.0 to at most 3.1.0"},
		{"fedora-coreos-41.20241022.3.0", "3.0.0 to 3.5.0 or newer"},
		{"rhcos-9.6.20250523-0", "3.0.0 to 3.5.0 or newer"},
		{"rhcos-41.81.201905011200-0", "none"},
	} {
		r := mustRelease(t, c.id)
		s := r.Specs()
		if got := s.String(); got != c.want {
			t.Errorf("%s: specs %q, want %q", c.id, got, c.want)
		}
		if s.Certain != !strings.HasSuffix(c.want, "or newer") {
			t.Errorf("%s: Certain %v", c.id, s.Certain)
		}
		// Check agrees with the range: Max is accepted, the next
		// stable version refused when certain.
		if s.Max != "" {
			if err := r.Check(s.Max); err != nil {
				t.Errorf("%s: Check(%s) = %v", c.id, s.Max, err)
			}
		}
		for i, e := range specTable {
			if e.spec == s.Max && s.Certain {
				if err := r.Check(specTable[i+1].spec); err == nil {
					t.Errorf("%s: Check(%s) accepted", c.id, specTable[i+1].spec)
				}
			}
		}
	}
	if got := (Release{}).Specs(); got != (SpecRange{}) || got.String() != "unknown" {
		t.Errorf("zero Release: %+v %q", got, got)
	}
}

func TestCheck(t *testing.T) {
	fcos38 := mustRelease(t, "fedora-coreos-38.20230718.3.0")
	rhcos46 := mustRelease(t, "rhcos-46.82.202112161843-0")
	fcos41 := mustRelease(t, "fedora-coreos-41.20241104.3.0")
	old := mustRelease(t, "rhcos-41.81.201905011200-0")
	for _, c := range []struct {
		r       Release
		spec    string
		refused string // "" for accepted, else the whole message
	}{
		{fcos38, "3.4.0", ""},
		{fcos38, "3.0.0", ""},
		{fcos38, "3.5.0", "Ignition spec 3.5.0 is newer than fedora-coreos-38.20230718.3.0 accepts (at most 3.4.0: built 2023-07-18, before Ignition 2.20.0 added 3.5.0)"},
		{fcos38, "3.6.0", "Ignition spec 3.6.0 is newer than fedora-coreos-38.20230718.3.0 accepts (at most 3.4.0: built 2023-07-18, before Ignition 2.20.0 added 3.5.0)"},
		{fcos38, "4.0.0", "Ignition spec 4.0.0 is newer than fedora-coreos-38.20230718.3.0 accepts (at most 3.4.0: built 2023-07-18, before Ignition 2.20.0 added 3.5.0)"},
		{fcos38, "3.5.0-experimental", ""}, // Ignition 2.15.0 … 2.19.0
		{fcos38, "3.6.0-experimental", "Ignition spec 3.6.0-experimental is newer than fedora-coreos-38.20230718.3.0 accepts (at most 3.4.0: built 2023-07-18, before Ignition 2.20.0 added 3.5.0)"},
		{fcos38, "3.4.0-experimental", ""}, // 2.11.0 … 2.14.0: may be an old one
		{rhcos46, "3.3.0", ""},
		{rhcos46, "3.4.0", "Ignition spec 3.4.0 is newer than rhcos-46.82.202112161843-0 accepts (at most 3.3.0: built 2021-12-16, before Ignition 2.15.0 added 3.4.0)"},
		{rhcos46, "3.5.0", "Ignition spec 3.5.0 is newer than rhcos-46.82.202112161843-0 accepts (at most 3.3.0: built 2021-12-16, before Ignition 2.15.0 added 3.4.0; 3.5.0 needs Ignition 2.20.0)"},
		{rhcos46, "3.5.0-experimental", "Ignition spec 3.5.0-experimental is newer than rhcos-46.82.202112161843-0 accepts (at most 3.3.0: built 2021-12-16, before Ignition 2.15.0 added 3.4.0)"},
		{fcos41, "3.5.0", ""},
		{fcos41, "3.6.0", ""}, // may have come out since
		{fcos41, "9.9.9-experimental", ""},
		{old, "3.0.0", "Ignition spec 3.0.0 is newer than rhcos-41.81.201905011200-0 accepts (no spec 3 version: built 2019-05-01, before Ignition 2.0.0 added 3.0.0)"},
		{old, "2.2.0", ""}, // spec 2: not judged
		{fcos38, "3.2.1", ""},
		{fcos38, "2.2.0", ""},
		{fcos38, "", ""},
		{fcos38, "3.5", ""},
		{fcos38, "v3.5.0", ""},
		{fcos38, "3.5.0-", ""},
		{Release{}, "9.0.0", ""},
	} {
		err := c.r.Check(c.spec)
		if c.refused == "" {
			if err != nil {
				t.Errorf("%s: Check(%q) = %v, want nil", c.r, c.spec, err)
			}
			continue
		}
		var se *SpecError
		if !errors.As(err, &se) {
			t.Errorf("%s: Check(%q) = %v, want a *SpecError", c.r, c.spec, err)
			continue
		}
		if err.Error() != c.refused {
			t.Errorf("%s: Check(%q) =\n%s\nwant\n%s", c.r, c.spec, err, c.refused)
		}
		if se.Spec != c.spec || se.Release != c.r {
			t.Errorf("%s: Check(%q): %+v", c.r, c.spec, se)
		}
	}
	se := rhcos46.Check("3.5.0").(*SpecError)
	if se.Max != "3.3.0" || se.Next != "3.4.0" || se.NextIgnition != "2.15.0" || se.Needs != "2.20.0" {
		t.Errorf("fields %+v", se)
	}
}

// The table is sorted and its versions parse; every release day is a UTC
// midnight.
func TestSpecTable(t *testing.T) {
	for i, e := range specTable {
		s, ok := parseSpec(e.spec)
		if !ok || s.PreRelease != "" {
			t.Errorf("%s does not parse as a stable version", e.spec)
		}
		if e.date.Hour() != 0 || e.date.Location() != time.UTC {
			t.Errorf("%s: %v", e.spec, e.date)
		}
		if i > 0 {
			p, _ := parseSpec(specTable[i-1].spec)
			if p.Compare(*s) >= 0 || !specTable[i-1].date.Before(e.date) {
				t.Errorf("table not in order at %s", e.spec)
			}
		}
	}
}
