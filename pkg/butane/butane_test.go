package butane

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/ignconfig"
)

// TestSharedFixtures translates the customize fixtures and compares the
// result with the Ignition configs that were generated from them.
func TestSharedFixtures(t *testing.T) {
	for _, name := range []string{"live", "dest", "live-2", "dest-2"} {
		t.Run(name, func(t *testing.T) {
			buPath := fixture.Customize(t, name+".bu")
			src, err := os.ReadFile(buPath)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(fixture.Customize(t, name+".ign"))
			if err != nil {
				t.Fatal(err)
			}
			got, rep, err := Translate(name+".bu", src, Options{Strict: true})
			if err != nil {
				t.Fatalf("Translate: %v", err)
			}
			if len(rep.Entries) != 0 {
				t.Errorf("report = %q, want no entries", rep.String())
			}
			if _, err := ignconfig.Parse(name+".ign", got); err != nil {
				t.Errorf("output does not parse: %v", err)
			}
			g, w := normalize(t, got), normalize(t, want)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("Translate(%s) =\n%s\nwant (semantically)\n%s", name+".bu", got, want)
			}
		})
	}
}

func TestTranslatePositions(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		opts    Options
		sentry  error  // the sentinel err must wrap; nil for success
		errText string // substring of the error text
		entry   Entry  // the first report entry
	}{
		{
			name: "semantic error",
			src: "variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: /a\n      contents:\n" +
				"        inline: x\n        local: y\n",
			opts:    Options{FilesDir: "."},
			sentry:  ErrInvalid,
			errText: "invalid Butane config: in.bu:7:17: error: only one of the following can be set: inline, local, source ($.storage.files.0.contents.inline)",
			entry:   Entry{Kind: KindError, Path: "$.storage.files.0.contents.inline", Line: 7, Column: 17, Message: "only one of the following can be set: inline, local, source"},
		},
		{
			name:    "relative path",
			src:     "variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: etc/a\n",
			sentry:  ErrInvalid,
			errText: "in.bu:5:13: error: path not absolute ($.storage.files.0.path)",
			entry:   Entry{Kind: KindError, Path: "$.storage.files.0.path", Line: 5, Column: 13, Message: "path not absolute"},
		},
		{
			name:    "yaml syntax error has a line only",
			src:     "variant: fcos\nversion: 1.4.0\n a: b\nc\n",
			sentry:  ErrInvalid,
			errText: "invalid Butane config: in.bu:3: error: yaml: mapping values are not allowed in this context",
			entry:   Entry{Kind: KindError, Line: 3, Message: "yaml: mapping values are not allowed in this context"},
		},
		{
			name:    "yaml type error",
			src:     "variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: /a\n      mode: abc\n",
			sentry:  ErrInvalid,
			errText: "in.bu:6: error: yaml: cannot unmarshal !!str `abc` into int",
			entry:   Entry{Kind: KindError, Line: 6, Message: "yaml: cannot unmarshal !!str `abc` into int"},
		},
		{
			name:  "warning without strict",
			src:   "variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: /a\n      mode: 644\n",
			entry: Entry{Kind: KindWarning, Path: "$.storage.files.0.mode", Line: 6, Column: 13, Message: "unreasonable mode would be reasonable if specified in octal; remember to add a leading zero"},
		},
		{
			name:    "warning with strict",
			src:     "variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: /a\n      mode: 644\n",
			opts:    Options{Strict: true},
			sentry:  ErrStrict,
			errText: "strict mode: Butane config produced warnings:\n  in.bu:6:13: warning: unreasonable mode would be reasonable if specified in octal",
			entry:   Entry{Kind: KindWarning, Path: "$.storage.files.0.mode", Line: 6, Column: 13, Message: "unreasonable mode would be reasonable if specified in octal; remember to add a leading zero"},
		},
		{
			name:    "unused key with strict",
			src:     "variant: fcos\nversion: 1.4.0\nstorage:\n  filez: []\n",
			opts:    Options{Strict: true},
			sentry:  ErrStrict,
			errText: "in.bu:4:3: warning: unused key filez ($.storage.filez)",
			entry:   Entry{Kind: KindWarning, Path: "$.storage.filez", Line: 4, Column: 3, Message: "unused key filez"},
		},
		{
			name:    "unknown variant",
			src:     "variant: nope\nversion: 1.4.0\n",
			sentry:  ErrInvalid,
			errText: `in.bu:1:10: error: unknown variant "nope" (version 1.4.0); supported variants: fcos, fiot, flatcar, openshift, r4e ($.variant)`,
			entry:   Entry{Kind: KindError, Path: "$.variant", Line: 1, Column: 10, Message: `unknown variant "nope" (version 1.4.0); supported variants: fcos, fiot, flatcar, openshift, r4e`},
		},
		{
			name:    "unknown version",
			src:     "# comment\nvariant: fcos\nversion:   9.9.9\n",
			sentry:  ErrInvalid,
			errText: "in.bu:3:12: error: variant fcos has no version 9.9.9; supported versions: 1.0.0, 1.1.0, 1.2.0, 1.3.0, 1.4.0, 1.5.0, 1.6.0, 1.7.0-experimental ($.version)",
			entry:   Entry{Kind: KindError, Path: "$.version", Line: 3, Column: 12, Message: "variant fcos has no version 9.9.9; supported versions: 1.0.0, 1.1.0, 1.2.0, 1.3.0, 1.4.0, 1.5.0, 1.6.0, 1.7.0-experimental"},
		},
		{
			name:    "version not semver",
			src:     "variant: fcos\nversion: latest\n",
			sentry:  ErrInvalid,
			errText: "in.bu:2:10: error: version must be a semantic version such as 1.4.0 ($.version)",
			entry:   Entry{Kind: KindError, Path: "$.version", Line: 2, Column: 10, Message: "version must be a semantic version such as 1.4.0"},
		},
		{
			name:    "no variant",
			src:     "version: 1.4.0\n",
			sentry:  ErrInvalid,
			errText: "in.bu: error: variant must be specified ($.variant)",
			entry:   Entry{Kind: KindError, Path: "$.variant", Message: "variant must be specified"},
		},
		{
			name:    "local reference without files dir",
			src:     "variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: /a\n      contents:\n        local: a.txt\n",
			sentry:  ErrInvalid,
			errText: "in.bu:7:16: error: local file paths are relative to a files directory that must be specified with -d/--files-dir ($.storage.files.0.contents.local)",
			entry:   Entry{Kind: KindError, Path: "$.storage.files.0.contents.local", Line: 7, Column: 16, Message: "local file paths are relative to a files directory that must be specified with -d/--files-dir"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, rep, err := Translate("in.bu", []byte(tc.src), tc.opts)
			if tc.sentry == nil {
				if err != nil {
					t.Fatalf("Translate: %v", err)
				}
				if len(out) == 0 {
					t.Errorf("Translate returned no output")
				}
			} else {
				if !errors.Is(err, tc.sentry) {
					t.Fatalf("Translate error = %v, want one wrapping %q", err, tc.sentry)
				}
				if !strings.Contains(err.Error(), tc.errText) {
					t.Errorf("Translate error =\n%s\nwant it to contain\n%s", err, tc.errText)
				}
				if out != nil {
					t.Errorf("Translate output = %s, want nil on error", out)
				}
			}
			if rep.File != "in.bu" {
				t.Errorf("Report.File = %q, want %q", rep.File, "in.bu")
			}
			if len(rep.Entries) == 0 {
				t.Fatalf("report has no entries, want first %+v", tc.entry)
			}
			if got := rep.Entries[0]; got != tc.entry {
				t.Errorf("first entry = %+v, want %+v", got, tc.entry)
			}
			if got, want := rep.hasErrors(), tc.entry.Kind == KindError; got != want {
				t.Errorf("hasErrors() = %v, want %v", got, want)
			}
			if got, want := rep.has(KindWarning), tc.entry.Kind == KindWarning; got != want {
				t.Errorf("has(KindWarning) = %v, want %v", got, want)
			}
		})
	}
}

