package embed

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/isobuild/isobuild/pkg/ignconfig"
	"github.com/isobuild/isobuild/pkg/initrd"
)

// Errors of installer customization, with coreos-installer's texts.
var (
	ErrInstallerFeature = errors.New("This OS image does not support customizing installer configuration.")
	ErrConsoleFeature   = errors.New("This OS image does not support customizing the destination console.")
)

// Paths in the live system that customization writes.
const (
	// DestConfigPath holds the Ignition config for the installed system.
	DestConfigPath = "/etc/coreos/dest.ign"
	// InstallerConfigDir holds installer config files, applied in name order.
	InstallerConfigDir = "/etc/coreos/installer.d/"
	// HookDir holds the pre- and post-install scripts.
	HookDir = "/usr/local/bin/"
)

// GeneratedSpec is the Ignition spec version of the configs customization
// generates (live config and dest wrapper): the newest that the Ignition of
// every supported live image reads.
const GeneratedSpec = "3.3.0"

// Source is one input file: Data when the caller already holds it (stdin,
// a translated Butane file), otherwise the contents of Path. Path names the
// input in messages and gives the base name where one is needed.
type Source struct {
	Path string
	Data []byte
}

func (s Source) read() ([]byte, error) {
	if s.Data != nil {
		return s.Data, nil
	}
	return os.ReadFile(s.Path)
}

func (s Source) base() (string, error) {
	name := filepath.Base(s.Path)
	if s.Path == "" || strings.HasSuffix(s.Path, "/") || name == "." || name == "/" || name == ".." {
		return "", fmt.Errorf("missing filename in %s", s.Path)
	}
	return name, nil
}

// unitNameRE matches hook names that make valid systemd unit names.
var unitNameRE = regexp.MustCompile(`^[A-Za-z0-9:_.-]+$`)

// InstallOptions are the options of "iso customize" and "pxe customize":
// an unattended installer, network settings, CAs, hooks and live configs.
// Each field follows the coreos-installer option of the same name.
type InstallOptions struct {
	DestIgnition    []Source  // --dest-ignition: configs for the installed system
	DestDevice      string    // --dest-device: disk to install to
	DestConsole     []Console // --dest-console
	DestKargAppend  []string  // --dest-karg-append
	DestKargDelete  []string  // --dest-karg-delete
	NetworkKeyfile  []Source  // --network-keyfile
	NetworkNmstate  []Source  // --network-nmstate (needs nmstatectl)
	IgnitionCA      []Source  // --ignition-ca
	PreInstall      []Source  // --pre-install
	PostInstall     []Source  // --post-install
	InstallerConfig []Source  // --installer-config
	LiveIgnition    []Source  // --live-ignition

	// Warn receives notices and warnings (nil discards them).
	Warn io.Writer
	// Tool names the command in generated unit comments, e.g. "iso customize".
	Tool string
}

// installerConfig is the installer config that customization generates
// (customize.yaml). Field order is the order of the keys in the file.
type installerConfig struct {
	IgnitionFile string   `yaml:"ignition-file,omitempty"`
	Console      []string `yaml:"console,omitempty"`
	AppendKarg   []string `yaml:"append-karg,omitempty"`
	DeleteKarg   []string `yaml:"delete-karg,omitempty"`
	CopyNetwork  bool     `yaml:"copy-network,omitempty"`
	DestDevice   string   `yaml:"dest-device,omitempty"`
}

// userInstallerConfig is the schema user installer configs must fit: every
// key the installer understands, and no other.
type userInstallerConfig struct {
	Stream          string   `yaml:"stream"`
	ImageURL        string   `yaml:"image-url"`
	ImageFile       string   `yaml:"image-file"`
	IgnitionFile    string   `yaml:"ignition-file"`
	IgnitionURL     string   `yaml:"ignition-url"`
	IgnitionHash    string   `yaml:"ignition-hash"`
	Architecture    string   `yaml:"architecture"`
	Platform        string   `yaml:"platform"`
	Console         []string `yaml:"console"`
	AppendKarg      []string `yaml:"append-karg"`
	DeleteKarg      []string `yaml:"delete-karg"`
	CopyNetwork     bool     `yaml:"copy-network"`
	NetworkDir      string   `yaml:"network-dir"`
	SavePartlabel   []string `yaml:"save-partlabel"`
	SavePartindex   []string `yaml:"save-partindex"`
	Offline         bool     `yaml:"offline"`
	Insecure        bool     `yaml:"insecure"`
	InsecureIgn     bool     `yaml:"insecure-ignition"`
	StreamBaseURL   string   `yaml:"stream-base-url"`
	PreserveOnError bool     `yaml:"preserve-on-error"`
	FetchRetries    string   `yaml:"fetch-retries"`
	SecureIPL       bool     `yaml:"secure-ipl"`
	DestDevice      string   `yaml:"dest-device"`
}

