package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/isobuild/isobuild/internal/fixture"
)

// flatcarISO builds a small image laid out like Flatcar's live ISO with
// xorriso: ISOLINUX only, isolinux.cfg including syslinux/syslinux.cfg, an
// isohybrid MBR.
func flatcarISO(t *testing.T) string {
	t.Helper()
	xorriso := fixture.NeedTool(t, "xorriso")
	isolinux := "/usr/lib/ISOLINUX/isolinux.bin"
	if _, err := os.Stat(isolinux); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: %v (.ci/run must install isolinux)", isolinux, err)
		}
		fixture.Skipf(t, "isolinux not installed")
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	for name, data := range map[string]string{
		"isolinux/isolinux.cfg": "INCLUDE /syslinux/syslinux.cfg\n",
		"syslinux/syslinux.cfg": "default flatcar\nprompt 1\ntimeout 15\n\nlabel flatcar\n  menu default\n  kernel /flatcar/vmlinuz\n  append initrd=/flatcar/cpio.gz flatcar.autologin\n",
		"flatcar/vmlinuz":       "kernel",
		"flatcar/cpio.gz":       "initramfs",
	} {
		p := filepath.Join(tree, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin, err := os.ReadFile(isolinux)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(tree, "isolinux", "isolinux.bin"), bin, 0o644)
	out := filepath.Join(dir, "flatcar.iso")
	cmd := exec.Command(xorriso, "-as", "mkisofs", "-quiet", "-l", "-r", "-J", "-V", "CDROM", "-o", out,
		"-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
		"-isohybrid-mbr", "/usr/lib/ISOLINUX/isohdpfx.bin", tree)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, b)
	}
	return out
}

const flatcarButane = "variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: /etc/hostname\n      contents:\n        inline: flatcar-test\n"

