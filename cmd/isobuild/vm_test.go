//go:build unix

package main

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
)

// fakeQEMU puts a qemu-system-x86_64 first in PATH that records its
// arguments, one per line, in the returned file, prints a console line and
// exits with status code. The e2e suite boots with the real one.
func fakeQEMU(t *testing.T, code int) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake QEMU is a shell script")
	}
	dir := t.TempDir()
	args := filepath.Join(dir, "args")
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '" + args + "'\necho guest console output\nexit " + strconv.Itoa(code) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "qemu-system-x86_64"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return args
}

func fakeISO(t *testing.T) string {
	return writeTemp(t, "live.iso", make([]byte, 64<<10))
}

func TestVMCommandLine(t *testing.T) {
	args := fakeQEMU(t, 0)
	iso := fakeISO(t)
	disk := filepath.Join(t.TempDir(), "scratch.img")
	r := ok(t, nil, "vm", "--firmware", "bios", "--accel", "tcg", "--disk", disk, "--disk-size", "2G", "--memory", "3000", "--cpus", "3", "--ssh-port", "0", iso)
	if string(r.stdout) != "guest console output\n" {
		t.Errorf("stdout %q: want the guest's console only", r.stdout)
	}
	if !strings.Contains(string(r.stderr), "a new sparse 2 GiB disk") {
		t.Errorf("stderr does not describe the new disk:\n%s", r.stderr)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(disk, &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != 2<<30 || st.Blocks*512 > 1<<20 {
		t.Errorf("%s: %d bytes, %d allocated; want a sparse 2 GiB file", disk, st.Size, st.Blocks*512)
	}
	got := strings.Split(strings.TrimSuffix(string(readTestFile(t, args)), "\n"), "\n")
	line := " " + strings.Join(got, " ") + " "
	for _, want := range []string{
		" -accel tcg ", " -m 3000 ", " -smp 3 ", " -netdev user,id=net0 ", " -monitor none ",
		" if=none,id=cd,media=cdrom,readonly=on,format=raw,file=" + iso + " ",
		" if=none,id=disk,format=raw,file=" + disk + " ",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("QEMU's arguments lack %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "pflash") {
		t.Errorf("BIOS with pflash drives:\n%s", line)
	}

	// An existing disk is used as it is: not resized, qcow2 detected.
	if err := os.WriteFile(disk, []byte("QFI\xfb\x00\x00\x00\x03"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = ok(t, nil, "vm", "--firmware", "bios", "--accel", "tcg", "--disk", disk, "--disk-size", "8G", "--ssh-port", "0", iso)
	if st, _ := os.Stat(disk); st.Size() != 8 {
		t.Errorf("the existing disk was changed: %d bytes", st.Size())
	}
	if !strings.Contains(string(r.stderr), "--disk-size only applies to a disk that is created") {
		t.Errorf("no note that --disk-size was not used:\n%s", r.stderr)
	}
	if !strings.Contains(string(readTestFile(t, args)), "format=qcow2,file="+disk) {
		t.Errorf("qcow2 disk not passed as qcow2:\n%s", readTestFile(t, args))
	}
}

func TestVMUEFITemporaryDisk(t *testing.T) {
	args := fakeQEMU(t, 0)
	fw := t.TempDir()
	code, vars := filepath.Join(fw, "code.fd"), filepath.Join(fw, "vars.fd")
	os.WriteFile(code, []byte("code"), 0o644)
	os.WriteFile(vars, []byte("vars"), 0o644)
	t.Setenv("OVMF_CODE", code)
	t.Setenv("OVMF_VARS", vars)
	ok(t, nil, "vm", "--accel", "tcg", "--ssh-port", "0", fakeISO(t))
	line := string(readTestFile(t, args))
	if !strings.Contains(line, "if=pflash,format=raw,unit=0,readonly=on,file="+code+"\n") {
		t.Errorf("OVMF code not passed read-only:\n%s", line)
	}
	// The variable store is a copy of the run's own, and the temporary
	// disk and that copy are gone afterwards.
	var copyVars, tmpDisk string
	for _, a := range strings.Split(line, "\n") {
		if v, ok := strings.CutPrefix(a, "if=pflash,format=raw,unit=1,file="); ok {
			copyVars = v
		}
		if v, ok := strings.CutPrefix(a, "if=none,id=disk,format=raw,file="); ok {
			tmpDisk = v
		}
	}
	if copyVars == "" || copyVars == vars {
		t.Errorf("variable store %q: want a copy of %s", copyVars, vars)
	}
	if tmpDisk == "" {
		t.Fatalf("no scratch disk without --disk:\n%s", line)
	}
	for _, p := range []string{copyVars, tmpDisk} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is left behind (%v)", p, err)
		}
	}
	if b, _ := os.ReadFile(vars); string(b) != "vars" {
		t.Errorf("the firmware's own variable store changed: %q", b)
	}
}

func TestVMErrors(t *testing.T) {
	iso := fakeISO(t)

	t.Run("no QEMU", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		fails(t, "install QEMU (Debian, Ubuntu: apt-get install qemu-system-x86", nil, "vm", iso)
	})
	t.Run("QEMU fails", func(t *testing.T) {
		fakeQEMU(t, 3)
		fails(t, "qemu-system-x86_64 exited with status 3", nil, "vm", "--firmware", "bios", "--accel", "tcg", "--ssh-port", "0", iso)
	})
	t.Run("no OVMF", func(t *testing.T) {
		fakeQEMU(t, 0)
		t.Setenv("OVMF_CODE", "/nonexistent/code.fd")
		t.Setenv("OVMF_VARS", "/nonexistent/vars.fd")
		fails(t, "UEFI firmware file /nonexistent/code.fd", nil, "vm", "--accel", "tcg", "--ssh-port", "0", iso)
	})
	t.Run("port in use", func(t *testing.T) {
		fakeQEMU(t, 0)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Skip(err)
		}
		defer l.Close()
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		fails(t, "port "+port+" on 127.0.0.1 is in use", nil, "vm", "--firmware", "bios", "--accel", "tcg", "--ssh-port", port, iso)
	})
	for _, c := range []struct {
		want string
		args []string
	}{
		{"--firmware must be bios or uefi", []string{"--firmware", "efi"}},
		{"invalid size \"lots\"", []string{"--disk-size", "lots"}},
		{"--memory is in MiB", []string{"--memory", "2"}},
		{"--accel must be", []string{"--accel", "fast"}},
		{"--ssh-port must be a TCP port", []string{"--ssh-port", "70000"}},
	} {
		t.Run(c.want, func(t *testing.T) {
			fakeQEMU(t, 0)
			r := fails(t, c.want, nil, append(append([]string{"vm"}, c.args...), iso)...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2 (usage)", r.code)
			}
		})
	}
	t.Run("not a file", func(t *testing.T) {
		fakeQEMU(t, 0)
		fails(t, "must be a regular file", nil, "vm", t.TempDir())
		missing := filepath.Join(t.TempDir(), "nope.iso")
		fails(t, missing+": no such file or directory (the image to boot is a file or an http:// or https:// URL)", nil, "vm", missing)
	})
}

// TestVMSerialConsoleNote: an image whose kernel arguments name no serial
// console gets a note saying how to add one; with one, no note.
func TestVMSerialConsoleNote(t *testing.T) {
	fakeQEMU(t, 0)
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	const note = "no boot entry of the image sends the console to a serial port"
	vmArgs := []string{"vm", "--firmware", "bios", "--accel", "tcg", "--ssh-port", "0", "--disk-size", "1M"}
	r := ok(t, nil, append(vmArgs, iso)...)
	if !strings.Contains(string(r.stderr), note) || !strings.Contains(string(r.stderr), "iso kargs modify -a console=ttyS0,115200n8") {
		t.Errorf("no note about the serial console:\n%s", r.stderr)
	}
	serial := filepath.Join(t.TempDir(), "serial.iso")
	ok(t, nil, "iso", "kargs", "modify", "-a", "console=ttyS0,115200n8", "-o", serial, iso)
	if r := ok(t, nil, append(vmArgs, serial)...); strings.Contains(string(r.stderr), note) {
		t.Errorf("a note about the serial console of an image that has one:\n%s", r.stderr)
	}
}
