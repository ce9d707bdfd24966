package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/initrd"
)

func TestEmptyOutputRefused(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	before := fixture.SHA256(t, iso)
	for _, args := range [][]string{
		{"iso", "ignition", "embed", "-o", ""},
		{"iso", "kargs", "modify", "-a", "x", "--output="},
		{"iso", "customize", "-o", ""},
		{"build", "-o", ""},
	} {
		r := cli(t, testConfig, append(args, iso)...)
		if r.code != 2 || !strings.Contains(r.combined(), "needs a path") {
			t.Errorf("%v: exit %d: %s", args, r.code, r.combined())
		}
	}
	if fixture.SHA256(t, iso) != before {
		t.Fatal("an empty -o changed the input in place")
	}
}

func TestStdinOnce(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	dest := readTestFile(t, fixture.Customize(t, "dest.ign"))
	out := filepath.Join(t.TempDir(), "x.iso")
	// A config on stdin works for --dest-ignition.
	ok(t, dest, "iso", "customize", "--dest-ignition", "-", "--dest-device", "/dev/sda", "-o", out, iso)
	c := parseLive(t, ok(t, nil, "iso", "ignition", "show", out).stdout)
	for _, f := range c.Storage.Files {
		if f.Path == "/etc/coreos/dest.ign" {
			jsonEqual(t, f.Contents.data(t), dest)
		}
	}
	// Only one option may read stdin.
	r := fails(t, "both read standard input", dest, "build", "--ignition", "-", "--dest-ignition", "-", "-o", filepath.Join(t.TempDir(), "y.iso"), iso)
	if r.code != 2 {
		t.Errorf("exit %d, want 2", r.code)
	}
	fails(t, "--pre-install needs a file", nil, "iso", "customize", "--pre-install", "-", "-o", "-", iso)
}

func TestBuildForceReplacesKargs(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	dir := t.TempDir()
	k1 := filepath.Join(dir, "k1.iso")
	ok(t, nil, "iso", "kargs", "modify", "-a", "old-custom", "-o", k1, iso)
	k2 := filepath.Join(dir, "k2.iso")
	ok(t, nil, "build", "-f", "--ignition", fixture.Customize(t, "live.ign"), "-o", k2, k1)
	if got := kargsShow(t, k2); strings.Contains(got, "old-custom") {
		t.Fatalf("build -f kept an old karg: %q", got)
	}
	// build -f on a customized image equals build on the pristine one.
	k3 := filepath.Join(dir, "k3.iso")
	ok(t, nil, "build", "--ignition", fixture.Customize(t, "live.ign"), "-o", k3, iso)
	if fixture.SHA256(t, k2) != fixture.SHA256(t, k3) {
		t.Fatal("build -f over old customizations differs from a build on the pristine image")
	}
}

func TestHookNames(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	hook := writeTemp(t, "my hook.sh", []byte("#!/bin/sh\n"))
	fails(t, "systemd unit name", nil, "iso", "customize", "--pre-install", hook, "-o", "-", iso)
}

func TestDestWrapping(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	c := func(n string) string { return fixture.Customize(t, n) }
	for _, tc := range []struct {
		name   string
		args   []string
		merges []string
		cas    int
	}{
		{"one config and a CA", []string{"--dest-ignition", c("dest.ign"), "--ignition-ca", c("cert.pem")}, []string{"dest.ign"}, 1},
		{"two configs, no CA", []string{"--dest-ignition", c("dest.ign"), "--dest-ignition", c("dest-2.ign")}, []string{"dest.ign", "dest-2.ign"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "x.iso")
			ok(t, nil, append(append([]string{"iso", "customize", "--dest-device", "/dev/sda"}, tc.args...), "-o", out, iso)...)
			live := parseLive(t, ok(t, nil, "iso", "ignition", "show", out).stdout)
			var dest []byte
			for _, f := range live.Storage.Files {
				if f.Path == "/etc/coreos/dest.ign" {
					dest = f.Contents.data(t)
				}
			}
			d := parseLive(t, dest)
			if d.Ignition.Version != "3.3.0" || len(d.Ignition.Config.Merge) != len(tc.merges) || len(d.Ignition.Security.TLS.CertificateAuthorities) != tc.cas {
				t.Fatalf("wrapper %+v", d.Ignition)
			}
			for i, m := range tc.merges {
				jsonEqual(t, d.Ignition.Config.Merge[i].data(t), readTestFile(t, c(m)))
			}
			if tc.cas == 1 && !bytes.Equal(d.Ignition.Security.TLS.CertificateAuthorities[0].data(t), readTestFile(t, c("cert.pem"))) {
				t.Fatal("CA differs")
			}
			// The CA also reaches the live system.
			if len(live.Ignition.Security.TLS.CertificateAuthorities) != tc.cas {
				t.Fatalf("live CAs: %d", len(live.Ignition.Security.TLS.CertificateAuthorities))
			}
		})
	}
}

