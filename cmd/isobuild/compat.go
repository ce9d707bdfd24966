package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/isobuild/isobuild/internal/output"
	"github.com/isobuild/isobuild/pkg/butane"
	"github.com/isobuild/isobuild/pkg/embed"
	"github.com/isobuild/isobuild/pkg/ignconfig"
	"github.com/isobuild/isobuild/pkg/installer"
	"github.com/isobuild/isobuild/pkg/iso"
	"github.com/isobuild/isobuild/pkg/pxe"
)

// This file is the one place that holds coreos-installer's wording. The
// libraries return Go-style errors and warnings as data; scripts written
// for coreos-installer match its exact texts, so the command line prints
// those for the conditions coreos-installer knows, and adds hints of its
// own.

// errorRule describes one library error: how to find it in an error's
// tree, the text coreos-installer prints for it (empty to keep the
// library's), and a hint for the user (empty for none).
type errorRule struct {
	match  func(error) bool
	compat func(error) string
	hint   string
}

// is matches a sentinel error.
func is(target error) func(error) bool {
	return func(err error) bool { return err == target }
}

// as matches an error of type *T.
func as[T error](err error) bool {
	_, ok := err.(T)
	return ok
}

// text returns a fixed compatible text.
func text(s string) func(error) string {
	return func(error) string { return s }
}

const (
	forceHint   = "pass -f to replace the existing customizations, or start from the pristine image (isobuild iso reset)"
	featureHint = "the image's coreos/features.json does not list this feature: use a newer live image, or drop the option"
)

// errorRules maps library errors to coreos-installer's texts and to hints.
var errorRules = []errorRule{
	{match: is(embed.ErrUnrecognized), compat: text("Unrecognized CoreOS ISO image."),
		hint: "use a Fedora CoreOS, RHCOS or SCOS live ISO (one with images/ignition.img or coreos/igninfo.json)"},
	{match: func(err error) bool {
		fe, ok := err.(*iso.FormatError)
		return ok && errors.Is(fe, iso.ErrNotISO)
	}, compat: func(err error) string {
		fe := err.(*iso.FormatError)
		if errors.Is(fe, io.ErrUnexpectedEOF) {
			return fmt.Sprintf("not an ISO 9660 image: too short to hold a volume descriptor at offset %d (sector %d)", fe.Offset, fe.Offset/iso.SectorSize)
		}
		return fmt.Sprintf("not an ISO 9660 image: no CD001 signature (unknown descriptor ID) at offset %d (sector %d)", fe.Offset, fe.Offset/iso.SectorSize)
	}},
	{match: is(iso.ErrIncomplete), compat: text("ISO image is incomplete"),
		hint: "the file is shorter than its ISO9660 header says: was the download or copy cut short?"},
	{match: is(embed.ErrHasConfig), compat: text("This ISO image already has an embedded Ignition config; use -f to force."), hint: forceHint},
	{match: is(embed.ErrHasNetwork), compat: text("This ISO image already has embedded network settings; use -f to force."), hint: forceHint},
	{match: is(embed.ErrCustomized), compat: text("This ISO image is already customized; use -f to force."), hint: forceHint},
	{match: is(embed.ErrNoConfig), compat: text("No embedded Ignition config.")},
	{match: is(embed.ErrNoNetwork), compat: text("No embedded network settings.")},
	{match: is(embed.ErrNoKargAreas), compat: text("No karg embed areas found; old or corrupted CoreOS ISO image."),
		hint: "this image predates kernel-argument embed areas; use a newer live ISO"},
	{match: is(embed.ErrEmptyKargAreas), compat: text("No karg embed areas found; corrupted CoreOS ISO image.")},
	{match: is(embed.ErrLiveKargsFeature), compat: text("This OS image does not support customizing live kernel arguments.")},
	{match: is(installer.ErrNetworkFeature), compat: text("This OS image does not support customizing network settings."), hint: featureHint},
	{match: is(installer.ErrInstallerFeature), compat: text("This OS image does not support customizing installer configuration."), hint: featureHint},
	{match: is(installer.ErrConsoleFeature), compat: text("This OS image does not support customizing the destination console."), hint: featureHint},
	{match: as[*installer.FileNameError], compat: func(err error) string {
		return "missing filename in " + err.(*installer.FileNameError).Input
	}},
	{match: as[*installer.DuplicateNameError], compat: func(err error) string {
		return fmt.Sprintf("multiple input files named '%s'", err.(*installer.DuplicateNameError).Name)
	}},
	{match: as[*installer.ConflictError], compat: func(err error) string {
		e := err.(*installer.ConflictError)
		return fmt.Sprintf("config already specifies %s %s", e.Kind, e.Name)
	}},
	{match: as[*installer.InstallerConfigError], compat: func(err error) string {
		e := err.(*installer.InstallerConfigError)
		return fmt.Sprintf("parsing installer config %s: %v", e.Input, e.Err)
	}},
	{match: as[*ignconfig.ParseError], compat: func(err error) string {
		e := err.(*ignconfig.ParseError)
		return fmt.Sprintf("parsing Ignition config %s: %s", e.Name, e.Problem)
	}},
	{match: as[*embed.TooLargeError], compat: func(err error) string {
		e := err.(*embed.TooLargeError)
		return fmt.Sprintf("Compressed initramfs is too large: %d > %d (embed area %s at offset %d)", e.Need, e.Area.Length, e.Area.File, e.Area.Offset)
	}, hint: "isobuild build grows the area when the config needs more room (it writes a new image, with images/ignition.img moved to the end); or move large files to remote sources (contents.source: https://...)"},
	{match: as[*embed.KargsMismatchError], compat: func(err error) string {
		e := err.(*embed.KargsMismatchError)
		want, found := clipDiff(e.Want, e.Found)
		return fmt.Sprintf("kargs don't match at all offsets! (expected '%s', but offset %d has: '%s')", want, e.Offset, found)
	}},
	{match: as[*embed.KargsTooLongError], compat: func(err error) string {
		e := err.(*embed.KargsTooLongError)
		return fmt.Sprintf("kargs too large for area: %d vs %d", e.Need, e.Size)
	}},
	{match: as[*embed.ReplaceSyntaxError], compat: func(err error) string {
		return fmt.Sprintf("%q: Wrong input, format should be: KEY=OLD=NEW", err.(*embed.ReplaceSyntaxError).Arg)
	}},
	{match: is(pxe.ErrNotLive), compat: text("not a CoreOS live initramfs image"),
		hint: "pxe customize takes a CoreOS live initramfs (the release's live-initramfs image, or the initrd that 'isobuild iso extract pxe' writes)"},
	{match: is(pxe.ErrCustomized), compat: text("input is already customized")},
	{match: as[*pxe.DecodeError],
		hint: "the pxe commands take a CoreOS live initramfs (the release's live-initramfs image, or the initrd that 'isobuild iso extract pxe' writes) or an archive that 'pxe ... wrap' made"},
	{match: is(pxe.ErrNoConfig), compat: text("couldn't find Ignition config in archive")},
	{match: is(output.ErrTerminal), compat: text("Refusing to write binary data to terminal")},
	{match: as[*output.ExistsError], compat: func(err error) string {
		return fmt.Sprintf("creating %s: File exists", err.(*output.ExistsError).Path)
	}, hint: "isobuild never overwrites an output: choose another path, or remove the file first"},
	{match: is(butane.ErrStrict), hint: "fix the warnings above, or drop --strict"},
	{match: is(errNoNmstate),
		hint: "install nmstate, or convert the file with 'nmstatectl gc' elsewhere and pass the keyfiles with --network-keyfile"},
}

