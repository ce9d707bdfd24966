// Package release names the OS release of a CoreOS live image from its ISO
// volume id, and tells which Ignition config spec versions the image's
// Ignition accepts.
//
// The build system names a live ISO's volume after the release it holds:
// fedora-coreos-38.20230718.3.0 for Fedora CoreOS (MAJOR.YYYYMMDD.STREAM.N),
// rhcos-46.82.202112161843-0 for older RHCOS (OCP.RHEL.YYYYMMDDHHMM-N),
// rhcos-9.6.20250523-0 for newer RHCOS, scos-9.0.20240102-0 for CentOS
// Stream CoreOS. The only thing this package takes from the version is the
// build day: the first 8-digit YYYYMMDD date that starts a dot-separated
// field.
//
// The Ignition version of an image lives in its root file system, which is
// costly to read, so the accepted spec versions are judged from the build
// day and the release days of Ignition: an image built before the Ignition
// release that added a spec version cannot accept it; an image built on or
// after that day may, and is given the benefit of the doubt. A config is
// refused only when it certainly cannot work.
package release

import (
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-semver/semver"
)

// Release is the OS release of a live image.
type Release struct {
	// OS is the product: "Fedora CoreOS", "RHCOS" or "CentOS Stream
	// CoreOS".
	OS string
	// ID is the product's prefix in volume ids: "fedora-coreos", "rhcos"
	// or "scos".
	ID string
	// Version is the rest of the volume id, such as "38.20230718.3.0".
	Version string
	// Built is the build day, at midnight UTC.
	Built time.Time
}

// String returns the release as in the volume id, such as
// "fedora-coreos-38.20230718.3.0".
func (r Release) String() string {
	if r.ID == "" {
		return "unknown release"
	}
	return r.ID + "-" + r.Version
}

// products maps volume id prefixes to OS names.
var products = []struct{ id, os string }{
	{"fedora-coreos", "Fedora CoreOS"},
	{"rhcos", "RHCOS"},
	{"scos", "CentOS Stream CoreOS"},
}

// maxVolumeID bounds the input: ISO 9660 volume ids have at most 32
// characters; the margin allows for other sources of the same names.
const maxVolumeID = 256

// FromVolumeID returns the release that a live ISO's volume id names. ok is
// false for a volume id of another product, or one without a valid build
// date.
func FromVolumeID(id string) (Release, bool) {
	if len(id) > maxVolumeID {
		return Release{}, false
	}
	for _, p := range products {
		version, found := strings.CutPrefix(id, p.id+"-")
		if !found {
			continue
		}
		built, ok := buildDay(version)
		if !ok {
			return Release{}, false
		}
		return Release{OS: p.os, ID: p.id, Version: version, Built: built}, true
	}
	return Release{}, false
}

