package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/isobuild/isobuild/pkg/flatcar"
	"github.com/isobuild/isobuild/pkg/initrd"
	"github.com/isobuild/isobuild/pkg/iso"
	"github.com/isobuild/isobuild/pkg/remaster"
	"github.com/isobuild/isobuild/pkg/sysarea"
)

// liveISOReport is what inspect says about an ISO without CoreOS embed
// areas: how it boots, how it is laid out, and how isobuild customizes it.
type liveISOReport struct {
	File        string              `json:"file"`
	Size        int64               `json:"size"`
	VolumeID    string              `json:"volume_id"`
	SystemID    string              `json:"system_id"`
	OS          string              `json:"os"`            // "flatcar" or "unknown"
	Customize   string              `json:"customization"` // how build customizes it
	Descriptors []inspectDescriptor `json:"descriptors"`
	BootImages  []inspectBootImage  `json:"boot_images"`
	SystemArea  inspectSystemArea   `json:"system_area"`
	Trees       []inspectTree       `json:"trees"`
	BootEntries []inspectBootEntry  `json:"boot_entries"`
	Customized  *inspectRecord      `json:"customized,omitempty"`
	LiveConfig  *inspectLive        `json:"live_config,omitempty"`
	Installer   *inspectInstaller   `json:"installer,omitempty"`

	live *inspectReport // for the live config's printer and --show-config
}

type inspectBootImage struct {
	Platform string `json:"platform"`
	Bootable bool   `json:"bootable"`
	Media    string `json:"media"`
	LBA      uint32 `json:"lba"`
	Sectors  uint16 `json:"sectors"`
	File     string `json:"file,omitempty"` // the tree path holding it, or "" (e.g. an appended partition)
}

type inspectSystemArea struct {
	MBR             []string `json:"mbr,omitempty"`
	GPT             []string `json:"gpt,omitempty"`
	APM             []string `json:"apm,omitempty"`
	PartitionOffset int64    `json:"partition_offset,omitempty"`
	Problem         string   `json:"problem,omitempty"`
}

type inspectTree struct {
	Kind       string `json:"kind"`
	Descriptor int64  `json:"descriptor_offset"`
	Base       int64  `json:"base,omitempty"`
	RockRidge  bool   `json:"rock_ridge,omitempty"`
}

type inspectBootEntry struct {
	Config  string   `json:"config"`
	Line    int      `json:"line"`
	Loader  string   `json:"loader"`
	Label   string   `json:"label,omitempty"`
	Kernel  string   `json:"kernel"`
	Initrds []string `json:"initrds"`
	Args    string   `json:"args"`
}

type inspectRecord struct {
	remaster.Description
	BaseSize int64 `json:"base_size"`
	Offset   int64 `json:"record_offset"`
}

