package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/internal/testiso"
	"github.com/isobuild/isobuild/pkg/butane"
	"github.com/isobuild/isobuild/pkg/release"
)

// Configs of each spec version, as the user would write them.
const (
	fcos16 = "variant: fcos\nversion: 1.6.0\nstorage:\n  files:\n    - path: /etc/motd\n      contents:\n        inline: new\n"
	fcos15 = "variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: /etc/motd\n      contents:\n        inline: new\n"
	ign340 = `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/motd","contents":{"source":"data:,new"}}]}}`
	ign330 = `{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/etc/motd","contents":{"source":"data:,new"}}]}}`
)

// embeddedSpec returns the ignition.version of the live config of an ISO.
func embeddedSpec(t *testing.T, iso string) string {
	t.Helper()
	v, ok := specVersion(ok(t, nil, "iso", "ignition", "show", iso).stdout)
	if !ok {
		t.Fatalf("%s: embedded config has no version", iso)
	}
	return v
}

func TestBuildSpecCheckFCOS38(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso") // fedora-coreos-38.20230718.dev.0
	dir := t.TempDir()
	bu16 := writeTemp(t, "new.bu", []byte(fcos16))
	out := filepath.Join(dir, "refused.iso")

	r := fails(t, "Ignition spec 3.5.0", nil, "build", "--butane", bu16, "-o", out, iso)
	want := "--butane " + bu16 + ": Ignition spec 3.5.0 is newer than fedora-coreos-38.20230718.dev.0 accepts (at most 3.4.0: built 2023-07-18, before Ignition 2.20.0 added 3.5.0); " +
		`use Butane "variant: fcos" "version: 1.5.0", or --skip-spec-check if the image's Ignition is newer than its date suggests`
	if !strings.Contains(string(r.stderr), want) {
		t.Errorf("message\n%s\nwant\n%s", r.stderr, want)
	}
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a refused build left its output")
	}

	// The same from stdin, and as the installed system's config.
	r = fails(t, `--butane <stdin>: Ignition spec 3.5.0`, []byte(fcos16), "build", "--butane", "-", "-o", out, iso)
	if !strings.Contains(r.combined(), `"version: 1.5.0"`) {
		t.Errorf("stdin: no Butane version named: %s", r.combined())
	}
	r = fails(t, "--dest-butane "+bu16+": Ignition spec 3.5.0", nil, "build", "--dest-butane", bu16, "--dest-device", "/dev/sda", "-o", out, iso)
	if !strings.Contains(r.combined(), `use Butane "variant: fcos" "version: 1.5.0"`) {
		t.Errorf("dest: %s", r.combined())
	}

	// Every refused config is named, the others not.
	ign350 := writeTemp(t, "new.ign", []byte(strings.Replace(ign340, "3.4.0", "3.5.0", 1)))
	ign34 := writeTemp(t, "ok.ign", []byte(ign340))
	r = fails(t, "--dest-ignition "+ign350+": Ignition spec 3.5.0", nil, "build", "--ignition", ign34,
		"--dest-ignition", ign34, "--dest-ignition", ign350, "--dest-butane", bu16, "--dest-device", "/dev/sda", "-o", out, iso)
	if !strings.Contains(r.combined(), "--dest-butane "+bu16+": Ignition spec 3.5.0") ||
		!strings.Contains(r.combined(), "write the config for Ignition spec 3.4.0 or older") ||
		strings.Contains(r.combined(), ign34+":") {
		t.Errorf("several configs: %s", r.combined())
	}

	// The flag lets it through, as it is.
	skipped := filepath.Join(dir, "skipped.iso")
	ok(t, nil, "build", "--skip-spec-check", "--butane", bu16, "-o", skipped, iso)
	if v := embeddedSpec(t, skipped); v != "3.5.0" {
		t.Errorf("embedded spec %s, want 3.5.0", v)
	}

	// What the message advises works.
	good := filepath.Join(dir, "good.iso")
	ok(t, nil, "build", "--butane", writeTemp(t, "ok.bu", []byte(fcos15)), "-o", good, iso)
	if v := embeddedSpec(t, good); v != "3.4.0" {
		t.Errorf("embedded spec %s, want 3.4.0", v)
	}

	// The coreos-installer-compatible commands embed what they are given.
	translated, _, err := butane.Translate("new.bu", []byte(fcos16), butane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ign := writeTemp(t, "new-translated.ign", translated)
	ok(t, nil, "iso", "ignition", "embed", "-i", ign, "-o", filepath.Join(dir, "embed.iso"), iso)
	ok(t, nil, "iso", "customize", "--live-ignition", ign, "--dest-ignition", ign, "-o", filepath.Join(dir, "customize.iso"), iso)
}

