package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/isobuild/isobuild/internal/output"
	"github.com/isobuild/isobuild/pkg/butane"
)

const butaneLong = `Translate a Butane config into an Ignition config, as the butane command
does, with the Butane library built into isobuild. The commands that take
Ignition, like coreos-installer's ("isobuild iso customize --dest-ignition",
"isobuild iso ignition embed -i"), then need no other program.

The config is read from FILE, or from standard input when FILE is - or
missing. The Ignition config is written to standard output, or to -o FILE,
as the JSON that butane prints: compact, or with -p indented by two spaces,
and ending in a newline. Warnings and errors go to standard error, as
FILE:LINE:COLUMN: warning|error: message.

The options are butane's: -d/--files-dir, -s/--strict, -p/--pretty,
-c/--check, -o/--output and -r/--raw. Raw mode is always in effect: every
variant, openshift included, is translated to a plain Ignition config and
never wrapped in a MachineConfig, because a live ISO needs Ignition (use
butane itself for MachineConfig manifests). -r is accepted so that butane
command lines work unchanged; without it, an openshift config gets a note
on standard error saying so.

Unlike butane, -o never overwrites: it creates a new file, which appears only
once it is complete, and fails if the file exists (remove it or choose
another name). -o - writes to standard output. With -c nothing is written.

The variants and versions are those of butane v0.25.1: fcos, fiot, flatcar,
openshift and r4e, each with its experimental version.

Exit status: 0 on success; 1 when the config is invalid (with --strict, also
when it has warnings) or a file cannot be read or written; 2 for a usage
error.`

const butaneExample = `  # From standard input to standard output:
  isobuild butane < config.bu > config.ign

  # Local files (contents.local: NAME) from ./files, pretty-printed:
  isobuild butane -d ./files -p config.bu

  # Only check, failing on warnings too:
  isobuild butane --check --strict config.bu

  # The coreos-installer-compatible pipeline, without the butane binary:
  isobuild butane -o config.ign config.bu && isobuild iso customize \
      --dest-ignition config.ign --dest-device /dev/sda -o custom.iso base.iso`

// butaneOptions are the options of "isobuild butane".
type butaneOptions struct {
	filesDir                   string
	strict, pretty, raw, check bool
	out                        string
}

func newButaneCmd(s *streams) *cobra.Command {
	var o butaneOptions
	c := &cobra.Command{
		Use:     "butane [-d DIR] [--strict] [-p] [-o FILE] [FILE|-]",
		Short:   "Translate a Butane config to Ignition, like the butane command",
		Long:    butaneLong,
		Example: butaneExample,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError{fmt.Errorf("%s takes at most one input FILE, got %d arguments (see '%s --help')", cmd.CommandPath(), len(args), cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			input := "-"
			if len(args) == 1 {
				input = args[0]
			}
			return runButane(cmd.Context(), s, o, input)
		},
	}
	f := c.Flags()
	f.StringVarP(&o.filesDir, "files-dir", "d", "", "allow embedding local files from `DIR` (contents.local and the like are relative to it)")
	f.BoolVarP(&o.strict, "strict", "s", false, "fail on any warning")
	f.BoolVarP(&o.pretty, "pretty", "p", false, "indent the JSON output")
	f.BoolVarP(&o.raw, "raw", "r", false, "never wrap in a MachineConfig (always the case; accepted for butane compatibility)")
	f.BoolVarP(&o.check, "check", "c", false, "check the config without writing any output")
	addOutput(f, &o.out, "write to the new `FILE` instead of standard output (fails if FILE exists; - for stdout)")
	return c
}

// runButane translates the Butane config at input ("-" for stdin) and
// writes the Ignition config where o says.
func runButane(ctx context.Context, s *streams, o butaneOptions, input string) error {
	toFile := !o.check && o.out != "" && o.out != output.Stdout
	if toFile {
		// Before the input is read: an existing output fails at once.
		if err := output.CheckNew(o.out); err != nil {
			return err
		}
	}
	src, err := s.readInput(ctx, "Butane config", input)
	if err != nil {
		return err
	}
	data, notes, err := convertButane(input, src, o)
	printReport(s.err, notes)
	if err != nil || o.check {
		return err
	}
	if !toFile {
		_, err := s.out.Write(data)
		return err
	}
	// No Chmod: the file gets butane's 0644 less the umask.
	return output.CreateNew(o.out, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// errIgnitionInput is returned for an input that is an Ignition config
// rather than a Butane one.
var errIgnitionInput = errors.New("this looks like an Ignition config already, not a Butane config")

// convertButane translates src, read from input ("-" for stdin), into the
// bytes to write: the Ignition JSON, indented with o.pretty, and a final
// newline. notes is the text for standard error: butane's report (on
// failure, the warnings; the errors are in err) and, for an openshift
// config without -r, a note on raw mode.
func convertButane(input string, src []byte, o butaneOptions) (data []byte, notes string, err error) {
	name := displayName(input)
	ign, rep, err := butane.Translate(name, src, butane.Options{FilesDir: o.filesDir, Strict: o.strict})
	switch {
	case err == nil:
	case errors.Is(err, butane.ErrInvalid):
		if looksLikeIgnition(src) {
			return nil, "", hintedError{fmt.Errorf("%s: %w", name, errIgnitionInput),
				"use it as it is, with --ignition/--dest-ignition (isobuild build --ignition FILE, isobuild iso customize --dest-ignition FILE) or isobuild iso ignition embed -i FILE"}
		}
		// The error lists the report's errors; its warnings are
		// printed before it, as butane prints its whole report.
		return nil, warningsOnly(rep).String(), err
	case errors.Is(err, butane.ErrStrict):
		// The error lists the warnings.
		return nil, "", err
	default:
		// Such as an unusable -d directory.
		return nil, "", fmt.Errorf("translating %s: %w", name, err)
	}
	notes = rep.String()
	if variant, _, _ := butane.Header(src); !o.raw && variant == "openshift" {
		notes += fmt.Sprintf("%s: note: translated to plain Ignition, as with butane -r: isobuild writes no MachineConfig\n", name)
	}
	if o.pretty {
		var b bytes.Buffer
		// Indenting butane's compact output gives the bytes of its
		// pretty output (json.MarshalIndent indents Marshal's).
		if err := json.Indent(&b, ign, "", "  "); err != nil {
			return nil, "", fmt.Errorf("translating %s: indenting the Ignition config: %w", name, err)
		}
		ign = b.Bytes()
	}
	// butane ends its output with a newline.
	return append(ign, '\n'), notes, nil
}

// warningsOnly returns the warnings of rep.
func warningsOnly(rep butane.Report) butane.Report {
	w := butane.Report{File: rep.File}
	for _, e := range rep.Entries {
		if e.Kind == butane.KindWarning {
			w.Entries = append(w.Entries, e)
		}
	}
	return w
}

// looksLikeIgnition reports whether src is a JSON object with an
// "ignition" key and no "variant" key: an Ignition config, which Butane
// rejects for its missing variant.
func looksLikeIgnition(src []byte) bool {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(src, &top); err != nil {
		return false
	}
	_, ign := top["ignition"]
	_, variant := top["variant"]
	return ign && !variant
}
