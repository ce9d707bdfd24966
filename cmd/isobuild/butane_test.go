package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coreos/butane/config"
	"github.com/coreos/butane/config/common"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/butane"
)

// butaneInputs are the Butane configs the command is checked on: the
// customize fixtures and the examples, with the files directory those that
// reference local files need (examples/systemd-files.bu says to translate it
// with -d examples/files).
func butaneInputs(t *testing.T) map[string]string {
	t.Helper()
	in := map[string]string{
		fixture.Customize(t, "live.bu"): "",
		fixture.Customize(t, "dest.bu"): "",
	}
	examples, err := filepath.Glob("../../examples/*.bu")
	if err != nil {
		t.Fatal(err)
	}
	if len(examples) < 4 {
		t.Fatalf("found only %d examples", len(examples))
	}
	for _, p := range examples {
		dir := ""
		if bytes.Contains(readTestFile(t, p), []byte("local:")) {
			dir = "../../examples/files"
		}
		in[p] = dir
	}
	return in
}

// withFilesDir prepends -d dir to args when dir is set.
func withFilesDir(dir string, args ...string) []string {
	if dir == "" {
		return args
	}
	return append([]string{"-d", dir}, args...)
}

// TestButaneMatchesLibrary: the output is the Butane library's, with a
// final newline as butane prints it; -p gives butane's pretty bytes; the
// report goes to stderr.
func TestButaneMatchesLibrary(t *testing.T) {
	for path, dir := range butaneInputs(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src := readTestFile(t, path)
			want, rep, err := butane.Translate(path, src, butane.Options{FilesDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			r := ok(t, nil, append([]string{"butane"}, withFilesDir(dir, path)...)...)
			if !bytes.Equal(r.stdout, append(want, '\n')) {
				t.Errorf("compact output differs from butane.Translate's:\n got %q\nwant %q", r.stdout, want)
			}
			if string(r.stderr) != rep.String() {
				t.Errorf("stderr %q, want the report %q", r.stderr, rep.String())
			}

			p := ok(t, nil, append([]string{"butane", "-p"}, withFilesDir(dir, path)...)...)
			jsonEqual(t, p.stdout, want)
			// Byte for byte what butane -p writes: the library's pretty
			// output (raw, as isobuild always is) and a newline.
			lib, _, err := config.TranslateBytes(src, common.TranslateBytesOptions{
				TranslateOptions: common.TranslateOptions{FilesDir: dir}, Pretty: true, Raw: true})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p.stdout, append(lib, '\n')) {
				t.Errorf("pretty output differs from butane's:\n got %s\nwant %s", p.stdout, lib)
			}
			if !bytes.HasPrefix(p.stdout, []byte("{\n  \"ignition\": {\n    \"version\": ")) {
				t.Errorf("pretty output is not indented by two spaces: %.60q", p.stdout)
			}
		})
	}
}

func TestButaneStdin(t *testing.T) {
	src := readTestFile(t, fixture.Customize(t, "dest.bu"))
	want, _, err := butane.Translate("-", src, butane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"butane"}, {"butane", "-"}, {"butane", "-o", "-", "-"}} {
		if r := ok(t, src, args...); !bytes.Equal(r.stdout, append(want, '\n')) {
			t.Errorf("%v: output %q, want %q", args, r.stdout, want)
		}
	}
	// Messages call standard input <stdin>.
	r := ok(t, []byte(warningConfig), "butane")
	if !strings.HasPrefix(string(r.stderr), "<stdin>:6:13: warning: ") {
		t.Errorf("stderr %q", r.stderr)
	}
}

// warningConfig translates with warnings (a decimal mode).
const warningConfig = "variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: /a\n      mode: 644\n"

func TestButaneOutputFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "config.ign")
	dest := fixture.Customize(t, "dest.bu")
	want, _, err := butane.Translate(dest, readTestFile(t, dest), butane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := ok(t, nil, "butane", "-o", out, dest); len(r.stdout) != 0 {
		t.Errorf("-o FILE wrote %q to stdout", r.stdout)
	}
	if got := readTestFile(t, out); !bytes.Equal(got, append(want, '\n')) {
		t.Errorf("%s holds %q, want %q", out, got, want)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm&0o600 != 0o600 || perm&0o111 != 0 {
		t.Errorf("output mode %v, want rw for the owner and no x", perm)
	}

	// An existing file is neither replaced nor touched.
	r := fails(t, "creating "+out+": File exists", nil, "butane", "-o", out, fixture.Customize(t, "live.bu"))
	if r.code != 1 || !strings.Contains(string(r.stderr), "hint: ") || !strings.Contains(string(r.stderr), "remove the file") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if got := readTestFile(t, out); !bytes.Equal(got, append(want, '\n')) {
		t.Errorf("the existing output was changed to %q", got)
	}
	// A failed translation creates nothing.
	fails(t, "invalid Butane config", []byte("variant: fcos\n"), "butane", "-o", filepath.Join(dir, "bad.ign"))
	fails(t, "does not exist", nil, "butane", "-o", filepath.Join(dir, "no", "x.ign"), dest)
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("output directory holds %d entries, want only config.ign", len(ents))
	}
}

