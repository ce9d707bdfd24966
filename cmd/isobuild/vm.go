package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/isobuild/isobuild/internal/imagefile"
	"github.com/isobuild/isobuild/internal/vm"
)

const vmLong = `Boot an image in a QEMU virtual machine, to watch it before touching
hardware: the step that replaces a hand-written qemu-system-x86_64 command
line with OVMF and a blank disk.

The image is the machine's CD-ROM: a file, or an http:// or https:// URL
that QEMU reads with Range requests (its curl driver, in Debian's
qemu-block-extra package), as a BMC's virtual media does. The machine also gets a scratch disk
(a virtio disk, /dev/vda in a Linux guest) that an installer image can
install to: --disk PATH keeps it (created sparse, of --disk-size, when
PATH does not exist; an existing raw or qcow2 image is used as it is),
without --disk it is a temporary file removed when the machine ends. The
disk comes first in the boot order and the CD-ROM second: a blank disk
is skipped, so the image boots, and after an installer has written a
system to the disk and rebooted, the installed system boots. Remove the
disk file (or pass another) to install again.

Firmware: --firmware uefi (the default) uses OVMF, found where Debian,
Ubuntu, Fedora, Arch, openSUSE and Homebrew install it, or in the files
that OVMF_CODE and OVMF_VARS name; each run starts from a fresh copy of
the variable store. --firmware bios uses QEMU's SeaBIOS.

Acceleration: --accel auto uses KVM when a probe guest actually runs
under it (a /dev/kvm that exists can still fail, as in many nested
virtual machines), else QEMU's software emulation (TCG), which takes
minutes to boot a full distribution.

Networking is QEMU's user mode (outbound connections work, no root) with
127.0.0.1:--ssh-port forwarded to the guest's SSH port (0 for none).

The guest's serial console is on this terminal (the image must send its
console there, as console=ttyS0,115200n8 does): Ctrl-A X ends the machine
at once, Ctrl-A C switches to QEMU's monitor and back. When standard input
is not a terminal, the console is output only, for scripts and CI. The
command ends when the guest powers off, with QEMU's exit status.`

const vmExample = `  # Try a customized image under UEFI, with a 20 GiB scratch disk that stays:
  isobuild vm --disk scratch.img custom.iso

  # An installer image under BIOS, then log in to the installed system:
  isobuild vm --firmware bios --disk scratch.img --memory 4096 installer.iso
  ssh -p 2222 core@127.0.0.1

  # From a script: the console as output, the end when the guest powers off:
  isobuild vm --disk-size 8G custom.iso < /dev/null > console.log

  # An image that isobuild serve streams, read with Range requests as a
  # BMC's virtual media reads it:
  isobuild vm --disk scratch.img http://127.0.0.1:8080/hosts/node1.iso`

type vmOptions struct {
	firmware, disk, diskSize, accel string
	memory, cpus, sshPort           int
}

func newVMCmd(s *streams) *cobra.Command {
	var o vmOptions
	c := &cobra.Command{
		Use:     "vm [--firmware bios|uefi] [--disk PATH] [--disk-size SIZE] [--memory MIB] [--cpus N] [--ssh-port PORT] ISO",
		Short:   "Boot an image in QEMU with a scratch disk and the serial console on the terminal",
		Long:    vmLong,
		Example: vmExample,
		Args:    exactArgs(1, "the ISO to boot"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return s.runVM(cmd.Context(), o, args[0], cmd.Flags().Changed("disk-size"))
		},
	}
	f := c.Flags()
	f.StringVar(&o.firmware, "firmware", "uefi", "firmware: bios (SeaBIOS) or uefi (OVMF)")
	f.StringVar(&o.disk, "disk", "", "scratch disk image to keep (created sparse when missing; default: a temporary one)")
	f.StringVar(&o.diskSize, "disk-size", "20G", "size of a scratch disk that is created (K, M, G, T suffixes)")
	f.IntVar(&o.memory, "memory", 2048, "memory of the machine in MiB")
	f.IntVar(&o.cpus, "cpus", 2, "number of virtual CPUs")
	f.IntVar(&o.sshPort, "ssh-port", 2222, "port on 127.0.0.1 forwarded to the guest's port 22 (0: none)")
	f.StringVar(&o.accel, "accel", "auto", "accelerator: auto (KVM if usable, else TCG), kvm, tcg, hvf or whpx")
	return c
}

