package main

import (
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
)

// TestFleetExample builds examples/fleet for a real Fedora CoreOS image:
// one image per host, each with its own hostname, keyfile and kernel
// arguments.
func TestFleetExample(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	out := t.TempDir() + "/"
	ok(t, nil, "build", "--butane", "../../examples/fleet/fleet.bu", "--hosts", "../../examples/fleet/hosts.yaml", "-o", out, iso)
	for _, h := range []struct {
		name, nic, address string
		serial             bool
	}{
		{"rack1-node1", "eno1", "192.0.2.11/24", true},
		{"rack1-node2", "eno1", "192.0.2.12/24", true},
		{"rack2-node1", "enp1s0", "192.0.2.21/24", false},
	} {
		img := filepath.Join(out, h.name+".iso")
		raw := string(ok(t, nil, "iso", "ignition", "show", img).stdout)
		// The file contents are percent-encoded data URLs.
		config, err := url.PathUnescape(raw)
		if err != nil {
			t.Fatalf("%s: %v", h.name, err)
		}
		if !strings.Contains(config, `"source":"data:,`+h.name+`"`) {
			t.Errorf("%s: the config does not write the hostname %s:\n%s", h.name, h.name, config)
		}
		if !strings.Contains(config, "/etc/NetworkManager/system-connections/"+h.nic+".nmconnection") ||
			!strings.Contains(config, "interface-name="+h.nic+"\n") || !strings.Contains(config, "addresses="+h.address+"\n") {
			t.Errorf("%s: the config lacks the keyfile of %s with %s:\n%s", h.name, h.nic, h.address, config)
		}
		kargs := strings.Fields(string(ok(t, nil, "iso", "kargs", "show", img).stdout))
		if got := slices.Contains(kargs, "console=ttyS0,115200n8"); got != h.serial {
			t.Errorf("%s: console=ttyS0,115200n8 among the kernel arguments %q: %v, want %v", h.name, kargs, got, h.serial)
		}
	}
}
