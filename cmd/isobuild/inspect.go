package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/isobuild/isobuild/internal/imagefile"
	"github.com/isobuild/isobuild/pkg/embed"
	"github.com/isobuild/isobuild/pkg/ignconfig"
	"github.com/isobuild/isobuild/pkg/installer"
	"github.com/isobuild/isobuild/pkg/iso"
)

type inspectDescriptor struct {
	Type         string `json:"type"`
	Offset       int64  `json:"offset"`
	SystemID     string `json:"system_id,omitempty"`
	VolumeID     string `json:"volume_id,omitempty"`
	BootSystemID string `json:"boot_system_id,omitempty"`
}

type inspectMember struct {
	Path   string `json:"path"`
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
}

type inspectKargs struct {
	Source  string           `json:"source"`
	Size    int              `json:"size"`
	Default string           `json:"default"`
	Current string           `json:"current"`
	Areas   []embed.KargArea `json:"areas"`
}

type inspectReport struct {
	File          string              `json:"file"`
	Size          int64               `json:"size"`
	VolumeID      string              `json:"volume_id"`
	SystemID      string              `json:"system_id"`
	Descriptors   []inspectDescriptor `json:"descriptors"`
	ElTorito      bool                `json:"el_torito"`
	BootCatalog   *int64              `json:"boot_catalog_offset,omitempty"`
	InitrdArea    embed.Area          `json:"initrd_area"`
	InitrdUsed    int64               `json:"initrd_area_used"`
	Members       []inspectMember     `json:"embedded_files"`
	Kargs         *inspectKargs       `json:"kargs"`
	Features      installer.Features  `json:"features"`
	HasLiveConfig bool                `json:"has_live_config"`
	// Release is the OS release named by the volume id, with the
	// Ignition spec versions it accepts.
	Release imageRelease `json:"release"`
	// SpecConflicts names the embedded configs whose Ignition spec is
	// newer than the release's Ignition reads: such an image fails at
	// boot (the live config) or at the installed system's first boot.
	SpecConflicts []string `json:"spec_conflicts,omitempty"`

	// What the embedded live config does (describeLive): LiveConfig is
	// nil without a live config, and Installer nil when the live config
	// does not run the installer.
	LiveConfig *inspectLive      `json:"live_config,omitempty"`
	Installer  *inspectInstaller `json:"installer,omitempty"`

	// configs holds the decoded configs for --show-config.
	configs *shownConfigs
}

