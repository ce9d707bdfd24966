package butane

import (
	"encoding/json"
	"sync"

	"github.com/coreos/go-semver/semver"
	"gopkg.in/yaml.v3"
)

// Each Butane variant and version translates to one fixed Ignition spec
// version (fcos 1.5.0 to 3.4.0, for example). The pairs are not written down
// here: specTable asks the library, translating the smallest config of every
// version in supported and reading ignition.version from the result, once
// per process.

// probeExtra is what the smallest valid config of a variant needs besides
// variant and version: openshift configs must name a machine config and
// its role.
var probeExtra = map[string]string{
	"openshift": "metadata:\n  name: probe\n  labels:\n    machineconfiguration.openshift.io/role: worker\n",
}

var (
	specOnce sync.Once
	specMap  map[string]map[string]string // variant → Butane version → spec
)

func specTable() map[string]map[string]string {
	specOnce.Do(func() {
		specMap = make(map[string]map[string]string, len(supported))
		for variant, versions := range supported {
			m := make(map[string]string, len(versions))
			for _, version := range versions {
				src := "variant: " + variant + "\nversion: " + version + "\n" + probeExtra[variant]
				out, _, err := Translate("", []byte(src), Options{})
				if err != nil {
					continue
				}
				var cfg struct {
					Ignition struct {
						Version string `json:"version"`
					} `json:"ignition"`
				}
				if json.Unmarshal(out, &cfg) == nil && cfg.Ignition.Version != "" {
					m[version] = cfg.Ignition.Version
				}
			}
			specMap[variant] = m
		}
	})
	return specMap
}

// SpecOf returns the Ignition spec version that Butane version of variant
// translates to, such as "3.4.0" for fcos 1.5.0. ok is false for a variant
// or version that the Butane library does not support.
func SpecOf(variant, version string) (spec string, ok bool) {
	spec, ok = specTable()[variant][version]
	return spec, ok
}

// NewestVersion returns the newest stable (not experimental) Butane version
// of variant whose Ignition output has a spec version of at most maxSpec,
// such as "1.5.0" for fcos and "3.4.0". ok is false when the variant is
// unknown, maxSpec is not a version, or no stable version of the variant
// targets a spec that old.
func NewestVersion(variant, maxSpec string) (version string, ok bool) {
	max, valid := parseVersion(maxSpec)
	if !valid {
		return "", false
	}
	var best *semver.Version
	for v, spec := range specTable()[variant] {
		bv, parsed := parseVersion(v)
		sv, valid := parseVersion(spec)
		if !parsed || bv.PreRelease != "" || !valid || sv.Compare(*max) > 0 {
			continue
		}
		if !ok || bv.Compare(*best) > 0 {
			version, best, ok = v, bv, true
		}
	}
	return version, ok
}

// Header returns the variant and version fields of a Butane config, or ok
// false when src is not a YAML mapping with both. It does not check that the
// library supports them.
func Header(src []byte) (variant, version string, ok bool) {
	var h struct {
		Variant string `yaml:"variant"`
		Version string `yaml:"version"`
	}
	if yaml.Unmarshal(src, &h) != nil || h.Variant == "" || h.Version == "" {
		return "", "", false
	}
	return h.Variant, h.Version, true
}

// parseVersion parses a version MAJOR.MINOR.PATCH[-PRE] with the
// go-semver library that Ignition uses, accepting only the canonical
// spelling (no leading zeros, no "v", no build metadata).
func parseVersion(s string) (*semver.Version, bool) {
	v, err := semver.NewVersion(s)
	if err != nil || v.String() != s || v.Major < 0 || v.Minor < 0 || v.Patch < 0 || v.Metadata != "" {
		return nil, false
	}
	return v, true
}
