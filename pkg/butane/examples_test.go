package butane

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/pkg/ignconfig"
)

// examplesDir holds the Butane examples shipped with isobuild, relative to
// this package's directory (the working directory of its tests).
const examplesDir = "../../examples"

// exampleWant describes what each example must declare, and nothing more.
type exampleWant struct {
	users map[string][]string // user name -> groups
	files map[string]int      // path -> mode
	dirs  map[string]int      // path -> mode
	units map[string]bool     // unit name -> enabled
	// contents maps a path to a check of its decoded contents.
	contents map[string]func(t *testing.T, got string)
}

func equals(want string) func(*testing.T, string) {
	return func(t *testing.T, got string) {
		t.Helper()
		if got != want {
			t.Errorf("contents = %q, want %q", got, want)
		}
	}
}

func equalsFile(name string) func(*testing.T, string) {
	return func(t *testing.T, got string) {
		t.Helper()
		want, err := os.ReadFile(filepath.Join(examplesDir, "files", name))
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("contents = %q, want the bytes of files/%s, %q", got, name, want)
		}
	}
}

func containsAll(subs ...string) func(*testing.T, string) {
	return func(t *testing.T, got string) {
		t.Helper()
		for _, s := range subs {
			if !strings.Contains(got, s) {
				t.Errorf("contents = %q, want it to contain %q", got, s)
			}
		}
	}
}

var exampleWants = map[string]exampleWant{
	"flatcar-install.bu": {
		users:    map[string][]string{"core": nil},
		files:    map[string]int{"/etc/hostname": 0o644},
		contents: map[string]func(*testing.T, string){"/etc/hostname": equals("flatcar-1\n")},
	},
	"flatcar-live.bu": {
		users: map[string][]string{"core": nil},
		files: map[string]int{"/etc/hostname": 0o644, "/etc/systemd/network/10-static.network": 0o644},
		units: map[string]bool{"isobuild-hello.service": true},
		contents: map[string]func(*testing.T, string){
			"/etc/hostname":                          equals("flatcar-live\n"),
			"/etc/systemd/network/10-static.network": containsAll("[Match]\nName=eth0\n", "Address=10.0.2.15/24\n"),
		},
	},
	"homelab-install.bu": {
		users: map[string][]string{"core": nil},
		files: map[string]int{"/etc/hostname": 0o644, "/etc/NetworkManager/system-connections/lan.nmconnection": 0o600},
		contents: map[string]func(*testing.T, string){
			"/etc/hostname": equals("homelab-1\n"),
			"/etc/NetworkManager/system-connections/lan.nmconnection": containsAll(
				"[connection]\n", "id=lan\n", "method=manual\n", "address1=192.168.1.50/24,192.168.1.1\n", "dns=192.168.1.1;\n"),
		},
	},
	"ssh-hostname.bu": {
		users:    map[string][]string{"core": nil},
		files:    map[string]int{"/etc/hostname": 0o644},
		contents: map[string]func(*testing.T, string){"/etc/hostname": equals("isobuild-demo\n")},
	},
	"static-ip.bu": {
		users: map[string][]string{"admin": {"wheel", "sudo"}},
		files: map[string]int{"/etc/NetworkManager/system-connections/eth0.nmconnection": 0o600},
		contents: map[string]func(*testing.T, string){
			"/etc/NetworkManager/system-connections/eth0.nmconnection": containsAll(
				"[connection]\n", "type=ethernet\n", "[ipv4]\n", "method=manual\n",
				"address1=10.0.2.15/24,10.0.2.2\n", "dns=10.0.2.3;\n"),
		},
	},
	"systemd-files.bu": {
		files: map[string]int{
			"/usr/local/bin/isobuild-hello": 0o755,
			"/etc/isobuild-hello.conf":      0o644,
		},
		dirs:  map[string]int{"/var/lib/isobuild-hello": 0o755},
		units: map[string]bool{"isobuild-hello.service": true},
		contents: map[string]func(*testing.T, string){
			"/usr/local/bin/isobuild-hello": equalsFile("isobuild-hello.sh"),
			"/etc/isobuild-hello.conf":      equalsFile("isobuild-hello.conf"),
		},
	},
}

