package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/inventory"
)

// batchTemplate uses the host's name and vars; the keyfile var is long
// for one host, so that its config takes a grown embed area.
const batchTemplate = `variant: fcos
version: 1.4.0
storage:
  files:
    - path: /etc/hostname
      mode: 0644
      contents:
        inline: {{ .Name }}
    - path: /etc/isobuild-ip
      mode: 0644
      contents:
        inline: "{{ .Vars.ip }}"
{{- if .Vars.big }}
    - path: /etc/big
      mode: 0644
      contents:
        inline: "{{ .Vars.big }}"
{{- end }}
`

// batchHosts lists three hosts: web1 with kargs, db.2 plain, big with a
// config too large for the fixture's embed area.
func batchHosts(big string) string {
	return `hosts:
  - name: web1
    vars: {ip: 192.0.2.11, big: ""}
    kargs: ["ip=192.0.2.11::192.0.2.1:255.255.255.0:web1:ens2:none", "nameserver=192.0.2.53"]
  - name: db.2
    vars: {ip: 192.0.2.12, big: ""}
  - name: big
    vars: {ip: 192.0.2.13, big: "` + big + `"}
`
}

// randomText is n bytes that xz does not compress away.
func randomText(n int) string {
	var b strings.Builder
	x := uint32(1)
	for b.Len() < n {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteByte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[x%62])
	}
	return b.String()
}

func TestBatchBuild(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	orig := fixture.SHA256(t, iso)
	tmpl := writeTemp(t, "T.bu", []byte(batchTemplate))
	hostsFile := writeTemp(t, "hosts.yaml", []byte(batchHosts(randomText(400<<10))))
	inv, err := inventory.Parse("hosts.yaml", readTestFile(t, hostsFile))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out") + "/" // created by build
	r := ok(t, nil, "build", "--butane", tmpl, "--hosts", hostsFile, "--karg-append", "console=ttyS0,115200n8", "-o", out, iso)
	if !strings.Contains(string(r.stdout), "Wrote 3 images to "+filepath.Clean(out)) {
		t.Errorf("build does not say what it did: %q", r.stdout)
	}
	if fixture.SHA256(t, iso) != orig {
		t.Fatal("the batch build modified the base ISO")
	}
	ents, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"big.iso", "db.2.iso", "web1.iso"}; !slices.Equal(names, want) {
		t.Fatalf("output directory holds %v, want %v", names, want)
	}
	tp, err := inventory.ParseTemplate("T.bu", []byte(batchTemplate))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, h := range inv.Hosts {
		// The same image from a single build of the rendered config.
		src, err := tp.Render(h)
		if err != nil {
			t.Fatal(err)
		}
		rendered := filepath.Join(dir, h.Name+".bu")
		if err := os.WriteFile(rendered, src, 0o644); err != nil {
			t.Fatal(err)
		}
		single := filepath.Join(dir, h.Name+".iso")
		args := []string{"build", "--butane", rendered, "--karg-append", "console=ttyS0,115200n8"}
		for _, k := range h.Kargs {
			args = append(args, "--karg-append", k)
		}
		ok(t, nil, append(args, "-o", single, iso)...)
		got, want := readTestFile(t, filepath.Join(out, h.Name+".iso")), readTestFile(t, single)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the batch image (%d bytes) differs from a single build (%d bytes)", h.Name, len(got), len(want))
		}
		if h.Name == "big" && len(got) <= len(readTestFile(t, iso)) {
			t.Errorf("big: the config did not grow the image (%d bytes)", len(got))
		}
		shown := string(ok(t, nil, "iso", "ignition", "show", filepath.Join(out, h.Name+".iso")).stdout)
		if !strings.Contains(shown, h.Vars["ip"]) {
			t.Errorf("%s: the embedded config lacks the host's ip", h.Name)
		}
	}
	if got := kargsShow(t, filepath.Join(out, "web1.iso")); !strings.HasSuffix(got, " console=ttyS0,115200n8 ip=192.0.2.11::192.0.2.1:255.255.255.0:web1:ens2:none nameserver=192.0.2.53") {
		t.Errorf("web1 kargs %q", got)
	}

	// A second run into the same directory replaces nothing, and fails
	// before it writes anything.
	before := fixture.SHA256(t, filepath.Join(out, "db.2.iso"))
	fails(t, "web1.iso: File exists", nil, "build", "--butane", tmpl, "--hosts", hostsFile, "-o", out, iso)
	if fixture.SHA256(t, filepath.Join(out, "db.2.iso")) != before {
		t.Fatal("a failed batch changed an existing image")
	}
}

