// Package blockdev describes the block devices an image can be written to
// (USB sticks, SD cards) and writes an image onto one safely: it refuses a
// device that is mounted, holds the running system's root or swap, is part
// of a device-mapper, LVM or RAID stack, is read-only or smaller than the
// image, and (unless forced) a device that is not removable. The write goes
// in large blocks, is synced, then read back and compared by sha256.
//
// The description is read from a file system holding the kernel's sysfs
// and procfs (Describe, List), so that the refusal logic (Check) can be
// tested with a fake one; Lookup, Candidates and Open use the real ones
// and are implemented for Linux only. On other platforms they return an
// error that says which tool to use instead.
package blockdev

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// SectorSize is the unit of sysfs's size files, whatever the device's
// logical block size.
const SectorSize = 512

// ErrNotBlockDevice is wrapped by Lookup for a path that is not a block
// device.
var ErrNotBlockDevice = errors.New("not a block device")

// ErrUnsupported is wrapped by Lookup, Candidates and Open on platforms
// where writing to devices is not implemented.
var ErrUnsupported = errors.New("writing to block devices is not supported")

// Device describes a whole block device and what uses it.
type Device struct {
	// Name is the kernel's name, such as "sdb" or "mmcblk0".
	Name string
	// Path is the device node, "/dev/" + Name.
	Path string
	// DevNum is the device number, "major:minor".
	DevNum string
	// Size is the capacity in bytes.
	Size int64
	// Model names the hardware ("vendor model"), if the kernel knows it.
	Model string
	// Transport is how the device is attached: "usb", "mmc", "nvme",
	// "sata", "virtio", "loop", or "" when unknown.
	Transport string
	// RemovableFlag is the kernel's removable attribute (media can be
	// taken out of the drive, as with card readers and most sticks).
	RemovableFlag bool
	// ReadOnly is set when the kernel refuses writes (a locked SD card).
	ReadOnly bool
	// Partition is set when Name is a partition rather than a whole disk;
	// Disk then names its disk.
	Partition bool
	Disk      string
	// Partitions are the names of the device's partitions.
	Partitions []string
	// Mounts are the file systems mounted from the device or one of its
	// partitions.
	Mounts []Mount
	// Swaps are the device or partitions in use as swap space.
	Swaps []string
	// Holders are the devices stacked on the device or its partitions:
	// device-mapper (LVM, LUKS, multipath) and md RAID.
	Holders []Holder
}

// Mount is one mounted file system on a device.
type Mount struct {
	Source string // the device or partition, such as "sdb1"
	Point  string // the mount point, such as "/run/media/me/STICK"
	Root   bool   // Point is "/", the running system's root
}

// Holder is a device stacked on the device or one of its partitions.
type Holder struct {
	On   string // the device or partition held, such as "sdb2"
	Name string // the holder, such as "dm-0"
	// Label is what the holder is known by: the device-mapper name (such
	// as "fedora-root") or the md array's name, if known.
	Label string
}

// Removable reports whether the device looks like something meant to be
// unplugged: the kernel's removable flag, or a USB or MMC (SD card)
// transport, since many USB sticks and card readers clear the flag.
func (d *Device) Removable() bool {
	return d.RemovableFlag || d.Transport == "usb" || d.Transport == "mmc"
}

// Summary is one line for the user: path, model, size and transport.
func (d *Device) Summary() string {
	var b strings.Builder
	b.WriteString(d.Path)
	if d.Model != "" {
		fmt.Fprintf(&b, " %q", d.Model)
	}
	fmt.Fprintf(&b, ", %s", HumanSize(d.Size))
	if d.Transport != "" {
		fmt.Fprintf(&b, ", %s", d.Transport)
	}
	if d.Removable() {
		b.WriteString(", removable")
	} else {
		b.WriteString(", not removable")
	}
	return b.String()
}

// HumanSize formats n bytes in IEC units with one decimal.
func HumanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Describe reads the description of the block device name (a kernel name
// such as "sdb", not a path) from fsys, a file system holding sysfs at
// "sys" and procfs at "proc" (os.DirFS("/") on Linux).
func Describe(fsys fs.FS, name string) (*Device, error) {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return nil, fmt.Errorf("%q is not a block device name", name)
	}
	dir := "sys/class/block/" + name
	d := &Device{Name: name, Path: "/dev/" + name}
	var err error
	if d.DevNum, err = readString(fsys, dir+"/dev"); err != nil {
		return nil, fmt.Errorf("%s is not a block device the kernel knows: %w", d.Path, err)
	}
	sectors, err := readInt(fsys, dir+"/size")
	if err != nil {
		return nil, fmt.Errorf("reading the size of %s: %w", d.Path, err)
	}
	d.Size = sectors * SectorSize
	if _, err := fs.Stat(fsys, dir+"/partition"); err == nil {
		d.Partition = true
		if target, err := fs.ReadLink(fsys, dir); err == nil {
			d.Disk = path.Base(path.Dir(target))
		}
		return d, nil
	}
	ro, _ := readInt(fsys, dir+"/ro")
	d.ReadOnly = ro != 0
	rm, _ := readInt(fsys, dir+"/removable")
	d.RemovableFlag = rm != 0
	d.Model = model(fsys, dir)
	d.Transport = transport(fsys, dir, name)

	// The partitions are the subdirectories with a partition file.
	nums := map[string]string{d.DevNum: name}
	names := []string{name}
	entries, _ := fs.ReadDir(fsys, dir)
	for _, e := range entries {
		p := dir + "/" + e.Name()
		if _, err := fs.Stat(fsys, p+"/partition"); err != nil {
			continue
		}
		d.Partitions = append(d.Partitions, e.Name())
		names = append(names, e.Name())
		if num, err := readString(fsys, p+"/dev"); err == nil {
			nums[num] = e.Name()
		}
	}
	for _, n := range names {
		hs, _ := fs.ReadDir(fsys, "sys/class/block/"+n+"/holders")
		if n != name {
			// A partition's holders also show under the disk's directory.
			more, _ := fs.ReadDir(fsys, dir+"/"+n+"/holders")
			hs = append(hs, more...)
		}
		seen := map[string]bool{}
		for _, h := range hs {
			if seen[h.Name()] {
				continue
			}
			seen[h.Name()] = true
			d.Holders = append(d.Holders, Holder{On: n, Name: h.Name(), Label: holderLabel(fsys, h.Name())})
		}
	}
	if err := d.readMounts(fsys, nums, names); err != nil {
		return nil, err
	}
	if err := d.readSwaps(fsys, names); err != nil {
		return nil, err
	}
	return d, nil
}

