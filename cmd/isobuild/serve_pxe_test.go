package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/internal/isowrite"
	"github.com/isobuild/isobuild/internal/testiso"
	"github.com/isobuild/isobuild/pkg/butane"
	"github.com/isobuild/isobuild/pkg/initrd"
	"github.com/isobuild/isobuild/pkg/remaster"
)

// extractedPXE runs "iso extract pxe" on iso and returns its files by
// their name in images/pxeboot (vmlinuz, initrd.img, rootfs.img).
func extractedPXE(t *testing.T, iso string) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	ok(t, nil, "iso", "extract", "pxe", "-o", dir, iso)
	stem := strings.TrimSuffix(filepath.Base(iso), filepath.Ext(iso))
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		out[strings.TrimPrefix(e.Name(), stem+"-")] = readTestFile(t, filepath.Join(dir, e.Name()))
	}
	return out
}

// liveISO writes a CoreOS-layout test image whose images/pxeboot/initrd.img
// is a live initramfs (testiso.LiveInitramfs with pxeFeatures).
func liveISO(t *testing.T) string {
	t.Helper()
	o := testiso.Options{RootfsSize: 300 << 10}
	files, err := testiso.Files(o)
	if err != nil {
		t.Fatal(err)
	}
	var live bytes.Buffer
	if err := testiso.LiveInitramfs(&live, pxeFeatures, nil); err != nil {
		t.Fatal(err)
	}
	replaced := false
	for i, f := range files {
		if f.Path == testiso.ISOPath(testiso.InitrdPath) {
			data := live.Bytes()
			files[i].Size = int64(len(data))
			files[i].Open = func() (io.Reader, error) { return bytes.NewReader(data), nil }
			replaced = true
		}
	}
	if !replaced {
		t.Fatal("no initrd.img in testiso.Files")
	}
	p := filepath.Join(t.TempDir(), "live.iso")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	if err := isowrite.Write(w, files, testiso.WriteOptions(o)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServePXEFixture: on the real fixtures, vmlinuz (kernel.img on
// s390x) and rootfs.img are the ISO's files; their initrd.img is no live
// initramfs, so initramfs.img and boot.ipxe answer 404, and the log says
// why.
func TestServePXEFixture(t *testing.T) {
	for _, name := range []string{"embed-areas-2023-07.x86_64.iso", "embed-areas-2023-07.s390x.iso"} {
		t.Run(name, func(t *testing.T) {
			iso := fixture.ISO(t, name)
			want := extractedPXE(t, iso)
			kernel := want["vmlinuz"]
			if kernel == nil {
				kernel = want["kernel.img"]
			}
			if kernel == nil || want["rootfs.img"] == nil {
				t.Fatalf("extracted %d files", len(want))
			}
			tmpl := writeTemp(t, "T.bu", []byte(batchTemplate))
			hostsFile := writeTemp(t, "hosts.yaml", []byte(batchHosts("")))
			url, stop := startServe(t, "--butane", tmpl, "--hosts", hostsFile, iso)
			for _, host := range []string{"web1", "db.2"} {
				for file, body := range map[string][]byte{"vmlinuz": kernel, "rootfs.img": want["rootfs.img"]} {
					res, got := get(t, url+"/hosts/"+host+"/pxe/"+file, nil)
					if res.StatusCode != 200 || !bytes.Equal(got, body) || res.Header.Get("Etag") == "" {
						t.Errorf("%s %s: %d, %d bytes, want %d", host, file, res.StatusCode, len(got), len(body))
					}
					res, got = get(t, url+"/hosts/"+host+"/pxe/"+file, map[string]string{"Range": "bytes=1-3"})
					if res.StatusCode != 206 || !bytes.Equal(got, body[1:4]) {
						t.Errorf("%s %s range: %d %q", host, file, res.StatusCode, got)
					}
				}
				for _, p := range []string{"/pxe/initramfs.img", "/boot.ipxe"} {
					if res, _ := get(t, url+"/hosts/"+host+p, nil); res.StatusCode != 404 {
						t.Errorf("%s%s: %d", host, p, res.StatusCode)
					}
				}
			}
			if res, _ := get(t, url+"/hosts/nope/pxe/vmlinuz", nil); res.StatusCode != 404 {
				t.Errorf("unknown host: %d", res.StatusCode)
			}
			if _, stderr := stop(); !strings.Contains(stderr, "images/pxeboot/initrd.img of the base image: reading initramfs") || !strings.Contains(stderr, `"route":"pxe"`) {
				t.Errorf("log:\n%s", stderr)
			}
		})
	}
}

// TestServePXEInitramfs: on an image with a live initramfs, a host's
// initramfs.img is "pxe customize"'s output for the host's options byte for
// byte, and boot.ipxe boots it with the host's kernel arguments.
func TestServePXEInitramfs(t *testing.T) {
	iso := liveISO(t)
	want := extractedPXE(t, iso)
	initrdFile := writeTemp(t, "initrd.img", want["initrd.img"])
	c := func(n string) string { return fixture.Customize(t, n) }
	// A template without actions: every host's config is the same
	// Butane, and so its translation.
	const bu = "variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: /etc/pxe-test\n      contents:\n        inline: hello\n"
	tmpl := writeTemp(t, "T.bu", []byte(bu))
	ign, _, err := butane.Translate(tmpl, []byte(bu), butane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ignFile := writeTemp(t, "host.ign", ign)
	hostsFile := writeTemp(t, "hosts.yaml", []byte("hosts:\n  - name: a\n    kargs: [ip=dhcp]\n  - name: b\n"))

	t.Run("config", func(t *testing.T) {
		url, stop := startServe(t, "--butane", tmpl, "--hosts", hostsFile, "--karg-append", "console=ttyS0,115200n8", iso)
		defer stop()
		// The config as it is: the archive "pxe ignition wrap" makes.
		wrapped := ok(t, nil, "pxe", "ignition", "wrap", "-i", ignFile).stdout
		res, got := get(t, url+"/hosts/a/pxe/initramfs.img", nil)
		if res.StatusCode != 200 || !bytes.Equal(got, append(append([]byte{}, want["initrd.img"]...), wrapped...)) {
			t.Fatalf("initramfs.img: %d, %d bytes", res.StatusCode, len(got))
		}
		for file, body := range map[string][]byte{"vmlinuz": want["vmlinuz"], "rootfs.img": want["rootfs.img"]} {
			if res, got := get(t, url+"/hosts/b/pxe/"+file, nil); res.StatusCode != 200 || !bytes.Equal(got, body) {
				t.Errorf("%s: %d", file, res.StatusCode)
			}
		}
		res, script := get(t, url+"/hosts/a/boot.ipxe", nil)
		base := url + "/hosts/a/pxe/"
		wantScript := "#!ipxe\n" +
			"kernel " + base + "vmlinuz initrd=main coreos.live.rootfs_url=" + base + "rootfs.img " +
			"mitigations=auto,nosmt ignition.firstboot ignition.platform.id=metal console=ttyS0,115200n8 ip=dhcp\n" +
			"initrd --name main " + base + "initramfs.img\nboot\n"
		if res.StatusCode != 200 || string(script) != wantScript {
			t.Errorf("boot.ipxe: %d\n%s\nwant\n%s", res.StatusCode, script, wantScript)
		}
		if _, script := get(t, url+"/hosts/b/boot.ipxe", nil); strings.Contains(string(script), "ip=dhcp") || strings.Contains(string(script), "coreos.liveiso") {
			t.Errorf("b's script: %s", script)
		}
	})

	t.Run("installer", func(t *testing.T) {
		opts := []string{"--dest-device", "/dev/vda", "--dest-ignition", c("dest.ign"), "--network-keyfile", c("installer-test.nmconnection")}
		url, stop := startServe(t, append(append([]string{"--butane", tmpl, "--hosts", hostsFile}, opts...), iso)...)
		defer stop()
		custom := ok(t, nil, append(append([]string{"pxe", "customize", "--live-ignition", ignFile}, opts...), "-o", "-", initrdFile)...).stdout
		for _, host := range []string{"a", "b"} {
			res, got := get(t, url+"/hosts/"+host+"/pxe/initramfs.img", nil)
			if res.StatusCode != 200 || !bytes.Equal(got, custom) {
				t.Fatalf("%s: initramfs.img: %d, %d bytes; pxe customize wrote %d", host, res.StatusCode, len(got), len(custom))
			}
		}
		files, err := initrd.Decode(bytes.NewReader(custom[len(want["initrd.img"]):]), nil)
		if err != nil || files["config.ign"] == nil || files["etc/coreos-firstboot-network/installer-test.nmconnection"] == nil {
			t.Fatalf("appended archive: %v %v", files.Names(), err)
		}
	})
}

// TestServePXEFlatcar: a Flatcar image's PXE files are its kernel and its
// initramfs followed by the host image's extra initramfs; no rootfs.img;
// boot.ipxe has flatcar.first_boot=1.
func TestServePXEFlatcar(t *testing.T) {
	base := flatcarISO(t)
	tmpl := writeTemp(t, "T.bu", []byte("variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: /etc/hostname\n      contents:\n        inline: {{ .Name }}\n"))
	hostsFile := writeTemp(t, "hosts.yaml", []byte("hosts:\n  - name: f1\n    kargs: [quiet]\n  - name: f2\n"))
	out := t.TempDir()
	ok(t, nil, "build", "--butane", tmpl, "--hosts", hostsFile, "-o", out, base)
	url, stop := startServe(t, "--butane", tmpl, "--hosts", hostsFile, base)
	defer stop()
	for _, host := range []string{"f1", "f2"} {
		built := filepath.Join(out, host+".iso")
		f, err := os.Open(built)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		rm, err := remaster.Open(f, st.Size())
		if err != nil {
			t.Fatal(err)
		}
		extra := rm.Record().Description.Initrd
		e, err := rm.Trees[0].Lookup(strings.TrimPrefix(extra, "/"))
		if err != nil {
			t.Fatal(err)
		}
		archive := make([]byte, e.Length)
		if _, err := rm.Trees[0].Section(e).ReadAt(archive, 0); err != nil {
			t.Fatal(err)
		}
		// "initramfs" (9 bytes), padded to 4, then the extra one.
		wantInit := append([]byte("initramfs\x00\x00\x00"), archive...)
		if res, got := get(t, url+"/hosts/"+host+"/pxe/initramfs.img", nil); res.StatusCode != 200 || !bytes.Equal(got, wantInit) {
			t.Errorf("%s initramfs.img: %d, %d bytes, want %d", host, res.StatusCode, len(got), len(wantInit))
		}
		files, err := initrd.Decode(bytes.NewReader(archive), nil)
		if err != nil || !bytes.Contains(files["usr/share/oem/config.ign"], []byte(host)) {
			t.Errorf("%s: the extra initramfs: %v %v", host, files.Names(), err)
		}
		if res, got := get(t, url+"/hosts/"+host+"/pxe/vmlinuz", nil); res.StatusCode != 200 || string(got) != "kernel" {
			t.Errorf("%s vmlinuz: %d %q", host, res.StatusCode, got)
		}
		if res, _ := get(t, url+"/hosts/"+host+"/pxe/rootfs.img", nil); res.StatusCode != 404 {
			t.Errorf("%s rootfs.img: %d", host, res.StatusCode)
		}
		_, script := get(t, url+"/hosts/"+host+"/boot.ipxe", nil)
		args := "flatcar.autologin flatcar.first_boot=1"
		if host == "f1" {
			args += " quiet"
		}
		want := fmt.Sprintf("#!ipxe\nkernel %s/hosts/%s/pxe/vmlinuz initrd=main %s\ninitrd --name main %s/hosts/%s/pxe/initramfs.img\nboot\n", url, host, args, url, host)
		if string(script) != want {
			t.Errorf("%s boot.ipxe:\n%s\nwant\n%s", host, script, want)
		}
	}
}
