package installer

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/ignconfig"
)

// FuzzParseFeatures checks features.json decoding: input that is not JSON
// is an error, and what is accepted survives encoding and decoding again
// unchanged.
func FuzzParseFeatures(f *testing.F) {
	f.Add([]byte(`{"installer-config": true, "live-initrd-network": true}`))
	f.Add([]byte(`{"installer-config": true, "installer-config-directives": {"console": true, "append-karg": true}, "live-initrd-network": true}`))
	f.Add([]byte(`{"installer-config": "yes"}`))
	f.Add([]byte(`{"Installer-Config": true, "installer-config": false}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, raw []byte) {
		feat, err := ParseFeatures(raw)
		if err != nil {
			if !reflect.DeepEqual(feat, Features{}) {
				t.Fatalf("ParseFeatures returned %+v with an error", feat)
			}
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("ParseFeatures accepted invalid JSON %q", raw)
		}
		enc, err := json.Marshal(feat)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseFeatures(enc)
		if err != nil {
			t.Fatalf("ParseFeatures(%s): %v", enc, err)
		}
		if len(again.InstallerConfigDirectives) == 0 && len(feat.InstallerConfigDirectives) == 0 {
			again.InstallerConfigDirectives = feat.InstallerConfigDirectives
		}
		if !reflect.DeepEqual(again, feat) {
			t.Fatalf("round trip changed %+v into %+v", feat, again)
		}
	})
}

// FuzzParseConsole checks console specs: an accepted spec names one of the
// known devices with sane line settings, its normalised String parses back
// to the same console, and Karg is "console=" and String.
func FuzzParseConsole(f *testing.F) {
	for _, s := range []string{
		"ttyS0", "ttyS1,115200n8", "ttyS1,1234567e5", "ttyS2,5o", "ttyAMA0,115200", "tty0", "hvc0",
		"ttysclp0", "ttyS007,115200e7", "console=ttyS0", "/dev/ttyS0", "ttyS0,", "ttyS0,115200p8",
		"ttyS4294967296", "ttyS0,99999999999999", "tty1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		c, err := ParseConsole(spec)
		if err != nil {
			if c != (Console{}) {
				t.Fatalf("ParseConsole(%q) returned %+v with an error", spec, c)
			}
			if !strings.Contains(err.Error(), "console ") {
				t.Fatalf("ParseConsole(%q): error %q does not name the console", spec, err)
			}
			return
		}
		switch {
		case c.Device == "tty0" || c.Device == "hvc0" || c.Device == "ttysclp0":
			if c.Speed != 0 || c.Parity != 0 || c.Bits != 0 {
				t.Fatalf("ParseConsole(%q) = %+v: line settings on a non-serial console", spec, c)
			}
		case strings.HasPrefix(c.Device, "ttyS") || strings.HasPrefix(c.Device, "ttyAMA"):
			if !strings.ContainsRune("noe", rune(c.Parity)) || c.Parity == 0 || c.Bits < 5 || c.Bits > 8 {
				t.Fatalf("ParseConsole(%q) = %+v", spec, c)
			}
		default:
			t.Fatalf("ParseConsole(%q) = %+v: unknown device", spec, c)
		}
		again, err := ParseConsole(c.String())
		if err != nil || again != c {
			t.Fatalf("ParseConsole(%q) = %+v, but its String %q parses as %+v, %v", spec, c, c.String(), again, err)
		}
		if c.Karg() != "console="+c.String() {
			t.Fatalf("Karg %q, String %q", c.Karg(), c.String())
		}
	})
}

// installerConfigSeeds are real and almost valid installer configs.
func installerConfigSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, name := range []string{"install-1.conf", "install-2.conf"} {
		seeds = append(seeds, readCustomize(f, name))
	}
	return append(seeds,
		[]byte("dest-device: /dev/vda\nappend-karg: [a, b]\ncopy-network: true\n"),
		[]byte("image-url: https://example.com/x.raw.xz\nignition-hash: sha256-0\nfetch-retries: infinite\nsave-partlabel: ['data*']\n"),
		[]byte("bogus-key: 1\n"),
		[]byte("append-karg: a\n"),
		[]byte("a: &x [1]\nb: *x\n"),
		[]byte("dest-device: /dev/vda\ndest-device: /dev/vdb\n"),
		[]byte("---\ndest-device: /dev/vda\n---\nbogus: 1\n"),
		[]byte(""),
		[]byte("# comment only\n"),
	)
}

func readCustomize(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(fixture.Customize(tb, name))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// FuzzInstallerConfig checks the validation of --installer-config files:
// checkInstallerConfig never panics and its errors do not leak Go type
// names; whatever it accepts still passes after a YAML encode and decode.
// Build on the same input must fail with an InstallerConfigError exactly
// when checkInstallerConfig fails, and otherwise generate a valid live
// config that carries the file unchanged.
func FuzzInstallerConfig(f *testing.F) {
	for _, s := range installerConfigSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := checkInstallerConfig(data)
		if err != nil {
			if cfg != nil {
				t.Fatal("checkInstallerConfig returned a config with an error")
			}
			if strings.Contains(err.Error(), "installer.") {
				t.Fatalf("error %q names a Go type", err)
			}
		} else {
			enc, err := yaml.Marshal(cfg)
			if err != nil {
				t.Fatalf("encoding %+v: %v", cfg, err)
			}
			again, err := checkInstallerConfig(enc)
			if err != nil {
				t.Fatalf("accepted config %+v re-encoded as %q fails: %v", cfg, enc, err)
			}
			if enc2, err := yaml.Marshal(again); err != nil || !bytes.Equal(enc2, enc) {
				t.Fatalf("accepted config re-encoded as %q, then as %q, %v", enc, enc2, err)
			}
		}

		in := Input{Name: "/tmp/fuzz.yaml", Data: data}
		res, berr := Build(Options{InstallerConfig: []Input{in}}, Features{InstallerConfig: true})
		var ice *InstallerConfigError
		if err != nil {
			if !errors.As(berr, &ice) || ice.Input != in.Name {
				t.Fatalf("Build: %v, checkInstallerConfig: %v", berr, err)
			}
			return
		}
		if berr != nil {
			t.Fatalf("Build: %v", berr)
		}
		live, ok := res.Files[ConfigMember]
		if !ok {
			t.Fatal("no live config")
		}
		var ign struct {
			Storage struct {
				Files []struct {
					Path     string
					Contents struct {
						Compression string
						Source      string
					}
				}
			}
		}
		if err := json.Unmarshal(live, &ign); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, file := range ign.Storage.Files {
			if file.Path == InstallerConfigDir+"0000-fuzz.yaml" {
				found = true
				if got := fixture.InlineResource(t, file.Contents.Compression, file.Contents.Source); !bytes.Equal(got, data) {
					t.Fatalf("installer config carried as %q, want %q", got, data)
				}
			}
		}
		if !found {
			t.Fatalf("live config %s lacks the installer config", live)
		}
	})
}

// describeSeeds are live configs from Build (all options, a single
// destination config, hooks only), the plain configs of the fixtures, and
// hand-made configs with remote, broken and compressed resources.
func describeSeeds(f *testing.F) [][]byte {
	in := func(name string) Input {
		return Input{Name: name, Data: readCustomize(f, name)}
	}
	var seeds [][]byte
	for _, o := range []Options{
		{
			DestIgnition: []Input{in("dest.ign"), in("dest-2.ign")}, DestDevice: "/dev/vda",
			DestConsole:    []Console{{Device: "ttyS0", Speed: 115200, Parity: 'n', Bits: 8}},
			DestKargAppend: []string{"dest-karg"}, DestKargDelete: []string{"quiet"},
			IgnitionCA: []Input{in("cert.pem")}, PreInstall: []Input{in("pre-install-1")}, PostInstall: []Input{in("post-install-1")},
			InstallerConfig: []Input{in("install-1.conf")}, LiveIgnition: []Input{in("live.ign")},
		},
		{DestIgnition: []Input{in("dest.ign")}, DestDevice: "/dev/sda"},
		{PreInstall: []Input{in("pre-install-2")}},
	} {
		r, err := Build(o, Features{InstallerConfig: true, InstallerConfigDirectives: map[string]bool{"console": true}})
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, r.Files[ConfigMember])
	}
	for _, name := range []string{"live.ign", "dest-2.ign"} {
		seeds = append(seeds, readCustomize(f, name))
	}
	return append(seeds,
		[]byte(`{"ignition":{"version":"3.4.0","config":{"replace":{"source":"https://example.com/x.ign"}}},"storage":{"files":[{"path":"/etc/coreos/installer.d/a","contents":{"source":"data:,dest-device%3A%20%2Fdev%2Fsda"}},{"path":"/etc/coreos/installer.d/b","append":[{"source":"data:,ignition-file%3A%20%2Fd"}]},{"path":"/d","contents":{"source":"data:,%7B%7D"}}]}}`),
		[]byte(`{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/etc/coreos/installer.d/x","contents":{"compression":"gzip","source":"data:,x"}}]}}`),
		[]byte(`{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/usr/local/bin/post-install-x"}]},"systemd":{"units":[{"name":"post-install-x.service"}]}}`),
		[]byte(`{"ignition":{"version":"3.0.0"}`),
		[]byte(`{}`),
	)
}

// FuzzDescribe checks that Describe never panics and that its errors are
// a ParseError exactly when ignconfig.Parse refuses the input, and
// otherwise name what failed to decode. A description keeps the
// installer's rules: the configs are under InstallerConfigDir in name
// order, the destination device is the last one set, every hook has its
// unit, and the decoded bytes stay within MaxDecoded.
func FuzzDescribe(f *testing.F) {
	for _, s := range describeSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := Describe(raw)
		_, perr := ignconfig.Parse(ConfigMember, raw)
		if err != nil {
			if d != nil {
				t.Fatal("Describe returned a description with an error")
			}
			var pe *ignconfig.ParseError
			switch {
			case perr != nil:
				if !errors.As(err, &pe) {
					t.Fatalf("Describe: %v, want the ParseError %v", err, perr)
				}
			case !strings.HasPrefix(err.Error(), "decoding "):
				t.Fatalf("Describe of a valid config: %v", err)
			}
			return
		}
		if perr != nil {
			t.Fatalf("Describe accepted a config that Parse refuses: %v", perr)
		}
		if d.Live == nil {
			t.Fatal("no live config")
		}
		total := 0
		for _, l := range d.LiveConfigs {
			total += len(l.Data)
			if !l.Inline && (l.Data != nil || l.Config != nil) {
				t.Fatalf("remote config with data: %+v", l)
			}
		}
		for _, h := range d.Hooks {
			if h.Unit != h.Kind+"-install-"+h.Name+".service" || h.Path != HookDir+h.Kind+"-install-"+h.Name {
				t.Fatalf("hook %+v", h)
			}
		}
		if in := d.Install; in != nil {
			if len(in.Configs) == 0 {
				t.Fatal("install without installer configs")
			}
			device := ""
			for i, c := range in.Configs {
				if !strings.HasPrefix(c.Path, InstallerConfigDir) || (i > 0 && in.Configs[i-1].Path >= c.Path) {
					t.Fatalf("installer configs out of order: %q after %q", c.Path, in.Configs[max(i-1, 0)].Path)
				}
				if (c.Settings == nil) != (c.Err != nil || c.Remote != "") {
					t.Fatalf("installer config %+v", c)
				}
				if c.Settings != nil && c.Settings.DestDevice != "" {
					device = c.Settings.DestDevice
				}
				total += len(c.Text)
			}
			if in.DestDevice != device {
				t.Fatalf("DestDevice %q, want the last one set, %q", in.DestDevice, device)
			}
			if in.Dest != nil {
				total += len(in.Dest.Data)
				for _, m := range in.Dest.Merged {
					total += len(m.Data)
				}
				if in.Dest.Path != in.IgnitionFile || (in.Dest.Wrapper && len(in.Dest.Merged) == 0) {
					t.Fatalf("dest %+v", in.Dest)
				}
			}
		}
		if total > MaxDecoded {
			t.Fatalf("%d bytes decoded", total)
		}
	})
}