// buildDay finds the first dot-separated field of version that starts with
// a valid YYYYMMDD date in the year 2000 or later.
func buildDay(version string) (time.Time, bool) {
	for field := range strings.SplitSeq(version, ".") {
		if len(field) < 8 || !allDigits(field[:8]) {
			continue
		}
		t, err := time.Parse("20060102", field[:8])
		if err != nil || t.Year() < 2000 {
			// Not a build day: CoreOS images are younger.
			continue
		}
		return t, true
	}
	return time.Time{}, false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// SpecRange is the range of Ignition config spec versions that an image
// may accept. Every Ignition that reads spec 3 reads all the stable spec 3
// versions up to its own newest, so the range has no gaps.
type SpecRange struct {
	// Min and Max are the oldest and newest stable spec versions the
	// image may accept; both are "" when it accepts none (built before
	// the first Ignition with spec 3) or the release is unknown.
	Min, Max string
	// Certain is true when no spec version newer than Max can be
	// accepted: the Ignition release that added the next one came out
	// after the image was built. It is false when the image was built
	// after the release of the newest spec version isobuild knows (a
	// newer one may have come out since), and for an unknown release.
	Certain bool
}

// String describes the range: "3.0.0 to at most 3.4.0" (the image may
// read less: its Ignition may be older than its build date allows),
// "3.0.0 to 3.5.0 or newer", "none" or "unknown".
func (s SpecRange) String() string {
	switch {
	case s.Max == "" && s.Certain:
		return "none"
	case s.Max == "":
		return "unknown"
	case !s.Certain:
		return s.Min + " to " + s.Max + " or newer"
	}
	return s.Min + " to at most " + s.Max
}

// newest returns the index of the newest table entry released on or before
// the build day, or -1.
func (r Release) newest() int {
	i := -1
	for j, e := range specTable {
		if !r.Built.Before(e.date) {
			i = j
		}
	}
	return i
}

// Specs returns the spec versions the image may accept. It is the zero
// SpecRange (String "unknown") for the zero Release.
func (r Release) Specs() SpecRange {
	if r.Built.IsZero() {
		return SpecRange{}
	}
	i := r.newest()
	if i < 0 {
		return SpecRange{Certain: true}
	}
	return SpecRange{Min: specTable[0].spec, Max: specTable[i].spec, Certain: i < len(specTable)-1}
}

// SpecError is returned by [Release.Check] for a config spec version that
// the image's Ignition cannot accept.
type SpecError struct {
	// Spec is the config's spec version.
	Spec string
	// Release is the image's release.
	Release Release
	// Max is the newest spec version the image may accept, "" for none.
	Max string
	// Next is the spec version after Max, and NextIgnition the Ignition
	// release that added it, after the image was built.
	Next, NextIgnition string
	// Needs is the first Ignition release that accepts Spec, or "" when
	// isobuild does not know it (experimental versions, versions newer
	// than every one in its table).
	Needs string
}

func (e *SpecError) Error() string {
	accepts := "at most " + e.Max
	if e.Max == "" {
		accepts = "no spec 3 version"
	}
	msg := fmt.Sprintf("Ignition spec %s is newer than %s accepts (%s: built %s, before Ignition %s added %s",
		e.Spec, e.Release, accepts, e.Release.Built.Format(time.DateOnly), e.NextIgnition, e.Next)
	if e.Needs != "" && e.Needs != e.NextIgnition {
		msg += fmt.Sprintf("; %s needs Ignition %s", e.Spec, e.Needs)
	}
	return msg + ")"
}

// Check returns nil if the image may accept Ignition configs of spec
// version v, and otherwise a *[SpecError] naming v, the newest version the
// image accepts, the release, and the Ignition release that added the
// version after that one.
//
// Only what is certain is refused. A stable version in the table is
// refused when its Ignition release came out after the image was built. An
// experimental version X-experimental is refused when the image predates
// the release of the newest stable version before X (Ignition starts the
// next experimental version when it stabilizes one), and a version newer
// than every one in the table when the image predates the newest one.
// Anything else (the zero Release, a version that does not parse, spec 2,
// a stable version between the table's) is left to config validation.
func (r Release) Check(v string) error {
	if r.Built.IsZero() {
		return nil
	}
	want, ok := parseSpec(v)
	if !ok {
		return nil
	}
	// need is the table entry whose release day the image must not
	// predate.
	need, needs := -1, ""
	for i, e := range specTable {
		s, _ := parseSpec(e.spec)
		c := s.Compare(*want)
		if c == 0 {
			need, needs = i, e.ignition
		}
		if c >= 0 {
			break
		}
		if want.PreRelease != "" || i == len(specTable)-1 {
			// The newest stable version below an experimental one,
			// or the newest of all for a version beyond the table.
			need = i
		}
	}
	if need < 0 || !r.Built.Before(specTable[need].date) {
		return nil
	}
	e := &SpecError{Spec: v, Release: r, Needs: needs}
	next := r.newest() + 1 // ≤ need: that entry's release postdates the build
	if next > 0 {
		e.Max = specTable[next-1].spec
	}
	e.Next, e.NextIgnition = specTable[next].spec, specTable[next].ignition
	return e
}

// maxSpecLen bounds version strings: real ones are at most 18 bytes.
const maxSpecLen = 64

// parseSpec parses a spec version MAJOR.MINOR.PATCH[-PRE] with the
// go-semver library that Ignition uses, accepting only the canonical
// spelling; a "-experimental" version sorts before its release.
func parseSpec(s string) (*semver.Version, bool) {
	if len(s) > maxSpecLen {
		return nil, false
	}
	v, err := semver.NewVersion(s)
	if err != nil || v.String() != s || v.Major < 0 || v.Minor < 0 || v.Patch < 0 || v.Metadata != "" {
		return nil, false
	}
	return v, true
}
