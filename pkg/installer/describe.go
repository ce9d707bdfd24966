package installer

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"reflect"
	"sort"
	"strings"

	"github.com/coreos/ignition/v2/config"
	typesexp "github.com/coreos/ignition/v2/config/v3_6_experimental/types"
	"github.com/vincent-petithory/dataurl"

	"github.com/isobuild/isobuild/pkg/ignconfig"
)

// MaxDecoded bounds the bytes that [Describe] decodes from the inline
// resources of one live config, all of them together, after decompression.
const MaxDecoded = 64 << 20

// DecodeLimitError reports inline contents that decode to more than the
// limit, counting everything decoded before them.
type DecodeLimitError struct {
	// What names the resource, such as "/etc/coreos/dest.ign" or
	// "config.ign ignition.config.merge.0".
	What  string
	Limit int64
}

func (e *DecodeLimitError) Error() string {
	return fmt.Sprintf("decoding %s: inline contents exceed the limit of %d bytes decoded in total", e.What, e.Limit)
}

// Description is what a live Ignition config makes the live system do, as
// far as installing goes: the inverse of [Build]. Inline contents (data
// URLs, gzip-compressed or not) are decoded; other sources are named and
// never fetched.
type Description struct {
	// Live is the live config itself, parsed.
	Live *ignconfig.Config
	// Install is what the installer does; nil when the live config holds
	// no installer config file, so that the installer does not run.
	Install *Install
	// Hooks are the pre- and post-install scripts with their units, in
	// the order of the config.
	Hooks []Hook
	// CAs is the number of certificate authorities the live system trusts
	// for Ignition fetches.
	CAs int
	// LiveConfigs are the configs the live config merges
	// (ignition.config.merge), then the one it is replaced by, if any. For
	// a config made by Build, these are the user's live configs.
	LiveConfigs []Embedded
}

// Generated reports whether the live config carries what Build generates
// for installer options: installer configs or install hooks. A plain live
// config of the user's own has neither.
func (d *Description) Generated() bool {
	return d.Install != nil || len(d.Hooks) > 0
}

// Install is what the installer does when the live system boots.
type Install struct {
	// DestDevice is the disk the installer writes: the dest-device of the
	// last installer config that sets one, as later files override
	// earlier ones. Empty when none does, and the installer fails.
	DestDevice string
	// Configs are the files of InstallerConfigDir in the order the
	// installer applies them (by name).
	Configs []InstallerFile
	// IgnitionFile and IgnitionURL are the ignition-file and ignition-url
	// settings that apply (the last ones set).
	IgnitionFile string
	IgnitionURL  string
	// Dest is the destination config, when IgnitionFile is a file of the
	// live config; nil otherwise.
	Dest *Dest
	// Notes are things worth telling about the settings, such as several
	// files setting different destination devices.
	Notes []string
}

// InstallerFile is one installer config file of the live system.
type InstallerFile struct {
	// Path is the file's path in the live system.
	Path string
	// Text is its decoded content, a YAML document.
	Text string
	// Remote is the URL the live system fetches the file from, when its
	// contents are not inline; Text is then empty.
	Remote string
	// Settings are the keys the file sets; nil when Err is set.
	Settings *InstallerSettings
	// Err says why Text is not a valid installer config.
	Err error
}

// Name returns the file name of the installer config.
func (f InstallerFile) Name() string { return path.Base(f.Path) }

