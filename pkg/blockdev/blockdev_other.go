//go:build !linux

package blockdev

import (
	"fmt"
	"runtime"
)

// errPlatform explains what to use instead on platforms where writing to
// devices is not implemented.
func errPlatform() error {
	var alt string
	switch runtime.GOOS {
	case "darwin":
		alt = "find the disk with 'diskutil list', then 'diskutil unmountDisk /dev/diskN' and 'sudo dd if=IMAGE of=/dev/rdiskN bs=4m'"
	case "windows":
		alt = "use Rufus (in DD image mode) or balenaEtcher to write the image to the stick"
	default:
		alt = "unmount the device and use 'dd if=IMAGE of=DEVICE bs=4M conv=fsync'"
	}
	return fmt.Errorf("%w on %s yet: %s", ErrUnsupported, runtime.GOOS, alt)
}

// Lookup is implemented on Linux only.
func Lookup(path string) (*Device, error) { return nil, errPlatform() }

// Candidates is implemented on Linux only.
func Candidates() ([]*Device, error) { return nil, errPlatform() }

// File is an opened block device; Open is implemented on Linux only.
type File struct{}

// Open is implemented on Linux only.
func Open(d *Device) (*File, error) { return nil, errPlatform() }

func (*File) WriteAt(p []byte, off int64) (int, error) { return 0, errPlatform() }
func (*File) ReadAt(p []byte, off int64) (int, error)  { return 0, errPlatform() }
func (*File) Sync() error                              { return errPlatform() }
func (*File) DropCache() error                         { return errPlatform() }
func (*File) Name() string                             { return "" }
func (*File) Close() error                             { return nil }
