package pxe

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/internal/testiso"
	"github.com/isobuild/isobuild/pkg/initrd"
	"github.com/isobuild/isobuild/pkg/installer"
)

// fuzzFeatures are the features.json files of the fixture images' eras.
var fuzzFeatures = []string{
	features,
	`{"installer-config": true, "live-initrd-network": true}`,
	`{"installer-config": true, "installer-config-directives": {"append-karg": true, "console": true, "copy-network": true, "dest-device": true, "ignition-file": true}, "live-initrd-network": true}`,
	`{}`,
	`{"installer-config": 1}`,
	`{"live-initrd-network": true, "live-initrd-network": false}`,
	`{`,
}

func liveBytes(tb testing.TB, features string, extra initrd.Files) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := testiso.LiveInitramfs(&buf, features, extra); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// unwrapSeeds are initramfs images, wrapped configs and keyfiles, and
// broken variants of them.
func unwrapSeeds(tb testing.TB) [][]byte {
	ign, err := os.ReadFile(fixture.Customize(tb, "live.ign"))
	if err != nil {
		tb.Fatal(err)
	}
	key, err := os.ReadFile(fixture.Customize(tb, "installer-test.nmconnection"))
	if err != nil {
		tb.Fatal(err)
	}
	wrapped, err := WrapIgnition(ign)
	if err != nil {
		tb.Fatal(err)
	}
	net, err := WrapNetwork([]installer.Input{{Name: "installer-test.nmconnection", Data: key}})
	if err != nil {
		tb.Fatal(err)
	}
	var raw bytes.Buffer
	if err := initrd.WriteNewc(&raw, initrd.Files{installer.ConfigMember: ign, installer.NetworkDir + "a.nmconnection": key}); err != nil {
		tb.Fatal(err)
	}
	live := liveBytes(tb, features, nil)
	return [][]byte{
		wrapped, net, raw.Bytes(), live,
		append(bytes.Clone(live), wrapped...),
		append(bytes.Clone(wrapped), net...),
		wrapped[:len(wrapped)/2],
		raw.Bytes()[:120],
		{},
	}
}

// FuzzUnwrap reads arbitrary bytes as an initramfs with UnwrapIgnition and
// UnwrapNetwork. Errors must be a DecodeError (or ErrNoConfig), and both
// must agree with initrd.Decode: the config is the config.ign member, the
// keyfiles are exactly its network members.
func FuzzUnwrap(f *testing.F) {
	for _, s := range unwrapSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		all, derr := initrd.Decode(bytes.NewReader(data), nil)
		cfg, err := UnwrapIgnition(bytes.NewReader(data))
		var de *DecodeError
		switch {
		case errors.Is(err, ErrNoConfig):
			if derr != nil {
				t.Fatalf("UnwrapIgnition found no config; Decode failed: %v", derr)
			}
			if _, ok := all[installer.ConfigMember]; ok {
				t.Fatal("UnwrapIgnition missed config.ign")
			}
		case err != nil:
			if !errors.As(err, &de) || !strings.HasPrefix(err.Error(), "reading initramfs: ") {
				t.Fatalf("UnwrapIgnition error %v is not a DecodeError", err)
			}
		default:
			if derr == nil && !bytes.Equal(cfg, all[installer.ConfigMember]) {
				t.Fatalf("UnwrapIgnition = %q, Decode has %q", cfg, all[installer.ConfigMember])
			}
		}
		files, err := UnwrapNetwork(bytes.NewReader(data))
		if err != nil {
			if !errors.As(err, &de) {
				t.Fatalf("UnwrapNetwork error %v is not a DecodeError", err)
			}
			if files != nil {
				t.Fatal("UnwrapNetwork returned files with an error")
			}
			return
		}
		for name := range files {
			if !installer.IsNetworkMember(name) {
				t.Fatalf("UnwrapNetwork returned %q", name)
			}
		}
		if derr != nil {
			return
		}
		n := 0
		for name, data := range all {
			if installer.IsNetworkMember(name) {
				n++
				if !bytes.Equal(files[name], data) {
					t.Fatalf("UnwrapNetwork: %q differs", name)
				}
			}
		}
		if n != len(files) {
			t.Fatalf("UnwrapNetwork returned %d keyfiles, Decode found %d", len(files), n)
		}
	})
}

