package blockdev

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// fakeDisk is one disk of a fake sysfs.
type fakeDisk struct {
	name      string
	link      string // where sys/class/block/NAME points, under sys/devices
	num       string
	sectors   string
	removable string
	ro        string
	vendor    string
	model     string
	parts     map[string]string   // partition name -> dev number
	holders   map[string][]string // disk or partition name -> holders
}

// fakeSystem builds a fake root with sysfs and procfs holding disks, the
// mount table and the swap table.
func fakeSystem(mountinfo, swaps string, disks ...fakeDisk) fstest.MapFS {
	m := fstest.MapFS{
		"proc/self/mountinfo": {Data: []byte(mountinfo)},
		"proc/swaps":          {Data: []byte("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n" + swaps)},
	}
	file := func(p, s string) { m[p] = &fstest.MapFile{Data: []byte(s + "\n")} }
	for _, d := range disks {
		real := "sys/devices/" + d.link
		rel := "../../devices/" + d.link
		m["sys/class/block/"+d.name] = &fstest.MapFile{Mode: fs.ModeSymlink, Data: []byte(rel)}
		m["sys/block/"+d.name] = &fstest.MapFile{Mode: fs.ModeSymlink, Data: []byte(rel)}
		file(real+"/dev", d.num)
		file(real+"/size", d.sectors)
		file(real+"/removable", d.removable)
		ro := d.ro
		if ro == "" {
			ro = "0"
		}
		file(real+"/ro", ro)
		if d.vendor != "" {
			file(real+"/device/vendor", d.vendor)
		}
		if d.model != "" {
			file(real+"/device/model", d.model)
		}
		m[real+"/holders"] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
		for p, num := range d.parts {
			m["sys/class/block/"+p] = &fstest.MapFile{Mode: fs.ModeSymlink, Data: []byte(rel + "/" + p)}
			file(real+"/"+p+"/dev", num)
			file(real+"/"+p+"/size", "2048")
			file(real+"/"+p+"/partition", "1")
			m[real+"/"+p+"/holders"] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
		}
		for on, hs := range d.holders {
			dir := real + "/holders/"
			if on != d.name {
				dir = real + "/" + on + "/holders/"
			}
			for _, h := range hs {
				m[dir+h] = &fstest.MapFile{Mode: fs.ModeSymlink, Data: []byte("../../../../../virtual/block/" + h)}
				m["sys/class/block/"+h] = &fstest.MapFile{Mode: fs.ModeSymlink, Data: []byte("../../devices/virtual/block/" + h)}
				file("sys/devices/virtual/block/"+h+"/dev", "253:0")
				file("sys/devices/virtual/block/"+h+"/size", "2048")
				file("sys/devices/virtual/block/"+h+"/dm/name", "fedora-root")
			}
		}
	}
	return m
}

const rootMounts = `22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw
28 27 8:1 / /boot rw,relatime shared:2 - ext4 /dev/sda1 rw
`

var (
	sata = fakeDisk{name: "sda", link: "pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda", num: "8:0",
		sectors: "1953525168", removable: "0", vendor: "ATA", model: "Samsung SSD 870",
		parts: map[string]string{"sda1": "8:1", "sda2": "8:2"}}
	stick = fakeDisk{name: "sdb", link: "pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb", num: "8:16",
		sectors: "60063744", removable: "1", vendor: "SanDisk", model: "Ultra",
		parts: map[string]string{"sdb1": "8:17", "sdb2": "8:18"}}
	// A USB SSD: the kernel clears the removable flag, the transport is USB.
	usbSSD = fakeDisk{name: "sdc", link: "pci0000:00/0000:00:14.0/usb3/3-2/3-2:1.0/host7/target7:0:0/7:0:0:0/block/sdc", num: "8:32",
		sectors: "1000215216", removable: "0", vendor: "Samsung", model: "PSSD T7"}
	sdcard = fakeDisk{name: "mmcblk0", link: "platform/fe340000.mmc/mmc_host/mmc0/mmc0:aaaa/block/mmcblk0", num: "179:0",
		sectors: "62333952", removable: "0"}
)

