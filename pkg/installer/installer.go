// Package installer turns the customization options of a CoreOS live
// system into the files of a live initramfs. The options are those of
// coreos-installer's "iso customize" and "pxe customize": an unattended
// install to disk with a config for the installed system, network settings,
// CA certificates, install hooks, installer config files and live Ignition
// configs. The files are the live Ignition config (config.ign), which the
// live system applies at boot and which carries everything but the network,
// and NetworkManager keyfiles under etc/coreos-firstboot-network/.
//
// In isobuild's pipeline, Butane → Ignition → initramfs → overlay → output,
// this package is the initramfs step: it takes Ignition configs (validated
// with package ignconfig) and the other inputs, and returns files that
// package initrd archives.
//
// Package embed writes these files into a live ISO's initrd embed area and
// package pxe appends them to a live PXE initramfs; both then hand the
// result to package overlay.
//
// [Build] is the entry point. It takes every input as bytes: the caller
// reads the files and converts Nmstate files (there is no Nmstate generator
// in Go; the isobuild command runs "nmstatectl gc"). It prints nothing and
// touches no file: problems are errors, with sentinels for missing OS
// features, and what a user should be told is returned as [Warning] values.
// Build also holds the rules a caller must not repeat: when a live config is
// generated at all, and whether a config of the caller's own is embedded as
// it is or merged into the generated one.
//
// Every generated Ignition config is built with the Ignition library's spec
// 3.3.0 types and validated with package ignconfig before it is returned.
package installer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/coreos/ignition/v2/config/util"
	"github.com/coreos/ignition/v2/config/v3_3/types"
	"gopkg.in/yaml.v3"

	"github.com/isobuild/isobuild/pkg/ignconfig"
	"github.com/isobuild/isobuild/pkg/initrd"
)

// Initramfs members with a meaning to the CoreOS live system.
const (
	// ConfigMember is the live Ignition config.
	ConfigMember = "config.ign"
	// NetworkDir holds NetworkManager keyfiles for the live system; the
	// installer copies them to the installed system when asked to.
	NetworkDir = "etc/coreos-firstboot-network/"
)

// Paths in the live system that a generated live config writes.
const (
	// DestConfigPath holds the Ignition config for the installed system.
	DestConfigPath = "/etc/coreos/dest.ign"
	// InstallerConfigDir holds installer config files, applied in name order.
	InstallerConfigDir = "/etc/coreos/installer.d/"
	// HookDir holds the pre- and post-install scripts.
	HookDir = "/usr/local/bin/"
)

// GeneratedSpec is the Ignition spec version of the configs Build
// generates (live config and destination wrapper): the newest that the
// Ignition of every supported live image reads.
const GeneratedSpec = "3.3.0"

// Errors for options that the OS image does not support (see [Features]).
var (
	ErrNetworkFeature   = errors.New("the OS image does not support customizing network settings")
	ErrInstallerFeature = errors.New("the OS image does not support customizing the installer configuration")
	ErrConsoleFeature   = errors.New("the OS image does not support customizing the destination console")
)

// FileNameError reports an input without a file name where the live
// system needs one (keyfiles, hooks, installer configs).
type FileNameError struct {
	Input string
}

func (e *FileNameError) Error() string {
	return fmt.Sprintf("input %q has no file name", e.Input)
}

// DuplicateNameError reports two keyfiles with the same file name.
type DuplicateNameError struct {
	Name string
}

func (e *DuplicateNameError) Error() string {
	return fmt.Sprintf("two keyfiles are named %q", e.Name)
}

// ConflictError reports two inputs that would put the same thing into the
// live system.
type ConflictError struct {
	// Kind is "path" (a file of the live config), "unit" (a systemd unit)
	// or "keyfile" (a network member, named by its file name, or by its
	// member path for keyfiles generated from Nmstate files).
	Kind string
	Name string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("two inputs give the live system the same %s %s", e.Kind, e.Name)
}

// InstallerConfigError reports an installer config that is not a YAML
// document of the installer's keys.
type InstallerConfigError struct {
	Input string
	Err   error
}

func (e *InstallerConfigError) Error() string {
	return fmt.Sprintf("installer config %s: %v", e.Input, e.Err)
}

func (e *InstallerConfigError) Unwrap() error { return e.Err }

// Features are the OS feature flags of coreos/features.json (in a live ISO)
// or etc/coreos/features.json (in a live initramfs). A missing file or key
// means false.
type Features struct {
	InstallerConfig           bool            `json:"installer-config"`
	InstallerConfigDirectives map[string]bool `json:"installer-config-directives,omitempty"`
	LiveInitrdNetwork         bool            `json:"live-initrd-network"`
}