func TestBuildFlatcar(t *testing.T) {
	base := flatcarISO(t)
	baseBytes := readTestFile(t, base)
	dir := t.TempDir()
	bu := filepath.Join(dir, "live.bu")
	os.WriteFile(bu, []byte(flatcarButane), 0o644)
	out := filepath.Join(dir, "out.iso")
	r := ok(t, nil, "build", "--butane", bu, "--karg-append", "console=ttyS0", "-o", out, base)
	for _, want := range []string{"Flatcar live ISO, remastered", "extra initramfs:      /flatcar/isobuild.img", "+ flatcar.first_boot=1", "append console=ttyS0"} {
		if !strings.Contains(string(r.stdout), want) {
			t.Errorf("build output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !bytes.Equal(readTestFile(t, base), baseBytes) {
		t.Fatal("build changed its input")
	}

	// Same inputs, same bytes, also streamed.
	streamed := ok(t, nil, "build", "--butane", bu, "--karg-append", "console=ttyS0", "-o", "-", base).stdout
	if !bytes.Equal(streamed, readTestFile(t, out)) {
		t.Error("build -o - differs from build -o FILE")
	}

	// inspect shows the boot entry with the extra initramfs and the config.
	insp := string(ok(t, nil, "inspect", out).stdout)
	for _, want := range []string{
		"Image:          Flatcar Container Linux live ISO (no embed areas)",
		`initrd /flatcar/cpio.gz,/flatcar/isobuild.img, args "flatcar.autologin flatcar.first_boot=1 console=ttyS0"`,
		"Customized:     by isobuild build; extra initramfs /flatcar/isobuild.img",
		"/etc/hostname",
	} {
		if !strings.Contains(insp, want) {
			t.Errorf("inspect lacks %q:\n%s", want, insp)
		}
	}
	var rep struct {
		OS         string
		Customized struct {
			BaseSize int64 `json:"base_size"`
		}
	}
	if err := json.Unmarshal(ok(t, nil, "inspect", "--json", out).stdout, &rep); err != nil || rep.OS != "flatcar" || rep.Customized.BaseSize != int64(len(baseBytes)) {
		t.Errorf("inspect --json: %+v, %v", rep, err)
	}
	shown := string(ok(t, nil, "inspect", "--show-config", out).stdout)
	if !strings.Contains(shown, `"path": "/etc/hostname"`) {
		t.Errorf("inspect --show-config:\n%s", shown)
	}

	// A customized image is refused without -f and rebuilt from its base with it.
	fails(t, "already customized by isobuild", nil, "build", "--butane", bu, "-o", filepath.Join(dir, "again.iso"), out)
	ok(t, nil, "build", "-f", "--butane", bu, "--karg-append", "console=ttyS0", "-o", filepath.Join(dir, "again.iso"), out)
	if !bytes.Equal(readTestFile(t, filepath.Join(dir, "again.iso")), readTestFile(t, out)) {
		t.Error("build -f of a customized image differs from the build of its base")
	}

	// iso reset gives the base back, to a new file and in place.
	ok(t, nil, "iso", "reset", "-o", filepath.Join(dir, "reset.iso"), out)
	if !bytes.Equal(readTestFile(t, filepath.Join(dir, "reset.iso")), baseBytes) {
		t.Error("iso reset -o is not the base image")
	}
	ok(t, nil, "iso", "reset", out)
	if !bytes.Equal(readTestFile(t, out), baseBytes) {
		t.Error("iso reset in place is not the base image")
	}

	// Installer, and the options a Flatcar image cannot take.
	inst := filepath.Join(dir, "installer.iso")
	r = ok(t, nil, "build", "--dest-butane", bu, "--dest-device", "/dev/sda", "-o", inst, base)
	if !strings.Contains(string(r.stdout), "installs to:          /dev/sda (flatcar-install") {
		t.Errorf("installer build:\n%s", r.stdout)
	}
	if insp := string(ok(t, nil, "inspect", inst).stdout); !strings.Contains(insp, "isobuild-install.service") || !strings.Contains(insp, "/opt/isobuild/install.ign") {
		t.Errorf("inspect of the installer:\n%s", insp)
	}
	keyfile := fixture.Customize(t, "installer-test.nmconnection")
	r = fails(t, "--network-keyfile: not supported for Flatcar images", nil, "build", "--butane", bu, "--network-keyfile", keyfile, "-o", filepath.Join(dir, "x.iso"), base)
	if r.code != 2 {
		t.Errorf("exit %d, want 2", r.code)
	}
	fails(t, "no disk to install to", nil, "build", "--dest-butane", bu, "-o", filepath.Join(dir, "y.iso"), base)
	fails(t, "isobuild sets flatcar.first_boot=1 itself", nil, "build", "--butane", bu, "--karg-delete", "flatcar.first_boot=1", "-o", filepath.Join(dir, "y.iso"), base)
	fails(t, `has the character " "`, nil, "build", "--dest-butane", bu, "--dest-device", "/dev/sda -V alpha", "-o", filepath.Join(dir, "y.iso"), base)
	// coreos-installer's text for an image it does not know.
	fails(t, "Unrecognized CoreOS ISO image", nil, "iso", "reset", "-o", filepath.Join(dir, "y.iso"), base)
	fails(t, "no Ignition config: the image is not customized by isobuild", nil, "inspect", "--show-config", base)
	r = ok(t, nil, "build", "--butane", fixture.Customize(t, "live.bu"), "-o", filepath.Join(dir, "z.iso"), base)
	if !strings.Contains(string(r.stderr), "variant fcos; Flatcar images take variant: flatcar") {
		t.Errorf("no warning about an fcos Butane file:\n%s", r.stderr)
	}
	for _, p := range []string{"x.iso", "y.iso"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("a failed build left %s", p)
		}
	}
}

// TestBuildGrowsArea: a CoreOS config larger than the 256 KiB area moves
// images/ignition.img to the end; the image reads back, takes in-place
// edits, and resets to the base byte for byte.
func TestBuildGrowsArea(t *testing.T) {
	base := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	baseBytes := readTestFile(t, base)
	dir := t.TempDir()
	blob := make([]byte, 400<<10)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range blob {
		blob[i] = byte(rng.Uint32())
	}
	os.WriteFile(filepath.Join(dir, "blob"), blob, 0o644)
	bu := filepath.Join(dir, "big.bu")
	os.WriteFile(bu, []byte("variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: /var/blob\n      contents:\n        local: blob\n"), 0o644)
	out := filepath.Join(dir, "out.iso")
	r := ok(t, nil, "build", "--butane", bu, "-d", dir, "-o", out, base)
	if !strings.Contains(string(r.stdout), "initrd embed area:    grown from 262144 to 524288 bytes") {
		t.Errorf("build output:\n%s", r.stdout)
	}
	if shown := ok(t, nil, "iso", "ignition", "show", out).stdout; !bytes.Contains(shown, []byte(`"path":"/var/blob"`)) {
		t.Errorf("iso ignition show: %.200s", shown)
	}
	// The coreos-installer-compatible commands keep the area's size.
	ign := filepath.Join(dir, "big.ign")
	os.WriteFile(ign, ok(t, nil, "butane", "-d", dir, bu).stdout, 0o644)
	r = fails(t, "Compressed initramfs is too large", nil, "iso", "ignition", "embed", "-f", "-i", ign, "-o", filepath.Join(dir, "no.iso"), base)
	if !strings.Contains(r.combined(), "isobuild build grows the area") {
		t.Errorf("no hint at build:\n%s", r.combined())
	}
	ok(t, nil, "iso", "kargs", "modify", "-a", "grown=1", out)
	ok(t, nil, "iso", "reset", "-o", filepath.Join(dir, "reset.iso"), out)
	if !bytes.Equal(readTestFile(t, filepath.Join(dir, "reset.iso")), baseBytes) {
		t.Error("iso reset of a grown image is not the base image")
	}
}

// genericISO builds a Debian-live-like image: ISOLINUX and GRUB entries
// loading /live/vmlinuz and /live/initrd.img, MBR and GPT.
func genericISO(t *testing.T) string {
	t.Helper()
	xorriso := fixture.NeedTool(t, "xorriso")
	if _, err := os.Stat("/usr/lib/ISOLINUX/isolinux.bin"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		fixture.Skipf(t, "isolinux not installed")
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	for name, data := range map[string]string{
		"isolinux/isolinux.cfg": "default live\nlabel live\n  menu label ^Live\n  linux /live/vmlinuz\n  initrd /live/initrd.img\n  append boot=live components\n",
		"boot/grub/grub.cfg":    "menuentry \"Live\" {\n  linux /live/vmlinuz boot=live components\n  initrd /live/initrd.img\n}\n",
		"live/vmlinuz":          "kernel",
		"live/initrd.img":       "initramfs",
		"md5sum.txt":            "00000000000000000000000000000000  ./isolinux/isolinux.cfg\n00000000000000000000000000000000  ./live/vmlinuz\n",
	} {
		p := filepath.Join(tree, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(data), 0o644)
	}
	bin, _ := os.ReadFile("/usr/lib/ISOLINUX/isolinux.bin")
	os.WriteFile(filepath.Join(tree, "isolinux", "isolinux.bin"), bin, 0o644)
	out := filepath.Join(dir, "live.iso")
	if b, err := exec.Command(xorriso, "-as", "mkisofs", "-quiet", "-r", "-J", "-o", out, "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat",
		"-no-emul-boot", "-boot-load-size", "4", "-boot-info-table", "-isohybrid-mbr", "/usr/lib/ISOLINUX/isohdpfx.bin", "-isohybrid-gpt-basdat", tree).CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, b)
	}
	return out
}

