package butane

import (
	"fmt"
	"strings"
)

// Entry kinds used in [Entry.Kind].
const (
	KindError   = "error"
	KindWarning = "warning"
)

// Entry is one report item with its position in the Butane source. Line and
// Column are 1-based; they are 0 when the position is unknown (Column alone
// is 0 when only the line is known, as for YAML syntax errors).
type Entry struct {
	Kind    string // KindError or KindWarning
	Path    string // JSON-style path into the Butane document, such as $.storage.files.0.mode; "" if none
	Line    int
	Column  int
	Message string
}

// format renders e as `file:line:col: kind: message ($.path)`, leaving out
// the parts that are unknown.
func (e Entry) format(file string) string {
	var b strings.Builder
	b.WriteString(file)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	fmt.Fprintf(&b, ": %s: %s", e.Kind, e.Message)
	if e.Path != "" {
		fmt.Fprintf(&b, " (%s)", e.Path)
	}
	return b.String()
}

// Report lists the entries of one translation, in the order butane found
// them.
type Report struct {
	File    string // the name given to Translate, used as the prefix of every line
	Entries []Entry
}

// String prints every entry on its own line as
// `file:line:col: warning|error: message ($.path)`. The position is left out
// when unknown (`file: warning: message`), and so is the path. Every line,
// including the last, ends in a newline; an empty report prints "".
func (r Report) String() string {
	var b strings.Builder
	for _, e := range r.Entries {
		b.WriteString(e.format(r.File))
		b.WriteByte('\n')
	}
	return b.String()
}

// hasErrors reports whether any entry is an error.
func (r Report) hasErrors() bool { return r.has(KindError) }

func (r Report) has(kind string) bool {
	for _, e := range r.Entries {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

// lines formats the entries of the given kind, one string per entry.
func (r Report) lines(kind string) []string {
	var out []string
	for _, e := range r.Entries {
		if e.Kind == kind {
			out = append(out, e.format(r.File))
		}
	}
	return out
}

// reportError is the error Translate returns for a report with errors (or,
// in strict mode, warnings). Its text is the sentinel's text followed by the
// formatted entries of the kind that caused the failure.
type reportError struct {
	sentinel error
	lines    []string
}

func (e *reportError) Error() string {
	switch len(e.lines) {
	case 0:
		return e.sentinel.Error()
	case 1:
		return e.sentinel.Error() + ": " + e.lines[0]
	default:
		return e.sentinel.Error() + ":\n  " + strings.Join(e.lines, "\n  ")
	}
}

func (e *reportError) Unwrap() error { return e.sentinel }