func TestFilesDir(t *testing.T) {
	const src = "variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: /a\n      contents:\n        local: %s\n"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("from a file\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("reads the file", func(t *testing.T) {
		out, _, err := Translate("in.bu", fmt.Appendf(nil, src, "a.txt"), Options{FilesDir: dir, Strict: true})
		if err != nil {
			t.Fatalf("Translate: %v", err)
		}
		files := decodeIgnition(t, out).Storage.Files
		if len(files) != 1 {
			t.Fatalf("got %d files, want 1", len(files))
		}
		if got := files[0].data(t); got != "from a file\n" {
			t.Errorf("contents = %q, want %q", got, "from a file\n")
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		missing := filepath.Join(dir, "nope")
		_, _, err := Translate("in.bu", fmt.Appendf(nil, src, "a.txt"), Options{FilesDir: missing})
		if err == nil || !strings.Contains(err.Error(), "files directory") || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Translate error = %v, want a files directory error wrapping os.ErrNotExist", err)
		}
	})
	t.Run("not a directory", func(t *testing.T) {
		_, _, err := Translate("in.bu", fmt.Appendf(nil, src, "a.txt"), Options{FilesDir: filepath.Join(dir, "a.txt")})
		if err == nil || !strings.Contains(err.Error(), "is not a directory") {
			t.Fatalf("Translate error = %v, want a not-a-directory error", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, rep, err := Translate("in.bu", fmt.Appendf(nil, src, "b.txt"), Options{FilesDir: dir})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "in.bu:7:16: error: ") || !strings.Contains(err.Error(), "b.txt") {
			t.Fatalf("Translate error = %v, want ErrInvalid at in.bu:7:16 naming b.txt", err)
		}
		if !rep.hasErrors() {
			t.Errorf("report has no errors")
		}
	})
	t.Run("escaping the directory", func(t *testing.T) {
		_, _, err := Translate("in.bu", fmt.Appendf(nil, src, "../x"), Options{FilesDir: dir})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "outside the files directory") {
			t.Fatalf("Translate error = %v, want ErrInvalid about escaping the files directory", err)
		}
	})
}

