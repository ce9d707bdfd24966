package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/coreos/go-semver/semver"

	"github.com/isobuild/isobuild/internal/imagefile"
	"github.com/isobuild/isobuild/internal/output"
	"github.com/isobuild/isobuild/pkg/bootcfg"
	"github.com/isobuild/isobuild/pkg/embed"
	"github.com/isobuild/isobuild/pkg/flatcar"
	"github.com/isobuild/isobuild/pkg/initrd"
	"github.com/isobuild/isobuild/pkg/installer"
	"github.com/isobuild/isobuild/pkg/overlay"
	"github.com/isobuild/isobuild/pkg/remaster"
)

// hasEmbedAreas reports whether the image at path is a CoreOS live ISO
// (with an initrd embed area); false with a nil error means it is an ISO
// 9660 image without one, which build remasters.
func (s *streams) hasEmbedAreas(ctx context.Context, path string) (bool, error) {
	f, im, err := s.openImage(ctx, path, imagefile.Read)
	if err == nil {
		f.Close()
		return im != nil, nil
	}
	if errors.Is(err, embed.ErrUnrecognized) {
		return false, nil
	}
	return false, err
}

// bootsWithoutEmbedAreas reports whether the image at path is an ISO
// without CoreOS embed areas that has Linux boot entries isobuild can edit;
// for any other image the iso commands keep coreos-installer's errors.
func (s *streams) bootsWithoutEmbedAreas(ctx context.Context, path string) bool {
	if coreos, err := s.hasEmbedAreas(ctx, path); err != nil || coreos {
		return false
	}
	f, rm, err := s.openRemaster(ctx, path)
	if err != nil {
		return false
	}
	f.Close()
	return len(rm.Entries()) > 0
}

// openRemaster opens an image without embed areas for build.
func (s *streams) openRemaster(ctx context.Context, path string) (*imagefile.File, *remaster.Image, error) {
	f, err := imagefile.Open(ctx, path, imagefile.Read, s.imageOptions())
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	im, err := remaster.Open(f.File, st.Size())
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, im, nil
}

// runRemasterBuild is build for an ISO without embed areas: the config
// goes into an extra initramfs that every boot entry loads (see package
// remaster). Flatcar is the only such OS that runs Ignition.
func runRemasterBuild(ctx context.Context, s *streams, o buildOptions, isoPath string, info io.Writer) error {
	defer s.closeOpen()
	f, rm, err := s.openRemaster(ctx, isoPath)
	if err != nil {
		return err
	}
	defer f.Close()
	if o.out == output.Stdout {
		if err := output.CheckStream(s.stdout, f.File); err != nil {
			return err
		}
	}
	rb, err := prepareRemaster(o, isoPath, f, rm)
	if err != nil {
		return err
	}
	var pending *output.Pending
	if o.out != output.Stdout {
		if pending, err = output.Begin(ctx, o.out, rb.base, rb.size); err != nil {
			return err
		}
		defer pending.Abort()
	}
	ov, summary, err := rb.plan(ctx, s, o, isoPath)
	if err != nil {
		return err
	}
	if pending != nil {
		err = pending.Finish(ctx, ov)
	} else {
		err = output.Stream(ctx, s.stdout, ov)
	}
	if err != nil {
		return err
	}
	dest := o.out
	if dest == output.Stdout {
		dest = "standard output"
	}
	fmt.Fprintf(info, "Wrote %s from %s (%s, remastered: %d bytes added after the base image's %d)\n", dest, isoPath, rb.kind, ov.Size()-rb.size, rb.size)
	for _, line := range summary {
		fmt.Fprintf(info, "  %s\n", line)
	}
	return nil
}

// remasterBase is the base of a remastering build: the image without
// embed areas, or the one it was made from when it was customized before
// (with -f).
type remasterBase struct {
	rm      *remaster.Image
	base    io.ReaderAt
	size    int64
	flatcar bool
	kind    string // for the summary
}