// ParseFeatures decodes a features.json file.
func ParseFeatures(raw []byte) (Features, error) {
	var f Features
	if err := json.Unmarshal(raw, &f); err != nil {
		return Features{}, err
	}
	return f, nil
}

// IsNetworkMember reports whether an initramfs member path is a network
// keyfile for the live system (it lies under NetworkDir).
func IsNetworkMember(name string) bool {
	return strings.HasPrefix(name, NetworkDir)
}

// Input is one input file of a customization, as the caller read it.
type Input struct {
	// Name names the input in messages as the user gave it (a path, or
	// "<stdin>"). Its last element is the file name where the live system
	// needs one: for keyfiles, hooks and installer configs.
	Name string
	// Data is the content of the file.
	Data []byte
	// Err, when not nil, says why the caller could not read the file.
	// Build returns it when it reaches the input in its processing order,
	// so that a check that comes first, such as an OS feature check, is
	// the one reported, as it is by coreos-installer, which reads each
	// file only when it gets to it.
	Err error
	// Parsed, when not nil, is what ignconfig.Parse(Name, Data) returned
	// for an Ignition config the caller has already parsed (and has not
	// modified since); Build uses it instead of parsing Data again.
	Parsed *ignconfig.Config
}

// fileName returns the last element of the input's name.
func (in Input) fileName() (string, error) {
	name := filepath.Base(in.Name)
	if in.Name == "" || strings.HasSuffix(in.Name, "/") || name == "." || name == "/" || name == ".." {
		return "", &FileNameError{Input: in.Name}
	}
	return name, nil
}

// Keyfile is a NetworkManager keyfile: its file name in NetworkDir and its
// content.
type Keyfile struct {
	Name string
	Data []byte
}

// Nmstate is an Nmstate network description that the caller has turned
// into keyfiles.
type Nmstate struct {
	// Name names the Nmstate file in messages.
	Name string
	// Keyfiles are the keyfiles generated from it.
	Keyfiles []Keyfile
	// Err, when not nil, says why the caller could not read or convert
	// the file; Build returns it after the network feature check.
	Err error
}

// NetworkFiles returns the initramfs members that hold keyfiles, each
// under NetworkDir by its file name ("iso network embed", "pxe network
// wrap"). Two inputs with the same file name are an error.
func NetworkFiles(keyfiles []Input) (initrd.Files, error) {
	files := initrd.Files{}
	for _, k := range keyfiles {
		name, err := k.fileName()
		if err != nil {
			return nil, err
		}
		if _, dup := files[NetworkDir+name]; dup {
			return nil, &DuplicateNameError{Name: name}
		}
		if k.Err != nil {
			return nil, fmt.Errorf("keyfile: %w", k.Err)
		}
		files[NetworkDir+name] = k.Data
	}
	return files, nil
}

// Options are the customizations of a live system. Each field follows the
// coreos-installer option of the same name.
type Options struct {
	DestIgnition    []Input   // --dest-ignition: configs for the installed system, merged
	DestDevice      string    // --dest-device: disk to install to, without confirmation
	DestConsole     []Console // --dest-console
	DestKargAppend  []string  // --dest-karg-append
	DestKargDelete  []string  // --dest-karg-delete
	NetworkKeyfile  []Input   // --network-keyfile
	NetworkNmstate  []Nmstate // --network-nmstate
	IgnitionCA      []Input   // --ignition-ca: trusted for Ignition fetches, live and installed
	PreInstall      []Input   // --pre-install
	PostInstall     []Input   // --post-install
	InstallerConfig []Input   // --installer-config
	LiveIgnition    []Input   // --live-ignition: always merged into the generated live config

	// LiveConfig is a live Ignition config of the caller's own, such as
	// the translated Butane config of "isobuild build". It is validated
	// first. When no other option needs a live config, it becomes
	// config.ign byte for byte; otherwise it is merged into the generated
	// live config after the LiveIgnition configs.
	LiveConfig *Input

	// Generator names the program in the comments of generated files,
	// such as "isobuild iso customize"; empty means "isobuild".
	Generator string
}

// Result is what Build makes of Options.
type Result struct {
	// Files are the initramfs members: config.ign when there is a live
	// config, and the network keyfiles.
	Files initrd.Files
	// Warnings are what the user should be told, in the order found.
	Warnings []Warning
}