func TestTranslateOutput(t *testing.T) {
	const src = "variant: fcos\nversion: 1.4.0\nsystemd:\n  units:\n    - name: a.service\n      mask: true\n"
	compact, _, err := Translate("-", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(compact, "\n ") {
		t.Errorf("compact output = %s, want no newlines or spaces", compact)
	}
	var a any
	if err := json.Unmarshal(compact, &a); err != nil {
		t.Fatal(err)
	}

	_, rep, err := Translate("-", []byte("variant: fcos\nversion: 1.4.0\nfoo: 1\n"), Options{Strict: true})
	if err == nil || !strings.Contains(err.Error(), "<stdin>:3:1: warning: unused key foo") {
		t.Errorf("Translate(-) error = %v, want it to name <stdin>:3:1", err)
	}
	if rep.File != "<stdin>" {
		t.Errorf("Report.File = %q, want <stdin>", rep.File)
	}
}

// TestOpenshiftRaw checks that openshift configs come out as plain Ignition,
// not as a MachineConfig, and that the fields raw mode drops are warnings.
func TestOpenshiftRaw(t *testing.T) {
	const src = `variant: openshift
version: 4.14.0
metadata:
  name: 99-worker-example
  labels:
    machineconfiguration.openshift.io/role: worker
openshift:
  kernel_type: realtime
storage:
  files:
    - path: /etc/example
      mode: 0644
      contents:
        inline: hi
`
	out, rep, err := Translate("os.bu", []byte(src), Options{})
	if err != nil {
		t.Fatalf("Translate: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["kind"]; ok {
		t.Errorf("output has a kind field (MachineConfig?): %s", out)
	}
	if _, ok := m["ignition"]; !ok {
		t.Errorf("output has no ignition field: %s", out)
	}
	want := "os.bu:8:16: warning: field ignored in raw mode ($.openshift.kernel_type)\n"
	if got := rep.String(); got != want {
		t.Errorf("report = %q, want %q", got, want)
	}
	if _, _, err := Translate("os.bu", []byte(src), Options{Strict: true}); !errors.Is(err, ErrStrict) {
		t.Errorf("strict Translate error = %v, want ErrStrict", err)
	}
}

func TestReportString(t *testing.T) {
	r := Report{File: "c.bu", Entries: []Entry{
		{Kind: KindWarning, Path: "$.storage.files.0.mode", Line: 12, Column: 11, Message: "m1"},
		{Kind: KindError, Line: 3, Message: "m2"},
		{Kind: KindError, Path: "$.variant", Message: "m3"},
		{Kind: KindWarning, Message: "m4"},
	}}
	want := "c.bu:12:11: warning: m1 ($.storage.files.0.mode)\n" +
		"c.bu:3: error: m2\n" +
		"c.bu: error: m3 ($.variant)\n" +
		"c.bu: warning: m4\n"
	if got := r.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
	if got := (Report{File: "c.bu"}).String(); got != "" {
		t.Errorf("empty report String() = %q, want \"\"", got)
	}
	if !r.hasErrors() || !r.has(KindWarning) {
		t.Errorf("hasErrors, has(KindWarning) = %v, %v, want true, true", r.hasErrors(), r.has(KindWarning))
	}
}

func TestErrorListsEveryEntry(t *testing.T) {
	const src = "variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: a\n    - path: b\n"
	_, _, err := Translate("in.bu", []byte(src), Options{})
	want := "invalid Butane config:\n" +
		"  in.bu:5:13: error: path not absolute ($.storage.files.0.path)\n" +
		"  in.bu:6:13: error: path not absolute ($.storage.files.1.path)"
	if err == nil || err.Error() != want {
		t.Errorf("Translate error =\n%v\nwant\n%s", err, want)
	}
}

// TestSupportedMatchesButane checks that every variant and version in the
// table used for error messages is one butane knows.
func TestSupportedMatchesButane(t *testing.T) {
	for variant, versions := range supported {
		for _, version := range versions {
			src := fmt.Sprintf("variant: %s\nversion: %s\n", variant, version)
			_, rep, _ := Translate("in.bu", []byte(src), Options{})
			for _, e := range rep.Entries {
				if e.Path == "$.variant" || e.Path == "$.version" {
					t.Errorf("%s %s: butane does not know it: %s", variant, version, rep.String())
				}
			}
		}
	}
}

// normalize decodes an Ignition config into generic values, replacing
// every data URL by its decoded, decompressed text so that configs that
// differ only in how contents are encoded compare equal.
func normalize(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			if src, ok := x["source"].(string); ok && strings.HasPrefix(src, "data:") {
				comp, _ := x["compression"].(string)
				data, err := decodeDataURL(src, comp)
				if err != nil {
					t.Fatalf("decode %q: %v", src, err)
				}
				x["source"] = "decoded:" + string(data)
				delete(x, "compression")
			}
			for k, c := range x {
				x[k] = walk(c)
			}
		case []any:
			for i, c := range x {
				x[i] = walk(c)
			}
		}
		return v
	}
	return walk(v)
}

