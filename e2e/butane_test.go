//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// The expectation for an isobuild build image is computed from the Butane
// file itself, read here with yaml.v3: not with the project's Butane
// translator (pkg/butane), whose output is what the boot checks. Only the
// Butane features below are understood; a file that uses anything else
// (users, links, remote or compressed contents, drop-ins, masks, kernel
// arguments, ...) is refused, so that no part of it goes unchecked.
//
// The struct lists exactly the accepted keys: the decoder runs with
// KnownFields, so every other key is an error.
type butaneDoc struct {
	Variant string `yaml:"variant"`
	Version string `yaml:"version"`
	Storage struct {
		Directories []struct {
			Path string `yaml:"path"`
			Mode *int   `yaml:"mode"`
		} `yaml:"directories"`
		Files []struct {
			Path     string `yaml:"path"`
			Mode     *int   `yaml:"mode"`
			Contents *struct {
				Inline *string `yaml:"inline"`
				Local  *string `yaml:"local"`
			} `yaml:"contents"`
		} `yaml:"files"`
	} `yaml:"storage"`
	Systemd struct {
		Units []struct {
			Name     string  `yaml:"name"`
			Enabled  *bool   `yaml:"enabled"`
			Contents *string `yaml:"contents"`
		} `yaml:"units"`
	} `yaml:"systemd"`
}

// butaneVersions are the fcos spec versions whose Ignition output (spec 3.0
// to 3.3) Debian's Ignition 2.14 in the test initramfs accepts.
var butaneVersions = []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"}

// expectTreeFromButane computes what Ignition's files stage must write into
// an empty root for the Butane file src, whose "local:" contents are in
// filesDir: each directory and file with its mode and contents, each unit
// file, the preset file that enables or disables units, and Ignition's
// result file.
func expectTreeFromButane(src []byte, filesDir string) (wantTree, error) {
	var doc butaneDoc
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return wantTree{}, fmt.Errorf("Butane features the boot test does not check (or bad YAML): %w", err)
	}
	t := wantTree{Entries: map[string]wantEntry{}, Contents: map[string][]byte{}}
	if doc.Variant != "fcos" {
		return t, fmt.Errorf("Butane variant %q: the boot test understands fcos only", doc.Variant)
	}
	if !slices.Contains(butaneVersions, doc.Version) {
		return t, fmt.Errorf("Butane version %q: the test initramfs's Ignition takes fcos %s", doc.Version, strings.Join(butaneVersions, ", "))
	}
	add := func(p string, e wantEntry) error {
		if !strings.HasPrefix(p, "/") || filepath.Clean(p) != p {
			return fmt.Errorf("path %q: want an absolute, clean path", p)
		}
		return t.add(p, e)
	}
	for _, d := range doc.Storage.Directories {
		mode := uint32(0o755) // Ignition's default for directories
		if d.Mode != nil {
			mode = uint32(*d.Mode)
		}
		if err := add(d.Path, wantEntry{Type: 'd', Mode: mode, Size: -1, Why: "Butane storage.directories"}); err != nil {
			return t, err
		}
	}
	for _, f := range doc.Storage.Files {
		var data []byte
		if c := f.Contents; c != nil {
			switch {
			case c.Inline != nil && c.Local != nil:
				return t, fmt.Errorf("%s: both inline and local contents", f.Path)
			case c.Inline != nil:
				data = []byte(*c.Inline)
			case c.Local != nil:
				if !filepath.IsLocal(*c.Local) {
					return t, fmt.Errorf("%s: local %q is not inside the files directory", f.Path, *c.Local)
				}
				var err error
				if data, err = os.ReadFile(filepath.Join(filesDir, *c.Local)); err != nil {
					return t, fmt.Errorf("%s: %w", f.Path, err)
				}
			}
		}
		mode := uint32(0o644) // Ignition's default for files
		if f.Mode != nil {
			mode = uint32(*f.Mode)
		}
		if err := add(f.Path, fileWant(mode, 0, 0, data, "Butane storage.files")); err != nil {
			return t, err
		}
		t.Contents[f.Path] = data
	}
	// Ignition writes each unit to /etc/systemd/system with mode 0644 and
	// records enabled: true/false as "enable NAME"/"disable NAME" lines, in
	// config order, in its preset file.
	var preset strings.Builder
	for _, u := range doc.Systemd.Units {
		if u.Name == "" || strings.Contains(u.Name, "/") {
			return t, fmt.Errorf("unit name %q", u.Name)
		}
		if strings.Contains(u.Name, "@") && u.Enabled != nil {
			return t, fmt.Errorf("unit %s: enabling template units is not supported by the boot test", u.Name)
		}
		if u.Contents != nil {
			p := "/etc/systemd/system/" + u.Name
			if err := t.addFile(p, 0o644, 0, 0, []byte(*u.Contents), "Butane systemd.units"); err != nil {
				return t, err
			}
		}
		if u.Enabled != nil {
			verb := "disable"
			if *u.Enabled {
				verb = "enable"
			}
			fmt.Fprintf(&preset, "%s %s\n", verb, u.Name)
		}
	}
	return t, t.finish(preset.String(), "Butane systemd.units enabled")
}
