package installer

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/pkg/butane"
	"github.com/isobuild/isobuild/pkg/ignconfig"
)

// compact returns what Build stores of a user config: its compact form.
func compact(t *testing.T, data []byte) []byte {
	t.Helper()
	c, err := ignconfig.Parse("x.ign", data)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Compact()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func describeBuilt(t *testing.T, o Options) *Description {
	t.Helper()
	r := build(t, o, all)
	raw, ok := r.Files[ConfigMember]
	if !ok {
		t.Fatal("Build generated no live config")
	}
	d, err := Describe(raw)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	return d
}

func configNames(d *Description) []string {
	var names []string
	for _, c := range d.Install.Configs {
		names = append(names, c.Name())
	}
	return names
}

// TestDescribeFull builds a live config from every installer option and
// reads the inputs back.
func TestDescribeFull(t *testing.T) {
	// The caller's own config, as "isobuild build --butane" passes it.
	ownBu := "variant: fcos\nversion: 1.5.0\npasswd:\n  users:\n    - name: core\n      ssh_authorized_keys: [ssh-ed25519 AAAA core@example]\n"
	own, _, err := butane.Translate("own.bu", []byte(ownBu), butane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	consoles := []Console{{Device: "ttyS0", Speed: 115200, Parity: 'n', Bits: 8}}
	o := Options{
		DestIgnition:    []Input{input(t, "dest.ign"), input(t, "dest-2.ign")},
		DestDevice:      "/dev/vda",
		DestConsole:     consoles,
		DestKargAppend:  []string{"dest-karg", "ignition.platform.id=qemu"},
		DestKargDelete:  []string{"ignition.platform.id=metal"},
		NetworkKeyfile:  []Input{input(t, "installer-test.nmconnection")},
		IgnitionCA:      []Input{input(t, "cert.pem")},
		PreInstall:      []Input{input(t, "pre-install-1"), input(t, "pre-install-2")},
		PostInstall:     []Input{input(t, "post-install-1")},
		InstallerConfig: []Input{input(t, "install-1.conf"), input(t, "install-2.conf")},
		LiveIgnition:    []Input{input(t, "live.ign"), input(t, "live-2.ign")},
		LiveConfig:      &Input{Name: "own.bu", Data: own},
	}
	d := describeBuilt(t, o)
	if !d.Generated() || d.Install == nil {
		t.Fatal("not described as an install")
	}
	in := d.Install
	if in.DestDevice != "/dev/vda" {
		t.Errorf("DestDevice %q", in.DestDevice)
	}
	if want := []string{"0000-install-1.conf", "0001-install-2.conf", "0002-customize.yaml"}; !reflect.DeepEqual(configNames(d), want) {
		t.Fatalf("installer configs %q, want %q", configNames(d), want)
	}
	for i, name := range []string{"install-1.conf", "install-2.conf"} {
		c := in.Configs[i]
		if c.Text != string(input(t, name).Data) || c.Err != nil || c.Path != InstallerConfigDir+c.Name() {
			t.Errorf("%s: %+v", name, c)
		}
	}
	if got := in.Configs[0].Settings.AppendKarg; !reflect.DeepEqual(got, []string{"install-config-karg-1"}) {
		t.Errorf("install-1.conf append-karg %q", got)
	}
	gen := in.Configs[2].Settings
	wantGen := &InstallerSettings{
		IgnitionFile: DestConfigPath, Console: []string{"ttyS0,115200n8"},
		AppendKarg: o.DestKargAppend, DeleteKarg: o.DestKargDelete, CopyNetwork: true, DestDevice: "/dev/vda",
	}
	if !reflect.DeepEqual(gen, wantGen) {
		t.Errorf("customize.yaml settings %+v, want %+v", gen, wantGen)
	}
	if in.IgnitionFile != DestConfigPath || in.IgnitionURL != "" || len(in.Notes) != 0 {
		t.Errorf("install %+v", in)
	}

	// Two destination configs and a CA: a wrapper.
	dst := in.Dest
	if dst == nil || dst.Path != DestConfigPath || dst.Err != nil || !dst.Wrapper || dst.CAs != 1 || len(dst.Merged) != 2 {
		t.Fatalf("dest %+v", dst)
	}
	for i, name := range []string{"dest.ign", "dest-2.ign"} {
		m := dst.Merged[i]
		if !m.Inline || m.Replace || m.Err != nil || !bytes.Equal(m.Data, compact(t, input(t, name).Data)) {
			t.Errorf("dest merge %d: %+v", i, m)
		}
		if !strings.HasPrefix(m.Source, "data URL, ") || !strings.HasSuffix(m.Source, " bytes, gzip") {
			t.Errorf("dest merge %d source %q", i, m.Source)
		}
	}
	if s := dst.Merged[0].Config.Summary(); !reflect.DeepEqual(s.Units, []string{"dest-ignition-applied.service (enabled)"}) {
		t.Errorf("dest.ign units %q", s.Units)
	}

	wantHooks := []Hook{
		{"pre", "pre-install-1", HookDir + "pre-install-pre-install-1", "pre-install-pre-install-1.service"},
		{"pre", "pre-install-2", HookDir + "pre-install-pre-install-2", "pre-install-pre-install-2.service"},
		{"post", "post-install-1", HookDir + "post-install-post-install-1", "post-install-post-install-1.service"},
	}
	if !reflect.DeepEqual(d.Hooks, wantHooks) {
		t.Errorf("hooks %+v, want %+v", d.Hooks, wantHooks)
	}
	if d.CAs != 1 {
		t.Errorf("CAs %d", d.CAs)
	}
	// The live configs, then the caller's own.
	wantLive := [][]byte{compact(t, input(t, "live.ign").Data), compact(t, input(t, "live-2.ign").Data), compact(t, own)}
	if len(d.LiveConfigs) != len(wantLive) {
		t.Fatalf("%d live configs, want %d", len(d.LiveConfigs), len(wantLive))
	}
	for i, want := range wantLive {
		if got := d.LiveConfigs[i]; !got.Inline || got.Err != nil || !bytes.Equal(got.Data, want) {
			t.Errorf("live config %d: %q, want %q", i, got.Data, want)
		}
	}
	if d.Live.Version != GeneratedSpec {
		t.Errorf("live version %q", d.Live.Version)
	}
}

func TestDescribeSingleDest(t *testing.T) {
	d := describeBuilt(t, Options{DestIgnition: []Input{input(t, "dest.ign")}, DestDevice: "/dev/sda"})
	dst := d.Install.Dest
	// One config without CAs is stored as it is, with a final newline.
	want := append(compact(t, input(t, "dest.ign").Data), '\n')
	if dst == nil || !bytes.Equal(dst.Data, want) || dst.Wrapper || len(dst.Merged) != 0 || dst.CAs != 0 {
		t.Fatalf("dest %+v", dst)
	}
	if d.Install.DestDevice != "/dev/sda" || len(d.Hooks) != 0 || d.CAs != 0 || len(d.LiveConfigs) != 0 {
		t.Errorf("description %+v", d)
	}
	if want := []string{"0000-customize.yaml"}; !reflect.DeepEqual(configNames(d), want) {
		t.Errorf("installer configs %q", configNames(d))
	}

	// One config with a CA is wrapped.
	d = describeBuilt(t, Options{DestIgnition: []Input{input(t, "dest-2.ign")}, IgnitionCA: []Input{input(t, "cert.pem")}})
	dst = d.Install.Dest
	if !dst.Wrapper || dst.CAs != 1 || len(dst.Merged) != 1 || !bytes.Equal(dst.Merged[0].Data, compact(t, input(t, "dest-2.ign").Data)) {
		t.Fatalf("dest %+v", dst)
	}
	if d.Install.DestDevice != "" {
		t.Errorf("DestDevice %q without --dest-device", d.Install.DestDevice)
	}
}

func TestDescribeDeviceFromInstallerConfigs(t *testing.T) {
	dev := Input{Name: "/tmp/dev.yaml", Data: []byte("dest-device: /dev/sdb\n")}
	d := describeBuilt(t, Options{InstallerConfig: []Input{dev}})
	if d.Install == nil || d.Install.DestDevice != "/dev/sdb" || d.Install.Dest != nil || len(d.Install.Notes) != 0 {
		t.Fatalf("install %+v", d.Install)
	}
	// The generated config sorts last and so wins.
	d = describeBuilt(t, Options{InstallerConfig: []Input{dev}, DestDevice: "/dev/sda"})
	if d.Install.DestDevice != "/dev/sda" {
		t.Errorf("DestDevice %q, want the generated /dev/sda", d.Install.DestDevice)
	}
	if len(d.Install.Notes) != 1 || !strings.Contains(d.Install.Notes[0], "/dev/sdb (0000-dev.yaml), /dev/sda (0001-customize.yaml)") {
		t.Errorf("notes %q", d.Install.Notes)
	}
}

func TestDescribeHooksOnly(t *testing.T) {
	d := describeBuilt(t, Options{PostInstall: []Input{input(t, "post-install-2")}, IgnitionCA: []Input{input(t, "cert.pem")}})
	if d.Install != nil || !d.Generated() || len(d.Hooks) != 1 || d.Hooks[0].Kind != "post" || d.Hooks[0].Name != "post-install-2" || d.CAs != 1 {
		t.Fatalf("description %+v", d)
	}
}

func TestDescribePlainConfig(t *testing.T) {
	for _, name := range []string{"live.ign", "dest.ign"} {
		d, err := Describe(input(t, name).Data)
		if err != nil {
			t.Fatal(err)
		}
		if d.Install != nil || d.Generated() || len(d.Hooks) != 0 || d.CAs != 0 || len(d.LiveConfigs) != 0 {
			t.Errorf("%s: %+v", name, d)
		}
		if d.Live == nil || d.Live.Version != "3.3.0" {
			t.Errorf("%s: live config %+v", name, d.Live)
		}
	}
	// A user's hook-like file without its unit is no hook.
	d, err := Describe([]byte(`{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/usr/local/bin/pre-install-x"}]}}`))
	if err != nil || len(d.Hooks) != 0 {
		t.Errorf("Describe: %+v, %v", d, err)
	}
	_, err = Describe([]byte(`{"ignition":{"version":"3.0.0"}`))
	var pe *ignconfig.ParseError
	if !errors.As(err, &pe) || pe.Name != ConfigMember {
		t.Errorf("Describe of a broken config: %v", err)
	}
}

// referenceConfig is a live config laid out as coreos-installer writes it
// (docs/coreos-live-iso-spec.md §5.4.1): explicit nulls, gzip level 9,
// "data:;base64," sources.
func referenceConfig(t *testing.T, files map[string][]byte, order []string, merges ...[]byte) []byte {
	t.Helper()
	res := func(data []byte) string {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(data)
		zw.Close()
		return `{"compression":"gzip","source":"data:;base64,` + base64.StdEncoding.EncodeToString(buf.Bytes()) + `"}`
	}
	var fs, ms []string
	for _, p := range order {
		fs = append(fs, `{"contents":`+res(files[p])+`,"mode":384,"overwrite":null,"path":"`+p+`"}`)
	}
	for _, m := range merges {
		ms = append(ms, res(m))
	}
	cfg := `{"ignition":{`
	if len(ms) > 0 {
		cfg += `"config":{"merge":[` + strings.Join(ms, ",") + `]},`
	}
	cfg += `"version":"3.3.0"},"storage":{"files":[` + strings.Join(fs, ",") + `]},` +
		`"systemd":{"units":[{"contents":"[Unit]\n","enabled":true,"mask":null,"name":"pre-install-hook.service"}]}}` + "\n"
	if !json.Valid([]byte(cfg)) {
		t.Fatalf("invalid reference config %s", cfg)
	}
	return []byte(cfg)
}

func TestDescribeReferenceLayout(t *testing.T) {
	destIgn := input(t, "dest.ign").Data
	files := map[string][]byte{
		HookDir + "pre-install-hook":                 []byte("#!/bin/sh\n"),
		InstallerConfigDir + "0000-install-1.conf":   input(t, "install-1.conf").Data,
		DestConfigPath:                               destIgn,
		InstallerConfigDir + "0001-customize.yaml":   []byte("ignition-file: /etc/coreos/dest.ign\ndest-device: /dev/vda\n"),
		InstallerConfigDir + "sub/0002-ignored.yaml": []byte("dest-device: /dev/vdz\n"),
	}
	// Written out of name order: the installer sorts.
	order := []string{HookDir + "pre-install-hook", InstallerConfigDir + "0001-customize.yaml", DestConfigPath, InstallerConfigDir + "0000-install-1.conf", InstallerConfigDir + "sub/0002-ignored.yaml"}
	d, err := Describe(referenceConfig(t, files, order, input(t, "live.ign").Data))
	if err != nil {
		t.Fatal(err)
	}
	if got := configNames(d); !reflect.DeepEqual(got, []string{"0000-install-1.conf", "0001-customize.yaml"}) {
		t.Errorf("installer configs %q", got)
	}
	if d.Install.DestDevice != "/dev/vda" || !bytes.Equal(d.Install.Dest.Data, destIgn) || d.Install.Dest.Wrapper {
		t.Errorf("install %+v", d.Install)
	}
	if len(d.Hooks) != 1 || d.Hooks[0].Name != "hook" || d.Hooks[0].Unit != "pre-install-hook.service" {
		t.Errorf("hooks %+v", d.Hooks)
	}
	if len(d.LiveConfigs) != 1 || !bytes.Equal(d.LiveConfigs[0].Data, input(t, "live.ign").Data) {
		t.Errorf("live configs %+v", d.LiveConfigs)
	}
}

func TestDescribeRemoteAndBroken(t *testing.T) {
	raw := []byte(`{"ignition":{"version":"3.4.0","config":{"merge":[{"source":"https://u:pw@example.com/live.ign"},{"source":"data:,not%20json"}],` +
		`"replace":{"source":"data:,%7B%22ignition%22%3A%7B%22version%22%3A%223.2.0%22%7D%7D"}}},"storage":{"files":[` +
		`{"path":"/etc/coreos/installer.d/a.yaml","contents":{"source":"data:,ignition-file%3A%20%2Fetc%2Fcoreos%2Fdest.ign%0A"}},` +
		`{"path":"/etc/coreos/installer.d/b.yaml","contents":{"source":"https://example.com/b.yaml"}},` +
		`{"path":"/etc/coreos/installer.d/c.yaml","contents":{"source":"data:,bogus%3A%201%0A"},"append":[{"source":"data:,dest-device%3A%20%2Fdev%2Fsdc%0A"}]},` +
		`{"path":"/etc/coreos/installer.d/d.yaml","contents":{"source":"data:,ignition-url%3A%20https%3A%2F%2Fexample.com%2Fd.ign%0A"}},` +
		`{"path":"/etc/coreos/installer.d/e.yaml","append":[{"source":"data:,dest-device%3A%20%2Fdev%2Fsde%0A"}]},` +
		`{"path":"/etc/coreos/dest.ign","contents":{"source":"data:,%7B%7D"}}]}}`)
	d, err := Describe(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.LiveConfigs) != 3 {
		t.Fatalf("live configs %+v", d.LiveConfigs)
	}
	if l := d.LiveConfigs[0]; l.Inline || l.Data != nil || l.Config != nil || l.Source != "https://u:xxxxx@example.com/live.ign" {
		t.Errorf("remote live config %+v", l)
	}
	if l := d.LiveConfigs[1]; !l.Inline || string(l.Data) != "not json" || l.Err == nil {
		t.Errorf("broken live config %+v", l)
	}
	if l := d.LiveConfigs[2]; !l.Replace || l.Config == nil || l.Config.Version != "3.2.0" {
		t.Errorf("replacing config %+v", l)
	}
	in := d.Install
	if got := configNames(d); !reflect.DeepEqual(got, []string{"a.yaml", "b.yaml", "c.yaml", "d.yaml", "e.yaml"}) {
		t.Fatalf("configs %q", got)
	}
	if c := in.Configs[1]; c.Remote != "https://example.com/b.yaml" || c.Text != "" || c.Settings != nil {
		t.Errorf("remote installer config %+v", c)
	}
	// Appended contents count; an unknown key makes the file invalid.
	if c := in.Configs[2]; c.Text != "bogus: 1\ndest-device: /dev/sdc\n" || c.Err == nil || c.Settings != nil {
		t.Errorf("invalid installer config %+v", c)
	}
	if in.DestDevice != "/dev/sde" || in.IgnitionURL != "https://example.com/d.ign" || in.IgnitionFile != DestConfigPath {
		t.Errorf("install %+v", in)
	}
	if in.Dest == nil || string(in.Dest.Data) != "{}" || in.Dest.Err == nil || in.Dest.Config != nil {
		t.Errorf("broken dest config %+v", in.Dest)
	}

	// An ignition-file that the live config does not carry.
	d, err = Describe([]byte(`{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/coreos/installer.d/x.yaml","contents":{"source":"data:,ignition-file%3A%20%2Fmnt%2Fx.ign%0A"}}]}}`))
	if err != nil || d.Install.Dest != nil || len(d.Install.Notes) != 1 || !strings.Contains(d.Install.Notes[0], "/mnt/x.ign") {
		t.Errorf("Describe: %+v, %v", d.Install, err)
	}
	// A remote destination config is named, not fetched.
	d, err = Describe([]byte(`{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/coreos/installer.d/x.yaml","contents":{"source":"data:,ignition-file%3A%20%2Fetc%2Fd.ign%0A"}},{"path":"/etc/d.ign","contents":{"source":"http://10.0.0.1/d.ign"}}]}}`))
	if err != nil || d.Install.Dest == nil || d.Install.Dest.Remote != "http://10.0.0.1/d.ign" || d.Install.Dest.Data != nil {
		t.Errorf("Describe: %+v, %v", d.Install.Dest, err)
	}
}

func gzipDataURL(t *testing.T, data []byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(data)
	zw.Close()
	return "data:;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}

func TestDescribeBounded(t *testing.T) {
	file := func(path string, data []byte) string {
		return `{"path":"` + path + `","contents":{"compression":"gzip","source":"` + gzipDataURL(t, data) + `"}}`
	}
	cfg := func(files ...string) []byte {
		return []byte(`{"ignition":{"version":"3.3.0"},"storage":{"files":[` + strings.Join(files, ",") + `]}}`)
	}
	// The budget is shared: the second file passes it.
	raw := cfg(file(InstallerConfigDir+"a.yaml", bytes.Repeat([]byte("#"), 60)), file(InstallerConfigDir+"b.yaml", bytes.Repeat([]byte("#"), 60)))
	if _, err := describe(raw, 120); err != nil {
		t.Fatalf("within the limit: %v", err)
	}
	_, err := describe(raw, 119)
	var le *DecodeLimitError
	if !errors.As(err, &le) || le.What != InstallerConfigDir+"b.yaml" || !strings.Contains(err.Error(), "b.yaml") {
		t.Fatalf("over the limit: %v", err)
	}
	// Merged configs count too.
	merge := []byte(`{"ignition":{"version":"3.3.0","config":{"merge":[{"compression":"gzip","source":"` + gzipDataURL(t, []byte(`{"ignition":{"version":"3.3.0"}}`)) + `"}]}}}`)
	if _, err := describe(merge, 10); !errors.As(err, &le) || le.What != "config.ign ignition.config.merge.0" {
		t.Fatalf("merge over the limit: %v", err)
	}

	// A gzip bomb: 65 members of 1 MiB of zeros each, 1 KiB apiece
	// compressed, one MiB more than MaxDecoded.
	member := mustBase64(t, gzipDataURL(t, make([]byte, 1<<20)))
	bombURL := "data:;base64," + base64.StdEncoding.EncodeToString(bytes.Repeat(member, MaxDecoded>>20+1))
	bomb := cfg(`{"path":"`+DestConfigPath+`","contents":{"compression":"gzip","source":"`+bombURL+`"}}`,
		`{"path":"/etc/coreos/installer.d/x.yaml","contents":{"source":"data:,ignition-file%3A%20%2Fetc%2Fcoreos%2Fdest.ign%0A"}}`)
	if _, err := Describe(bomb); !errors.As(err, &le) || le.What != DestConfigPath || le.Limit != MaxDecoded {
		t.Fatalf("gzip bomb: %v", err)
	}

	// Broken gzip names the file.
	broken := []byte(`{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/etc/coreos/installer.d/x.yaml","contents":{"compression":"gzip","source":"data:,not-gzip"}}]}}`)
	if _, err := Describe(broken); err == nil || !strings.Contains(err.Error(), "/etc/coreos/installer.d/x.yaml") {
		t.Fatalf("broken gzip: %v", err)
	}
	full := gzipDataURL(t, []byte("dest-device: /dev/sda\n"))
	truncated := []byte(`{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/etc/coreos/installer.d/x.yaml","contents":{"compression":"gzip","source":"data:;base64,` +
		base64.StdEncoding.EncodeToString(mustBase64(t, full)[:20]) + `"}}]}}`)
	if _, err := Describe(truncated); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("truncated gzip: %v", err)
	}
}

func mustBase64(t *testing.T, dataURL string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(dataURL, "data:;base64,"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInstallerSettingsKeys: the JSON keys of the settings (inspect --json)
// are the YAML keys of the installer config.
func TestInstallerSettingsKeys(t *testing.T) {
	settings := reflect.TypeFor[InstallerSettings]()
	for i := range settings.NumField() {
		yamlKey, _, _ := strings.Cut(settings.Field(i).Tag.Get("yaml"), ",")
		jsonKey, _, _ := strings.Cut(settings.Field(i).Tag.Get("json"), ",")
		if yamlKey == "" || jsonKey != yamlKey {
			t.Errorf("field %s: yaml %q, json %q", settings.Field(i).Name, yamlKey, jsonKey)
		}
	}
	s := &InstallerSettings{DestDevice: "/dev/sda", Console: []string{"ttyS0", "tty0"}, CopyNetwork: true, Stream: "stable"}
	want := []Setting{{"stream", "stable"}, {"console", "[ttyS0, tty0]"}, {"copy-network", "true"}, {"dest-device", "/dev/sda"}}
	if got := s.List(); !reflect.DeepEqual(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
	var none *InstallerSettings
	if none.List() != nil {
		t.Error("List of nil settings")
	}
}
