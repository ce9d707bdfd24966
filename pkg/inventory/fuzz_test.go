package inventory

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks the parser on arbitrary input: it never panics, every
// error wraps ErrInvalid and names the file, and an accepted inventory has
// at least one host, every name valid and unique without regard to case,
// every var key usable in a template, no var map nil, no empty or
// multi-line karg and every token valid. Rendering {{ .Name }} gives the
// name back.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	for _, s := range []string{
		"hosts: [{name: a}]\n",
		"hosts:\n  - name: a\n    vars: {x: 1, y: \"\"}\n    kargs: [quiet]\n",
		"hosts:\n  - name: a\n  - name: A\n",
		"hosts:\n  - name: &n a\n  - name: *n\n",
		"a: &a [*a]\n",
		"hosts:\n  - name: a\n    vars:\n      <<: {x: y}\n",
		"hosts: [{name: a}]\n---\n",
		"hosts: !!binary aGk=\n",
		"{hosts: [{name: ., vars: {a: [b]}}]}",
		"hosts: [{name: a, token: 0123456789abcdef}]\n",
	} {
		f.Add([]byte(s))
	}
	name := mustTemplate(f, "{{ .Name }}")
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return // bounded memory: yaml.v3 builds a node per token
		}
		inv, err := Parse("f.yaml", data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error %q does not wrap ErrInvalid or name the file", err)
			}
			return
		}
		if len(inv.Hosts) == 0 {
			t.Fatal("accepted an inventory without hosts")
		}
		seen := map[string]bool{}
		for _, h := range inv.Hosts {
			if err := CheckName(h.Name); err != nil {
				t.Fatalf("accepted host name: %v", err)
			}
			if seen[strings.ToLower(h.Name)] {
				t.Fatalf("accepted duplicate host %q", h.Name)
			}
			seen[strings.ToLower(h.Name)] = true
			if h.Vars == nil {
				t.Fatalf("host %q: nil vars", h.Name)
			}
			for k := range h.Vars {
				if !validKey(k) {
					t.Fatalf("host %q: accepted var key %q", h.Name, k)
				}
			}
			if h.Token != "" && CheckToken(h.Token) != nil {
				t.Fatalf("host %q: accepted token %q", h.Name, h.Token)
			}
			for _, k := range h.Kargs {
				if strings.TrimSpace(k) == "" || strings.ContainsAny(k, "\n\r\x00") {
					t.Fatalf("host %q: accepted karg %q", h.Name, k)
				}
			}
			out, err := name.Render(h)
			if err != nil || string(out) != h.Name {
				t.Fatalf("rendering {{ .Name }} for %q: %q, %v", h.Name, out, err)
			}
		}
	})
}

func mustTemplate(t testing.TB, src string) *Template {
	t.Helper()
	tp, err := ParseTemplate("t", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return tp
}