// Ignition JSON shapes of the generated configs. The field order is the
// key order of the output; encoding/json drops empty parts.
type ignResource struct {
	Compression string `json:"compression"`
	Source      string `json:"source"`
}

type ignFile struct {
	Contents ignResource `json:"contents"`
	Mode     int         `json:"mode"`
	Path     string      `json:"path"`
}

type ignUnit struct {
	Contents string `json:"contents"`
	Enabled  bool   `json:"enabled"`
	Name     string `json:"name"`
}

type ignConfig struct {
	Ignition struct {
		Config *struct {
			Merge []ignResource `json:"merge"`
		} `json:"config,omitempty"`
		Security *struct {
			TLS struct {
				CertificateAuthorities []ignResource `json:"certificateAuthorities"`
			} `json:"tls"`
		} `json:"security,omitempty"`
		Version string `json:"version"`
	} `json:"ignition"`
	Storage *struct {
		Files []ignFile `json:"files"`
	} `json:"storage,omitempty"`
	Systemd *struct {
		Units []ignUnit `json:"units"`
	} `json:"systemd,omitempty"`
}

func newIgnConfig() *ignConfig {
	c := &ignConfig{}
	c.Ignition.Version = GeneratedSpec
	return c
}

func (c *ignConfig) addMerge(r ignResource) {
	if c.Ignition.Config == nil {
		c.Ignition.Config = &struct {
			Merge []ignResource `json:"merge"`
		}{}
	}
	c.Ignition.Config.Merge = append(c.Ignition.Config.Merge, r)
}

func (c *ignConfig) addCA(r ignResource) {
	if c.Ignition.Security == nil {
		c.Ignition.Security = &struct {
			TLS struct {
				CertificateAuthorities []ignResource `json:"certificateAuthorities"`
			} `json:"tls"`
		}{}
	}
	c.Ignition.Security.TLS.CertificateAuthorities = append(c.Ignition.Security.TLS.CertificateAuthorities, r)
}

func (c *ignConfig) addFile(path string, mode int, data []byte) error {
	if c.Storage == nil {
		c.Storage = &struct {
			Files []ignFile `json:"files"`
		}{}
	}
	for _, f := range c.Storage.Files {
		if f.Path == path {
			return fmt.Errorf("config already specifies path %s", path)
		}
	}
	res, err := resource(data)
	if err != nil {
		return err
	}
	c.Storage.Files = append(c.Storage.Files, ignFile{Contents: res, Mode: mode, Path: path})
	return nil
}

func (c *ignConfig) addUnit(name, contents string) error {
	if c.Systemd == nil {
		c.Systemd = &struct {
			Units []ignUnit `json:"units"`
		}{}
	}
	for _, u := range c.Systemd.Units {
		if u.Name == name {
			return fmt.Errorf("config already specifies unit %s", name)
		}
	}
	c.Systemd.Units = append(c.Systemd.Units, ignUnit{Contents: contents, Enabled: true, Name: name})
	return nil
}

// marshal serialises c compactly with a final newline and checks it with
// the Ignition library, so a generated config is never invalid.
func (c *ignConfig) marshal(what string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("serializing %s: %w", what, err)
	}
	if _, err := ignconfig.Parse(what, buf.Bytes()); err != nil {
		return nil, fmt.Errorf("generated an invalid config: %w", err)
	}
	return buf.Bytes(), nil
}