// InstallerSettings are the keys of an installer config file, one field for
// each option of coreos-installer's install command that a file may set.
// It is also the schema that Build checks user installer configs against:
// a key it does not list is an error.
type InstallerSettings struct {
	Stream          string   `yaml:"stream,omitempty" json:"stream,omitempty"`
	ImageURL        string   `yaml:"image-url,omitempty" json:"image-url,omitempty"`
	ImageFile       string   `yaml:"image-file,omitempty" json:"image-file,omitempty"`
	IgnitionFile    string   `yaml:"ignition-file,omitempty" json:"ignition-file,omitempty"`
	IgnitionURL     string   `yaml:"ignition-url,omitempty" json:"ignition-url,omitempty"`
	IgnitionHash    string   `yaml:"ignition-hash,omitempty" json:"ignition-hash,omitempty"`
	Architecture    string   `yaml:"architecture,omitempty" json:"architecture,omitempty"`
	Platform        string   `yaml:"platform,omitempty" json:"platform,omitempty"`
	Console         []string `yaml:"console,omitempty" json:"console,omitempty"`
	AppendKarg      []string `yaml:"append-karg,omitempty" json:"append-karg,omitempty"`
	DeleteKarg      []string `yaml:"delete-karg,omitempty" json:"delete-karg,omitempty"`
	CopyNetwork     bool     `yaml:"copy-network,omitempty" json:"copy-network,omitempty"`
	NetworkDir      string   `yaml:"network-dir,omitempty" json:"network-dir,omitempty"`
	SavePartlabel   []string `yaml:"save-partlabel,omitempty" json:"save-partlabel,omitempty"`
	SavePartindex   []string `yaml:"save-partindex,omitempty" json:"save-partindex,omitempty"`
	Offline         bool     `yaml:"offline,omitempty" json:"offline,omitempty"`
	Insecure        bool     `yaml:"insecure,omitempty" json:"insecure,omitempty"`
	InsecureIgn     bool     `yaml:"insecure-ignition,omitempty" json:"insecure-ignition,omitempty"`
	StreamBaseURL   string   `yaml:"stream-base-url,omitempty" json:"stream-base-url,omitempty"`
	PreserveOnError bool     `yaml:"preserve-on-error,omitempty" json:"preserve-on-error,omitempty"`
	FetchRetries    string   `yaml:"fetch-retries,omitempty" json:"fetch-retries,omitempty"`
	SecureIPL       bool     `yaml:"secure-ipl,omitempty" json:"secure-ipl,omitempty"`
	DestDevice      string   `yaml:"dest-device,omitempty" json:"dest-device,omitempty"`
}

// Setting is one key of an installer config with its value as text: a
// string as it is, a flag as "true", a list as "[a, b]".
type Setting struct {
	Key   string
	Value string
}

// List returns the keys that s sets, in the installer's option order.
func (s *InstallerSettings) List() []Setting {
	if s == nil {
		return nil
	}
	var out []Setting
	v := reflect.ValueOf(*s)
	t := v.Type()
	for i := range t.NumField() {
		key, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			if f.String() != "" {
				out = append(out, Setting{key, f.String()})
			}
		case reflect.Bool:
			if f.Bool() {
				out = append(out, Setting{key, "true"})
			}
		case reflect.Slice:
			if f.Len() > 0 {
				out = append(out, Setting{key, "[" + strings.Join(f.Interface().([]string), ", ") + "]"})
			}
		}
	}
	return out
}

// Dest is the config for the installed system.
type Dest struct {
	// Path is the file's path in the live system.
	Path string
	// Data is the decoded config, empty when Remote is set.
	Data []byte
	// Remote is the URL the live system fetches the file from, when its
	// contents are not inline.
	Remote string
	// Config is Data parsed; nil when Err is set.
	Config *ignconfig.Config
	// Err says why Data is not a valid Ignition config.
	Err error
	// Wrapper reports whether the config does nothing but merge other
	// configs and trust CAs, as the wrapper that Build makes of several
	// destination configs, or of one with CAs.
	Wrapper bool
	// Merged are the configs it merges (and replaces itself with), for a
	// wrapper or not.
	Merged []Embedded
	// CAs is the number of certificate authorities it trusts.
	CAs int
}

// Embedded is a config that another config merges or is replaced by.
type Embedded struct {
	// Source describes where the config comes from, as
	// [ignconfig.SourceLabel] words it.
	Source string
	// Replace is set for ignition.config.replace.
	Replace bool
	// Inline reports whether the config is a data URL; Data then holds
	// it, decoded and decompressed.
	Inline bool
	Data   []byte
	// Config is Data parsed; nil for a remote config or when Err is set.
	Config *ignconfig.Config
	// Err says why Data is not a valid Ignition config.
	Err error
}

// Hook is a pre- or post-install script with the unit that runs it.
type Hook struct {
	// Kind is "pre" or "post".
	Kind string
	// Name is the script's name as given to Build (the file name of the
	// --pre-install or --post-install input).
	Name string
	// Path is the script's path in the live system, and Unit the name of
	// its unit.
	Path string
	Unit string
}

