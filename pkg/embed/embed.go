// Package embed finds, reads and plans the rewriting of the embed areas of
// CoreOS live ISO images.
//
// In isobuild's pipeline, Butane → Ignition → initramfs → overlay → output,
// this package turns the initramfs files of a customization (package
// installer, archived by package initrd) and kernel-argument edits into an
// overlay.Image of the live ISO.
//
// A Fedora CoreOS, RHCOS or SCOS live ISO reserves fixed-size areas that can
// be rewritten without remastering the image:
//
//   - one initrd embed area (images/ignition.img, or the region named by
//     coreos/igninfo.json), which every boot entry already loads as an extra
//     initramfs. It holds an xz-compressed newc cpio archive with the live
//     Ignition config (config.ign) and NetworkManager keyfiles
//     (etc/coreos-firstboot-network/*), followed by zero padding;
//   - zero or more kernel-argument areas inside the bootloader configs (or
//     the s390x boot image), listed in coreos/kargs.json or, on old images,
//     in a header in the ISO9660 system area. Each holds the same command
//     line followed by an end byte and padding.
//
// Nothing else in the image changes, so El Torito records, the hybrid MBR and
// GPT, and the volume label survive untouched.
//
// [Open] inspects an image through an io.ReaderAt, reading only metadata and
// the areas. Methods of [Image] such as EmbedIgnition, ModifyKargs, Reset and
// Customize compute the new contents of the areas as [Changes] without
// writing anything; [Image.Overlay] checks every capacity and returns the
// edited image as an overlay.Image whose patches are the new areas, ready
// for any output (a new file, a stream, the image itself). Customize gets
// the initramfs files of an installer customization from package installer.
// The formats are coreos-installer's, so each tool reads what the other
// wrote.
package embed

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/isobuild/isobuild/pkg/initrd"
	"github.com/isobuild/isobuild/pkg/installer"
	"github.com/isobuild/isobuild/pkg/iso"
	"github.com/isobuild/isobuild/pkg/overlay"
	"github.com/isobuild/isobuild/pkg/remaster"
)

// ISO9660 names of the CoreOS metadata files (the primary tree spells them
// upper-case and 8.3; their Rock Ridge names are in parentheses).
const (
	// IgnInfoPath (coreos/igninfo.json) locates the initrd embed area.
	IgnInfoPath = "COREOS/IGNINFO.JSO"
	// DefaultInitrdPath (images/ignition.img) is the initrd embed area of
	// images without igninfo.json.
	DefaultInitrdPath = "IMAGES/IGNITION.IMG"
	// FeaturesPath (coreos/features.json) lists what the OS supports.
	FeaturesPath = "COREOS/FEATURES.JSO"
	// PXEDir (images/pxeboot) holds the kernel, initramfs and rootfs.
	PXEDir = "IMAGES/PXEBOOT"
)

// Limits that keep a corrupt or hostile image from making Open allocate
// without bound. Real initrd areas are 256 KiB; some products enlarge them
// to a few MiB. The JSON metadata files are a few hundred bytes.
const (
	MaxInitrdAreaSize = 64 << 20
	maxMetadataSize   = 1 << 20
)

// ErrUnrecognized is returned for an image without an initrd embed area.
var ErrUnrecognized = errors.New("unrecognized CoreOS live ISO image")

// Area is the initrd embed area: Length bytes at absolute Offset.
type Area struct {
	// File is the ISO9660 path of the file that holds the area.
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
}

// wholeFile reports whether the area is all of its file (images/ignition.img),
// which can grow by relocating the file; a part of a file (the s390x
// cdboot.img) cannot.
func (a Area) wholeFile(img *iso.Image) bool {
	rec, err := img.Lookup(a.File)
	return err == nil && rec.Offset == a.Offset && rec.Length == a.Length
}

// Image is an opened CoreOS live ISO.
type Image struct {
	// ISO is the parsed ISO9660 image.
	ISO *iso.Image
	// Initrd is the initrd embed area.
	Initrd Area
	// InitrdUsed is the number of bytes of the initrd area in use: up to
	// the last non-zero byte, rounded up to the 4-byte xz stream alignment.
	InitrdUsed int64
	// Kargs describes the karg embed areas, or is nil when there are none.
	Kargs *KargAreas

	r       io.ReaderAt
	members initrd.Files
	grown   int64 // see Grown
}