// prepareRemaster checks that the image rm, read from f, can take the
// options of o and returns the base to build on.
func prepareRemaster(o buildOptions, isoPath string, f *imagefile.File, rm *remaster.Image) (remasterBase, error) {
	var base io.ReaderAt = f.File
	baseSize := rm.Size()
	if rec := rm.Record(); rec != nil {
		if !o.force {
			return remasterBase{}, hintedError{fmt.Errorf("%s: already customized by isobuild (%s)", isoPath, describeRecord(rec)),
				"add -f to replace its customization, or start from the original image (isobuild iso reset -o BASE.iso " + isoPath + " gives it back)"}
		}
		reset, err := rm.Reset()
		if err != nil {
			return remasterBase{}, fmt.Errorf("%s: %w", isoPath, err)
		}
		if rm, err = remaster.Open(reset, reset.Size()); err != nil {
			return remasterBase{}, fmt.Errorf("%s: the image it was made from: %w", isoPath, err)
		}
		base, baseSize = reset, reset.Size()
	}
	flatcarImage := rm.Flatcar()
	if !flatcarImage {
		if used := ignitionOptions(o); len(used) > 0 {
			verb := "needs"
			if len(used) > 1 {
				verb = "need"
			}
			return remasterBase{}, hintedError{fmt.Errorf("%s: not a CoreOS live ISO (it has no embed areas) and not a Flatcar ISO: %s, so nothing on it is known to run Ignition, which %s %s", isoPath, describeEntries(rm), strings.Join(used, ", "), verb),
				"for such images, --initrd-file SRC:DEST puts files into an extra initramfs that every boot entry loads, --iso-file SRC:DEST adds files to the ISO tree (such as a cloud-init seed at /nocloud/user-data), and --karg-* edits every boot entry; isobuild inspect shows what the image holds"}
		}
	}
	kind := "Flatcar live ISO"
	if !flatcarImage {
		kind = "live ISO"
	}
	return remasterBase{rm: rm, base: base, size: baseSize, flatcar: flatcarImage, kind: kind}, nil
}

// plan reads the inputs of o and plans the remaster of the base, giving
// the new image and the lines of its summary.
func (rb remasterBase) plan(ctx context.Context, s *streams, o buildOptions, isoPath string) (*overlay.Image, []string, error) {
	plan := planFlatcar
	if !rb.flatcar {
		plan = planGeneric
	}
	ov, summary, err := plan(ctx, s, o, rb.rm)
	if err != nil {
		var remasterErr *remasterError
		if errors.As(err, &remasterErr) {
			return nil, nil, fmt.Errorf("%s: %w", isoPath, remasterErr.err)
		}
		return nil, nil, err
	}
	return ov, summary, nil
}

// flatcarUnsupported lists the installer options a Flatcar image cannot
// take, by flag name.
func flatcarUnsupported(install installer.Options) []string {
	var out []string
	for _, opt := range []struct {
		name string
		set  bool
	}{
		{"--dest-console", len(install.DestConsole) > 0},
		{"--dest-karg-append", len(install.DestKargAppend) > 0},
		{"--dest-karg-delete", len(install.DestKargDelete) > 0},
		{"--network-keyfile", len(install.NetworkKeyfile) > 0},
		{"--network-nmstate", len(install.NetworkNmstate) > 0},
		{"--ignition-ca", len(install.IgnitionCA) > 0},
		{"--pre-install", len(install.PreInstall) > 0},
		{"--post-install", len(install.PostInstall) > 0},
		{"--installer-config", len(install.InstallerConfig) > 0},
		{"--live-ignition", len(install.LiveIgnition) > 0},
	} {
		if opt.set {
			out = append(out, opt.name)
		}
	}
	return out
}