// Images of late 2021: Ignition 2.11.0 (spec 3.3.0) came out in June 2021,
// 2.15.0 (3.4.0) in February 2023.
func TestBuildSpecCheck2021(t *testing.T) {
	rhcos := fixture.ISO(t, "embed-areas-2020-09.iso") // rhcos-46.82.202112161843-0, no installer features
	fcos := fixture.ISO(t, "embed-areas-2021-12.iso")  // fedora-coreos-35.20211216.dev.0
	dir := t.TempDir()
	out := filepath.Join(dir, "refused.iso")
	ign34 := writeTemp(t, "new.ign", []byte(ign340))
	ign33 := writeTemp(t, "old.ign", []byte(ign330))

	r := fails(t, "--ignition "+ign34+": Ignition spec 3.4.0 is newer than rhcos-46.82.202112161843-0 accepts (at most 3.3.0: built 2021-12-16, before Ignition 2.15.0 added 3.4.0); write the config for Ignition spec 3.3.0 or older, or use --skip-spec-check",
		nil, "build", "--ignition", ign34, "-o", out, rhcos)
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	ok(t, nil, "build", "--ignition", ign33, "-o", filepath.Join(dir, "rhcos-ok.iso"), rhcos)
	ok(t, nil, "build", "--skip-spec-check", "--ignition", ign34, "-o", filepath.Join(dir, "rhcos-skipped.iso"), rhcos)
	// 3.5.0 also names the Ignition release that added it.
	ign35 := writeTemp(t, "newer.ign", []byte(strings.Replace(ign340, "3.4.0", "3.5.0", 1)))
	fails(t, "3.5.0 needs Ignition 2.20.0", nil, "build", "--ignition", ign35, "-o", out, rhcos)
	// An option the image cannot take at all is reported first.
	fails(t, "does not support customizing installer configuration", nil, "build", "--dest-ignition", ign34, "--dest-device", "/dev/sda", "-o", out, rhcos)

	// The installed system's configs.
	fails(t, "--dest-ignition "+ign34+": Ignition spec 3.4.0 is newer than fedora-coreos-35.20211216.dev.0 accepts (at most 3.3.0: built 2021-12-16",
		nil, "build", "--dest-ignition", ign34, "--dest-device", "/dev/sda", "-o", out, fcos)
	ok(t, nil, "build", "--dest-ignition", ign33, "--dest-device", "/dev/sda", "-o", filepath.Join(dir, "fcos-ok.iso"), fcos)
	ok(t, nil, "build", "--skip-spec-check", "--dest-ignition", ign34, "--dest-device", "/dev/sda", "-o", filepath.Join(dir, "fcos-skipped.iso"), fcos)

	// The advice keeps the variant of each Butane file.
	osh := writeTemp(t, "dest.bu", []byte("variant: openshift\nversion: 4.14.0\nmetadata:\n  name: x\n  labels:\n    machineconfiguration.openshift.io/role: worker\n"))
	fails(t, `--dest-butane `+osh+`: Ignition spec 3.4.0`, nil, "build", "--dest-butane", osh, "--dest-device", "/dev/sda", "-o", out, fcos)
	r = fails(t, `use Butane "variant: openshift" "version: 4.13.0"`, nil, "build", "--dest-butane", osh, "--butane", writeTemp(t, "live.bu", []byte(fcos15)), "--dest-device", "/dev/sda", "-o", out, fcos)
	if !strings.Contains(r.combined(), `use Butane "variant: fcos" "version: 1.4.0"`) {
		t.Errorf("live fcos config: %s", r.combined())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a refused build left its output")
	}

	// iso customize stays permissive, like coreos-installer.
	ok(t, nil, "iso", "customize", "--dest-ignition", ign34, "--live-ignition", ign34, "-o", filepath.Join(dir, "customize.iso"), fcos)
	ok(t, nil, "iso", "ignition", "embed", "-i", ign34, "-o", filepath.Join(dir, "embed.iso"), rhcos)
}

