// Package ignconfig parses and validates Ignition configs with the
// coreos/ignition library (github.com/coreos/ignition/v2/config), the same
// code that Ignition runs at boot.
//
// In isobuild's pipeline, Butane → Ignition → initramfs → overlay → output,
// this package checks every Ignition config on its way into an initramfs:
// the user's (translated by package butane, or given as JSON) and those that
// package installer generates, which it serializes with [Marshal].
//
// [Parse] accepts every spec version the library knows, from 3.0.0 up to the
// newest one, including the experimental version the library parses. It
// follows coreos-installer's rules for user-supplied configs: problems that
// make Ignition reject a config are a [*ParseError] that names the JSON path
// and, when known, the line and column of each problem; unknown keys are
// only warnings of the form "unused key: $.a.b".
//
// A parsed config keeps its own spec version: [Config.Compact] re-serialises
// it without converting it to a newer spec or wrapping it in another config.
package ignconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/coreos/ignition/v2/config"
	ignerrors "github.com/coreos/ignition/v2/config/shared/errors"
	v3_0 "github.com/coreos/ignition/v2/config/v3_0"
	v3_1 "github.com/coreos/ignition/v2/config/v3_1"
	v3_2 "github.com/coreos/ignition/v2/config/v3_2"
	v3_3 "github.com/coreos/ignition/v2/config/v3_3"
	v3_4 "github.com/coreos/ignition/v2/config/v3_4"
	v3_5 "github.com/coreos/ignition/v2/config/v3_5"
	v3_6exp "github.com/coreos/ignition/v2/config/v3_6_experimental"
	typesexp "github.com/coreos/ignition/v2/config/v3_6_experimental/types"
)

var (
	// ErrUnsupportedVersion is wrapped by Parse errors for a config whose
	// ignition.version is missing, malformed, or not a version the library
	// supports (such as the 2.x specs).
	ErrUnsupportedVersion = errors.New("unsupported config version")

	// ErrInvalid is wrapped by Parse errors for input that is not JSON, does
	// not match the config schema, or fails Ignition's validation.
	ErrInvalid = errors.New("invalid Ignition config")
)

// versionParsers holds the exact-version parser of every spec version the
// library supports, oldest first. Each returns the config as the types of
// its own version and fails with ErrUnknownVersion for any other version.
var versionParsers = []func([]byte) (any, error){
	func(b []byte) (any, error) { c, _, err := v3_0.Parse(b); return c, err },
	func(b []byte) (any, error) { c, _, err := v3_1.Parse(b); return c, err },
	func(b []byte) (any, error) { c, _, err := v3_2.Parse(b); return c, err },
	func(b []byte) (any, error) { c, _, err := v3_3.Parse(b); return c, err },
	func(b []byte) (any, error) { c, _, err := v3_4.Parse(b); return c, err },
	func(b []byte) (any, error) { c, _, err := v3_5.Parse(b); return c, err },
	func(b []byte) (any, error) { c, _, err := v3_6exp.Parse(b); return c, err },
}

// Config is a parsed, validated Ignition config.
type Config struct {
	// Version is the config's spec version as written in ignition.version,
	// for example "3.4.0".
	Version string
	// Raw holds the input bytes as given to Parse (not copied).
	Raw []byte
	// Warnings lists the non-fatal problems Ignition found, such as
	// "unused key: $.a.b" for a key the spec does not know.
	Warnings []string

	// typed is the config as the types of its own spec version.
	typed any
	// latest is the config translated to the newest spec version the
	// library knows, as config.Parse returns it; Summary reads it.
	latest typesexp.Config
}

// Parse parses raw as an Ignition config of any spec version the library
// supports, validates it, and returns it. name is the file name used in
// messages; "-" and "" stand for standard input and are shown as "<stdin>".
//
// Errors are a [*ParseError] that reads "Ignition config <name>: <problem>",
// for example
//
//	Ignition config dest.ign: $.storage.files.0.path: path not absolute (line 1, column 60)
//	Ignition config x.ign: unsupported config version: 2.2.0
//
// and wraps [ErrUnsupportedVersion] or [ErrInvalid]. Unknown keys are not
// errors; they are returned in Config.Warnings.
func Parse(name string, raw []byte) (*Config, error) {
	if name == "" || name == "-" {
		name = "<stdin>"
	}
	// config.Parse validates the config at its own version (the report
	// positions refer to raw) and then translates it up to the newest
	// version; the translated config is kept for Summary.
	translated, rpt, err := config.Parse(raw)
	var problems, warnings []string
	for _, e := range rpt.Entries {
		line, col := e.Marker.Start()
		if line == 0 && e.Marker.StartP != nil {
			// The library fills in line and column only for offsets
			// inside the input; "unexpected end of JSON input" points
			// just past its end.
			line, col = lineColumn(raw, e.Marker.StartP.Index)
		}
		path := ""
		if e.Context.Len() > 0 {
			path = e.Context.String()
		}
		if e.Kind.IsFatal() {
			problems = append(problems, describe(path, e.Message, int(line), int(col)))
		} else if strings.HasPrefix(e.Message, "unused key ") && path != "" {
			warnings = append(warnings, "unused key: "+path)
		} else {
			warnings = append(warnings, describe(path, e.Message, int(line), int(col)))
		}
	}
	if err != nil {
		switch {
		case errors.Is(err, ignerrors.ErrUnknownVersion), errors.Is(err, ignerrors.ErrInvalidVersion):
			return nil, &ParseError{Name: name, Problem: versionProblem(raw), Err: ErrUnsupportedVersion}
		case len(problems) > 0:
			return nil, &ParseError{Name: name, Problem: strings.Join(problems, "; "), Err: ErrInvalid}
		case errors.Is(err, ignerrors.ErrEmpty):
			return nil, &ParseError{Name: name, Problem: "config is empty", Err: ErrInvalid}
		default:
			return nil, &ParseError{Name: name, Problem: err.Error(), Err: ErrInvalid}
		}
	}
	if len(problems) > 0 {
		// The library fails whenever its report is fatal; guard anyway.
		return nil, &ParseError{Name: name, Problem: strings.Join(problems, "; "), Err: ErrInvalid}
	}

	c := &Config{Raw: raw, Warnings: warnings, latest: translated}
	var stub versionStub
	if err := json.Unmarshal(raw, &stub); err != nil {
		return nil, &ParseError{Name: name, Problem: err.Error(), Err: ErrInvalid}
	}
	c.Version = stub.Ignition.Version
	for _, parse := range versionParsers {
		typed, err := parse(raw)
		if errors.Is(err, ignerrors.ErrUnknownVersion) {
			continue
		}
		if err != nil {
			// config.Parse accepted raw, so its own version's
			// parser must too.
			return nil, &ParseError{Name: name, Problem: err.Error(), Err: ErrInvalid}
		}
		c.typed = typed
		return c, nil
	}
	return nil, &ParseError{Name: name, Problem: versionProblem(raw), Err: ErrUnsupportedVersion}
}

