package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/isobuild/isobuild/pkg/butane"
	"github.com/isobuild/isobuild/pkg/embed"
	"github.com/isobuild/isobuild/pkg/installer"
	"github.com/isobuild/isobuild/pkg/release"
)

// The check in this file keeps "isobuild build" from embedding a config
// that the base image's Ignition cannot read: such an image fails at first
// boot, far from the cause. The image's release and build day come from its
// volume id (package release); what cannot be known from them is let
// through. The coreos-installer-compatible commands embed any config, as
// coreos-installer does.

// butaneVariants records the variant of each Butane file that build
// translated (buildOptions.variants, filled by translate), by path as
// given, so that a refusal can name a version of the same variant. A nil
// map records nothing.
type butaneVariants map[string]string

func (b butaneVariants) note(path string, src []byte) {
	if b == nil {
		return
	}
	if variant, _, ok := butane.Header(src); ok {
		b[path] = variant
	}
}

// specInput is a config that ends up in the image, with the option that
// gave it.
type specInput struct {
	option string
	path   string // for Butane inputs: the path given, to find its variant
	butane bool
	in     installer.Input
}

// specInputs lists the user configs of a build: the live config, the
// --live-ignition configs, and the destination configs, first those of
// --dest-ignition, then the translated --dest-butane ones, in the order
// buildInputs appends them. The installed system runs the Ignition of the
// same release, since the installer writes the image's own OS.
func specInputs(o buildOptions, config *installer.Input, install installer.Options) []specInput {
	var out []specInput
	if config != nil {
		if o.butane != "" {
			out = append(out, specInput{"--butane", o.butane, true, *config})
		} else {
			out = append(out, specInput{"--ignition", o.ignition, false, *config})
		}
	}
	for _, in := range install.LiveIgnition {
		out = append(out, specInput{option: "--live-ignition", in: in})
	}
	nIgn := len(o.install.destIgnition)
	for i, in := range install.DestIgnition {
		if j := i - nIgn; j >= 0 && j < len(o.destButane) {
			out = append(out, specInput{"--dest-butane", o.destButane[j], true, in})
		} else {
			out = append(out, specInput{option: "--dest-ignition", in: in})
		}
	}
	return out
}

// checkSpecs refuses, unless --skip-spec-check is given, a build with a
// config whose Ignition spec version is newer than the base image's
// Ignition can read. Every such config is named. A config that cannot be
// read or does not parse is left to the engine's validation, and so is an
// image whose volume id names no known release.
func checkSpecs(im *embed.Image, o buildOptions, config *installer.Input, install installer.Options) error {
	if o.skipSpecCheck {
		return nil
	}
	rel, ok := release.FromVolumeID(im.ISO.Primary().VolumeID)
	if !ok {
		return nil
	}
	var errs []error
	for _, si := range specInputs(o, config, install) {
		if si.in.Err != nil {
			continue
		}
		v, ok := specVersion(si.in.Data)
		if !ok {
			continue
		}
		var se *release.SpecError
		if err := rel.Check(v); !errors.As(err, &se) {
			continue
		}
		variant, known := o.variants[si.path]
		errs = append(errs, &specCheckError{option: si.option, name: si.in.Name, err: se,
			advice: specAdvice(se.Max, si.butane, variant, known, rel)})
	}
	return errors.Join(errs...)
}

// specCheckError is checkSpecs's error for one config.
type specCheckError struct {
	option, name string
	err          *release.SpecError
	advice       string
}

func (e *specCheckError) Error() string {
	return fmt.Sprintf("%s %s: %v; %s", e.option, e.name, e.err, e.advice)
}

func (e *specCheckError) Unwrap() error { return e.err }

const skipAdvice = "--skip-spec-check if the image's Ignition is newer than its date suggests"

// specAdvice says what to write instead of a config newer than max.
func specAdvice(max string, isButane bool, variant string, variantKnown bool, rel release.Release) string {
	if variant == "openshift" {
		// The image's own OpenShift release is the natural choice,
		// when Butane has it and the image reads its output.
		if v := openshiftVersion(rel); v != "" {
			if spec, ok := butane.SpecOf(variant, v); ok && rel.Check(spec) == nil {
				return fmt.Sprintf("use Butane \"variant: openshift\" \"version: %s\" (the image's OpenShift release), or %s", v, skipAdvice)
			}
		}
	}
	switch {
	case max == "":
		return "the image reads no Ignition spec 3 config; use " + skipAdvice
	case !isButane:
		return fmt.Sprintf("write the config for Ignition spec %s or older, or use %s", max, skipAdvice)
	case !variantKnown:
		if v, ok := butane.NewestVersion("fcos", max); ok {
			return fmt.Sprintf("use a Butane version whose output is Ignition spec %s or older (\"variant: fcos\" \"version: %s\"), or %s", max, v, skipAdvice)
		}
		return fmt.Sprintf("use a Butane version whose output is Ignition spec %s or older, or %s", max, skipAdvice)
	}
	if v, ok := butane.NewestVersion(variant, max); ok {
		return fmt.Sprintf("use Butane \"variant: %s\" \"version: %s\", or %s", variant, v, skipAdvice)
	}
	return fmt.Sprintf("no stable version of Butane variant %s produces Ignition spec %s or older; use another variant, or %s", variant, max, skipAdvice)
}