func TestBuildGeneric(t *testing.T) {
	base := genericISO(t)
	baseBytes := readTestFile(t, base)
	dir := t.TempDir()
	hello := filepath.Join(dir, "hello.sh")
	os.WriteFile(hello, []byte("#!/bin/sh\necho hello\n"), 0o755)
	seed := filepath.Join(dir, "user-data")
	os.WriteFile(seed, []byte("#cloud-config\n"), 0o644)
	out := filepath.Join(dir, "out.iso")
	r := ok(t, nil, "build", "--initrd-file", hello+":/usr/local/bin/hello", "--iso-file", seed+":/user-data", "--karg-append", "ds=nocloud", "-o", out, base)
	for _, want := range []string{"live ISO, remastered", "extra initramfs:      /live/isobuild.img", "initramfs file:       /usr/local/bin/hello", "ISO file:             /user-data", "append ds=nocloud"} {
		if !strings.Contains(string(r.stdout), want) {
			t.Errorf("build output lacks %q:\n%s", want, r.stdout)
		}
	}
	insp := string(ok(t, nil, "inspect", out).stdout)
	for _, want := range []string{
		`/isolinux/isolinux.cfg:4 (syslinux, live): /live/vmlinuz, initrd /live/initrd.img,/live/isobuild.img, args "boot=live components ds=nocloud"`,
		`/boot/grub/grub.cfg:2 (grub, Live): /live/vmlinuz, initrd /live/initrd.img,/live/isobuild.img, args "boot=live components ds=nocloud"`,
		"ISO files: /user-data",
	} {
		if !strings.Contains(insp, want) {
			t.Errorf("inspect lacks %q:\n%s", want, insp)
		}
	}
	isoinfo := fixture.NeedTool(t, "isoinfo")
	got, err := exec.Command(isoinfo, "-i", out, "-R", "-x", "/user-data").Output()
	if err != nil || string(got) != "#cloud-config\n" {
		t.Errorf("isoinfo -x /user-data: %q, %v", got, err)
	}
	// md5sum.txt lists the new checksum of the edited config and the
	// added files.
	cfg, _ := exec.Command(isoinfo, "-i", out, "-R", "-x", "/isolinux/isolinux.cfg").Output()
	sums, _ := exec.Command(isoinfo, "-i", out, "-R", "-x", "/md5sum.txt").Output()
	sum := md5.Sum(cfg)
	for _, want := range []string{hex.EncodeToString(sum[:]) + "  ./isolinux/isolinux.cfg\n", "00000000000000000000000000000000  ./live/vmlinuz\n", "  ./user-data\n", "  ./live/isobuild.img\n"} {
		if !strings.Contains(string(sums), want) {
			t.Errorf("md5sum.txt lacks %q:\n%s", want, sums)
		}
	}
	ok(t, nil, "iso", "reset", "-o", filepath.Join(dir, "reset.iso"), out)
	if !bytes.Equal(readTestFile(t, filepath.Join(dir, "reset.iso")), baseBytes) {
		t.Error("iso reset is not the base image")
	}

	fails(t, "nothing on it is known to run Ignition, which --butane needs", nil, "build", "--butane", fixture.Customize(t, "live.bu"), "-o", filepath.Join(dir, "x.iso"), base)
	fails(t, "destination \"/a/../b\" is not a clean absolute file path", nil, "build", "--iso-file", seed+":/a/../b", "-o", filepath.Join(dir, "x.iso"), base)
	fails(t, "nothing to do", nil, "build", "-o", filepath.Join(dir, "x.iso"), base)
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, nil, 0o644); err != nil || os.Truncate(big, 65<<20) != nil {
		t.Fatal("cannot make a sparse file")
	}
	fails(t, "add up to more than 64 MiB", nil, "build", "--initrd-file", big+":/big", "-o", filepath.Join(dir, "x.iso"), base)
	fails(t, "--initrd-file and --iso-file are for live ISOs without embed areas", nil, "build", "--iso-file", seed+":/user-data", "-o", filepath.Join(dir, "x.iso"), fixture.ISO(t, "embed-areas-2023-07.x86_64.iso"))
	if _, err := os.Stat(filepath.Join(dir, "x.iso")); err == nil {
		t.Error("a failed build left its output")
	}

	// --iso-file creates directories, and streams its files (no 64 MiB
	// bound as for the initramfs, which is built in memory).
	nocloud := filepath.Join(dir, "nocloud.iso")
	ok(t, nil, "build", "--iso-file", seed+":/nocloud/user-data", "--iso-file", big+":/nocloud/big", "-o", nocloud, base)
	for p, want := range map[string]int{"/nocloud/user-data": len("#cloud-config\n"), "/nocloud/big": 65 << 20} {
		for _, tree := range [][]string{{"-R"}, {"-J"}} {
			got, err := exec.Command(isoinfo, append([]string{"-i", nocloud, "-x", p}, tree...)...).Output()
			if err != nil || len(got) != want {
				t.Errorf("isoinfo %s -x %s: %d bytes, want %d (%v)", tree[0], p, len(got), want, err)
			}
		}
	}
	ok(t, nil, "iso", "reset", "-o", filepath.Join(dir, "reset2.iso"), nocloud)
	if !bytes.Equal(readTestFile(t, filepath.Join(dir, "reset2.iso")), baseBytes) {
		t.Error("iso reset of the image with new directories is not the base image")
	}
}