// FuzzWrapRoundTrip checks that WrapIgnition stores any config byte for
// byte and WrapNetwork any keyfile under its file name, so that the Unwrap
// functions read them back from the archive alone and from the archive
// appended to a live initramfs.
func FuzzWrapRoundTrip(f *testing.F) {
	f.Add([]byte(`{"ignition":{"version":"3.3.0"}}`), "eth0.nmconnection", []byte("[connection]\nid=eth0\n"))
	f.Add([]byte{}, "dir/x", []byte{})
	f.Add([]byte("\x00\xff"), "", []byte("a"))
	f.Add([]byte("x"), "a/", []byte("a"))
	live := liveBytes(f, features, nil)
	f.Fuzz(func(t *testing.T, cfg []byte, name string, key []byte) {
		img, err := WrapIgnition(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range [][]byte{img, append(bytes.Clone(live), img...)} {
			got, err := UnwrapIgnition(bytes.NewReader(in))
			if err != nil || !bytes.Equal(got, cfg) {
				t.Fatalf("UnwrapIgnition(WrapIgnition(%q)) = %q, %v", cfg, got, err)
			}
		}
		net, err := WrapNetwork([]installer.Input{{Name: name, Data: key}})
		if err != nil {
			var fne *installer.FileNameError
			// No file system has names with a NUL; the archive writer
			// refuses them.
			nul := strings.ContainsRune(name, 0) && strings.Contains(err.Error(), "NUL")
			if !errors.As(err, &fne) && !nul {
				t.Fatalf("WrapNetwork(%q): %v", name, err)
			}
			return
		}
		files, err := UnwrapNetwork(bytes.NewReader(append(img, net...)))
		if err != nil || len(files) != 1 {
			t.Fatalf("UnwrapNetwork(WrapNetwork(%q)) = %v, %v", name, files.Names(), err)
		}
		for member, data := range files {
			if !strings.HasPrefix(member, installer.NetworkDir) || strings.Contains(member[len(installer.NetworkDir):], "/") || !bytes.Equal(data, key) {
				t.Fatalf("keyfile %q stored as %q: %q", name, member, data)
			}
		}
	})
}

// FuzzCustomizeFeatures runs Customize on a live initramfs whose
// etc/coreos/features.json is fuzzed, with options picked by opts. A
// features.json that ParseFeatures rejects must fail Customize; otherwise
// Customize must succeed or fail exactly as installer.Build does with those
// features, and its archive must hold exactly Build's files, with the
// kernel arguments set exactly when there is a live config.
func FuzzCustomizeFeatures(f *testing.F) {
	for i, s := range fuzzFeatures {
		f.Add([]byte(s), uint8(i))
	}
	f.Add([]byte(`{"installer-config": true, "installer-config-directives": {"console": true}}`), uint8(0xff))
	key, err := os.ReadFile(fixture.Customize(f, "installer-test.nmconnection"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, feat []byte, opts uint8) {
		var o installer.Options
		if opts&1 != 0 {
			o.NetworkKeyfile = []installer.Input{{Name: "eth0.nmconnection", Data: key}}
		}
		if opts&2 != 0 {
			o.DestDevice = "/dev/vda"
		}
		if opts&4 != 0 {
			o.DestConsole = []installer.Console{{Device: "ttyS0", Speed: 115200, Parity: 'n', Bits: 8}}
		}
		if opts&8 != 0 {
			o.InstallerConfig = []installer.Input{{Name: "a.yaml", Data: []byte("append-karg: [x]\n")}}
		}
		if opts&16 != 0 {
			o.PreInstall = []installer.Input{{Name: "pre", Data: []byte("#!/bin/sh\n")}}
		}
		// An uncompressed stand-in is as good as testiso's zstd one here,
		// and much cheaper to build for every input.
		var buf bytes.Buffer
		if err := initrd.WriteNewc(&buf, initrd.Files{LiveStampMember: nil, FeaturesMember: feat, "init": []byte("#!/bin/sh\n")}); err != nil {
			t.Fatal(err)
		}
		in := buf.Bytes()
		res, err := Customize(context.Background(), bytes.NewReader(in), o)
		parsed, perr := installer.ParseFeatures(feat)
		if perr != nil {
			if err == nil || !strings.Contains(err.Error(), FeaturesMember) {
				t.Fatalf("features.json %q rejected by ParseFeatures (%v), Customize: %v", feat, perr, err)
			}
			return
		}
		built, berr := installer.Build(o, parsed)
		if (err == nil) != (berr == nil) || (err != nil && err.Error() != berr.Error()) {
			t.Fatalf("Customize: %v; Build: %v", err, berr)
		}
		if err != nil {
			return
		}
		files, err := initrd.Decode(bytes.NewReader(res.Archive), nil)
		if err != nil {
			t.Fatalf("decoding the archive: %v", err)
		}
		if len(files) != len(built.Files) {
			t.Fatalf("archive holds %v, Build %v", files.Names(), built.Files.Names())
		}
		for name := range built.Files {
			if _, ok := files[name]; !ok {
				t.Fatalf("archive lacks %s", name)
			}
		}
		if _, ok := files[installer.ConfigMember]; ok != (res.KernelArgs == KernelArgs) || (!ok && res.KernelArgs != "") {
			t.Fatalf("kernel args %q with members %v", res.KernelArgs, files.Names())
		}
	})
}

// FuzzCustomizeInput runs Customize without options on arbitrary input.
// It must not panic, must fail with one of its documented errors, and may
// succeed only on input that initrd.Decode reads as a pristine live
// initramfs.
func FuzzCustomizeInput(f *testing.F) {
	for _, s := range unwrapSeeds(f) {
		f.Add(s)
	}
	f.Add(liveBytes(f, features, initrd.Files{installer.ConfigMember: []byte("{}")}))
	f.Add(liveBytes(f, "{", nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Customize(context.Background(), bytes.NewReader(data), installer.Options{})
		var de *DecodeError
		switch {
		case err == nil:
		case errors.As(err, &de), errors.Is(err, ErrNotLive), errors.Is(err, ErrCustomized):
			return
		case strings.HasPrefix(err.Error(), "decoding "+FeaturesMember+": "):
			return
		default:
			t.Fatalf("Customize: unexpected error %v", err)
		}
		files, err := initrd.Decode(bytes.NewReader(data), nil)
		if err != nil {
			t.Fatalf("Customize accepted input that Decode rejects: %v", err)
		}
		if _, ok := files[LiveStampMember]; !ok {
			t.Fatal("Customize accepted an initramfs without the live stamp")
		}
		for name := range files {
			if name == installer.ConfigMember || installer.IsNetworkMember(name) {
				t.Fatalf("Customize accepted an initramfs with %s", name)
			}
		}
		if res.KernelArgs != "" || len(res.Warnings) != 0 {
			t.Fatalf("no options gave %+v", res)
		}
		if got, err := initrd.Decode(bytes.NewReader(res.Archive), nil); err != nil || len(got) != 0 {
			t.Fatalf("empty customization archive holds %v, %v", got.Names(), err)
		}
	})
}
