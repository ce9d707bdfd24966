package butane

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/ignconfig"
)

// FuzzTranslate checks the report wrapper around butane on arbitrary
// Butane input, strict or not. The report is always for the given file;
// every entry is an error or a warning with a non-negative position (no
// column without a line); String prints one line per entry, each starting
// with the file name. On failure there is no output, the error wraps
// ErrInvalid (and the report holds an error) or ErrStrict (and the report
// holds only warnings), and its text is the sentinel's followed by the
// entries of that kind. On success the output is an Ignition config that
// package ignconfig accepts, and strict mode left no entries.
func FuzzTranslate(f *testing.F) {
	for _, name := range []string{"live.bu", "live-2.bu", "dest.bu", "dest-2.bu"} {
		src, err := os.ReadFile(fixture.Customize(f, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src, false)
		f.Add(src, true)
	}
	for _, s := range []string{
		"variant: fcos\nversion: 1.4.0\n",
		"variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: /a\n      mode: 0644\n      contents:\n        inline: x\n      bogus: 1\n",
		"variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: relative\n",
		"variant: fcos\nversion: 9.9.9\n",
		"variant: nope\nversion: 1.0.0\n",
		"variant: fcos\nversion: one\n",
		"version: 1.4.0\n",
		"variant: fcos\nversion: 1.4.0\nsystemd: [\n",
		"variant: fcos\nversion: 1.4.0\nvariant: fcos\n",
		"variant: openshift\nversion: 4.14.0\nmetadata:\n  name: x\n  labels:\n    machineconfiguration.openshift.io/role: worker\n",
		"variant: rhcos\nversion: 0.1.0\n",
		"storage:\n  files:\n    - path: /a\n      contents:\n        local: x\n",
		"",
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, src []byte, strict bool) {
		out, rep, err := Translate("fuzz.bu", src, Options{Strict: strict})
		if rep.File != "fuzz.bu" {
			t.Fatalf("report for %q", rep.File)
		}
		for _, e := range rep.Entries {
			if e.Kind != KindError && e.Kind != KindWarning {
				t.Fatalf("entry kind %q", e.Kind)
			}
			if e.Line < 0 || e.Column < 0 || (e.Column > 0 && e.Line == 0) {
				t.Fatalf("entry position %d:%d", e.Line, e.Column)
			}
		}
		s := rep.String()
		if len(rep.Entries) == 0 && s != "" || len(rep.Entries) > 0 && !strings.HasSuffix(s, "\n") {
			t.Fatalf("report %q for %d entries", s, len(rep.Entries))
		}
		for _, e := range rep.Entries {
			prefix := "fuzz.bu"
			if e.Line > 0 {
				prefix += ":" + strconv.Itoa(e.Line)
			}
			if !strings.Contains(s, prefix) || !strings.Contains(s, ": "+e.Kind+": "+e.Message) {
				t.Fatalf("report %q lacks entry %+v", s, e)
			}
		}
		if len(rep.Entries) > 0 && (!strings.HasPrefix(s, "fuzz.bu") || strings.Count(s, "\n") < len(rep.Entries)) {
			t.Fatalf("report %q for %d entries", s, len(rep.Entries))
		}
		if err != nil {
			if out != nil {
				t.Fatal("output with an error")
			}
			kind := KindError
			switch {
			case errors.Is(err, ErrInvalid):
				if !rep.hasErrors() {
					t.Fatalf("error %v with a report without errors", err)
				}
			case errors.Is(err, ErrStrict):
				if !strict || rep.hasErrors() || len(rep.Entries) == 0 {
					t.Fatalf("strict error %v, strict %v, report %q", err, strict, s)
				}
				kind = KindWarning
			default:
				t.Fatalf("error %v wraps no sentinel", err)
			}
			sentinel := errors.Unwrap(err)
			want := (&reportError{sentinel: sentinel, lines: rep.lines(kind)}).Error()
			if err.Error() != want || !strings.HasPrefix(want, sentinel.Error()) {
				t.Fatalf("error text %q, want %q", err, want)
			}
			return
		}
		if rep.hasErrors() || strict && len(rep.Entries) > 0 {
			t.Fatalf("success with report %q", s)
		}
		if _, err := ignconfig.Parse("fuzz.ign", out); err != nil {
			t.Fatalf("butane output %s is not a valid Ignition config: %v", out, err)
		}
	})
}

// FuzzReportHelpers checks the helpers that turn butane's bare errors into
// entries: yamlEntries always gives at least one error entry whose message
// starts "yaml: ", with non-negative lines and no column; topLevelValuePos
// gives 0, 0 or a line of src and a column inside it (or just past it).
func FuzzReportHelpers(f *testing.F) {
	f.Add("yaml: line 3: mapping values are not allowed in this context", "variant: fcos\nversion: 1.4.0\n", "version")
	f.Add("yaml: unmarshal errors:\n  line 2: cannot unmarshal !!str `x` into int\n  line 99999999999999999999: y", "version:\t 1.4.0  \n", "version")
	f.Add("", "variant:\n", "variant")
	f.Add("line 1: ", "variantx: fcos\nvariant : fcos", "variant")
	f.Fuzz(func(t *testing.T, detail, src, key string) {
		entries := yamlEntries(detail)
		if len(entries) == 0 {
			t.Fatalf("yamlEntries(%q) is empty", detail)
		}
		for _, e := range entries {
			if e.Kind != KindError || e.Line < 0 || e.Column != 0 || !strings.HasPrefix(e.Message, "yaml: ") {
				t.Fatalf("yamlEntries(%q) gave %+v", detail, e)
			}
		}
		line, col := topLevelValuePos([]byte(src), key)
		if line == 0 {
			if col != 0 {
				t.Fatalf("topLevelValuePos column %d without a line", col)
			}
			return
		}
		ls := strings.Split(src, "\n")
		if line > len(ls) || col < 1 || col > len(ls[line-1])+1 || !strings.HasPrefix(ls[line-1], key) {
			t.Fatalf("topLevelValuePos(%q, %q) = %d, %d", src, key, line, col)
		}
	})
}
