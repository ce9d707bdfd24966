package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/isobuild/isobuild/pkg/installer"
)

// nmstateCommand is the program that turns Nmstate files into
// NetworkManager keyfiles. There is no Nmstate generator in Go, so
// --network-nmstate runs Nmstate's own offline generator.
const nmstateCommand = "nmstatectl"

// nmstateKeyfiles runs "nmstatectl gc" on each Nmstate file. A file that
// cannot be converted gets its error recorded instead, for the engine to
// report after its network feature check.
func nmstateKeyfiles(ctx context.Context, paths []string) []installer.Nmstate {
	var out []installer.Nmstate
	for _, p := range paths {
		keyfiles, err := nmstateGenerate(ctx, p)
		out = append(out, installer.Nmstate{Name: p, Keyfiles: keyfiles, Err: err})
	}
	return out
}

func nmstateGenerate(ctx context.Context, path string) ([]installer.Keyfile, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("opening nmstate file: %w", err)
	}
	prog, err := exec.LookPath(nmstateCommand)
	if err != nil {
		return nil, errNoNmstate
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, prog, "gc", path)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("generating configuration from nmstate %s: %s", path, msg)
	}
	// nmstatectl gc prints YAML whose NetworkManager key lists
	// [file name, content] pairs.
	var gc struct {
		NetworkManager [][]string `yaml:"NetworkManager"`
	}
	if err := yaml.Unmarshal(stdout.Bytes(), &gc); err != nil {
		return nil, fmt.Errorf("generating configuration from nmstate %s: reading nmstatectl output: %w", path, err)
	}
	var keyfiles []installer.Keyfile
	for _, pair := range gc.NetworkManager {
		if len(pair) != 2 {
			return nil, fmt.Errorf("generating configuration from nmstate %s: unexpected nmstatectl output entry %q", path, pair)
		}
		keyfiles = append(keyfiles, installer.Keyfile{Name: pair[0], Data: []byte(pair[1])})
	}
	return keyfiles, nil
}
