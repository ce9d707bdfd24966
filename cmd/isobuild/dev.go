package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/isobuild/isobuild/internal/imagefile"
	"github.com/isobuild/isobuild/pkg/iso"
)

// newDevCmd holds coreos-installer's hidden "dev show iso", which scripts use
// to find the embed areas. "isobuild inspect --json" shows more.
func newDevCmd(s *streams) *cobra.Command {
	dev := &cobra.Command{Use: "dev", Short: "Developer commands (coreos-installer compatible)", Hidden: true}
	show := &cobra.Command{Use: "show", Short: "Show image internals"}
	var ign, kargs bool
	showISOCmd := &cobra.Command{
		Use:   "iso [--ignition | --kargs] ISO",
		Short: "Print the embed areas of a live ISO as JSON",
		Args:  exactArgs(1, "one ISO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ign && kargs {
				return usageError{errors.New("--ignition and --kargs cannot be used together")}
			}
			f, im, err := s.openImage(cmd.Context(), args[0], imagefile.Read)
			if err != nil {
				return err
			}
			defer f.Close()
			var v any
			switch {
			case ign:
				v = struct {
					Offset int64 `json:"offset"`
					Length int64 `json:"length"`
				}{im.Initrd.Offset, im.Initrd.Length}
			case kargs:
				if im.Kargs == nil {
					v = nil
					break
				}
				type area struct {
					Offset int64  `json:"offset"`
					Length int    `json:"length"`
					Pad    string `json:"pad,omitempty"`
					End    string `json:"end,omitempty"`
				}
				out := struct {
					Length  int    `json:"length"`
					Default string `json:"default"`
					Kargs   []area `json:"kargs"`
				}{Length: im.Kargs.Size, Default: im.Kargs.Default}
				for _, a := range im.Kargs.Areas {
					ar := area{Offset: a.Offset, Length: a.Length}
					if a.Explicit {
						ar.Pad, ar.End = string(a.Pad), string(a.End)
					}
					out.Kargs = append(out.Kargs, ar)
				}
				v = out
			default:
				if v, err = showISO(im.ISO); err != nil {
					return err
				}
			}
			b, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.out, "%s\n", b)
			return err
		},
	}
	showISOCmd.Flags().BoolVar(&ign, "ignition", false, "print the initrd embed area")
	showISOCmd.Flags().BoolVar(&kargs, "kargs", false, "print the karg embed areas")
	show.AddCommand(showISOCmd)
	dev.AddCommand(show)
	return dev
}

// showISO describes the volume descriptors and the primary tree the way
// coreos-installer's "dev show iso" does.
func showISO(img *iso.Image) (any, error) {
	type root struct {
		Name    string `json:"name"`
		Address int64  `json:"address"`
		Length  int64  `json:"length"`
	}
	type desc struct {
		Type            string  `json:"type"`
		SystemID        *string `json:"system_id,omitempty"`
		VolumeID        *string `json:"volume_id,omitempty"`
		VolumeSpaceSize *uint32 `json:"volume_space_size,omitempty"`
		Root            *root   `json:"root,omitempty"`
		BootSystemID    *string `json:"boot_system_id,omitempty"`
		BootID          *string `json:"boot_id,omitempty"`
	}
	var out struct {
		Header struct {
			Descriptors []desc `json:"descriptors"`
		} `json:"header"`
		Records []string `json:"records"`
	}
	rootRec, err := img.Lookup("")
	if err != nil {
		return nil, err
	}
	for _, d := range img.Descriptors() {
		d := d
		e := desc{Type: descriptorType(d.Type)}
		switch d.Type {
		case iso.TypePrimary:
			e.SystemID, e.VolumeID, e.VolumeSpaceSize = &d.SystemID, &d.VolumeID, &d.VolumeSpaceSize
			e.Root = &root{Name: ".", Address: rootRec.Offset / iso.SectorSize, Length: rootRec.Length}
		case iso.TypeBootRecord:
			e.BootSystemID, e.BootID = &d.BootSystemID, &d.BootID
		}
		out.Header.Descriptors = append(out.Header.Descriptors, e)
	}
	out.Records = []string{}
	err = img.Walk(func(r iso.Record) error {
		out.Records = append(out.Records, r.Path)
		return nil
	})
	return out, err
}
