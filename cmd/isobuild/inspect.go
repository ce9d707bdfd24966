package main

import (
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
}

func newInspectCmd(s *streams) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "inspect [--json] ISO",
		Short: "Show the boot records, embed areas and customizations of a live ISO",
		Long: `Print what a CoreOS live ISO carries: volume id, volume descriptors and
El Torito boot record, the initrd embed area (offset, size, bytes used), the
files embedded in it, the karg embed areas with the default and current
kernel arguments, and the OS feature flags. --json prints the same as JSON.`,
		Example: `  isobuild inspect custom.iso
  isobuild inspect --json custom.iso | jq .initrd_area`,
		Args: exactArgs(1, "one ISO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := inspect(cmd.Context(), s, args[0])
			if err != nil {
				return err
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
	_, rep.HasLiveConfig = im.Config()
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

func printInspect(out io.Writer, r *inspectReport) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "File:\t%s (%d bytes)\n", r.File, r.Size)
	fmt.Fprintf(w, "Volume ID:\t%s\n", r.VolumeID)
	fmt.Fprintf(w, "System ID:\t%s\n", r.SystemID)
	var types []string
	for _, d := range r.Descriptors {
		t := d.Type
		if d.BootSystemID != "" {
			t += " (" + d.BootSystemID + ")"
		}
		types = append(types, t)
	}
	fmt.Fprintf(w, "Descriptors:\t%s\n", strings.Join(types, ", "))
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
	return w.Flush()
}
