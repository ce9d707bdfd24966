package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/isobuild/isobuild/internal/output"
	"github.com/isobuild/isobuild/pkg/blockdev"
	"github.com/isobuild/isobuild/pkg/overlay"
)

const writeLong = `Write an image to a USB stick or SD card, safely: the step that replaces
picking the stick from lsblk, unmounting it and running dd.

isobuild refuses a device that is mounted (any of its partitions), that
holds the running system's root file system or swap, that is part of an
active device-mapper, LVM or RAID device, that is read-only, or that is
smaller than the image. It refuses a device that does not look removable
(the kernel's removable flag, or a USB or MMC transport) unless --force is
given, so that an internal disk is not overwritten by a typo.

It shows the device (path, model, size, transport) and asks for
confirmation on a terminal; without a terminal it refuses unless --yes is
given. The device is opened exclusively (the kernel refuses while anything
uses it), written in 4 MiB blocks with a progress bar on a terminal,
synced, then read back and compared with the image by sha256 (--no-verify
skips the read-back).

A DEVICE that is a regular file, or a path outside /dev that does not
exist, is written like 'build -o FILE': a new file that never replaces an
existing one.

--list shows the candidate devices, removable ones first, with model, size,
transport and what uses them.

'isobuild build ... -o DEVICE' writes the customized image straight to a
device in one pass, with the same checks (there --force-device allows a
non-removable device, since --force means something else to build).

Linux only for now; on macOS and Windows write the image with dd or Rufus.`

const writeExample = `  # Which devices are there?
  isobuild write --list

  # Write an image to the USB stick sdb (asks before writing):
  isobuild write custom.iso /dev/sdb

  # From a script, by a stable name:
  isobuild write --yes custom.iso /dev/disk/by-id/usb-SanDisk_Ultra_0401-0:0

  # An external SSD that the kernel does not call removable:
  isobuild write --force custom.iso /dev/sdc

  # Customize and write in one pass, without an intermediate file:
  isobuild build --butane config.bu -o /dev/sdb fedora-coreos-live.x86_64.iso`

type writeOptions struct {
	yes, force, noVerify, list bool
}

func newWriteCmd(s *streams) *cobra.Command {
	var o writeOptions
	c := &cobra.Command{
		Use:     "write [--yes] [--force] [--no-verify] IMAGE DEVICE | --list",
		Short:   "Write an image to a USB stick or SD card, refusing disks in use",
		Long:    writeLong,
		Example: writeExample,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.list {
				return exactArgs(0, "no arguments with --list")(cmd, args)
			}
			return exactArgs(2, "IMAGE and DEVICE")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.list {
				ds, err := blockdev.Candidates()
				if err != nil {
					return err
				}
				return writeDeviceList(s.out, ds)
			}
			return s.writeImage(cmd.Context(), o, args[0], args[1])
		},
	}
	f := c.Flags()
	f.BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation (needed without a terminal)")
	f.BoolVar(&o.force, "force", false, "allow a device that does not look removable")
	f.BoolVar(&o.noVerify, "no-verify", false, "do not read the device back to compare it with the image")
	f.BoolVarP(&o.list, "list", "l", false, "list candidate devices and exit")
	return c
}

// writeImage writes the image at src to dest, a device or a new file.
func (s *streams) writeImage(ctx context.Context, o writeOptions, src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s: the image must be a regular file", src)
	}
	size := st.Size()

	dst, err := os.Stat(dest)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !isDevicePath(dest):
		return s.writeNewFile(ctx, in, size, dest)
	case err == nil && dst.Mode().IsRegular():
		return s.writeNewFile(ctx, in, size, dest) // refused: it exists
	case err == nil && dst.IsDir():
		return fmt.Errorf("%s is a directory; give the device (see 'isobuild write --list') or a new file name", dest)
	case err != nil && !isDevicePath(dest):
		return err
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no such device %s; see 'isobuild write --list'", dest)
	}
	if os.SameFile(st, dst) {
		return fmt.Errorf("%s is the image itself", dest)
	}
	d, err := s.prepareDevice(ctx, o, src, dest, size)
	if err != nil {
		return err
	}
	return s.writeToDevice(ctx, o, d, in, size)
}

// prepareDevice describes the device at path, checks it for an image of
// size bytes and asks for confirmation.
func (s *streams) prepareDevice(ctx context.Context, o writeOptions, image, path string, size int64) (*blockdev.Device, error) {
	d, err := blockdev.Lookup(path)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(s.err, "Device: %s\n", d.Summary())
	terminal := fileIsTerminal(s.in) && fileIsTerminal(s.err)
	if err := blockdev.Check(d, size, blockdev.CheckOptions{Force: o.force, Yes: o.yes, Terminal: terminal}); err != nil {
		return nil, err
	}
	if !o.yes {
		fmt.Fprintf(s.err, "Write %s to %s? This destroys all data on it [y/N] ", image, d.Path)
		line, _ := bufio.NewReader(cancelable(ctx, s.in)).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			return nil, fmt.Errorf("not confirmed: nothing was written to %s", d.Path)
		}
	}
	return d, nil
}

