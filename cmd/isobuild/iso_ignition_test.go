package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
)

// The deliberately invalid config coreos-installer's tests embed: embed
// must store it byte for byte, without validation.
var testConfig = []byte("{\"ignition\": {\"version\": \"3.0.0\"}\n")

func inspectJSON(t *testing.T, iso string) inspectReport {
	t.Helper()
	r := ok(t, nil, "inspect", "--json", iso)
	var rep inspectReport
	if err := json.Unmarshal(r.stdout, &rep); err != nil {
		t.Fatalf("inspect --json: %v\n%s", err, r.stdout)
	}
	return rep
}

// areaWithTools cuts the initrd area out of iso with dd and unpacks it with
// xzcat and cpio, as a user would; it returns the named member.
func areaWithTools(t *testing.T, iso string, member string) []byte {
	t.Helper()
	for _, tool := range []string{"dd", "xzcat", "cpio"} {
		fixture.NeedTool(t, tool)
	}
	rep := inspectJSON(t, iso)
	script := fmt.Sprintf("dd if=%q bs=65536 iflag=skip_bytes,count_bytes skip=%d count=%d status=none | xzcat | cpio -i --to-stdout --quiet %q",
		iso, rep.InitrdArea.Offset, rep.InitrdArea.Length, member)
	out, err := exec.Command("sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return out
}

func TestIgnitionEmbedShowRemove(t *testing.T) {
	for _, name := range fixture.ISONames(t, "embed-areas-") {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iso := fixture.ISO(t, name)
			orig := fixture.SHA256(t, iso)
			cfgFile := writeTemp(t, "config.ign", testConfig)

			// Config from stdin for the stream, from a file otherwise: all
			// three modes must agree.
			streamed := ok(t, testConfig, "iso", "ignition", "embed", "-o", "-", iso).stdout
			embedded := modes(t, iso, nil, "iso", "ignition", "embed", "-i", cfgFile)
			if !bytes.Equal(streamed, embedded) {
				t.Fatal("config from stdin and from a file give different images")
			}
			custom := writeTemp(t, "custom.iso", embedded)
			if got := ok(t, nil, "iso", "ignition", "show", custom).stdout; !bytes.Equal(got, testConfig) {
				t.Fatalf("show = %q, want %q", got, testConfig)
			}
			if got := areaWithTools(t, custom, "config.ign"); !bytes.Equal(got, testConfig) {
				t.Fatalf("dd | xzcat | cpio gives %q, want %q", got, testConfig)
			}

			// Re-embedding needs -f in every mode.
			failsAllModes(t, custom, "already has an embedded Ignition config", nil, "iso", "ignition", "embed", "-i", cfgFile)
			modes(t, custom, nil, "iso", "ignition", "embed", "-f", "-i", cfgFile)

			// Removing gives back the original bytes in every mode.
			if got := sum(modes(t, custom, nil, "iso", "ignition", "remove")); got != orig {
				t.Fatalf("remove: sha256 %s, want the original %s", got, orig)
			}

			// A config larger than the area fails everywhere and changes nothing.
			rep := inspectJSON(t, iso)
			noise := make([]byte, rep.InitrdArea.Length)
			rng := rand.NewChaCha8([32]byte{1})
			rng.Read(noise)
			big := writeTemp(t, "big.ign", fmt.Appendf(nil, `{"ignition": {"version": "3.0.0"}, "x": %q}`, base64.StdEncoding.EncodeToString(noise)))
			failsAllModes(t, iso, "too large", nil, "iso", "ignition", "embed", "-i", big)
		})
	}
}

func TestIgnitionShowWithoutConfig(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	fails(t, "No embedded Ignition config.", nil, "iso", "ignition", "show", iso)
}

func TestUnrecognizedAndBrokenImages(t *testing.T) {
	synthetic := fixture.ISO(t, "synthetic.iso")
	fails(t, "Unrecognized CoreOS ISO image", testConfig, "iso", "ignition", "embed", synthetic)
	fails(t, "Unrecognized CoreOS ISO image", nil, "iso", "kargs", "show", synthetic)
	fails(t, "Unrecognized CoreOS ISO image", nil, "iso", "extract", "pxe", "-o", t.TempDir(), synthetic)
	// inspect describes any ISO; this one has no boot configuration.
	if out := string(ok(t, nil, "inspect", synthetic).stdout); !strings.Contains(out, "not a CoreOS live ISO (no embed areas); OS unknown") || !strings.Contains(out, "Boot entries:   none found") {
		t.Errorf("inspect %s:\n%s", synthetic, out)
	}

	// A truncated image.
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	data := readTestFile(t, iso)
	half := writeTemp(t, "half.iso", data[:len(data)/2])
	fails(t, "ISO image is incomplete", nil, "iso", "ignition", "show", half)
	fails(t, "ISO image is incomplete", []byte(`{"ignition":{"version":"3.3.0"}}`), "build", "--ignition", "-", "-o", filepath.Join(t.TempDir(), "x.iso"), half)

	// Not an ISO at all: the error names the file.
	text := writeTemp(t, "notes.txt", bytes.Repeat([]byte("not an ISO image\n"), 4096))
	r := fails(t, "notes.txt", nil, "inspect", text)
	if r.code != 1 {
		t.Errorf("exit status %d, want 1", r.code)
	}
	fails(t, "no such file", nil, "inspect", filepath.Join(t.TempDir(), "missing.iso"))
}

func TestOutputExists(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	out := writeTemp(t, "exists.iso", []byte("keep me"))
	fails(t, "File exists", testConfig, "iso", "ignition", "embed", "-o", out, iso)
	if got := readTestFile(t, out); string(got) != "keep me" {
		t.Fatal("existing output was overwritten")
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	if len(ents) != 1 {
		t.Fatalf("temporary file left behind: %d entries", len(ents))
	}
}

func TestLegacyHeaderZeroedStillWorks(t *testing.T) {
	// Spec 6.1 item 9: zeroing the coreKarg magic does not affect ignition.
	iso := fixture.ISO(t, "embed-areas-2021-09.iso")
	f, err := os.OpenFile(iso, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 8), 32672); err != nil {
		t.Fatal(err)
	}
	f.Close()
	orig := fixture.SHA256(t, iso)
	custom := writeTemp(t, "c.iso", modes(t, iso, testConfig, "iso", "ignition", "embed"))
	if got := ok(t, nil, "iso", "ignition", "show", custom).stdout; !bytes.Equal(got, testConfig) {
		t.Fatalf("show = %q", got)
	}
	if got := sum(modes(t, custom, nil, "iso", "ignition", "remove")); got != orig {
		t.Fatal("remove did not restore the original")
	}
}
