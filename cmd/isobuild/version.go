package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/isobuild/isobuild/pkg/ignconfig"
)

// versionInfo is what "isobuild version" reports: enough to name the build
// in a bug report and to know which configs it reads.
type versionInfo struct {
	Version  string   `json:"version"`
	Revision string   `json:"revision,omitempty"`
	Time     string   `json:"revision_time,omitempty"`
	Modified bool     `json:"modified,omitempty"`
	Go       string   `json:"go"`
	Platform string   `json:"platform"`
	Butane   string   `json:"butane_library"`
	Ignition string   `json:"ignition_library"`
	Specs    []string `json:"ignition_specs"`
}

const (
	butaneModule   = "github.com/coreos/butane"
	ignitionModule = "github.com/coreos/ignition/v2"
)

// buildVersion reads the version of the binary from its build info: the
// main module's version (a tag, a pseudo-version that go build derives from
// the VCS, or "(devel)"), the VCS revision, and the library versions.
func buildVersion(bi *debug.BuildInfo, ok bool) versionInfo {
	v := versionInfo{Version: "(devel)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		Butane: "unknown", Ignition: "unknown", Specs: ignconfig.Versions()}
	if !ok {
		return v
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		v.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		switch d.Path {
		case butaneModule:
			v.Butane = d.Version
		case ignitionModule:
			v.Ignition = d.Version
		}
	}
	return v
}

func (v versionInfo) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "isobuild %s\n", v.Version)
	if v.Revision != "" {
		rev := v.Revision
		var notes []string
		if v.Time != "" {
			notes = append(notes, v.Time)
		}
		if v.Modified {
			notes = append(notes, "with uncommitted changes")
		}
		if len(notes) > 0 {
			rev += " (" + strings.Join(notes, ", ") + ")"
		}
		fmt.Fprintf(&b, "  revision:         %s\n", rev)
	} else {
		fmt.Fprintf(&b, "  revision:         unknown (not built from a git checkout, or with -buildvcs=false)\n")
	}
	fmt.Fprintf(&b, "  go:               %s %s\n", v.Go, v.Platform)
	fmt.Fprintf(&b, "  butane library:   %s %s\n", butaneModule, v.Butane)
	fmt.Fprintf(&b, "  ignition library: %s %s\n", ignitionModule, v.Ignition)
	fmt.Fprintf(&b, "  Ignition specs:   %s\n", strings.Join(v.Specs, ", "))
	return b.String()
}

func currentVersion() versionInfo { return buildVersion(debug.ReadBuildInfo()) }

func newVersionCmd(s *streams) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "version [--json]",
		Short: "Print the version of isobuild, its Butane and Ignition libraries and the Ignition specs it reads",
		Long: `Print the version of this isobuild binary (the module version, or
"(devel)", and the VCS revision it was built from), the versions of the
Butane and Ignition libraries built into it, and the Ignition config spec
versions it accepts. "isobuild --version" prints the same. Give this output
with a bug report.`,
		Example: `  isobuild version
  isobuild --version
  isobuild version --json | jq -r .revision`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			v := currentVersion()
			if asJSON {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			_, err := fmt.Fprint(s.out, v)
			return err
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func init() {
	cobra.AddTemplateFunc("isobuildVersion", func() string { return currentVersion().String() })
}
