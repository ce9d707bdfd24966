package flatcar_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/pkg/flatcar"
	"github.com/isobuild/isobuild/pkg/ignconfig"
	"github.com/isobuild/isobuild/pkg/initrd"
	"github.com/isobuild/isobuild/pkg/installer"
)

const userConfig = `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/hostname","contents":{"source":"data:,live"}}]}}`
const destConfig = `{"ignition":{"version":"3.3.0"},"passwd":{"users":[{"name":"core","sshAuthorizedKeys":["ssh-ed25519 AAAA test"]}]}}`

func TestInitramfs(t *testing.T) {
	a, err := flatcar.Initramfs([]byte(userConfig), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := flatcar.Initramfs([]byte(userConfig), nil, nil)
	if !bytes.Equal(a, b) {
		t.Error("Initramfs is not deterministic")
	}
	if len(a)%4 != 0 || a[0] != 0x1f || a[1] != 0x8b {
		t.Errorf("archive of %d bytes starting % x: want gzip, a multiple of 4", len(a), a[:2])
	}
	files, err := initrd.Decode(bytes.NewReader(a), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || string(files[flatcar.ConfigMember]) != userConfig {
		t.Errorf("archive holds %v, want only %s", files.Names(), flatcar.ConfigMember)
	}
	// The directories come first, as the kernel needs.
	zr, err := gzip.NewReader(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	r := initrd.NewReader(zr)
	var names []string
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	if got := strings.Join(names, " "); got != "usr usr/share usr/share/oem usr/share/oem/config.ign" {
		t.Errorf("members %q", got)
	}
}

func TestLiveConfigPlain(t *testing.T) {
	out, _, err := flatcar.LiveConfig(&installer.Input{Name: "live.ign", Data: []byte(userConfig)}, nil)
	if err != nil || string(out) != userConfig {
		t.Fatalf("got %q, %v: want the config as it is", out, err)
	}
	if out, _, err := flatcar.LiveConfig(nil, nil); out != nil || err != nil {
		t.Errorf("no config: got %q, %v", out, err)
	}
	_, _, err = flatcar.LiveConfig(&installer.Input{Name: "bad.ign", Data: []byte(`{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"rel"}]}}`)}, nil)
	if err == nil || !strings.Contains(err.Error(), "bad.ign") || !strings.Contains(err.Error(), "path not absolute") {
		t.Errorf("invalid config: %v", err)
	}
}

// decoded is the part of a generated config the test reads.
type decoded struct {
	Ignition struct {
		Version string
		Config  struct {
			Merge []struct{ Source, Compression string }
		}
	}
	Storage struct {
		Files []struct {
			Path     string
			Mode     int
			Contents struct{ Source, Compression string }
		}
	}
	Systemd struct {
		Units []struct {
			Name     string
			Enabled  bool
			Contents string
		}
	}
}

func inline(t *testing.T, source, compression string) string {
	t.Helper()
	data, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(source, "data:;base64,"))
	if err != nil {
		t.Fatal(err)
	}
	if compression == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return string(data)
}

func TestLiveConfigInstall(t *testing.T) {
	inst := &flatcar.Install{Device: "/dev/vda", Configs: []installer.Input{{Name: "dest.ign", Data: []byte(destConfig)}}}
	out, _, err := flatcar.LiveConfig(&installer.Input{Name: "live.ign", Data: []byte(userConfig)}, inst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ignconfig.Parse("out", out); err != nil {
		t.Fatalf("generated config does not parse: %v", err)
	}
	var c decoded
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatal(err)
	}
	if c.Ignition.Version != "3.3.0" {
		t.Errorf("version %s", c.Ignition.Version)
	}
	if len(c.Storage.Files) != 1 || c.Storage.Files[0].Path != flatcar.DestConfigPath || c.Storage.Files[0].Mode != 0o600 {
		t.Fatalf("files %+v", c.Storage.Files)
	}
	if got := inline(t, c.Storage.Files[0].Contents.Source, c.Storage.Files[0].Contents.Compression); got != destConfig+"\n" {
		t.Errorf("destination config %q", got)
	}
	if len(c.Systemd.Units) != 1 || c.Systemd.Units[0].Name != flatcar.InstallUnit || !c.Systemd.Units[0].Enabled {
		t.Fatalf("units %+v", c.Systemd.Units)
	}
	unit := c.Systemd.Units[0].Contents
	for _, want := range []string{"ExecStart=/usr/bin/flatcar-install -d /dev/vda -i /opt/isobuild/install.ign\n", "After=network-online.target\n", "WantedBy=multi-user.target\n", "reboot"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	if len(c.Ignition.Config.Merge) != 1 || !strings.Contains(inline(t, c.Ignition.Config.Merge[0].Source, c.Ignition.Config.Merge[0].Compression), `"path":"/etc/hostname"`) {
		t.Errorf("user config not merged: %+v", c.Ignition.Config.Merge)
	}

	// Two destination configs are merged by a wrapper.
	inst.Configs = append(inst.Configs, installer.Input{Name: "two.ign", Data: []byte(userConfig)})
	out, _, err = flatcar.LiveConfig(nil, inst)
	if err != nil {
		t.Fatal(err)
	}
	c = decoded{}
	json.Unmarshal(out, &c)
	var wrapper decoded
	if err := json.Unmarshal([]byte(inline(t, c.Storage.Files[0].Contents.Source, c.Storage.Files[0].Contents.Compression)), &wrapper); err != nil {
		t.Fatal(err)
	}
	if len(wrapper.Ignition.Config.Merge) != 2 || len(c.Ignition.Config.Merge) != 0 {
		t.Errorf("wrapper merges %d configs, live merges %d", len(wrapper.Ignition.Config.Merge), len(c.Ignition.Config.Merge))
	}
}

func TestLiveConfigInstallErrors(t *testing.T) {
	dest := []installer.Input{{Name: "dest.ign", Data: []byte(destConfig)}}
	for _, tc := range []struct {
		inst *flatcar.Install
		want string
	}{
		{&flatcar.Install{Configs: dest}, flatcar.ErrNoDevice.Error()},
		{&flatcar.Install{Device: "/dev/sda"}, flatcar.ErrNoConfig.Error()},
		{&flatcar.Install{Device: "sda", Configs: dest}, "not an absolute path"},
		{&flatcar.Install{Device: "/dev/sda\nExecStartPre=/bin/rm -rf /", Configs: dest}, `has the character "\n"`},
		{&flatcar.Install{Device: "/dev/sda -V alpha", Configs: dest}, `has the character " "`},
		{&flatcar.Install{Device: "/dev/sd%a", Configs: dest}, `has the character "%"`},
		{&flatcar.Install{Device: "/dev/sda", Configs: []installer.Input{{Name: "x.ign", Err: errors.New("boom")}}}, "x.ign: boom"},
	} {
		if _, _, err := flatcar.LiveConfig(nil, tc.inst); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.inst, err, tc.want)
		}
	}
}