// WarningKind says what a [Warning] is about.
type WarningKind int

// Kinds of warnings and notices.
const (
	// IgnitionWarning: the Ignition library found a problem in the
	// config Input that does not stop it, such as an unknown key; Detail
	// is its description.
	IgnitionWarning WarningKind = iota + 1
	// ConsoleKarg: Detail is a console given as "--dest-karg-append
	// console=...": "--dest-console" would configure the bootloader
	// console too.
	ConsoleKarg
	// NoDestDevice: a destination config was given but no destination
	// device, so the installer starts at boot and fails without a disk.
	NoDestDevice
	// AutoInstall: the live system installs to the disk Detail at boot,
	// without confirmation.
	AutoInstall
	// AutoRun: the live system runs the installer at boot (the disk comes
	// from an installer config).
	AutoRun
)

// Warning is something a user should know about a customization. The
// isobuild command words each kind; String gives a plain description.
type Warning struct {
	Kind WarningKind
	// Input names the input concerned, if any.
	Input string
	// Detail is the kind's argument: the Ignition library's text, a
	// console spec or a device.
	Detail string
}

// String describes the warning.
func (w Warning) String() string {
	switch w.Kind {
	case IgnitionWarning:
		return fmt.Sprintf("%s: %s", w.Input, w.Detail)
	case ConsoleKarg:
		return fmt.Sprintf("console %s set with a destination karg configures the kernel only; a destination console also configures the bootloader", w.Detail)
	case NoDestDevice:
		return "destination config without a destination device: the installer will start at boot and fail for lack of a target disk"
	case AutoInstall:
		return fmt.Sprintf("boot media will install to %s without confirmation", w.Detail)
	case AutoRun:
		return "boot media will run the installer"
	}
	return fmt.Sprintf("warning kind %d: %s %s", int(w.Kind), w.Input, w.Detail)
}

// unitNameRE matches hook names that make valid systemd unit names.
var unitNameRE = regexp.MustCompile(`^[A-Za-z0-9:_.-]+$`)

// installerConfig is the installer config that Build generates
// (NNNN-customize.yaml). Field order is the order of the keys in the file.
type installerConfig struct {
	IgnitionFile string   `yaml:"ignition-file,omitempty"`
	Console      []string `yaml:"console,omitempty"`
	AppendKarg   []string `yaml:"append-karg,omitempty"`
	DeleteKarg   []string `yaml:"delete-karg,omitempty"`
	CopyNetwork  bool     `yaml:"copy-network,omitempty"`
	DestDevice   string   `yaml:"dest-device,omitempty"`
}

// builder holds the state of one Build.
type builder struct {
	o        Options
	f        Features
	members  initrd.Files
	live     types.Config
	liveUsed bool
	inst     *installerConfig
	warnings []Warning
}

// installer returns the generated installer config, creating it.
func (b *builder) installer() *installerConfig {
	if b.inst == nil {
		b.inst = &installerConfig{}
	}
	return b.inst
}

func (b *builder) warn(w Warning) { b.warnings = append(b.warnings, w) }

