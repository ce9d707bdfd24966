package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/isobuild/isobuild/internal/imagefile"
	"github.com/isobuild/isobuild/internal/output"
	"github.com/isobuild/isobuild/pkg/butane"
	"github.com/isobuild/isobuild/pkg/embed"
	"github.com/isobuild/isobuild/pkg/installer"
	"github.com/isobuild/isobuild/pkg/remaster"
)

const buildLong = `Build a customized live ISO from a base CoreOS or Flatcar live ISO.

The config comes from a Butane file (--butane, translated with the Butane
library: no separate butane step) or an Ignition file (--ignition). It is
validated with the Ignition library, then stored in the ISO's initrd embed
area together with any --network-keyfile. Kernel argument options edit the
image's default live kernel arguments. The base ISO is never modified: build
always writes a new image (-o PATH, or -o - for stdout).

The base ISO is a path, or a reference to the current release of a stream:
fedora-coreos:stable (testing, next, ...) or flatcar:stable (beta, alpha),
for this machine's architecture. A reference is downloaded into a per-user
cache (~/.cache/isobuild/images, or $ISOBUILD_CACHE_DIR), verified as
"isobuild download" does, and reused while it is current; --offline uses
the cached image without network access. A file named like the reference
wins.

The live system applies the config when it boots from the new ISO (BIOS or
UEFI, CD or USB stick). A config too large for the image's 256 KiB embed
area moves images/ignition.img to a larger extent at the end of the image
("isobuild iso reset" gives the base image back). An image that is already customized is refused
unless -f is given; then its old customizations are replaced.

Installer ISOs: with --dest-device and --dest-butane (or --dest-ignition)
the live system installs CoreOS to that disk unattended, with that config,
when it boots. The other --dest-*, --ignition-ca, --pre-install,
--post-install, --installer-config and --network-* options are those of
"isobuild iso customize" (and coreos-installer's). All of them but the
--network-* options generate a live config; the --butane/--ignition config
is then merged into it, otherwise it is embedded as it is.

Flatcar Container Linux live ISOs have no embed areas: build appends the
config as usr/share/oem/config.ign in an extra initramfs
(/flatcar/isobuild.img), makes every boot entry load it with
flatcar.first_boot=1 and the --karg-* edits, and repoints the ISO's
metadata; "isobuild iso reset" gives the base image back. There,
--dest-device with --dest-butane/--dest-ignition makes the live system run
flatcar-install (which downloads the image: it needs network access); the
other installer options are refused.

Other live ISOs (ISOLINUX/SYSLINUX and GRUB configurations in the ISO
tree, such as Debian live) do not run Ignition: --initrd-file SRC:DEST
puts files into an extra initramfs that every boot entry loads,
--iso-file SRC:DEST adds or replaces files in the ISO tree (new
directories included; the file is read as the image is written, up to
4 GiB), and --karg-* edits every boot entry; "isobuild iso reset" undoes it.
On Ubuntu-style images (the ISO 9660 volume is partition 1 at a partition
offset, followed by an appended EFI system partition) partition 1 grows
over the new files and the appended partitions move behind them.

Fleets: with --hosts hosts.yaml (hosts: [{name, vars: {KEY: VALUE}, kargs:
[...]}]), --butane is a Go text/template rendered for each host
({{ .Name }}, {{ .Vars.KEY }}; a var the host lacks is an error), the
host's kargs follow the --karg-append ones, and -o names a directory
(existing, or ending in / to be created): build writes DIR/NAME.iso for
every host, the same bytes as a build of the rendered config. Every host's
config is translated and validated before any image is written; the images
are written in parallel, and when one fails the others are removed again.
"isobuild serve" serves the same images over HTTP.`