// checkEmpty fails unless dir holds exactly the names in want.
func checkEmpty(t *testing.T, dir string, want ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, want) {
		t.Fatalf("%s holds %v after a failed batch, want %v", dir, names, want)
	}
}

func TestBatchBuildValidatesFirst(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	tmpl := writeTemp(t, "T.bu", []byte(batchTemplate))
	out := t.TempDir()

	// A host without a var fails the batch, naming the host and the key.
	missing := writeTemp(t, "hosts.yaml", []byte("hosts:\n  - name: a\n    vars: {ip: 1, big: ''}\n  - name: b\n    vars: {big: ''}\n"))
	r := fails(t, `host b: `+tmpl+`:12:25: host "b" has no var "ip": its vars are big`, nil, "build", "--butane", tmpl, "--hosts", missing, "-o", out, iso)
	if !strings.Contains(r.combined(), "hint: add ip to the vars of host b") {
		t.Errorf("no hint: %s", r.combined())
	}
	checkEmpty(t, out)

	// A host whose rendered config is invalid Butane fails the batch
	// before any image is written, even the hosts listed before it.
	bad := writeTemp(t, "hosts.yaml", []byte("hosts:\n  - name: a\n    vars: {ip: 1, big: ''}\n  - name: b\n    vars: {ip: 2, big: 'x\"\\n  bogus: [\"'}\n"))
	fails(t, "host b: ", nil, "build", "--butane", tmpl, "--hosts", bad, "-o", out, iso)
	checkEmpty(t, out)

	// A host whose kargs the image cannot take (no karg areas).
	old := fixture.ISO(t, "embed-areas-2020-09.iso")
	kargs := writeTemp(t, "hosts.yaml", []byte("hosts:\n  - name: a\n    vars: {ip: 1, big: ''}\n  - name: b\n    vars: {ip: 2, big: ''}\n    kargs: [quiet]\n"))
	fails(t, "host b: ", nil, "build", "--butane", tmpl, "--hosts", kargs, "-o", out, old)
	checkEmpty(t, out)

	// An invalid inventory, with its line.
	unknown := writeTemp(t, "hosts.yaml", []byte("hosts:\n  - name: a\n    karg: [quiet]\n"))
	fails(t, `hosts.yaml:3:5: hosts[0]: unknown field "karg"`, nil, "build", "--butane", tmpl, "--hosts", unknown, "-o", out, iso)
	checkEmpty(t, out)
}

func TestBatchBuildFailsMidway(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	tmpl := writeTemp(t, "T.bu", []byte(batchTemplate))
	var list strings.Builder
	list.WriteString("hosts:\n")
	for _, n := range []string{"h1", "h2", "h3", "h4", "h5"} {
		list.WriteString("  - name: " + n + "\n    vars: {ip: 192.0.2.1, big: ''}\n")
	}
	hostsFile := writeTemp(t, "hosts.yaml", []byte(list.String()))
	for _, fail := range []string{"h1", "h3", "h5"} {
		t.Run(fail, func(t *testing.T) {
			out := t.TempDir()
			// The failing host's image turns up (another process) once
			// the other hosts' images are written: its write fails, and
			// the run removes what it wrote.
			batchHook = func(h inventory.Host, path string) error {
				if h.Name != fail {
					return nil
				}
				deadline := time.Now().Add(10 * time.Second)
				for time.Now().Before(deadline) {
					if ents, _ := os.ReadDir(out); countISOs(ents) == 4 {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				return os.WriteFile(path, []byte("someone else's"), 0o644)
			}
			defer func() { batchHook = nil }()
			fails(t, "host "+fail+": creating "+filepath.Join(out, fail+".iso")+": File exists", nil, "build", "--butane", tmpl, "--hosts", hostsFile, "-o", out, iso)
			checkEmpty(t, out, fail+".iso")
			if got := string(readTestFile(t, filepath.Join(out, fail+".iso"))); got != "someone else's" {
				t.Fatalf("the batch replaced a file it did not write: %q", got)
			}
		})
	}

	// An error of the hook itself, in a directory the run created: the
	// directory goes too.
	out := filepath.Join(t.TempDir(), "new") + "/"
	batchHook = func(h inventory.Host, path string) error {
		if h.Name == "h4" {
			return errors.New("disk on fire")
		}
		return nil
	}
	defer func() { batchHook = nil }()
	fails(t, "host h4: disk on fire", nil, "build", "--butane", tmpl, "--hosts", hostsFile, "-o", out, iso)
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("the output directory the batch created is still there: %v", err)
	}
}

func countISOs(ents []os.DirEntry) int {
	n := 0
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".iso") {
			n++
		}
	}
	return n
}