// Describe reads a live Ignition config (config.ign) and returns what it
// makes the live system do about installing: the installer config files and
// the destination device they name, the destination config with the configs
// it merges, the install hooks, the CAs, and the configs the live config
// merges. A config that Build did not generate, such as a user's own live
// config, gives a Description without Install and Hooks.
//
// The config must be valid (the error is then an [*ignconfig.ParseError]);
// the configs it carries need not be, each one's problem is in its Err.
// Inline contents are decoded up to [MaxDecoded] bytes in total; beyond,
// the error is a [*DecodeLimitError] naming the resource. Only the files
// Describe reports on are decoded.
func Describe(liveConfig []byte) (*Description, error) {
	return describe(liveConfig, MaxDecoded)
}

func describe(raw []byte, limit int64) (*Description, error) {
	live, err := ignconfig.Parse(ConfigMember, raw)
	if err != nil {
		return nil, err
	}
	// ignconfig.Parse accepted raw, so the library translates it.
	cfg, _, err := config.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("translating %s: %w", ConfigMember, err)
	}
	dec := &decoder{left: limit, limit: limit}
	d := &Description{Live: live, CAs: len(cfg.Ignition.Security.TLS.CertificateAuthorities)}
	if d.LiveConfigs, err = dec.embedded(ConfigMember, cfg.Ignition.Config); err != nil {
		return nil, err
	}

	units := map[string]bool{}
	for _, u := range cfg.Systemd.Units {
		units[u.Name] = true
	}
	var configs []InstallerFile
	files := map[string]typesexp.File{}
	for _, f := range cfg.Storage.Files {
		files[f.Path] = f
		if name, ok := strings.CutPrefix(f.Path, InstallerConfigDir); ok && name != "" && !strings.Contains(name, "/") {
			configs = append(configs, InstallerFile{Path: f.Path})
			continue
		}
		if name, ok := strings.CutPrefix(f.Path, HookDir); ok {
			for _, kind := range []string{"pre", "post"} {
				script, ok := strings.CutPrefix(name, kind+"-install-")
				if !ok || script == "" || strings.Contains(script, "/") {
					continue
				}
				if unit := kind + "-install-" + script + ".service"; units[unit] {
					d.Hooks = append(d.Hooks, Hook{Kind: kind, Name: script, Path: f.Path, Unit: unit})
				}
			}
		}
	}
	if len(configs) == 0 {
		return d, nil
	}

	// The installer reads the directory in name order.
	sort.Slice(configs, func(i, j int) bool { return configs[i].Path < configs[j].Path })
	in := &Install{}
	var devices []string
	for i := range configs {
		c := &configs[i]
		data, remote, err := dec.file(files[c.Path])
		if err != nil {
			return nil, err
		}
		if remote != "" {
			c.Remote = remote
			continue
		}
		c.Text = string(data)
		s, err := checkInstallerConfig(data)
		if err != nil {
			c.Err = err
			continue
		}
		c.Settings = s
		if s.DestDevice != "" {
			in.DestDevice = s.DestDevice
			devices = append(devices, fmt.Sprintf("%s (%s)", s.DestDevice, c.Name()))
		}
		if s.IgnitionFile != "" {
			in.IgnitionFile = s.IgnitionFile
		}
		if s.IgnitionURL != "" {
			in.IgnitionURL = s.IgnitionURL
		}
	}
	in.Configs = configs
	if len(devices) > 1 {
		in.Notes = append(in.Notes, "several installer configs set dest-device: "+strings.Join(devices, ", "))
	}
	if in.IgnitionFile != "" {
		f, ok := files[in.IgnitionFile]
		if !ok {
			in.Notes = append(in.Notes, fmt.Sprintf("ignition-file %s is not a file of the live config", in.IgnitionFile))
		} else if in.Dest, err = dec.dest(f); err != nil {
			return nil, err
		}
	}
	d.Install = in
	return d, nil
}

