package embed

import (
	"errors"
	"fmt"
	"sort"

	"github.com/isobuild/isobuild/pkg/iso"
)

// ErrCorrupt is wrapped by the errors of Open for an image whose embed
// areas cannot be right: areas that overlap each other or the metadata
// that describes them, or that reach outside the file holding them.
// Writing such an image would destroy part of it.
var ErrCorrupt = errors.New("corrupted image")

// Extent is a named run of bytes of an image, for messages.
type Extent struct {
	What   string
	Offset int64
	Length int64
}

func (e Extent) String() string {
	return fmt.Sprintf("%s (offset %d, %d bytes)", e.What, e.Offset, e.Length)
}

func (e Extent) end() int64 { return e.Offset + e.Length }

// OverlapError reports two regions of an image that must be disjoint but
// overlap: a write to one would change the other.
type OverlapError struct {
	A, B Extent
}

func (e *OverlapError) Error() string {
	return fmt.Sprintf("image is corrupted: %s overlaps %s", e.A, e.B)
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *OverlapError) Unwrap() error { return ErrCorrupt }

// OutsideError reports an area that reaches beyond the file that holds it.
type OutsideError struct {
	Area Extent
	// File is the extent of the containing file.
	File Extent
}

func (e *OutsideError) Error() string {
	return fmt.Sprintf("image is corrupted: %s lies outside %s", e.Area, e.File)
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *OutsideError) Unwrap() error { return ErrCorrupt }

// within checks that area lies inside the file of record rec.
func within(area Extent, path string, rec iso.Record) error {
	file := Extent{What: "file " + path, Offset: rec.Offset, Length: rec.Length}
	if area.Offset < file.Offset || area.end() > file.end() {
		return &OutsideError{Area: area, File: file}
	}
	return nil
}

// checkLayout checks that no two of the regions an edit writes or relies
// on overlap: the initrd embed area, every karg area, the default kargs
// block and header of old images, and the metadata files that describe
// the areas. It runs in Open, so that no command proceeds on such an image.
func checkLayout(img *iso.Image, initrdArea Area, kargs *KargAreas, extra []Extent) error {
	regions := []Extent{{What: "initrd embed area in " + Quote(initrdArea.File), Offset: initrdArea.Offset, Length: initrdArea.Length}}
	// The volume descriptors, which a karg area of the legacy header
	// (confined to no file) could otherwise point at.
	for _, d := range img.Descriptors() {
		regions = append(regions, Extent{What: "ISO 9660 volume descriptor", Offset: d.Offset, Length: iso.SectorSize})
	}
	for _, path := range []string{IgnInfoPath, KargsInfoPath, FeaturesPath} {
		if rec, err := img.Lookup(path); err == nil && !rec.IsDir && rec.Length > 0 {
			regions = append(regions, Extent{What: "metadata file " + path, Offset: rec.Offset, Length: rec.Length})
		}
	}
	if kargs != nil {
		for _, a := range kargs.Areas {
			what := "karg area"
			if a.File != "" {
				what += " in " + Quote(a.File)
			}
			regions = append(regions, Extent{What: what, Offset: a.Offset, Length: int64(a.Length)})
		}
	}
	regions = append(regions, extra...)
	sort.SliceStable(regions, func(i, j int) bool { return regions[i].Offset < regions[j].Offset })
	// After sorting by start, a region overlaps some earlier one exactly
	// when it starts before the furthest end seen so far.
	far := 0
	for i := 1; i < len(regions); i++ {
		if regions[i].Offset < regions[far].end() {
			return &OverlapError{A: regions[far], B: regions[i]}
		}
		if regions[i].end() > regions[far].end() {
			far = i
		}
	}
	return nil
}