// Build returns the initramfs members that realize o on an OS with
// features f. Options are processed in coreos-installer's fixed order
// (destination configs, device, consoles, destination kargs, keyfiles,
// Nmstate files, CAs, pre- and post-install hooks, installer configs, live
// configs), each failing fast; then the destination config, the installer
// config and the live config are assembled. A live config is generated only
// when an option needs one: keyfiles alone give none, and with no options at
// all the result is empty.
func Build(o Options, f Features) (*Result, error) {
	b := &builder{o: o, f: f, members: initrd.Files{}}
	b.live.Ignition.Version = GeneratedSpec

	var dests []*ignconfig.Config
	for _, in := range o.DestIgnition {
		cfg, err := b.parseIgnition(in)
		if err != nil {
			return nil, err
		}
		dests = append(dests, cfg)
	}
	if o.DestDevice != "" {
		b.installer().DestDevice = o.DestDevice
	}
	for _, c := range o.DestConsole {
		if !f.InstallerConfigDirectives["console"] {
			return nil, ErrConsoleFeature
		}
		b.installer().Console = append(b.installer().Console, c.String())
	}
	b.consoleNotes()
	if len(o.DestKargAppend) > 0 {
		b.installer().AppendKarg = append(b.installer().AppendKarg, o.DestKargAppend...)
	}
	if len(o.DestKargDelete) > 0 {
		b.installer().DeleteKarg = append(b.installer().DeleteKarg, o.DestKargDelete...)
	}
	copyNetwork, err := b.network()
	if err != nil {
		return nil, err
	}

	var cas [][]byte
	for _, in := range o.IgnitionCA {
		if in.Err != nil {
			return nil, fmt.Errorf("CA certificate: %w", in.Err)
		}
		res, err := Resource(in.Data)
		if err != nil {
			return nil, err
		}
		b.live.Ignition.Security.TLS.CertificateAuthorities = append(b.live.Ignition.Security.TLS.CertificateAuthorities, res)
		b.liveUsed = true
		cas = append(cas, in.Data)
	}
	if err := b.hooks(); err != nil {
		return nil, err
	}
	serial, userSetsDevice, err := b.installerConfigs()
	if err != nil {
		return nil, err
	}
	for _, in := range o.LiveIgnition {
		if err := b.merge(in); err != nil {
			return nil, err
		}
	}
	var own *ignconfig.Config
	if o.LiveConfig != nil {
		if own, err = b.parseIgnition(*o.LiveConfig); err != nil {
			return nil, err
		}
	}

	// Step A: the config for the installed system.
	if len(dests) > 0 {
		if err := b.destConfig(dests, cas, userSetsDevice); err != nil {
			return nil, err
		}
	}

	// Step B: does the installer run, and does it copy the network?
	if b.inst != nil || len(o.InstallerConfig) > 0 {
		if b.inst != nil && b.inst.DestDevice != "" {
			b.warn(Warning{Kind: AutoInstall, Detail: b.inst.DestDevice})
		} else {
			b.warn(Warning{Kind: AutoRun})
		}
		if copyNetwork {
			b.installer().CopyNetwork = true
		}
	}

	// Step C: the generated installer config sorts after the user's.
	if b.inst != nil {
		if !f.InstallerConfig {
			return nil, ErrInstallerFeature
		}
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(b.inst); err != nil {
			return nil, fmt.Errorf("serializing installer config: %w", err)
		}
		enc.Close()
		if err := b.addFile(fmt.Sprintf("%s%04d-customize.yaml", InstallerConfigDir, serial), 0o600, buf.Bytes()); err != nil {
			return nil, err
		}
		b.liveUsed = true
	}

	// Step D: the caller's own config, merged or as it is; never an
	// empty live config, which would disable the live system's autologin.
	switch {
	case own != nil && b.liveUsed:
		if err := b.mergeParsed(o.LiveConfig.Name, own); err != nil {
			return nil, err
		}
		fallthrough
	case b.liveUsed:
		cfg, err := MarshalConfig(b.live, "live config")
		if err != nil {
			return nil, err
		}
		b.members[ConfigMember] = cfg
	case own != nil:
		b.members[ConfigMember] = o.LiveConfig.Data
	}
	return &Result{Files: b.members, Warnings: b.warnings}, nil
}

// consoleNotes suggests --dest-console for destination kargs that set
// consoles, when every console= karg among them is one it could express.
func (b *builder) consoleNotes() {
	var consoles []string
	for _, k := range b.o.DestKargAppend {
		if v, ok := strings.CutPrefix(k, "console="); ok {
			c, err := ParseConsole(v)
			if err != nil {
				return
			}
			consoles = append(consoles, c.String())
		}
	}
	for _, c := range consoles {
		b.warn(Warning{Kind: ConsoleKarg, Detail: c})
	}
}

// network adds the keyfiles and Nmstate-generated keyfiles and reports
// whether there were any.
func (b *builder) network() (bool, error) {
	copyNetwork := false
	add := func(name string, data []byte, label string) error {
		p := NetworkDir + name
		if _, dup := b.members[p]; dup {
			return &ConflictError{Kind: "keyfile", Name: label}
		}
		b.members[p] = data
		return nil
	}
	for _, in := range b.o.NetworkKeyfile {
		if !b.f.LiveInitrdNetwork {
			return false, ErrNetworkFeature
		}
		name, err := in.fileName()
		if err != nil {
			return false, err
		}
		if in.Err != nil {
			return false, fmt.Errorf("keyfile: %w", in.Err)
		}
		if err := add(name, in.Data, name); err != nil {
			return false, err
		}
		copyNetwork = true
	}
	for _, n := range b.o.NetworkNmstate {
		if !b.f.LiveInitrdNetwork {
			return false, ErrNetworkFeature
		}
		if n.Err != nil {
			return false, n.Err
		}
		for _, k := range n.Keyfiles {
			if k.Name == "" || k.Name != filepath.Base(k.Name) {
				return false, fmt.Errorf("keyfile name %q generated from nmstate %s is not a file name", k.Name, n.Name)
			}
			if err := add(k.Name, k.Data, NetworkDir+k.Name); err != nil {
				return false, err
			}
		}
		copyNetwork = true
	}
	return copyNetwork, nil
}

