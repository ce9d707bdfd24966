package remaster

import (
	"fmt"

	"github.com/isobuild/isobuild/pkg/iso"
)

// UDFError is returned by Overlay for a UDF bridge image (ISO 9660 and UDF
// sharing the files, as on Windows media): the UDF file system would keep
// pointing at the old files.
type UDFError struct{ Offset int64 }

func (e *UDFError) Error() string {
	return fmt.Sprintf("the image is a UDF bridge (a UDF volume recognition sequence at byte %d): its UDF file system cannot be kept consistent, so it is not remastered", e.Offset)
}

// ChecksumError is returned by Overlay for an image with an implanted
// media checksum (implantisomd5, in the primary descriptor's
// application-use area) that isobuild cannot recompute: a damaged one, or
// one in a place checkisomd5 would not find. Every change to the image
// invalidates the checksum, and the boot menu's media check would then
// fail; a readable one is recomputed (see implantChecksum).
type ChecksumError struct {
	Offset int64
	Kind   string
	Err    error
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("the image carries an implanted %s at byte %d that isobuild cannot recompute, so the customized image would fail the media check: %v", e.Kind, e.Offset, e.Err)
}

func (e *ChecksumError) Unwrap() error { return e.Err }

// Integrity checks that nothing in the image would silently go stale when
// files are appended: a UDF bridge, or an implanted media checksum that
// cannot be recomputed. It returns a *UDFError or a *ChecksumError, or
// nil.
func (im *Image) Integrity() error {
	descs := im.ISO.Descriptors()
	if len(descs) == 0 {
		return nil
	}
	// The volume recognition sequence of UDF follows the ISO 9660
	// descriptors and their terminator.
	start := descs[len(descs)-1].Offset + 2*iso.SectorSize
	buf := make([]byte, 8)
	for i := int64(0); i < 16; i++ {
		off := start + i*iso.SectorSize
		if off+int64(len(buf)) > im.size {
			break
		}
		if _, err := im.r.ReadAt(buf, off); err != nil {
			return fmt.Errorf("reading sector %d: %w", off/iso.SectorSize, err)
		}
		switch string(buf[1:6]) {
		case "BEA01", "NSR02", "NSR03":
			return &UDFError{Offset: off}
		}
	}
	_, err := im.implantedChecksum()
	return err
}