// Open parses the image, locates its embed areas and decodes the initrd
// area. It reads only metadata and the areas, never the whole image.
func Open(r io.ReaderAt, size int64) (*Image, error) {
	img, err := iso.Open(r, size)
	if err != nil {
		return nil, fmt.Errorf("parsing ISO9660 image: %w", err)
	}
	area, err := findInitrdArea(img)
	if errors.Is(err, ErrCorrupt) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w (%w)", ErrUnrecognized, err)
	}
	if area.Length > MaxInitrdAreaSize {
		return nil, fmt.Errorf("%w (initrd embed area of %d bytes at offset %d is larger than the %d bytes isobuild accepts)", ErrUnrecognized, area.Length, area.Offset, MaxInitrdAreaSize)
	}
	kargs, extra, err := findKargAreas(img, r)
	if err != nil {
		return nil, err
	}
	if err := checkLayout(img, area, kargs, extra); err != nil {
		return nil, err
	}
	data := make([]byte, area.Length)
	if _, err := r.ReadAt(data, area.Offset); err != nil {
		return nil, fmt.Errorf("%w (reading initrd embed area at offset %d: %w)", ErrUnrecognized, area.Offset, err)
	}
	members, err := initrd.DecodeArea(data)
	if err != nil {
		return nil, fmt.Errorf("decoding initrd embed area %s (offset %d, %d bytes): %w", area.File, area.Offset, area.Length, err)
	}
	used := int64(len(data))
	for used > 0 && data[used-1] == 0 {
		used--
	}
	used = min((used+3)&^3, area.Length)
	return &Image{ISO: img, Initrd: area, InitrdUsed: used, Kargs: kargs, r: r, members: members}, nil
}

type ignInfo struct {
	File   *string `json:"file"`
	Offset *int64  `json:"offset"`
	Length *int64  `json:"length"`
}

func findInitrdArea(img *iso.Image) (Area, error) {
	info := ignInfo{}
	raw, err := readMetadata(img, IgnInfoPath)
	switch {
	case err == nil:
		if err := json.Unmarshal(raw, &info); err != nil {
			return Area{}, fmt.Errorf("decoding igninfo %s: %w", IgnInfoPath, err)
		}
		if info.File == nil {
			return Area{}, fmt.Errorf("decoding igninfo %s: missing \"file\"", IgnInfoPath)
		}
	case errors.Is(err, iso.ErrNotFound):
		def := DefaultInitrdPath
		info.File = &def
	default:
		return Area{}, fmt.Errorf("reading igninfo %s: %w", IgnInfoPath, err)
	}
	name := strings.ToUpper(*info.File)
	rec, err := img.Lookup(name)
	if err != nil {
		return Area{}, fmt.Errorf("looking up initrd embed area %s: %w", Quote(name), err)
	}
	if rec.IsDir {
		return Area{}, fmt.Errorf("entry %s is a directory", Quote(name))
	}
	var off int64
	if info.Offset != nil {
		off = *info.Offset
	}
	if off < 0 || off > rec.Length {
		return Area{}, fmt.Errorf("igninfo offset %d lies outside %s (%d bytes)", off, name, rec.Length)
	}
	length := rec.Length - off
	if info.Length != nil {
		length = *info.Length
	}
	a := Area{File: name, Offset: rec.Offset + off, Length: length}
	if length <= 0 || a.Offset+length > img.Size() {
		return Area{}, fmt.Errorf("initrd embed area at offset %d, length %d lies outside the %d-byte image", a.Offset, length, img.Size())
	}
	if err := within(Extent{What: "initrd embed area", Offset: a.Offset, Length: a.Length}, Quote(name), rec); err != nil {
		return Area{}, err
	}
	return a, nil
}

// readMetadata reads a small JSON metadata file, refusing absurd sizes.
func readMetadata(img *iso.Image, path string) ([]byte, error) {
	rec, err := img.Lookup(path)
	if err != nil {
		return nil, err
	}
	if rec.Length > maxMetadataSize {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d bytes a metadata file may have", path, rec.Length, maxMetadataSize)
	}
	return img.ReadFile(path)
}

// Members returns a copy of the files in the initrd embed area.
func (im *Image) Members() initrd.Files {
	out := make(initrd.Files, len(im.members))
	for k, v := range im.members {
		out[k] = v
	}
	return out
}

// Config returns the embedded live Ignition config, if any.
func (im *Image) Config() ([]byte, bool) {
	c, ok := im.members[installer.ConfigMember]
	return c, ok
}

// NetworkFiles returns the embedded network keyfiles keyed by member path.
func (im *Image) NetworkFiles() initrd.Files {
	out := initrd.Files{}
	for k, v := range im.members {
		if installer.IsNetworkMember(k) {
			out[k] = v
		}
	}
	return out
}