// hooks adds the pre- and post-install scripts and their units.
func (b *builder) hooks() error {
	for _, hook := range []struct {
		kind   string
		inputs []Input
	}{{"pre", b.o.PreInstall}, {"post", b.o.PostInstall}} {
		for _, in := range hook.inputs {
			name, err := in.fileName()
			if err != nil {
				return err
			}
			if !unitNameRE.MatchString(name) {
				return fmt.Errorf("%s-install script %s: its name becomes part of a systemd unit name, so use only letters, digits and \":_.-\"", hook.kind, in.Name)
			}
			if in.Err != nil {
				return fmt.Errorf("%s-install script: %w", hook.kind, in.Err)
			}
			if err := b.addFile(HookDir+hook.kind+"-install-"+name, 0o700, in.Data); err != nil {
				return err
			}
			if err := b.addUnit(hook.kind+"-install-"+name+".service", hookUnit(b.generator(), hook.kind, name)); err != nil {
				return err
			}
			b.liveUsed = true
		}
	}
	return nil
}

// installerConfigs adds the user's installer configs, returning the next
// serial number and whether one of them sets the destination device.
func (b *builder) installerConfigs() (serial int, setsDevice bool, err error) {
	for _, in := range b.o.InstallerConfig {
		if !b.f.InstallerConfig {
			return 0, false, ErrInstallerFeature
		}
		name, err := in.fileName()
		if err != nil {
			return 0, false, err
		}
		if in.Err != nil {
			return 0, false, &InstallerConfigError{Input: in.Name, Err: in.Err}
		}
		cfg, err := checkInstallerConfig(in.Data)
		if err != nil {
			return 0, false, &InstallerConfigError{Input: in.Name, Err: err}
		}
		if cfg.DestDevice != "" {
			setsDevice = true
		}
		if err := b.addFile(fmt.Sprintf("%s%04d-%s", InstallerConfigDir, serial, name), 0o600, in.Data); err != nil {
			return 0, false, err
		}
		serial++
		b.liveUsed = true
	}
	return serial, setsDevice, nil
}

// destConfig writes the config for the installed system: a single config
// without CAs as it is, anything else merged into a wrapper that also
// trusts the CAs.
func (b *builder) destConfig(dests []*ignconfig.Config, cas [][]byte, userSetsDevice bool) error {
	var dest []byte
	if len(dests) == 1 && len(cas) == 0 {
		compact, err := dests[0].Compact()
		if err != nil {
			return fmt.Errorf("serializing %s: %w", b.o.DestIgnition[0].Name, err)
		}
		dest = append(compact, '\n')
	} else {
		var wrapper types.Config
		wrapper.Ignition.Version = GeneratedSpec
		for _, ca := range cas {
			res, err := Resource(ca)
			if err != nil {
				return err
			}
			wrapper.Ignition.Security.TLS.CertificateAuthorities = append(wrapper.Ignition.Security.TLS.CertificateAuthorities, res)
		}
		for i, d := range dests {
			compact, err := d.Compact()
			if err != nil {
				return fmt.Errorf("merging Ignition config %s: %w", b.o.DestIgnition[i].Name, err)
			}
			res, err := Resource(compact)
			if err != nil {
				return err
			}
			wrapper.Ignition.Config.Merge = append(wrapper.Ignition.Config.Merge, res)
		}
		var err error
		if dest, err = MarshalConfig(wrapper, "destination config"); err != nil {
			return err
		}
	}
	if err := b.addFile(DestConfigPath, 0o600, dest); err != nil {
		return err
	}
	b.installer().IgnitionFile = DestConfigPath
	b.liveUsed = true
	if b.installer().DestDevice == "" && !userSetsDevice {
		b.warn(Warning{Kind: NoDestDevice})
	}
	return nil
}

func (b *builder) generator() string {
	if b.o.Generator == "" {
		return "isobuild"
	}
	return b.o.Generator
}