const buildExample = `  # Installer USB stick: installs to /dev/sda with install.bu, static IP:
  isobuild build --dest-butane install.bu --dest-device /dev/sda \
      --network-keyfile eth0.nmconnection -o installer.iso fedora-coreos-live.x86_64.iso

  # Butane config, serial console, to a new file:
  isobuild build --butane config.bu --karg-append console=ttyS0,115200n8 \
      -o custom.iso fedora-coreos-live.x86_64.iso

  # The same from the current stable release, downloaded and verified:
  isobuild build --butane config.bu -o custom.iso fedora-coreos:stable

  # Butane with local files (contents.local) and strict checking:
  isobuild build --butane config.bu -d ./files --strict -o custom.iso base.iso

  # Flatcar live ISO (Butane variant: flatcar), and a Flatcar installer:
  isobuild build --butane flatcar.bu -o custom.iso flatcar_production_iso_image.iso
  isobuild build --dest-butane install.bu --dest-device /dev/sda \
      -o installer.iso flatcar_production_iso_image.iso

  # Another live ISO: an SSH key in the live system, a cloud-init seed:
  isobuild build --initrd-file id.pub:/root/.ssh/authorized_keys \
      --iso-file user-data:/user-data --karg-append ds=nocloud \
      -o custom.iso debian-live-12-amd64-standard.iso

  # One image per host of an inventory, into images/ (images/NAME.iso):
  isobuild build --butane fleet.bu --hosts hosts.yaml -o images/ base.iso

  # Ignition config from stdin, static network, stream to a USB stick:
  isobuild build --ignition - --network-keyfile eth0.nmconnection \
      -o - base.iso < config.ign | sudo dd of=/dev/sdX bs=4M conv=fsync`

type buildOptions struct {
	butane, ignition, filesDir string
	destButane                 []string
	strict, force, quiet       bool
	liveStorage                bool
	skipSpecCheck              bool
	variants                   butaneVariants // Butane variant by path, for checkSpecs (speccheck.go)
	kargs                      embed.KargsEdit
	initrdFiles, isoFiles      []string // --initrd-file, --iso-file (images without embed areas)
	install                    installFlags
	out                        string
	hosts                      string // --hosts inventory: a batch build (hosts.go)
	// butaneSrc, when not nil, is the source of the --butane config,
	// already read: a host's rendered template in a batch build.
	butaneSrc []byte
}

func newBuildCmd(s *streams) *cobra.Command {
	var o buildOptions
	var offline bool // --offline, for base image references (download_cache.go)
	c := &cobra.Command{
		Use:     "build [--butane FILE | --ignition FILE] [options] -o OUT ISO",
		Short:   "Build a customized live ISO from a Butane or Ignition config",
		Long:    buildLong,
		Example: buildExample,
		Args:    exactArgs(1, "one base ISO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			base, err := s.baseImage(cmd.Context(), args[0], offline)
			if err != nil {
				return err
			}
			if o.hosts != "" {
				return runBatchBuild(cmd.Context(), s, o, base)
			}
			return runBuild(cmd.Context(), s, o, base)
		},
	}
	f := c.Flags()
	f.BoolVar(&offline, "offline", false, "with a base image reference (fedora-coreos:STREAM, flatcar:CHANNEL): use the cached image, verified, without network access")
	addBuildInputFlags(f, &o)
	f.BoolVarP(&o.quiet, "quiet", "q", false, "do not print the summary of what was written")
	addOutput(f, &o.out, "write the new ISO to `PATH` (must not exist) or - for stdout (required)")
	f.StringVar(&o.hosts, "hosts", "", "build one image per host of inventory `FILE` (hosts.yaml; - for stdin), rendering --butane as a template for each, into the directory -o DIR/ as DIR/NAME.iso")
	addDeviceFlags(c, s) // -o DEVICE: write.go
	return c
}

