package remaster

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/isobuild/isobuild/pkg/isomd5"
	"github.com/isobuild/isobuild/pkg/overlay"
)

// Implanted media checksums
//
// Fedora-style images carry an MD5 implanted by implantisomd5 in the
// primary volume descriptor's application-use area, checked by
// checkisomd5 and by the rd.live.check boot option. It covers the whole
// volume, so every remaster changes it; Overlay implants a new one, with
// the base's parameters, as the last step: after the reset record is
// sealed, over the final bytes of the remastered image, record included.
//
// The record and the checksum would depend on each other: the checksum
// covers the record (it lies inside the volume), and the record's guard
// hash covers the volume descriptors, the checksum's text among them. The
// checksum does not cover its own text (checkisomd5 reads the
// application-use area as spaces), so the guard does the same: where the
// application-use area holds an implanted checksum, the guard hashes it
// as spaces (see guardHash). The guard then does not depend on the
// checksum, the record is sealed first, and the checksum is computed last.
// Images without an implanted checksum are hashed as before, so records
// written before this existed still check out.
//
// Giving up the guard on those 512 bytes loses nothing for Reset: the
// primary descriptor's sector is patched by every remaster (the volume
// size), so the record holds its original bytes, and Reset writes the
// base's application-use area back whatever it holds.

// implantChecksum recomputes the media checksum implanted in the base, if
// it has one, over the finished remastered image ov and patches it in.
// covered are the sectors whose original bytes the reset record holds.
// Only images with an implanted checksum pay for the extra read of ov.
func (im *Image) implantChecksum(ov *overlay.Image, covered []overlay.Range) error {
	info, err := im.implantedChecksum()
	if err != nil || info == nil {
		return err
	}
	sum, err := isomd5.Compute(ov, ov.Size(), info.Params)
	if err != nil {
		return &ChecksumError{Offset: info.Offset, Kind: checksumKind, Err: err}
	}
	if !coveredBy(covered, sum.Offset, isomd5.AppSize) {
		return fmt.Errorf("internal error: the media checksum at byte %d lies outside the sectors the reset record keeps", sum.Offset)
	}
	data := sum.AppData()
	if err := ov.Patch(sum.Offset, data); err != nil {
		return fmt.Errorf("implanting the media checksum at byte %d: %w", sum.Offset, err)
	}
	got, err := isomd5.Read(ov, ov.Size())
	if err != nil || got == nil || got.MD5 != sum.MD5 || got.FragmentSums != sum.FragmentSums {
		return fmt.Errorf("internal error: the media checksum implanted at byte %d does not read back (%v)", sum.Offset, err)
	}
	return nil
}

// implantedChecksum returns the base's implanted media checksum, or nil;
// a damaged one is a *ChecksumError.
func (im *Image) implantedChecksum() (*isomd5.Info, error) {
	info, err := isomd5.Read(im.r, im.size)
	if err != nil {
		var fe *isomd5.FormatError
		if errors.As(err, &fe) {
			return nil, &ChecksumError{Offset: fe.Offset, Kind: checksumKind, Err: err}
		}
		return nil, fmt.Errorf("reading the implanted media checksum: %w", err)
	}
	return info, nil
}

const checksumKind = "media checksum (implantisomd5, checked by the rd.live.check boot option and checkisomd5)"

// coveredBy reports whether [off, off+n) lies inside one of the ranges.
func coveredBy(ranges []overlay.Range, off, n int64) bool {
	for _, r := range ranges {
		if r.Offset <= off && off+n <= r.Offset+r.Length {
			return true
		}
	}
	return false
}

// blankChecksum overwrites with spaces the application-use area of the
// primary volume descriptor in head (the first bytes of an image) if it
// holds an implanted media checksum.
func blankChecksum(head []byte) {
	off, err := isomd5.Area(bytes.NewReader(head), int64(len(head)))
	if err != nil || off+isomd5.AppSize > int64(len(head)) {
		return
	}
	if app := head[off : off+isomd5.AppSize]; isomd5.Implanted(app) {
		for i := range app {
			app[i] = ' '
		}
	}
}
