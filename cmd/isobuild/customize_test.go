package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/butane"
	"github.com/isobuild/isobuild/pkg/ignconfig"
)

// liveConfig is the part of a generated Ignition config the tests read.
type liveConfig struct {
	Ignition struct {
		Config struct {
			Merge []resourceJSON `json:"merge"`
		} `json:"config"`
		Security struct {
			TLS struct {
				CertificateAuthorities []resourceJSON `json:"certificateAuthorities"`
			} `json:"tls"`
		} `json:"security"`
		Version string `json:"version"`
	} `json:"ignition"`
	Storage struct {
		Files []struct {
			Path     string       `json:"path"`
			Mode     int          `json:"mode"`
			Contents resourceJSON `json:"contents"`
		} `json:"files"`
	} `json:"storage"`
	Systemd struct {
		Units []struct {
			Name     string `json:"name"`
			Enabled  bool   `json:"enabled"`
			Contents string `json:"contents"`
		} `json:"units"`
	} `json:"systemd"`
}

type resourceJSON struct {
	Compression string `json:"compression"`
	Source      string `json:"source"`
}

// data decodes an inline gzip data URL.
func (r resourceJSON) data(t *testing.T) []byte {
	t.Helper()
	return fixture.InlineResource(t, r.Compression, r.Source)
}

