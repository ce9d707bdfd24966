package main

import (
	"bytes"
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/isobuild/isobuild/pkg/ignconfig"
)

// remember keeps the first bytes of an input read under name, so that an
// error about the input can say what the file looks like.
func (s *streams) remember(name string, data []byte) {
	if s.seen == nil {
		s.seen = map[string][]byte{}
	}
	if len(data) > 64<<10 {
		data = data[:64<<10]
	}
	s.seen[name] = data
}

// configHint returns a hint for an Ignition error about a file that is a
// Butane config: the most common mix-up, since both are "the config".
func (s *streams) configHint(err error) string {
	var pe *ignconfig.ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ignconfig.ErrInvalid) {
		return ""
	}
	data, ok := s.seen[pe.Name]
	if !ok || !looksLikeButane(data) {
		return ""
	}
	return fmt.Sprintf("%s is a Butane config, not Ignition JSON: give it to 'isobuild build' as --butane or --dest-butane, or translate it first with 'isobuild butane -o config.ign %s'", pe.Name, pe.Name)
}

// looksLikeButane reports whether data is a YAML mapping with a variant
// key, as every Butane config has, and not JSON.
func looksLikeButane(data []byte) bool {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		return false
	}
	var doc struct {
		Variant string `yaml:"variant"`
	}
	return yaml.Unmarshal(data, &doc) == nil && doc.Variant != ""
}

// ignitionGivenAsButane is the hint for a Butane option given an Ignition
// config.
func ignitionGivenAsButane(option, name string) string {
	alt := "--ignition"
	if option == "--dest-butane" {
		alt = "--dest-ignition"
	}
	return fmt.Sprintf("%s is an Ignition config already, not Butane: pass it as %s %s", name, alt, name)
}