func TestPXECustomizeCompressions(t *testing.T) {
	for _, comp := range []initrd.Compression{initrd.Gzip, initrd.XZ, initrd.None} {
		t.Run(comp.String(), func(t *testing.T) {
			var buf bytes.Buffer
			zw, err := initrd.NewCompressor(&buf, comp)
			if err != nil {
				t.Fatal(err)
			}
			initrd.WriteNewc(zw, initrd.Files{"etc/coreos-live-initramfs": nil, "etc/coreos/features.json": []byte(pxeFeatures)})
			zw.Close()
			buf.Write(make([]byte, 3))
			in := writeTemp(t, "initramfs.img", buf.Bytes())
			out := ok(t, nil, "pxe", "customize", "--network-keyfile", fixture.Customize(t, "installer-test.nmconnection"), "-o", "-", in).stdout
			files, err := initrd.Decode(bytes.NewReader(out), nil)
			if err != nil {
				t.Fatal(err)
			}
			if files["etc/coreos-firstboot-network/installer-test.nmconnection"] == nil {
				t.Fatalf("keyfile not in the result: %v", files.Names())
			}
		})
	}
}

// Spec 6.2 item 15: network commands ignore a zeroed coreKarg magic.
func TestNetworkLegacyHeaderZeroed(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2021-12.iso")
	f, _ := os.OpenFile(iso, os.O_RDWR, 0)
	f.WriteAt(make([]byte, 8), 32672)
	f.Close()
	orig := fixture.SHA256(t, iso)
	_, a, _ := keyfiles(t)
	net := writeTemp(t, "net.iso", modes(t, iso, nil, "iso", "network", "embed", "-k", a))
	if !strings.Contains(string(ok(t, nil, "iso", "network", "extract", net).stdout), "foo=baz") {
		t.Fatal("keyfile not extracted")
	}
	if sum(modes(t, net, nil, "iso", "network", "remove")) != orig {
		t.Fatal("remove did not restore the original")
	}
}

func TestNotAnISO(t *testing.T) {
	text := writeTemp(t, "notes.txt", bytes.Repeat([]byte("not an ISO image\n"), 4096))
	r := fails(t, "unknown descriptor ID", nil, "inspect", text)
	if !strings.Contains(r.combined(), "notes.txt") || !strings.Contains(r.combined(), "offset 32768") {
		t.Errorf("error does not name the file and offset: %s", r.combined())
	}
}

// Spec 6.6 item 41b, on a fixture.
func TestDevShowISOTree(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	var got struct {
		Header struct {
			Descriptors []map[string]any `json:"descriptors"`
		} `json:"header"`
		Records []string `json:"records"`
	}
	if err := json.Unmarshal(ok(t, nil, "dev", "show", "iso", iso).stdout, &got); err != nil {
		t.Fatal(err)
	}
	d := got.Header.Descriptors
	if len(d) != 3 || d[0]["type"] != "primary" || !strings.Contains(d[0]["system_id"].(string), "LINUX") ||
		!strings.Contains(d[0]["volume_id"].(string), "fedora-coreos") || !strings.Contains(d[1]["boot_system_id"].(string), "EL TORITO") {
		t.Fatalf("descriptors %v", d)
	}
	want := map[string]bool{"EFI": false, "IMAGES/PXEBOOT": false, "IMAGES/PXEBOOT/ROOTFS.IMG": false}
	for _, r := range got.Records {
		if _, ok := want[r]; ok {
			want[r] = true
		}
	}
	for r, seen := range want {
		if !seen {
			t.Errorf("records lack %s", r)
		}
	}
}
