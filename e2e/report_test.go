//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// entry is one file system object that Ignition left in the guest's target
// root, from an "E2E-ENTRY:" line of the report.
type entry struct {
	Type   byte   // 'f' file, 'd' directory, 'l' symlink, 'o' other
	Mode   uint32 // permission bits, including setuid/setgid/sticky
	UID    int
	GID    int
	Size   int64  // files only, else -1
	SHA256 string // files only
	Target string // symlinks only
	Path   string
}

func (e entry) String() string {
	switch e.Type {
	case 'f':
		return fmt.Sprintf("file %04o %d:%d %6d %.16s… %s", e.Mode, e.UID, e.GID, e.Size, e.SHA256, e.Path)
	case 'l':
		return fmt.Sprintf("link %04o %d:%d %s -> %s", e.Mode, e.UID, e.GID, e.Path, e.Target)
	case 'd':
		return fmt.Sprintf("dir  %04o %d:%d %s", e.Mode, e.UID, e.GID, e.Path)
	}
	return fmt.Sprintf("%c    %04o %d:%d %s", e.Type, e.Mode, e.UID, e.GID, e.Path)
}

// keyfile is a file in the guest's etc/coreos-firstboot-network/, from an
// "E2E-KEYFILE:" line.
type keyfile struct {
	Mode   uint32
	Size   int64
	SHA256 string
}

// bootReport is what one boot-check.sh run reported.
type bootReport struct {
	Mode       string
	Result     string // PASS or FAIL, from the BOOT-CHECK line
	Outcome    string // how the QEMU run ended: finished, fatal, exited or timeout
	Firmware   string
	Accel      string
	BootedFrom string            // SeaBIOS's boot device (cdrom, disk) or GRUB's ((cd0), (hd0,msdos2)); "-" if none
	Copy       string            // uefi-usb: what boot-check.sh changed in the copy it booted (BOOT-COPY)
	Fatal      map[string]string // source (firmware, serial, qemu) -> the first fatal message (BOOT-FATAL)
	Grub       []string          // GRUB's E2E-GRUB lines
	Seconds    float64           // the QEMU run
	KernelAt   float64           // when the kernel started, from the start of the run (-1: never)
	InitAt     float64           // when /init started (-1: never)

	Markers        bool     // both E2E-INIT-BEGIN and E2E-INIT-END seen
	Cmdline        []string // kernel arguments, in order
	Config         string   // "none" or "present"
	ConfigSize     int64
	ConfigSHA256   string
	InitramfsError string
	Keyfiles       map[string]keyfile
	Ignition       string // "fetch=0 files=0", or "" if Ignition did not run
	IgnitionLog    []string
	Entries        map[string]entry
	Paths          []string // Entries' keys, sorted
	Install        string   // the E2E-INSTALL line's text, "" without one

	ExitCode       int // of boot-check.sh
	Stdout, Stderr string
}

