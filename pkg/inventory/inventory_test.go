package inventory

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

const sample = `# a fleet
hosts:
  - name: web1
    vars:
      ip: 192.0.2.11
      port: 022
      on: yes
    kargs: ["console=ttyS0,115200n8", "ip=192.0.2.11::192.0.2.1:255.255.255.0:web1:eth0:none"]
  - name: db-1.example_2
    vars: {}
  - name: bare
    vars:
    kargs:
    token: 0123456789abcdef-_.~
`

func TestParse(t *testing.T) {
	inv, err := Parse("hosts.yaml", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	want := []Host{
		{Name: "web1", Vars: map[string]string{"ip": "192.0.2.11", "port": "022", "on": "yes"},
			Kargs: []string{"console=ttyS0,115200n8", "ip=192.0.2.11::192.0.2.1:255.255.255.0:web1:eth0:none"}, Line: 3},
		{Name: "db-1.example_2", Vars: map[string]string{}, Line: 9},
		{Name: "bare", Vars: map[string]string{}, Token: "0123456789abcdef-_.~", Line: 11},
	}
	if !reflect.DeepEqual(inv.Hosts, want) {
		t.Fatalf("got %#v\nwant %#v", inv.Hosts, want)
	}
	if h, ok := inv.Lookup("bare"); !ok || h.Name != "bare" {
		t.Fatal("Lookup(bare) failed")
	}
	if _, ok := inv.Lookup("BARE"); ok {
		t.Fatal("Lookup must compare exactly")
	}

	fsys := fstest.MapFS{"inv/hosts.yaml": {Data: []byte(sample)}}
	inv2, err := ReadFS(fsys, "inv/hosts.yaml")
	if err != nil || !reflect.DeepEqual(inv2, inv) {
		t.Fatalf("ReadFS: %v", err)
	}
	if _, err := ReadFS(fsys, "missing.yaml"); err == nil {
		t.Fatal("ReadFS of a missing file succeeded")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"empty", "", "hosts.yaml: empty"},
		{"comment only", "# nothing\n", "hosts.yaml: empty"},
		{"null", "null\n", "hosts.yaml:1:1: empty"},
		{"not a mapping", "- name: a\n", "hosts.yaml:1:1: the inventory must be a mapping, not a list"},
		{"unknown top field", "hosts: [{name: a}]\nhost: x\n", `hosts.yaml:2:1: unknown field "host"`},
		{"no hosts field", "{}\n", "no hosts field"},
		{"hosts not a list", "hosts: a\n", `hosts.yaml:1:8: hosts must be a list of hosts, not the string "a"`},
		{"hosts empty", "hosts: []\n", "hosts.yaml:1:8: hosts is empty"},
		{"unknown host field", "hosts:\n  - name: a\n    karg: [x]\n", `hosts.yaml:3:5: hosts[0]: unknown field "karg" (a host has name, vars, kargs and token)`},
		{"no name", "hosts:\n  - vars: {a: b}\n", "hosts.yaml:2:5: hosts[0] has no name"},
		{"null name", "hosts:\n  - name:\n", "hosts.yaml:2:10: hosts[0].name has no value"},
		{"list name", "hosts:\n  - name: [a]\n", "hosts[0].name must be a string, not a list"},
		{"slash", "hosts:\n  - name: a/b\n", `hosts.yaml:2:11: host name "a/b" holds '/'`},
		{"dotdot", "hosts:\n  - name: ..\n", `host name ".." starts with '.'`},
		{"dot", "hosts:\n  - name: .hidden\n", `starts with '.'`},
		{"space", "hosts:\n  - name: 'a b'\n", `holds ' '`},
		{"percent", "hosts:\n  - name: a%2fb\n", `holds '%'`},
		{"unicode", "hosts:\n  - name: hôte\n", `holds 'Ã'`},
		{"long", "hosts:\n  - name: " + strings.Repeat("a", MaxNameLength+1) + "\n", "at most 200"},
		{"duplicate", "hosts:\n  - name: a\n  - name: b\n  - name: a\n", `hosts.yaml:4:5: host "a" is listed twice (first on line 2)`},
		{"case", "hosts:\n  - name: Web\n  - name: web\n", `host "web" and host "Web" (line 2) differ only in case`},
		{"duplicate key", "hosts:\n  - name: a\n    name: b\n", `hosts.yaml:3:5: hosts[0]: duplicate key "name" (first on line 2)`},
		{"duplicate var", "hosts:\n  - name: a\n    vars: {x: 1, x: 2}\n", `duplicate key "x"`},
		{"vars list", "hosts:\n  - name: a\n    vars: [x]\n", "hosts[0].vars must be a mapping, not a list"},
		{"var nested", "hosts:\n  - name: a\n    vars: {x: {y: z}}\n", "hosts[0].vars.x must be a string, not a mapping"},
		{"var null", "hosts:\n  - name: a\n    vars: {x: }\n", `hosts[0].vars.x has no value (write "" for an empty string)`},
		{"var key", "hosts:\n  - name: a\n    vars: {mac-address: x}\n", `var "mac-address" is not usable as {{ .Vars.KEY }}`},
		{"var key digit", "hosts:\n  - name: a\n    vars: {1x: x}\n", `var "1x"`},
		{"kargs scalar", "hosts:\n  - name: a\n    kargs: quiet\n", "hosts[0].kargs must be a list of kernel arguments"},
		{"karg empty", "hosts:\n  - name: a\n    kargs: ['']\n", "hosts[0].kargs[0] is empty"},
		{"karg newline", "hosts:\n  - name: a\n    kargs: [\"a\\nb\"]\n", "control character"},
		{"karg list", "hosts:\n  - name: a\n    kargs: [[a]]\n", "hosts[0].kargs[0] must be a string, not a list"},
		{"alias", "hosts:\n  - name: &n a\n  - name: *n\n", "alias *n: aliases are not supported"},
		{"merge", "hosts:\n  - name: a\n    vars:\n      <<: {x: y}\n", "merge keys (<<) are not supported"},
		{"two documents", "hosts: [{name: a}]\n---\nhosts: [{name: b}]\n", "hosts.yaml:2:1: a second YAML document"},
		{"syntax", "hosts:\n  - name: a\n   bad: [\n", "hosts.yaml:"},
		{"tab", "hosts:\n\t- name: a\n", "hosts.yaml:2: YAML: found character that cannot start any token"},
		{"short token", "hosts:\n  - name: a\n    token: abc\n", "hosts.yaml:3:12: hosts[0].token: a token of 3 characters is too easy to guess"},
		{"token slash", "hosts:\n  - name: a\n    token: 0123456789abcdef/\n", "a token holds '/'"},
		{"token list", "hosts:\n  - name: a\n    token: [x]\n", "hosts[0].token must be a string"},
		{"binary", "hosts:\n  - name: !!binary aGk=\n", "binary values are not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("hosts.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %q does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	big := make([]byte, MaxSize+1)
	if _, err := Parse("h", big); err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") {
		t.Fatalf("error %v", err)
	}
	if _, err := Read("h", strings.NewReader(string(big))); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Read: error %v", err)
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"a", "A-1", "web1.example.com", "x_y", "-x", "a.."} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", ".a", "a/b", `a\b`, "a b", "a?b", "a#b", "a%b", "a\x00", "é"} {
		if err := CheckName(bad); err == nil {
			t.Errorf("CheckName(%q) accepted it", bad)
		}
	}
}
