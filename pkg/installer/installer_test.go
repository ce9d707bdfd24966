package installer

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/ignconfig"
)

// all is the feature set of a current Fedora CoreOS image.
var all = Features{InstallerConfig: true, LiveInitrdNetwork: true, InstallerConfigDirectives: map[string]bool{"console": true}}

func input(t *testing.T, name string) Input {
	t.Helper()
	p := fixture.Customize(t, name)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return Input{Name: p, Data: data}
}

func build(t *testing.T, o Options, f Features) *Result {
	t.Helper()
	r, err := Build(o, f)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return r
}

// live is the part of a generated live config the tests look at.
type live struct {
	Ignition struct {
		Config struct {
			Merge []resourceJSON `json:"merge"`
		} `json:"config"`
		Version string `json:"version"`
	} `json:"ignition"`
	Storage struct {
		Files []struct {
			Path     string       `json:"path"`
			Contents resourceJSON `json:"contents"`
		} `json:"files"`
	} `json:"storage"`
	Systemd struct {
		Units []struct {
			Name     string `json:"name"`
			Contents string `json:"contents"`
		} `json:"units"`
	} `json:"systemd"`
}

type resourceJSON struct {
	Compression string `json:"compression"`
	Source      string `json:"source"`
}

func (r resourceJSON) data(t *testing.T) []byte {
	t.Helper()
	return fixture.InlineResource(t, r.Compression, r.Source)
}

func parseLive(t *testing.T, r *Result) live {
	t.Helper()
	raw, ok := r.Files[ConfigMember]
	if !ok {
		t.Fatalf("no live config among %v", r.Files.Names())
	}
	if _, err := ignconfig.Parse("config.ign", raw); err != nil {
		t.Fatalf("generated live config does not validate: %v", err)
	}
	var l live
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

func kinds(ws []Warning) []WarningKind {
	var out []WarningKind
	for _, w := range ws {
		out = append(out, w.Kind)
	}
	return out
}

// TestLiveConfigRule: the caller's own config is embedded as it is unless
// another option needs a live config, and then merged; keyfiles and Nmstate
// files never need one.
func TestLiveConfigRule(t *testing.T) {
	own := input(t, "live.ign")
	keyfile := input(t, "installer-test.nmconnection")
	nmstate := Nmstate{Name: "net.yaml", Keyfiles: []Keyfile{{Name: "eth1.nmconnection", Data: []byte("[connection]\n")}}}
	for _, tc := range []struct {
		name   string
		o      Options
		merged bool
	}{
		{"alone", Options{}, false},
		{"with a keyfile", Options{NetworkKeyfile: []Input{keyfile}}, false},
		{"with an nmstate file", Options{NetworkNmstate: []Nmstate{nmstate}}, false},
		{"with a destination device", Options{DestDevice: "/dev/sda"}, true},
		{"with a destination karg", Options{DestKargAppend: []string{"quiet"}}, true},
		{"with a CA", Options{IgnitionCA: []Input{input(t, "cert.pem")}}, true},
		{"with a hook", Options{PreInstall: []Input{input(t, "pre-install-1")}}, true},
		{"with an installer config", Options{InstallerConfig: []Input{input(t, "install-1.conf")}}, true},
		{"with a live-ignition config", Options{LiveIgnition: []Input{input(t, "live-2.ign")}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.LiveConfig = &own
			r := build(t, tc.o, all)
			if !tc.merged {
				if !bytes.Equal(r.Files[ConfigMember], own.Data) {
					t.Fatalf("config.ign = %q, want the caller's config byte for byte", r.Files[ConfigMember])
				}
				return
			}
			// It comes last, after --live-ignition configs.
			checkLastMerge(t, r, own.Data)
		})
	}
}

func TestNoLiveConfigWithoutOptions(t *testing.T) {
	if r := build(t, Options{}, Features{}); len(r.Files) != 0 || len(r.Warnings) != 0 {
		t.Fatalf("no options: files %v, warnings %v", r.Files.Names(), r.Warnings)
	}
	r := build(t, Options{NetworkKeyfile: []Input{input(t, "installer-test.nmconnection")}}, all)
	if got := r.Files.Names(); len(got) != 1 || got[0] != NetworkDir+"installer-test.nmconnection" {
		t.Fatalf("keyfile only: files %v", got)
	}
}

// TestWarningsOnce: each warning of a config is reported once, whether the
// config is embedded as it is or merged.
func TestWarningsOnce(t *testing.T) {
	own := Input{Name: "w.ign", Data: []byte(`{"ignition":{"version":"3.3.0"},"bogus":1}`)}
	for _, o := range []Options{{}, {PreInstall: []Input{input(t, "pre-install-1")}}} {
		o.LiveConfig = &own
		r := build(t, o, all)
		if len(r.Warnings) != 1 || r.Warnings[0] != (Warning{Kind: IgnitionWarning, Input: "w.ign", Detail: "unused key: $.bogus"}) {
			t.Errorf("warnings %+v, want one unused-key warning", r.Warnings)
		}
	}
}

func TestInstallerWarnings(t *testing.T) {
	dest := input(t, "dest.ign")
	for _, tc := range []struct {
		name string
		o    Options
		want []WarningKind
	}{
		{"device", Options{DestIgnition: []Input{dest}, DestDevice: "/dev/vda"}, []WarningKind{AutoInstall}},
		{"no device", Options{DestIgnition: []Input{dest}}, []WarningKind{NoDestDevice, AutoRun}},
		{"device from an installer config", Options{DestIgnition: []Input{dest}, InstallerConfig: []Input{{Name: "dev.yaml", Data: []byte("dest-device: /dev/vdb\n")}}}, []WarningKind{AutoRun}},
		{"installer config without a device", Options{DestIgnition: []Input{dest}, InstallerConfig: []Input{input(t, "install-1.conf")}}, []WarningKind{NoDestDevice, AutoRun}},
		{"console karg", Options{DestKargAppend: []string{"console=ttyS0,115200n8"}, DestDevice: "/dev/vda"}, []WarningKind{ConsoleKarg, AutoInstall}},
		{"unparsable console karg", Options{DestKargAppend: []string{"console=ttyS0,115200n8", "console=lp0"}, DestDevice: "/dev/vda"}, []WarningKind{AutoInstall}},
		{"hooks alone", Options{PreInstall: []Input{input(t, "pre-install-1")}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := build(t, tc.o, all)
			if got := kinds(r.Warnings); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("warnings %v, want kinds %v", r.Warnings, tc.want)
			}
			for _, w := range r.Warnings {
				if w.String() == "" {
					t.Errorf("warning %#v has no description", w)
				}
			}
		})
	}
	r := build(t, Options{DestDevice: "/dev/vda"}, all)
	if r.Warnings[0].Detail != "/dev/vda" || !strings.Contains(r.Warnings[0].String(), "/dev/vda") {
		t.Errorf("AutoInstall warning %#v", r.Warnings[0])
	}
}

