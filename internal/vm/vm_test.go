package vm

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// argAfter returns the values that follow each occurrence of flag.
func argsAfter(args []string, flag string) []string {
	var v []string
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			v = append(v, args[i+1])
		}
	}
	return v
}

func TestArgs(t *testing.T) {
	base := Config{QEMU: "qemu", Accel: "tcg", Firmware: BIOS, ISO: "/img/a,b.iso", MemoryMiB: 2048, CPUs: 2}

	t.Run("bios without disk", func(t *testing.T) {
		a := base.Args()
		if got := argsAfter(a, "-accel"); !slices.Equal(got, []string{"tcg"}) {
			t.Errorf("-accel %q", got)
		}
		if got := argsAfter(a, "-cpu"); !slices.Equal(got, []string{"max"}) {
			t.Errorf("TCG: -cpu %q, want max", got)
		}
		if got := argsAfter(a, "-m"); !slices.Equal(got, []string{"2048"}) {
			t.Errorf("-m %q", got)
		}
		drives := argsAfter(a, "-drive")
		// A comma in a path is doubled in QEMU's option syntax.
		if !slices.Equal(drives, []string{"if=none,id=cd,media=cdrom,readonly=on,format=raw,file=/img/a,,b.iso"}) {
			t.Errorf("drives %q: want only the CD-ROM (no pflash for BIOS, no disk)", drives)
		}
		if got := argsAfter(a, "-netdev"); !slices.Equal(got, []string{"user,id=net0"}) {
			t.Errorf("-netdev %q, want user networking without a forward", got)
		}
		if got := argsAfter(a, "-monitor"); !slices.Equal(got, []string{"none"}) {
			t.Errorf("non-interactive: -monitor %q, want none", got)
		}
	})

	t.Run("uefi with disk and ssh, interactive", func(t *testing.T) {
		c := base
		c.Firmware, c.OVMF = UEFI, OVMF{Code: "/fw/code.fd", Vars: "/tmp/x/vars.fd"}
		c.Disk, c.DiskFormat, c.SSHPort, c.Interactive, c.Accel = "/d/disk.qcow2", "qcow2", 2222, true, "kvm"
		a := c.Args()
		drives := argsAfter(a, "-drive")
		want := []string{
			"if=pflash,format=raw,unit=0,readonly=on,file=/fw/code.fd",
			"if=pflash,format=raw,unit=1,file=/tmp/x/vars.fd",
			"if=none,id=cd,media=cdrom,readonly=on,format=raw,file=/img/a,,b.iso",
			"if=none,id=disk,format=qcow2,file=/d/disk.qcow2",
		}
		if !slices.Equal(drives, want) {
			t.Errorf("drives\n%q\nwant\n%q", drives, want)
		}
		devs := argsAfter(a, "-device")
		// The disk boots first: an installed system starts after the
		// installer's reboot; a blank disk falls through to the CD.
		for _, d := range []string{"virtio-blk-pci,drive=disk,bootindex=1", "ide-cd,drive=cd,bootindex=2", "virtio-net-pci,netdev=net0"} {
			if !slices.Contains(devs, d) {
				t.Errorf("devices %q lack %s", devs, d)
			}
		}
		if got := argsAfter(a, "-netdev"); !slices.Equal(got, []string{"user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22"}) {
			t.Errorf("-netdev %q", got)
		}
		if got := argsAfter(a, "-cpu"); !slices.Equal(got, []string{"host"}) {
			t.Errorf("KVM: -cpu %q, want host", got)
		}
		if got := argsAfter(a, "-chardev"); len(got) != 1 || !strings.Contains(got[0], "mux=on") {
			t.Errorf("interactive: -chardev %q, want the console multiplexed with the monitor", got)
		}
		if slices.Contains(a, "-monitor") {
			t.Errorf("interactive: %q has -monitor none", a)
		}
	})
}

