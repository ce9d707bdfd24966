package ignconfig

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/butane"
)

// translate turns a Butane config into a parsed Ignition config with the
// Butane library.
func translate(t *testing.T, name string, src []byte) *Config {
	t.Helper()
	ign, _, err := butane.Translate(name, src, butane.Options{})
	if err != nil {
		t.Fatalf("translate %s: %v", name, err)
	}
	c, err := Parse(name, ign)
	if err != nil {
		t.Fatalf("parse translated %s: %v", name, err)
	}
	return c
}

func TestSummaryFixtures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		units []string
	}{
		{"live.bu", []string{"live-ignition-applied.service (enabled)", "terminate-multi-user.service (enabled)"}},
		{"live-2.bu", []string{"live-2-ignition-applied.service (enabled)"}},
		{"dest.bu", []string{"dest-ignition-applied.service (enabled)"}},
		{"dest-2.bu", []string{"dest-2-ignition-applied.service (enabled)", "terminate-multi-user.service (enabled)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := os.ReadFile(fixture.Customize(t, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			got := translate(t, tc.name, src).Summary()
			// fcos 1.4.0 translates to spec 3.3.0.
			want := Summary{Version: "3.3.0", Units: tc.units}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Summary = %+v, want %+v", got, want)
			}
			if got.Storage() {
				t.Error("Storage() = true for a config without storage")
			}
			// The Ignition fixture of the same name says the same.
			raw, err := os.ReadFile(fixture.Customize(t, strings.TrimSuffix(tc.name, ".bu")+".ign"))
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse("x.ign", raw)
			if err != nil {
				t.Fatal(err)
			}
			if ign := c.Summary(); !reflect.DeepEqual(ign, want) {
				t.Errorf("Summary of the .ign fixture = %+v, want %+v", ign, want)
			}
		})
	}
}

// ownButane is a Butane config that exercises every part of a summary:
// users and groups, a LUKS root device bound to the TPM (boot_device), a
// data disk with an encrypted, mounted filesystem, files, directories,
// links, units enabled, disabled, masked and with drop-ins, merged configs
// and a CA.
const ownButane = `variant: fcos
version: 1.5.0
ignition:
  config:
    merge:
      - inline: '{"ignition":{"version":"3.4.0"}}'
      - source: https://deploy:s3cret@example.com/extra.ign
  security:
    tls:
      certificate_authorities:
        - inline: |
            -----BEGIN CERTIFICATE-----
            MIIB
            -----END CERTIFICATE-----
passwd:
  users:
    - name: core
      ssh_authorized_keys:
        - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample core@example
    - name: backup
      groups: [wheel]
  groups:
    - name: operators
boot_device:
  luks:
    tpm2: true
storage:
  disks:
    - device: /dev/vdb
      wipe_table: true
      partitions:
        - label: data
          size_mib: 0
  luks:
    - name: data
      device: /dev/disk/by-partlabel/data
      clevis:
        tpm2: true
  filesystems:
    - device: /dev/mapper/data
      path: /var/data
      format: xfs
      with_mount_unit: true
  files:
    - path: /etc/hostname
      mode: 0644
      contents:
        inline: node1
  directories:
    - path: /var/data/app
  links:
    - path: /etc/localtime
      target: ../usr/share/zoneinfo/UTC
systemd:
  units:
    - name: app.service
      enabled: true
      contents: |
        [Service]
        ExecStart=/usr/bin/true
        [Install]
        WantedBy=multi-user.target
    - name: zincati.service
      mask: true
    - name: sshd.service
      dropins:
        - name: port.conf
          contents: "[Service]\n"
    - name: docker.service
      enabled: false
`