func TestButaneStrict(t *testing.T) {
	r := ok(t, []byte(warningConfig), "butane")
	if !strings.Contains(string(r.stderr), "warning: unreasonable mode") || len(r.stdout) == 0 {
		t.Errorf("without --strict: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	for _, flag := range []string{"--strict", "-s"} {
		r := fails(t, "strict mode: Butane config produced warnings:\n  <stdin>:6:13: warning: unreasonable mode", []byte(warningConfig), "butane", flag)
		if r.code != 1 || len(r.stdout) != 0 {
			t.Errorf("%s: exit %d, stdout %q", flag, r.code, r.stdout)
		}
		if !strings.Contains(string(r.stderr), "drop --strict") {
			t.Errorf("%s: no hint: %q", flag, r.stderr)
		}
	}
}

func TestButaneInvalid(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		// Warnings are printed; the error names the file and position.
		{"variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: a\n      mode: 644\n", ":5:13: error: path not absolute"},
		{"variant: fcos\nversion: 1.4.0\nfoo: [\n", ":3: error: yaml: "},
		{"version: 1.4.0\n", ": error: variant must be specified"},
		{"variant: fcos\nversion: 9.9.9\n", ":2:10: error: variant fcos has no version 9.9.9"},
	} {
		p := writeTemp(t, "bad.bu", []byte(tc.src))
		r := fails(t, "isobuild: error: invalid Butane config: "+p+tc.want, nil, "butane", p)
		if r.code != 1 || len(r.stdout) != 0 {
			t.Errorf("%q: exit %d, stdout %q", tc.src, r.code, r.stdout)
		}
		if strings.Contains(tc.src, "mode: 644") && !strings.HasPrefix(string(r.stderr), p+":6:13: warning: unreasonable mode") {
			t.Errorf("the warnings are not printed before the error: %q", r.stderr)
		}
		if n := strings.Count(string(r.stderr), "error: "); n != 2 {
			t.Errorf("%q: %d error lines, want the error once (plus its entry): %q", tc.src, n, r.stderr)
		}
	}
	missing := filepath.Join(t.TempDir(), "missing.bu")
	if r := fails(t, missing, nil, "butane", missing); r.code != 1 {
		t.Errorf("missing input: exit %d", r.code)
	}
	if r := fails(t, "files directory", nil, "butane", "-d", filepath.Join(t.TempDir(), "nodir"), fixture.Customize(t, "dest.bu")); r.code != 1 || !strings.Contains(string(r.stderr), "dest.bu") {
		t.Errorf("bad -d: exit %d, %q", r.code, r.stderr)
	}
}

func TestButaneCheck(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "x.ign")
	for _, flag := range []string{"-c", "--check"} {
		r := ok(t, nil, "butane", flag, "-o", out, fixture.Customize(t, "dest.bu"))
		if len(r.stdout) != 0 || len(r.stderr) != 0 {
			t.Errorf("%s printed %q, %q", flag, r.stdout, r.stderr)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("--check created %d file(s)", len(ents))
	}
	// Warnings are still reported; errors and --strict still fail.
	if r := ok(t, []byte(warningConfig), "butane", "-c"); len(r.stdout) != 0 || !strings.Contains(string(r.stderr), "warning:") {
		t.Errorf("--check with warnings: %q, %q", r.stdout, r.stderr)
	}
	fails(t, "strict mode", []byte(warningConfig), "butane", "-c", "--strict")
	fails(t, "invalid Butane config", []byte("variant: fcos\n"), "butane", "-c")
}

