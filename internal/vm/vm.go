// Package vm starts a live or installer image in QEMU, the way a user
// tries it before writing a USB stick: the image as a CD-ROM, a scratch
// disk to install to, user networking with an SSH port forward and the
// serial console on the terminal.
//
// The package finds the pieces (the QEMU binary, the UEFI firmware, a usable
// accelerator) and turns a Config into QEMU's command line; the caller runs
// it. QEMU is the one tool that boots every firmware and medium combination
// on every host isobuild runs on, so nothing here emulates anything.
package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Firmware is what the virtual machine starts with.
type Firmware string

const (
	// BIOS is SeaBIOS, QEMU's built-in PC firmware.
	BIOS Firmware = "bios"
	// UEFI is OVMF, the EDK II firmware for virtual machines.
	UEFI Firmware = "uefi"
)

// Config is one virtual machine.
type Config struct {
	// QEMU is the qemu-system-x86_64 binary.
	QEMU string
	// Accel is QEMU's accelerator: kvm, tcg, hvf or whpx.
	Accel    string
	Firmware Firmware
	// OVMF is the firmware of a UEFI machine: Code read-only, Vars a
	// writable copy of the variable store that belongs to this run.
	OVMF OVMF
	// ISO is the image, attached as a read-only CD-ROM.
	ISO string
	// Disk is the scratch disk (a virtio disk, /dev/vda in a Linux guest),
	// or empty for none; DiskFormat is raw or qcow2.
	Disk, DiskFormat string
	MemoryMiB        int
	CPUs             int
	// SSHPort, when not 0, forwards this TCP port on 127.0.0.1 to the
	// guest's port 22.
	SSHPort int
	// Interactive multiplexes QEMU's monitor onto the serial console
	// (Ctrl-A X quits, Ctrl-A C switches to the monitor); otherwise the
	// console is output only and the guest gets no input.
	Interactive bool
}

// OVMF names the two files of UEFI firmware for QEMU's pflash drives.
type OVMF struct {
	Code, Vars string
}

// Args is QEMU's command line for c, without the binary.
//
// The scratch disk boots first and the CD-ROM second: a blank disk is
// skipped by both firmwares, so the image starts, and once an installer
// has written a bootable system to the disk, the next boot (a reboot of
// the guest) starts the installed system.
func (c Config) Args() []string {
	a := []string{
		"-machine", "pc", "-accel", c.Accel,
		"-m", strconv.Itoa(c.MemoryMiB), "-smp", strconv.Itoa(c.CPUs),
		"-nodefaults", "-no-user-config", "-display", "none", "-vga", "std",
	}
	switch c.Accel {
	case "tcg":
		// QEMU's default CPU model lacks the x86-64-v2 features that
		// current distributions need.
		a = append(a, "-cpu", "max")
	case "kvm", "hvf":
		a = append(a, "-cpu", "host")
	}
	if c.Firmware == UEFI {
		a = append(a,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+optionValue(c.OVMF.Code),
			"-drive", "if=pflash,format=raw,unit=1,file="+optionValue(c.OVMF.Vars))
	}
	cd := "if=none,id=cd,media=cdrom,readonly=on,format=raw,file=" + optionValue(c.ISO)
	if scheme, ok := URLScheme(c.ISO); ok {
		// QEMU's curl driver reads the image with Range requests, as a
		// BMC's virtual media does.
		cd = "if=none,id=cd,media=cdrom,readonly=on,format=raw,file.driver=" + scheme + ",file.url=" + optionValue(c.ISO)
	}
	a = append(a, "-drive", cd, "-device", "ide-cd,drive=cd,bootindex=2")
	if c.Disk != "" {
		format := c.DiskFormat
		if format == "" {
			format = "raw"
		}
		a = append(a,
			"-drive", "if=none,id=disk,format="+format+",file="+optionValue(c.Disk),
			"-device", "virtio-blk-pci,drive=disk,bootindex=1")
	}
	net := "user,id=net0"
	if c.SSHPort != 0 {
		net += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:22", c.SSHPort)
	}
	a = append(a, "-netdev", net, "-device", "virtio-net-pci,netdev=net0")
	if c.Interactive {
		a = append(a, "-chardev", "stdio,id=console,mux=on,signal=off",
			"-serial", "chardev:console", "-mon", "chardev=console,mode=readline")
	} else {
		a = append(a, "-chardev", "stdio,id=console,signal=off",
			"-serial", "chardev:console", "-monitor", "none")
	}
	return a
}

// URLScheme reports whether iso is an http or https URL, and which.
func URLScheme(iso string) (string, bool) {
	for _, scheme := range []string{"http", "https"} {
		if strings.HasPrefix(iso, scheme+"://") {
			return scheme, true
		}
	}
	return "", false
}