// planFlatcar reads the inputs and plans the remaster of a Flatcar image.
func planFlatcar(ctx context.Context, s *streams, o buildOptions, rm *remaster.Image) (*overlay.Image, []string, error) {
	o.variants = butaneVariants{}
	config, install, err := buildInputs(ctx, s, o)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range slices.Sorted(maps.Keys(o.variants)) {
		if v := o.variants[p]; v != "flatcar" {
			fmt.Fprintf(s.err, "warning: %s is a Butane config of variant %s; Flatcar images take variant: flatcar (version: 1.0.0 or 1.1.0), which checks the config for Flatcar\n", displayName(p), v)
		}
	}
	if bad := flatcarUnsupported(install); len(bad) > 0 {
		return nil, nil, usageHint("configure the same in the Butane config (variant: flatcar): storage.files for network units and keys, systemd units for hooks, kernel_arguments for the installed system",
			"%s: not supported for Flatcar images (coreos-installer options; Flatcar installs with flatcar-install)", strings.Join(bad, ", "))
	}
	if err := checkInstallIntent(o, install); err != nil {
		return nil, nil, err
	}
	if err := checkLiveStorage(o, config); err != nil {
		return nil, nil, err
	}
	var inst *flatcar.Install
	if install.DestDevice != "" {
		inst = &flatcar.Install{Device: install.DestDevice, Configs: install.DestIgnition, Generator: "isobuild build"}
	}
	live, warnings, err := flatcar.LiveConfig(config, inst)
	if err != nil {
		return nil, nil, err
	}
	members, modes, isoFiles, err := extraFiles(s, o)
	if err != nil {
		return nil, nil, err
	}
	if live == nil && len(members) > 0 {
		return nil, nil, usageError{errors.New("--initrd-file on a Flatcar image goes with a config (--butane, --ignition, or --dest-butane with --dest-device): without one Flatcar does not run its first-boot setup, and a config can write the same files (storage.files)")}
	}
	for _, w := range warnings {
		fmt.Fprintf(s.err, "warning: %s\n", w)
	}
	var summary []string
	change := remaster.Change{Description: remaster.Description{Generator: "isobuild build", OS: "flatcar"}}
	edit := o.kargs
	if live != nil {
		if change.Initrd, err = flatcar.Initramfs(live, members, modes); err != nil {
			return nil, nil, err
		}
		src := "--ignition " + displayName(o.ignition)
		if o.butane != "" {
			src = "--butane " + displayName(o.butane) + " (translated from Butane)"
		}
		switch {
		case inst != nil && config != nil:
			summary = append(summary, fmt.Sprintf("live Ignition config: generated installer config (%d bytes), merging %s", len(live), src))
		case inst != nil:
			summary = append(summary, fmt.Sprintf("live Ignition config: generated installer config (%d bytes)", len(live)))
		default:
			summary = append(summary, fmt.Sprintf("live Ignition config: %d bytes from %s", len(live), strings.TrimPrefix(strings.TrimPrefix(src, "--butane "), "--ignition ")))
		}
		if inst != nil {
			for _, d := range inst.Configs {
				summary = append(summary, "install config:       "+d.Name)
			}
			summary = append(summary, "installs to:          "+inst.Device+" (flatcar-install, which downloads the image: the machine needs network access)")
		}
	}
	firstBoot := live != nil
	if firstBoot {
		if err := checkFirstBootEdit(edit); err != nil {
			return nil, nil, err
		}
	}
	var configs []installer.Input
	if config != nil {
		configs = append(configs, *config)
	}
	configs = append(configs, install.DestIgnition...)
	for _, in := range configs {
		if v, ok := specVersion(in.Data); ok {
			if sv, err := semver.NewVersion(v); err == nil && !sv.LessThan(*semver.New("3.5.0")) {
				fmt.Fprintf(s.err, "warning: %s is an Ignition config of spec %s; the Ignition of current Flatcar releases (2.26) reads up to 3.4.0 for certain (what Butane variant flatcar 1.1.0 gives)\n", in.Name, v)
			}
		}
	}
	change.Args = func(e bootcfg.Entry, args string) (string, error) {
		if firstBoot {
			args = withFirstBoot(args)
		}
		return edit.Apply(args)
	}
	if live == nil && edit.Empty() && len(isoFiles) == 0 {
		return nil, nil, usageError{errors.New("nothing to do: give a config (--butane, --ignition, --dest-butane with --dest-device), --iso-file or kernel argument options")}
	}
	change.Files = isoFiles
	change.Description.Files = destinations(isoFiles)
	for _, name := range members.Names() {
		summary = append(summary, fmt.Sprintf("initramfs file:       /%s (%d bytes)", name, len(members[name])))
	}
	for _, f := range isoFiles {
		summary = append(summary, fmt.Sprintf("ISO file:             %s (%d bytes)", f.Path, f.Size))
	}
	change.Description.Kargs = kargsDescription(edit)
	if firstBoot {
		change.Description.Kargs = append([]string{"append " + flatcar.FirstBootArg}, change.Description.Kargs...)
	}
	if change.Initrd != nil {
		p, err := rm.InitrdPath(change)
		if err != nil {
			return nil, nil, err
		}
		change.InitrdPath, change.Description.Initrd = p, p
		summary = append(summary, fmt.Sprintf("extra initramfs:      %s (%d bytes), loaded by every boot entry (%d)", p, len(change.Initrd), len(rm.Entries())))
	}
	ov, err := rm.Overlay(change)
	if err != nil {
		return nil, nil, &remasterError{err}
	}
	if firstBoot {
		summary = append(summary, "kernel arguments:     + "+flatcar.FirstBootArg+" (Flatcar runs Ignition only with it)")
	}
	if !edit.Empty() {
		summary = append(summary, "kernel arguments:     "+strings.Join(kargsDescription(edit), "; "))
	}
	return ov, summary, nil
}