func inspectLiveISO(ctx context.Context, s *streams, path string) (*liveISOReport, error) {
	f, rm, err := s.openRemaster(ctx, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pvd := rm.ISO.Primary()
	rep := &liveISOReport{File: path, Size: rm.Size(), VolumeID: pvd.VolumeID, SystemID: pvd.SystemID, OS: "unknown"}
	for _, d := range rm.ISO.Descriptors() {
		rep.Descriptors = append(rep.Descriptors, inspectDescriptor{Type: descriptorType(d.Type), Offset: d.Offset, SystemID: d.SystemID, VolumeID: d.VolumeID, BootSystemID: d.BootSystemID})
	}
	catalog, err := rm.ISO.BootCatalog()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	files := map[int64]string{}
	if len(rm.Trees) > 0 {
		rm.Trees[0].Walk(func(e iso.Entry) error {
			if !e.IsDir {
				files[e.Offset] = "/" + e.Path
			}
			return nil
		})
	}
	for _, e := range catalog {
		rep.BootImages = append(rep.BootImages, inspectBootImage{
			Platform: e.PlatformName(), Bootable: e.Bootable, Media: mediaName(e.Media),
			LBA: e.LoadRBA, Sectors: e.Sectors, File: files[int64(e.LoadRBA)*iso.SectorSize],
		})
	}
	rep.SystemArea = describeSystemArea(rm.System)
	for _, t := range rm.Trees {
		rep.Trees = append(rep.Trees, inspectTree{Kind: t.Kind.String(), Descriptor: t.Descriptor, Base: t.Base, RockRidge: t.RockRidge})
	}
	for _, c := range rm.Configs {
		for _, e := range c.Entries {
			rep.BootEntries = append(rep.BootEntries, inspectBootEntry{Config: "/" + strings.TrimPrefix(e.Path, "/"), Line: e.Line, Loader: c.Syntax.String(), Label: e.Label, Kernel: e.Kernel, Initrds: e.Initrds, Args: e.Args})
		}
	}
	switch {
	case rm.Flatcar():
		rep.OS = "flatcar"
		rep.Customize = "isobuild build remasters it: the config goes into an extra initramfs (usr/share/oem/config.ign) that every boot entry loads, with flatcar.first_boot=1"
	case len(rep.BootEntries) == 0:
		rep.Customize = "none: no Linux boot entry was found in an ISOLINUX/SYSLINUX or GRUB configuration"
	default:
		rep.Customize = "isobuild build remasters it: --initrd-file SRC:DEST files go into an extra initramfs that every boot entry loads, --iso-file SRC:DEST files into the ISO tree, --karg-* edits every boot entry (nothing on it is known to run Ignition, so --butane is refused)"
		if err := rm.Integrity(); err != nil {
			rep.Customize = "none: " + err.Error()
		}
	}
	if rec := rm.Record(); rec != nil {
		rep.Customize = "customized by isobuild: isobuild build -f replaces the customization, isobuild iso reset undoes it"
		rep.Customized = &inspectRecord{Description: rec.Description, BaseSize: rec.BaseSize, Offset: rec.Offset}
		if rec.Description.Initrd != "" && len(rm.Trees) > 0 {
			if cfg, err := extraConfig(rm, rec.Description.Initrd); err != nil {
				rep.LiveConfig = &inspectLive{Error: err.Error()}
			} else if cfg != nil {
				scratch := &inspectReport{}
				scratch.describeLive(cfg)
				rep.LiveConfig, rep.Installer, rep.live = scratch.LiveConfig, scratch.Installer, scratch
			}
		}
	}
	return rep, nil
}

// extraConfig reads the live config from the extra initramfs at path.
func extraConfig(rm *remaster.Image, path string) ([]byte, error) {
	e, err := rm.Trees[0].Lookup(path)
	if err != nil {
		return nil, fmt.Errorf("the extra initramfs %s: %w", path, err)
	}
	files, err := initrd.Decode(rm.Trees[0].Section(e), func(name string) bool { return name == flatcar.ConfigMember })
	if err != nil {
		return nil, fmt.Errorf("the extra initramfs %s: %w", path, err)
	}
	return files[flatcar.ConfigMember], nil
}

func mediaName(m byte) string {
	switch m {
	case 0:
		return "no emulation"
	case 1, 2, 3:
		return "floppy"
	case 4:
		return "hard disk"
	}
	return fmt.Sprintf("media %d", m)
}

func describeSystemArea(l *sysarea.Layout) inspectSystemArea {
	var out inspectSystemArea
	if l == nil {
		return out
	}
	if m := l.MBR; m != nil {
		for i, p := range m.Partitions {
			if p.Type == 0 && p.Sectors == 0 {
				continue
			}
			boot := ""
			if p.Status == 0x80 {
				boot = ", active"
			}
			out.MBR = append(out.MBR, fmt.Sprintf("partition %d: type 0x%02x%s, sectors %d+%d", i+1, p.Type, boot, p.Start, p.Sectors))
		}
		if len(out.MBR) == 0 {
			out.MBR = []string{"boot code only, no partitions"}
		}
	}
	if g := l.GPT; g != nil {
		for _, p := range g.Partitions {
			out.GPT = append(out.GPT, fmt.Sprintf("partition %d: %q, sectors %d-%d, type %s", p.Index+1, p.Name, p.First, p.Last, guidString(p.Type)))
		}
		out.GPT = append(out.GPT, fmt.Sprintf("%d entries at sector %d, backup header at sector %d", g.EntryCount, g.EntryLBA, g.BackupLBA))
	}
	if a := l.APM; a != nil {
		for _, e := range a.Entries {
			out.APM = append(out.APM, fmt.Sprintf("entry %d: %q (%s), blocks %d+%d of %d bytes", e.Index, e.Name, e.Type, e.Start, e.Count, a.BlockSize))
		}
	}
	out.PartitionOffset = l.PartitionOffset()
	if err := l.Verify(); err != nil {
		out.Problem = err.Error()
	}
	return out
}

// guidString formats a GPT GUID (mixed-endian) in its usual text form.
func guidString(g [16]byte) string {
	b := []byte{g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6]}
	h := hex.EncodeToString(append(b, g[8:]...))
	return strings.ToUpper(h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:])
}

