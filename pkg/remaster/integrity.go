package remaster

import (
	"bytes"
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
// application-use area): every change to the image invalidates it, and the
// boot menu's media check would then fail.
type ChecksumError struct {
	Offset int64
	Kind   string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("the image carries an implanted %s at byte %d, which any change invalidates and which isobuild does not recompute yet", e.Kind, e.Offset)
}

// Integrity checks that nothing in the image would silently go stale when
// files are appended: a UDF bridge or an implanted media checksum. It
// returns a *UDFError or a *ChecksumError, or nil.
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
	pvd := im.ISO.Primary().Offset
	app := make([]byte, 512)
	if _, err := im.r.ReadAt(app, pvd+883); err != nil {
		return fmt.Errorf("reading the primary descriptor: %w", err)
	}
	if i := bytes.Index(app, []byte("ISO MD5SUM = ")); i >= 0 {
		return &ChecksumError{Offset: pvd + 883 + int64(i), Kind: "media checksum (implantisomd5, checked by the rd.live.check boot option and checkisomd5)"}
	}
	return nil
}