// ignitionOptions lists the options given that need Ignition.
func ignitionOptions(o buildOptions) []string {
	var used []string
	for _, opt := range []struct {
		name string
		set  bool
	}{
		{"--butane", o.butane != ""}, {"--ignition", o.ignition != ""}, {"--dest-butane", len(o.destButane) > 0},
		{"--dest-ignition", len(o.install.destIgnition) > 0}, {"--dest-device", o.install.destDevice.set},
		{"--dest-console", len(o.install.destConsole) > 0}, {"--dest-karg-append", len(o.install.destKargAppend) > 0},
		{"--dest-karg-delete", len(o.install.destKargDelete) > 0}, {"--network-keyfile", len(o.install.networkKeyfile) > 0},
		{"--network-nmstate", len(o.install.networkNmstate) > 0}, {"--ignition-ca", len(o.install.ignitionCA) > 0},
		{"--pre-install", len(o.install.preInstall) > 0}, {"--post-install", len(o.install.postInstall) > 0},
		{"--installer-config", len(o.install.installerConfig) > 0},
	} {
		if opt.set {
			used = append(used, opt.name)
		}
	}
	return used
}

// planGeneric plans the remaster of a live ISO that does not run
// Ignition: the --initrd-file files in an extra initramfs that every boot
// entry loads, the --iso-file files in the ISO tree, the --karg-* edits on
// every boot entry.
func planGeneric(ctx context.Context, s *streams, o buildOptions, rm *remaster.Image) (*overlay.Image, []string, error) {
	members, modes, isoFiles, err := extraFiles(s, o)
	if err != nil {
		return nil, nil, err
	}
	edit := o.kargs
	if len(members) == 0 && len(isoFiles) == 0 && edit.Empty() {
		return nil, nil, usageError{errors.New("nothing to do: give --initrd-file, --iso-file or --karg-* options")}
	}
	change := remaster.Change{
		Files:       isoFiles,
		Description: remaster.Description{Generator: "isobuild build", Kargs: kargsDescription(edit), Files: destinations(isoFiles)},
	}
	if !edit.Empty() {
		change.Args = func(e bootcfg.Entry, args string) (string, error) { return edit.Apply(args) }
	}
	var summary []string
	if len(members) > 0 {
		if change.Initrd, err = initrd.EncodeGzip(members, modes); err != nil {
			return nil, nil, err
		}
		p, err := rm.InitrdPath(change)
		if err != nil {
			return nil, nil, &remasterError{err}
		}
		change.InitrdPath, change.Description.Initrd = p, p
		summary = append(summary, fmt.Sprintf("extra initramfs:      %s (%d bytes), loaded by every boot entry (%d)", p, len(change.Initrd), len(rm.Entries())))
		for _, name := range members.Names() {
			summary = append(summary, fmt.Sprintf("initramfs file:       /%s (%d bytes)", name, len(members[name])))
		}
	}
	for _, f := range isoFiles {
		summary = append(summary, fmt.Sprintf("ISO file:             %s (%d bytes)", f.Path, f.Size))
	}
	if !edit.Empty() {
		summary = append(summary, "kernel arguments:     "+strings.Join(kargsDescription(edit), "; "))
	}
	ov, err := rm.Overlay(change)
	if err != nil {
		return nil, nil, &remasterError{err}
	}
	return ov, summary, nil
}

// remasterError is an error of the remaster engine, which the caller
// prefixes with the image's path.
type remasterError struct{ err error }

func (e *remasterError) Error() string { return e.err.Error() }
func (e *remasterError) Unwrap() error { return e.err }