func printLiveISO(out io.Writer, r *liveISOReport) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "File:\t%s (%d bytes)\n", r.File, r.Size)
	fmt.Fprintf(w, "Volume ID:\t%s\n", r.VolumeID)
	fmt.Fprintf(w, "System ID:\t%s\n", r.SystemID)
	osName := "not a CoreOS live ISO (no embed areas); OS unknown"
	if r.OS == "flatcar" {
		osName = "Flatcar Container Linux live ISO (no embed areas)"
	}
	fmt.Fprintf(w, "Image:\t%s\n", osName)
	fmt.Fprintf(w, "Customization:\t%s\n", r.Customize)
	fmt.Fprintf(w, "Descriptors:\t%s\n", descriptorList(r.Descriptors))
	var trees []string
	for _, t := range r.Trees {
		s := t.Kind
		if t.RockRidge {
			s += " with Rock Ridge"
		}
		if t.Base != 0 {
			s += fmt.Sprintf(" (twin at partition offset %d)", t.Base)
		}
		trees = append(trees, s)
	}
	fmt.Fprintf(w, "Trees:\t%s\n", strings.Join(trees, ", "))
	if len(r.BootImages) == 0 {
		fmt.Fprintf(w, "El Torito:\tnone\n")
	}
	var images []string
	for _, b := range r.BootImages {
		where := b.File
		if where == "" {
			where = "outside the trees"
		}
		images = append(images, fmt.Sprintf("%s, %s, LBA %d, %d sectors: %s", b.Platform, b.Media, b.LBA, b.Sectors, where))
	}
	printInspectList(w, "El Torito:", images)
	sa := r.SystemArea
	if len(sa.MBR)+len(sa.GPT)+len(sa.APM) == 0 {
		fmt.Fprintf(w, "System area:\tno partition tables (not bootable from a USB stick)\n")
	}
	printInspectList(w, "MBR:", sa.MBR)
	printInspectList(w, "GPT:", sa.GPT)
	printInspectList(w, "APM:", sa.APM)
	if sa.PartitionOffset != 0 {
		fmt.Fprintf(w, "Partition offset:\t%d bytes (a second set of trees for partition 1)\n", sa.PartitionOffset)
	}
	if sa.Problem != "" {
		fmt.Fprintf(w, "Warning:\tpartition tables: %s\n", sa.Problem)
	}
	if len(r.BootEntries) == 0 {
		fmt.Fprintf(w, "Boot entries:\tnone found\n")
	}
	var entries []string
	for _, e := range r.BootEntries {
		label := e.Label
		if label == "" {
			label = "-"
		}
		entries = append(entries, fmt.Sprintf("%s:%d (%s, %s): %s, initrd %s, args %q", e.Config, e.Line, e.Loader, label, e.Kernel, strings.Join(e.Initrds, ","), e.Args))
	}
	printInspectList(w, "Boot entries:", entries)
	if c := r.Customized; c != nil {
		what := []string{"by " + c.Generator}
		if c.Initrd != "" {
			what = append(what, "extra initramfs "+c.Initrd)
		}
		if len(c.Kargs) > 0 {
			what = append(what, "kernel arguments: "+strings.Join(c.Kargs, ", "))
		}
		if len(c.Files) > 0 {
			what = append(what, "ISO files: "+strings.Join(c.Files, ", "))
		}
		fmt.Fprintf(w, "Customized:\t%s\n", strings.Join(what, "; "))
		fmt.Fprintf(w, "Base image:\t%d bytes (isobuild iso reset gives it back)\n", c.BaseSize)
	} else {
		fmt.Fprintf(w, "Customized:\tno\n")
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if r.live != nil {
		return printLiveConfig(out, r.live)
	}
	if r.LiveConfig != nil && r.LiveConfig.Error != "" {
		fmt.Fprintf(out, "Live config:  %s\n", r.LiveConfig.Error)
	}
	return nil
}

func printLiveISOJSON(out io.Writer, r *liveISOReport) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return err
	}
	_, err := out.Write(buf.Bytes())
	return err
}
