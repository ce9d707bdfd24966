package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
)

func jsonEqual(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("embedded config is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("embedded config\n%s\nis not semantically equal to\n%s", got, want)
	}
}

func TestBuildButane(t *testing.T) {
	for _, name := range []string{"embed-areas-2022-09.iso", "embed-areas-2023-07.x86_64.iso", "embed-areas-2023-07.s390x.iso"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iso := fixture.ISO(t, name)
			orig := fixture.SHA256(t, iso)
			dir := t.TempDir()
			out := filepath.Join(dir, "custom.iso")
			keyfile := fixture.Customize(t, "installer-test.nmconnection")
			r := ok(t, nil, "build", "--butane", fixture.Customize(t, "live.bu"),
				"--karg-append", "console=ttyS0,115200n8", "--karg-delete", "mitigations=auto,nosmt",
				"--network-keyfile", keyfile, "-o", out, iso)
			if !strings.Contains(string(r.stdout), "Wrote "+out) {
				t.Errorf("build does not say what it did: %q", r.stdout)
			}
			if fixture.SHA256(t, iso) != orig {
				t.Fatal("build modified the base ISO")
			}
			jsonEqual(t, ok(t, nil, "iso", "ignition", "show", out).stdout, readTestFile(t, fixture.Customize(t, "live.ign")))
			got := string(ok(t, nil, "iso", "network", "extract", out).stdout)
			if !strings.Contains(got, "id=installer-test") {
				t.Fatalf("keyfile missing: %q", got)
			}
			def := kargsShow(t, iso, "--default")
			want := strings.TrimSpace(strings.Replace(def, "mitigations=auto,nosmt", "", 1)) + " console=ttyS0,115200n8"
			if got := kargsShow(t, out); got != want {
				t.Fatalf("kargs %q, want %q", got, want)
			}

			// Deterministic, and the same streamed.
			streamed := ok(t, nil, "build", "--butane", fixture.Customize(t, "live.bu"),
				"--karg-append", "console=ttyS0,115200n8", "--karg-delete", "mitigations=auto,nosmt",
				"--network-keyfile", keyfile, "-o", "-", iso)
			if !bytes.Equal(streamed.stdout, readTestFile(t, out)) {
				t.Fatal("build -o - differs from build -o FILE")
			}
			if !strings.Contains(string(streamed.stderr), "Wrote standard output") {
				t.Errorf("with -o - the summary belongs on stderr: %q", streamed.stderr)
			}

			// An already customized ISO needs -f; reset gives back the base.
			fails(t, "already customized", nil, "build", "--ignition", fixture.Customize(t, "live.ign"), "-o", filepath.Join(dir, "again.iso"), out)
			ok(t, nil, "build", "-f", "--ignition", fixture.Customize(t, "live-2.ign"), "-o", filepath.Join(dir, "again.iso"), out)
			jsonEqual(t, ok(t, nil, "iso", "ignition", "show", filepath.Join(dir, "again.iso")).stdout, readTestFile(t, fixture.Customize(t, "live-2.ign")))
			if got := sum(ok(t, nil, "iso", "reset", "-o", "-", out).stdout); got != orig {
				t.Fatal("iso reset after build did not restore the base ISO")
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	dir := t.TempDir()
	out := filepath.Join(dir, "out.iso")

	// Usage errors exit 2.
	if r := fails(t, "-o/--output is required", nil, "build", "--butane", "x.bu", iso); r.code != 2 {
		t.Errorf("missing -o: exit %d, want 2", r.code)
	}
	fails(t, "cannot be used together", nil, "build", "--butane", "a", "--ignition", "b", "-o", out, iso)

	// A Butane error is reported with file:line:col.
	bad := writeTemp(t, "bad.bu", []byte("variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: relative/path\n"))
	r := fails(t, "bad.bu:5:", nil, "build", "--butane", bad, "-o", out, iso)
	if !regexp.MustCompile(`bad\.bu:5:\d+: error: `).MatchString(r.combined()) {
		t.Errorf("error not in file:line:col: error: form: %q", r.combined())
	}

	// A warning passes, but not with --strict.
	warn := writeTemp(t, "warn.bu", []byte("variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: /etc/x\n      mode: 644\n"))
	r = ok(t, nil, "build", "--butane", warn, "-o", filepath.Join(dir, "warn.iso"), iso)
	if !regexp.MustCompile(`warn\.bu:6:\d+: warning: `).MatchString(string(r.stderr)) {
		t.Errorf("warning not printed as file:line:col: %q", r.stderr)
	}
	fails(t, "warn.bu:6:", nil, "build", "--strict", "--butane", warn, "-o", filepath.Join(dir, "strict.iso"), iso)

	// Invalid Ignition is refused before anything is written, with its JSON path.
	invalid := writeTemp(t, "invalid.ign", []byte(`{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"relative"}]}}`))
	fails(t, "$.storage.files.0.path", nil, "build", "--ignition", invalid, "-o", out, iso)
	fails(t, "parsing Ignition config", testConfig, "build", "--ignition", "-", "-o", out, iso)
	old := writeTemp(t, "old.ign", []byte(`{"ignition":{"version":"2.2.0"}}`))
	fails(t, "unsupported config version", nil, "build", "--ignition", old, "-o", out, iso)

	// Keyfiles need the feature; live kargs need karg areas.
	fails(t, "does not support customizing network settings", nil, "build", "--network-keyfile", "x.nmconnection", "-o", out, fixture.ISO(t, "embed-areas-2021-09.iso"))
	fails(t, "does not support customizing live kernel arguments", nil, "build", "--karg-append", "foo", "-o", out, fixture.ISO(t, "embed-areas-2020-09.iso"))

	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("a failed build left its output behind")
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".isobuild-temp-") {
			t.Fatalf("temporary file %s left behind", e.Name())
		}
	}
}

func TestBuildKargsOnlyEmbedsNoConfig(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	out := filepath.Join(t.TempDir(), "k.iso")
	ok(t, nil, "build", "--karg-append", "foo", "--karg-replace", "ignition.platform.id=metal=bar", "-o", out, iso)
	got := kargsShow(t, out)
	if !strings.Contains(got, "ignition.platform.id=bar") || !strings.HasSuffix(got, " foo") {
		t.Fatalf("kargs %q", got)
	}
	fails(t, "No embedded Ignition config", nil, "iso", "ignition", "show", out)
}

func TestBuildWarnsOnce(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	cfg := writeTemp(t, "w.ign", []byte(`{"ignition":{"version":"3.3.0"},"bogus":1}`))
	for _, extra := range [][]string{nil, {"--pre-install", fixture.Customize(t, "pre-install-1")}} {
		args := append(append([]string{"build", "--ignition", cfg}, extra...), "-o", filepath.Join(t.TempDir(), "x.iso"), iso)
		r := ok(t, nil, args...)
		if n := strings.Count(string(r.stderr), "unused key: $.bogus"); n != 1 {
			t.Errorf("%v: the warning is printed %d times, want once:\n%s", extra, n, r.stderr)
		}
	}
}