func newInspectCmd(s *streams) *cobra.Command {
	var asJSON, showConfig bool
	c := &cobra.Command{
		Use:   "inspect [--json] [--show-config] ISO",
		Short: "Show the boot records, embed areas and customizations of a live ISO",
		Long: `Print what a CoreOS live ISO carries: volume id, volume descriptors and
El Torito boot record, the initrd embed area (offset, size, bytes used), the
files embedded in it, the karg embed areas with the default and current
kernel arguments, the OS feature flags, and the OS release named by the
volume id with the Ignition config spec versions its Ignition accepts (from
the build date; "isobuild build" refuses newer configs). --json prints the
same as JSON.

For a live ISO without embed areas (Flatcar, other distributions) it prints
the volume descriptors and trees (primary, Rock Ridge, Joliet, ISO
9660:1999, twin trees of a partition offset), the El Torito boot images,
the MBR, GPT and APM, every boot entry found in the ISOLINUX/SYSLINUX and
GRUB configurations (kernel, initramfs files, arguments), how isobuild
customizes the image, and, for an image isobuild customized, what it
changed and the live config it added.

When the image carries a live Ignition config (config.ign), the report goes
on to say what it does. For installer media (made with --dest-device,
--dest-ignition, --dest-butane, --installer-config, ...) that is the disk
the installer writes, the settings of each installer config file in
/etc/coreos/installer.d (in the order the installer applies them, a later
file overriding an earlier one), the destination config (its version and
the users, files, units, disks, filesystems... it creates, and the same for
each config it merges), the pre- and post-install hooks and the CA
certificates. For every live config it lists what the live system gets,
and the configs merged into it. Inline contents are decoded; remote
sources are named, never fetched.

--show-config prints the embedded configs instead, as indented JSON: the
live config, each inline config it merges, the destination config and the
configs that merges, each after a line "# <which>". With --json they come
as one object {"live": ..., "live_merged": [...], "dest": ...,
"dest_merged": [...]}.`,
		Example: `  # What a customized image carries, and what its installer will do:
  isobuild inspect installer.iso

  # The disk an installer image writes, for a script:
  isobuild inspect --json installer.iso | jq -r .installer.dest_device

  # The destination config an installer image will give the installed system:
  isobuild inspect --show-config --json installer.iso | jq .dest

  # Every embedded config, readable:
  isobuild inspect --show-config installer.iso`,
		Args: exactArgs(1, "one ISO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if coreos, err := s.hasEmbedAreas(cmd.Context(), args[0]); err == nil && !coreos {
				rep, err := inspectLiveISO(cmd.Context(), s, args[0])
				switch {
				case err != nil:
					return err
				case showConfig && rep.live == nil:
					return hintedError{fmt.Errorf("%s: no Ignition config: the image is not customized by isobuild", args[0]), "isobuild build --butane FILE adds one (Flatcar images)"}
				case showConfig:
					return printConfigs(s.out, rep.live, asJSON)
				case asJSON:
					return printLiveISOJSON(s.out, rep)
				}
				return printLiveISO(s.out, rep)
			}
			rep, err := inspect(cmd.Context(), s, args[0])
			if err != nil {
				return err
			}
			if showConfig {
				return printConfigs(s.out, rep, asJSON)
			}
			if asJSON {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			return printInspect(s.out, rep)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().BoolVar(&showConfig, "show-config", false, "print the embedded Ignition configs (live and destination) as JSON instead of the report")
	return c
}

func inspect(ctx context.Context, s *streams, path string) (*inspectReport, error) {
	f, im, err := s.openImage(ctx, path, imagefile.Read)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := im.ISO.Size()
	pvd := im.ISO.Primary()
	rep := &inspectReport{
		File: path, Size: size, VolumeID: pvd.VolumeID, SystemID: pvd.SystemID,
		InitrdArea: im.Initrd, InitrdUsed: im.InitrdUsed, Members: []inspectMember{},
	}
	for _, d := range im.ISO.Descriptors() {
		rep.Descriptors = append(rep.Descriptors, inspectDescriptor{
			Type: descriptorType(d.Type), Offset: d.Offset, SystemID: d.SystemID, VolumeID: d.VolumeID, BootSystemID: d.BootSystemID,
		})
	}
	if lba, ok := im.ISO.ElTorito(); ok {
		rep.ElTorito = true
		off := int64(lba) * iso.SectorSize
		rep.BootCatalog = &off
	}
	members := im.Members()
	for _, name := range members.Names() {
		sum := sha256.Sum256(members[name])
		rep.Members = append(rep.Members, inspectMember{Path: name, Size: len(members[name]), SHA256: hex.EncodeToString(sum[:])})
	}
	rep.Release = releaseOf(pvd.VolumeID)
	var live []byte
	live, rep.HasLiveConfig = im.Config()
	if rep.HasLiveConfig {
		rep.describeLive(live)
		rep.SpecConflicts = specConflicts(pvd.VolumeID, rep)
	}
	if im.Kargs != nil {
		cur, err := im.CurrentKargs()
		if err != nil {
			return nil, err
		}
		rep.Kargs = &inspectKargs{Source: im.Kargs.Source, Size: im.Kargs.Size, Default: im.Kargs.Default, Current: cur, Areas: im.Kargs.Areas}
	}
	if rep.Features, err = im.Features(); err != nil {
		return nil, err
	}
	return rep, nil
}

func descriptorType(t byte) string {
	switch t {
	case iso.TypeBootRecord:
		return "boot"
	case iso.TypePrimary:
		return "primary"
	case iso.TypeSupplementary:
		return "supplementary"
	case iso.TypePartition:
		return "partition"
	}
	return fmt.Sprintf("unknown(%d)", t)
}

// descriptorList names the volume descriptors, for inspect.
func descriptorList(descs []inspectDescriptor) string {
	var types []string
	for _, d := range descs {
		t := d.Type
		if d.BootSystemID != "" {
			t += " (" + d.BootSystemID + ")"
		}
		types = append(types, t)
	}
	return strings.Join(types, ", ")
}

func printInspect(out io.Writer, r *inspectReport) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "File:\t%s (%d bytes)\n", r.File, r.Size)
	fmt.Fprintf(w, "Volume ID:\t%s\n", r.VolumeID)
	fmt.Fprintf(w, "System ID:\t%s\n", r.SystemID)
	fmt.Fprintf(w, "Descriptors:\t%s\n", descriptorList(r.Descriptors))
	if r.BootCatalog != nil {
		fmt.Fprintf(w, "El Torito:\tboot catalog at offset %d\n", *r.BootCatalog)
	} else {
		fmt.Fprintf(w, "El Torito:\tnone\n")
	}
	a := r.InitrdArea
	fmt.Fprintf(w, "Initrd embed area:\t%s, offset %d, %d bytes, %d used (%.1f%%)\n", a.File, a.Offset, a.Length, r.InitrdUsed, 100*float64(r.InitrdUsed)/float64(a.Length))
	if len(r.Members) == 0 {
		fmt.Fprintf(w, "Embedded files:\tnone\n")
	}
	for i, m := range r.Members {
		label := ""
		if i == 0 {
			label = "Embedded files:"
		}
		fmt.Fprintf(w, "%s\t%s (%d bytes, sha256 %s)\n", label, m.Path, m.Size, m.SHA256[:16])
	}
	if r.Kargs == nil {
		fmt.Fprintf(w, "Karg embed areas:\tnone\n")
	} else {
		k := r.Kargs
		for i, ar := range k.Areas {
			label := ""
			if i == 0 {
				label = "Karg embed areas:"
			}
			where := ar.File
			if where == "" {
				where = "(legacy header)"
			}
			fmt.Fprintf(w, "%s\toffset %d, %d bytes, %s, from %s\n", label, ar.Offset, ar.Length, where, k.Source)
		}
		fmt.Fprintf(w, "Default kargs:\t%s\n", k.Default)
		fmt.Fprintf(w, "Current kargs:\t%s\n", k.Current)
	}
	var feats []string
	if r.Features.InstallerConfig {
		feats = append(feats, "installer-config")
	}
	if r.Features.LiveInitrdNetwork {
		feats = append(feats, "live-initrd-network")
	}
	if r.Features.InstallerConfigDirectives["console"] {
		feats = append(feats, "dest-console")
	}
	if len(feats) == 0 {
		feats = append(feats, "none")
	}
	fmt.Fprintf(w, "Features:\t%s\n", strings.Join(feats, ", "))
	if r.Release.OS == "unknown" {
		fmt.Fprintf(w, "OS release:\tunknown (the volume id names no known release)\n")
	} else {
		fmt.Fprintf(w, "OS release:\t%s %s, built %s\n", r.Release.OS, r.Release.Release, r.Release.Built)
	}
	fmt.Fprintf(w, "Ignition specs:\t%s\n", r.Release.IgnitionSpecs)
	for _, c := range r.SpecConflicts {
		fmt.Fprintf(w, "Warning:\t%s\n", c)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return printLiveConfig(out, r)
}

// inspectSummary is an Ignition config's summary with its storage flag.
type inspectSummary struct {
	ignconfig.Summary
	// Storage is set when the config partitions, formats or encrypts
	// block devices.
	Storage bool `json:"storage"`
}

func summarizeConfig(c *ignconfig.Config) *inspectSummary {
	if c == nil {
		return nil
	}
	s := c.Summary()
	return &inspectSummary{Summary: s, Storage: s.Storage()}
}

// inspectLive describes the embedded live config.
type inspectLive struct {
	Size int `json:"size"`
	// Generated is set for a config made for installer options (it
	// holds installer configs or install hooks).
	Generated bool `json:"generated"`
	// Error says why the config is not a valid Ignition config, or could
	// not be decoded.
	Error   string            `json:"error,omitempty"`
	Summary *inspectSummary   `json:"summary,omitempty"`
	Hooks   []inspectHook     `json:"hooks,omitempty"`
	CAs     int               `json:"cas"`
	Merged  []inspectEmbedded `json:"merged,omitempty"`
}

type inspectHook struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	Path string `json:"path"`
	Unit string `json:"unit"`
}