// describe returns the message to print for err, with coreos-installer's
// wording for every error in its tree that has one, and the hint of the
// outermost error that has one.
func describe(err error) (msg, hint string) {
	msg = err.Error()
	walk(err, func(e error) {
		if h, ok := e.(hintedError); ok && hint == "" {
			hint = h.hint
		}
		for _, r := range errorRules {
			if !r.match(e) {
				continue
			}
			if r.compat != nil {
				msg = strings.Replace(msg, e.Error(), r.compat(e), 1)
			}
			if hint == "" {
				hint = r.hint
			}
		}
	})
	return msg, hint
}

// walk calls f for err and every error it wraps, outermost first.
func walk(err error, f func(error)) {
	if err == nil {
		return
	}
	f(err)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		walk(u.Unwrap(), f)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walk(e, f)
		}
	}
}

// pxeKargsNotice tells a PXE user which kernel arguments a customized
// initramfs needs.
const pxeKargsNotice = "PXE configuration must include kernel arguments:\n\t%s\n"

// printWarnings prints each warning once, in coreos-installer's wording.
// Ignition warnings follow the command's style: coreos-installer's for the
// compatible commands, the Butane report's ("file: warning: ...") for build.
func printWarnings(w io.Writer, compatible bool, warnings []installer.Warning) {
	for _, wn := range warnings {
		switch wn.Kind {
		case installer.IgnitionWarning:
			if compatible {
				fmt.Fprintf(w, "Warning parsing %s: %s\n", wn.Input, wn.Detail)
			} else {
				fmt.Fprintf(w, "%s: warning: %s\n", wn.Input, wn.Detail)
			}
		case installer.ConsoleKarg:
			fmt.Fprintf(w, "Note: consider using \"--dest-console %s\" instead of \"--dest-karg-append console=%s\"\nto configure both kernel and bootloader consoles.\n", wn.Detail, wn.Detail)
		case installer.NoDestDevice:
			fmt.Fprintf(w, "Warning: a destination config was given but no destination device (--dest-device, or dest-device in an installer config):\nthe installer will start at boot and fail for lack of a target disk.\n")
		case installer.AutoInstall:
			fmt.Fprintf(w, "Boot media will automatically install to %s without confirmation.\n", wn.Detail)
		case installer.AutoRun:
			fmt.Fprintf(w, "Boot media will automatically run installer.\n")
		default:
			fmt.Fprintf(w, "Warning: %s\n", wn)
		}
	}
}

// errNoNmstate is returned for --network-nmstate when nmstatectl is
// missing.
var errNoNmstate = errors.New("--network-nmstate needs the nmstatectl command (package nmstate), which is not on PATH")

// clipDiff returns want and found, read from karg areas, for a
// coreos-installer text that quotes them with ' ': control bytes escaped
// (no escape sequence reaches the terminal) and, when long, cut to a
// window around the first byte where they differ, so that the difference
// shows.
func clipDiff(want, found string) (string, string) {
	i := 0
	for i < len(want) && i < len(found) && want[i] == found[i] {
		i++
	}
	start := max(0, i-32)
	cut := func(s string) string {
		end := min(len(s), start+64)
		out := strings.Trim(strconv.Quote(s[start:end]), `"`)
		if start > 0 {
			out = "…" + out
		}
		if end < len(s) {
			out += "…"
		}
		return out
	}
	return cut(want), cut(found)
}