func (s *streams) runVM(ctx context.Context, o vmOptions, iso string, sizeGiven bool) error {
	cfg := vm.Config{Firmware: vm.Firmware(o.firmware), MemoryMiB: o.memory, CPUs: o.cpus, SSHPort: o.sshPort}
	switch {
	case cfg.Firmware != vm.BIOS && cfg.Firmware != vm.UEFI:
		return usageError{fmt.Errorf("--firmware must be bios or uefi, not %q", o.firmware)}
	case o.memory < 64:
		return usageError{fmt.Errorf("--memory is in MiB and must be at least 64, not %d", o.memory)}
	case o.cpus < 1:
		return usageError{fmt.Errorf("--cpus must be at least 1, not %d", o.cpus)}
	case o.sshPort < 0 || o.sshPort > 65535:
		return usageError{fmt.Errorf("--ssh-port must be a TCP port (1-65535), or 0 for none, not %d", o.sshPort)}
	}
	switch o.accel {
	case "auto", "kvm", "tcg", "hvf", "whpx":
	default:
		return usageError{fmt.Errorf("--accel must be auto, kvm, tcg, hvf or whpx, not %q", o.accel)}
	}
	diskSize, err := vm.ParseSize(o.diskSize)
	if err != nil {
		return usageError{fmt.Errorf("--disk-size: %w", err)}
	}
	_, isURL := vm.URLScheme(iso)
	if isURL {
		cfg.ISO = iso
	} else {
		st, err := os.Stat(iso)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return fmt.Errorf("%s: %w (the image to boot is a file or an http:// or https:// URL)", iso, err)
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s: the image to boot must be a regular file (or an http:// or https:// URL)", iso)
		}
		if cfg.ISO, err = filepath.Abs(iso); err != nil {
			return err
		}
	}
	if cfg.QEMU, err = vm.FindQEMU(); err != nil {
		return err
	}
	if isURL {
		if err := vm.CheckHTTPDriver(vm.FileExists); err != nil {
			return err
		}
	}
	if o.sshPort != 0 {
		// QEMU would only say that it cannot set up the forward.
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", o.sshPort))
		if err != nil {
			return fmt.Errorf("port %d on 127.0.0.1 is in use (another virtual machine?): pick another one with --ssh-port, or --ssh-port 0 for none", o.sshPort)
		}
		l.Close()
	}
	tmp, err := os.MkdirTemp("", "isobuild-vm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	if cfg.Firmware == vm.UEFI {
		fw, err := vm.FindOVMF(os.Getenv, vm.FileExists)
		if err != nil {
			return err
		}
		vars, err := os.ReadFile(fw.Vars)
		if err != nil {
			return err
		}
		cfg.OVMF = vm.OVMF{Code: fw.Code, Vars: filepath.Join(tmp, "OVMF_VARS.fd")}
		if err := os.WriteFile(cfg.OVMF.Vars, vars, 0o600); err != nil {
			return err
		}
	}

	var diskNote string
	switch {
	case o.disk == "":
		cfg.Disk, cfg.DiskFormat = filepath.Join(tmp, "scratch.img"), "raw"
		if err := vm.CreateDisk(cfg.Disk, diskSize); err != nil {
			return err
		}
		diskNote = fmt.Sprintf("a temporary %s scratch disk (removed at the end; --disk PATH keeps one)", sizeText(diskSize))
	default:
		if cfg.Disk, err = filepath.Abs(o.disk); err != nil {
			return err
		}
		f, err := os.Open(cfg.Disk)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := vm.CreateDisk(cfg.Disk, diskSize); err != nil {
				return fmt.Errorf("creating the scratch disk: %w", err)
			}
			cfg.DiskFormat = "raw"
			diskNote = fmt.Sprintf("%s, a new sparse %s disk", o.disk, sizeText(diskSize))
		case err != nil:
			return err
		default:
			cfg.DiskFormat, err = vm.DiskFormat(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", o.disk, err)
			}
			diskNote = fmt.Sprintf("%s (%s, as it is)", o.disk, cfg.DiskFormat)
			if sizeGiven {
				diskNote += "; --disk-size only applies to a disk that is created"
			}
		}
	}

	cfg.Accel = o.accel
	var accelNote string
	if o.accel == "auto" {
		cfg.Accel = "tcg"
		accelNote = " (KVM is not usable here: software emulation, slow)"
		if vm.KVMUsable(ctx, cfg.QEMU, tmp, 20*time.Second) {
			cfg.Accel, accelNote = "kvm", ""
		} else if runtime.GOOS != "linux" {
			accelNote = " (software emulation, slow; --accel hvf or whpx where the host offers them)"
		}
	}
	cfg.Interactive = fileIsTerminal(s.in)

	w := s.err
	fmt.Fprintf(w, "Booting %s in QEMU: %s firmware, %s%s, %d MiB, %d CPUs\n", iso, cfg.Firmware, cfg.Accel, accelNote, cfg.MemoryMiB, cfg.CPUs)
	if !isURL {
		if args, ok := s.bootArgs(ctx, iso); ok && !strings.Contains(strings.Join(args, " "), "console=ttyS") {
			fmt.Fprintf(w, "  note:    no boot entry of the image sends the console to a serial port: the kernel's messages and the login prompt go to a display this machine does not have; add one with 'isobuild iso kargs modify -a console=ttyS0,115200n8 -o serial.iso %s' (or --karg-append when building)\n", iso)
		}
	}
	fmt.Fprintf(w, "  disk:    %s\n", diskNote)
	if cfg.SSHPort != 0 {
		fmt.Fprintf(w, "  ssh:     ssh -p %d core@127.0.0.1 (once the guest runs sshd)\n", cfg.SSHPort)
	}
	if cfg.Interactive {
		fmt.Fprintln(w, "  console: the guest's serial console follows; Ctrl-A X ends the machine, Ctrl-A C the monitor")
	} else {
		fmt.Fprintln(w, "  console: the guest's serial console follows (output only); the machine ends when the guest powers off")
	}

	cmd := exec.CommandContext(ctx, cfg.QEMU, cfg.Args()...)
	if cfg.Interactive {
		cmd.Stdin = s.in
	}
	cmd.Stdout, cmd.Stderr = s.stdout, s.err
	// Stopped by a signal, QEMU gets one too, and a moment to end.
	cmd.Cancel = func() error {
		if runtime.GOOS == "windows" {
			return cmd.Process.Kill()
		}
		return cmd.Process.Signal(os.Interrupt)
	}
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("%s exited with status %d (its messages are above): %s", vm.QEMUBinary, ee.ExitCode(), strings.Join(cmd.Args, " "))
	}
	return err
}

// sizeText writes a byte count in the largest binary unit that divides it.
func sizeText(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// bootArgs returns the kernel arguments of the image's boot entries, as
// 'iso kargs show' reads them; ok is false when they cannot be read.
func (s *streams) bootArgs(ctx context.Context, iso string) (args []string, ok bool) {
	if s.bootsWithoutEmbedAreas(ctx, iso) {
		f, rm, err := s.openRemaster(ctx, iso)
		if err != nil {
			return nil, false
		}
		defer f.Close()
		for _, e := range rm.Entries() {
			args = append(args, e.Args)
		}
		return args, len(args) > 0
	}
	f, im, err := s.openImage(ctx, iso, imagefile.Read)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	k, err := im.CurrentKargs()
	if err != nil {
		return nil, false
	}
	return []string{k}, true
}
