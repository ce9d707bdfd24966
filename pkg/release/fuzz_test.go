package release

import (
	"strings"
	"testing"
	"time"
)

func FuzzFromVolumeID(f *testing.F) {
	for _, id := range []string{
		"fedora-coreos-38.20230718.3.0", "rhcos-46.82.202112161843-0", "rhcos-9.6.20250523-0",
		"scos-9.0.20240102-0", "volume-ID-string", "fedora-coreos-38.20231345.3.0", "rhcos-", "",
	} {
		f.Add(id, "3.5.0")
	}
	f.Add("fedora-coreos-41.20241104.3.0", "3.6.0-experimental")
	f.Fuzz(func(t *testing.T, id, spec string) {
		r, ok := FromVolumeID(id)
		if !ok {
			if r != (Release{}) {
				t.Fatalf("not ok but %+v", r)
			}
			return
		}
		if r.String() != id || r.OS == "" || r.Built.IsZero() {
			t.Fatalf("FromVolumeID(%q) = %+v", id, r)
		}
		if d := r.Built.Format("20060102"); !strings.Contains(r.Version, d) || r.Built.Location() != time.UTC {
			t.Fatalf("%q: build day %v not in the version", id, r.Built)
		}
		s := r.Specs()
		if s.Max == "" && !s.Certain {
			t.Fatalf("%q: known release with unknown specs", id)
		}
		err := r.Check(spec)
		if err == nil {
			return
		}
		se, ok := err.(*SpecError)
		if !ok || se.Max != s.Max || se.Spec != spec || se.Next == "" || !strings.Contains(err.Error(), spec) {
			t.Fatalf("Check(%q) on %q: %v (%+v), range %+v", spec, id, err, se, s)
		}
		if s.Max != "" {
			if err := r.Check(s.Max); err != nil {
				t.Fatalf("%q refuses its own newest spec %s: %v", id, s.Max, err)
			}
		}
	})
}
