package blockdev

import (
	"errors"
	"fmt"
	"strings"
)

// RefusedError says why an image is not written to a device, and what to
// do about it.
type RefusedError struct {
	Device string // the device path
	Reason string // what holds or disqualifies it
	Hint   string // what the user can do
	// Err is a sentinel for errors.Is: ErrInUse, ErrNotRemovable,
	// ErrTooSmall, ErrNoConfirmation, ErrPartition or ErrReadOnly.
	Err error
}

func (e *RefusedError) Error() string {
	s := fmt.Sprintf("refusing to write to %s: %s", e.Device, e.Reason)
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

func (e *RefusedError) Unwrap() error { return e.Err }

// Sentinels of the RefusedError kinds.
var (
	ErrInUse          = errors.New("device in use")
	ErrNotRemovable   = errors.New("device not removable")
	ErrTooSmall       = errors.New("device too small")
	ErrNoConfirmation = errors.New("no confirmation")
	ErrPartition      = errors.New("device is a partition")
	ErrReadOnly       = errors.New("device read-only")
)

// CheckOptions are the user's choices that lift refusals.
type CheckOptions struct {
	// Force allows a device that does not look removable.
	Force bool
	// Yes stands for the confirmation, for scripts.
	Yes bool
	// Terminal is set when the user can be asked (stdin and stderr are a
	// terminal); without it and without Yes, the write is refused.
	Terminal bool
}

// Check decides whether an image of imageSize bytes may be written to d.
// It returns nil or a *RefusedError naming the device, what holds it and
// what to do. Nothing lifts the refusal of a device in use, a partition,
// a read-only or too small device; Force lifts that of a non-removable
// device, and Yes or a terminal (where the caller then asks) that of an
// unconfirmed write.
func Check(d *Device, imageSize int64, o CheckOptions) error {
	refuse := func(err error, reason, hint string) error {
		return &RefusedError{Device: d.Path, Reason: reason, Hint: hint, Err: err}
	}
	if d.Partition {
		hint := "write the image to the whole disk"
		if d.Disk != "" {
			hint += ", /dev/" + d.Disk
		}
		return refuse(ErrPartition, "it is a partition, and a bootable image needs the whole disk", hint)
	}
	for _, m := range d.Mounts {
		if m.Root {
			return refuse(ErrInUse, fmt.Sprintf("/dev/%s holds the running system's root file system", m.Source),
				"this is the disk the system runs from: pick another device (see 'isobuild write --list')")
		}
	}
	if len(d.Mounts) > 0 {
		var ms []string
		for _, m := range d.Mounts {
			ms = append(ms, fmt.Sprintf("/dev/%s on %s", m.Source, m.Point))
		}
		return refuse(ErrInUse, "it is mounted ("+strings.Join(ms, ", ")+")",
			"if it is the right device, unmount it first (umount "+mountPoints(d)+", or eject it in the file manager) and run again")
	}
	if len(d.Swaps) > 0 {
		var ss []string
		for _, s := range d.Swaps {
			ss = append(ss, "/dev/"+s)
		}
		return refuse(ErrInUse, "it is in use as swap ("+strings.Join(ss, ", ")+")",
			"if it is the right device, turn the swap off first (swapoff "+strings.Join(ss, " ")+")")
	}
	if len(d.Holders) > 0 {
		var hs []string
		for _, h := range d.Holders {
			s := fmt.Sprintf("%s by %s", "/dev/"+h.On, h.Name)
			if h.Label != "" {
				s += " (" + h.Label + ")"
			}
			hs = append(hs, s)
		}
		return refuse(ErrInUse, "it is part of an active device-mapper, LVM or RAID device (holding "+strings.Join(hs, ", ")+")",
			"if it is the right device, deactivate those first (vgchange -an, cryptsetup close, dmsetup remove or mdadm --stop)")
	}
	if d.ReadOnly {
		return refuse(ErrReadOnly, "the kernel marks it read-only",
			"check the write-protect switch of the stick or SD card")
	}
	if d.Size < imageSize {
		return refuse(ErrTooSmall, fmt.Sprintf("it holds %s (%d bytes) but the image is %s (%d bytes)", HumanSize(d.Size), d.Size, HumanSize(imageSize), imageSize),
			"use a bigger device")
	}
	if !d.Removable() && !o.Force {
		t := d.Transport
		if t == "" {
			t = "unknown"
		}
		return refuse(ErrNotRemovable, fmt.Sprintf("it does not look removable (removable flag 0, transport %s), so it may be an internal disk", t),
			"if you are sure it is the right device, run again with --force")
	}
	if !o.Yes && !o.Terminal {
		return refuse(ErrNoConfirmation, "there is no terminal to confirm on and this destroys all data on it",
			"check the device, then run again with --yes")
	}
	return nil
}

func mountPoints(d *Device) string {
	var ps []string
	for _, m := range d.Mounts {
		if strings.ContainsAny(m.Point, " \t'\"\\$") {
			ps = append(ps, "'"+strings.ReplaceAll(m.Point, "'", `'\''`)+"'")
		} else {
			ps = append(ps, m.Point)
		}
	}
	return strings.Join(ps, " ")
}