func describe(t *testing.T, fsys fs.FS, name string) *Device {
	t.Helper()
	d, err := Describe(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDescribe(t *testing.T) {
	fsys := fakeSystem(rootMounts, "", sata, stick, usbSSD, sdcard)
	d := describe(t, fsys, "sdb")
	if d.Path != "/dev/sdb" || d.Size != 60063744*512 || d.Model != "SanDisk Ultra" || d.Transport != "usb" || !d.Removable() ||
		len(d.Partitions) != 2 || len(d.Mounts) != 0 || len(d.Holders) != 0 || d.Partition {
		t.Errorf("stick: %+v", d)
	}
	if got, want := d.Summary(), `/dev/sdb "SanDisk Ultra", 28.6 GiB, usb, removable`; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	if d := describe(t, fsys, "sda"); d.Transport != "sata" || d.Removable() || len(d.Mounts) != 2 || !d.Mounts[0].Root {
		t.Errorf("sata: %+v", d)
	}
	if d := describe(t, fsys, "sdc"); d.Transport != "usb" || d.RemovableFlag || !d.Removable() {
		t.Errorf("usb ssd: %+v", d)
	}
	if d := describe(t, fsys, "mmcblk0"); d.Transport != "mmc" || !d.Removable() {
		t.Errorf("sd card: %+v", d)
	}
	if d := describe(t, fsys, "sdb1"); !d.Partition || d.Disk != "sdb" {
		t.Errorf("partition: %+v", d)
	}
	for _, bad := range []string{"", "..", "../sda", "sdz"} {
		if _, err := Describe(fsys, bad); err == nil {
			t.Errorf("Describe(%q) succeeded", bad)
		}
	}
}

func TestList(t *testing.T) {
	fsys := fakeSystem(rootMounts, "", sata, stick, usbSSD, sdcard)
	ds, err := List(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range ds {
		names = append(names, d.Name)
	}
	if got, want := strings.Join(names, " "), "mmcblk0 sdb sdc sda"; got != want {
		t.Errorf("List = %s, want %s (removable first)", got, want)
	}
}

func TestCheck(t *testing.T) {
	const image = 1 << 30
	yes := CheckOptions{Yes: true}
	for _, tc := range []struct {
		name      string
		mountinfo string
		swaps     string
		disk      fakeDisk
		dev       string
		size      int64
		opts      CheckOptions
		want      error
		mention   []string
	}{
		{name: "ok", disk: stick, opts: yes},
		{name: "ok on a terminal", disk: stick, opts: CheckOptions{Terminal: true}},
		{name: "no terminal, no --yes", disk: stick, want: ErrNoConfirmation, mention: []string{"/dev/sdb", "--yes"}},
		{name: "mounted partition",
			mountinfo: rootMounts + "40 27 8:17 / /run/media/me/MY\\040STICK rw - vfat /dev/sdb1 rw\n",
			disk:      stick, opts: yes, want: ErrInUse, mention: []string{"/dev/sdb1 on /run/media/me/MY STICK", "umount '/run/media/me/MY STICK'"}},
		{name: "mounted whole disk", mountinfo: rootMounts + "40 27 8:16 / /mnt rw - iso9660 /dev/sdb ro\n",
			disk: stick, opts: yes, want: ErrInUse, mention: []string{"/dev/sdb on /mnt"}},
		{name: "btrfs mount by source", mountinfo: rootMounts + "41 27 0:45 / /data rw - btrfs /dev/sdb2 rw\n",
			disk: stick, opts: yes, want: ErrInUse, mention: []string{"/dev/sdb2 on /data"}},
		{name: "root disk", mountinfo: rootMounts, disk: sata, opts: CheckOptions{Yes: true, Force: true}, want: ErrInUse,
			mention: []string{"/dev/sda2", "root file system"}},
		{name: "swap", swaps: "/dev/sdb2                               partition\t2097148\t\t0\t\t-2\n", disk: stick, opts: yes,
			want: ErrInUse, mention: []string{"swap", "swapoff /dev/sdb2"}},
		{name: "dm holder", disk: func() fakeDisk {
			d := stick
			d.holders = map[string][]string{"sdb2": {"dm-0"}}
			return d
		}(), opts: yes, want: ErrInUse, mention: []string{"/dev/sdb2 by dm-0 (fedora-root)", "vgchange"}},
		{name: "holder of the whole disk", disk: func() fakeDisk {
			d := stick
			d.holders = map[string][]string{"sdb": {"md127"}}
			return d
		}(), opts: yes, want: ErrInUse, mention: []string{"/dev/sdb by md127"}},
		{name: "too small", disk: stick, size: 64 << 30, opts: yes, want: ErrTooSmall, mention: []string{"28.6 GiB", "64.0 GiB"}},
		{name: "exactly the size", disk: stick, size: 60063744 * 512, opts: yes},
		{name: "read-only", disk: func() fakeDisk { d := stick; d.ro = "1"; return d }(), opts: yes, want: ErrReadOnly},
		{name: "not removable", disk: sata, mountinfo: "", opts: yes, want: ErrNotRemovable, mention: []string{"--force", "sata"}},
		{name: "not removable, forced", disk: sata, mountinfo: "", opts: CheckOptions{Yes: true, Force: true}},
		{name: "forced is not confirmed", disk: sata, mountinfo: "", opts: CheckOptions{Force: true}, want: ErrNoConfirmation},
		{name: "usb ssd", disk: usbSSD, opts: yes},
		{name: "partition", disk: stick, dev: "sdb1", opts: yes, want: ErrPartition, mention: []string{"/dev/sdb1", "/dev/sdb"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mi := tc.mountinfo
			if mi == "" && tc.disk.name != "sda" {
				mi = rootMounts
			}
			d := describe(t, fakeSystem(mi, tc.swaps, tc.disk), func() string {
				if tc.dev != "" {
					return tc.dev
				}
				return tc.disk.name
			}())
			size := tc.size
			if size == 0 {
				size = image
			}
			err := Check(d, size, tc.opts)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var re *RefusedError
			if !errors.Is(err, tc.want) || !errors.As(err, &re) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
			for _, s := range append(tc.mention, "refusing to write to "+d.Path) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/x\011`: "/x\t", `/trail\04`: `/trail\04`, `/plain`: "/plain", `\\`: `\\`} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDescribe feeds arbitrary mount and swap tables and sysfs values.
func FuzzDescribe(f *testing.F) {
	f.Add(rootMounts, "/dev/sdb2 partition 1 0 -2\n", "60063744", "8:16")
	f.Add("1 2 8:17 / /a\\040b - vfat /dev/sdb1 rw\n", "", "x", "")
	f.Fuzz(func(t *testing.T, mountinfo, swaps, sectors, num string) {
		d := stick
		d.sectors, d.num = sectors, num
		dev, err := Describe(fakeSystem(mountinfo, swaps, d), "sdb")
		if err != nil {
			return
		}
		Check(dev, 1<<20, CheckOptions{})
		dev.Summary()
	})
}