// dest decodes the destination config file f.
func (dec *decoder) dest(f typesexp.File) (*Dest, error) {
	data, remote, err := dec.file(f)
	if err != nil {
		return nil, err
	}
	dst := &Dest{Path: f.Path, Data: data, Remote: remote}
	if remote != "" {
		dst.Data = nil
		return dst, nil
	}
	if dst.Config, dst.Err = ignconfig.Parse(f.Path, data); dst.Err != nil {
		return dst, nil
	}
	cfg, _, err := config.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("translating %s: %w", f.Path, err)
	}
	dst.CAs = len(cfg.Ignition.Security.TLS.CertificateAuthorities)
	if dst.Merged, err = dec.embedded(f.Path, cfg.Ignition.Config); err != nil {
		return nil, err
	}
	// A wrapper is left empty once its merges and CAs are taken out.
	rest := cfg
	rest.Ignition.Version = ""
	rest.Ignition.Config.Merge = nil
	rest.Ignition.Security.TLS.CertificateAuthorities = nil
	dst.Wrapper = len(cfg.Ignition.Config.Merge) > 0 && reflect.DeepEqual(rest, typesexp.Config{})
	return dst, nil
}

// decoder decodes inline resources within a budget of decoded bytes.
type decoder struct {
	left, limit int64
}

// embedded decodes the configs that a config's ignition.config section
// merges and is replaced by; owner names the config in errors.
func (dec *decoder) embedded(owner string, c typesexp.IgnitionConfig) ([]Embedded, error) {
	var out []Embedded
	add := func(what string, r typesexp.Resource, replace bool) error {
		e := Embedded{Source: ignconfig.SourceLabel(r.Source, r.Compression), Replace: replace}
		data, remote, err := dec.resource(what, r)
		if err != nil {
			return err
		}
		if remote == "" {
			e.Inline, e.Data = true, data
			e.Config, e.Err = ignconfig.Parse(what, data)
		}
		out = append(out, e)
		return nil
	}
	for i, m := range c.Merge {
		if err := add(fmt.Sprintf("%s ignition.config.merge.%d", owner, i), m, false); err != nil {
			return nil, err
		}
	}
	if c.Replace.Source != nil {
		if err := add(owner+" ignition.config.replace", c.Replace, true); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// file returns the contents of a file of a config: its contents and
// appended resources, decoded, or the URL of the first one that is not
// inline.
func (dec *decoder) file(f typesexp.File) (data []byte, remote string, err error) {
	parts := append([]typesexp.Resource{f.Contents}, f.Append...)
	for i, r := range parts {
		what := f.Path
		if i > 0 {
			what = fmt.Sprintf("%s append.%d", f.Path, i-1)
		}
		b, url, err := dec.resource(what, r)
		if err != nil {
			return nil, "", err
		}
		if url != "" {
			return nil, url, nil
		}
		data = append(data, b...)
	}
	if data == nil {
		data = []byte{}
	}
	return data, "", nil
}

// resource decodes an inline resource; for another one, it returns its
// source URL, as ignconfig.SourceLabel words it. A resource without a
// source is empty.
func (dec *decoder) resource(what string, r typesexp.Resource) (data []byte, remote string, err error) {
	if r.Source == nil || *r.Source == "" {
		return []byte{}, "", nil
	}
	src := *r.Source
	if len(src) < 5 || !strings.EqualFold(src[:5], "data:") {
		return nil, ignconfig.SourceLabel(r.Source, nil), nil
	}
	du, err := dataurl.DecodeString(src)
	if err != nil {
		return nil, "", fmt.Errorf("decoding %s: %w", what, err)
	}
	data = du.Data
	if r.Compression != nil && *r.Compression != "" {
		if *r.Compression != "gzip" {
			return nil, "", fmt.Errorf("decoding %s: unknown compression %q", what, *r.Compression)
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, "", fmt.Errorf("decoding %s: %w", what, err)
		}
		var buf bytes.Buffer
		_, err = io.Copy(&buf, io.LimitReader(zr, dec.left+1))
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = errors.New("gzip data is truncated")
			}
			return nil, "", fmt.Errorf("decoding %s: %w", what, err)
		}
		data = buf.Bytes()
	}
	if int64(len(data)) > dec.left {
		return nil, "", &DecodeLimitError{What: what, Limit: dec.limit}
	}
	dec.left -= int64(len(data))
	return data, "", nil
}