// writeToDevice writes size bytes of src to d, which prepareDevice
// checked, and reports how it went.
func (s *streams) writeToDevice(ctx context.Context, o writeOptions, d *blockdev.Device, src io.ReaderAt, size int64) error {
	if size > d.Size {
		return &blockdev.RefusedError{Device: d.Path, Reason: fmt.Sprintf("the image grew to %d bytes, more than the device's %d", size, d.Size), Hint: "use a bigger device", Err: blockdev.ErrTooSmall}
	}
	f, err := blockdev.Open(d)
	if err != nil {
		return err
	}
	start := time.Now()
	prog, done := writeProgress(s.err, size)
	res, err := blockdev.Write(ctx, f, src, size, blockdev.WriteOptions{NoVerify: o.noVerify, Progress: prog})
	done()
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing %s: %w", d.Path, cerr)
	}
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(s.err, "Wrote %s to %s in %.1fs (%s/s)", blockdev.HumanSize(res.Written), d.Path, secs, blockdev.HumanSize(int64(float64(res.Written)/max(secs, 0.001))))
	if res.Verified {
		fmt.Fprintf(s.err, "; read back and verified, sha256 %s\n", res.Hex())
	} else {
		fmt.Fprintf(s.err, "; not read back (--no-verify)\n")
	}
	return nil
}

// addDeviceFlags lets a command whose -o is a device write to it (see
// output.WithDevice), with the checks and confirmation of 'isobuild
// write'. --force is --force-device here, since commands that write
// images have a --force of their own.
func addDeviceFlags(c *cobra.Command, s *streams) {
	var o writeOptions
	f := c.Flags()
	f.BoolVar(&o.yes, "yes", false, "with -o DEVICE: do not ask for confirmation (needed without a terminal)")
	f.BoolVar(&o.force, "force-device", false, "with -o DEVICE: allow a device that does not look removable")
	f.BoolVar(&o.noVerify, "no-verify", false, "with -o DEVICE: do not read the device back to compare it with the image")
	run := c.RunE
	c.RunE = func(cmd *cobra.Command, args []string) error {
		cmd.SetContext(output.WithDevice(cmd.Context(), func(ctx context.Context, path string, size int64) (func(context.Context, *overlay.Image) error, error) {
			d, err := s.prepareDevice(ctx, o, "the image", path, size)
			if err != nil {
				return nil, err
			}
			return func(ctx context.Context, img *overlay.Image) error {
				return s.writeToDevice(ctx, o, d, img, img.Size())
			}, nil
		}))
		return run(cmd, args)
	}
}

// writeNewFile writes the image to a new file, as 'build -o FILE' does.
func (s *streams) writeNewFile(ctx context.Context, in *os.File, size int64, dest string) error {
	if err := output.NewFile(ctx, dest, overlay.New(in, size)); err != nil {
		return err
	}
	fmt.Fprintf(s.err, "Wrote %s to %s (a regular file)\n", blockdev.HumanSize(size), dest)
	return nil
}

// isDevicePath reports whether a path names a device, so that a mistyped
// one is not created as a regular file.
func isDevicePath(p string) bool {
	return strings.HasPrefix(p, "/dev/") || strings.HasPrefix(p, `\\.\`)
}

// fileIsTerminal reports whether r or w is a terminal.
func fileIsTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	is := false
	rc.Control(func(fd uintptr) { is = term.IsTerminal(int(fd)) })
	return is
}

// writeProgress returns the progress callback of a write: a bar on a
// terminal, nothing otherwise. done ends the bar.
func writeProgress(w io.Writer, size int64) (func(done, total int64, verifying bool), func()) {
	if !fileIsTerminal(w) {
		return nil, func() {}
	}
	newBar := func(what string) *progressbar.ProgressBar {
		return progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(what),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	}
	bar := newBar("Writing  ")
	verifying := false
	return func(done, total int64, v bool) {
			if v && !verifying {
				bar.Finish()
				bar, verifying = newBar("Verifying"), true
			}
			bar.Set64(done)
		}, func() {
			if !bar.IsFinished() {
				bar.Exit()
				fmt.Fprintln(w)
			}
		}
}

// writeDeviceList prints the candidate devices as a table.
func writeDeviceList(w io.Writer, ds []*blockdev.Device) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tSIZE\tTRANSPORT\tREMOVABLE\tMODEL\tIN USE")
	for _, d := range ds {
		rm := "no"
		if d.Removable() {
			rm = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Path, blockdev.HumanSize(d.Size), dash(d.Transport), rm, dash(d.Model), dash(inUse(d)))
	}
	return tw.Flush()
}

// inUse says what uses a device, for the list.
func inUse(d *blockdev.Device) string {
	var u []string
	for _, m := range d.Mounts {
		u = append(u, fmt.Sprintf("%s on %s", m.Source, m.Point))
	}
	for _, sw := range d.Swaps {
		u = append(u, sw+" swap")
	}
	for _, h := range d.Holders {
		s := h.On + " held by " + h.Name
		if h.Label != "" {
			s += " (" + h.Label + ")"
		}
		u = append(u, s)
	}
	return strings.Join(u, ", ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