// CurrentKargs returns the kernel arguments stored in the karg areas.
func (im *Image) CurrentKargs() (string, error) {
	if im.Kargs == nil {
		return "", ErrNoKargAreas
	}
	return im.Kargs.current(im.r)
}

// DefaultKargs returns the pristine kernel arguments of the image.
func (im *Image) DefaultKargs() (string, error) {
	if im.Kargs == nil {
		return "", ErrNoKargAreas
	}
	return im.Kargs.Default, nil
}

// Features reads coreos/features.json (all false when it is absent).
func (im *Image) Features() (installer.Features, error) {
	raw, err := readMetadata(im.ISO, FeaturesPath)
	if errors.Is(err, iso.ErrNotFound) {
		return installer.Features{}, nil
	}
	if err != nil {
		return installer.Features{}, fmt.Errorf("reading %s: %w", FeaturesPath, err)
	}
	f, err := installer.ParseFeatures(raw)
	if err != nil {
		return installer.Features{}, fmt.Errorf("decoding %s: %w", FeaturesPath, err)
	}
	return f, nil
}

// customized reports whether the image carries customizations: a live
// config, network keyfiles, or kernel arguments other than the default.
// Other members of the initrd area do not count.
func (im *Image) customized() (bool, error) {
	if _, ok := im.Config(); ok {
		return true, nil
	}
	if len(im.NetworkFiles()) > 0 {
		return true, nil
	}
	if im.Kargs != nil {
		cur, err := im.CurrentKargs()
		if err != nil {
			return false, err
		}
		if cur != im.Kargs.Default {
			return true, nil
		}
	}
	return false, nil
}

// Changes collects the new contents of an image's embed areas. The zero
// value of a field leaves that part as it is, except that the initrd area is
// always rewritten from Members (coreos-installer does the same), so a
// caller starts from Image.Members.
type Changes struct {
	// Members is the complete new set of initrd area files.
	Members initrd.Files
	// Kargs, when non-nil, is the new kernel command line for every area.
	Kargs *string
	// Grow lets Overlay relocate an initrd area that is too small for
	// Members to a larger extent appended after the image (see
	// Image.Overlay); only for callers that write a new image.
	Grow bool
	// Description is stored in the reset record of a grown image.
	Description remaster.Description
}

// region is a run of bytes to write at an absolute image offset.
type region struct {
	offset int64
	data   []byte
	what   string // names the region in messages
}

// TooLargeError reports an initrd archive that does not fit its area.
type TooLargeError struct {
	Area Area
	Need int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("initrd embed area %s (offset %d, %d bytes) is too small for a %d-byte archive", e.Area.File, e.Area.Offset, e.Area.Length, e.Need)
}

// Overlay checks c against the capacities of the image's areas and returns
// the edited image: the image read through Open, with the new contents of
// the initrd embed area and, when c sets kernel arguments, of every karg
// area as patches. Nothing is written, so a failure here leaves every
// output alone.
func (im *Image) Overlay(c Changes) (*overlay.Image, error) {
	im.grown = 0
	area := make([]byte, im.Initrd.Length)
	if len(c.Members) > 0 {
		data, err := initrd.EncodeXZ(c.Members)
		if err != nil {
			return nil, fmt.Errorf("encoding initrd embed area: %w", err)
		}
		if int64(len(data)) > im.Initrd.Length {
			if !c.Grow {
				return nil, &TooLargeError{Area: im.Initrd, Need: int64(len(data))}
			}
			return im.grow(c, data)
		}
		copy(area, data)
	}
	regions := []region{{offset: im.Initrd.Offset, data: area, what: "initrd embed area"}}
	kr, err := im.kargRegions(c)
	if err != nil {
		return nil, err
	}
	regions = append(regions, kr...)
	sort.SliceStable(regions, func(i, j int) bool { return regions[i].offset < regions[j].offset })
	ov := overlay.New(im.r, im.ISO.Size())
	for _, r := range regions {
		if err := ov.Patch(r.offset, r.data); err != nil {
			return nil, fmt.Errorf("%s at offset %d: %w", r.what, r.offset, err)
		}
	}
	return ov, nil
}

// kargRegions returns the karg area regions of c, if it sets kernel
// arguments.
func (im *Image) kargRegions(c Changes) ([]region, error) {
	var regions []region
	if c.Kargs != nil {
		if im.Kargs == nil {
			return nil, ErrNoKargAreas
		}
		kr, err := im.Kargs.regions(*c.Kargs)
		if err != nil {
			return nil, err
		}
		regions = append(regions, kr...)
	}
	return regions, nil
}
