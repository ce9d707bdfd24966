package ignconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
)

// FuzzParse checks Parse on arbitrary input, with seeds from the Ignition
// fixtures and configs whose keys repeat (encoding/json keeps the last of
// duplicate keys and matches names case-insensitively, and Parse reads the
// version in a second pass, so the passes must agree). Errors are a
// ParseError wrapping ErrInvalid or ErrUnsupportedVersion whose text starts
// "Ignition config <name>: "; input that is not JSON is an error. An
// accepted config has the version its compact form says, and its compact
// form parses again to the same compact form.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"live.ign", "live-2.ign", "dest.ign", "dest-2.ign"} {
		raw, err := os.ReadFile(fixture.Customize(f, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	for _, s := range []string{
		`{"ignition":{"version":"3.3.0"}}`,
		`{"ignition":{"version":"3.0.0"},"ignition":{"version":"3.4.0"}}`,
		`{"ignition":{"version":"3.4.0","version":"3.1.0"}}`,
		`{"ignition":{"version":"3.2.0"},"IGNITION":{"version":"3.5.0"}}`,
		`{"Ignition":{"Version":"3.3.0"},"storage":{"files":[{"path":"/a"},{"path":"/a"}]}}`,
		`{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/a","mode":420,"mode":"x"}]}}`,
		`{"ignition":{"version":"3.3.0"},"passwd":{"users":[{"name":"core","name":"root"}]}}`,
		`{"ignition":{"version":"3.6.0-experimental"},"unknown":1}`,
		`{"ignition":{"version":"2.2.0"}}`,
		`{"ignition":{"version":3}}`,
		`{"ignition":{"version":"3.3.0"}`,
		`[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := Parse("fuzz.ign", raw)
		if err != nil {
			var pe *ParseError
			if c != nil || !errors.As(err, &pe) || pe.Name != "fuzz.ign" || !strings.HasPrefix(err.Error(), "Ignition config fuzz.ign: ") {
				t.Fatalf("Parse error %v (%T), config %v", err, err, c)
			}
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("Parse error %v wraps neither sentinel", err)
			}
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("Parse accepted invalid JSON %q", raw)
		}
		if !bytes.Equal(c.Raw, raw) || c.Version == "" {
			t.Fatalf("config version %q", c.Version)
		}
		compact, err := c.Compact()
		if err != nil {
			t.Fatalf("Compact: %v", err)
		}
		var stub versionStub
		if err := json.Unmarshal(compact, &stub); err != nil || stub.Ignition.Version != c.Version {
			t.Fatalf("Parse says version %q, the parsed config %q (%s)", c.Version, stub.Ignition.Version, compact)
		}
		again, err := Parse("compact.ign", compact)
		if err != nil {
			t.Fatalf("Parse(Compact(%q)) = %v; compact %s", raw, err, compact)
		}
		if again.Version != c.Version {
			t.Fatalf("compact config has version %q, original %q", again.Version, c.Version)
		}
		c2, err := again.Compact()
		if err != nil || !bytes.Equal(c2, compact) {
			t.Fatalf("Compact is not stable: %s then %s, %v", compact, c2, err)
		}
	})
}