// TestExamples requires every examples/*.bu to translate in strict mode with
// no report entries into a config that Ignition accepts, at spec 3.3.0 (what
// the Ignition 2.14 of the boot test reads), declaring exactly what
// exampleWants lists.
func TestExamples(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(examplesDir, "*.bu"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range paths {
		name := filepath.Base(p)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			want, ok := exampleWants[name]
			if !ok {
				t.Fatalf("no expectations for %s; add them to exampleWants", name)
			}
			src, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out, rep, err := Translate(p, src, Options{FilesDir: filepath.Join(examplesDir, "files"), Strict: true})
			if err != nil {
				t.Fatalf("Translate: %v", err)
			}
			if len(rep.Entries) != 0 {
				t.Fatalf("report = %q, want no entries", rep.String())
			}
			cfg, err := ignconfig.Parse(name, out)
			if err != nil {
				t.Fatalf("ignconfig.Parse: %v", err)
			}
			if cfg.Version != "3.3.0" {
				t.Errorf("spec version = %s, want 3.3.0", cfg.Version)
			}
			if len(cfg.Warnings) != 0 {
				t.Errorf("ignconfig warnings = %q, want none", cfg.Warnings)
			}
			checkExample(t, decodeIgnition(t, out), want)
		})
	}
	for name := range exampleWants {
		if !seen[name] {
			t.Errorf("example %s is missing from %s", name, examplesDir)
		}
	}
}

func checkExample(t *testing.T, got ignition, want exampleWant) {
	t.Helper()

	users := map[string][]string{}
	for _, u := range got.Passwd.Users {
		users[u.Name] = u.Groups
		if len(u.SSHAuthorizedKeys) != 1 || !strings.HasPrefix(u.SSHAuthorizedKeys[0], "ssh-ed25519 ") {
			t.Errorf("user %s: SSH keys = %q, want one ed25519 key", u.Name, u.SSHAuthorizedKeys)
		}
	}
	if !reflect.DeepEqual(users, nonNil(want.users)) {
		t.Errorf("users = %v, want %v", users, want.users)
	}

	files := map[string]int{}
	for _, f := range got.Storage.Files {
		files[f.Path] = modeOf(f.Mode)
		if check, ok := want.contents[f.Path]; ok {
			t.Run(f.Path, func(t *testing.T) { check(t, f.data(t)) })
		}
	}
	if !reflect.DeepEqual(files, nonNil(want.files)) {
		t.Errorf("files (path: mode) = %s, want %s", octal(files), octal(want.files))
	}
	for p := range want.contents {
		if _, ok := files[p]; !ok {
			t.Errorf("no file %s to check the contents of", p)
		}
	}

	dirs := map[string]int{}
	for _, d := range got.Storage.Directories {
		dirs[d.Path] = modeOf(d.Mode)
	}
	if !reflect.DeepEqual(dirs, nonNil(want.dirs)) {
		t.Errorf("directories (path: mode) = %s, want %s", octal(dirs), octal(want.dirs))
	}

	units := map[string]bool{}
	for _, u := range got.Systemd.Units {
		units[u.Name] = u.Enabled != nil && *u.Enabled
		if u.Contents == "" {
			t.Errorf("unit %s has no contents", u.Name)
		}
	}
	if !reflect.DeepEqual(units, nonNil(want.units)) {
		t.Errorf("units (name: enabled) = %v, want %v", units, want.units)
	}
}

func nonNil[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

func modeOf(m *int) int {
	if m == nil {
		return -1
	}
	return *m
}

func octal(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		if m[k] < 0 {
			parts = append(parts, k+": unset")
		} else {
			parts = append(parts, fmt.Sprintf("%s: %#o", k, m[k]))
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
