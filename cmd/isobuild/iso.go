package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/isobuild/isobuild/internal/imagefile"
	"github.com/isobuild/isobuild/internal/output"
	"github.com/isobuild/isobuild/pkg/embed"
	"github.com/isobuild/isobuild/pkg/iso"
	"github.com/isobuild/isobuild/pkg/overlay"
)

const outputHelp = "write the result to `PATH` (which must not exist) or - for stdout; without -o the ISO is modified in place"

func newISOCmd(s *streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "iso",
		Short: "Edit the embed areas of a CoreOS live ISO (coreos-installer compatible)",
		Long: `Commands that read or change the embed areas of a CoreOS live ISO.

Every command that changes an image takes -o/--output: without it the ISO
is changed in place; with -o PATH a new file is written (PATH must not
exist); with -o - the result streams to stdout. All three give the same
bytes, and every check runs before the image is changed or a byte is
streamed; a new file appears only once it is complete, so a failed command
leaves the input and the output directory untouched.

An in-place edit is journaled: the original bytes go to
.NAME.isobuild-journal beside the image first, and an error or a signal
rolls the edit back. If the process is killed outright, the next isobuild
command that opens the image rolls it back. Commands lock the image (shared
for reading, exclusive for editing); a second command waits up to 30s for
the first (ISOBUILD_LOCK_TIMEOUT changes that: 2m waits longer, 0 not at
all).`,
	}
	c.AddCommand(newISOCustomizeCmd(s), newISOIgnitionCmd(s), newISOKargsCmd(s), newISONetworkCmd(s), newISOResetCmd(s), newISOExtractCmd(s))
	return c
}

func newISOIgnitionCmd(s *streams) *cobra.Command {
	c := &cobra.Command{Use: "ignition", Short: "Embed, show or remove the live Ignition config"}

	var cfgPath, out string
	var force bool
	embedCmd := &cobra.Command{
		Use:   "embed [-i CONFIG] [-f] [-o OUT] ISO",
		Short: "Embed an Ignition config for the live system",
		Long: `Embed an Ignition config into the live ISO. The live system applies it
when it boots. The config is stored byte for byte, without validation (use
"isobuild build" to translate Butane and validate). Network keyfiles already
in the image are kept.`,
		Example: `  isobuild iso ignition embed -i config.ign -o custom.iso fedora-coreos-live.iso
  butane config.bu | isobuild iso ignition embed live.iso`,
		Args: exactArgs(1, "one ISO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			config, err := s.readInput(cmd.Context(), "--ignition-file", cfgPath)
			if err != nil {
				return err
			}
			err = modify(cmd.Context(), s, args[0], out, func(im *embed.Image) (embed.Changes, error) {
				return im.EmbedIgnition(config, force)
			})
			if err == nil && looksLikeButane(config) {
				// Stored as given, as coreos-installer does; the live
				// system will not read it.
				fmt.Fprintf(s.err, "Warning: %s is a Butane config, not Ignition JSON: the live system will fail to read it; %s\n",
					displayName(cfgPath), translateFirst(displayName(cfgPath)))
			}
			return err
		},
	}
	embedCmd.Flags().StringVarP(&cfgPath, "ignition-file", "i", "", "Ignition config to embed (default: stdin)")
	embedCmd.Flags().BoolVarP(&force, "force", "f", false, "replace an existing embedded config")
	addOutput(embedCmd.Flags(), &out, outputHelp)

	showCmd := &cobra.Command{
		Use:   "show ISO",
		Short: "Print the embedded live Ignition config",
		Args:  exactArgs(1, "one ISO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, im, err := s.openImage(cmd.Context(), args[0], imagefile.Read)
			if err != nil {
				return err
			}
			defer f.Close()
			config, ok := im.Config()
			if !ok {
				return embed.ErrNoConfig
			}
			_, err = s.out.Write(config)
			return err
		},
	}

	var rmOut string
	removeCmd := &cobra.Command{
		Use:   "remove [-o OUT] ISO",
		Short: "Remove the embedded live Ignition config",
		Long:  "Remove the live Ignition config; network keyfiles stay. Removing the only customization restores the original bytes.",
		Args:  exactArgs(1, "one ISO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return modify(cmd.Context(), s, args[0], rmOut, func(im *embed.Image) (embed.Changes, error) {
				return im.RemoveIgnition(), nil
			})
		},
	}
	addOutput(removeCmd.Flags(), &rmOut, outputHelp)
	c.AddCommand(embedCmd, showCmd, removeCmd)
	return c
}

