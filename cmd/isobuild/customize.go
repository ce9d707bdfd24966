package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/isobuild/isobuild/pkg/embed"
	"github.com/isobuild/isobuild/pkg/installer"
)

const customizeLong = `Customize a live ISO with coreos-installer's "iso customize" options: an
unattended installer (--dest-*), network keyfiles, CA certificates, pre- and
post-install hooks, installer configs and merged live Ignition configs, and
live kernel arguments.

The options are turned into a live Ignition config (written to the initrd
embed area as config.ign) that sets up the live system and, when any
--dest-* option or --installer-config is given, makes it install to disk at
boot: the destination config goes to /etc/coreos/dest.ign, installer
settings to /etc/coreos/installer.d/NNNN-*.yaml, hooks to
/usr/local/bin/{pre,post}-install-NAME with systemd units. Keyfiles go to
etc/coreos-firstboot-network/ in the initrd area and, with the installer,
are copied to the installed system. Every config is validated first.

Existing customizations make the command fail unless -f is given; then
they are replaced. "isobuild build" offers the same options and takes
Butane files directly.`

const customizeExample = `  # USB stick that installs to /dev/sda with dest.ign and a static network:
  isobuild iso customize --dest-device /dev/sda --dest-ignition dest.ign \
      --network-keyfile eth0.nmconnection -o installer.iso fedora-coreos-live.iso

  # Serial console on the installed system, hooks around the install:
  isobuild iso customize --dest-device /dev/vda --dest-console ttyS0,115200n8 \
      --pre-install wipe.sh --post-install report.sh -o installer.iso live.iso`

func newISOCustomizeCmd(s *streams) *cobra.Command {
	var f installFlags
	var live embed.KargsEdit
	var force bool
	var out string
	c := &cobra.Command{
		Use:     "customize [options] [-o OUT] ISO",
		Short:   "Customize a live ISO: unattended install, network, CA, hooks (coreos-installer compatible)",
		Long:    customizeLong,
		Example: customizeExample,
		Args:    exactArgs(1, "one ISO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := f.options(cmd.Context(), s, "isobuild iso customize")
			if err != nil {
				return err
			}
			// The warnings (such as the notice that the image installs
			// without confirmation) are printed once the image is written:
			// a failed command prints its error only.
			var warnings []installer.Warning
			var specWarnings []string
			err = modify(cmd.Context(), s, args[0], out, func(im *embed.Image) (embed.Changes, error) {
				c, w, err := im.Customize(embed.Customization{Install: opts, Kargs: live, Force: force})
				warnings = w
				specWarnings = compatSpecWarnings(im, opts)
				return c, err
			})
			if err == nil {
				// What would make the install fail comes before the
				// banner that announces it.
				if w := devicePathWarning(opts.DestDevice); w != "" {
					fmt.Fprintln(s.err, w)
				}
				for _, w := range specWarnings {
					fmt.Fprintln(s.err, w)
				}
				printWarnings(s.err, true, warnings)
			}
			return err
		},
	}
	f.add(c.Flags(), true)
	c.Flags().StringArrayVar(&live.Append, "live-karg-append", nil, "append live kernel argument `KARG` (repeatable)")
	c.Flags().StringArrayVar(&live.Delete, "live-karg-delete", nil, "delete live kernel argument `KARG` (repeatable)")
	c.Flags().StringArrayVar(&live.Replace, "live-karg-replace", nil, "replace live kernel argument `KEY=OLD=NEW` (repeatable)")
	c.Flags().BoolVarP(&force, "force", "f", false, "replace existing customizations")
	addOutput(c.Flags(), &out, outputHelp)
	return c
}