// TestErrorPrecedence: feature checks come before the inputs they gate
// are looked at, and an unreadable input is reported in its turn.
func TestErrorPrecedence(t *testing.T) {
	unreadable := Input{Name: "missing.nmconnection", Err: fs.ErrNotExist}
	if _, err := Build(Options{NetworkKeyfile: []Input{unreadable}}, Features{}); !errors.Is(err, ErrNetworkFeature) {
		t.Errorf("keyfile on an image without the feature: %v", err)
	}
	if _, err := Build(Options{NetworkKeyfile: []Input{unreadable}}, all); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "keyfile: ") {
		t.Errorf("unreadable keyfile: %v", err)
	}
	broken := Nmstate{Name: "net.yaml", Err: errors.New("nmstatectl failed")}
	if _, err := Build(Options{NetworkNmstate: []Nmstate{broken}}, Features{}); !errors.Is(err, ErrNetworkFeature) {
		t.Errorf("nmstate on an image without the feature: %v", err)
	}
	if _, err := Build(Options{NetworkNmstate: []Nmstate{broken}}, all); err != broken.Err {
		t.Errorf("failed nmstate conversion: %v", err)
	}
	if _, err := Build(Options{DestConsole: []Console{{Device: "tty0"}}}, Features{InstallerConfig: true}); !errors.Is(err, ErrConsoleFeature) {
		t.Errorf("console without the directive: %v", err)
	}
	if _, err := Build(Options{DestDevice: "/dev/sda"}, Features{LiveInitrdNetwork: true}); !errors.Is(err, ErrInstallerFeature) {
		t.Errorf("installer without the feature: %v", err)
	}
	// A bad destination config comes before a missing feature further on.
	bad := Input{Name: "bad.ign", Data: []byte("{")}
	var parseErr *ignconfig.ParseError
	if _, err := Build(Options{DestIgnition: []Input{bad}, NetworkKeyfile: []Input{unreadable}}, Features{}); !errors.As(err, &parseErr) || parseErr.Name != "bad.ign" {
		t.Errorf("bad destination config: %v", err)
	}
	dup := Nmstate{Name: "net.yaml", Keyfiles: []Keyfile{{Name: "installer-test.nmconnection"}}}
	var conflict *ConflictError
	if _, err := Build(Options{NetworkKeyfile: []Input{input(t, "installer-test.nmconnection")}, NetworkNmstate: []Nmstate{dup}}, all); !errors.As(err, &conflict) ||
		*conflict != (ConflictError{Kind: "keyfile", Name: NetworkDir + "installer-test.nmconnection"}) {
		t.Errorf("duplicate keyfile: %v", err)
	}
	escape := Nmstate{Name: "net.yaml", Keyfiles: []Keyfile{{Name: "../x"}}}
	if _, err := Build(Options{NetworkNmstate: []Nmstate{escape}}, all); err == nil {
		t.Error("an nmstate keyfile name with a directory was accepted")
	}
}

