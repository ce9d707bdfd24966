// Package inventory reads a fleet's inventory, the hosts.yaml file that
// names every host to build an image for, and renders a Butane template
// once per host.
//
// An inventory is a YAML mapping with one key, hosts, a list of hosts:
//
//	hosts:
//	  - name: web1
//	    vars:
//	      ip: 192.0.2.11
//	      disk: /dev/sda
//	    kargs: [console=ttyS0,115200n8]
//
// Every host has a name, and optionally vars (string values by key, for the
// template), kargs (live kernel arguments appended to the image's, after
// those of the command line) and token (the secret in the host's URLs when
// a server requires tokens; see [CheckToken]). The parser is strict: an unknown field, a
// duplicate key, a value of the wrong kind, an alias or a second YAML
// document is an error that names the line and column. A name is used as a
// file name (NAME.iso) and as a URL path segment, so it may hold only ASCII
// letters, digits, '.', '_' and '-', must not start with '.', and must be
// unique without regard to case (two names that differ in case would be one
// file on a case-insensitive file system). A var key must be usable as
// {{ .Vars.KEY }} in a template: a letter or '_' followed by letters,
// digits and '_'. A var value is the scalar as written (port: 022 is the
// string "022", not a number).
//
// A [Template] is a Butane file that is a Go text/template: {{ .Name }} is
// the host's name, {{ .Vars.KEY }} one of its vars. A var the host lacks is
// an error naming the host and the key, never an empty string.
//
// In isobuild's pipeline, Butane → Ignition → initramfs → overlay → output,
// this package comes before Butane: it produces the Butane config of each
// host. It does no file access: callers pass bytes, a reader or an fs.FS.
package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxSize bounds an inventory file. A fleet of ten thousand hosts with a
// dozen vars each is far smaller.
const MaxSize = 16 << 20

// MaxNameLength bounds a host name, so that NAME.iso stays within the 255
// bytes most file systems allow in a file name.
const MaxNameLength = 200

// ErrInvalid is wrapped by every error about the contents of an inventory.
var ErrInvalid = errors.New("invalid inventory")

// Host is one host of an inventory.
type Host struct {
	// Name names the host's image (NAME.iso) and its URL.
	Name string
	// Vars are the template's {{ .Vars.KEY }} values; never nil.
	Vars map[string]string
	// Kargs are live kernel arguments to append, in order.
	Kargs []string
	// Token is the host's secret URL token for a server that requires
	// one (isobuild serve --require-token); "" when not given.
	Token string
	// Line is the line of the host's entry in the file, for messages.
	Line int
}

// Inventory is a parsed inventory file.
type Inventory struct {
	// Hosts are in file order; there is at least one.
	Hosts []Host
}

// Lookup returns the host called name, comparing exactly.
func (inv *Inventory) Lookup(name string) (Host, bool) {
	for _, h := range inv.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return Host{}, false
}

// Error is an error at a place in an inventory file. It wraps ErrInvalid.
type Error struct {
	File         string // the name given to Parse
	Line, Column int    // 0 when unknown
	Msg          string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *Error) Unwrap() error { return ErrInvalid }

// ReadFS parses the inventory file name in fsys.
func ReadFS(fsys fs.FS, name string) (*Inventory, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(name, f)
}

// Read parses an inventory from r, at most MaxSize bytes; name names it in
// errors.
func Read(name string, r io.Reader) (*Inventory, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return Parse(name, data)
}

// Parse parses the inventory in data; name names it in errors.
func Parse(name string, data []byte) (*Inventory, error) {
	p := parser{file: name}
	if len(data) > MaxSize {
		return nil, p.errorf(nil, "larger than %d MiB: not an inventory", MaxSize>>20)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, p.errorf(nil, "empty: an inventory is a mapping with a list of hosts (hosts: [{name: ...}])")
		}
		return nil, p.yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, p.errorf(&extra, "a second YAML document: an inventory is one document")
	} else if !errors.Is(err, io.EOF) {
		return nil, p.yamlError(err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) != 1 {
			return nil, p.errorf(root, "empty: an inventory is a mapping with a list of hosts (hosts: [{name: ...}])")
		}
		root = root.Content[0]
	}
	return p.inventory(root)
}