// parseReport reads boot-check.sh's standard output.
func parseReport(stdout string) (bootReport, error) {
	r := bootReport{Keyfiles: map[string]keyfile{}, Entries: map[string]entry{}, Fatal: map[string]string{},
		Stdout: stdout, Seconds: -1, KernelAt: -1, InitAt: -1}
	var begin, end bool
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		key, val, _ := strings.Cut(line, ": ")
		switch {
		case line == "E2E-INIT-BEGIN":
			begin = true
		case line == "E2E-INIT-END":
			end = true
		case key == "E2E-GRUB":
			r.Grub = append(r.Grub, val)
		case key == "BOOT-COPY":
			r.Copy = val
		case key == "BOOT-FATAL":
			src, msg, ok := strings.Cut(val, ": ")
			if !ok {
				return r, fmt.Errorf("bad line %q", line)
			}
			r.Fatal[src] = msg
		case key == "E2E-CMDLINE":
			r.Cmdline = strings.Fields(val)
		case key == "E2E-FIRMWARE":
			r.Firmware = val
		case key == "E2E-INITRAMFS-ERROR":
			r.InitramfsError = val
		case key == "E2E-CONFIG":
			f := strings.Fields(val)
			if len(f) == 0 {
				return r, fmt.Errorf("bad line %q", line)
			}
			r.Config = f[0]
			if f[0] == "present" {
				if len(f) != 3 {
					return r, fmt.Errorf("bad line %q", line)
				}
				n, err := strconv.ParseInt(f[1], 10, 64)
				if err != nil {
					return r, fmt.Errorf("bad line %q: %v", line, err)
				}
				r.ConfigSize, r.ConfigSHA256 = n, f[2]
			}
		case key == "E2E-KEYFILE":
			f := strings.SplitN(val, " ", 4)
			if len(f) != 4 {
				return r, fmt.Errorf("bad line %q", line)
			}
			mode, err1 := strconv.ParseUint(f[0], 8, 32)
			size, err2 := strconv.ParseInt(f[1], 10, 64)
			if err1 != nil || err2 != nil {
				return r, fmt.Errorf("bad line %q", line)
			}
			r.Keyfiles[f[3]] = keyfile{Mode: uint32(mode), Size: size, SHA256: f[2]}
		case key == "E2E-IGNITION":
			r.Ignition = val
		case key == "E2E-INSTALL":
			r.Install = val
		case strings.HasPrefix(line, "E2E-IGN| "):
			r.IgnitionLog = append(r.IgnitionLog, strings.TrimPrefix(line, "E2E-IGN| "))
		case key == "E2E-ENTRY":
			e, err := parseEntry(val)
			if err != nil {
				return r, fmt.Errorf("bad line %q: %v", line, err)
			}
			r.Entries[e.Path] = e
		case strings.HasPrefix(line, "BOOT-CHECK "):
			for _, kv := range strings.Fields(strings.TrimPrefix(line, "BOOT-CHECK ")) {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "mode":
					r.Mode = v
				case "result":
					r.Result = v
				case "outcome":
					r.Outcome = v
				case "booted_from":
					r.BootedFrom = v
				case "accel":
					r.Accel = v
				case "seconds":
					r.Seconds = parseSeconds(v)
				case "kernel_at":
					r.KernelAt = parseSeconds(v)
				case "init_at":
					r.InitAt = parseSeconds(v)
				}
			}
		}
	}
	r.Markers = begin && end
	for p := range r.Entries {
		r.Paths = append(r.Paths, p)
	}
	sort.Strings(r.Paths)
	return r, sc.Err()
}

// parseEntry parses "<type> <mode> <uid>:<gid> <size|-> <sha256|target|-> <path>".
func parseEntry(s string) (entry, error) {
	f := strings.SplitN(s, " ", 6)
	if len(f) != 6 || len(f[0]) != 1 || !strings.HasPrefix(f[5], "/") {
		return entry{}, fmt.Errorf("want 6 fields")
	}
	e := entry{Type: f[0][0], Size: -1, Path: f[5]}
	mode, err := strconv.ParseUint(f[1], 8, 32)
	if err != nil {
		return e, err
	}
	e.Mode = uint32(mode)
	u, g, ok := strings.Cut(f[2], ":")
	if !ok {
		return e, fmt.Errorf("owner %q", f[2])
	}
	if e.UID, err = strconv.Atoi(u); err != nil {
		return e, err
	}
	if e.GID, err = strconv.Atoi(g); err != nil {
		return e, err
	}
	switch e.Type {
	case 'f':
		if e.Size, err = strconv.ParseInt(f[3], 10, 64); err != nil {
			return e, err
		}
		e.SHA256 = f[4]
	case 'l':
		e.Target = f[4]
	}
	return e, nil
}

// parseSeconds parses a duration of boot-check.sh's summary; "-" (never) is -1.
func parseSeconds(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return -1
	}
	return f
}