// decodeDataURL returns the payload of an RFC 2397 data URL, gunzipped when
// compression is "gzip".
func decodeDataURL(src, compression string) ([]byte, error) {
	meta, payload, ok := strings.Cut(strings.TrimPrefix(src, "data:"), ",")
	if !ok {
		return nil, fmt.Errorf("no comma in data URL")
	}
	var data []byte
	if strings.HasSuffix(meta, ";base64") {
		d, err := base64.StdEncoding.DecodeString(payload)
		if err != nil {
			return nil, err
		}
		data = d
	} else {
		s, err := url.PathUnescape(payload)
		if err != nil {
			return nil, err
		}
		data = []byte(s)
	}
	switch compression {
	case "":
		return data, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	default:
		return nil, fmt.Errorf("unknown compression %q", compression)
	}
}

// ignition is the part of the Ignition config schema the tests look at.
type ignition struct {
	Ignition struct {
		Version string `json:"version"`
	} `json:"ignition"`
	Passwd struct {
		Users []struct {
			Name              string   `json:"name"`
			Groups            []string `json:"groups"`
			SSHAuthorizedKeys []string `json:"sshAuthorizedKeys"`
		} `json:"users"`
	} `json:"passwd"`
	Storage struct {
		Directories []struct {
			Path string `json:"path"`
			Mode *int   `json:"mode"`
		} `json:"directories"`
		Files []ignFile `json:"files"`
	} `json:"storage"`
	Systemd struct {
		Units []struct {
			Name     string `json:"name"`
			Enabled  *bool  `json:"enabled"`
			Contents string `json:"contents"`
		} `json:"units"`
	} `json:"systemd"`
}

type ignFile struct {
	Path     string `json:"path"`
	Mode     *int   `json:"mode"`
	Contents struct {
		Source      string `json:"source"`
		Compression string `json:"compression"`
	} `json:"contents"`
}

func (f ignFile) data(t *testing.T) string {
	t.Helper()
	b, err := decodeDataURL(f.Contents.Source, f.Contents.Compression)
	if err != nil {
		t.Fatalf("%s: decode contents: %v", f.Path, err)
	}
	return string(b)
}

func decodeIgnition(t *testing.T, b []byte) ignition {
	t.Helper()
	var c ignition
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decode Ignition output: %v\n%s", err, b)
	}
	return c
}
