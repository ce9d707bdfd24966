// Package flatcar prepares the customization of Flatcar Container Linux
// live media (the ISO and the PXE images), which have no embed areas.
//
// Flatcar's initramfs (bootengine) runs Ignition in "PXE mode" when the
// live image boots with flatcar.first_boot set: it copies
// usr/share/oem/config.ign from the initramfs to Ignition's user config and
// Ignition applies it. A config therefore reaches a Flatcar live system as
// an extra gzip-compressed newc archive that the boot loader loads after
// the image's own initramfs, together with the kernel argument
// flatcar.first_boot=1. This package makes that archive ([Initramfs]) and
// the live Ignition config ([LiveConfig]), including the unattended
// installer variant: the live system writes the destination config to a
// file and a systemd unit runs flatcar-install with it. Where the archive
// goes in the ISO and how the boot entries load it is package remaster's
// job.
//
// Facts used here come from Flatcar's bootengine (dracut/30ignition) and
// flatcar-install, as summarised in the project's Flatcar notes; the
// generated configs are of Ignition spec 3.3.0, which every Flatcar release
// with Ignition v3 (3185.0.0 and later) reads.
package flatcar

import (
	"errors"
	"fmt"
	"strings"

	"github.com/coreos/ignition/v2/config/util"
	"github.com/coreos/ignition/v2/config/v3_3/types"

	"github.com/isobuild/isobuild/pkg/ignconfig"
	"github.com/isobuild/isobuild/pkg/initrd"
	"github.com/isobuild/isobuild/pkg/installer"
)

// ConfigMember is the initramfs path of the live Ignition config.
const ConfigMember = "usr/share/oem/config.ign"

// FirstBootArg is the kernel argument that makes Flatcar run Ignition.
const FirstBootArg = "flatcar.first_boot=1"

// Paths and names of the generated installer.
const (
	DestConfigPath = "/opt/isobuild/install.ign"
	InstallUnit    = "isobuild-install.service"
	installCommand = "/usr/bin/flatcar-install"
)

// Install describes an unattended installation from the live system.
type Install struct {
	// Device is the disk flatcar-install writes, such as /dev/sda.
	Device string
	// Configs are the destination Ignition configs, merged in order.
	Configs []installer.Input
	// Generator names the program in the generated unit's description;
	// empty means "isobuild".
	Generator string
}

// ErrNoDevice is returned by LiveConfig for an Install without a device.
var ErrNoDevice = errors.New("a Flatcar installer needs the destination device")

// ErrNoConfig is returned by LiveConfig for an Install without a config.
var ErrNoConfig = errors.New("a Flatcar installer needs a destination Ignition config")

// LiveConfig returns the Ignition config that the live system applies.
// Without an install it is user, validated and returned as it is. With an
// install, it is a generated config that writes the destination config to
// DestConfigPath and enables InstallUnit, which runs
//
//	flatcar-install -d DEVICE -i /opt/isobuild/install.ign
//
// once the network is online and then reboots; user, if any, is merged
// into it. flatcar-install downloads the image of the booted release and
// channel, so the live system needs network access to the Flatcar release
// server (or to a mirror configured by the user's own config).
func LiveConfig(user *installer.Input, inst *Install) ([]byte, []string, error) {
	var warnings []string
	var own *ignconfig.Config
	if user != nil {
		cfg, err := parse(*user)
		if err != nil {
			return nil, nil, err
		}
		own = cfg
		warnings = append(warnings, prefixed(user.Name, cfg.Warnings)...)
	}
	if inst == nil {
		if own == nil {
			return nil, nil, nil
		}
		return user.Data, warnings, nil
	}
	if inst.Device == "" {
		return nil, nil, ErrNoDevice
	}
	if !strings.HasPrefix(inst.Device, "/") {
		return nil, nil, fmt.Errorf("destination device %q is not an absolute path", inst.Device)
	}
	if i := strings.IndexFunc(inst.Device, func(r rune) bool { return !devicePathRune(r) }); i >= 0 {
		// The path goes into a systemd unit's command line, where
		// spaces, %, \ and newlines would change the command.
		return nil, nil, fmt.Errorf("destination device %q has the character %q, which a device path does not need (letters, digits and / _ . : + @ , = - only)", inst.Device, inst.Device[i:i+1])
	}
	if len(inst.Configs) == 0 {
		return nil, nil, ErrNoConfig
	}
	dest, w, err := destConfig(inst.Configs)
	if err != nil {
		return nil, nil, err
	}
	warnings = append(warnings, w...)
	var live types.Config
	live.Ignition.Version = installer.GeneratedSpec
	res, err := installer.Resource(dest)
	if err != nil {
		return nil, nil, err
	}
	var f types.File
	f.Path = DestConfigPath
	f.Contents = res
	f.Mode = util.IntToPtr(0o600)
	live.Storage.Files = append(live.Storage.Files, f)
	live.Systemd.Units = append(live.Systemd.Units, types.Unit{
		Name:     InstallUnit,
		Enabled:  util.BoolToPtr(true),
		Contents: util.StrToPtr(installUnit(inst)),
	})
	if own != nil {
		compact, err := own.Compact()
		if err != nil {
			return nil, nil, fmt.Errorf("merging Ignition config %s: %w", user.Name, err)
		}
		res, err := installer.Resource(compact)
		if err != nil {
			return nil, nil, err
		}
		live.Ignition.Config.Merge = append(live.Ignition.Config.Merge, res)
	}
	out, err := installer.MarshalConfig(live, "Flatcar live config")
	if err != nil {
		return nil, nil, err
	}
	return out, warnings, nil
}

