package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
)

func keyfiles(t *testing.T) (dir, a, b string) {
	t.Helper()
	dir = t.TempDir()
	a = filepath.Join(dir, "a.nmconnection")
	b = filepath.Join(dir, "b.nmconnection")
	os.WriteFile(a, []byte("[connection]\nid=a\nfoo=baz\n"), 0o600)
	os.WriteFile(b, []byte("[connection]\nid=b\nbar=baz\n"), 0o600)
	return dir, a, b
}

var networkFixtures = []string{
	"embed-areas-2021-12.iso", "embed-areas-2022-02.iso", "embed-areas-2022-09.iso",
	"embed-areas-2023-03.s390x.iso", "embed-areas-2023-03.x86_64.iso",
	"embed-areas-2023-07.s390x.iso", "embed-areas-2023-07.x86_64.iso",
}

func TestNetwork(t *testing.T) {
	for _, name := range networkFixtures {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iso := fixture.ISO(t, name)
			orig := fixture.SHA256(t, iso)
			_, a, b := keyfiles(t)

			// Item 10: three modes agree; extract reproduces the files.
			net := writeTemp(t, "net.iso", modes(t, iso, nil, "iso", "network", "embed", "-k", b, "-k", a))
			outDir := filepath.Join(t.TempDir(), "extract")
			r := ok(t, nil, "iso", "network", "extract", "-C", outDir, net)
			for _, src := range []string{a, b} {
				got := readTestFile(t, filepath.Join(outDir, filepath.Base(src)))
				if !bytes.Equal(got, readTestFile(t, src)) {
					t.Fatalf("extracted %s differs", filepath.Base(src))
				}
			}
			if !strings.Contains(string(r.stdout), filepath.Join(outDir, "a.nmconnection")) {
				t.Errorf("extract -C does not print the written paths: %q", r.stdout)
			}
			fails(t, "File exists", nil, "iso", "network", "extract", "-C", outDir, net)

			// Item 11: re-embedding needs -f.
			failsAllModes(t, net, "already has embedded network settings", nil, "iso", "network", "embed", "-k", a)
			modes(t, net, nil, "iso", "network", "embed", "-f", "-k", a)

			// Item 12: stdout extraction.
			out := string(ok(t, nil, "iso", "network", "extract", net).stdout)
			want := "########## a.nmconnection ##########\n[connection]\nid=a\nfoo=baz\n\n########## b.nmconnection ##########\n[connection]\nid=b\nbar=baz\n"
			if out != want {
				t.Fatalf("extract to stdout:\n%q\nwant\n%q", out, want)
			}

			// Item 13: remove restores the original.
			if got := sum(modes(t, net, nil, "iso", "network", "remove")); got != orig {
				t.Fatal("network remove did not restore the original")
			}

			// Item 8: ignition and network are independent.
			fails(t, "No embedded Ignition config", nil, "iso", "ignition", "show", net)
			both := writeTemp(t, "both.iso", ok(t, testConfig, "iso", "ignition", "embed", "-o", "-", net).stdout)
			if out := string(ok(t, nil, "iso", "network", "extract", both).stdout); !strings.Contains(out, "foo=baz") || !strings.Contains(out, "bar=baz") {
				t.Fatal("embedding a config lost the keyfiles")
			}
			netOnly := writeTemp(t, "netonly.iso", ok(t, nil, "iso", "ignition", "remove", "-o", "-", both).stdout)
			if !bytes.Equal(readTestFile(t, netOnly), readTestFile(t, net)) {
				t.Fatal("ignition remove did not give back the keyfile-only image")
			}
			// Item 14: with only a config, network commands keep it.
			cfgOnly := writeTemp(t, "cfg.iso", ok(t, nil, "iso", "network", "remove", "-o", "-", both).stdout)
			fails(t, "No embedded network settings", nil, "iso", "network", "extract", cfgOnly)
			if got := ok(t, nil, "iso", "ignition", "show", cfgOnly).stdout; !bytes.Equal(got, testConfig) {
				t.Fatal("network remove lost the config")
			}
			withNet := writeTemp(t, "withnet.iso", modes(t, cfgOnly, nil, "iso", "network", "embed", "-k", a))
			if got := ok(t, nil, "iso", "ignition", "show", withNet).stdout; !bytes.Equal(got, testConfig) {
				t.Fatal("network embed lost the config")
			}
			// After removing both, the area is all zeros again.
			empty := ok(t, nil, "iso", "ignition", "remove", "-o", "-", cfgOnly).stdout
			if sum(empty) != orig {
				t.Fatal("removing the last member did not zero the area")
			}
			rep := inspectJSON(t, writeTemp(t, "empty.iso", empty))
			if rep.InitrdUsed != 0 {
				t.Fatalf("area not all zero: %d bytes used", rep.InitrdUsed)
			}

			// Duplicate basenames.
			dup := filepath.Join(t.TempDir(), "a.nmconnection")
			os.WriteFile(dup, []byte("x"), 0o600)
			fails(t, "multiple input files named 'a.nmconnection'", nil, "iso", "network", "embed", "-k", a, "-k", dup, "-o", "-", iso)
		})
	}
}

func TestNetworkUnsupported(t *testing.T) {
	for _, name := range []string{"embed-areas-2020-09.iso", "embed-areas-2021-01.iso", "embed-areas-2021-09.iso"} {
		t.Run(name, func(t *testing.T) {
			iso := fixture.ISO(t, name)
			// The feature check comes before the keyfile is opened.
			failsAllModes(t, iso, "does not support customizing network settings", nil,
				"iso", "network", "embed", "-k", filepath.Join(t.TempDir(), "missing.nmconnection"))
		})
	}
}