// addBuildInputFlags registers the options that say what goes into an
// image, from --butane to --force: build's, and serve's (serve.go).
func addBuildInputFlags(f *pflag.FlagSet, o *buildOptions) {
	f.StringVar(&o.butane, "butane", "", "Butane config `FILE` to translate and embed (- for stdin)")
	f.StringVar(&o.ignition, "ignition", "", "Ignition config `FILE` to embed (- for stdin)")
	f.StringVarP(&o.filesDir, "files-dir", "d", "", "`DIR` that Butane local file references are relative to")
	f.BoolVar(&o.strict, "strict", false, "fail on any Butane warning")
	f.StringArrayVar(&o.kargs.Append, "karg-append", nil, "append live kernel argument `KARG` (repeatable)")
	f.StringArrayVar(&o.kargs.Delete, "karg-delete", nil, "delete live kernel argument `KARG` (repeatable)")
	f.StringArrayVar(&o.kargs.Replace, "karg-replace", nil, "replace live kernel argument `KEY=OLD=NEW` (repeatable)")
	f.StringArrayVar(&o.destButane, "dest-butane", nil, "install with Butane config `FILE`, translated like --butane (repeatable; merged with --dest-ignition configs)")
	o.install.add(f, false)
	f.StringArrayVar(&o.initrdFiles, "initrd-file", nil, "put local file `SRC:DEST` into the extra initramfs at DEST (Flatcar and other live ISOs without embed areas; repeatable)")
	f.StringArrayVar(&o.isoFiles, "iso-file", nil, "add or replace file `SRC:DEST` in the ISO tree (Flatcar and other live ISOs without embed areas; repeatable)")
	f.BoolVar(&o.liveStorage, "live-storage", false, "allow a --butane/--ignition config that partitions, formats or encrypts disks (it runs on every boot of the media)")
	f.BoolVar(&o.skipSpecCheck, "skip-spec-check", false, "embed configs of an Ignition spec version newer than the base image's build date suggests its Ignition reads")
	f.BoolVarP(&o.force, "force", "f", false, "replace the customizations of an already customized ISO")
}