func TestSummaryStorage(t *testing.T) {
	got := translate(t, "own.bu", []byte(ownButane)).Summary()
	want := Summary{
		Version:     "3.4.0", // fcos 1.5.0
		Users:       []string{"core", "backup"},
		Groups:      []string{"operators"},
		Files:       []string{"/etc/hostname"},
		Directories: []string{"/var/data/app"},
		Links:       []string{"/etc/localtime -> ../usr/share/zoneinfo/UTC"},
		// Butane puts the mount unit of with_mount_unit first.
		Units: []string{"var-data.mount (enabled)", "app.service (enabled)", "zincati.service (masked)", "sshd.service (1 drop-in)", "docker.service (disabled)"},
		Disks: []string{"/dev/vdb"},
		// boot_device.luks adds the root volume and its filesystem.
		LUKS:        []string{"root (/dev/disk/by-partlabel/root)", "data (/dev/disk/by-partlabel/data)"},
		Filesystems: []string{"/dev/mapper/root (xfs)", "/dev/mapper/data (/var/data, xfs)"},
		Merge:       []string{"data URL, 32 bytes", "https://deploy:xxxxx@example.com/extra.ign"},
		CAs:         1,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Summary =\n%+v\nwant\n%+v", got, want)
	}
	if !got.Storage() {
		t.Error("Storage() = false")
	}
}

func TestSummaryStorageKinds(t *testing.T) {
	// Each kind of storage entry alone makes Storage true.
	for _, tc := range []struct{ name, storage string }{
		{"boot_device", "boot_device:\n  luks:\n    tpm2: true\n"},
		{"disks", "storage:\n  disks:\n    - device: /dev/vdb\n      wipe_table: true\n"},
		{"raid", "storage:\n  raid:\n    - name: md0\n      level: raid1\n      devices: [/dev/vdb, /dev/vdc]\n"},
		{"luks", "storage:\n  luks:\n    - name: crypt\n      device: /dev/vdb\n      clevis:\n        tpm2: true\n"},
		{"filesystems", "storage:\n  filesystems:\n    - device: /dev/vdb\n      format: ext4\n      wipe_filesystem: true\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := translate(t, tc.name+".bu", []byte("variant: fcos\nversion: 1.6.0\n"+tc.storage)).Summary()
			if s.Version != "3.5.0" {
				t.Errorf("Version %q, want 3.5.0 for fcos 1.6.0", s.Version)
			}
			if !s.Storage() {
				t.Errorf("Storage() = false for %+v", s)
			}
			if tc.name == "raid" && !reflect.DeepEqual(s.RAID, []string{"md0"}) {
				t.Errorf("RAID = %q", s.RAID)
			}
			if tc.name == "luks" && !reflect.DeepEqual(s.LUKS, []string{"crypt (/dev/vdb)"}) {
				t.Errorf("LUKS = %q", s.LUKS)
			}
			if tc.name == "filesystems" && !reflect.DeepEqual(s.Filesystems, []string{"/dev/vdb (ext4)"}) {
				t.Errorf("Filesystems = %q", s.Filesystems)
			}
		})
	}
	// Files under /var are not storage.
	s := translate(t, "files.bu", []byte("variant: fcos\nversion: 1.6.0\nstorage:\n  files:\n    - path: /var/x\n")).Summary()
	if s.Storage() {
		t.Errorf("Storage() = true for %+v", s)
	}
}