func TestBatchBuildUsage(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	tmpl := writeTemp(t, "T.bu", []byte(batchTemplate))
	hostsFile := writeTemp(t, "hosts.yaml", []byte("hosts:\n  - name: a\n    vars: {ip: 1, big: ''}\n"))
	dir := t.TempDir()
	file := writeTemp(t, "file.iso", []byte("x"))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--hosts", hostsFile, "-o", dir}, "--hosts needs --butane"},
		{[]string{"--hosts", hostsFile, "--butane", tmpl, "--ignition", tmpl, "-o", dir}, "it does not take --ignition"},
		{[]string{"--hosts", hostsFile, "--butane", tmpl}, "-o/--output is required: with --hosts it is the directory"},
		{[]string{"--hosts", hostsFile, "--butane", tmpl, "-o", "-"}, "-o - streams one image"},
		{[]string{"--hosts", hostsFile, "--butane", tmpl, "-o", file}, "is not a directory"},
		{[]string{"--hosts", hostsFile, "--butane", tmpl, "-o", filepath.Join(dir, "nope")}, "hint: end it with a slash to have it created"},
		{[]string{"--hosts", hostsFile, "--butane", tmpl, "-o", filepath.Join(dir, "a", "b") + "/"}, "build creates only the last directory"},
		{[]string{"--hosts", hostsFile, "--butane", tmpl, "--dest-ignition", "-", "-o", dir}, "--dest-ignition - with --hosts"},
		{[]string{"--hosts", "-", "--butane", "-", "-o", dir}, "read standard input"},
	} {
		r := fails(t, tc.want, nil, append(append([]string{"build"}, tc.args...), iso)...)
		if r.code != 2 && !strings.Contains(tc.want, "only the last directory") {
			t.Errorf("%v: exit %d, want 2 (usage)", tc.args, r.code)
		}
	}
	checkEmpty(t, dir)

	// The inventory and the template can come from stdin.
	r := ok(t, readTestFile(t, hostsFile), "build", "--hosts", "-", "--butane", tmpl, "-q", "-o", dir, iso)
	if len(r.stdout) != 0 {
		t.Errorf("-q printed %q", r.stdout)
	}
	checkEmpty(t, dir, "a.iso")
}

func TestBatchBuildFlatcar(t *testing.T) {
	// A Flatcar image (no embed areas) goes through the remaster
	// planner, host by host, with the same bytes as single builds.
	base := flatcarISO(t)
	tmpl := writeTemp(t, "T.bu", []byte("variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: /etc/hostname\n      contents:\n        inline: {{ .Name }}-{{ .Vars.n }}\n"))
	hostsFile := writeTemp(t, "hosts.yaml", []byte("hosts:\n  - name: f1\n    vars: {n: 1}\n    kargs: [quiet]\n  - name: f2\n    vars: {n: 2}\n"))
	out := t.TempDir()
	r := ok(t, nil, "build", "--butane", tmpl, "--hosts", hostsFile, "--karg-append", "console=ttyS0", "-o", out, base)
	if !strings.Contains(string(r.stdout), "Wrote 2 images") {
		t.Errorf("output %q", r.stdout)
	}
	dir := t.TempDir()
	for _, h := range []struct{ name, n, kargs string }{{"f1", "1", "quiet"}, {"f2", "2", ""}} {
		bu := writeTemp(t, h.name+".bu", []byte("variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: /etc/hostname\n      contents:\n        inline: "+h.name+"-"+h.n+"\n"))
		single := filepath.Join(dir, h.name+".iso")
		args := []string{"build", "--butane", bu, "--karg-append", "console=ttyS0"}
		if h.kargs != "" {
			args = append(args, "--karg-append", h.kargs)
		}
		ok(t, nil, append(args, "-o", single, base)...)
		if !bytes.Equal(readTestFile(t, filepath.Join(out, h.name+".iso")), readTestFile(t, single)) {
			t.Errorf("%s: the batch image differs from a single build", h.name)
		}
	}
}