func TestHookUnits(t *testing.T) {
	r := build(t, Options{PreInstall: []Input{input(t, "pre-install-1")}, PostInstall: []Input{input(t, "post-install-1")}, Generator: "isobuild iso customize"}, all)
	l := parseLive(t, r)
	if len(l.Systemd.Units) != 2 || l.Systemd.Units[0].Name != "pre-install-pre-install-1.service" || l.Systemd.Units[1].Name != "post-install-post-install-1.service" {
		t.Fatalf("units %+v", l.Systemd.Units)
	}
	for _, u := range l.Systemd.Units {
		if !strings.HasPrefix(u.Contents, "# Generated by isobuild iso customize\n") || strings.HasSuffix(u.Contents, "\n") {
			t.Errorf("unit %s: %q", u.Name, u.Contents)
		}
	}
	if !strings.Contains(l.Systemd.Units[1].Contents, "\nRequiredBy=coreos-installer.target") {
		t.Errorf("post-install unit %q", l.Systemd.Units[1].Contents)
	}
	if _, err := Build(Options{PreInstall: []Input{{Name: "my hook.sh", Data: []byte("x")}}}, all); err == nil || !strings.Contains(err.Error(), "systemd unit name") {
		t.Errorf("hook with a space: %v", err)
	}
}

func TestNetworkFiles(t *testing.T) {
	files, err := NetworkFiles([]Input{{Name: "dir/b.nmconnection", Data: []byte("b")}, {Name: "a.nmconnection", Data: []byte("a")}})
	if err != nil || len(files) != 2 || string(files[NetworkDir+"b.nmconnection"]) != "b" {
		t.Fatalf("NetworkFiles = %v, %v", files.Names(), err)
	}
	var dup *DuplicateNameError
	if _, err := NetworkFiles([]Input{{Name: "x/a"}, {Name: "y/a"}}); !errors.As(err, &dup) || dup.Name != "a" {
		t.Errorf("duplicate names: %v", err)
	}
	var noName *FileNameError
	if _, err := NetworkFiles([]Input{{Name: "dir/"}}); !errors.As(err, &noName) || noName.Input != "dir/" {
		t.Errorf("no file name: %v", err)
	}
	// The name check comes before the read error.
	if _, err := NetworkFiles([]Input{{Name: "x/a"}, {Name: "y/a", Err: fs.ErrNotExist}}); !errors.As(err, &dup) {
		t.Errorf("duplicate unreadable name: %v", err)
	}
	if !IsNetworkMember(NetworkDir+"a") || IsNetworkMember("etc/coreos-firstboot-networkx") || IsNetworkMember(ConfigMember) {
		t.Error("IsNetworkMember")
	}
}

// TestNoFileOrProgramAccess: the package takes its inputs as bytes; it
// must not read files or run programs itself.
func TestNoFileOrProgramAccess(t *testing.T) {
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := map[string]bool{"os": true, "os/exec": true, "io/ioutil": true, "syscall": true, "golang.org/x/sys/unix": true}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if forbidden[path] {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}

// TestParsedInputReused: a live config that the caller has parsed already
// is not parsed again; the parsed config is what is merged, with its
// warnings.
func TestParsedInputReused(t *testing.T) {
	own := input(t, "live.ign")
	parsed, err := ignconfig.Parse(own.Name, own.Data)
	if err != nil {
		t.Fatal(err)
	}
	parsed.Warnings = append(parsed.Warnings, "a warning of the earlier parse")
	// Data that would not parse: only Parsed can make this build work.
	in := Input{Name: own.Name, Data: []byte("{not json"), Parsed: parsed}
	r := build(t, Options{LiveConfig: &in, DestDevice: "/dev/sda"}, all)
	checkLastMerge(t, r, own.Data)
	found := false
	for _, w := range r.Warnings {
		found = found || (w.Kind == IgnitionWarning && w.Detail == "a warning of the earlier parse")
	}
	if !found {
		t.Errorf("warnings %v lack the parsed config's", r.Warnings)
	}
}

// checkLastMerge fails t unless the last config the live config of r merges
// is the JSON of config.
func checkLastMerge(t *testing.T, r *Result, config []byte) {
	t.Helper()
	merges := parseLive(t, r).Ignition.Config.Merge
	if len(merges) == 0 {
		t.Fatal("the caller's config is not merged")
	}
	var got, want any
	json.Unmarshal(merges[len(merges)-1].data(t), &got)
	json.Unmarshal(config, &want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("last merge %s, want %s", merges[len(merges)-1].data(t), config)
	}
}
