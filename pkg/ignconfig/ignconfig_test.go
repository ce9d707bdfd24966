package ignconfig

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
)

func TestParseVersions(t *testing.T) {
	// Every spec the library knows, oldest to newest (3.6.0 is still
	// experimental in ignition v2.23.0).
	for _, v := range []string{"3.0.0", "3.1.0", "3.2.0", "3.3.0", "3.4.0", "3.5.0", "3.6.0-experimental"} {
		t.Run(v, func(t *testing.T) {
			raw := []byte(`{"ignition": {"version": "` + v + `"}, "storage": {"files": [{"path": "/etc/motd", "mode": 420}]}}`)
			c, err := Parse("x.ign", raw)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if c.Version != v {
				t.Errorf("Version = %q, want %q", c.Version, v)
			}
			if len(c.Warnings) != 0 {
				t.Errorf("Warnings = %q, want none", c.Warnings)
			}
			if string(c.Raw) != string(raw) {
				t.Errorf("Raw = %s, want the input", c.Raw)
			}
			got, err := c.Compact()
			if err != nil {
				t.Fatalf("Compact: %v", err)
			}
			want := `{"ignition":{"version":"` + v + `"},"storage":{"files":[{"mode":420,"path":"/etc/motd"}]}}`
			if string(got) != want {
				t.Errorf("Compact() = %s, want %s", got, want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		raw      string
		sentinel error
		want     string // the exact error text
	}{
		{
			name:     "spec 2",
			file:     "x.ign",
			raw:      `{"ignition": {"version": "2.2.0"}}`,
			sentinel: ErrUnsupportedVersion,
			want:     "Ignition config x.ign: unsupported config version: 2.2.0",
		},
		{
			name:     "future spec",
			file:     "x.ign",
			raw:      `{"ignition": {"version": "3.7.0"}}`,
			sentinel: ErrUnsupportedVersion,
			want:     "Ignition config x.ign: unsupported config version: 3.7.0",
		},
		{
			name:     "version not semver",
			file:     "x.ign",
			raw:      `{"ignition": {"version": "three"}}`,
			sentinel: ErrUnsupportedVersion,
			want:     "Ignition config x.ign: unsupported config version: three",
		},
		{
			name:     "no version",
			file:     "x.ign",
			raw:      `{"storage": {}}`,
			sentinel: ErrUnsupportedVersion,
			want:     "Ignition config x.ign: unsupported config version: ignition.version is missing",
		},
		{
			// The config of coreos-installer's iso-ignition.sh test:
			// 34 bytes, the closing brace missing.
			name:     "truncated JSON",
			file:     "x.ign",
			raw:      `{"ignition": {"version": "3.0.0"}` + "\n",
			sentinel: ErrInvalid,
			want:     "Ignition config x.ign: unexpected end of JSON input (line 2, column 1)",
		},
		{
			name:     "empty",
			file:     "-",
			raw:      "",
			sentinel: ErrInvalid,
			want:     "Ignition config <stdin>: config is empty",
		},
		{
			name:     "relative path",
			file:     "dest.ign",
			raw:      `{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"etc/x"}]}}`,
			sentinel: ErrInvalid,
			want:     "Ignition config dest.ign: $.storage.files.0.path: path not absolute (line 1, column 61)",
		},
		{
			name: "two problems on several lines",
			file: "dest.ign",
			raw: "{\n  \"ignition\": {\"version\": \"3.4.0\"},\n  \"storage\": {\"files\": [\n" +
				"    {\"path\": \"/a\"},\n    {\"path\": \"/a\"},\n    {\"path\": \"b\"}\n  ]}\n}\n",
			sentinel: ErrInvalid,
			want: "Ignition config dest.ign: $.storage.files.2.path: path not absolute (line 6, column 14); " +
				"$.storage.files.1: duplicate entry defined (line 5, column 6)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.file, []byte(tc.raw))
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tc.raw, c)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("Parse(%q) error =\n%s\nwant\n%s", tc.raw, got, tc.want)
			}
			if !errors.Is(err, tc.sentinel) {
				t.Errorf("Parse(%q) error does not wrap %q", tc.raw, tc.sentinel)
			}
			if c != nil {
				t.Errorf("Parse returned a config with the error")
			}
		})
	}
}

func TestUnknownKeysAreWarnings(t *testing.T) {
	raw := `{"ignition": {"version": "3.3.0", "timeoutz": 1},
 "storage": {"files": [{"path": "/etc/motd", "modee": 420}]},
 "extra": {"a": {"b": 1}}}`
	c, err := Parse("x.ign", []byte(raw))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []string{"unused key: $.extra", "unused key: $.ignition.timeoutz", "unused key: $.storage.files.0.modee"}
	got := append([]string(nil), c.Warnings...)
	slices.Sort(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Warnings = %q, want %q", got, want)
	}
	out, err := c.Compact()
	if err != nil {
		t.Fatal(err)
	}
	if w := `{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/etc/motd"}]}}`; string(out) != w {
		t.Errorf("Compact() = %s, want %s (unknown keys dropped)", out, w)
	}
}

// TestSharedFixtures parses the Ignition configs of the customize fixtures
// and checks that Compact keeps their meaning.
func TestSharedFixtures(t *testing.T) {
	for _, name := range []string{"live.ign", "dest.ign", "live-2.ign", "dest-2.ign"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(fixture.Customize(t, name))
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(name, raw)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if c.Version != "3.3.0" {
				t.Errorf("Version = %q, want 3.3.0", c.Version)
			}
			if len(c.Warnings) != 0 {
				t.Errorf("Warnings = %q, want none", c.Warnings)
			}
			out, err := c.Compact()
			if err != nil {
				t.Fatalf("Compact: %v", err)
			}
			if strings.ContainsAny(string(out), "\n") {
				t.Errorf("Compact() contains a newline")
			}
			var got, want any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("Compact() is not JSON: %v", err)
			}
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Compact() =\n%s\nwant the same config as\n%s", out, raw)
			}
			again, err := Parse(name, out)
			if err != nil {
				t.Fatalf("Parse(Compact()): %v", err)
			}
			if again.Version != c.Version {
				t.Errorf("round trip Version = %q, want %q", again.Version, c.Version)
			}
		})
	}
}

// TestCompactKeepsVersion checks that an old spec is not converted to the
// newest one and that content survives.
func TestCompactKeepsVersion(t *testing.T) {
	raw := `{
  "ignition": {"version": "3.0.0", "config": {"merge": [{"source": "https://example.com/a.ign"}]}},
  "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": ["ssh-ed25519 AAAA x"]}]},
  "systemd": {"units": [{"name": "a.service", "enabled": false, "contents": "[Service]\nExecStart=/bin/true > /dev/null & x"}]}
}`
	c, err := Parse("old.ign", []byte(raw))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	out, err := c.Compact()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"ignition":{"config":{"merge":[{"source":"https://example.com/a.ign"}]},"version":"3.0.0"},` +
		`"passwd":{"users":[{"name":"core","sshAuthorizedKeys":["ssh-ed25519 AAAA x"]}]},` +
		`"systemd":{"units":[{"contents":"[Service]\nExecStart=/bin/true > /dev/null & x","enabled":false,"name":"a.service"}]}}`
	if string(out) != want {
		t.Errorf("Compact() =\n%s\nwant\n%s", out, want)
	}
}

func TestCompactZeroConfig(t *testing.T) {
	if _, err := (&Config{}).Compact(); err == nil {
		t.Errorf("Compact on a zero Config succeeded, want an error")
	}
}