// iso kargs show and modify -o work on images without embed areas.
func TestKargsRemaster(t *testing.T) {
	base := flatcarISO(t)
	dir := t.TempDir()
	if got := string(ok(t, nil, "iso", "kargs", "show", base).stdout); got != "flatcar.autologin\n" {
		t.Errorf("kargs show: %q", got)
	}
	out := filepath.Join(dir, "out.iso")
	ok(t, nil, "iso", "kargs", "modify", "-a", "console=ttyS0", "-d", "flatcar.autologin", "-o", out, base)
	if got := string(ok(t, nil, "iso", "kargs", "show", out).stdout); got != "console=ttyS0\n" {
		t.Errorf("kargs show after modify: %q", got)
	}
	if got := string(ok(t, nil, "iso", "kargs", "show", "-d", out).stdout); got != "flatcar.autologin\n" {
		t.Errorf("kargs show -d: %q", got)
	}
	fails(t, "Unrecognized CoreOS ISO image", nil, "iso", "kargs", "modify", "-a", "x", base)

	// kargs reset of an image with the base's arguments: the same bytes.
	same := filepath.Join(dir, "same.iso")
	ok(t, nil, "iso", "kargs", "reset", "-o", same, base)
	if !bytes.Equal(readTestFile(t, same), readTestFile(t, base)) {
		t.Error("kargs reset -o of an unmodified image changed it")
	}
	// Only kernel arguments were changed: kargs reset gives the base back.
	plain := filepath.Join(dir, "plain.iso")
	ok(t, nil, "iso", "kargs", "reset", "-o", plain, out)
	if !bytes.Equal(readTestFile(t, plain), readTestFile(t, base)) {
		t.Error("kargs reset -o of an image with edited arguments only is not the base image")
	}
}