// devicePathRune reports whether r may appear in a device path given to
// flatcar-install: what /dev and /dev/disk/by-* names use.
func devicePathRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("/_.:+@,=-", r)
}

// destConfig returns the destination config: the only one as it is
// (compacted), or a wrapper merging several.
func destConfig(inputs []installer.Input) ([]byte, []string, error) {
	var warnings []string
	parsed := make([]*ignconfig.Config, len(inputs))
	for i, in := range inputs {
		cfg, err := parse(in)
		if err != nil {
			return nil, nil, err
		}
		parsed[i] = cfg
		warnings = append(warnings, prefixed(in.Name, cfg.Warnings)...)
	}
	if len(parsed) == 1 {
		compact, err := parsed[0].Compact()
		if err != nil {
			return nil, nil, fmt.Errorf("serializing %s: %w", inputs[0].Name, err)
		}
		return append(compact, '\n'), warnings, nil
	}
	var wrapper types.Config
	wrapper.Ignition.Version = installer.GeneratedSpec
	for i, cfg := range parsed {
		compact, err := cfg.Compact()
		if err != nil {
			return nil, nil, fmt.Errorf("merging Ignition config %s: %w", inputs[i].Name, err)
		}
		res, err := installer.Resource(compact)
		if err != nil {
			return nil, nil, err
		}
		wrapper.Ignition.Config.Merge = append(wrapper.Ignition.Config.Merge, res)
	}
	out, err := installer.MarshalConfig(wrapper, "destination config")
	return out, warnings, err
}

func parse(in installer.Input) (*ignconfig.Config, error) {
	if in.Err != nil {
		return nil, fmt.Errorf("Ignition config %s: %w", in.Name, in.Err)
	}
	return ignconfig.Parse(in.Name, in.Data)
}

func prefixed(name string, ws []string) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = name + ": " + w
	}
	return out
}

// installUnit returns the systemd unit that installs Flatcar.
func installUnit(inst *Install) string {
	gen := inst.Generator
	if gen == "" {
		gen = "isobuild"
	}
	return strings.Join([]string{
		"# Generated by " + gen + ": installs Flatcar Container Linux to " + inst.Device,
		"# with the destination Ignition config, then reboots.",
		"[Unit]",
		"Description=Install Flatcar Container Linux to " + inst.Device,
		"Wants=network-online.target",
		"After=network-online.target",
		"ConditionPathExists=" + DestConfigPath,
		"",
		"[Service]",
		"Type=oneshot",
		"RemainAfterExit=yes",
		"ExecStart=" + installCommand + " -d " + inst.Device + " -i " + DestConfigPath,
		"ExecStartPost=/usr/bin/systemctl --no-block reboot",
		"StandardOutput=journal+console",
		"StandardError=journal+console",
		"",
		"[Install]",
		"WantedBy=multi-user.target",
		"",
	}, "\n")
}

// Initramfs returns the extra initramfs that delivers config to a Flatcar
// live system: a gzip-compressed newc archive holding usr/share/oem/config.ign
// (with its parent directories) and the extra files, if any, with their
// modes; deterministic, with a length that is a multiple of 4 so that any
// archive concatenated after it stays aligned.
func Initramfs(config []byte, extra initrd.Files, modes map[string]uint32) ([]byte, error) {
	files := initrd.Files{ConfigMember: config}
	for name, data := range extra {
		if name == ConfigMember {
			return nil, fmt.Errorf("%s is where the live Ignition config goes", ConfigMember)
		}
		files[name] = data
	}
	return initrd.EncodeGzip(files, modes)
}
