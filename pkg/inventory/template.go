package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"text/template"
)

// MaxRenderSize bounds the Butane config that a template renders for one
// host (a template can repeat itself with range).
const MaxRenderSize = 64 << 20

// ErrTemplate is wrapped by every error about a template or its rendering.
var ErrTemplate = errors.New("invalid template")

// Data is what a template sees for one host: {{ .Name }} and
// {{ .Vars.KEY }}.
type Data struct {
	Name string
	Vars map[string]string
}

// Template is a parsed Butane template. It is safe for concurrent use.
type Template struct {
	name string
	t    *template.Template
}

// ParseTemplate parses src as a Go text/template; name names it in errors
// (the Butane file's name, so that positions read NAME:LINE:COL).
func ParseTemplate(name string, src []byte) (*Template, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, &TemplateError{Err: errors.New(strings.TrimPrefix(err.Error(), "template: "))}
	}
	return &Template{name: name, t: t}, nil
}

// TemplateError is an error of a template, or of its rendering for Host
// (then non-empty). It wraps ErrTemplate.
type TemplateError struct {
	Host string
	// Key is the var that the host lacks, for a missing var.
	Key string
	// Pos is the place in the template, as NAME:LINE:COL, when known.
	Pos string
	Err error
}

func (e *TemplateError) Error() string {
	switch {
	case e.Key != "" && e.Pos != "":
		return fmt.Sprintf("%s: host %q has no var %q: %v", e.Pos, e.Host, e.Key, e.Err)
	case e.Host != "" && e.Pos != "":
		return fmt.Sprintf("%s: rendering for host %q: %v", e.Pos, e.Host, e.Err)
	case e.Host != "":
		return fmt.Sprintf("rendering for host %q: %v", e.Host, e.Err)
	}
	return e.Err.Error()
}

// Unwrap returns ErrTemplate and the underlying error.
func (e *TemplateError) Unwrap() []error { return []error{ErrTemplate, e.Err} }

// execErrorRE splits text/template's execution errors, "template: POS:
// executing "NAME" at <NODE>: MSG".
var execErrorRE = regexp.MustCompile(`^template: (.*?): executing ".*?" at <.*?>: (.*)$`)

// missingKeyRE is text/template's message for a missing map key.
var missingKeyRE = regexp.MustCompile(`^map has no entry for key "(.*)"$`)

// Render renders the template for h.
func (t *Template) Render(h Host) ([]byte, error) {
	vars := h.Vars
	if vars == nil {
		vars = map[string]string{}
	}
	var buf bytes.Buffer
	err := t.t.Execute(&limitWriter{w: &buf, n: MaxRenderSize}, Data{Name: h.Name, Vars: vars})
	if err == nil {
		return buf.Bytes(), nil
	}
	if errors.Is(err, errTooLarge) {
		return nil, &TemplateError{Host: h.Name, Err: errTooLarge}
	}
	e := &TemplateError{Host: h.Name, Err: errors.New(strings.TrimPrefix(err.Error(), "template: "))}
	if m := execErrorRE.FindStringSubmatch(err.Error()); m != nil {
		e.Pos, e.Err = m[1], errors.New(m[2])
		if k := missingKeyRE.FindStringSubmatch(m[2]); k != nil {
			e.Key = k[1]
			have := slices.Sorted(maps.Keys(vars))
			if len(have) == 0 {
				e.Err = errors.New("the host has no vars")
			} else {
				e.Err = fmt.Errorf("its vars are %s", strings.Join(have, ", "))
			}
		}
	}
	return nil, e
}

var errTooLarge = fmt.Errorf("the rendered config is larger than %d MiB", MaxRenderSize>>20)

// limitWriter fails writes beyond n bytes in all.
type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if len(p) > l.n {
		return 0, errTooLarge
	}
	l.n -= len(p)
	return l.w.Write(p)
}
