package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/butane"
	"github.com/isobuild/isobuild/pkg/ignconfig"
)

// translateFixture translates a Butane fixture with the Butane library.
func translateFixture(t *testing.T, name string) []byte {
	t.Helper()
	ign, _, err := butane.Translate(name, readTestFile(t, fixture.Customize(t, name)), butane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ign
}

// summaryOf is the summary the report must show for config data.
func summaryOf(t *testing.T, data []byte) ignconfig.Summary {
	t.Helper()
	c, err := ignconfig.Parse("x.ign", data)
	if err != nil {
		t.Fatal(err)
	}
	return c.Summary()
}

// wantLines fails unless text holds a line matching each pattern (a
// regular expression matched against whole lines).
func wantLines(t *testing.T, text string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(`(?m)^` + p + `$`).MatchString(text) {
			t.Errorf("no line matches %q in\n%s", p, text)
		}
	}
}

// keepsOldReport checks that the text report starts with exactly what it
// printed before it described the live config.
func keepsOldReport(t *testing.T, iso, text string) {
	t.Helper()
	rep := inspectJSON(t, iso)
	rep.LiveConfig, rep.Installer = nil, nil
	var old bytes.Buffer
	if err := printInspect(&old, &rep); err != nil {
		t.Fatal(err)
	}
	// The JSON round trip keeps every field the old report prints.
	if !strings.HasPrefix(text, old.String()) || !strings.HasPrefix(old.String(), "File:") {
		t.Fatalf("report does not start with the old lines\n%s\nold:\n%s", text, old.String())
	}
}

// shownConfigs splits --show-config text output into its labelled JSON
// documents.
func shownDocs(t *testing.T, out []byte) map[string][]byte {
	t.Helper()
	docs := map[string][]byte{}
	var label string
	for _, line := range strings.SplitAfter(string(out), "\n") {
		if l, ok := strings.CutPrefix(line, "# "); ok {
			label = strings.TrimSpace(l)
			docs[label] = nil
			continue
		}
		if label == "" {
			t.Fatalf("output does not start with a label: %q", out)
		}
		docs[label] = append(docs[label], line...)
	}
	for label, doc := range docs {
		if !json.Valid(doc) {
			t.Fatalf("%s is not JSON:\n%s", label, doc)
		}
	}
	return docs
}

func TestInspectBuildInstaller(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	out := filepath.Join(t.TempDir(), "installer.iso")
	ok(t, nil, "build", "--butane", fixture.Customize(t, "live.bu"), "--dest-butane", fixture.Customize(t, "dest.bu"),
		"--dest-device", "/dev/sda", "-o", out, iso)
	dest, live := translateFixture(t, "dest.bu"), translateFixture(t, "live.bu")

	text := string(ok(t, nil, "inspect", out).stdout)
	keepsOldReport(t, out, text)
	wantLines(t, text,
		`Embedded files: +config\.ign \(\d+ bytes, sha256 [0-9a-f]{16}\)`,
		`Installer: +installs to /dev/sda at boot, without confirmation`,
		`Installer configs: +0000-customize\.yaml`,
		` +ignition-file: /etc/coreos/dest\.ign`,
		` +dest-device: /dev/sda`,
		`Dest config: +/etc/coreos/dest\.ign, \d+ bytes, spec 3\.3\.0`,
		`  units: +dest-ignition-applied\.service \(enabled\)`,
		`Live config: +config\.ign, \d+ bytes, spec 3\.3\.0`,
		`Live merge 1: +inline, \d+ bytes, spec 3\.3\.0`,
		`  units: +live-ignition-applied\.service \(enabled\)`,
		` +terminate-multi-user\.service \(enabled\)`,
	)
	if strings.Contains(text, "Pre-install:") || strings.Contains(text, "Ignition CAs:") {
		t.Errorf("hooks or CAs reported for an image without them:\n%s", text)
	}

	rep := inspectJSON(t, out)
	if !rep.HasLiveConfig || len(rep.Members) != 1 || rep.Members[0].Path != "config.ign" {
		t.Errorf("old fields: %+v", rep)
	}
	in := rep.Installer
	if in == nil || in.DestDevice != "/dev/sda" || len(in.Configs) != 1 || in.Configs[0].Name != "0000-customize.yaml" {
		t.Fatalf("installer %+v", in)
	}
	if s := in.Configs[0].Settings; s == nil || s.DestDevice != "/dev/sda" || s.IgnitionFile != "/etc/coreos/dest.ign" {
		t.Errorf("settings %+v", s)
	}
	d := in.DestConfig
	if d == nil || d.Wrapper || d.Summary == nil || !reflect.DeepEqual(d.Summary.Summary, summaryOf(t, dest)) || d.Summary.Storage {
		t.Errorf("dest config %+v", d)
	}
	lc := rep.LiveConfig
	if lc == nil || !lc.Generated || len(lc.Merged) != 1 || lc.Merged[0].Summary == nil || !reflect.DeepEqual(lc.Merged[0].Summary.Summary, summaryOf(t, live)) {
		t.Errorf("live config %+v", lc)
	}

	// --show-config gives back the configs: the embedded one, the user's
	// live config merged into it and the destination config.
	embedded := ok(t, nil, "iso", "ignition", "show", out).stdout
	docs := shownDocs(t, ok(t, nil, "inspect", "--show-config", out).stdout)
	if len(docs) != 3 {
		t.Fatalf("documents %q", reflect.ValueOf(docs).MapKeys())
	}
	jsonEqual(t, docs["live config (config.ign)"], embedded)
	var liveLabel string
	for label := range docs {
		if strings.HasPrefix(label, "live config, merged config 1 (data URL, ") {
			liveLabel = label
		}
	}
	jsonEqual(t, docs[liveLabel], live)
	jsonEqual(t, docs["destination config (/etc/coreos/dest.ign)"], dest)

	var doc struct {
		Live       json.RawMessage   `json:"live"`
		LiveMerged []json.RawMessage `json:"live_merged"`
		Dest       json.RawMessage   `json:"dest"`
		DestMerged []json.RawMessage `json:"dest_merged"`
	}
	raw := ok(t, nil, "inspect", "--show-config", "--json", out).stdout
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("--show-config --json: %v\n%s", err, raw)
	}
	jsonEqual(t, doc.Live, embedded)
	jsonEqual(t, doc.Dest, dest)
	if len(doc.LiveMerged) != 1 || len(doc.DestMerged) != 0 {
		t.Fatalf("merged: %d live, %d dest", len(doc.LiveMerged), len(doc.DestMerged))
	}
	jsonEqual(t, doc.LiveMerged[0], live)
}

