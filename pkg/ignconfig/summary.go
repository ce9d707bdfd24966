package ignconfig

import (
	"fmt"
	"net/url"
	"strings"

	typesexp "github.com/coreos/ignition/v2/config/v3_6_experimental/types"
	"github.com/vincent-petithory/dataurl"
)

// Summary lists, by name, what an Ignition config does to a system: the
// users and groups it creates, the files, directories and links it writes,
// the systemd units it configures, the block devices it partitions, formats
// or encrypts, and the configs it pulls in. It is meant for people to read;
// every entry is a printable string, in the order of the config.
type Summary struct {
	// Version is the spec version as written in ignition.version.
	Version string `json:"version"`
	// Users and Groups are the names of passwd.users and passwd.groups.
	Users  []string `json:"users,omitempty"`
	Groups []string `json:"groups,omitempty"`
	// Files and Directories are paths.
	Files       []string `json:"files,omitempty"`
	Directories []string `json:"directories,omitempty"`
	// Links are paths, each followed by " -> " and its target when the
	// config sets one.
	Links []string `json:"links,omitempty"`
	// Units are unit names, each followed by what the config does with it
	// beyond writing it, such as " (enabled)", " (disabled)", " (masked)"
	// or " (2 drop-ins)".
	Units []string `json:"units,omitempty"`
	// Disks are the devices of storage.disks.
	Disks []string `json:"disks,omitempty"`
	// RAID are the names of storage.raid arrays.
	RAID []string `json:"raid,omitempty"`
	// LUKS are the names of storage.luks volumes, each followed by its
	// device in parentheses when the config sets one.
	LUKS []string `json:"luks,omitempty"`
	// Filesystems are the devices of storage.filesystems, each followed by
	// its mount path and format in parentheses when set.
	Filesystems []string `json:"filesystems,omitempty"`
	// Merge are the sources of ignition.config.merge and, prefixed with
	// "replace: ", of ignition.config.replace, as [SourceLabel] words
	// them: "data URL, 1234 bytes, gzip" for an inline config, the URL
	// without any password for another.
	Merge []string `json:"merge,omitempty"`
	// CAs is the number of certificate authorities the config trusts
	// (ignition.security.tls.certificateAuthorities).
	CAs int `json:"cas,omitempty"`
}

// Storage reports whether the config partitions, formats or encrypts block
// devices (any disks, raid, luks or filesystems entry).
func (s Summary) Storage() bool {
	return len(s.Disks)+len(s.RAID)+len(s.LUKS)+len(s.Filesystems) > 0
}

// Summary summarizes the config. It reads the config as Parse translated
// it to the newest spec, so configs of every version are summarized alike;
// Version stays the version written in the config.
func (c *Config) Summary() Summary {
	s := Summary{}
	if c == nil {
		return s
	}
	s.Version = c.Version
	cfg := c.latest
	for _, u := range cfg.Passwd.Users {
		s.Users = append(s.Users, u.Name)
	}
	for _, g := range cfg.Passwd.Groups {
		s.Groups = append(s.Groups, g.Name)
	}
	for _, f := range cfg.Storage.Files {
		s.Files = append(s.Files, f.Path)
	}
	for _, d := range cfg.Storage.Directories {
		s.Directories = append(s.Directories, d.Path)
	}
	for _, l := range cfg.Storage.Links {
		entry := l.Path
		if l.Target != nil {
			entry += " -> " + *l.Target
		}
		s.Links = append(s.Links, entry)
	}
	for _, u := range cfg.Systemd.Units {
		s.Units = append(s.Units, unitEntry(u))
	}
	for _, d := range cfg.Storage.Disks {
		s.Disks = append(s.Disks, d.Device)
	}
	for _, r := range cfg.Storage.Raid {
		s.RAID = append(s.RAID, r.Name)
	}
	for _, l := range cfg.Storage.Luks {
		entry := l.Name
		if l.Device != nil && *l.Device != "" {
			entry += " (" + *l.Device + ")"
		}
		s.LUKS = append(s.LUKS, entry)
	}
	for _, f := range cfg.Storage.Filesystems {
		var attrs []string
		if f.Path != nil && *f.Path != "" {
			attrs = append(attrs, *f.Path)
		}
		if f.Format != nil && *f.Format != "" {
			attrs = append(attrs, *f.Format)
		}
		s.Filesystems = append(s.Filesystems, withAttrs(f.Device, attrs))
	}
	for _, m := range cfg.Ignition.Config.Merge {
		s.Merge = append(s.Merge, SourceLabel(m.Source, m.Compression))
	}
	if r := cfg.Ignition.Config.Replace; r.Source != nil {
		s.Merge = append(s.Merge, "replace: "+SourceLabel(r.Source, r.Compression))
	}
	s.CAs = len(cfg.Ignition.Security.TLS.CertificateAuthorities)
	return s
}

// unitEntry names a unit with what the config does with it.
func unitEntry(u typesexp.Unit) string {
	var attrs []string
	if u.Enabled != nil {
		if *u.Enabled {
			attrs = append(attrs, "enabled")
		} else {
			attrs = append(attrs, "disabled")
		}
	}
	if u.Mask != nil && *u.Mask {
		attrs = append(attrs, "masked")
	}
	if n := len(u.Dropins); n > 0 {
		attrs = append(attrs, fmt.Sprintf("%d %s", n, plural(n, "drop-in", "drop-ins")))
	}
	return withAttrs(u.Name, attrs)
}

func withAttrs(name string, attrs []string) string {
	if len(attrs) == 0 {
		return name
	}
	return name + " (" + strings.Join(attrs, ", ") + ")"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// SourceLabel describes an Ignition resource source for people: a data URL
// as "data URL, N bytes" (N being its payload size, followed by the
// compression if any), another URL as written but with any password
// replaced by "xxxxx" (and the compression in parentheses), and a missing
// source as "no source".
func SourceLabel(source, compression *string) string {
	if source == nil {
		return "no source"
	}
	src := *source
	comp := ""
	if compression != nil {
		comp = *compression
	}
	if len(src) >= 5 && strings.EqualFold(src[:5], "data:") {
		du, err := dataurl.DecodeString(src)
		if err != nil {
			return "data URL, invalid"
		}
		label := fmt.Sprintf("data URL, %d bytes", len(du.Data))
		if comp != "" {
			label += ", " + comp
		}
		return label
	}
	if u, err := url.Parse(src); err == nil && u.User != nil {
		src = u.Redacted()
	}
	if comp != "" {
		src += " (" + comp + ")"
	}
	return src
}