func newISOKargsCmd(s *streams) *cobra.Command {
	c := &cobra.Command{Use: "kargs", Short: "Show or change the live kernel arguments"}

	var showDefault bool
	showCmd := &cobra.Command{
		Use:   "show [--default] ISO",
		Short: "Print the live kernel arguments",
		Args:  exactArgs(1, "one ISO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if s.bootsWithoutEmbedAreas(cmd.Context(), args[0]) {
				return showRemasterKargs(cmd.Context(), s, args[0], showDefault)
			}
			f, im, err := s.openImage(cmd.Context(), args[0], imagefile.Read)
			if err != nil {
				return err
			}
			defer f.Close()
			k, err := im.CurrentKargs()
			if showDefault {
				k, err = im.DefaultKargs()
			}
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(s.out, k)
			return err
		},
	}
	showCmd.Flags().BoolVarP(&showDefault, "default", "d", false, "print the image's pristine kernel arguments instead")

	var edit embed.KargsEdit
	var out string
	modifyCmd := &cobra.Command{
		Use:   "modify [-a KARG]... [-d KARG]... [-r KEY=OLD=NEW]... [-o OUT] ISO",
		Short: "Change the live kernel arguments",
		Long: `Change the kernel arguments the live system boots with. Deletions run first,
then appends, then replacements, whatever order they are given in. -d removes
whole arguments only: "-d foo" leaves "foo=bar" alone.

On an ISO without CoreOS embed areas (Flatcar, other live ISOs) the edits go
into every boot entry, and only into a new image (-o): its boot
configuration changes by appending. On one that "isobuild build" made, the
edits apply to the arguments it has now, and the rest of its customization
(config, extra initramfs, files) stays.`,
		Example: `  isobuild iso kargs modify -a console=ttyS0,115200n8 -d quiet live.iso
  isobuild iso kargs modify -r ignition.platform.id=metal=qemu -o qemu.iso live.iso
  isobuild iso kargs modify -a console=ttyS0,115200n8 -o serial.iso flatcar-custom.iso`,
		Args: exactArgs(1, "one ISO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			// In place, an image without embed areas gets
			// coreos-installer's error: its boot configuration can only
			// change by appending, into a new image.
			if out != "" && s.bootsWithoutEmbedAreas(cmd.Context(), args[0]) {
				if s.remastered(cmd.Context(), args[0]) {
					return modifyRemasteredKargs(cmd.Context(), s, args[0], out, edit)
				}
				return runRemasterBuild(cmd.Context(), s, buildOptions{kargs: edit, out: out, quiet: true}, args[0], io.Discard)
			}
			return modify(cmd.Context(), s, args[0], out, func(im *embed.Image) (embed.Changes, error) {
				return im.ModifyKargs(edit)
			})
		},
	}
	modifyCmd.Flags().StringArrayVarP(&edit.Append, "append", "a", nil, "append kernel argument `KARG` (repeatable)")
	modifyCmd.Flags().StringArrayVarP(&edit.Delete, "delete", "d", nil, "delete kernel argument `KARG` (repeatable)")
	modifyCmd.Flags().StringArrayVarP(&edit.Replace, "replace", "r", nil, "replace `KEY=OLD=NEW` (repeatable)")
	addOutput(modifyCmd.Flags(), &out, outputHelp)

	var resetOut string
	resetCmd := &cobra.Command{
		Use:   "reset [-o OUT] ISO",
		Short: "Restore the default live kernel arguments",
		Long: `Restore the kernel arguments the image was built with.

On an ISO without CoreOS embed areas this needs -o. For one that "isobuild
build" made, the new image keeps the rest of its customization (config,
extra initramfs, files) and gets the arguments of the image it was built
from, plus flatcar.first_boot=1 when it carries a Flatcar config (Flatcar
runs Ignition only with it).`,
		Example: `  isobuild iso kargs reset live.iso
  isobuild iso kargs reset -o plain-args.iso flatcar-custom.iso`,
		Args: exactArgs(1, "one ISO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			// With -o, an image without embed areas gets its base
			// image's arguments (see modify for in place).
			if resetOut != "" && s.bootsWithoutEmbedAreas(cmd.Context(), args[0]) {
				if s.remastered(cmd.Context(), args[0]) {
					return resetRemasteredKargs(cmd.Context(), s, args[0], resetOut)
				}
				return copyImage(cmd.Context(), s, args[0], resetOut)
			}
			return modify(cmd.Context(), s, args[0], resetOut, func(im *embed.Image) (embed.Changes, error) {
				return im.ResetKargs()
			})
		},
	}
	addOutput(resetCmd.Flags(), &resetOut, outputHelp)
	c.AddCommand(showCmd, modifyCmd, resetCmd)
	return c
}