func TestInspectCustomizeInstaller(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	out := filepath.Join(t.TempDir(), "installer.iso")
	c := func(n string) string { return fixture.Customize(t, n) }
	ok(t, nil, "iso", "customize", "--dest-ignition", c("dest.ign"), "--dest-ignition", c("dest-2.ign"),
		"--dest-device", "/dev/vda", "--installer-config", c("install-1.conf"), "--installer-config", c("install-2.conf"),
		"--pre-install", c("pre-install-1"), "--post-install", c("post-install-2"), "--ignition-ca", c("cert.pem"),
		"--live-ignition", c("live.ign"), "-o", out, iso)

	text := string(ok(t, nil, "inspect", out).stdout)
	keepsOldReport(t, out, text)
	wantLines(t, text,
		`Installer: +installs to /dev/vda at boot, without confirmation`,
		`Installer configs: +0000-install-1\.conf`,
		` +append-karg: \[install-config-karg-1\]`,
		` +0001-install-2\.conf`,
		` +append-karg: \[install-config-karg-2\]`,
		` +0002-customize\.yaml`,
		` +dest-device: /dev/vda`,
		`Dest config: +/etc/coreos/dest\.ign, \d+ bytes, spec 3\.3\.0, merging 2 configs and trusting 1 CA`,
		`Dest merge 1: +inline, \d+ bytes, spec 3\.3\.0`,
		`  units: +dest-ignition-applied\.service \(enabled\)`,
		`Dest merge 2: +inline, \d+ bytes, spec 3\.3\.0`,
		`  units: +dest-2-ignition-applied\.service \(enabled\)`,
		`Pre-install: +pre-install-1`,
		`Post-install: +post-install-2`,
		`Ignition CAs: +1`,
		`Live merge 1: +inline, \d+ bytes, spec 3\.3\.0`,
	)
	// The installer lines come in the order the installer reads them.
	if i, j := strings.Index(text, "0000-install-1.conf"), strings.Index(text, "0002-customize.yaml"); i < 0 || j < i {
		t.Errorf("installer configs out of order:\n%s", text)
	}

	rep := inspectJSON(t, out)
	in := rep.Installer
	var names []string
	for _, ic := range in.Configs {
		names = append(names, ic.Name)
	}
	if want := []string{"0000-install-1.conf", "0001-install-2.conf", "0002-customize.yaml"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("installer configs %q, want %q", names, want)
	}
	if in.Configs[0].Text != string(readTestFile(t, c("install-1.conf"))) {
		t.Errorf("install-1.conf text %q", in.Configs[0].Text)
	}
	if in.DestDevice != "/dev/vda" || !in.DestConfig.Wrapper || in.DestConfig.CAs != 1 || len(in.DestConfig.Merged) != 2 {
		t.Errorf("installer %+v", in)
	}
	for i, name := range []string{"dest.ign", "dest-2.ign"} {
		if got := in.DestConfig.Merged[i].Summary; got == nil || !reflect.DeepEqual(got.Summary, summaryOf(t, readTestFile(t, c(name)))) {
			t.Errorf("dest merge %d: %+v", i, got)
		}
	}
	lc := rep.LiveConfig
	if lc.CAs != 1 || len(lc.Hooks) != 2 || lc.Hooks[0].Name != "pre-install-1" || lc.Hooks[1].Kind != "post" {
		t.Errorf("live config %+v", lc)
	}

	var doc struct {
		Live       json.RawMessage   `json:"live"`
		LiveMerged []json.RawMessage `json:"live_merged"`
		Dest       json.RawMessage   `json:"dest"`
		DestMerged []json.RawMessage `json:"dest_merged"`
	}
	raw := ok(t, nil, "inspect", "--show-config", "--json", out).stdout
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("--show-config --json: %v\n%s", err, raw)
	}
	jsonEqual(t, doc.Live, ok(t, nil, "iso", "ignition", "show", out).stdout)
	if len(doc.LiveMerged) != 1 || len(doc.DestMerged) != 2 || len(doc.Dest) == 0 {
		t.Fatalf("--show-config --json: %s", raw)
	}
	jsonEqual(t, doc.LiveMerged[0], readTestFile(t, c("live.ign")))
	jsonEqual(t, doc.DestMerged[0], readTestFile(t, c("dest.ign")))
	jsonEqual(t, doc.DestMerged[1], readTestFile(t, c("dest-2.ign")))
	docs := shownDocs(t, ok(t, nil, "inspect", "--show-config", out).stdout)
	if len(docs) != 5 {
		t.Errorf("%d documents, want 5 (live, its merge, dest, its 2 merges)", len(docs))
	}
}

