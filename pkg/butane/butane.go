// Package butane translates Butane YAML into Ignition JSON with the
// coreos/butane library (github.com/coreos/butane/config), and turns
// butane's report into entries that carry the position of each problem in
// the Butane source, ready to print as `file:line:col: kind: message`.
//
// In isobuild's pipeline, Butane → Ignition → initramfs → overlay → output,
// this package is the first step: the Ignition config it returns is
// validated by package ignconfig and put into an initramfs by package
// installer.
//
// Translation always uses butane's raw mode, so every variant, openshift
// included, yields a plain Ignition config and never a wrapper such as a
// MachineConfig: the result is embedded in a live ISO, where only Ignition
// reads it.
//
// Problems found in a config are report entries, not bare errors. Translate
// returns the report in every case, so that a caller can print warnings even
// when the translation succeeds, and returns an error wrapping [ErrInvalid]
// when the report holds errors or [ErrStrict] when strict mode turns
// warnings into a failure.
package butane

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/coreos/butane/config"
	"github.com/coreos/butane/config/common"
)

var (
	// ErrInvalid is wrapped by the error Translate returns when the Butane
	// config cannot be translated: bad YAML, an unknown variant or version,
	// or a report with errors.
	ErrInvalid = errors.New("invalid Butane config")

	// ErrStrict is wrapped by the error Translate returns in strict mode when
	// the translation produced warnings.
	ErrStrict = errors.New("strict mode: Butane config produced warnings")
)

// Options control a translation. The zero value rejects local file
// references. The Ignition output is always compact JSON.
type Options struct {
	// FilesDir is the directory that local file references (contents.local,
	// tree.local, ssh_authorized_keys_local, contents_local) are resolved
	// against, with butane's -d/--files-dir semantics: references may not
	// escape it. Empty means that any local reference is an error.
	FilesDir string
	// Strict makes Translate fail when the report holds any warning, like
	// butane's --strict.
	Strict bool
}

// supported lists the variants and versions that butane v0.25.1 registers
// (github.com/coreos/butane/config/config.go). It is used only to word the
// error for an unknown variant or version; TestSupportedMatchesButane keeps
// it in step with the library.
var supported = map[string][]string{
	"fcos":      {"1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0", "1.6.0", "1.7.0-experimental"},
	"fiot":      {"1.0.0", "1.1.0-experimental"},
	"flatcar":   {"1.0.0", "1.1.0", "1.2.0-experimental"},
	"openshift": {"4.8.0", "4.9.0", "4.10.0", "4.11.0", "4.12.0", "4.13.0", "4.14.0", "4.15.0", "4.16.0", "4.17.0", "4.18.0", "4.19.0", "4.20.0", "4.21.0-experimental"},
	"r4e":       {"1.0.0", "1.1.0", "1.2.0-experimental"},
}

// Translate translates the Butane config src into Ignition JSON. name is the
// file name used in messages; "-" and "" stand for standard input and are
// shown as "<stdin>".
//
// The supported variants and versions are those of butane v0.25.1: fcos,
// fiot, flatcar, openshift and r4e, each with its experimental version.
// openshift configs are translated in raw mode like the others, so the
// output is plain Ignition.
//
// The returned report is complete in every case. The error is nil on
// success; otherwise the Ignition output is nil and the error wraps
// [ErrInvalid] (report errors, YAML errors, unknown variant or version) or
// [ErrStrict] (warnings with Options.Strict); its text lists the entries that
// caused the failure. A FilesDir that is not a directory is an error that
// wraps neither.
func Translate(name string, src []byte, opts Options) ([]byte, Report, error) {
	if name == "" || name == "-" {
		name = "<stdin>"
	}
	rep := Report{File: name}

	if opts.FilesDir != "" {
		st, err := os.Stat(opts.FilesDir)
		if err != nil {
			return nil, rep, fmt.Errorf("open files directory: %w", err)
		}
		if !st.IsDir() {
			return nil, rep, fmt.Errorf("files directory %s is not a directory", opts.FilesDir)
		}
	}

	out, r, err := config.TranslateBytes(src, common.TranslateBytesOptions{
		TranslateOptions: common.TranslateOptions{FilesDir: opts.FilesDir},
		// Raw: the live ISO needs an Ignition config, never an
		// openshift MachineConfig wrapping one.
		Raw: true,
	})
	for _, e := range r.Entries {
		ent := Entry{Kind: KindWarning, Message: e.Message}
		if e.Kind.IsFatal() {
			ent.Kind = KindError
		}
		if e.Context.Len() > 0 {
			ent.Path = e.Context.String()
		}
		line, col := e.Marker.Start()
		ent.Line, ent.Column = int(line), int(col)
		rep.Entries = append(rep.Entries, ent)
	}
	if err != nil {
		// Errors that butane reports before it has a report (YAML,
		// variant, version) become entries too, so that the report alone
		// explains every failure.
		if !rep.hasErrors() {
			rep.Entries = append(rep.Entries, entriesForError(err, src)...)
		}
		return nil, rep, &reportError{sentinel: ErrInvalid, lines: rep.lines(KindError)}
	}
	if rep.hasErrors() {
		// Butane returns an error whenever its report is fatal; this is a
		// safety net in case a future version does not.
		return nil, rep, &reportError{sentinel: ErrInvalid, lines: rep.lines(KindError)}
	}
	if opts.Strict && len(rep.Entries) > 0 {
		return nil, rep, &reportError{sentinel: ErrStrict, lines: rep.lines(KindWarning)}
	}
	return out, rep, nil
}