// TestKargsRebuild: kargs modify and reset on an image that build made
// with a config keep the config and the files, and change only the
// arguments.
func TestKargsRebuild(t *testing.T) {
	base := flatcarISO(t)
	dir := t.TempDir()
	bu := filepath.Join(dir, "live.bu")
	os.WriteFile(bu, []byte(flatcarButane), 0o644)
	seed := filepath.Join(dir, "seed.txt")
	os.WriteFile(seed, []byte("seed\n"), 0o644)
	built := filepath.Join(dir, "built.iso")
	ok(t, nil, "build", "--butane", bu, "--karg-append", "console=ttyS0", "--iso-file", seed+":/flatcar/seed.txt", "-o", built, base)
	config := string(ok(t, nil, "inspect", "--show-config", built).stdout)
	if !strings.Contains(config, "flatcar-test") {
		t.Fatalf("inspect --show-config of the built image:\n%s", config)
	}

	modified := filepath.Join(dir, "modified.iso")
	ok(t, nil, "iso", "kargs", "modify", "-a", "quiet", "-d", "flatcar.autologin", "-o", modified, built)
	if got, want := string(ok(t, nil, "iso", "kargs", "show", modified).stdout), "flatcar.first_boot=1 console=ttyS0 quiet\n"; got != want {
		t.Errorf("kargs show after modify: %q, want %q", got, want)
	}
	if got := string(ok(t, nil, "inspect", "--show-config", modified).stdout); got != config {
		t.Errorf("the config changed with the arguments:\n%s", got)
	}
	fails(t, "isobuild sets flatcar.first_boot=1 itself", nil, "iso", "kargs", "modify", "-d", "flatcar.first_boot=1", "-o", filepath.Join(dir, "x.iso"), built)

	reset := filepath.Join(dir, "reset.iso")
	ok(t, nil, "iso", "kargs", "reset", "-o", reset, modified)
	if got, want := string(ok(t, nil, "iso", "kargs", "show", reset).stdout), "flatcar.autologin flatcar.first_boot=1\n"; got != want {
		t.Errorf("kargs show after reset: %q, want %q", got, want)
	}
	if got := string(ok(t, nil, "inspect", "--show-config", reset).stdout); got != config {
		t.Errorf("the config changed with kargs reset:\n%s", got)
	}
	for _, img := range []string{modified, reset} {
		info := string(ok(t, nil, "inspect", img).stdout)
		if !strings.Contains(info, "/flatcar/seed.txt") {
			t.Errorf("inspect %s does not name the added file:\n%s", img, info)
		}
		// And every one of them still resets to the base image.
		back := img + ".base"
		ok(t, nil, "iso", "reset", "-o", back, img)
		if !bytes.Equal(readTestFile(t, back), readTestFile(t, base)) {
			t.Errorf("iso reset of %s is not the base image", img)
		}
	}
	// Same inputs, same bytes: modify of the build equals a build with
	// the same arguments.
	direct := filepath.Join(dir, "direct.iso")
	ok(t, nil, "build", "--butane", bu, "--karg-append", "console=ttyS0", "--karg-append", "quiet", "--karg-delete", "flatcar.autologin",
		"--iso-file", seed+":/flatcar/seed.txt", "-o", direct, base)
	if !bytes.Equal(readTestFile(t, direct), readTestFile(t, modified)) {
		t.Error("kargs modify of a build differs from a build with the same arguments")
	}
}