func TestButaneIgnitionInput(t *testing.T) {
	ign := fixture.Customize(t, "dest.ign")
	r := fails(t, ign+": this looks like an Ignition config already", nil, "butane", ign)
	if r.code != 1 || !strings.Contains(string(r.stderr), "isobuild: hint: ") || !strings.Contains(string(r.stderr), "--dest-ignition") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	fails(t, "<stdin>: this looks like an Ignition config already", readTestFile(t, ign), "butane")
	// A Butane config in JSON is still Butane.
	want, _, err := butane.Translate("-", []byte(`{"variant":"fcos","version":"1.4.0"}`), butane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := ok(t, []byte(`{"variant":"fcos","version":"1.4.0"}`), "butane"); !bytes.Equal(r.stdout, append(want, '\n')) {
		t.Errorf("JSON Butane config: %q", r.stdout)
	}
	// Other JSON gets butane's own error.
	if r := fails(t, "variant must be specified", []byte(`{"storage":{}}`), "butane"); strings.Contains(string(r.stderr), "Ignition config already") {
		t.Errorf("hint for a config without an ignition key: %q", r.stderr)
	}
}

func TestButaneUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"butane", "a.bu", "b.bu"},
		{"butane", "--bogus"},
		{"butane", "-o", ""},
		{"butane", "-d"},
	} {
		r := cli(t, nil, args...)
		if r.code != 2 || len(r.stdout) != 0 || !strings.Contains(string(r.stderr), "isobuild butane --help") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestButaneOpenshift: openshift configs become plain Ignition, with a note
// unless -r asks for that explicitly.
func TestButaneOpenshift(t *testing.T) {
	src := []byte("variant: openshift\nversion: 4.14.0\nmetadata:\n  name: x\n  labels:\n    machineconfiguration.openshift.io/role: worker\n")
	want, _, err := butane.Translate("-", src, butane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := ok(t, src, "butane")
	if !bytes.Equal(r.stdout, append(want, '\n')) || !strings.Contains(string(r.stderr), "<stdin>: note: translated to plain Ignition") {
		t.Errorf("without -r: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	for _, flag := range []string{"-r", "--raw"} {
		r := ok(t, src, "butane", flag)
		if !bytes.Equal(r.stdout, append(want, '\n')) || len(r.stderr) != 0 {
			t.Errorf("%s: stdout %q, stderr %q", flag, r.stdout, r.stderr)
		}
	}
	if r := ok(t, nil, "butane", fixture.Customize(t, "dest.bu")); len(r.stderr) != 0 {
		t.Errorf("note for an fcos config: %q", r.stderr)
	}
}

// TestButaneIntoCustomize: the compatible pipeline, isobuild butane then
// iso customize --dest-ignition, embeds what build --dest-butane does.
func TestButaneIntoCustomize(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	dir := t.TempDir()
	destBu := fixture.Customize(t, "dest.bu")
	ign := filepath.Join(dir, "config.ign")
	ok(t, nil, "butane", "-o", ign, destBu)
	viaButane := filepath.Join(dir, "a.iso")
	ok(t, nil, "iso", "customize", "--dest-ignition", ign, "--dest-device", "/dev/sda", "-o", viaButane, iso)
	viaBuild := filepath.Join(dir, "b.iso")
	ok(t, nil, "build", "--dest-butane", destBu, "--dest-device", "/dev/sda", "-o", viaBuild, iso)

	a := ok(t, nil, "iso", "ignition", "show", viaButane).stdout
	b := ok(t, nil, "iso", "ignition", "show", viaBuild).stdout
	if !bytes.Equal(a, b) {
		t.Errorf("embedded configs differ:\niso customize: %s\nbuild:         %s", a, b)
	}
	want, _, err := butane.Translate(destBu, readTestFile(t, destBu), butane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var dest []byte
	for _, f := range parseLive(t, a).Storage.Files {
		if f.Path == "/etc/coreos/dest.ign" {
			dest = f.Contents.data(t)
		}
	}
	if dest == nil {
		t.Fatalf("no /etc/coreos/dest.ign in %s", a)
	}
	jsonEqual(t, dest, want)
	if !bytes.Equal(dest, readTestFile(t, ign)) {
		t.Errorf("the dest config was not embedded as isobuild butane wrote it")
	}
}

// FuzzButaneConvert: any input either fails or gives one JSON document
// ending in a newline, and -p changes only the whitespace.
func FuzzButaneConvert(f *testing.F) {
	for _, name := range []string{"live.bu", "dest.bu", "dest.ign"} {
		src, err := os.ReadFile(fixture.Customize(f, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte(warningConfig))
	f.Add([]byte("variant: openshift\nversion: 4.14.0\nmetadata:\n  name: x\n  labels:\n    machineconfiguration.openshift.io/role: worker\n"))
	f.Add([]byte(`{"variant":"fcos","version":"1.4.0"}`))
	f.Add([]byte(`{"ignition":{"version":"3.4.0"}}`))
	f.Add([]byte("variant: fcos\nversion: 1.4.0\nfoo: [\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		compact, _, err := convertButane("in.bu", src, butaneOptions{})
		pretty, _, perr := convertButane("in.bu", src, butaneOptions{pretty: true, raw: true})
		if (err == nil) != (perr == nil) {
			t.Fatalf("compact error %v, pretty error %v", err, perr)
		}
		if err != nil {
			if compact != nil {
				t.Fatalf("output %q with error %v", compact, err)
			}
			return
		}
		if !bytes.HasSuffix(compact, []byte("}\n")) || bytes.Count(compact, []byte("\n")) != 1 || !json.Valid(compact) {
			t.Fatalf("compact output %q", compact)
		}
		var b bytes.Buffer
		if err := json.Compact(&b, pretty); err != nil {
			t.Fatal(err)
		}
		if b.String() != strings.TrimSuffix(string(compact), "\n") {
			t.Fatalf("pretty %q is not compact %q indented", pretty, compact)
		}
		looksLikeIgnition(src)
		looksLikeButane(src)
	})
}