// versionStub matches the only field needed to name a config's version.
// encoding/json matches names case-insensitively, as Ignition does.
type versionStub struct {
	Ignition struct {
		Version string `json:"version"`
	} `json:"ignition"`
}

// versionProblem words the version error for raw, which is valid JSON.
func versionProblem(raw []byte) string {
	var stub versionStub
	_ = json.Unmarshal(raw, &stub) // a type mismatch leaves Version empty
	if stub.Ignition.Version == "" {
		return ErrUnsupportedVersion.Error() + ": ignition.version is missing"
	}
	return ErrUnsupportedVersion.Error() + ": " + stub.Ignition.Version
}

// describe renders one report entry as "$.path: message (line L, column C)",
// leaving out the root path "$" and an unknown position.
func describe(path, msg string, line, col int) string {
	var b strings.Builder
	if path != "" && path != "$" {
		b.WriteString(path)
		b.WriteString(": ")
	}
	b.WriteString(msg)
	switch {
	case line > 0 && col > 0:
		fmt.Fprintf(&b, " (line %d, column %d)", line, col)
	case line > 0:
		fmt.Fprintf(&b, " (line %d)", line)
	}
	return b.String()
}

// lineColumn converts a byte offset into raw to a 1-based line and column;
// an offset at or past the end gives the position just after the last byte.
func lineColumn(raw []byte, off int64) (int64, int64) {
	if off < 0 {
		return 0, 0
	}
	off = min(off, int64(len(raw)))
	before := raw[:off]
	line := int64(bytes.Count(before, []byte("\n"))) + 1
	col := off - int64(bytes.LastIndexByte(before, '\n'))
	return line, col
}

// ParseError is the error Parse returns for a config that Ignition would
// refuse.
type ParseError struct {
	// Name names the config, as given to Parse.
	Name string
	// Problem describes what is wrong: every problem with its JSON path and
	// position, or the unsupported version.
	Problem string
	// Err is ErrInvalid or ErrUnsupportedVersion (or, for a config that
	// could not be read, what reading it gave).
	Err error
}

func (e *ParseError) Error() string {
	return "Ignition config " + e.Name + ": " + e.Problem
}

func (e *ParseError) Unwrap() error { return e.Err }

// Compact returns the config re-serialised as compact JSON in its own spec
// version, with no wrapper and no trailing newline, as [Marshal] writes it.
// Keys the spec does not know are dropped.
func (c *Config) Compact() ([]byte, error) {
	if c == nil || c.typed == nil {
		return nil, errors.New("compact Ignition config: config was not produced by Parse")
	}
	b, err := Marshal(c.typed)
	if err != nil {
		return nil, fmt.Errorf("compact Ignition config: %w", err)
	}
	return b, nil
}

// Marshal serializes a config held in the types of one spec version (the
// github.com/coreos/ignition/v2/config/v3_*/types packages) as compact JSON
// with no trailing newline. Nulls and empty objects, which Ignition reads
// like absent members, are left out; object keys come out sorted, and "<",
// ">" and "&" are not escaped, so that unit files stay readable.
func Marshal(typed any) ([]byte, error) {
	// The ignition types mark struct fields omitempty, which encoding/json
	// ignores for structs, so a plain Marshal is full of {} values; decode
	// generically and prune them.
	b, err := json.Marshal(typed)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // keep integers such as modes exact
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(pruneEmptyObjects(v)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

// pruneEmptyObjects removes object members whose value is null or an object
// that is empty, or becomes empty once pruned. Ignition decodes configs with
// encoding/json, for which such members mean the same as absent ones (the
// spec 3.0 types, for one, lack omitempty on ignition.config.replace.source).
// Array elements are never removed, so that indices keep their meaning.
func pruneEmptyObjects(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			child = pruneEmptyObjects(child)
			if m, ok := child.(map[string]any); (ok && len(m) == 0) || child == nil {
				delete(t, k)
				continue
			}
			t[k] = child
		}
		return t
	case []any:
		for i, child := range t {
			t[i] = pruneEmptyObjects(child)
		}
		return t
	default:
		return v
	}
}
