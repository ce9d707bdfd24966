//go:build linux

package blockdev

import (
	"errors"
	"fmt"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// system is the file system holding the running kernel's sysfs and procfs.
var system = os.DirFS("/")

// Lookup describes the block device at path, a device node such as
// /dev/sdb or a link to one such as /dev/disk/by-id/usb-…. It returns
// ErrNotBlockDevice (wrapped) when path is something else.
func Lookup(p string) (*Device, error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return nil, fmt.Errorf("%s: %w", p, ErrNotBlockDevice)
	}
	num := fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	target, err := os.Readlink("/sys/dev/block/" + num)
	if err != nil {
		return nil, fmt.Errorf("%s: finding block device %s in /sys: %w", p, num, err)
	}
	d, err := Describe(system, path.Base(target))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return d, nil
}

// Candidates lists the system's block devices (see List).
func Candidates() ([]*Device, error) { return List(system) }

// File is a block device opened for writing, exclusively.
type File struct {
	f *os.File
	// align is the logical block size when the device is opened with
	// O_DIRECT (writes bypass the page cache, as dd oflag=direct), else 0.
	align int
}

// Open opens the device d describes for writing and reading back. The
// open is exclusive (O_EXCL): the kernel refuses it while the device or
// one of its partitions is mounted or held, closing the gap between Check
// and the write.
func Open(d *Device) (*File, error) {
	flags := os.O_RDWR | unix.O_EXCL | unix.O_CLOEXEC
	direct := true
	f, err := os.OpenFile(d.Path, flags|unix.O_DIRECT, 0)
	if errors.Is(err, unix.EINVAL) {
		// A device or file system without direct I/O.
		direct = false
		f, err = os.OpenFile(d.Path, flags, 0)
	}
	if err != nil {
		if errors.Is(err, unix.EBUSY) {
			return nil, &RefusedError{Device: d.Path, Reason: "the kernel reports it busy (mounted, or held by another program)", Hint: "unmount it or close what uses it, then run again", Err: ErrInUse}
		}
		return nil, fmt.Errorf("opening %s for writing: %w", d.Path, err)
	}
	// The device node may have been replaced between Lookup and here.
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev)) != d.DevNum {
		f.Close()
		return nil, fmt.Errorf("opening %s: it is no longer device %s; look again with 'isobuild write --list'", d.Path, d.DevNum)
	}
	file := &File{f: f}
	if direct {
		ssz, err := unix.IoctlGetInt(int(f.Fd()), unix.BLKSSZGET)
		if err != nil || ssz <= 0 {
			ssz = 4096
		}
		file.align = ssz
	}
	return file, nil
}

// Alignment is the logical block size with O_DIRECT, 1 without (see
// Aligned).
func (f *File) Alignment() int { return max(f.align, 1) }

func (f *File) WriteAt(p []byte, off int64) (int, error) { return f.f.WriteAt(p, off) }
func (f *File) ReadAt(p []byte, off int64) (int, error)  { return f.f.ReadAt(p, off) }
func (f *File) Sync() error                              { return f.f.Sync() }
func (f *File) Name() string                             { return f.f.Name() }

// DropCache flushes and drops the device's buffer cache (BLKFLSBUF, as
// "blockdev --flushbufs" does), so that the read-back reads the medium.
// Without the privilege for that, it asks the kernel to drop the cached
// pages instead (POSIX_FADV_DONTNEED).
func (f *File) DropCache() error {
	if err := unix.IoctlSetInt(int(f.f.Fd()), unix.BLKFLSBUF, 0); err == nil {
		return nil
	}
	return unix.Fadvise(int(f.f.Fd()), 0, 0, unix.FADV_DONTNEED)
}

// Close makes the kernel re-read the new partition table, then closes
// the device.
func (f *File) Close() error {
	// Best effort: the new table also shows after replugging.
	unix.IoctlSetInt(int(f.f.Fd()), unix.BLKRRPART, 0)
	return f.f.Close()
}