// inspectEmbedded describes a config that another one merges.
type inspectEmbedded struct {
	Source  string          `json:"source"`
	Replace bool            `json:"replace,omitempty"`
	Inline  bool            `json:"inline"`
	Size    int             `json:"size,omitempty"`
	Error   string          `json:"error,omitempty"`
	Summary *inspectSummary `json:"summary,omitempty"`
}

// inspectInstaller describes what the installer does.
type inspectInstaller struct {
	// DestDevice is empty when no installer config names a disk.
	DestDevice   string                   `json:"dest_device"`
	Configs      []inspectInstallerConfig `json:"configs"`
	IgnitionFile string                   `json:"ignition_file,omitempty"`
	IgnitionURL  string                   `json:"ignition_url,omitempty"`
	DestConfig   *inspectDest             `json:"dest_config,omitempty"`
	Notes        []string                 `json:"notes,omitempty"`
}

type inspectInstallerConfig struct {
	Name     string                       `json:"name"`
	Path     string                       `json:"path"`
	Text     string                       `json:"text"`
	Remote   string                       `json:"remote,omitempty"`
	Settings *installer.InstallerSettings `json:"settings,omitempty"`
	Error    string                       `json:"error,omitempty"`
}

type inspectDest struct {
	Path    string            `json:"path"`
	Size    int               `json:"size"`
	Remote  string            `json:"remote,omitempty"`
	Error   string            `json:"error,omitempty"`
	Summary *inspectSummary   `json:"summary,omitempty"`
	Wrapper bool              `json:"wrapper"`
	CAs     int               `json:"cas"`
	Merged  []inspectEmbedded `json:"merged,omitempty"`
}