// A volume id that names no known release is not judged.
func TestBuildSpecCheckUnknownRelease(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		volumeID string
		refused  bool
	}{
		{"MY-CUSTOM-ISO", false},
		{testiso.DefaultVolumeID, true}, // fedora-coreos-40.20240101...: at most 3.4.0
	} {
		path := filepath.Join(dir, c.volumeID+".iso")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := testiso.Build(f, testiso.Options{VolumeID: c.volumeID}); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		args := []string{"build", "--butane", writeTemp(t, "new.bu", []byte(fcos16)), "-o", filepath.Join(dir, c.volumeID+"-out.iso"), path}
		if c.refused {
			fails(t, "Ignition spec 3.5.0 is newer than "+c.volumeID, nil, args...)
		} else {
			ok(t, nil, args...)
		}
	}
}

func TestReleaseOf(t *testing.T) {
	for _, c := range []struct {
		id   string
		want imageRelease
	}{
		{"fedora-coreos-38.20230718.dev.0", imageRelease{OS: "Fedora CoreOS", Release: "fedora-coreos-38.20230718.dev.0", Built: "2023-07-18",
			IgnitionSpecs: "3.0.0 to at most 3.4.0", SpecMin: "3.0.0", SpecMax: "3.4.0", SpecsCertain: true}},
		{"rhcos-9.6.20250523-0", imageRelease{OS: "RHCOS", Release: "rhcos-9.6.20250523-0", Built: "2025-05-23",
			IgnitionSpecs: "3.0.0 to 3.5.0 or newer", SpecMin: "3.0.0", SpecMax: "3.5.0"}},
		{"volume-ID-string", imageRelease{OS: "unknown", Release: "unknown", IgnitionSpecs: "unknown"}},
	} {
		if got := releaseOf(c.id); got != c.want {
			t.Errorf("releaseOf(%q) = %+v, want %+v", c.id, got, c.want)
		}
	}
	b, err := json.Marshal(releaseOf("volume-ID-string"))
	if err != nil || string(b) != `{"os":"unknown","release":"unknown","ignition_specs":"unknown","newer_specs_refused":false}` {
		t.Errorf("JSON %s, %v", b, err)
	}
}

func TestSpecVersion(t *testing.T) {
	for in, want := range map[string]string{
		ign340: "3.4.0",
		`{"ignition":{"version":"3.6.0-experimental"}}`: "3.6.0-experimental",
		`{"ignition":{}}`:            "",
		`{"ignition":{"version":3}}`: "",
		`[]`:                         "",
		`variant: fcos`:              "",
		``:                           "",
	} {
		got, ok := specVersion([]byte(in))
		if got != want || ok != (want != "") {
			t.Errorf("specVersion(%q) = %q, %v", in, got, ok)
		}
	}
}

func FuzzSpecVersion(f *testing.F) {
	for _, s := range []string{ign340, ign330, `{"ignition":{"version":""}}`, `{"ignition":null}`, "{"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, ok := specVersion(data)
		if ok != (v != "") {
			t.Fatalf("specVersion(%q) = %q, %v", data, v, ok)
		}
	})
}

func TestOpenShiftAdvice(t *testing.T) {
	for id, want := range map[string]string{
		"rhcos-416.94.202406251923-0": "4.16.0", "rhcos-410.84.202205191234-0": "4.10.0", "rhcos-46.82.202112161843-0": "4.6.0",
		"rhcos-9.6.20250523-0": "", "fedora-coreos-38.20230718.3.0": "",
	} {
		rel, ok := release.FromVolumeID(id)
		if !ok {
			t.Fatalf("%s does not parse", id)
		}
		if got := openshiftVersion(rel); got != want {
			t.Errorf("openshiftVersion(%s) = %q, want %q", id, got, want)
		}
	}
	// An RHCOS 4.12 image built before Ignition 2.15.0: a config for
	// OpenShift 4.14 (spec 3.4.0) is refused, with the image's own
	// release as the advice.
	rel, _ := release.FromVolumeID("rhcos-412.86.202301061548-0")
	se, ok := rel.Check("3.4.0").(*release.SpecError)
	if !ok {
		t.Fatalf("rhcos 4.12 of 2023-01-06 accepts 3.4.0")
	}
	if got := specAdvice(se.Max, true, "openshift", true, rel); !strings.Contains(got, `"version: 4.12.0" (the image's OpenShift release)`) {
		t.Errorf("advice: %s", got)
	}
}