func parseLive(t *testing.T, raw []byte) liveConfig {
	t.Helper()
	if _, err := ignconfig.Parse("config.ign", raw); err != nil {
		t.Fatalf("embedded config does not validate: %v", err)
	}
	var c liveConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// fakeNmstatectl puts a stand-in for Nmstate's generator on PATH that
// answers "gc FILE" with the keyfiles the shared fixtures expect (Debian
// ships no nmstate, so the real one cannot run here).
func fakeNmstatectl(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	var cases strings.Builder
	for _, kind := range []struct{ file, prefix string }{{"installer-test-nmstate-yaml.yaml", "nmstate-yl"}, {"installer-test-nmstate-json.json", "nmstate-js"}} {
		cases.WriteString("*" + kind.file + ")\n  echo 'NetworkManager:'\n")
		for _, n := range []string{"eth1", "eth2"} {
			name := kind.prefix + "-" + n + ".nmconnection"
			content := strings.ReplaceAll(string(readTestFile(t, fixture.Customize(t, name))), "\n", `\n`)
			cases.WriteString("  printf '%s\\n' '- - " + name + "' '  - \"" + content + "\"'\n")
		}
		cases.WriteString("  ;;\n")
	}
	script := "#!/bin/sh\n[ \"$1\" = gc ] || exit 2\ncase \"$2\" in\n" + cases.String() + "*) echo \"bad nmstate file $2\" >&2; exit 1;;\nesac\n"
	if err := os.WriteFile(filepath.Join(dir, "nmstatectl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// fullOptions is the complete option set built from shared/fixtures/customize.
func fullOptions(t *testing.T) []string {
	c := func(n string) string { return fixture.Customize(t, n) }
	return []string{"iso", "customize",
		"--dest-ignition", c("dest.ign"), "--dest-ignition", c("dest-2.ign"),
		"--dest-device", "/dev/vda", "--dest-console", "ttyS0,115200n8",
		"--dest-karg-append", "dest-karg", "--dest-karg-append", "ignition.platform.id=qemu",
		"--dest-karg-delete", "ignition.platform.id=metal",
		"--network-keyfile", c("installer-test.nmconnection"),
		"--network-nmstate", c("installer-test-nmstate-yaml.yaml"), "--network-nmstate", c("installer-test-nmstate-json.json"),
		"--ignition-ca", c("cert.pem"),
		"--pre-install", c("pre-install-1"), "--pre-install", c("pre-install-2"),
		"--post-install", c("post-install-1"), "--post-install", c("post-install-2"),
		"--installer-config", c("install-1.conf"), "--installer-config", c("install-2.conf"),
		"--live-ignition", c("live.ign"), "--live-ignition", c("live-2.ign"),
		"--live-karg-append", "live-karg",
	}
}

func TestISOCustomizeFull(t *testing.T) {
	fakeNmstatectl(t)
	for _, name := range []string{"embed-areas-2022-09.iso", "embed-areas-2023-07.x86_64.iso"} {
		t.Run(name, func(t *testing.T) {
			iso := fixture.ISO(t, name)
			args := fullOptions(t)
			r := cli(t, nil, append(args, "-o", "-", iso)...)
			if r.code != 0 {
				t.Fatalf("customize: %s", r.stderr)
			}
			if !strings.Contains(string(r.stderr), "Boot media will automatically install to /dev/vda without confirmation.") {
				t.Errorf("no installer notice: %q", r.stderr)
			}
			out := writeTemp(t, "custom.iso", modes(t, iso, nil, args...))
			if got := kargsShow(t, out); !strings.HasSuffix(got, " live-karg") {
				t.Errorf("live kargs %q", got)
			}
			checkFullConfig(t, ok(t, nil, "iso", "ignition", "show", out).stdout)

			// Keyfiles: the plain one and the four nmstate-generated ones.
			dir := filepath.Join(t.TempDir(), "net")
			ok(t, nil, "iso", "network", "extract", "-C", dir, out)
			for _, k := range []string{"installer-test", "nmstate-yl-eth1", "nmstate-yl-eth2", "nmstate-js-eth1", "nmstate-js-eth2"} {
				got := readTestFile(t, filepath.Join(dir, k+".nmconnection"))
				if !bytes.Equal(got, readTestFile(t, fixture.Customize(t, k+".nmconnection"))) {
					t.Errorf("keyfile %s differs", k)
				}
			}

			// Customizing again needs -f; reset restores the original.
			fails(t, "already customized", nil, append(args, "-o", filepath.Join(t.TempDir(), "x.iso"), out)...)
			fails(t, "File exists", nil, append(args, "-f", "-o", out, iso)...)
			if got := sum(ok(t, nil, "iso", "reset", "-o", "-", out).stdout); got != fixture.SHA256(t, iso) {
				t.Fatal("iso reset did not restore the original")
			}
		})
	}
}

func checkFullConfig(t *testing.T, raw []byte) {
	t.Helper()
	c := parseLive(t, raw)
	if c.Ignition.Version != "3.3.0" {
		t.Errorf("version %q", c.Ignition.Version)
	}
	// Live merges, in order.
	if len(c.Ignition.Config.Merge) != 2 {
		t.Fatalf("%d merges, want 2", len(c.Ignition.Config.Merge))
	}
	for i, n := range []string{"live.ign", "live-2.ign"} {
		jsonEqual(t, c.Ignition.Config.Merge[i].data(t), readTestFile(t, fixture.Customize(t, n)))
	}
	cas := c.Ignition.Security.TLS.CertificateAuthorities
	if len(cas) != 1 || !bytes.Equal(cas[0].data(t), readTestFile(t, fixture.Customize(t, "cert.pem"))) {
		t.Fatal("live CA missing or wrong")
	}
	// Files: paths, modes and order as the spec prescribes.
	type file struct {
		path string
		mode int
	}
	want := []file{
		{"/usr/local/bin/pre-install-pre-install-1", 0o700}, {"/usr/local/bin/pre-install-pre-install-2", 0o700},
		{"/usr/local/bin/post-install-post-install-1", 0o700}, {"/usr/local/bin/post-install-post-install-2", 0o700},
		{"/etc/coreos/installer.d/0000-install-1.conf", 0o600}, {"/etc/coreos/installer.d/0001-install-2.conf", 0o600},
		{"/etc/coreos/dest.ign", 0o600}, {"/etc/coreos/installer.d/0002-customize.yaml", 0o600},
	}
	var got []file
	contents := map[string][]byte{}
	for _, f := range c.Storage.Files {
		got = append(got, file{f.Path, f.Mode})
		contents[f.Path] = f.Contents.data(t)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("files\n%v\nwant\n%v", got, want)
	}
	for path, src := range map[string]string{
		"/usr/local/bin/pre-install-pre-install-1":    "pre-install-1",
		"/usr/local/bin/post-install-post-install-2":  "post-install-2",
		"/etc/coreos/installer.d/0000-install-1.conf": "install-1.conf",
		"/etc/coreos/installer.d/0001-install-2.conf": "install-2.conf",
	} {
		if !bytes.Equal(contents[path], readTestFile(t, fixture.Customize(t, src))) {
			t.Errorf("%s is not the verbatim %s", path, src)
		}
	}
	// Units.
	var units []string
	for _, u := range c.Systemd.Units {
		if !u.Enabled {
			t.Errorf("unit %s not enabled", u.Name)
		}
		units = append(units, u.Name)
	}
	wantUnits := []string{"pre-install-pre-install-1.service", "pre-install-pre-install-2.service", "post-install-post-install-1.service", "post-install-post-install-2.service"}
	if !reflect.DeepEqual(units, wantUnits) {
		t.Fatalf("units %v, want %v", units, wantUnits)
	}
	pre := c.Systemd.Units[0].Contents
	for _, line := range []string{"Description=Pre-Install Script (pre-install-1)", "After=coreos-installer-pre.target", "Before=coreos-installer.service",
		"ExecStart=/usr/local/bin/pre-install-pre-install-1", "Type=oneshot", "RemainAfterExit=true", "RequiredBy=coreos-installer.service"} {
		if !strings.Contains(pre, "\n"+line+"\n") && !strings.HasSuffix(pre, "\n"+line) {
			t.Errorf("pre-install unit lacks %q:\n%s", line, pre)
		}
	}
	post := c.Systemd.Units[2].Contents
	if !strings.Contains(post, "\nAfter=coreos-installer.service\nBefore=coreos-installer.target\n") || !strings.HasSuffix(post, "\nRequiredBy=coreos-installer.target") {
		t.Errorf("post-install unit:\n%s", post)
	}
	// customize.yaml: keys and order.
	var doc yaml.Node
	if err := yaml.Unmarshal(contents["/etc/coreos/installer.d/0002-customize.yaml"], &doc); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i := 0; i < len(doc.Content[0].Content); i += 2 {
		keys = append(keys, doc.Content[0].Content[i].Value)
	}
	if want := []string{"ignition-file", "console", "append-karg", "delete-karg", "copy-network", "dest-device"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("customize.yaml keys %v, want %v", keys, want)
	}
	var inst map[string]any
	yaml.Unmarshal(contents["/etc/coreos/installer.d/0002-customize.yaml"], &inst)
	wantInst := map[string]any{
		"ignition-file": "/etc/coreos/dest.ign", "console": []any{"ttyS0,115200n8"},
		"append-karg": []any{"dest-karg", "ignition.platform.id=qemu"}, "delete-karg": []any{"ignition.platform.id=metal"},
		"copy-network": true, "dest-device": "/dev/vda",
	}
	if !reflect.DeepEqual(inst, wantInst) {
		t.Fatalf("customize.yaml %v, want %v", inst, wantInst)
	}
	// dest.ign: two configs and a CA, so a 3.3.0 wrapper merging both.
	dest := parseLive(t, contents["/etc/coreos/dest.ign"])
	if dest.Ignition.Version != "3.3.0" || len(dest.Ignition.Config.Merge) != 2 || len(dest.Ignition.Security.TLS.CertificateAuthorities) != 1 {
		t.Fatalf("dest wrapper %+v", dest.Ignition)
	}
	jsonEqual(t, dest.Ignition.Config.Merge[0].data(t), readTestFile(t, fixture.Customize(t, "dest.ign")))
	jsonEqual(t, dest.Ignition.Config.Merge[1].data(t), readTestFile(t, fixture.Customize(t, "dest-2.ign")))
}

func TestISOCustomizeSingleDest(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	out := filepath.Join(t.TempDir(), "x.iso")
	ok(t, nil, "iso", "customize", "--dest-ignition", fixture.Customize(t, "dest.ign"), "--dest-device", "/dev/sda", "-o", out, iso)
	c := parseLive(t, ok(t, nil, "iso", "ignition", "show", out).stdout)
	if len(c.Ignition.Config.Merge) != 0 || len(c.Systemd.Units) != 0 {
		t.Errorf("unexpected merges or units: %+v", c)
	}
	var dest []byte
	for _, f := range c.Storage.Files {
		if f.Path == "/etc/coreos/dest.ign" {
			dest = f.Contents.data(t)
		}
	}
	// A single dest config without CAs is passed through unwrapped.
	jsonEqual(t, dest, readTestFile(t, fixture.Customize(t, "dest.ign")))
	if !bytes.HasSuffix(dest, []byte("\n")) {
		t.Error("dest.ign lacks its final newline")
	}
}

func TestBuildDestButane(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	out := filepath.Join(t.TempDir(), "x.iso")
	r := ok(t, nil, "build", "--butane", fixture.Customize(t, "live.bu"), "--dest-butane", fixture.Customize(t, "dest.bu"), "--dest-device", "/dev/sda", "-o", out, iso)
	if !strings.Contains(string(r.stdout), "installs to:          /dev/sda") {
		t.Errorf("summary: %q", r.stdout)
	}
	c := parseLive(t, ok(t, nil, "iso", "ignition", "show", out).stdout)
	want, _, err := butane.Translate("dest.bu", readTestFile(t, fixture.Customize(t, "dest.bu")), butane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var dest []byte
	for _, f := range c.Storage.Files {
		if f.Path == "/etc/coreos/dest.ign" {
			dest = f.Contents.data(t)
		}
	}
	jsonEqual(t, dest, want)
	// The live Butane config is merged into the generated live config.
	if len(c.Ignition.Config.Merge) != 1 {
		t.Fatalf("%d live merges, want 1", len(c.Ignition.Config.Merge))
	}
	jsonEqual(t, c.Ignition.Config.Merge[0].data(t), readTestFile(t, fixture.Customize(t, "live.ign")))

	// Without a device build refuses (iso customize only warns, as
	// coreos-installer does).
	r = fails(t, "no disk to install to", nil, "build", "--dest-butane", fixture.Customize(t, "dest.bu"), "-o", filepath.Join(t.TempDir(), "y.iso"), iso)
	if r.code != 2 || !strings.Contains(r.combined(), "hint: add --dest-device") {
		t.Errorf("build with a dest config and no device: exit %d\n%s", r.code, r.combined())
	}
	r = ok(t, nil, "iso", "customize", "--dest-ignition", fixture.Customize(t, "dest.ign"), "-o", filepath.Join(t.TempDir(), "y.iso"), iso)
	if !strings.Contains(string(r.stderr), "no destination device") {
		t.Errorf("no warning for a dest config without a device: %q", r.stderr)
	}
	r = ok(t, nil, "build", "--dest-butane", fixture.Customize(t, "dest.bu"), "--installer-config", writeTemp(t, "dev.yaml", []byte("dest-device: /dev/sdb\n")), "-o", filepath.Join(t.TempDir(), "z.iso"), iso)
	if strings.Contains(string(r.stderr), "no destination device") {
		t.Errorf("warned although an installer config sets the device: %q", r.stderr)
	}
}

func TestISOCustomizeFeatureGates(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no nmstatectl: the feature check must come first
	pre := fixture.Customize(t, "pre-install-1")
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	iso2109 := fixture.ISO(t, "embed-areas-2021-09.iso")
	// Item 36.
	fails(t, "does not support customizing network settings", nil, "iso", "customize", "--network-keyfile", fixture.Customize(t, "installer-test.nmconnection"), "-o", "-", iso2109)
	fails(t, "does not support customizing network settings", nil, "iso", "customize", "--network-nmstate", missing, "-o", "-", iso2109)
	fails(t, "does not support customizing installer configuration", nil, "iso", "customize", "--dest-device", "/dev/sda", "-o", "-", iso2109)
	ok(t, nil, "iso", "customize", "--pre-install", pre, "--live-karg-append", "foo", "-o", filepath.Join(t.TempDir(), "a.iso"), iso2109)
	// Item 37.
	iso2009 := fixture.ISO(t, "embed-areas-2020-09.iso")
	fails(t, "does not support customizing live kernel arguments", nil, "iso", "customize", "--live-karg-append", "foo", "-o", "-", iso2009)
	ok(t, nil, "iso", "customize", "--pre-install", pre, "-o", filepath.Join(t.TempDir(), "b.iso"), iso2009)
	fails(t, "Unrecognized CoreOS ISO image", nil, "iso", "customize", "-o", "-", fixture.ISO(t, "synthetic.iso"))
	noop := ok(t, nil, "iso", "customize", "-o", "-", iso2009).stdout
	if sum(noop) != fixture.SHA256(t, iso2009) {
		t.Error("customize without options changed a pristine image")
	}
	// Item 28.
	fails(t, "does not support customizing the destination console", nil, "iso", "customize", "--dest-console", "ttyS0", "-o", "-", fixture.ISO(t, "embed-areas-2022-02.iso"))
	// nmstate without nmstatectl, on an image that supports network settings.
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	fails(t, "opening nmstate file", nil, "iso", "customize", "--network-nmstate", missing, "-o", "-", iso)
	fails(t, "needs the nmstatectl command", nil, "iso", "customize", "--network-nmstate", fixture.Customize(t, "installer-test-nmstate-yaml.yaml"), "-o", "-", iso)
}

func TestISOCustomizeBadInput(t *testing.T) {
	fakeNmstatectl(t)
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	c := func(n string) string { return fixture.Customize(t, n) }
	// Item 39.
	failsAllModes(t, iso, "config already specifies path /usr/local/bin/pre-install-pre-install-1", nil, "iso", "customize", "--pre-install", c("pre-install-1"), "--pre-install", c("pre-install-1"))
	failsAllModes(t, iso, "config already specifies keyfile installer-test.nmconnection", nil, "iso", "customize", "--network-keyfile", c("installer-test.nmconnection"), "--network-keyfile", c("installer-test.nmconnection"))
	failsAllModes(t, iso, "config already specifies keyfile etc/coreos-firstboot-network/nmstate-yl-eth1.nmconnection", nil, "iso", "customize", "--network-keyfile", c("nmstate-yl-eth1.nmconnection"), "--network-nmstate", c("installer-test-nmstate-yaml.yaml"))
	failsAllModes(t, iso, "parsing Ignition config", nil, "iso", "customize", "--live-ignition", c("pre-install-1"))
	failsAllModes(t, iso, "parsing Ignition config", nil, "iso", "customize", "--dest-ignition", c("install-1.conf"))
	failsAllModes(t, iso, "parsing installer config", nil, "iso", "customize", "--installer-config", c("dest.ign"))
	failsAllModes(t, iso, "parsing installer config", nil, "iso", "customize", "--installer-config", writeTemp(t, "bad.yaml", []byte("no-such-key: 1\n")))
	if r := fails(t, "--dest-device may be given only once", nil, "iso", "customize", "--dest-device", "/dev/a", "--dest-device", "/dev/b", "-o", "-", iso); r.code != 2 {
		t.Errorf("exit %d, want 2", r.code)
	}
	fails(t, "invalid or unsupported console argument", nil, "iso", "customize", "--dest-console", "ttyS0,115200p8", "-o", "-", iso)
	// Item 40: live kargs alone embed no config.
	out := filepath.Join(t.TempDir(), "k.iso")
	ok(t, nil, "iso", "customize", "--live-karg-append", "foo", "--live-karg-replace", "ignition.platform.id=metal=bar", "-o", out, iso)
	got := kargsShow(t, out)
	if !strings.Contains(got, "ignition.platform.id=bar") || !strings.Contains(got, " foo") {
		t.Fatalf("kargs %q", got)
	}
	fails(t, "No embedded Ignition config", nil, "iso", "ignition", "show", out)
	out2 := filepath.Join(t.TempDir(), "d.iso")
	ok(t, nil, "iso", "customize", "--live-karg-delete", "ignition.platform.id=metal", "-o", out2, iso)
	if strings.Contains(kargsShow(t, out2), "ignition.platform.id=metal") {
		t.Fatal("--live-karg-delete did not delete")
	}
}

// The README's homelab installer example.
func TestHomelabInstaller(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	out := filepath.Join(t.TempDir(), "homelab.iso")
	ok(t, nil, "build", "--dest-butane", "../../examples/homelab-install.bu", "--dest-device", "/dev/sda",
		"--network-keyfile", "../../examples/eth0.nmconnection", "--dest-console", "ttyS0,115200n8", "-o", out, iso)
	c := parseLive(t, ok(t, nil, "iso", "ignition", "show", out).stdout)
	files := map[string][]byte{}
	for _, f := range c.Storage.Files {
		files[f.Path] = f.Contents.data(t)
	}
	want, _, err := butane.Translate("homelab-install.bu", readTestFile(t, "../../examples/homelab-install.bu"), butane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, files["/etc/coreos/dest.ign"], want)
	var inst map[string]any
	if err := yaml.Unmarshal(files["/etc/coreos/installer.d/0000-customize.yaml"], &inst); err != nil {
		t.Fatal(err)
	}
	wantInst := map[string]any{"ignition-file": "/etc/coreos/dest.ign", "console": []any{"ttyS0,115200n8"}, "copy-network": true, "dest-device": "/dev/sda"}
	if !reflect.DeepEqual(inst, wantInst) {
		t.Fatalf("installer config %v, want %v", inst, wantInst)
	}
	if got := ok(t, nil, "iso", "network", "extract", out).stdout; !bytes.Contains(got, []byte("address1=10.0.2.15/24,10.0.2.2")) {
		t.Fatalf("live keyfile missing: %q", got)
	}
}