func newISONetworkCmd(s *streams) *cobra.Command {
	c := &cobra.Command{Use: "network", Short: "Embed, extract or remove NetworkManager keyfiles"}

	var keyfiles []string
	var force bool
	var out string
	embedCmd := &cobra.Command{
		Use:   "embed -k KEYFILE [-k KEYFILE]... [-f] [-o OUT] ISO",
		Short: "Embed NetworkManager keyfiles for the live system",
		Long: `Embed NetworkManager keyfiles. The live system uses them, and an installer
run with --copy-network carries them to the installed system. Keyfiles
already in the image are replaced; an embedded Ignition config stays.`,
		Example: `  isobuild iso network embed -k eth0.nmconnection -o custom.iso live.iso`,
		Args:    exactArgs(1, "one ISO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(keyfiles) == 0 {
				return usageError{errors.New("at least one -k/--keyfile is required")}
			}
			inputs, err := s.inputs(cmd.Context(), "--keyfile", keyfiles, false)
			if err != nil {
				return err
			}
			return modify(cmd.Context(), s, args[0], out, func(im *embed.Image) (embed.Changes, error) {
				return im.EmbedNetwork(inputs, force)
			})
		},
	}
	embedCmd.Flags().StringArrayVarP(&keyfiles, "keyfile", "k", nil, "NetworkManager keyfile `PATH` to embed (repeatable)")
	embedCmd.Flags().BoolVarP(&force, "force", "f", false, "replace existing keyfiles")
	addOutput(embedCmd.Flags(), &out, outputHelp)

	var dir string
	extractCmd := &cobra.Command{
		Use:   "extract [-C DIR] ISO",
		Short: "Print or write the embedded keyfiles",
		Args:  exactArgs(1, "one ISO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, im, err := s.openImage(cmd.Context(), args[0], imagefile.Read)
			if err != nil {
				return err
			}
			defer f.Close()
			return extractKeyfiles(s, im.NetworkFiles(), dir)
		},
	}
	extractCmd.Flags().StringVarP(&dir, "directory", "C", "", "write the keyfiles into `DIR` instead of printing them")

	var rmOut string
	removeCmd := &cobra.Command{
		Use:   "remove [-o OUT] ISO",
		Short: "Remove the embedded keyfiles",
		Args:  exactArgs(1, "one ISO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return modify(cmd.Context(), s, args[0], rmOut, func(im *embed.Image) (embed.Changes, error) {
				return im.RemoveNetwork(), nil
			})
		},
	}
	addOutput(removeCmd.Flags(), &rmOut, outputHelp)
	c.AddCommand(embedCmd, extractCmd, removeCmd)
	return c
}