func TestSummaryOldSpecAndMerges(t *testing.T) {
	// Older specs are translated for the summary but keep their version.
	old, err := Parse("old.ign", []byte(`{"ignition":{"version":"3.0.0"},"passwd":{"users":[{"name":"core"}]},"systemd":{"units":[{"name":"a.service","enabled":true,"mask":true}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := old.Summary(), (Summary{Version: "3.0.0", Users: []string{"core"}, Units: []string{"a.service (enabled, masked)"}}); !reflect.DeepEqual(got, want) {
		t.Errorf("Summary = %+v, want %+v", got, want)
	}

	// Compression of merged configs appeared in spec 3.1.0.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"ignition":{"version":"3.1.0"}}`))
	zw.Close()
	inline := "data:;base64," + base64.StdEncoding.EncodeToString(gz.Bytes())
	raw := []byte(`{"ignition":{"version":"3.1.0","config":{"merge":[{"source":"` + inline + `","compression":"gzip"},{"source":"data:,hello%20world"}],"replace":{"source":"tftp://10.0.0.1/x.ign"}}},` +
		`"storage":{"files":[{"path":"/etc/a"}]}}`)
	c, err := Parse("merges.ign", raw)
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{
		Version: "3.1.0",
		Files:   []string{"/etc/a"},
		Merge:   []string{"data URL, " + strconv.Itoa(gz.Len()) + " bytes, gzip", "data URL, 11 bytes", "replace: tftp://10.0.0.1/x.ign"},
	}
	if got := c.Summary(); !reflect.DeepEqual(got, want) {
		t.Errorf("Summary =\n%+v\nwant\n%+v", got, want)
	}

	empty, err := Parse("empty.ign", []byte(`{"ignition":{"version":"3.3.0"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := empty.Summary(); !reflect.DeepEqual(got, Summary{Version: "3.3.0"}) || got.Storage() {
		t.Errorf("Summary of an empty config = %+v", got)
	}
	var none *Config
	if got := none.Summary(); !reflect.DeepEqual(got, Summary{}) {
		t.Errorf("Summary of nil = %+v", got)
	}
}

func TestSourceLabel(t *testing.T) {
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		source, compression *string
		want                string
	}{
		{nil, nil, "no source"},
		{s("data:,abc"), nil, "data URL, 3 bytes"},
		{s("data:text/plain;base64,YWJjZA=="), s(""), "data URL, 4 bytes"},
		{s("data:;base64,!!!"), nil, "data URL, invalid"},
		{s("https://example.com/a.ign"), s("gzip"), "https://example.com/a.ign (gzip)"},
		{s("https://user:pw@example.com/a.ign"), nil, "https://user:xxxxx@example.com/a.ign"},
		{s("s3://bucket/key"), nil, "s3://bucket/key"},
	} {
		if got := SourceLabel(tc.source, tc.compression); got != tc.want {
			t.Errorf("SourceLabel(%v) = %q, want %q", tc.source, got, tc.want)
		}
	}
}

// FuzzSummary checks summaries of any config Parse accepts: one entry per
// item of the translated config, Storage exactly when a storage section
// has entries, and merge sources that never spell out a data URL.
func FuzzSummary(f *testing.F) {
	for _, name := range []string{"live.ign", "dest-2.ign"} {
		raw, err := os.ReadFile(fixture.Customize(f, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	if ign, _, err := butane.Translate("own.bu", []byte(ownButane), butane.Options{}); err == nil {
		f.Add(ign)
	}
	f.Add([]byte(`{"ignition":{"version":"3.1.0","config":{"replace":{"source":"data:,%7B%7D","compression":"gzip"}}}}`))
	f.Add([]byte(`{"ignition":{"version":"3.5.0"},"storage":{"raid":[{"name":"md","level":"raid1","devices":["/dev/a","/dev/b"]}]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := Parse("fuzz.ign", raw)
		if err != nil {
			return
		}
		s := c.Summary()
		cfg := c.latest
		if s.Version != c.Version || len(s.Users) != len(cfg.Passwd.Users) || len(s.Groups) != len(cfg.Passwd.Groups) ||
			len(s.Files) != len(cfg.Storage.Files) || len(s.Directories) != len(cfg.Storage.Directories) ||
			len(s.Links) != len(cfg.Storage.Links) || len(s.Units) != len(cfg.Systemd.Units) ||
			len(s.Disks) != len(cfg.Storage.Disks) || len(s.RAID) != len(cfg.Storage.Raid) ||
			len(s.LUKS) != len(cfg.Storage.Luks) || len(s.Filesystems) != len(cfg.Storage.Filesystems) ||
			s.CAs != len(cfg.Ignition.Security.TLS.CertificateAuthorities) {
			t.Fatalf("summary %+v does not match the config", s)
		}
		storage := len(cfg.Storage.Disks)+len(cfg.Storage.Raid)+len(cfg.Storage.Luks)+len(cfg.Storage.Filesystems) > 0
		if s.Storage() != storage {
			t.Fatalf("Storage() = %v for %+v", s.Storage(), s)
		}
		for _, m := range s.Merge {
			if strings.HasPrefix(strings.ToLower(strings.TrimPrefix(m, "replace: ")), "data:") {
				t.Fatalf("merge source %q spells out a data URL", m)
			}
		}
	})
}
