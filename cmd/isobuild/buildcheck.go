package main

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/isobuild/isobuild/pkg/ignconfig"
	"github.com/isobuild/isobuild/pkg/installer"
)

// The checks in this file catch the mistakes that turn an installer image
// into something else without a word: they apply to "isobuild build" only;
// the coreos-installer-compatible commands accept what coreos-installer
// accepts and at most warn.

// checkInstallIntent refuses a build whose options install to a disk
// without a config for the installed system. The live config (--butane,
// --ignition) configures the installer's own live environment; a user who
// adds --dest-device to the headline command almost certainly meant it for
// the installed system, which would then boot with no config at all.
func checkInstallIntent(o buildOptions, install installer.Options) error {
	dev := install.DestDevice
	if dev == "" {
		if len(install.DestIgnition) > 0 && !installerConfigSets(install.InstallerConfig, "dest-device") {
			// The installer would start at every boot and fail for
			// lack of a disk (the compatible commands only warn).
			return usageHint("add --dest-device with the disk to install to, such as /dev/disk/by-id/nvme-… (or /dev/sda); or set dest-device in an --installer-config",
				"a config for the installed system (%s) but no disk to install to: the installer would start at boot and fail", destNames(install))
		}
		return nil
	}
	if err := checkDevicePath(dev); err != nil {
		return err
	}
	if len(install.DestIgnition) > 0 || installerConfigSets(install.InstallerConfig, "ignition-file", "ignition-url") {
		return nil
	}
	live := "no config at all"
	switch {
	case o.butane != "":
		live = fmt.Sprintf("--butane %s configures the live installer environment only", displayName(o.butane))
	case o.ignition != "":
		live = fmt.Sprintf("--ignition %s configures the live installer environment only", displayName(o.ignition))
	}
	hint := "give the installed system's config with --dest-butane FILE (or --dest-ignition FILE)"
	if o.butane != "" {
		hint = fmt.Sprintf("if %s is meant for the installed system, pass it as --dest-butane %s instead of --butane; keep --butane only for settings of the live installer", displayName(o.butane), o.butane)
	}
	return usageHint(hint, "--dest-device %s installs to disk, but there is no config for the installed system (--dest-butane or --dest-ignition): %s, so the installed system would boot unconfigured", dev, live)
}

// checkDevicePath refuses a device that is not an absolute path, such as
// "nvme0n1": the installer would look for it in its working directory.
// A partition such as /dev/sda1 is refused too: the installer writes a
// whole disk image, partition table included.
func checkDevicePath(dev string) error {
	if disk, ok := partitionOf(dev); ok {
		return usageHint(fmt.Sprintf("the installer writes the whole disk, partition table included: give the disk, %s", disk),
			"--dest-device %s is a partition", dev)
	}
	if strings.HasPrefix(dev, "/") {
		return nil
	}
	return usageHint(devicePathHint(dev), "--dest-device %s is not a device path", dev)
}

// devicePathWarning is checkDevicePath's finding for the compatible
// commands, which accept the device as coreos-installer does; empty when
// there is none.
func devicePathWarning(dev string) string {
	if disk, ok := partitionOf(dev); ok {
		return fmt.Sprintf("Warning: --dest-device %s is a partition; the installer writes a whole disk. Did you mean %s?", dev, disk)
	}
	if dev == "" || strings.HasPrefix(dev, "/") {
		return ""
	}
	return fmt.Sprintf("Warning: --dest-device %s is not a device path; the installer will fail to find it. %s.", dev, strings.ToUpper(devicePathHint(dev)[:1])+devicePathHint(dev)[1:])
}

// partitionRE matches the kernel's names of partitions: sda1, vdb2, xvda1,
// nvme0n1p1, mmcblk0p1 (a disk name that ends in a digit takes "p").
var partitionRE = regexp.MustCompile(`^(/dev/)?((?:[shv]d|xvd)[a-z]+|(?:nvme\d+n\d+|mmcblk\d+|loop\d+)p?)(\d+)$`)

// partitionOf returns the disk of a partition device path, such as
// /dev/nvme0n1 for /dev/nvme0n1p2.
func partitionOf(dev string) (string, bool) {
	m := partitionRE.FindStringSubmatch(dev)
	if m == nil {
		return "", false
	}
	disk := m[2]
	if strings.HasPrefix(disk, "nvme") || strings.HasPrefix(disk, "mmcblk") || strings.HasPrefix(disk, "loop") {
		if !strings.HasSuffix(disk, "p") {
			return "", false // nvme0n1 itself, mmcblk0, loop0: disks
		}
		disk = strings.TrimSuffix(disk, "p")
	}
	return "/dev/" + disk, true
}

func devicePathHint(dev string) string {
	return fmt.Sprintf("did you mean /dev/%s? Stable names such as /dev/disk/by-id/... survive disk reordering", path.Clean(dev))
}

// installerConfigSets reports whether an installer config sets one of
// keys, such as ignition-file or ignition-url (the installed system's
// config) or dest-device. A config that does not parse is left to the
// engine, which reports it.
func installerConfigSets(configs []installer.Input, keys ...string) bool {
	for _, in := range configs {
		var set map[string]any
		if in.Err != nil || yaml.Unmarshal(in.Data, &set) != nil {
			continue
		}
		for _, k := range keys {
			if set[k] != nil {
				return true
			}
		}
	}
	return false
}

// destNames lists the destination configs of a build for a message.
func destNames(install installer.Options) string {
	var names []string
	for _, d := range install.DestIgnition {
		names = append(names, d.Name)
	}
	return strings.Join(clip(names, 3), ", ")
}

// checkLiveStorage refuses a live config that partitions, formats or
// encrypts block devices, unless --live-storage is given: the live config
// runs on every boot of the installer media, so such a config wipes the
// disks of every machine the stick is plugged into. Such configs are
// nearly always meant for the installed system (--dest-butane).
func checkLiveStorage(o buildOptions, config *installer.Input) error {
	if config == nil || o.liveStorage {
		return nil
	}
	cfg, err := ignconfig.Parse(config.Name, config.Data)
	if err != nil {
		// The engine validates the config and reports the problem.
		return nil
	}
	// The engine takes it from here instead of parsing it again.
	config.Parsed = cfg
	sum := cfg.Summary()
	if !sum.Storage() {
		return nil
	}
	var what []string
	for _, part := range []struct {
		key   string
		items []string
	}{
		{"storage.disks", sum.Disks}, {"storage.raid", sum.RAID}, {"storage.luks", sum.LUKS}, {"storage.filesystems", sum.Filesystems},
	} {
		if len(part.items) > 0 {
			what = append(what, part.key+": "+strings.Join(clip(part.items, 3), ", "))
		}
	}
	option, file := "--ignition", o.ignition
	dest := "--dest-ignition"
	if o.butane != "" {
		option, file, dest = "--butane", o.butane, "--dest-butane"
	}
	hint := fmt.Sprintf("if this config is for the installed system, pass it as %s %s together with --dest-device; if the live system really must change these disks on every boot, add --live-storage", dest, file)
	return usageHint(hint, "%s %s changes disks in the live system, which runs it on every boot of the media, on whatever machine it boots (%s)", option, displayName(file), strings.Join(what, "; "))
}

// clip returns at most n items, the last one saying how many were left out.
func clip(items []string, n int) []string {
	if len(items) <= n {
		return items
	}
	return append(items[:n:n], fmt.Sprintf("and %d more", len(items)-n))
}