// TestNoCloudExample: examples/nocloud is an autoinstall config that build
// puts into a new /nocloud directory, as the README shows.
func TestNoCloudExample(t *testing.T) {
	ud, err := os.ReadFile(filepath.Join("..", "..", "examples", "nocloud", "user-data"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Autoinstall struct {
			Version  int `yaml:"version"`
			Identity struct {
				Password string `yaml:"password"`
			} `yaml:"identity"`
		} `yaml:"autoinstall"`
	}
	if !bytes.HasPrefix(ud, []byte("#cloud-config\n")) {
		t.Error("user-data does not start with #cloud-config")
	}
	if err := yaml.Unmarshal(ud, &doc); err != nil || doc.Autoinstall.Version != 1 {
		t.Fatalf("user-data: autoinstall version %d, %v", doc.Autoinstall.Version, err)
	}
	if want := "$6$isobuild$"; !strings.HasPrefix(doc.Autoinstall.Identity.Password, want) {
		t.Errorf("password hash %q", doc.Autoinstall.Identity.Password)
	}
	base := genericISO(t)
	out := filepath.Join(t.TempDir(), "autoinstall.iso")
	ok(t, nil, "build", "--iso-file", "../../examples/nocloud/user-data:/nocloud/user-data",
		"--iso-file", "../../examples/nocloud/meta-data:/nocloud/meta-data", "--karg-append", "autoinstall", "-o", out, base)
	isoinfo := fixture.NeedTool(t, "isoinfo")
	for _, name := range []string{"user-data", "meta-data"} {
		want, _ := os.ReadFile(filepath.Join("..", "..", "examples", "nocloud", name))
		got, err := exec.Command(isoinfo, "-i", out, "-R", "-x", "/nocloud/"+name).Output()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("/nocloud/%s in the image: %q, %v", name, got, err)
		}
	}
}