// parseIgnition parses and validates a user Ignition config, collecting its
// warnings.
func (b *builder) parseIgnition(in Input) (*ignconfig.Config, error) {
	if in.Err != nil {
		return nil, &ignconfig.ParseError{Name: in.Name, Problem: in.Err.Error(), Err: in.Err}
	}
	cfg := in.Parsed
	if cfg == nil {
		var err error
		if cfg, err = ignconfig.Parse(in.Name, in.Data); err != nil {
			return nil, err
		}
	}
	for _, w := range cfg.Warnings {
		b.warn(Warning{Kind: IgnitionWarning, Input: in.Name, Detail: w})
	}
	return cfg, nil
}

// merge adds a user config to the live config's merge list.
func (b *builder) merge(in Input) error {
	cfg, err := b.parseIgnition(in)
	if err != nil {
		return err
	}
	return b.mergeParsed(in.Name, cfg)
}

func (b *builder) mergeParsed(name string, cfg *ignconfig.Config) error {
	compact, err := cfg.Compact()
	if err != nil {
		return fmt.Errorf("merging Ignition config %s: %w", name, err)
	}
	res, err := Resource(compact)
	if err != nil {
		return fmt.Errorf("merging Ignition config %s: %w", name, err)
	}
	b.live.Ignition.Config.Merge = append(b.live.Ignition.Config.Merge, res)
	b.liveUsed = true
	return nil
}

// addFile adds a file to the live config, refusing a path given twice.
func (b *builder) addFile(path string, mode int, data []byte) error {
	for _, f := range b.live.Storage.Files {
		if f.Path == path {
			return &ConflictError{Kind: "path", Name: path}
		}
	}
	res, err := Resource(data)
	if err != nil {
		return err
	}
	var f types.File
	f.Path = path
	f.Contents = res
	f.Mode = util.IntToPtr(mode)
	b.live.Storage.Files = append(b.live.Storage.Files, f)
	return nil
}

// addUnit adds an enabled systemd unit to the live config, refusing a name
// given twice.
func (b *builder) addUnit(name, contents string) error {
	for _, u := range b.live.Systemd.Units {
		if u.Name == name {
			return &ConflictError{Kind: "unit", Name: name}
		}
	}
	b.live.Systemd.Units = append(b.live.Systemd.Units, types.Unit{Name: name, Contents: util.StrToPtr(contents), Enabled: util.BoolToPtr(true)})
	return nil
}

// MarshalConfig serializes a generated config compactly with a final newline and
// checks it with the Ignition library, so a generated config is never
// invalid.
func MarshalConfig(c types.Config, what string) ([]byte, error) {
	b, err := ignconfig.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("serializing %s: %w", what, err)
	}
	b = append(b, '\n')
	if _, err := ignconfig.Parse(what, b); err != nil {
		return nil, fmt.Errorf("generated an invalid config: %w", err)
	}
	return b, nil
}

// Resource returns an Ignition resource that carries data inline, gzipped,
// for the configs this package and package flatcar generate.
func Resource(data []byte) (types.Resource, error) {
	var buf bytes.Buffer
	zw, err := initrd.NewCompressor(&buf, initrd.Gzip)
	if err != nil {
		return types.Resource{}, err
	}
	if _, err := zw.Write(data); err != nil {
		return types.Resource{}, fmt.Errorf("compressing resource: %w", err)
	}
	if err := zw.Close(); err != nil {
		return types.Resource{}, fmt.Errorf("compressing resource: %w", err)
	}
	return types.Resource{
		Compression: util.StrToPtr("gzip"),
		Source:      util.StrToPtr("data:;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())),
	}, nil
}

// hookUnit returns the systemd unit that runs a pre- or post-install script.
func hookUnit(generator, kind, name string) string {
	title := strings.ToUpper(kind[:1]) + kind[1:]
	after, before, requiredBy := "coreos-installer-pre.target", "coreos-installer.service", "coreos-installer.service"
	if kind == "post" {
		after, before, requiredBy = "coreos-installer.service", "coreos-installer.target", "coreos-installer.target"
	}
	return strings.Join([]string{
		"# Generated by " + generator,
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

// checkInstallerConfig parses data as a YAML installer config whose keys
// the installer knows.
func checkInstallerConfig(data []byte) (*InstallerSettings, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cfg InstallerSettings
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		// The decoder names the Go type it decodes into, which means
		// nothing to the user.
		msg := strings.ReplaceAll(err.Error(), " in type installer.InstallerSettings", "")
		msg = strings.ReplaceAll(msg, "into installer.InstallerSettings", "into the installer config (a mapping of option names to values)")
		return nil, errors.New(msg)
	}
	return &cfg, nil
}