// shownConfigs are the configs --show-config prints.
type shownConfigs struct {
	live, dest             []byte
	destPath               string
	liveMerged, destMerged []installer.Embedded
}

// describeLive fills in what the live config raw does. A config that is
// not valid, or cannot be decoded, is reported, not an error: inspect is
// where a user looks to find out what is wrong with an image.
func (r *inspectReport) describeLive(raw []byte) {
	live := &inspectLive{Size: len(raw)}
	r.LiveConfig = live
	r.configs = &shownConfigs{live: raw}
	cfg, err := ignconfig.Parse(installer.ConfigMember, raw)
	if err != nil {
		live.Error = err.Error()
		return
	}
	live.Summary = summarizeConfig(cfg)
	d, err := installer.Describe(raw)
	if err != nil {
		live.Error = err.Error()
		return
	}
	live.Generated = d.Generated()
	live.CAs = d.CAs
	for _, h := range d.Hooks {
		live.Hooks = append(live.Hooks, inspectHook{Kind: h.Kind, Name: h.Name, Path: h.Path, Unit: h.Unit})
	}
	live.Merged = embeddedReports(d.LiveConfigs)
	r.configs.liveMerged = d.LiveConfigs
	in := d.Install
	if in == nil {
		return
	}
	rep := &inspectInstaller{DestDevice: in.DestDevice, IgnitionFile: in.IgnitionFile, IgnitionURL: in.IgnitionURL, Notes: in.Notes}
	for _, c := range in.Configs {
		ic := inspectInstallerConfig{Name: c.Name(), Path: c.Path, Text: c.Text, Remote: c.Remote, Settings: c.Settings}
		if c.Err != nil {
			ic.Error = c.Err.Error()
		}
		rep.Configs = append(rep.Configs, ic)
	}
	if dst := in.Dest; dst != nil {
		rd := &inspectDest{Path: dst.Path, Size: len(dst.Data), Remote: dst.Remote, Summary: summarizeConfig(dst.Config), Wrapper: dst.Wrapper, CAs: dst.CAs, Merged: embeddedReports(dst.Merged)}
		if dst.Err != nil {
			rd.Error = dst.Err.Error()
		}
		rep.DestConfig = rd
		if dst.Remote == "" {
			r.configs.dest, r.configs.destPath = dst.Data, dst.Path
		}
		r.configs.destMerged = dst.Merged
	}
	r.Installer = rep
}

