package initrd

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	const net = "etc/coreos-firstboot-network/*"
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{net, "etc/coreos-firstboot-network/a.nmconnection", true},
		{net, "etc/coreos-firstboot-network/sub/dir/b", true}, // '*' crosses '/'
		{net, "etc/coreos-firstboot-network/", true},
		{net, "etc/coreos-firstboot-network", false},
		{net, "etc/coreos-firstboot-networkx", false},
		{net, "/etc/coreos-firstboot-network/a", false},
		{net, "config.ign", false},
		{"config.ign", "config.ign", true},
		{"config.ign", "config.ig", false},
		{"config.ign", "config.ignx", false},
		{"config.?gn", "config.ign", true},
		{"config.?gn", "config.gn", false},
		{"?", "ü", true}, // one character, not one byte
		{"??", "ü", false},
		{"a?c", "a/c", true},
		{"*", "", true},
		{"*", "anything/at/all", true},
		{"", "", true},
		{"", "a", false},
		{"a", "", false},
		{"**", "x", true},
		{"*.ign", "dir/config.ign", true},
		{"*.ign", "config.ign.bak", false},
		{"a*b*c", "a--b--b--c", true},
		{"a*b*c", "a--b--b--", false},
		{"*a*a*a*a*b", strings.Repeat("a", 200), false}, // no exponential backtracking
		{"[ab]", "a", false},                            // no character classes: '[' is literal
		{"[ab]", "[ab]", true},
	}
	for _, tc := range tests {
		if got := Match(tc.pattern, tc.name); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}
