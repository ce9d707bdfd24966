package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/isobuild/isobuild/internal/output"
	"github.com/isobuild/isobuild/pkg/embed"
	"github.com/isobuild/isobuild/pkg/ignconfig"
	"github.com/isobuild/isobuild/pkg/installer"
	"github.com/isobuild/isobuild/pkg/iso"
	"github.com/isobuild/isobuild/pkg/pxe"
)

// libraryErrors are the errors the packages return for conditions with a
// coreos-installer text, with that text.
var libraryErrors = []struct {
	err    error
	compat string
}{
	{embed.ErrUnrecognized, "Unrecognized CoreOS ISO image."},
	{embed.ErrHasConfig, "This ISO image already has an embedded Ignition config; use -f to force."},
	{embed.ErrHasNetwork, "This ISO image already has embedded network settings; use -f to force."},
	{embed.ErrCustomized, "This ISO image is already customized; use -f to force."},
	{embed.ErrNoConfig, "No embedded Ignition config."},
	{embed.ErrNoNetwork, "No embedded network settings."},
	{embed.ErrNoKargAreas, "No karg embed areas found; old or corrupted CoreOS ISO image."},
	{embed.ErrEmptyKargAreas, "No karg embed areas found; corrupted CoreOS ISO image."},
	{embed.ErrLiveKargsFeature, "This OS image does not support customizing live kernel arguments."},
	{installer.ErrNetworkFeature, "This OS image does not support customizing network settings."},
	{installer.ErrInstallerFeature, "This OS image does not support customizing installer configuration."},
	{installer.ErrConsoleFeature, "This OS image does not support customizing the destination console."},
	{&embed.TooLargeError{Area: embed.Area{File: "IMAGES/IGNITION.IMG", Offset: 139264, Length: 262144}, Need: 300000},
		"Compressed initramfs is too large: 300000 > 262144 (embed area IMAGES/IGNITION.IMG at offset 139264)"},
	{&embed.KargsMismatchError{Want: "a b", Offset: 408522, Found: "a"}, "kargs don't match at all offsets! (expected 'a b', but offset 408522 has: 'a')"},
	{&embed.KargsTooLongError{Need: 1140, Size: 1139}, "kargs too large for area: 1140 vs 1139"},
	{&embed.ReplaceSyntaxError{Arg: "foo=bar"}, `"foo=bar": Wrong input, format should be: KEY=OLD=NEW`},
	{pxe.ErrNotLive, "not a CoreOS live initramfs image"},
	{pxe.ErrCustomized, "input is already customized"},
	{pxe.ErrNoConfig, "couldn't find Ignition config in archive"},
	{output.ErrTerminal, "Refusing to write binary data to terminal"},
	{&output.ExistsError{Path: "out.iso"}, "creating out.iso: File exists"},
	{iso.ErrIncomplete, "ISO image is incomplete"},
	{&installer.FileNameError{Input: "dir/"}, "missing filename in dir/"},
	{&installer.DuplicateNameError{Name: "a.nmconnection"}, "multiple input files named 'a.nmconnection'"},
	{&installer.ConflictError{Kind: "unit", Name: "pre-install-x.service"}, "config already specifies unit pre-install-x.service"},
	{&installer.InstallerConfigError{Input: "i.yaml", Err: errors.New("line 1: field x not found")}, "parsing installer config i.yaml: line 1: field x not found"},
	{&ignconfig.ParseError{Name: "d.ign", Problem: "config is empty", Err: ignconfig.ErrInvalid}, "parsing Ignition config d.ign: config is empty"},
}

// TestCompatibleTexts: wrapped in context, every library error prints as
// coreos-installer words it, and the context stays.
func TestCompatibleTexts(t *testing.T) {
	for _, tc := range libraryErrors {
		wrapped := fmt.Errorf("x.iso: %w", tc.err)
		if msg, _ := describe(wrapped); msg != "x.iso: "+tc.compat {
			t.Errorf("describe(%q) = %q, want %q", wrapped, msg, "x.iso: "+tc.compat)
		}
		// Errors joined with others (fmt.Errorf with two %w) too.
		joined := fmt.Errorf("%w (%w)", tc.err, errors.New("detail"))
		if msg, _ := describe(joined); msg != tc.compat+" (detail)" {
			t.Errorf("describe(%q) = %q", joined, msg)
		}
	}
	if msg, hint := describe(errors.New("something else")); msg != "something else" || hint != "" {
		t.Errorf("an unknown error became %q, hint %q", msg, hint)
	}
	if _, hint := describe(fmt.Errorf("x: %w", embed.ErrCustomized)); !strings.Contains(hint, "-f") {
		t.Errorf("no hint for an already customized image: %q", hint)
	}
}

// TestLibraryErrorStyle: library errors read like Go errors: lower case
// (but for acronyms and proper names), no final punctuation.
func TestLibraryErrorStyle(t *testing.T) {
	for _, tc := range libraryErrors {
		msg := tc.err.Error()
		words := strings.Fields(msg)
		first := []rune(words[0])
		properNoun := words[0] == "Ignition" || words[0] == "CoreOS" || words[0] == "Butane"
		if unicode.IsUpper(first[0]) && !(len(first) > 1 && unicode.IsUpper(first[1])) && !properNoun {
			t.Errorf("library error %q starts with a capital letter", msg)
		}
		if strings.ContainsAny(msg[len(msg)-1:], ".!;") {
			t.Errorf("library error %q ends in punctuation", msg)
		}
	}
}

// TestCompatibleTextsOnlyHere: coreos-installer's wording lives in this
// command's table, not in the libraries.
func TestCompatibleTextsOnlyHere(t *testing.T) {
	phrases := []string{
		"missing filename in", "multiple input files named", "config already specifies",
		"parsing installer config", "parsing Ignition config", "Compressed initramfs is too large",
		"kargs don't match", "kargs too large for area", "Wrong input, format should be",
		"File exists", "Refusing to write", "use -f to force", "This OS image does not support",
		"No embedded", "No karg embed areas found", "Unrecognized CoreOS ISO image",
		"ISO image is incomplete", "not a CoreOS live initramfs image", "input is already customized",
		"couldn't find Ignition config", "Boot media will automatically", "PXE configuration must include",
	}
	var files []string
	for _, dir := range []string{"../../pkg", "../../internal"} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) < 20 {
		t.Fatalf("found only %d library files", len(files))
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, ph := range phrases {
			if strings.Contains(string(src), ph) {
				t.Errorf("%s holds coreos-installer's text %q; it belongs in cmd/isobuild/compat.go", f, ph)
			}
		}
	}
}