// parser walks the node tree of one file.
type parser struct {
	file string
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) error {
	e := &Error{File: p.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	return e
}

// yamlError turns a YAML syntax error into an Error. yaml.v3's messages
// read "yaml: line N: ..."; the line is kept in its place.
func (p *parser) yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil && line > 0 {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		return &Error{File: p.file, Line: line, Msg: "YAML: " + msg}
	}
	return &Error{File: p.file, Msg: "YAML: " + msg}
}

// check refuses the node kinds that no place in an inventory takes.
func (p *parser) check(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode {
		return p.errorf(n, "alias *%s: aliases are not supported in an inventory; write the values out", n.Value)
	}
	return nil
}

// mapping returns the key and value nodes of a mapping node, refusing
// duplicate and non-string keys; what names the mapping in errors.
func (p *parser) mapping(n *yaml.Node, what string) ([][2]*yaml.Node, error) {
	if err := p.check(n); err != nil {
		return nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, p.errorf(n, "%s must be a mapping, not %s", what, kindName(n))
	}
	var out [][2]*yaml.Node
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if err := p.check(k); err != nil {
			return nil, err
		}
		if k.Tag == "!!merge" {
			return nil, p.errorf(k, "%s: merge keys (<<) are not supported in an inventory; write the values out", what)
		}
		if k.Kind != yaml.ScalarNode || (k.Tag != "!!str" && k.Tag != "!!int" && k.Tag != "!!bool" && k.Tag != "!!float") {
			return nil, p.errorf(k, "%s: a key must be a string, not %s", what, kindName(k))
		}
		if line, dup := seen[k.Value]; dup {
			return nil, p.errorf(k, "%s: duplicate key %q (first on line %d)", what, k.Value, line)
		}
		seen[k.Value] = k.Line
		if err := p.check(v); err != nil {
			return nil, err
		}
		out = append(out, [2]*yaml.Node{k, v})
	}
	return out, nil
}

// scalar returns the text of a scalar node that is not null.
func (p *parser) scalar(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", p.errorf(n, "%s must be a string, not %s", what, kindName(n))
	}
	if n.Tag == "!!null" {
		return "", p.errorf(n, "%s has no value (write \"\" for an empty string)", what)
	}
	if n.Tag == "!!binary" {
		return "", p.errorf(n, "%s: binary values are not supported", what)
	}
	return n.Value, nil
}

func (p *parser) inventory(root *yaml.Node) (*Inventory, error) {
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, p.errorf(root, "empty: an inventory is a mapping with a list of hosts (hosts: [{name: ...}])")
	}
	fields, err := p.mapping(root, "the inventory")
	if err != nil {
		return nil, err
	}
	var hosts *yaml.Node
	for _, kv := range fields {
		if kv[0].Value != "hosts" {
			return nil, p.errorf(kv[0], "unknown field %q (an inventory has one field, hosts)", kv[0].Value)
		}
		hosts = kv[1]
	}
	if hosts == nil {
		return nil, p.errorf(root, "no hosts field: an inventory is a mapping with a list of hosts (hosts: [{name: ...}])")
	}
	if hosts.Kind != yaml.SequenceNode {
		return nil, p.errorf(hosts, "hosts must be a list of hosts, not %s", kindName(hosts))
	}
	if len(hosts.Content) == 0 {
		return nil, p.errorf(hosts, "hosts is empty: list at least one host")
	}
	inv := &Inventory{}
	names := map[string]Host{}
	for i, hn := range hosts.Content {
		h, err := p.host(hn, i)
		if err != nil {
			return nil, err
		}
		key := strings.ToLower(h.Name)
		if prev, dup := names[key]; dup {
			if prev.Name == h.Name {
				return nil, p.errorf(hn, "host %q is listed twice (first on line %d)", h.Name, prev.Line)
			}
			return nil, p.errorf(hn, "host %q and host %q (line %d) differ only in case: their images would be one file on a case-insensitive file system", h.Name, prev.Name, prev.Line)
		}
		names[key] = h
		inv.Hosts = append(inv.Hosts, h)
	}
	return inv, nil
}