func embeddedReports(es []installer.Embedded) []inspectEmbedded {
	var out []inspectEmbedded
	for _, e := range es {
		ie := inspectEmbedded{Source: e.Source, Replace: e.Replace, Inline: e.Inline, Size: len(e.Data), Summary: summarizeConfig(e.Config)}
		if e.Err != nil {
			ie.Error = e.Err.Error()
		}
		out = append(out, ie)
	}
	return out
}

// printLiveConfig prints the live config part of the text report. It has
// a tabwriter of its own, with the minimum width of the first part's
// labels, so that the lines above stay as they were.
func printLiveConfig(out io.Writer, r *inspectReport) error {
	live := r.LiveConfig
	if live == nil {
		return nil
	}
	w := tabwriter.NewWriter(out, len("Initrd embed area:")+2, 4, 2, ' ', 0)
	if in := r.Installer; in != nil {
		if in.DestDevice != "" {
			fmt.Fprintf(w, "Installer:\tinstalls to %s at boot, without confirmation\n", in.DestDevice)
		} else {
			fmt.Fprintf(w, "Installer:\truns at boot; no installer config names a destination device\n")
		}
		label := "Installer configs:"
		for _, c := range in.Configs {
			switch {
			case c.Remote != "":
				fmt.Fprintf(w, "%s\t%s (fetched from %s)\n", label, c.Name, c.Remote)
			case c.Error != "":
				fmt.Fprintf(w, "%s\t%s (not a valid installer config: %s)\n", label, c.Name, c.Error)
			default:
				settings := c.Settings.List()
				if len(settings) == 0 {
					fmt.Fprintf(w, "%s\t%s (no settings)\n", label, c.Name)
				} else {
					fmt.Fprintf(w, "%s\t%s\n", label, c.Name)
				}
				for _, s := range settings {
					fmt.Fprintf(w, "\t  %s: %s\n", s.Key, s.Value)
				}
			}
			label = ""
		}
		printInspectList(w, "Installer notes:", in.Notes)
		if in.IgnitionURL != "" {
			fmt.Fprintf(w, "Dest config URL:\t%s (not fetched)\n", in.IgnitionURL)
		}
		if d := in.DestConfig; d != nil {
			switch {
			case d.Remote != "":
				fmt.Fprintf(w, "Dest config:\t%s, fetched from %s\n", d.Path, d.Remote)
			case d.Error != "":
				fmt.Fprintf(w, "Dest config:\t%s, %d bytes, %s\n", d.Path, d.Size, d.Error)
			default:
				desc := fmt.Sprintf("%s, %d bytes, spec %s", d.Path, d.Size, d.Summary.Version)
				if d.Wrapper {
					desc += fmt.Sprintf(", merging %d %s", len(d.Merged), inspectPlural(len(d.Merged), "config", "configs"))
					if d.CAs > 0 {
						desc += fmt.Sprintf(" and trusting %d %s", d.CAs, inspectPlural(d.CAs, "CA", "CAs"))
					}
				}
				fmt.Fprintf(w, "Dest config:\t%s\n", desc)
				if !d.Wrapper {
					printConfigSummary(w, d.Summary)
				}
			}
			printMergedConfigs(w, "Dest merge", d.Merged)
		}
	}
	var pre, post []string
	for _, h := range live.Hooks {
		if h.Kind == "pre" {
			pre = append(pre, h.Name)
		} else {
			post = append(post, h.Name)
		}
	}
	if len(pre) > 0 {
		fmt.Fprintf(w, "Pre-install:\t%s\n", strings.Join(pre, ", "))
	}
	if len(post) > 0 {
		fmt.Fprintf(w, "Post-install:\t%s\n", strings.Join(post, ", "))
	}
	if live.CAs > 0 {
		fmt.Fprintf(w, "Ignition CAs:\t%d\n", live.CAs)
	}
	switch {
	case live.Summary == nil:
		fmt.Fprintf(w, "Live config:\t%s, %d bytes, %s\n", installer.ConfigMember, live.Size, live.Error)
	default:
		fmt.Fprintf(w, "Live config:\t%s, %d bytes, spec %s\n", installer.ConfigMember, live.Size, live.Summary.Version)
		if live.Error != "" {
			fmt.Fprintf(w, "\t%s\n", live.Error)
		}
		printConfigSummary(w, live.Summary)
		printMergedConfigs(w, "Live merge", live.Merged)
	}
	return w.Flush()
}