// storageButane is a live config that encrypts and formats disks.
const storageButane = `variant: fcos
version: 1.6.0
passwd:
  users:
    - name: core
boot_device:
  luks:
    tpm2: true
storage:
  filesystems:
    - device: /dev/vdb
      format: ext4
      path: /var/srv
      with_mount_unit: true
`

func TestInspectPlainLiveConfig(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.iso")
	ok(t, nil, "iso", "ignition", "embed", "-i", fixture.Customize(t, "live.ign"), "-o", plain, iso)
	text := string(ok(t, nil, "inspect", plain).stdout)
	keepsOldReport(t, plain, text)
	wantLines(t, text,
		`Live config: +config\.ign, \d+ bytes, spec 3\.3\.0`,
		`  units: +live-ignition-applied\.service \(enabled\)`,
	)
	if strings.Contains(text, "Installer") || strings.Contains(text, "Dest config") || strings.Contains(text, "storage:") {
		t.Errorf("installer or storage lines for a plain config:\n%s", text)
	}
	rep := inspectJSON(t, plain)
	if rep.Installer != nil || rep.LiveConfig == nil || rep.LiveConfig.Generated || rep.LiveConfig.Summary.Storage {
		t.Errorf("report %+v %+v", rep.Installer, rep.LiveConfig)
	}
	docs := shownDocs(t, ok(t, nil, "inspect", "--show-config", plain).stdout)
	if len(docs) != 1 {
		t.Errorf("documents %v", docs)
	}
	jsonEqual(t, docs["live config (config.ign)"], readTestFile(t, fixture.Customize(t, "live.ign")))

	// A live config with storage says so.
	storIgn, _, err := butane.Translate("storage.bu", []byte(storageButane), butane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stor := filepath.Join(dir, "storage.iso")
	ok(t, nil, "iso", "ignition", "embed", "-i", writeTemp(t, "storage.ign", storIgn), "-o", stor, iso)
	text = string(ok(t, nil, "inspect", stor).stdout)
	wantLines(t, text,
		`Live config: +config\.ign, \d+ bytes, spec 3\.5\.0`,
		`  users: +core`,
		`  luks: +root \(/dev/disk/by-partlabel/root\)`,
		`  filesystems: +/dev/mapper/root \(xfs\)`,
		` +/dev/vdb \(/var/srv, ext4\)`,
		`  storage: +partitions, formats or encrypts disks`,
	)
	if rep := inspectJSON(t, stor); rep.LiveConfig == nil || !rep.LiveConfig.Summary.Storage {
		t.Errorf("storage not reported: %+v", rep.LiveConfig)
	}

	// An invalid config (embed does not validate) is reported, not an error.
	bad := filepath.Join(dir, "bad.iso")
	ok(t, testConfig, "iso", "ignition", "embed", "-o", bad, iso)
	text = string(ok(t, nil, "inspect", bad).stdout)
	wantLines(t, text, `Live config: +config\.ign, \d+ bytes, Ignition config config\.ign: .*`)
	if rep := inspectJSON(t, bad); rep.LiveConfig == nil || rep.LiveConfig.Error == "" || rep.LiveConfig.Summary != nil {
		t.Errorf("invalid config: %+v", rep.LiveConfig)
	}
	// --show-config prints it as it is.
	if got := ok(t, nil, "inspect", "--show-config", bad).stdout; !bytes.Equal(got, append([]byte("# live config (config.ign)\n"), testConfig...)) {
		t.Errorf("--show-config of an invalid config: %q", got)
	}
	var doc struct{ Live string }
	if err := json.Unmarshal(ok(t, nil, "inspect", "--show-config", "--json", bad).stdout, &doc); err != nil || doc.Live != string(testConfig) {
		t.Errorf("--show-config --json of an invalid config: %q, %v", doc.Live, err)
	}

	// Without a live config there is nothing to show.
	text = string(ok(t, nil, "inspect", iso).stdout)
	if strings.Contains(text, "Live config") {
		t.Errorf("live config lines without a config:\n%s", text)
	}
	fails(t, "No embedded Ignition config.", nil, "inspect", "--show-config", iso)
}
