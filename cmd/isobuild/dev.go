package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// newDevCmd holds coreos-installer's hidden "dev show iso", which scripts use
// to find the embed areas. "isobuild inspect --json" shows more.
func newDevCmd(s *streams) *cobra.Command {
	dev := &cobra.Command{Use: "dev", Short: "Developer commands (coreos-installer compatible)", Hidden: true}
	show := &cobra.Command{Use: "show", Short: "Show image internals"}
	var ign, kargs bool
	showISO := &cobra.Command{
		Use:   "iso [--ignition | --kargs] ISO",
		Short: "Print the embed areas of a live ISO as JSON",
		Args:  exactArgs(1, "one ISO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ign && kargs {
				return usageError{errors.New("--ignition and --kargs cannot be used together")}
			}
			im, err := openImage(args[0])
			if err != nil {
				return err
			}
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
				return usageError{errors.New("give --ignition or --kargs (isobuild inspect --json shows everything)")}
			}
			b, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.out, "%s\n", b)
			return err
		},
	}
	showISO.Flags().BoolVar(&ign, "ignition", false, "print the initrd embed area")
	showISO.Flags().BoolVar(&kargs, "kargs", false, "print the karg embed areas")
	show.AddCommand(showISO)
	dev.AddCommand(show)
	return dev
}