func newISOResetCmd(s *streams) *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "reset [-o OUT] ISO",
		Short: "Remove every customization, restoring the pristine image",
		Long: `Empty the initrd embed area and restore the default kernel arguments. The
result is byte-identical to the image as it was built.

For an image that "isobuild build" remastered (a Flatcar image, or a CoreOS
image whose config needed a larger initrd area), the image it was built
from is given back byte for byte from the record kept at the end of the
image: the appended files go and every patched byte is restored.`,
		Args: exactArgs(1, "one ISO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			// An image isobuild remastered (Flatcar, or CoreOS with a
			// grown initrd area) gets its base image back from its
			// reset record; any other goes the coreos-installer way.
			// Any other keeps coreos-installer's error texts.
			if _, err := s.hasEmbedAreas(cmd.Context(), args[0]); err == nil {
				if done, err := runRemasterReset(cmd.Context(), s, args[0], out); done {
					return err
				}
			}
			return modify(cmd.Context(), s, args[0], out, func(im *embed.Image) (embed.Changes, error) {
				return im.Reset(), nil
			})
		},
	}
	addOutput(c.Flags(), &out, outputHelp)
	return c
}

func newISOExtractCmd(s *streams) *cobra.Command {
	c := &cobra.Command{Use: "extract", Short: "Extract files from a live ISO"}
	var dir string
	pxe := &cobra.Command{
		Use:   "pxe [-o DIR] ISO",
		Short: "Write the kernel, initramfs and rootfs for PXE booting",
		Long: `Copy every file of images/pxeboot into DIR as <iso name>-<file name>, for
example fedora-coreos-live.x86_64-vmlinuz. Existing files are not overwritten.`,
		Args: exactArgs(1, "one ISO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := imagefile.Open(cmd.Context(), args[0], imagefile.Read, s.imageOptions())
			if err != nil {
				return err
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return err
			}
			img, err := iso.Open(f, st.Size())
			if err != nil {
				return fmt.Errorf("%s: parsing ISO9660 image: %w", args[0], err)
			}
			paths, err := extractPXE(cmd.Context(), img, args[0], dir)
			for _, p := range paths {
				fmt.Fprintln(s.out, p)
			}
			return err
		},
	}
	pxe.Flags().StringVarP(&dir, "output-dir", "o", ".", "directory to write the files into")
	c.AddCommand(pxe)
	return c
}