// readMounts finds the mounts whose device number or source is the device
// or one of its partitions. The number alone misses btrfs, whose mounts
// carry an anonymous device number.
func (d *Device) readMounts(fsys fs.FS, nums map[string]string, names []string) error {
	b, err := fs.ReadFile(fsys, "proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("reading the mount table to see whether %s is in use: %w", d.Path, err)
	}
	isOurs := map[string]bool{}
	for _, n := range names {
		isOurs["/dev/"+n] = true
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// ID parent major:minor root point options [optional...] - type source super
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		src := ""
		for i := 5; i < len(f); i++ {
			if f[i] == "-" && i+2 < len(f) {
				src = f[i+2]
				break
			}
		}
		on, ok := nums[f[2]]
		if !ok && isOurs[src] {
			on, ok = path.Base(src), true
		}
		if !ok {
			continue
		}
		point := unescapeMount(f[4])
		d.Mounts = append(d.Mounts, Mount{Source: on, Point: point, Root: point == "/"})
	}
	return sc.Err()
}

// readSwaps finds the device or its partitions in /proc/swaps.
func (d *Device) readSwaps(fsys fs.FS, names []string) error {
	b, err := fs.ReadFile(fsys, "proc/swaps")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // a kernel without swap support
		}
		return fmt.Errorf("reading the swap table to see whether %s is in use: %w", d.Path, err)
	}
	ours := map[string]bool{}
	for _, n := range names {
		ours["/dev/"+n] = true
	}
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) == 0 {
			continue
		}
		if src := unescapeMount(f[0]); ours[src] {
			d.Swaps = append(d.Swaps, path.Base(src))
		}
	}
	return nil
}

// unescapeMount undoes the octal escapes (\040 for a space) of the mount
// and swap tables.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// model reads "vendor model" (SCSI, USB) or the name of an MMC card.
func model(fsys fs.FS, dir string) string {
	vendor, _ := readString(fsys, dir+"/device/vendor")
	m, _ := readString(fsys, dir+"/device/model")
	if m == "" {
		m, _ = readString(fsys, dir+"/device/name")
	}
	if strings.HasPrefix(vendor, "0x") {
		vendor = "" // a PCI vendor number (virtio, NVMe) says nothing
	}
	return strings.TrimSpace(vendor + " " + m)
}

// transport works out how the device is attached from where its sysfs
// directory lies (a path through a USB controller means USB), and from
// its name when that is not known.
func transport(fsys fs.FS, dir, name string) string {
	target, _ := fs.ReadLink(fsys, dir)
	t := "/" + target + "/"
	switch {
	case strings.Contains(t, "/usb"):
		return "usb"
	case strings.Contains(t, "/mmc_host/") || strings.HasPrefix(name, "mmcblk"):
		return "mmc"
	case strings.HasPrefix(name, "nvme"):
		return "nvme"
	case strings.HasPrefix(name, "loop"):
		return "loop"
	case strings.Contains(t, "/virtio") || strings.HasPrefix(name, "vd"):
		return "virtio"
	case strings.Contains(t, "/ata"):
		return "sata"
	case strings.HasPrefix(name, "sr"):
		return "optical"
	}
	return ""
}

// holderLabel names a holder by its device-mapper or md name.
func holderLabel(fsys fs.FS, name string) string {
	if s, err := readString(fsys, "sys/class/block/"+name+"/dm/name"); err == nil && s != "" {
		return s
	}
	if s, err := readString(fsys, "sys/class/block/"+name+"/md/array_state"); err == nil && s != "" {
		return "md array, " + s
	}
	return ""
}

// List describes the whole block devices in fsys that an image could go
// to, removable ones first, then by name. It leaves out devices without
// media (size 0), RAM disks, zram, and the partitions and holders
// themselves.
func List(fsys fs.FS) ([]*Device, error) {
	entries, err := fs.ReadDir(fsys, "sys/block")
	if err != nil {
		return nil, fmt.Errorf("listing block devices: %w", err)
	}
	var out []*Device
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "ram") || strings.HasPrefix(n, "zram") || strings.HasPrefix(n, "dm-") || strings.HasPrefix(n, "md") {
			continue
		}
		d, err := Describe(fsys, n)
		if err != nil {
			return nil, err
		}
		if d.Size == 0 || d.Partition {
			continue
		}
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Removable() != out[j].Removable() {
			return out[i].Removable()
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

func readString(fsys fs.FS, name string) (string, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func readInt(fsys fs.FS, name string) (int64, error) {
	s, err := readString(fsys, name)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}