// curlModuleDirs are where distributions keep QEMU's loadable modules;
// the HTTP driver is block-curl.so there.
var curlModuleDirs = []string{"/usr/lib/x86_64-linux-gnu/qemu", "/usr/lib64/qemu", "/usr/lib/qemu"}

// CheckHTTPDriver returns an error naming the package when QEMU keeps its
// block drivers as modules (a module directory exists) and the curl one
// is not among them. Where no module directory exists, the driver may be
// built in, and QEMU itself reports a missing one.
func CheckHTTPDriver(exists func(string) bool) error {
	found := false
	for _, d := range curlModuleDirs {
		if exists(filepath.Join(d, "block-curl.so")) {
			return nil
		}
		if exists(filepath.Join(d, "accel-tcg-x86_64.so")) || exists(filepath.Join(d, "block-iscsi.so")) {
			found = true
		}
	}
	if !found {
		return nil
	}
	return errors.New("QEMU's HTTP block driver (block-curl) is not installed: install it (Debian, Ubuntu: apt-get install qemu-block-extra; Fedora: dnf install qemu-block-curl), or download the image and boot the file")
}

// optionValue escapes a value for a QEMU option list, where a comma
// separates options and two commas stand for one.
func optionValue(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// QEMUBinary is the QEMU system emulator for x86-64 guests.
const QEMUBinary = "qemu-system-x86_64"

// FindQEMU looks the emulator up in PATH.
func FindQEMU() (string, error) {
	p, err := exec.LookPath(QEMUBinary)
	if err != nil {
		return "", fmt.Errorf("%s not found in PATH: install QEMU (%s)", QEMUBinary, installHint("qemu"))
	}
	return p, nil
}

// installHint says how the usual package managers install a tool.
func installHint(what string) string {
	switch what {
	case "qemu":
		if runtime.GOOS == "darwin" {
			return "brew install qemu"
		}
		if runtime.GOOS == "windows" {
			return "from https://www.qemu.org/download/, then add it to PATH"
		}
		return "Debian, Ubuntu: apt-get install qemu-system-x86; Fedora: dnf install qemu-system-x86; Arch: pacman -S qemu-system-x86"
	default: // ovmf
		if runtime.GOOS == "darwin" {
			return "brew install qemu brings it"
		}
		return "Debian, Ubuntu: apt-get install ovmf; Fedora: dnf install edk2-ovmf; Arch: pacman -S edk2-ovmf"
	}
}

// ovmfPlaces are the code and variable-store files of x86-64 OVMF builds
// without Secure Boot, where distributions install them, best first.
var ovmfPlaces = []OVMF{
	{"/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"},                         // Debian, Ubuntu
	{"/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"},                               // older Debian, Ubuntu
	{"/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd"},                     // Fedora
	{"/usr/share/edk2/x64/OVMF_CODE.4m.fd", "/usr/share/edk2/x64/OVMF_VARS.4m.fd"},                 // Arch
	{"/usr/share/edk2-ovmf/x64/OVMF_CODE.fd", "/usr/share/edk2-ovmf/x64/OVMF_VARS.fd"},             // older Arch
	{"/usr/share/qemu/ovmf-x86_64-code.bin", "/usr/share/qemu/ovmf-x86_64-vars.bin"},               // openSUSE
	{"/usr/share/qemu/edk2-x86_64-code.fd", "/usr/share/qemu/edk2-i386-vars.fd"},                   // QEMU's own build
	{"/opt/homebrew/share/qemu/edk2-x86_64-code.fd", "/opt/homebrew/share/qemu/edk2-i386-vars.fd"}, // Homebrew, Apple silicon
	{"/usr/local/share/qemu/edk2-x86_64-code.fd", "/usr/local/share/qemu/edk2-i386-vars.fd"},       // Homebrew, Intel
}

// FindOVMF returns the firmware named by the environment variables
// OVMF_CODE and OVMF_VARS (getenv), else the first pair of ovmfPlaces
// whose two files exist.
func FindOVMF(getenv func(string) string, exists func(string) bool) (OVMF, error) {
	code, vars := getenv("OVMF_CODE"), getenv("OVMF_VARS")
	if code != "" || vars != "" {
		if code == "" || vars == "" {
			return OVMF{}, errors.New("set both OVMF_CODE and OVMF_VARS, or neither")
		}
		for _, f := range []string{code, vars} {
			if !exists(f) {
				return OVMF{}, fmt.Errorf("UEFI firmware file %s (from OVMF_CODE/OVMF_VARS) does not exist", f)
			}
		}
		return OVMF{code, vars}, nil
	}
	for _, o := range ovmfPlaces {
		if exists(o.Code) && exists(o.Vars) {
			return o, nil
		}
	}
	var dirs []string
	seen := map[string]bool{}
	for _, o := range ovmfPlaces {
		if d := filepath.Dir(o.Code); !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return OVMF{}, fmt.Errorf("UEFI firmware (OVMF) not found in %s: install it (%s), set OVMF_CODE and OVMF_VARS to its files, or use --firmware bios",
		strings.Join(dirs, ", "), installHint("ovmf"))
}

// FileExists reports whether p is an existing regular file (FindOVMF's
// exists on a real system).
func FileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// probeSector is a boot sector that writes probeMessage to the first
// serial port and halts:
//
//	xor ax,ax; mov ds,ax; mov si,0x7c17; mov dx,0x3f8; cld
//	1: lodsb; test al,al; jz 2f; out dx,al; jmp 1b
//	2: cli; hlt; jmp 2b
//
// followed by the message at 0x7c17 (offset 23).
var probeCode = []byte{0x31, 0xc0, 0x8e, 0xd8, 0xbe, 0x17, 0x7c, 0xba, 0xf8, 0x03, 0xfc,
	0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, 0xfa, 0xf4, 0xeb, 0xfd}

const probeMessage = "ISOBUILD-KVM-PROBE-OK"

// probeImage is a 1 MiB disk whose boot sector is the probe.
func probeImage() []byte {
	img := make([]byte, 1<<20)
	n := copy(img, probeCode)
	copy(img[n:], probeMessage+"\r\n\x00")
	img[510], img[511] = 0x55, 0xaa
	return img
}

// KVMUsable reports whether a guest actually runs under KVM: /dev/kvm can
// exist and still fail (nested virtualization where QEMU aborts with
// "failed to set MSR", or a guest that hangs on "KVM internal error"), so
// it boots a one-sector guest under KVM and waits up to timeout for its
// message. dir holds the probe's disk for the run.
func KVMUsable(ctx context.Context, qemu, dir string, timeout time.Duration) bool {
	if runtime.GOOS != "linux" {
		return false
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return probe(ctx, qemu, "kvm", dir, timeout)
}

// probe boots the probe guest under accel and reports whether its message
// arrived within timeout.
func probe(ctx context.Context, qemu, accel, dir string, timeout time.Duration) bool {
	img := filepath.Join(dir, "accel-probe.img")
	if err := os.WriteFile(img, probeImage(), 0o600); err != nil {
		return false
	}
	defer os.Remove(img)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := []string{"-machine", "pc", "-accel", accel, "-m", "64",
		"-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none",
		"-drive", "file=" + optionValue(img) + ",format=raw,if=ide,snapshot=on", "-boot", "c",
		"-chardev", "stdio,id=s,signal=off", "-serial", "chardev:s", "-no-reboot"}
	if accel == "kvm" {
		args = append(args, "-cpu", "host")
	}
	out := &watchWriter{want: []byte(probeMessage), found: make(chan struct{})}
	cmd := exec.CommandContext(ctx, qemu, args...)
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		return false
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	ok := false
	select {
	case <-out.found:
		ok = true
	case <-exited:
	case <-ctx.Done():
	}
	cancel()
	<-exited
	return ok
}

// watchWriter closes found when what was written so far contains want.
type watchWriter struct {
	want, seen []byte
	found      chan struct{}
	done       bool
}

func (w *watchWriter) Write(p []byte) (int, error) {
	if !w.done && len(w.seen) < 1<<16 {
		w.seen = append(w.seen, p...)
		if bytes.Contains(w.seen, w.want) {
			w.done = true
			close(w.found)
		}
	}
	return len(p), nil
}

// qcow2Magic starts every qcow2 image.
var qcow2Magic = []byte{'Q', 'F', 'I', 0xfb}

// DiskFormat says whether the disk image in r is qcow2 or raw, by the
// qcow2 magic at its start.
func DiskFormat(r io.ReaderAt) (string, error) {
	b := make([]byte, len(qcow2Magic))
	n, err := r.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	if n == len(b) && bytes.Equal(b, qcow2Magic) {
		return "qcow2", nil
	}
	return "raw", nil
}

// CreateDisk makes a sparse raw disk of size bytes at path, which must
// not exist yet.
func CreateDisk(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// ParseSize reads a disk size: a number of bytes with an optional suffix
// K, M, G or T (powers of 1024; KiB, MiB, ... and KB, MB, ... mean the
// same, as in qemu-img).
func ParseSize(s string) (int64, error) {
	num, mult := splitSize(strings.ToUpper(strings.TrimSpace(s)))
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q: want a positive number with an optional K, M, G or T suffix, like 20G", s)
	}
	return n * mult, nil
}

// splitSize splits an upper-case size into its number and the multiplier
// of its suffix.
func splitSize(u string) (string, int64) {
	for i, unit := range "KMGT" {
		for _, form := range []string{string(unit) + "IB", string(unit) + "B", string(unit)} {
			if strings.HasSuffix(u, form) {
				return strings.TrimSuffix(u, form), 1 << (10 * (i + 1))
			}
		}
	}
	return strings.TrimSuffix(u, "B"), 1
}