// withFirstBoot sets flatcar.first_boot=1 in args, replacing another value.
func withFirstBoot(args string) string {
	fields := strings.Fields(args)
	out := fields[:0]
	for _, f := range fields {
		if f == "flatcar.first_boot" || strings.HasPrefix(f, "flatcar.first_boot=") {
			continue
		}
		out = append(out, f)
	}
	return strings.Join(append(out, flatcar.FirstBootArg), " ")
}

func kargsDescription(e embed.KargsEdit) []string {
	var out []string
	for _, a := range e.Append {
		out = append(out, "append "+a)
	}
	for _, d := range e.Delete {
		out = append(out, "delete "+d)
	}
	for _, r := range e.Replace {
		out = append(out, "replace "+r)
	}
	return out
}

func describeRecord(rec *remaster.Record) string {
	d := rec.Description
	var parts []string
	if d.OS != "" {
		parts = append(parts, d.OS)
	}
	if d.Initrd != "" {
		parts = append(parts, "extra initramfs "+d.Initrd)
	}
	if len(d.Kargs) > 0 {
		parts = append(parts, "kernel arguments: "+strings.Join(d.Kargs, ", "))
	}
	parts = append(parts, fmt.Sprintf("base image of %d bytes", rec.BaseSize))
	return strings.Join(parts, "; ")
}

// describeEntries says what boots the image.
func describeEntries(rm *remaster.Image) string {
	entries := rm.Entries()
	if len(entries) == 0 {
		return "no Linux boot entry was found in an ISOLINUX/SYSLINUX or GRUB configuration"
	}
	var kernels []string
	for _, e := range entries {
		k := e.Kernel
		if len(kernels) < 3 && !slices.Contains(kernels, k) {
			kernels = append(kernels, k)
		}
	}
	return fmt.Sprintf("%d boot entries load %s", len(entries), strings.Join(kernels, ", "))
}

// runRemasterReset is "iso reset" for an image isobuild remastered: it
// gives back the base image byte for byte from the image's reset record.
// It returns false, having done nothing, for an image without a record.
func runRemasterReset(ctx context.Context, s *streams, path, dest string) (bool, error) {
	err := remasterReset(ctx, s, path, dest)
	if errors.Is(err, remaster.ErrNotCustomized) {
		return false, nil
	}
	return true, err
}

func remasterReset(ctx context.Context, s *streams, path, dest string) error {
	mode := imagefile.Read
	if dest == "" {
		mode = imagefile.Edit
	}
	f, err := imagefile.Open(ctx, path, mode, s.imageOptions())
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if rec, err := remaster.FindRecord(f.File, st.Size()); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	} else if rec == nil {
		return remaster.ErrNotCustomized
	}
	rm, err := remaster.Open(f.File, st.Size())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	ov, err := rm.Reset()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	switch dest {
	case "":
		// The patches first, under the journal; then the cut. A crash
		// between the two leaves the record in the tail, and running
		// the reset again finishes it.
		if err := f.Apply(ctx, ov); err != nil {
			return err
		}
		if err := f.Truncate(ov.Size()); err != nil {
			return fmt.Errorf("%s: cutting the image to its base size: %w", path, err)
		}
		return f.Sync()
	case output.Stdout:
		if err := output.CheckStream(s.stdout, f.File); err != nil {
			return err
		}
		return output.Stream(ctx, s.stdout, ov)
	}
	pending, err := output.Begin(ctx, dest, f.File, ov.Size())
	if err != nil {
		return err
	}
	defer pending.Abort()
	return pending.Finish(ctx, ov)
}

// showRemasterKargs is "iso kargs show" for an image without embed areas:
// the kernel arguments of its boot entries, each distinct line once (with
// -d, those of the image it was built from).
func showRemasterKargs(ctx context.Context, s *streams, path string, pristine bool) error {
	f, rm, err := s.openRemaster(ctx, path)
	if err != nil {
		return err
	}
	defer f.Close()
	if pristine && rm.Record() != nil {
		base, err := rm.Reset()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if rm, err = remaster.Open(base, base.Size()); err != nil {
			return fmt.Errorf("%s: the image it was made from: %w", path, err)
		}
	}
	entries := rm.Entries()
	if len(entries) == 0 {
		return fmt.Errorf("%s: %w", path, remaster.ErrNoBootEntry)
	}
	var seen []string
	for _, e := range entries {
		if !slices.Contains(seen, e.Args) {
			seen = append(seen, e.Args)
			fmt.Fprintln(s.out, e.Args)
		}
	}
	return nil
}