// extractPXE copies the files of images/pxeboot next to each other in dir.
func extractPXE(ctx context.Context, img *iso.Image, isoPath, dir string) ([]string, error) {
	recs, err := img.ReadDir(embed.PXEDir)
	if err != nil {
		return nil, fmt.Errorf("%w (%s: %w)", embed.ErrUnrecognized, embed.PXEDir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	stem := strings.TrimSuffix(filepath.Base(isoPath), filepath.Ext(isoPath))
	var written []string
	for _, rec := range recs {
		if rec.IsDir {
			continue
		}
		p := filepath.Join(dir, stem+"-"+strings.ToLower(rec.Name))
		file := overlay.New(img.Section(rec), rec.Length)
		if err := output.NewFile(ctx, p, file); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	return written, nil
}

// openImage opens the CoreOS live image at path for mode (see package
// imagefile: a shared lock for reading, an exclusive one for editing, and
// the roll-back of an edit a dead process left unfinished). The caller
// closes the file, which releases the lock, once done with the image.
func (s *streams) openImage(ctx context.Context, path string, mode imagefile.Mode) (*imagefile.File, *embed.Image, error) {
	f, err := imagefile.Open(ctx, path, mode, s.imageOptions())
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	im, err := embed.Open(f.File, st.Size())
	if err != nil {
		if errors.Is(err, iso.ErrNotISO) {
			err = hintedError{err, notISOHint(f.File)}
		}
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, im, nil
}

// notISOHint says what a file that is not an ISO 9660 image seems to be,
// from its first bytes, and what to give isobuild instead.
func notISOHint(r io.ReaderAt) string {
	head := make([]byte, 520)
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	kind := ""
	switch {
	case bytes.HasPrefix(head, []byte("\xfd7zXZ\x00")):
		kind = "an xz-compressed file: decompress it first (xz -dk FILE)"
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		kind = "a gzip-compressed file: decompress it first (gunzip -k FILE)"
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		kind = "a zstd-compressed file: decompress it first (zstd -d FILE)"
	case bytes.HasPrefix(head, []byte("QFI\xfb")):
		kind = "a qcow2 disk image, not a live ISO"
	case len(head) >= 520 && string(head[512:520]) == "EFI PART":
		kind = "a partitioned disk image (such as a metal.raw), not a live ISO"
	case len(head) == 0:
		kind = "empty (an interrupted download?)"
	}
	hint := "isobuild takes a CoreOS live ISO, such as fedora-coreos-RELEASE-live.x86_64.iso, or a Flatcar one, flatcar_production_iso_image.iso (see README: Where to get a base image)"
	if kind != "" {
		hint = "the file is " + kind + "; " + hint
	}
	return hint
}

// lockTimeoutEnv names the environment variable that sets how long a
// command waits for another one to release an image (a Go duration such
// as "2m", or 0 not to wait; imagefile.DefaultLockTimeout without it).
const lockTimeoutEnv = "ISOBUILD_LOCK_TIMEOUT"

// imageOptions are the imagefile options of this run: notices go to
// stderr.
func (s *streams) imageOptions() imagefile.Options {
	o := imagefile.Options{Notify: func(msg string) { fmt.Fprintf(s.err, "isobuild: %s\n", msg) }}
	if v := os.Getenv(lockTimeoutEnv); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			o.LockTimeout = d
			if d == 0 {
				o.LockTimeout = -1 // do not wait
			}
		} else {
			fmt.Fprintf(s.err, "isobuild: ignoring %s=%q: %v\n", lockTimeoutEnv, v, err)
		}
	}
	return o
}

// modify opens the image at path (for editing when dest is "", which
// means in place), lets plan compute the new area contents, turns them
// into an overlay after checking every capacity, and writes that to dest.
// Every check happens before the image is changed in place or an output
// appears; an in-place edit goes through the image's journal, so that it
// happens whole or not at all. For a new file, the image is copied while
// plan runs (see output.Begin).
func modify(ctx context.Context, s *streams, path, dest string, plan func(*embed.Image) (embed.Changes, error)) error {
	_, err := modifyImage(ctx, s, path, dest, plan)
	return err
}

// modifyImage is modify, returning the written overlay (nil on errors).
func modifyImage(ctx context.Context, s *streams, path, dest string, plan func(*embed.Image) (embed.Changes, error)) (*overlay.Image, error) {
	mode := imagefile.Read
	if dest == "" {
		mode = imagefile.Edit
	}
	f, im, err := s.openImage(ctx, path, mode)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return modifyOpened(ctx, s, f, im, dest, plan)
}

// modifyOpened is modifyImage on an image already opened with openImage (in
// Edit mode when dest is empty); it does not close f.
func modifyOpened(ctx context.Context, s *streams, f *imagefile.File, im *embed.Image, dest string, plan func(*embed.Image) (embed.Changes, error)) (*overlay.Image, error) {
	if dest == output.Stdout {
		if err := output.CheckStream(s.stdout, f.File); err != nil {
			return nil, err
		}
	}
	var pending *output.Pending
	var err error
	if dest != "" && dest != output.Stdout {
		if pending, err = output.Begin(ctx, dest, f.File, im.ISO.Size()); err != nil {
			return nil, err
		}
		defer pending.Abort()
	}
	c, err := plan(im)
	if err != nil {
		return nil, err
	}
	ov, err := im.Overlay(c)
	if err != nil {
		return nil, err
	}
	switch {
	case pending != nil:
		err = pending.Finish(ctx, ov)
	case dest == "":
		if ov.Size() != ov.BaseSize() {
			return nil, errors.New("internal error: an in-place edit that changes the image size")
		}
		err = f.Apply(ctx, ov)
	default:
		err = output.Stream(ctx, s.stdout, ov)
	}
	if err != nil {
		return nil, err
	}
	return ov, nil
}

// writeExclusive creates path with data, failing if it exists; the file
// appears only once it is complete (see output.CreateNew).
func writeExclusive(path string, data []byte, mode os.FileMode) error {
	return output.CreateNew(path, func(f *os.File) error {
		if err := f.Chmod(mode); err != nil {
			return err
		}
		_, err := f.Write(data)
		return err
	})
}