// resource returns an Ignition resource carrying data inline, gzipped.
func resource(data []byte) (ignResource, error) {
	var buf bytes.Buffer
	zw, err := initrd.NewCompressor(&buf, initrd.Gzip)
	if err != nil {
		return ignResource{}, err
	}
	if _, err := zw.Write(data); err != nil {
		return ignResource{}, fmt.Errorf("compressing resource: %w", err)
	}
	if err := zw.Close(); err != nil {
		return ignResource{}, fmt.Errorf("compressing resource: %w", err)
	}
	return ignResource{Compression: "gzip", Source: "data:;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

// hookUnit returns the systemd unit that runs a pre- or post-install script.
func hookUnit(tool, kind, name string) string {
	title := strings.ToUpper(kind[:1]) + kind[1:]
	after, before, requiredBy := "coreos-installer-pre.target", "coreos-installer.service", "coreos-installer.service"
	if kind == "post" {
		after, before, requiredBy = "coreos-installer.service", "coreos-installer.target", "coreos-installer.target"
	}
	return strings.Join([]string{
		"# Generated by isobuild " + tool,
		"",
		"[Unit]",
		fmt.Sprintf("Description=%s-Install Script (%s)", title, name),
		"Documentation=https://coreos.github.io/coreos-installer/customizing-install/",
		"After=" + after,
		"Before=" + before,
		"",
		"[Service]",
		"Type=oneshot",
		fmt.Sprintf("ExecStart=%s%s-install-%s", HookDir, kind, name),
		"RemainAfterExit=true",
		"StandardOutput=kmsg+console",
		"StandardError=kmsg+console",
		"",
		"[Install]",
		"RequiredBy=" + requiredBy,
	}, "\n")
}

func (o InstallOptions) warnf(format string, args ...any) {
	if o.Warn != nil {
		fmt.Fprintf(o.Warn, format, args...)
	}
}

// parseIgnition reads and parses a user Ignition config, passing its
// warnings on.
func (o InstallOptions) parseIgnition(s Source) (*ignconfig.Config, error) {
	raw, err := s.read()
	if err != nil {
		return nil, fmt.Errorf("parsing Ignition config %s: %w", s.Path, err)
	}
	cfg, err := ignconfig.Parse(s.Path, raw)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		o.warnf("Warning parsing %s: %s\n", s.Path, w)
	}
	return cfg, nil
}

// Members builds the initrd members that realise o on an OS with features
// f: the live Ignition config (only when there is something to put in it)
// and the network keyfiles. Options are processed in coreos-installer's
// fixed order, each failing fast, and every generated config is validated.
func (o InstallOptions) Members(f Features) (initrd.Files, error) {
	members := initrd.Files{}
	live := newIgnConfig()
	liveUsed := false
	var inst *installerConfig
	installer := func() *installerConfig {
		if inst == nil {
			inst = &installerConfig{}
		}
		return inst
	}

	var dests []*ignconfig.Config
	for _, s := range o.DestIgnition {
		cfg, err := o.parseIgnition(s)
		if err != nil {
			return nil, err
		}
		dests = append(dests, cfg)
	}
	if o.DestDevice != "" {
		installer().DestDevice = o.DestDevice
	}
	for _, c := range o.DestConsole {
		if !f.InstallerConfigDirectives["console"] {
			return nil, ErrConsoleFeature
		}
		installer().Console = append(installer().Console, c.String())
	}
	var consoles []string
	allConsoles := true
	for _, k := range o.DestKargAppend {
		if v, ok := strings.CutPrefix(k, "console="); ok {
			if c, err := ParseConsole(v); err == nil {
				consoles = append(consoles, c.String())
			} else {
				allConsoles = false
			}
		}
	}
	if len(consoles) > 0 && allConsoles {
		for _, c := range consoles {
			o.warnf("Note: consider using \"--dest-console %s\" instead of \"--dest-karg-append console=%s\"\nto configure both kernel and bootloader consoles.\n", c, c)
		}
	}
	if len(o.DestKargAppend) > 0 {
		installer().AppendKarg = append(installer().AppendKarg, o.DestKargAppend...)
	}
	if len(o.DestKargDelete) > 0 {
		installer().DeleteKarg = append(installer().DeleteKarg, o.DestKargDelete...)
	}

	copyNetwork := false
	addKeyfile := func(name string, data []byte, label string) error {
		p := NetworkDir + name
		if _, dup := members[p]; dup {
			return fmt.Errorf("config already specifies keyfile %s", label)
		}
		members[p] = data
		return nil
	}
	for _, s := range o.NetworkKeyfile {
		if !f.LiveInitrdNetwork {
			return nil, ErrNetworkFeature
		}
		name, err := s.base()
		if err != nil {
			return nil, err
		}
		data, err := s.read()
		if err != nil {
			return nil, fmt.Errorf("keyfile: %w", err)
		}
		if err := addKeyfile(name, data, name); err != nil {
			return nil, err
		}
		copyNetwork = true
	}
	for _, s := range o.NetworkNmstate {
		if !f.LiveInitrdNetwork {
			return nil, ErrNetworkFeature
		}
		generated, err := nmstateKeyfiles(s)
		if err != nil {
			return nil, err
		}
		for _, g := range generated {
			if err := addKeyfile(g.Name, g.Data, NetworkDir+g.Name); err != nil {
				return nil, err
			}
		}
		copyNetwork = true
	}

	var cas [][]byte
	for _, s := range o.IgnitionCA {
		data, err := s.read()
		if err != nil {
			return nil, fmt.Errorf("CA certificate: %w", err)
		}
		res, err := resource(data)
		if err != nil {
			return nil, err
		}
		live.addCA(res)
		liveUsed = true
		cas = append(cas, data)
	}
	for _, hook := range []struct {
		kind    string
		sources []Source
	}{{"pre", o.PreInstall}, {"post", o.PostInstall}} {
		for _, s := range hook.sources {
			name, err := s.base()
			if err != nil {
				return nil, err
			}
			if !unitNameRE.MatchString(name) {
				return nil, fmt.Errorf("%s-install script %s: its name becomes part of a systemd unit name, so use only letters, digits and \":_.-\"", hook.kind, s.Path)
			}
			data, err := s.read()
			if err != nil {
				return nil, fmt.Errorf("%s-install script: %w", hook.kind, err)
			}
			if err := live.addFile(HookDir+hook.kind+"-install-"+name, 0o700, data); err != nil {
				return nil, err
			}
			if err := live.addUnit(hook.kind+"-install-"+name+".service", hookUnit(o.Tool, hook.kind, name)); err != nil {
				return nil, err
			}
			liveUsed = true
		}
	}
	serial := 0
	userSetsDevice := false
	for _, s := range o.InstallerConfig {
		if !f.InstallerConfig {
			return nil, ErrInstallerFeature
		}
		name, err := s.base()
		if err != nil {
			return nil, err
		}
		data, err := s.read()
		if err != nil {
			return nil, fmt.Errorf("parsing installer config %s: %w", s.Path, err)
		}
		cfg, err := checkInstallerConfig(data)
		if err != nil {
			return nil, fmt.Errorf("parsing installer config %s: %w", s.Path, err)
		}
		if cfg.DestDevice != "" {
			userSetsDevice = true
		}
		if err := live.addFile(fmt.Sprintf("%s%04d-%s", InstallerConfigDir, serial, name), 0o600, data); err != nil {
			return nil, err
		}
		serial++
		liveUsed = true
	}
	for _, s := range o.LiveIgnition {
		cfg, err := o.parseIgnition(s)
		if err != nil {
			return nil, err
		}
		compact, err := cfg.Compact()
		if err != nil {
			return nil, fmt.Errorf("merging Ignition config %s: %w", s.Path, err)
		}
		res, err := resource(compact)
		if err != nil {
			return nil, fmt.Errorf("merging Ignition config %s: %w", s.Path, err)
		}
		live.addMerge(res)
		liveUsed = true
	}

	// Step A: the config for the installed system.
	if len(dests) > 0 {
		var dest []byte
		if len(dests) == 1 && len(cas) == 0 {
			compact, err := dests[0].Compact()
			if err != nil {
				return nil, fmt.Errorf("serializing %s: %w", o.DestIgnition[0].Path, err)
			}
			dest = append(compact, '\n')
		} else {
			wrapper := newIgnConfig()
			for _, ca := range cas {
				res, err := resource(ca)
				if err != nil {
					return nil, err
				}
				wrapper.addCA(res)
			}
			for i, d := range dests {
				compact, err := d.Compact()
				if err != nil {
					return nil, fmt.Errorf("merging Ignition config %s: %w", o.DestIgnition[i].Path, err)
				}
				res, err := resource(compact)
				if err != nil {
					return nil, err
				}
				wrapper.addMerge(res)
			}
			var err error
			if dest, err = wrapper.marshal("destination config"); err != nil {
				return nil, err
			}
		}
		if err := live.addFile(DestConfigPath, 0o600, dest); err != nil {
			return nil, err
		}
		installer().IgnitionFile = DestConfigPath
		liveUsed = true
		if installer().DestDevice == "" && !userSetsDevice {
			o.warnf("Warning: a destination config was given but no destination device (--dest-device, or dest-device in an installer config):\nthe installer will start at boot and fail for lack of a target disk.\n")
		}
	}

	// Step B: does the installer run, and does it copy the network?
	if inst != nil || len(o.InstallerConfig) > 0 {
		if inst != nil && inst.DestDevice != "" {
			o.warnf("Boot media will automatically install to %s without confirmation.\n", inst.DestDevice)
		} else {
			o.warnf("Boot media will automatically run installer.\n")
		}
		if copyNetwork {
			installer().CopyNetwork = true
		}
	}

	// Step C: the generated installer config sorts after the user's.
	if inst != nil {
		if !f.InstallerConfig {
			return nil, ErrInstallerFeature
		}
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(inst); err != nil {
			return nil, fmt.Errorf("serializing installer config: %w", err)
		}
		enc.Close()
		if err := live.addFile(fmt.Sprintf("%s%04d-customize.yaml", InstallerConfigDir, serial), 0o600, buf.Bytes()); err != nil {
			return nil, err
		}
		liveUsed = true
	}

	// Step D: never embed an empty live config.
	if liveUsed {
		cfg, err := live.marshal("live config")
		if err != nil {
			return nil, err
		}
		members[ConfigMember] = cfg
	}
	return members, nil
}

// checkInstallerConfig parses data as a YAML installer config whose keys
// the installer knows.
func checkInstallerConfig(data []byte) (*userInstallerConfig, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cfg userInstallerConfig
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return &cfg, nil
}
