package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/internal/testiso"
	"github.com/isobuild/isobuild/pkg/initrd"
)

const pxeFeatures = `{"installer-config": true, "installer-config-directives": {"console": true}, "live-initrd-network": true}`

// liveInitramfs writes a stand-in for a CoreOS live initramfs (see
// testiso.LiveInitramfs) to a temporary file.
func liveInitramfs(t *testing.T, features string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := testiso.LiveInitramfs(&buf, features, nil); err != nil {
		t.Fatal(err)
	}
	return writeTemp(t, "live-initramfs.img", buf.Bytes())
}

func TestPXECustomize(t *testing.T) {
	in := liveInitramfs(t, pxeFeatures)
	orig := readTestFile(t, in)
	c := func(n string) string { return fixture.Customize(t, n) }
	args := []string{"pxe", "customize", "--dest-ignition", c("dest.ign"), "--dest-device", "/dev/vda",
		"--network-keyfile", c("installer-test.nmconnection"), "--pre-install", c("pre-install-1")}
	out := filepath.Join(t.TempDir(), "custom.img")
	r := ok(t, nil, append(args, "-o", out, in)...)
	if !strings.Contains(string(r.stderr), "PXE configuration must include kernel arguments:\n\tignition.firstboot ignition.platform.id=metal") {
		t.Errorf("no PXE karg notice: %q", r.stderr)
	}
	got := readTestFile(t, out)
	streamed := ok(t, nil, append(args, "-o", "-", in)...).stdout
	if !bytes.Equal(got, streamed) {
		t.Fatal("-o FILE and -o - differ")
	}
	if !bytes.Equal(got[:len(orig)], orig) {
		t.Fatal("the input is not copied unchanged")
	}
	if string(got[len(orig):len(orig)+6]) != "\xfd7zXZ\x00" {
		t.Fatalf("appended archive starts with %q, want the xz magic", got[len(orig):len(orig)+6])
	}
	files, err := initrd.Decode(bytes.NewReader(got[len(orig):]), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files["config.ign"]; !ok || files["etc/coreos-firstboot-network/installer-test.nmconnection"] == nil || len(files) != 2 {
		t.Fatalf("appended members %v", files.Names())
	}
	parseLive(t, files["config.ign"])

	fails(t, "File exists", nil, append(args, "-o", out, in)...)
	fails(t, "input is already customized", nil, "pxe", "customize", "-o", "-", out)

	// No options: an empty archive is appended.
	empty := ok(t, nil, "pxe", "customize", "-o", "-", in).stdout
	if files, err := initrd.Decode(bytes.NewReader(empty[len(orig):]), nil); err != nil || len(files) != 0 {
		t.Fatalf("no-option archive: %v, %v", files.Names(), err)
	}
	if r := cli(t, nil, "pxe", "customize", in); r.code != 2 || !strings.Contains(r.combined(), "-o/--output is required") {
		t.Errorf("missing -o: %d %s", r.code, r.combined())
	}

	// Not a live initramfs.
	wrapped := writeTemp(t, "wrapped.img", ok(t, nil, "pxe", "ignition", "wrap", "-i", os.DevNull).stdout)
	fails(t, "not a CoreOS live initramfs image", nil, "pxe", "customize", "-o", "-", wrapped)

	// Features come from the initramfs.
	old := liveInitramfs(t, "")
	fails(t, "does not support customizing network settings", nil, "pxe", "customize", "--network-keyfile", c("installer-test.nmconnection"), "-o", "-", old)
	fails(t, "does not support customizing installer configuration", nil, "pxe", "customize", "--dest-device", "/dev/sda", "-o", "-", old)
}

func TestPXEWrapUnwrap(t *testing.T) {
	cfg := writeTemp(t, "c.ign", testConfig)
	img := writeTemp(t, "ign.img", ok(t, nil, "pxe", "ignition", "wrap", "-i", cfg).stdout)
	if got := ok(t, nil, "pxe", "ignition", "unwrap", img).stdout; !bytes.Equal(got, testConfig) {
		t.Fatalf("unwrap = %q", got)
	}
	if got := ok(t, readTestFile(t, img), "pxe", "ignition", "unwrap").stdout; !bytes.Equal(got, testConfig) {
		t.Fatalf("unwrap from stdin = %q", got)
	}
	_, a, b := keyfiles(t)
	netImg := filepath.Join(t.TempDir(), "net.img")
	ok(t, nil, "pxe", "network", "wrap", "-k", a, "-k", b, "-o", netImg)
	fails(t, "couldn't find Ignition config in archive", nil, "pxe", "ignition", "unwrap", netImg)
	out := string(ok(t, nil, "pxe", "network", "unwrap", netImg).stdout)
	if !strings.Contains(out, "########## a.nmconnection ##########\n") || !strings.Contains(out, "bar=baz") {
		t.Fatalf("network unwrap: %q", out)
	}
	dir := filepath.Join(t.TempDir(), "x")
	ok(t, nil, "pxe", "network", "unwrap", "-C", dir, netImg)
	if !bytes.Equal(readTestFile(t, filepath.Join(dir, "b.nmconnection")), readTestFile(t, b)) {
		t.Fatal("unwrapped keyfile differs")
	}
	fails(t, "No embedded network settings", nil, "pxe", "network", "unwrap", img)
	dup := filepath.Join(t.TempDir(), "a.nmconnection")
	os.WriteFile(dup, []byte("x"), 0o600)
	fails(t, "multiple input files named 'a.nmconnection'", nil, "pxe", "network", "wrap", "-k", a, "-k", dup)
}