// printMergedConfigs prints merged configs, numbered from 1.
func printMergedConfigs(w io.Writer, label string, es []inspectEmbedded) {
	for i, e := range es {
		l := fmt.Sprintf("%s %d:", label, i+1)
		if e.Replace {
			l = strings.TrimSuffix(label, " merge") + " replace:"
		}
		switch {
		case !e.Inline:
			fmt.Fprintf(w, "%s\t%s (not fetched)\n", l, e.Source)
		case e.Summary == nil:
			fmt.Fprintf(w, "%s\t%s, %s\n", l, e.Source, e.Error)
		default:
			fmt.Fprintf(w, "%s\tinline, %d bytes, spec %s\n", l, e.Size, e.Summary.Version)
			printConfigSummary(w, e.Summary)
		}
	}
}

// printConfigSummary prints the non-empty parts of a config summary, one
// item a line.
func printConfigSummary(w io.Writer, s *inspectSummary) {
	if s == nil {
		return
	}
	for _, part := range []struct {
		label string
		items []string
	}{
		{"users", s.Users}, {"groups", s.Groups}, {"files", s.Files}, {"directories", s.Directories},
		{"links", s.Links}, {"units", s.Units}, {"disks", s.Disks}, {"raid", s.RAID}, {"luks", s.LUKS},
		{"filesystems", s.Filesystems}, {"merges", s.Merge},
	} {
		printInspectList(w, "  "+part.label+":", part.items)
	}
	if s.CAs > 0 {
		fmt.Fprintf(w, "  CAs:\t%d\n", s.CAs)
	}
	if s.Storage {
		fmt.Fprintf(w, "  storage:\tpartitions, formats or encrypts disks\n")
	}
}

// printInspectList prints items one a line, the label on the first.
func printInspectList(w io.Writer, label string, items []string) {
	for i, it := range items {
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(w, "%s\t%s\n", label, it)
	}
}

func inspectPlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// printConfigs prints the embedded configs for --show-config: as indented
// JSON documents, each after a "# <which>" line, or as one JSON object.
func printConfigs(out io.Writer, r *inspectReport, asJSON bool) error {
	c := r.configs
	if c == nil {
		return embed.ErrNoConfig
	}
	inline := func(es []installer.Embedded) []installer.Embedded {
		var in []installer.Embedded
		for _, e := range es {
			if e.Inline {
				in = append(in, e)
			}
		}
		return in
	}
	if asJSON {
		doc := struct {
			Live       any   `json:"live"`
			LiveMerged []any `json:"live_merged,omitempty"`
			Dest       any   `json:"dest,omitempty"`
			DestMerged []any `json:"dest_merged,omitempty"`
		}{Live: inspectJSONValue(c.live)}
		for _, e := range inline(c.liveMerged) {
			doc.LiveMerged = append(doc.LiveMerged, inspectJSONValue(e.Data))
		}
		if c.dest != nil {
			doc.Dest = inspectJSONValue(c.dest)
		}
		for _, e := range inline(c.destMerged) {
			doc.DestMerged = append(doc.DestMerged, inspectJSONValue(e.Data))
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(doc)
	}
	show := func(label string, data []byte) {
		fmt.Fprintf(out, "# %s\n", label)
		var buf bytes.Buffer
		if err := json.Indent(&buf, data, "", "  "); err != nil {
			// Not JSON: as it is.
			buf.Reset()
			buf.Write(data)
		}
		if !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
			buf.WriteByte('\n')
		}
		out.Write(buf.Bytes())
	}
	show("live config ("+installer.ConfigMember+")", c.live)
	for i, e := range inline(c.liveMerged) {
		show(fmt.Sprintf("live config, merged config %d (%s)", i+1, e.Source), e.Data)
	}
	if c.dest != nil {
		show("destination config ("+c.destPath+")", c.dest)
	}
	for i, e := range inline(c.destMerged) {
		show(fmt.Sprintf("destination config, merged config %d (%s)", i+1, e.Source), e.Data)
	}
	return nil
}

// inspectJSONValue returns data as a JSON value to embed: itself when it
// is JSON, or else a string.
func inspectJSONValue(data []byte) any {
	if json.Valid(data) {
		return json.RawMessage(data)
	}
	return string(data)
}