func TestFindOVMF(t *testing.T) {
	files := map[string]bool{}
	exists := func(p string) bool { return files[p] }
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }

	if _, err := FindOVMF(getenv, exists); err == nil || !strings.Contains(err.Error(), "apt-get install ovmf") || !strings.Contains(err.Error(), "--firmware bios") {
		t.Errorf("no firmware: %v, want an error naming the package and --firmware bios", err)
	}
	// A code file without its variable store does not count.
	files["/usr/share/OVMF/OVMF_CODE_4M.fd"] = true
	files["/usr/share/edk2/ovmf/OVMF_CODE.fd"] = true
	files["/usr/share/edk2/ovmf/OVMF_VARS.fd"] = true
	if o, err := FindOVMF(getenv, exists); err != nil || o.Code != "/usr/share/edk2/ovmf/OVMF_CODE.fd" || o.Vars != "/usr/share/edk2/ovmf/OVMF_VARS.fd" {
		t.Errorf("Fedora's: %+v, %v", o, err)
	}
	files["/usr/share/OVMF/OVMF_VARS_4M.fd"] = true
	if o, err := FindOVMF(getenv, exists); err != nil || o.Code != "/usr/share/OVMF/OVMF_CODE_4M.fd" {
		t.Errorf("Debian's first: %+v, %v", o, err)
	}
	env["OVMF_CODE"] = "/my/code.fd"
	if _, err := FindOVMF(getenv, exists); err == nil || !strings.Contains(err.Error(), "both") {
		t.Errorf("OVMF_CODE alone: %v", err)
	}
	env["OVMF_VARS"] = "/my/vars.fd"
	if _, err := FindOVMF(getenv, exists); err == nil || !strings.Contains(err.Error(), "/my/code.fd") {
		t.Errorf("missing OVMF_CODE file: %v", err)
	}
	files["/my/code.fd"], files["/my/vars.fd"] = true, true
	if o, err := FindOVMF(getenv, exists); err != nil || o != (OVMF{"/my/code.fd", "/my/vars.fd"}) {
		t.Errorf("from the environment: %+v, %v", o, err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"20G": 20 << 30, "20g": 20 << 30, "20GiB": 20 << 30, "20GB": 20 << 30, "512M": 512 << 20,
		"64MiB": 64 << 20, "1T": 1 << 40, "4096": 4096, "4096B": 4096, " 8K ": 8 << 10,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "0", "-1G", "1.5G", "12X", "9999999999T"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestDiskFormatAndCreate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "d.img")
	if err := CreateDisk(p, 1<<30); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Size() != 1<<30 {
		t.Fatalf("created disk: %v, %v", st, err)
	}
	if err := CreateDisk(p, 1<<20); err == nil {
		t.Error("CreateDisk over an existing file succeeded")
	}
	if st, _ := os.Stat(p); st.Size() != 1<<30 {
		t.Error("CreateDisk changed an existing file")
	}
	for data, want := range map[string]string{"QFI\xfb\x00\x00\x00\x03": "qcow2", "QFI": "raw", "": "raw", "\x00\x00\x00\x00": "raw"} {
		if got, err := DiskFormat(bytes.NewReader([]byte(data))); err != nil || got != want {
			t.Errorf("DiskFormat(%q) = %q, %v; want %q", data, got, err, want)
		}
	}
}

func TestProbeImage(t *testing.T) {
	img := probeImage()
	if len(img) != 1<<20 || img[510] != 0x55 || img[511] != 0xaa {
		t.Fatal("not a 1 MiB disk with a boot signature")
	}
	// mov si,0x7c17: the message must start at offset 0x17 of the sector.
	if !bytes.HasPrefix(img[0x17:], []byte(probeMessage+"\r\n\x00")) {
		t.Errorf("the message is not at 0x7c17: %q", img[0x17:0x17+24])
	}
}

// TestProbeUnderTCG runs the accelerator probe's guest under TCG, so that
// a broken boot sector cannot hide behind "KVM is not usable here".
func TestProbeUnderTCG(t *testing.T) {
	qemu, err := exec.LookPath(QEMUBinary)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing in CI", QEMUBinary)
		}
		t.Skipf("%s not installed", QEMUBinary)
	}
	if !probe(context.Background(), qemu, "tcg", t.TempDir(), 30*time.Second) {
		t.Errorf("the probe guest printed no %s under TCG within 30 s", probeMessage)
	}
}

func TestURLImage(t *testing.T) {
	c := Config{Accel: "tcg", Firmware: BIOS, ISO: "https://h.example/hosts/n1.iso?a=1,2", MemoryMiB: 512, CPUs: 1}
	drives := argsAfter(c.Args(), "-drive")
	want := "if=none,id=cd,media=cdrom,readonly=on,format=raw,file.driver=https,file.url=https://h.example/hosts/n1.iso?a=1,,2"
	if !slices.Equal(drives, []string{want}) {
		t.Errorf("drives %q, want %q", drives, want)
	}
	for iso, want := range map[string]bool{"http://x/a.iso": true, "https://x/a.iso": true, "/srv/http://a.iso": false, "ftp://x/a.iso": false, "a.iso": false} {
		if _, got := URLScheme(iso); got != want {
			t.Errorf("URLScheme(%q) = %v, want %v", iso, got, want)
		}
	}

	files := map[string]bool{}
	exists := func(p string) bool { return files[p] }
	if err := CheckHTTPDriver(exists); err != nil {
		t.Errorf("no module directory (drivers built in): %v", err)
	}
	files["/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so"] = true
	if err := CheckHTTPDriver(exists); err == nil || !strings.Contains(err.Error(), "apt-get install qemu-block-extra") {
		t.Errorf("modules without block-curl: %v, want an error naming the package", err)
	}
	files["/usr/lib/x86_64-linux-gnu/qemu/block-curl.so"] = true
	if err := CheckHTTPDriver(exists); err != nil {
		t.Errorf("with block-curl: %v", err)
	}
}
