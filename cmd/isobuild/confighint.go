package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/isobuild/isobuild/pkg/butane"

	"github.com/isobuild/isobuild/pkg/ignconfig"
)

// seenInput is the start of an input and the option that read it.
type seenInput struct {
	option string
	data   []byte
}

// remember keeps the first bytes of an input read under name by option, so
// that an error about the input can say what the file looks like.
func (s *streams) remember(name, option string, data []byte) {
	if s.seen == nil {
		s.seen = map[string]seenInput{}
	}
	if len(data) > 64<<10 {
		data = data[:64<<10]
	}
	s.seen[name] = seenInput{option, data}
}

// configHint returns a hint for an Ignition error about a file that is a
// Butane config: the most common mix-up, since both are "the config".
func (s *streams) configHint(err error) string {
	var pe *ignconfig.ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ignconfig.ErrInvalid) {
		return ""
	}
	in, ok := s.seen[pe.Name]
	if !ok || !looksLikeButane(in.data) {
		return ""
	}
	prefix := pe.Name + " is a Butane config, not Ignition JSON: "
	if strings.HasPrefix(s.command, "isobuild build") {
		switch in.option {
		case "--ignition":
			return prefix + "pass it as --butane " + pe.Name
		case "--dest-ignition":
			return prefix + "pass it as --dest-butane " + pe.Name
		}
	}
	return prefix + translateFirst(pe.Name)
}

// translateFirst tells how to turn the Butane file name into what the
// compatible commands take.
func translateFirst(name string) string {
	return fmt.Sprintf("translate it first (isobuild butane -o config.ign %s), or let 'isobuild build' do it (--butane, --dest-butane)", name)
}

// looksLikeButane reports whether data is a YAML mapping with a variant
// and version key, as every Butane config has, and not JSON.
func looksLikeButane(data []byte) bool {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		return false
	}
	_, _, ok := butane.Header(data)
	return ok
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
