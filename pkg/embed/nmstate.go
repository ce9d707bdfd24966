package embed

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// NmstateCommand is the program that turns Nmstate files into
// NetworkManager keyfiles. There is no Nmstate generator in Go, so
// --network-nmstate runs Nmstate's own offline generator.
var NmstateCommand = "nmstatectl"

// ErrNoNmstate is returned for --network-nmstate when nmstatectl is missing.
var ErrNoNmstate = errors.New("--network-nmstate needs the nmstatectl command (package nmstate), which is not on PATH; convert the file with 'nmstatectl gc' elsewhere and pass the keyfiles with --network-keyfile")

// nmstateKeyfiles runs "nmstatectl gc" on an Nmstate file and returns the
// keyfiles it generates.
func nmstateKeyfiles(s Source) ([]Keyfile, error) {
	path := s.Path
	if s.Data != nil {
		return nil, fmt.Errorf("nmstate input %s must be a file", s.Path)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("opening nmstate file: %w", err)
	}
	prog, err := exec.LookPath(NmstateCommand)
	if err != nil {
		return nil, ErrNoNmstate
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(prog, "gc", path)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("generating configuration from nmstate %s: %s", path, msg)
	}
	var out struct {
		NetworkManager [][]string `yaml:"NetworkManager"`
	}
	if err := yaml.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("generating configuration from nmstate %s: reading nmstatectl output: %w", path, err)
	}
	var keyfiles []Keyfile
	for _, pair := range out.NetworkManager {
		if len(pair) != 2 || pair[0] != filepath.Base(pair[0]) || pair[0] == "" {
			return nil, fmt.Errorf("generating configuration from nmstate %s: unexpected nmstatectl output entry %q", path, pair)
		}
		keyfiles = append(keyfiles, Keyfile{Name: pair[0], Data: []byte(pair[1])})
	}
	return keyfiles, nil
}