// specVersion returns the ignition.version of an Ignition config, or ok
// false when data is not a JSON object with one.
func specVersion(data []byte) (string, bool) {
	var c struct {
		Ignition struct {
			Version string `json:"version"`
		} `json:"ignition"`
	}
	if json.Unmarshal(data, &c) != nil || c.Ignition.Version == "" {
		return "", false
	}
	return c.Ignition.Version, true
}

// imageRelease is what inspect shows of the OS release of a live image.
// For a volume id that names no known release every text field is
// "unknown".
type imageRelease struct {
	OS      string `json:"os"`              // "Fedora CoreOS", "RHCOS", "CentOS Stream CoreOS"
	Release string `json:"release"`         // "fedora-coreos-38.20230718.3.0"
	Built   string `json:"built,omitempty"` // build day, "2023-07-18"
	// IgnitionSpecs describes the Ignition config spec versions the
	// image may accept: "3.0.0 to at most 3.4.0", "3.0.0 to 3.5.0 or newer"
	// (built after the newest release isobuild knows), "none".
	IgnitionSpecs string `json:"ignition_specs"`
	// SpecMin and SpecMax bound the range ("" when none is known);
	// SpecsCertain says that no version above SpecMax is accepted (the
	// image predates the Ignition release that added the next one). The
	// image may still read less than SpecMax.
	SpecMin      string `json:"ignition_spec_min,omitempty"`
	SpecMax      string `json:"ignition_spec_max,omitempty"`
	SpecsCertain bool   `json:"newer_specs_refused"`
}

// releaseOf describes the release named by a live ISO's volume id.
func releaseOf(volumeID string) imageRelease {
	r, ok := release.FromVolumeID(volumeID)
	if !ok {
		return imageRelease{OS: "unknown", Release: "unknown", IgnitionSpecs: "unknown"}
	}
	s := r.Specs()
	return imageRelease{
		OS: r.OS, Release: r.String(), Built: r.Built.Format(time.DateOnly),
		IgnitionSpecs: s.String(), SpecMin: s.Min, SpecMax: s.Max, SpecsCertain: s.Certain,
	}
}

// specConflicts lists the configs in an inspect report whose spec version
// the image's release cannot read, each as "what: the reason".
func specConflicts(volumeID string, r *inspectReport) []string {
	rel, ok := release.FromVolumeID(volumeID)
	if !ok || r.LiveConfig == nil {
		return nil
	}
	var out []string
	check := func(what string, s *inspectSummary) {
		if s == nil {
			return
		}
		if err := rel.Check(s.Version); err != nil {
			out = append(out, fmt.Sprintf("%s: %v", what, err))
		}
	}
	check("live config", r.LiveConfig.Summary)
	for i, m := range r.LiveConfig.Merged {
		check(fmt.Sprintf("live merge %d", i+1), m.Summary)
	}
	if r.Installer != nil && r.Installer.DestConfig != nil {
		d := r.Installer.DestConfig
		check("dest config "+d.Path, d.Summary)
		for i, m := range d.Merged {
			check(fmt.Sprintf("dest merge %d", i+1), m.Summary)
		}
	}
	return out
}

// compatSpecWarnings are the warnings of the compatible commands, which
// embed any config as coreos-installer does, for configs the image's
// release cannot read.
func compatSpecWarnings(im *embed.Image, opts installer.Options) []string {
	rel, ok := release.FromVolumeID(im.ISO.Primary().VolumeID)
	if !ok {
		return nil
	}
	var out []string
	for _, group := range []struct {
		option, effect string
		inputs         []installer.Input
	}{
		{"--dest-ignition", "the installed system will fail at its first boot", opts.DestIgnition},
		{"--live-ignition", "the live system will fail at boot", opts.LiveIgnition},
	} {
		for _, in := range group.inputs {
			v, ok := specVersion(in.Data)
			if !ok || in.Err != nil {
				continue
			}
			if err := rel.Check(v); err != nil {
				out = append(out, fmt.Sprintf("Warning: %s %s: %v: %s. Use an older spec (isobuild butane with an older Butane version), or 'isobuild build', which refuses such configs.", group.option, in.Name, err, group.effect))
			}
		}
	}
	return out
}

// openshiftVersion returns the OpenShift release of an RHCOS image as a
// Butane openshift version, "4.16.0" for rhcos-416.94.202406251923-0, or
// "" when its version does not name one (newer RHCOS versions are RHEL's,
// such as 9.6.20250523-0).
func openshiftVersion(rel release.Release) string {
	if rel.ID != "rhcos" {
		return ""
	}
	first, _, _ := strings.Cut(rel.Version, ".")
	if len(first) < 2 || len(first) > 3 || first[0] != '4' || strings.Trim(first, "0123456789") != "" {
		return ""
	}
	minor := strings.TrimLeft(first[1:], "0")
	if minor == "" {
		minor = "0"
	}
	return "4." + minor + ".0"
}
