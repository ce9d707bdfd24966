package butane

import (
	"encoding/json"
	"testing"
)

func TestSpecOfEveryVersion(t *testing.T) {
	// Every supported version must translate; a library upgrade that
	// breaks the probe config shows up here.
	for variant, versions := range supported {
		for _, version := range versions {
			if _, ok := SpecOf(variant, version); !ok {
				t.Errorf("%s %s: no spec version found", variant, version)
			}
		}
	}
	// Known pairs (Butane's docs/specs.md and the fixtures' fcos 1.4.0 →
	// 3.3.0 configs).
	for _, c := range []struct{ variant, version, spec string }{
		{"fcos", "1.0.0", "3.0.0"},
		{"fcos", "1.3.0", "3.2.0"},
		{"fcos", "1.4.0", "3.3.0"},
		{"fcos", "1.5.0", "3.4.0"},
		{"fcos", "1.6.0", "3.5.0"},
		{"openshift", "4.14.0", "3.4.0"},
		{"flatcar", "1.0.0", "3.3.0"},
	} {
		if got, ok := SpecOf(c.variant, c.version); !ok || got != c.spec {
			t.Errorf("SpecOf(%s, %s) = %q, %v; want %s", c.variant, c.version, got, ok, c.spec)
		}
	}
	for _, c := range [][2]string{{"fcos", "9.9.9"}, {"nope", "1.0.0"}, {"", ""}} {
		if got, ok := SpecOf(c[0], c[1]); ok {
			t.Errorf("SpecOf(%s, %s) = %q, want not ok", c[0], c[1], got)
		}
	}
}

// The table must agree with a real translation of a config that uses the
// version, not just the probe.
func TestSpecOfMatchesTranslation(t *testing.T) {
	src := []byte("variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: /etc/motd\n      contents:\n        inline: hi\n")
	out, _, err := Translate("x.bu", src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Ignition struct{ Version string } `json:"ignition"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if spec, _ := SpecOf("fcos", "1.5.0"); spec != cfg.Ignition.Version {
		t.Errorf("SpecOf(fcos, 1.5.0) = %s, translation says %s", spec, cfg.Ignition.Version)
	}
}

func TestNewestVersion(t *testing.T) {
	for _, c := range []struct {
		variant, maxSpec, want string
		ok                     bool
	}{
		{"fcos", "3.4.0", "1.5.0", true},
		{"fcos", "3.5.0", "1.6.0", true},
		{"fcos", "3.3.0", "1.4.0", true},
		{"fcos", "3.2.0", "1.3.0", true}, // 1.2.0 and 1.3.0 both give 3.2.0
		{"fcos", "3.0.0", "1.0.0", true},
		{"fcos", "9.0.0", "1.6.0", true},              // never the experimental version
		{"fcos", "3.6.0-experimental", "1.6.0", true}, // idem
		{"openshift", "3.3.0", "4.13.0", true},        // 4.8.0 … 4.13.0 give 3.2.0
		{"openshift", "3.4.0", "4.18.0", true},        //
		{"openshift", "3.1.0", "", false},             // none that old
		{"fcos", "2.4.0", "", false},                  // spec 2: no fcos version
		{"nope", "3.4.0", "", false},                  //
		{"fcos", "3.4", "", false},                    // not a version
		{"fcos", "3.4.0-", "", false},                 //
		{"r4e", "3.3.0", "1.0.0", true},               //
		{"flatcar", "3.4.0", "1.1.0", true},           //
	} {
		got, ok := NewestVersion(c.variant, c.maxSpec)
		if got != c.want || ok != c.ok {
			t.Errorf("NewestVersion(%s, %s) = %q, %v; want %q, %v", c.variant, c.maxSpec, got, ok, c.want, c.ok)
		}
		if ok {
			// The answer's output is within the limit.
			spec, _ := SpecOf(c.variant, got)
			s, _ := parseVersion(spec)
			m, _ := parseVersion(c.maxSpec)
			if s.Compare(*m) > 0 {
				t.Errorf("NewestVersion(%s, %s) = %s, which gives %s", c.variant, c.maxSpec, got, spec)
			}
		}
	}
}

func TestHeader(t *testing.T) {
	for _, c := range []struct {
		src, variant, version string
		ok                    bool
	}{
		{"variant: fcos\nversion: 1.5.0\n", "fcos", "1.5.0", true},
		{"# c\nversion: 4.14.0\nvariant: openshift\nmetadata: {name: x}\n", "openshift", "4.14.0", true},
		{"variant: fcos\n", "", "", false},
		{"[1, 2]\n", "", "", false},
		{"variant: [fcos]\nversion: 1.0.0\n", "", "", false},
		{"", "", "", false},
	} {
		variant, version, ok := Header([]byte(c.src))
		if variant != c.variant || version != c.version || ok != c.ok {
			t.Errorf("Header(%q) = %q, %q, %v", c.src, variant, version, ok)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	order := []string{"2.9.9", "3.0.0", "3.1.0", "3.5.0-experimental", "3.5.0", "3.10.0"}
	for i, a := range order {
		for j, b := range order {
			va, oka := parseVersion(a)
			vb, okb := parseVersion(b)
			if !oka || !okb {
				t.Fatalf("parse %s, %s", a, b)
			}
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := va.Compare(*vb); got != want {
				t.Errorf("compare(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
	for _, bad := range []string{"", "3", "3.0", "3.0.0.0", "v3.0.0", "3.0.x", "3.-1.0", "03.0.0", "3.0.0-", "+1.0.0"} {
		if _, ok := parseVersion(bad); ok {
			t.Errorf("parseVersion(%q) accepted", bad)
		}
	}
}

func FuzzHeader(f *testing.F) {
	for _, s := range []string{
		"variant: fcos\nversion: 1.5.0\n",
		"variant: openshift\nversion: 4.14.0\nmetadata:\n  name: x\n",
		"a: &a [*a, *a]\n",
		"{variant: fcos, version: 1.0.0}",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		variant, version, ok := Header(src)
		if ok != (variant != "" && version != "") {
			t.Fatalf("Header(%q) = %q, %q, %v", src, variant, version, ok)
		}
	})
}
