package embed

import (
	"errors"
	"fmt"

	"github.com/isobuild/isobuild/pkg/overlay"
	"github.com/isobuild/isobuild/pkg/remaster"
)

// growUnit is the granularity of a grown initrd area: the size of the area
// that CoreOS images reserve, so that a config a little larger than the
// first one still fits the grown area in place.
const growUnit = 256 << 10

// NotGrowableError reports an initrd area too small for the archive that
// cannot grow: it is a part of a file that holds other data (the s390x
// images/cdboot.img), not a file of its own.
type NotGrowableError struct {
	Area Area
	Need int64
}

func (e *NotGrowableError) Error() string {
	return fmt.Sprintf("initrd embed area %s (offset %d, %d bytes) is too small for a %d-byte archive, and it cannot grow: it is a part of %s, which holds other boot data", e.Area.File, e.Area.Offset, e.Area.Length, e.Need, e.Area.File)
}

func (e *NotGrowableError) Unwrap() error { return &TooLargeError{Area: e.Area, Need: e.Need} }

// ErrGrownTooSmall is returned when an image whose area isobuild already
// grew needs a still larger one: it must be grown again from the image it
// was made from.
var ErrGrownTooSmall = errors.New("the initrd embed area was already grown by isobuild and is too small for this archive: grow it again from the original image (isobuild iso reset -o BASE.iso gives it back)")

// grow returns the image with the initrd area file relocated to an extent
// appended after the image, sized for data (rounded up to growUnit) and
// holding it, and with c's kernel arguments; package remaster repoints the
// file in every tree, grows the volume and the partition tables, and keeps
// a reset record. Every boot entry of a CoreOS image loads the area file
// by path, and igninfo.json names it by path, so nothing else changes.
func (im *Image) grow(c Changes, data []byte) (*overlay.Image, error) {
	need := int64(len(data))
	if !im.Initrd.wholeFile(im.ISO) {
		return nil, &NotGrowableError{Area: im.Initrd, Need: need}
	}
	rm, err := remaster.Open(im.r, im.ISO.Size())
	if err != nil {
		return nil, fmt.Errorf("growing the initrd embed area: %w", err)
	}
	if rm.Record() != nil {
		return nil, ErrGrownTooSmall
	}
	area := make([]byte, (need+growUnit-1)/growUnit*growUnit)
	copy(area, data)
	kr, err := im.kargRegions(c)
	if err != nil {
		return nil, err
	}
	change := remaster.Change{
		Files:       []remaster.File{{Path: "/" + im.Initrd.File, Data: area}},
		Description: c.Description,
	}
	for _, r := range kr {
		change.Patches = append(change.Patches, remaster.Patch{Off: r.offset, Data: r.data})
	}
	ov, err := rm.Overlay(change)
	if err != nil {
		return nil, fmt.Errorf("growing the initrd embed area %s to %d bytes: %w", im.Initrd.File, len(area), err)
	}
	im.grown = int64(len(area))
	return ov, nil
}

// Grown returns the size of the initrd area that the last Overlay call
// grew, or 0 if it did not grow it.
func (im *Image) Grown() int64 { return im.grown }
