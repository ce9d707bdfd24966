package pxe

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/isobuild/isobuild/internal/testiso"
	"github.com/isobuild/isobuild/pkg/initrd"
	"github.com/isobuild/isobuild/pkg/installer"
)

// liveInitramfs is a stand-in for a CoreOS live initramfs.
func liveInitramfs(t *testing.T, features string, extra initrd.Files) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := testiso.LiveInitramfs(&buf, features, extra); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const features = `{"installer-config": true, "installer-config-directives": {"console": true}, "live-initrd-network": true}`

func TestCustomize(t *testing.T) {
	ctx := context.Background()
	in := liveInitramfs(t, features, nil)
	keyfile := installer.Input{Name: "eth0.nmconnection", Data: []byte("[connection]\nid=eth0\n")}
	o := installer.Options{DestDevice: "/dev/vda", NetworkKeyfile: []installer.Input{keyfile}}
	res, err := Customize(ctx, bytes.NewReader(in), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.KernelArgs != KernelArgs || len(res.Warnings) != 1 || res.Warnings[0].Kind != installer.AutoInstall {
		t.Fatalf("kernel args %q, warnings %v", res.KernelArgs, res.Warnings)
	}
	files, err := initrd.Decode(bytes.NewReader(res.Archive), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := files.Names(); len(got) != 2 || got[0] != installer.ConfigMember || !bytes.Equal(files[installer.NetworkDir+"eth0.nmconnection"], keyfile.Data) {
		t.Fatalf("archive members %v", got)
	}

	// Keyfiles alone need no live config, so no kernel arguments.
	res, err = Customize(ctx, bytes.NewReader(in), installer.Options{NetworkKeyfile: []installer.Input{keyfile}})
	if err != nil || res.KernelArgs != "" {
		t.Fatalf("keyfiles only: %v, kernel args %q", err, res.KernelArgs)
	}
	// No options: an archive with only the trailer.
	res, err = Customize(ctx, bytes.NewReader(in), installer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if files, err := initrd.Decode(bytes.NewReader(res.Archive), nil); err != nil || len(files) != 0 {
		t.Fatalf("empty customization: %v, %v", files.Names(), err)
	}
}

func TestCustomizeRefuses(t *testing.T) {
	ctx := context.Background()
	wrapped, err := WrapIgnition([]byte(`{"ignition":{"version":"3.3.0"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Customize(ctx, bytes.NewReader(wrapped), installer.Options{}); !errors.Is(err, ErrNotLive) {
		t.Errorf("not a live initramfs: %v", err)
	}
	for _, member := range []string{installer.ConfigMember, installer.NetworkDir + "x.nmconnection"} {
		in := liveInitramfs(t, features, initrd.Files{member: []byte("x")})
		if _, err := Customize(ctx, bytes.NewReader(in), installer.Options{}); !errors.Is(err, ErrCustomized) {
			t.Errorf("initramfs with %s: %v", member, err)
		}
	}
	// The features come from the initramfs.
	old := liveInitramfs(t, "", nil)
	if _, err := Customize(ctx, bytes.NewReader(old), installer.Options{DestDevice: "/dev/sda"}); !errors.Is(err, installer.ErrInstallerFeature) {
		t.Errorf("old initramfs: %v", err)
	}
	bad := liveInitramfs(t, "{", nil)
	if _, err := Customize(ctx, bytes.NewReader(bad), installer.Options{}); err == nil {
		t.Error("a broken features.json was accepted")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Customize(cancelled, bytes.NewReader(liveInitramfs(t, features, nil)), installer.Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestWrapUnwrap(t *testing.T) {
	config := []byte("not even JSON: stored byte for byte\n")
	img, err := WrapIgnition(config)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := UnwrapIgnition(bytes.NewReader(img)); err != nil || !bytes.Equal(got, config) {
		t.Fatalf("UnwrapIgnition = %q, %v", got, err)
	}
	net, err := WrapNetwork([]installer.Input{{Name: "a/b.nmconnection", Data: []byte("b")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnwrapIgnition(bytes.NewReader(net)); !errors.Is(err, ErrNoConfig) {
		t.Errorf("UnwrapIgnition of keyfiles: %v", err)
	}
	files, err := UnwrapNetwork(bytes.NewReader(append(img, net...)))
	if err != nil || len(files) != 1 || string(files[installer.NetworkDir+"b.nmconnection"]) != "b" {
		t.Fatalf("UnwrapNetwork = %v, %v", files.Names(), err)
	}
	if _, err := WrapNetwork([]installer.Input{{Name: "x/a"}, {Name: "y/a"}}); err == nil {
		t.Error("duplicate keyfile names accepted")
	}
}