func (p *parser) host(n *yaml.Node, i int) (Host, error) {
	what := fmt.Sprintf("hosts[%d]", i)
	fields, err := p.mapping(n, what)
	if err != nil {
		return Host{}, err
	}
	h := Host{Vars: map[string]string{}, Line: n.Line}
	var hasName bool
	for _, kv := range fields {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "name":
			if h.Name, err = p.scalar(v, what+".name"); err != nil {
				return Host{}, err
			}
			if err := CheckName(h.Name); err != nil {
				return Host{}, p.errorf(v, "%s", err)
			}
			hasName = true
		case "vars":
			if h.Vars, err = p.vars(v, what+".vars"); err != nil {
				return Host{}, err
			}
		case "kargs":
			if h.Kargs, err = p.kargs(v, what+".kargs"); err != nil {
				return Host{}, err
			}
		case "token":
			if h.Token, err = p.scalar(v, what+".token"); err != nil {
				return Host{}, err
			}
			if err := CheckToken(h.Token); err != nil {
				return Host{}, p.errorf(v, "%s.token: %s", what, err)
			}
		default:
			return Host{}, p.errorf(k, "%s: unknown field %q (a host has name, vars, kargs and token)", what, k.Value)
		}
	}
	if !hasName {
		return Host{}, p.errorf(n, "%s has no name", what)
	}
	return h, nil
}

func (p *parser) vars(n *yaml.Node, what string) (map[string]string, error) {
	out := map[string]string{}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return out, nil // "vars:" with nothing under it
	}
	fields, err := p.mapping(n, what)
	if err != nil {
		return nil, err
	}
	for _, kv := range fields {
		k, v := kv[0], kv[1]
		if !validKey(k.Value) {
			return nil, p.errorf(k, "%s: var %q is not usable as {{ .Vars.KEY }}: a var name is a letter or _ followed by letters, digits and _", what, k.Value)
		}
		s, err := p.scalar(v, what+"."+k.Value)
		if err != nil {
			return nil, err
		}
		out[k.Value] = s
	}
	return out, nil
}

func (p *parser) kargs(n *yaml.Node, what string) ([]string, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, p.errorf(n, "%s must be a list of kernel arguments, not %s", what, kindName(n))
	}
	var out []string
	for i, a := range n.Content {
		if err := p.check(a); err != nil {
			return nil, err
		}
		s, err := p.scalar(a, fmt.Sprintf("%s[%d]", what, i))
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(s) == "" {
			return nil, p.errorf(a, "%s[%d] is empty", what, i)
		}
		if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return nil, p.errorf(a, "%s[%d] holds a control character (such as a newline): a kernel argument is one line", what, i)
		}
		out = append(out, s)
	}
	return out, nil
}

// CheckName returns an error unless name is a valid host name: 1 to
// MaxNameLength ASCII letters, digits, '.', '_' and '-', not starting with
// '.'. Such a name is safe as a file name and as one URL path segment.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("empty host name")
	case len(name) > MaxNameLength:
		return fmt.Errorf("host name of %d bytes: at most %d", len(name), MaxNameLength)
	case name[0] == '.':
		return fmt.Errorf("host name %q starts with '.': it would be a hidden file (or . or ..)", name)
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			return fmt.Errorf("host name %q holds %q: a name is made of ASCII letters, digits, '.', '_' and '-' (it names a file and a URL)", name, rune(name[i]))
		}
	}
	return nil
}

// MinTokenLength is the shortest token CheckToken accepts: 16 random
// characters of its alphabet hold more than 90 bits.
const MinTokenLength = 16

// CheckToken returns an error unless token can be a host's URL token:
// MinTokenLength to 256 ASCII letters, digits, '-', '_', '.' and '~' (the
// bytes a URL path segment holds unescaped), not starting with '.'.
func CheckToken(token string) error {
	switch {
	case len(token) < MinTokenLength:
		return fmt.Errorf("a token of %d characters is too easy to guess: use at least %d random ones (such as the output of openssl rand -hex 16)", len(token), MinTokenLength)
	case len(token) > 256:
		return fmt.Errorf("a token of %d characters: at most 256", len(token))
	case token[0] == '.':
		return errors.New("a token must not start with '.'")
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; !nameByte(c) && c != '~' {
			return fmt.Errorf("a token holds %q: use ASCII letters, digits, '-', '_', '.' and '~'", rune(c))
		}
	}
	return nil
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.Tag {
	case "!!null":
		return "null"
	case "!!str":
		return fmt.Sprintf("the string %q", n.Value)
	}
	return fmt.Sprintf("the %s %s", strings.TrimPrefix(n.Tag, "!!"), n.Value)
}