func runBuild(ctx context.Context, s *streams, o buildOptions, isoPath string) error {
	if o.out == "" {
		return usageError{errors.New("-o/--output is required: build writes a new ISO (use -o - for stdout, or the iso commands to change an ISO in place)")}
	}
	if o.butane != "" && o.ignition != "" {
		return usageError{errors.New("--butane and --ignition cannot be used together")}
	}
	var info io.Writer = s.out
	if o.out == output.Stdout {
		info = s.err
	}
	if o.quiet {
		info = io.Discard
	}
	if o.butane == "" && len(o.destButane) == 0 && (o.filesDir != "" || o.strict) {
		return usageError{errors.New("--files-dir and --strict only apply to --butane and --dest-butane")}
	}
	// The image is opened and parsed once, for both the choice of the
	// path and the build: its copy starts only after that, and every
	// millisecond before it is one more than cp takes.
	f, im, err := s.openImage(ctx, isoPath, imagefile.Read)
	if errors.Is(err, embed.ErrUnrecognized) {
		return runRemasterBuild(ctx, s, o, isoPath, info)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := checkCoreOSOptions(o, isoPath); err != nil {
		return err
	}
	// The inputs are read and translated while the base image is being
	// copied (see modify).
	var plan coreosPlan
	var base *embed.Image
	ov, err := modifyOpened(ctx, s, f, im, o.out, func(im *embed.Image) (embed.Changes, error) {
		base = im
		var err error
		plan, err = planCoreOS(ctx, s, o, im)
		return plan.changes, err
	})
	if err != nil {
		// A failed command prints its error only, not the notices of
		// an image it did not write.
		return err
	}
	printWarnings(s.err, false, plan.warnings)
	dest := o.out
	if dest == output.Stdout {
		dest = "standard output"
	}
	fmt.Fprintf(info, "Wrote %s from %s\n", dest, isoPath)
	plan.printSummary(info, o, base, base.Grown(), ov.Size())
	return nil
}

// coreosPlan is a planned build of a CoreOS live ISO: the inputs read and
// the changes to the image's embed areas.
type coreosPlan struct {
	config   *installer.Input
	install  installer.Options
	changes  embed.Changes
	warnings []installer.Warning
}

// planCoreOS reads and translates the inputs of o and plans the changes to
// the CoreOS image im, checking them.
func planCoreOS(ctx context.Context, s *streams, o buildOptions, im *embed.Image) (coreosPlan, error) {
	var p coreosPlan
	var err error
	o.variants = butaneVariants{}
	if p.config, p.install, err = buildInputs(ctx, s, o); err != nil {
		return p, err
	}
	if err := checkInstallIntent(o, p.install); err != nil {
		return p, err
	}
	if err := checkLiveStorage(o, p.config); err != nil {
		return p, err
	}
	custom := embed.Customization{Install: p.install, Kargs: o.kargs, Force: o.force, ResetKargs: true}
	c, w, err := im.Customize(custom)
	// build writes a new image, so a config too large for the area
	// moves images/ignition.img to a grown extent at the end.
	c.Grow = true
	c.Description = remaster.Description{Generator: "isobuild build", OS: "coreos"}
	if err == nil {
		// After the engine's checks: an option the image cannot
		// take at all is the first thing to fix.
		err = checkSpecs(im, o, p.config, p.install)
	}
	p.changes, p.warnings = c, w
	return p, err
}

// printSummary prints the lines under "Wrote ..." of a CoreOS build of
// base: grown is base.Grown() after the plan's overlay, of size bytes.
func (p coreosPlan) printSummary(info io.Writer, o buildOptions, base *embed.Image, grown, size int64) {
	if p.config != nil {
		src := o.ignition
		if o.butane != "" {
			src = o.butane + " (translated from Butane)"
		}
		fmt.Fprintf(info, "  live Ignition config: %d bytes from %s\n", len(p.config.Data), src)
	}
	if grown > 0 {
		fmt.Fprintf(info, "  initrd embed area:    grown from %d to %d bytes: the config does not fit the image's area, so images/ignition.img moved to the end of the image, now %d bytes (isobuild iso reset gives the base image back)\n", base.Initrd.Length, grown, size)
	}
	for _, name := range p.changes.Members.Names() {
		if installer.IsNetworkMember(name) {
			fmt.Fprintf(info, "  network keyfile:      %s\n", path.Base(name))
		}
	}
	for _, d := range p.install.DestIgnition {
		fmt.Fprintf(info, "  install config:       %s\n", d.Name)
	}
	for _, w := range p.warnings {
		if w.Kind == installer.AutoInstall {
			fmt.Fprintf(info, "  installs to:          %s\n", w.Detail)
		}
	}
	if p.changes.Kargs != nil && !o.kargs.Empty() {
		fmt.Fprintf(info, "  kernel arguments:     %s\n", *p.changes.Kargs)
	}
}

// buildInputs reads and translates the live config and the destination
// Butane configs and reads the installer options' files.
func buildInputs(ctx context.Context, s *streams, o buildOptions) (*installer.Input, installer.Options, error) {
	config, err := loadConfig(ctx, s, o)
	if err != nil {
		return nil, installer.Options{}, err
	}
	install, err := o.install.options(ctx, s, "isobuild build")
	if err != nil {
		return nil, installer.Options{}, err
	}
	install.LiveConfig = config
	for _, p := range o.destButane {
		src, err := s.readInput(ctx, "--dest-butane", p)
		if err != nil {
			return nil, installer.Options{}, err
		}
		ign, err := translate(s, p, src, o)
		if err != nil {
			return nil, installer.Options{}, err
		}
		install.DestIgnition = append(install.DestIgnition, installer.Input{Name: displayName(p), Data: ign})
	}
	return config, install, nil
}

// loadConfig reads the live config and translates it from Butane, printing
// Butane's report. It returns nil when no config was given; the engine
// validates the config.
func loadConfig(ctx context.Context, s *streams, o buildOptions) (*installer.Input, error) {
	switch {
	case o.butane != "":
		src := o.butaneSrc
		if src == nil {
			var err error
			if src, err = s.readInput(ctx, "--butane", o.butane); err != nil {
				return nil, err
			}
		}
		ign, err := translate(s, o.butane, src, o)
		if err != nil {
			return nil, err
		}
		return &installer.Input{Name: displayName(o.butane), Data: ign}, nil
	case o.ignition != "":
		src, err := s.readInput(ctx, "--ignition", o.ignition)
		if err != nil {
			return nil, err
		}
		return &installer.Input{Name: displayName(o.ignition), Data: src}, nil
	}
	return nil, nil
}

// translate translates a Butane file, printing its report.
func translate(s *streams, path string, src []byte, o buildOptions) ([]byte, error) {
	ign, report, err := butane.Translate(displayName(path), src, butane.Options{FilesDir: o.filesDir, Strict: o.strict})
	if err != nil {
		if looksLikeIgnition(src) {
			option := "--butane"
			if path != o.butane {
				option = "--dest-butane"
			}
			err = hintedError{err, ignitionGivenAsButane(option, displayName(path))}
		}
		return nil, err
	}
	printReport(s.err, report.String())
	o.variants.note(path, src)
	return ign, nil
}

func displayName(path string) string {
	if path == "-" {
		return "<stdin>"
	}
	return path
}

func printReport(w io.Writer, text string) {
	text = strings.TrimRight(text, "\n")
	if text != "" {
		fmt.Fprintln(w, text)
	}
}