// entriesForError converts an error that butane returned without report
// entries into entries, with positions where they can be found.
func entriesForError(err error, src []byte) []Entry {
	var unmarshal common.ErrUnmarshal
	var unknown common.ErrUnknownVersion
	switch {
	case errors.As(err, &unmarshal):
		return yamlEntries(unmarshal.Detail)
	case strings.HasPrefix(err.Error(), "yaml: "):
		// The second YAML pass (into the version's struct) returns the
		// decoder's error as it is.
		return yamlEntries(err.Error())
	case errors.Is(err, common.ErrNoVariant):
		return []Entry{{Kind: KindError, Path: "$.variant", Message: "variant must be specified"}}
	case errors.Is(err, common.ErrInvalidVersion):
		line, col := topLevelValuePos(src, "version")
		return []Entry{{Kind: KindError, Path: "$.version", Line: line, Column: col,
			Message: "version must be a semantic version such as 1.4.0"}}
	case errors.As(err, &unknown):
		// Point at the variant when butane does not know it, else at
		// the version.
		key := "version"
		if _, ok := supported[unknown.Variant]; !ok {
			key = "variant"
		}
		line, col := topLevelValuePos(src, key)
		return []Entry{{Kind: KindError, Path: "$." + key, Line: line, Column: col,
			Message: unknownVersionMessage(unknown.Variant, unknown.Version.String())}}
	case errors.Is(err, common.ErrRhcosVariantUnsupported):
		line, col := topLevelValuePos(src, "variant")
		return []Entry{{Kind: KindError, Path: "$.variant", Line: line, Column: col, Message: err.Error()}}
	default:
		return []Entry{{Kind: KindError, Message: err.Error()}}
	}
}

func unknownVersionMessage(variant, version string) string {
	versions, ok := supported[variant]
	if !ok {
		names := make([]string, 0, len(supported))
		for v := range supported {
			names = append(names, v)
		}
		sort.Strings(names)
		return fmt.Sprintf("unknown variant %q (version %s); supported variants: %s",
			variant, version, strings.Join(names, ", "))
	}
	return fmt.Sprintf("variant %s has no version %s; supported versions: %s",
		variant, version, strings.Join(versions, ", "))
}

// yamlLineRe matches the "line N: message" parts of gopkg.in/yaml.v3 errors.
var yamlLineRe = regexp.MustCompile(`(?m)^\s*line (\d+): (.*)$`)

// yamlEntries turns a yaml.v3 error text into entries. The decoder reports a
// line but no column, so Column stays 0. Syntax errors look like
// "yaml: line 3: mapping values are not allowed in this context"; type
// errors list one "line N: ..." per problem after "yaml: unmarshal errors:".
func yamlEntries(detail string) []Entry {
	body := strings.TrimPrefix(detail, "yaml: ")
	var out []Entry
	for _, m := range yamlLineRe.FindAllStringSubmatch(body, -1) {
		line, _ := strconv.Atoi(m[1])
		out = append(out, Entry{Kind: KindError, Line: line, Message: "yaml: " + m[2]})
	}
	if len(out) == 0 {
		out = append(out, Entry{Kind: KindError, Message: "yaml: " + body})
	}
	return out
}

// topLevelValuePos finds the value of a top-level block-style key such as
// "variant: fcos" and returns its 1-based line and column, or 0, 0. Butane
// itself gives no position for these keys.
func topLevelValuePos(src []byte, key string) (int, int) {
	for i, line := range strings.Split(string(src), "\n") {
		rest, ok := strings.CutPrefix(line, key)
		if !ok {
			continue
		}
		trimmed := strings.TrimLeft(rest, " \t")
		if !strings.HasPrefix(trimmed, ":") {
			continue
		}
		value := strings.TrimLeft(trimmed[1:], " \t")
		col := len(line) - len(value) + 1
		if strings.TrimSpace(value) == "" {
			col = 1
		}
		return i + 1, col
	}
	return 0, 0
}
