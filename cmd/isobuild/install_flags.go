package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/isobuild/isobuild/pkg/installer"
)

// onceString is a string flag that may be given only once.
type onceString struct {
	name  string
	value string
	set   bool
}

func (o *onceString) String() string { return o.value }
func (o *onceString) Type() string   { return "string" }
func (o *onceString) Set(v string) error {
	if o.set {
		return fmt.Errorf("--%s may be given only once", o.name)
	}
	o.value, o.set = v, true
	return nil
}

// outputFlag is an -o/--output value: a path or "-". An empty value is an
// error, so that "-o $UNSET" never turns into an in-place change.
type outputFlag struct{ value *string }

func (o outputFlag) String() string {
	if o.value == nil {
		return ""
	}
	return *o.value
}
func (o outputFlag) Type() string { return "PATH" }
func (o outputFlag) Set(v string) error {
	if v == "" {
		return errors.New("needs a path, or - for stdout")
	}
	*o.value = v
	return nil
}

// addOutput registers -o/--output.
func addOutput(fs *pflag.FlagSet, p *string, usage string) {
	fs.VarP(outputFlag{p}, "output", "o", usage)
}

// installFlags are the installer customization options shared by
// "iso customize", "pxe customize" and "build".
type installFlags struct {
	destIgnition    []string
	destDevice      onceString
	destConsole     []string
	destKargAppend  []string
	destKargDelete  []string
	networkKeyfile  []string
	networkNmstate  []string
	ignitionCA      []string
	preInstall      []string
	postInstall     []string
	installerConfig []string
	liveIgnition    []string
}

// add registers the flags; liveIgnition only where the command has no
// live config option of its own.
func (f *installFlags) add(fs *pflag.FlagSet, liveIgnition bool) {
	f.destDevice.name = "dest-device"
	fs.StringArrayVar(&f.destIgnition, "dest-ignition", nil, "install with Ignition config `PATH` (repeatable; several are merged)")
	fs.Var(&f.destDevice, "dest-device", "install unattended to disk `DEV` (e.g. /dev/sda), without confirmation")
	fs.StringArrayVar(&f.destConsole, "dest-console", nil, "kernel and bootloader console `SPEC` of the installed system, e.g. ttyS0,115200n8 or tty0 (repeatable)")
	fs.StringArrayVar(&f.destKargAppend, "dest-karg-append", nil, "append kernel argument `KARG` on the installed system (repeatable)")
	fs.StringArrayVar(&f.destKargDelete, "dest-karg-delete", nil, "delete kernel argument `KARG` on the installed system (repeatable)")
	fs.StringArrayVar(&f.networkKeyfile, "network-keyfile", nil, "NetworkManager keyfile `PATH` for the live system, copied to the installed one when the installer runs (repeatable)")
	fs.StringArrayVar(&f.networkNmstate, "network-nmstate", nil, "Nmstate file `PATH` turned into keyfiles with nmstatectl, used like --network-keyfile (repeatable)")
	fs.StringArrayVar(&f.ignitionCA, "ignition-ca", nil, "trust the CA certificate in `PATH` for Ignition fetches, live and installed (repeatable)")
	fs.StringArrayVar(&f.preInstall, "pre-install", nil, "run script `PATH` before installing (repeatable)")
	fs.StringArrayVar(&f.postInstall, "post-install", nil, "run script `PATH` after installing (repeatable)")
	fs.StringArrayVar(&f.installerConfig, "installer-config", nil, "coreos-installer config file `PATH` (YAML; repeatable)")
	if liveIgnition {
		fs.StringArrayVar(&f.liveIgnition, "live-ignition", nil, "merge Ignition config `PATH` into the live system's config (repeatable)")
	}
}

// inputs reads the files at paths for the engine. "-" reads stdin where
// stdin makes sense (configs and certificates); options whose file name
// matters (keyfiles, hooks, installer configs) need a real file. A file
// that cannot be read is passed on with its error, which the engine reports
// when it gets to it, after the checks that come first.
func (s *streams) inputs(ctx context.Context, option string, paths []string, stdinOK bool) ([]installer.Input, error) {
	var out []installer.Input
	for _, p := range paths {
		if p != "-" {
			data, err := readFile(ctx, p)
			if ctx.Err() != nil {
				return nil, err
			}
			s.remember(p, option, data)
			out = append(out, installer.Input{Name: p, Data: data, Err: err})
			continue
		}
		if !stdinOK {
			return nil, usageError{fmt.Errorf("%s needs a file: its name is used in the image", option)}
		}
		data, err := s.readInput(ctx, option, p)
		if err != nil {
			return nil, err
		}
		out = append(out, installer.Input{Name: "<stdin>", Data: data})
	}
	return out, nil
}

// options turns the flags into engine options; console specs are checked
// here, as usage errors.
func (f *installFlags) options(ctx context.Context, s *streams, generator string) (installer.Options, error) {
	o := installer.Options{
		DestDevice:     f.destDevice.value,
		DestKargAppend: f.destKargAppend,
		DestKargDelete: f.destKargDelete,
		Generator:      generator,
	}
	for _, in := range []struct {
		option  string
		paths   []string
		stdinOK bool
		dst     *[]installer.Input
	}{
		{"--dest-ignition", f.destIgnition, true, &o.DestIgnition},
		{"--network-keyfile", f.networkKeyfile, false, &o.NetworkKeyfile},
		{"--ignition-ca", f.ignitionCA, true, &o.IgnitionCA},
		{"--pre-install", f.preInstall, false, &o.PreInstall},
		{"--post-install", f.postInstall, false, &o.PostInstall},
		{"--installer-config", f.installerConfig, false, &o.InstallerConfig},
		{"--live-ignition", f.liveIgnition, true, &o.LiveIgnition},
	} {
		inputs, err := s.inputs(ctx, in.option, in.paths, in.stdinOK)
		if err != nil {
			return o, err
		}
		*in.dst = inputs
	}
	for _, spec := range f.destConsole {
		c, err := installer.ParseConsole(spec)
		if err != nil {
			return o, usageError{fmt.Errorf("--dest-console: %w", err)}
		}
		o.DestConsole = append(o.DestConsole, c)
	}
	o.NetworkNmstate = nmstateKeyfiles(ctx, f.networkNmstate)
	return o, nil
}

var errNoOutput = errors.New("-o/--output is required")
