// Package remaster customizes live ISO images that have no embed areas,
// such as Flatcar Container Linux's, without rebuilding them: new and
// changed files are appended after the end of the base image as new
// extents, and the metadata that locates them is repointed in place.
//
// In isobuild's pipeline this package plays the role that package embed
// plays for CoreOS images: it turns a customization into an
// [overlay.Image] (patches of base bytes plus appended extents), which
// every output consumes. A [Change] adds an extra initramfs next to the
// image's own, makes every boot entry (ISOLINUX/SYSLINUX and GRUB, found
// by package bootcfg) load it as its last initramfs, and edits the kernel
// arguments of every entry. The ISO 9660 work (every directory tree:
// primary with Rock Ridge, Joliet, ISO 9660:1999 and the twin trees of a
// partition offset; directory moves; volume sizes) is done by package iso's
// Editor, the MBR, GPT and APM are grown by package sysarea; El Torito
// boot images, boot-info tables, the volume label, the dates and every
// other byte stay as they were.
//
// # Partition offsets and appended partitions
//
// In Ubuntu-style images (xorriso -partition_offset with an appended EFI
// system partition) the ISO 9660 volume is also partition 1, and the
// appended partitions follow the ISO data. Partition 1 grows to the new
// end of the volume, so its view (the twin trees) shows the new files, and
// the appended partitions, which would now overlap it, are copied behind
// the new data (as appended extents that read the base image, see
// [sysarea.Growth]) and their MBR and GPT entries repointed. Their old
// bytes stay in place inside the grown volume, where El Torito's UEFI
// entry still points.
//
// # Reset record
//
// The last sectors of the appended ISO data hold a record of the
// remaster: the base image's size, the original bytes of every range the
// remaster patched, and a JSON description of the change. [Image.Reset]
// uses it to give back the base image byte for byte, and [Image.Record]
// tells callers that an image was customized by isobuild. The record is
// found by scanning the end of the image (it lies before the padding and
// the backup GPT, at most a few MiB from the end) and the few MiB before
// the start of each partition (it lies before a moved partition) for its
// magic and checking its SHA-256.
package remaster

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/isobuild/isobuild/pkg/bootcfg"
	"github.com/isobuild/isobuild/pkg/iso"
	"github.com/isobuild/isobuild/pkg/overlay"
	"github.com/isobuild/isobuild/pkg/sysarea"
)

// DefaultInitrdName is the file name of the extra initramfs.
const DefaultInitrdName = "isobuild.img"

// Image is an opened live ISO that has no embed areas.
type Image struct {
	r    io.ReaderAt
	size int64

	ISO     *iso.Image
	System  *sysarea.Layout
	Trees   []*iso.Tree
	Configs []*bootcfg.Config

	record       *Record
	recordOffset int64 // where the last plan put the reset record
}

// guardLength is the part of the image the reset record's guard covers:
// the system area and the volume descriptors up to the terminator.
func (im *Image) guardLength() int64 {
	descs := im.ISO.Descriptors()
	return descs[len(descs)-1].Offset + 2*iso.SectorSize
}

// Open reads the volume descriptors, the system area, every directory tree
// and the boot configurations of the image r of size bytes. It fails if
// the image is not an ISO 9660 image, if a tree or a partition table is
// corrupt, or if the image has a UDF bridge (which this package cannot
// keep consistent).
func Open(r io.ReaderAt, size int64) (*Image, error) {
	img, err := iso.Open(r, size)
	if err != nil {
		return nil, err
	}
	sys, err := sysarea.Read(r, size)
	if err != nil {
		return nil, fmt.Errorf("reading the system area: %w", err)
	}
	var bases []int64
	if off := sys.PartitionOffset(); off > 0 {
		bases = append(bases, off)
	}
	trees, err := img.Trees(bases...)
	if err != nil {
		return nil, err
	}
	if len(trees) == 0 {
		return nil, errors.New("the image has no directory tree")
	}
	cfgs, err := bootcfg.Discover(trees[0].FS())
	if err != nil {
		return nil, fmt.Errorf("reading the boot configuration: %w", err)
	}
	rec, err := findRecord(r, size)
	if err != nil {
		return nil, err
	}
	return &Image{r: r, size: size, ISO: img, System: sys, Trees: trees, Configs: cfgs, record: rec}, nil
}

// Size returns the size of the image in bytes.
func (im *Image) Size() int64 { return im.size }

// Record returns the reset record of an image that isobuild remastered,
// or nil.
func (im *Image) Record() *Record { return im.record }

// Entries returns every Linux boot entry of every configuration file.
func (im *Image) Entries() []bootcfg.Entry {
	var out []bootcfg.Entry
	for _, c := range im.Configs {
		out = append(out, c.Entries...)
	}
	return out
}

// Flatcar reports whether the image is laid out like Flatcar Container
// Linux's live ISO: a boot entry loads /flatcar/vmlinuz with
// /flatcar/cpio.gz.
func (im *Image) Flatcar() bool {
	for _, e := range im.Entries() {
		if strings.EqualFold(strings.TrimPrefix(stripDevice(e.Kernel), "/"), "flatcar/vmlinuz") {
			return true
		}
	}
	return false
}

// File is a file to add to the ISO tree or to replace there.
type File struct {
	Path string // absolute ISO path, such as /nocloud/user-data
	Data []byte
	// Reader and Size, when Reader is set, give the contents instead of
	// Data, for files too large to hold in memory: they are read when
	// the image is written (and in part when it is checked), so Reader
	// must stay readable, with the same bytes, until then.
	Reader io.ReaderAt
	Size   int64
}

// content returns the file's contents as a reader and a size.
func (f File) content() (io.ReaderAt, int64) {
	if f.Reader != nil {
		return f.Reader, f.Size
	}
	return bytes.NewReader(f.Data), int64(len(f.Data))
}

// Change is a customization.
type Change struct {
	// Initrd is an extra initramfs loaded by every boot entry after the
	// entry's own initramfs; nil for none.
	Initrd []byte
	// InitrdPath is where the extra initramfs goes in the ISO tree; empty
	// means DefaultInitrdName in the directory of the first boot entry's
	// first initramfs. The directory must exist.
	InitrdPath string
	// Args returns the new kernel arguments of a boot entry; nil keeps
	// them.
	Args func(e bootcfg.Entry, args string) (string, error)
	// Files are added to or replaced in the ISO tree.
	Files []File
	// Patches replace bytes of the base image that no tree points at as
	// metadata, such as the kernel-argument areas inside a boot
	// configuration file of a CoreOS image; they must not overlap each
	// other or anything the remaster patches.
	Patches []Patch
	// Description is stored in the reset record (see Record.Description).
	Description Description
}

// Patch is a run of bytes written over the base image at Off.
type Patch struct {
	Off  int64
	Data []byte
}

// ErrNoBootEntry is returned for an image in which no Linux boot entry was
// found, so there is nothing that could load an extra initramfs.
var ErrNoBootEntry = errors.New("no Linux boot entry found in the image's ISOLINUX/SYSLINUX or GRUB configuration")

// InitrdPath returns where c's extra initramfs goes.
func (im *Image) InitrdPath(c Change) (string, error) {
	if c.InitrdPath != "" {
		return "/" + strings.TrimPrefix(path.Clean(c.InitrdPath), "/"), nil
	}
	for _, e := range im.Entries() {
		if len(e.Initrds) > 0 {
			dir := path.Dir("/" + strings.TrimPrefix(stripDevice(e.Initrds[0]), "/"))
			return path.Join(dir, DefaultInitrdName), nil
		}
	}
	if len(im.Entries()) == 0 {
		return "", ErrNoBootEntry
	}
	return "/" + DefaultInitrdName, nil
}

// Overlay returns the customized image as an overlay of the opened image.
// The result keeps a reset record (see the package documentation) and is
// checked before it is returned: its trees are read again, the new files
// are looked up in each of them, and the partition tables are verified.
func (im *Image) Overlay(c Change) (*overlay.Image, error) {
	if im.record != nil {
		return nil, ErrCustomized
	}
	if err := im.Integrity(); err != nil {
		return nil, err
	}
	if err := im.System.Verify(); err != nil {
		return nil, fmt.Errorf("the image's partition tables are inconsistent already, so isobuild does not grow them: %w", err)
	}
	// The record holds the original bytes of the sectors the remaster
	// patches. Which sectors those are hardly depends on the record (only
	// the new values do, such as the volume size), so a first plan without
	// a record finds them and the next one carries it; should the record
	// make the plan touch another sector, the record grows to cover it.
	dry, _, err := im.plan(c, nil)
	if err != nil {
		return nil, err
	}
	covered := sectorsOf(dry.Patched(), im.size)
	var ov *overlay.Image
	var added []File
	for try := 0; ; try++ {
		rec, err := newRecord(im.r, im.size, covered, c.Description, im.guardLength())
		if err != nil {
			return nil, err
		}
		if ov, added, err = im.plan(c, rec); err != nil {
			return nil, err
		}
		// The overlay reads the record from rec, so sealing it now
		// changes the appended bytes.
		if err := sealRecord(rec, im.recordOffset, ov); err != nil {
			return nil, err
		}
		grown := sectorsOf(append(slices.Clone(covered), ov.Patched()...), im.size)
		if slices.Equal(grown, covered) {
			break
		}
		if try == 3 {
			return nil, errors.New("internal error: the reset record does not settle on the patched sectors")
		}
		covered = grown
	}
	if err := im.implantChecksum(ov, covered); err != nil {
		return nil, err
	}
	if err := verify(ov, added, im); err != nil {
		return nil, fmt.Errorf("checking the remastered image: %w", err)
	}
	return ov, nil
}

// ErrCustomized is returned by Overlay for an image that isobuild already
// remastered: reset it first (Open the Reset overlay).
var ErrCustomized = errors.New("the image is already customized by isobuild")

// plan builds the overlay; record is the encoded reset record or nil. It
// returns the files added or replaced, for verify.
func (im *Image) plan(c Change, record []byte) (*overlay.Image, []File, error) {
	ov := overlay.New(im.r, im.size)
	end := alignUp(im.size, iso.SectorSize)
	if end > im.size {
		if _, err := ov.Append(zeros{}, end-im.size); err != nil {
			return nil, nil, err
		}
	}
	ed := iso.NewEditor(im.ISO, im.Trees, ov, end)
	var files []File
	if c.Initrd != nil {
		p, err := im.InitrdPath(c)
		if err != nil {
			return nil, nil, err
		}
		if err := ed.AddFile(p, bytes.NewReader(c.Initrd), int64(len(c.Initrd))); err != nil {
			return nil, nil, fmt.Errorf("adding the extra initramfs %s: %w", p, err)
		}
		files = append(files, File{Path: p, Data: c.Initrd})
		c.InitrdPath = p
	}
	if c.Initrd != nil || c.Args != nil {
		if len(im.Entries()) == 0 {
			return nil, nil, ErrNoBootEntry
		}
		if err := im.checkUEFI(); err != nil {
			return nil, nil, err
		}
		for _, cfg := range im.Configs {
			data, changed, err := cfg.Rewrite(bootcfg.Edit{Initrd: c.InitrdPath, Args: c.Args})
			if err != nil {
				return nil, nil, fmt.Errorf("editing %s: %w", cfg.Path, err)
			}
			if !changed {
				continue
			}
			p := "/" + strings.TrimPrefix(cfg.Path, "/")
			if err := ed.ReplaceFile(p, bytes.NewReader(data), int64(len(data))); err != nil {
				return nil, nil, fmt.Errorf("replacing %s: %w", p, err)
			}
			files = append(files, File{Path: p, Data: data})
		}
	}
	for _, f := range c.Files {
		p := "/" + strings.TrimPrefix(path.Clean(f.Path), "/")
		r, n := f.content()
		_, err := im.Trees[0].Lookup(p)
		switch {
		case err == nil:
			err = ed.ReplaceFile(p, r, n)
		case errors.Is(err, fs.ErrNotExist):
			// Missing parent directories are created in every tree (the
			// path tables are rewritten).
			if err = ed.MkdirAll(path.Dir(p)); err == nil {
				err = ed.AddFile(p, r, n)
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("adding %s: %w", p, err)
		}
		f.Path = p
		files = append(files, f)
	}
	sums, err := im.checksumLists(files)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range sums {
		if err := ed.ReplaceFile(f.Path, bytes.NewReader(f.Data), int64(len(f.Data))); err != nil {
			return nil, nil, fmt.Errorf("replacing %s: %w", f.Path, err)
		}
		files = append(files, f)
	}
	if record != nil {
		at, err := ed.Reserve(bytes.NewReader(record), int64(len(record)))
		if err != nil {
			return nil, nil, err
		}
		im.recordOffset = at
	}
	g, err := im.System.Grow(im.dataEnd(), ed.End())
	if err != nil {
		return nil, nil, fmt.Errorf("growing the partition tables: %w", err)
	}
	if err := ed.Finish(g.Size); err != nil {
		return nil, nil, err
	}
	// Partitions after the old ISO data (an appended EFI system
	// partition) move behind the new data, where the grown tables point;
	// their old bytes stay where they are too, inside the grown volume,
	// for the El Torito entry that points there.
	for _, m := range g.Moves {
		if pad := m.To - ov.Size(); pad > 0 {
			if _, err := ov.Append(zeros{}, pad); err != nil {
				return nil, nil, err
			}
		} else if pad < 0 {
			return nil, nil, fmt.Errorf("internal error: a partition moves to byte %d, before the end of the data at %d", m.To, ov.Size())
		}
		if _, err := ov.Append(io.NewSectionReader(im.r, m.From, m.Length), m.Length); err != nil {
			return nil, nil, err
		}
	}
	for _, p := range g.Patches {
		if err := ov.Patch(p.Off, p.Data); err != nil {
			return nil, nil, fmt.Errorf("patching the partition tables at byte %d: %w", p.Off, err)
		}
	}
	for _, p := range c.Patches {
		if err := ov.Patch(p.Off, p.Data); err != nil {
			return nil, nil, fmt.Errorf("patching %d bytes at byte %d: %w", len(p.Data), p.Off, err)
		}
	}
	tailStart := g.Size - int64(len(g.Tail))
	if pad := tailStart - ov.Size(); pad > 0 {
		if _, err := ov.Append(zeros{}, pad); err != nil {
			return nil, nil, err
		}
	} else if pad < 0 {
		return nil, nil, fmt.Errorf("internal error: the partition tables' tail starts at byte %d, before the end of the data at %d", tailStart, ov.Size())
	}
	if len(g.Tail) > 0 {
		if _, err := ov.Append(bytes.NewReader(g.Tail), int64(len(g.Tail))); err != nil {
			return nil, nil, err
		}
	}
	if ov.Size() != g.Size {
		return nil, nil, fmt.Errorf("internal error: remastered image is %d bytes, want %d", ov.Size(), g.Size)
	}
	return ov, files, nil
}

// dataEnd returns where the ISO 9660 data of the image ends: the smallest
// end of a tree's volume (its base plus its volume space size). With a
// partition offset the primary descriptor's size usually covers the whole
// image, appended partitions included, while the Joliet and twin
// descriptors' sizes end at the ISO data.
func (im *Image) dataEnd() int64 {
	end := int64(im.ISO.Primary().VolumeSpaceSize) * iso.SectorSize
	var b [4]byte
	for _, t := range im.Trees {
		if _, err := im.r.ReadAt(b[:], t.Descriptor+80); err != nil {
			continue
		}
		if e := t.Base + int64(binary.LittleEndian.Uint32(b[:]))*iso.SectorSize; e > t.Base && e < end {
			end = e
		}
	}
	return end
}

// verify re-reads the remastered image.
func verify(ov *overlay.Image, files []File, base *Image) error {
	img, err := iso.Open(ov, ov.Size())
	if err != nil {
		return err
	}
	out, err := sysarea.Read(ov, ov.Size())
	if err != nil {
		return err
	}
	if err := out.Verify(); err != nil {
		return err
	}
	if err := out.NewOverlaps(base.System); err != nil {
		return err
	}
	if err := verifyMoves(ov, base); err != nil {
		return err
	}
	var bases []int64
	if off := out.PartitionOffset(); off > 0 {
		bases = append(bases, off)
	}
	trees, err := img.Trees(bases...)
	if err != nil {
		return err
	}
	if len(trees) != len(base.Trees) {
		return fmt.Errorf("%d directory trees, the base image has %d", len(trees), len(base.Trees))
	}
	oldCat, err := base.ISO.BootCatalog()
	if err != nil {
		return err
	}
	newCat, err := img.BootCatalog()
	if err != nil {
		return err
	}
	if !slices.Equal(oldCat, newCat) {
		return errors.New("the El Torito boot catalog changed")
	}
	changed := map[string]bool{}
	for _, f := range files {
		changed[strings.ToLower(strings.TrimPrefix(f.Path, "/"))] = true
	}
	checked := map[[2]int64]bool{}
	for i, t := range trees {
		// Every file of the base is still there, with the same data,
		// unless the remaster replaced it.
		want := map[string][2]int64{}
		if err := base.Trees[i].Walk(func(e iso.Entry) error {
			if !e.IsDir && !changed[strings.ToLower(e.Path)] {
				want[e.Path] = [2]int64{e.Offset, e.Length}
			}
			return nil
		}); err != nil {
			return err
		}
		if err := t.Walk(func(e iso.Entry) error {
			if x, ok := want[e.Path]; ok {
				if x != [2]int64{e.Offset, e.Length} {
					return fmt.Errorf("%s tree at byte %d: %s moved from %d+%d to %d+%d", t.Kind, t.Descriptor, e.Path, x[0], x[1], e.Offset, e.Length)
				}
				delete(want, e.Path)
			}
			return nil
		}); err != nil {
			return err
		}
		for p := range want {
			return fmt.Errorf("%s tree at byte %d: %s is missing", t.Kind, t.Descriptor, p)
		}
		for _, f := range files {
			e, err := t.Lookup(f.Path)
			if err != nil {
				return fmt.Errorf("%s tree at byte %d: %w", t.Kind, t.Descriptor, err)
			}
			r, n := f.content()
			if e.Length != n {
				return fmt.Errorf("%s tree at byte %d: %s is %d bytes, want %d", t.Kind, t.Descriptor, f.Path, e.Length, n)
			}
			// Trees share the file's extent: its bytes are compared once.
			if checked[[2]int64{e.Offset, n}] {
				continue
			}
			checked[[2]int64{e.Offset, n}] = true
			if same, err := sameBytes(ov, e.Offset, r, n); err != nil {
				return fmt.Errorf("%s tree at byte %d: %s: %w", t.Kind, t.Descriptor, f.Path, err)
			} else if !same {
				return fmt.Errorf("%s tree at byte %d: %s does not hold the new contents", t.Kind, t.Descriptor, f.Path)
			}
		}
	}
	return nil
}

// verifyMoves checks that every partition the remaster moved holds the
// bytes it held in the base image.
func verifyMoves(ov *overlay.Image, base *Image) error {
	g, err := base.System.Grow(base.dataEnd(), alignUp(base.size, iso.SectorSize))
	if err != nil {
		return err
	}
	if len(g.Moves) == 0 {
		return nil
	}
	out, err := sysarea.Read(ov, ov.Size())
	if err != nil {
		return err
	}
	// The first moved partition's new start tells where the run went.
	to := int64(-1)
	if out.GPT != nil {
		for _, p := range out.GPT.Partitions {
			if old := gptFirst(base.System, p.Index); old >= 0 && old*sysarea.SectorSize == g.Moves[0].From {
				to = int64(p.First) * sysarea.SectorSize
			}
		}
	}
	if to < 0 && out.MBR != nil && base.System.MBR != nil {
		for i, p := range out.MBR.Partitions {
			if q := base.System.MBR.Partitions[i]; q.Sectors != 0 && q.Type != 0xEE && int64(q.Start)*sysarea.SectorSize == g.Moves[0].From {
				to = int64(p.Start) * sysarea.SectorSize
			}
		}
	}
	if to < 0 {
		return fmt.Errorf("the partition at byte %d was to move, but no table entry of the remastered image is one", g.Moves[0].From)
	}
	m := g.Moves[0]
	if to+m.Length > ov.Size() {
		return fmt.Errorf("the partition moved from byte %d to %d (%d bytes) lies beyond the end of the remastered image", m.From, to, m.Length)
	}
	a := make([]byte, 1<<20)
	b := make([]byte, len(a))
	for off := int64(0); off < m.Length; off += int64(len(a)) {
		n := min(int64(len(a)), m.Length-off)
		if _, err := base.r.ReadAt(a[:n], m.From+off); err != nil {
			return fmt.Errorf("reading the base image at byte %d: %w", m.From+off, err)
		}
		if _, err := ov.ReadAt(b[:n], to+off); err != nil {
			return fmt.Errorf("reading the remastered image at byte %d: %w", to+off, err)
		}
		if !bytes.Equal(a[:n], b[:n]) {
			return fmt.Errorf("the partition moved from byte %d to byte %d differs from the original at byte %d of it", m.From, to, off)
		}
	}
	return nil
}

// gptFirst returns the first sector of GPT partition index of l, or -1.
func gptFirst(l *sysarea.Layout, index int) int64 {
	if l.GPT == nil {
		return -1
	}
	for _, p := range l.GPT.Partitions {
		if p.Index == index {
			return int64(p.First)
		}
	}
	return -1
}

// ErrUEFIConfig is returned for an image that boots under UEFI but has no
// GRUB boot entry in its ISO 9660 tree: its UEFI boot configuration lives
// inside the EFI system partition image (systemd-boot entries, a full
// grub.cfg in the FAT, a unified kernel image), which this package does not
// edit, so UEFI boots would miss the change.
var ErrUEFIConfig = errors.New("the image boots under UEFI, but no GRUB boot entry was found in its ISO 9660 tree: its UEFI boot configuration lives inside the EFI image (FAT), which isobuild does not edit yet, so UEFI boots would not get the change")

// checkUEFI refuses images whose UEFI entries could not be edited.
func (im *Image) checkUEFI() error {
	entries, err := im.ISO.BootCatalog()
	if err != nil {
		return err
	}
	uefi := false
	for _, e := range entries {
		uefi = uefi || e.Platform == iso.PlatformEFI
	}
	if !uefi {
		return nil
	}
	for _, c := range im.Configs {
		if c.Syntax == bootcfg.GRUB && len(c.Entries) > 0 {
			return nil
		}
	}
	return ErrUEFIConfig
}

// stripDevice drops a GRUB device prefix such as "($root)" or "(cd0)"
// from a boot loader path.
func stripDevice(p string) string {
	if strings.HasPrefix(p, "(") {
		if i := strings.Index(p, ")"); i > 0 {
			return p[i+1:]
		}
	}
	return p
}

// sectorsOf returns the whole sectors that hold the ranges, merged and
// cut at size.
func sectorsOf(ranges []overlay.Range, size int64) []overlay.Range {
	var out []overlay.Range
	for _, r := range ranges {
		start := r.Offset / iso.SectorSize * iso.SectorSize
		end := min(alignUp(r.Offset+r.Length, iso.SectorSize), size)
		out = append(out, overlay.Range{Offset: start, Length: end - start})
	}
	slices.SortFunc(out, func(a, b overlay.Range) int { return cmp.Compare(a.Offset, b.Offset) })
	var merged []overlay.Range
	for _, r := range out {
		if n := len(merged); n > 0 && r.Offset <= merged[n-1].Offset+merged[n-1].Length {
			last := &merged[n-1]
			last.Length = max(last.Length, r.Offset+r.Length-last.Offset)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

func alignUp(n, a int64) int64 { return (n + a - 1) / a * a }

// zeros is an io.ReaderAt of zero bytes.
type zeros struct{}

func (zeros) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	return len(p), nil
}

// checkWhole is the size up to which verify compares a new file's bytes
// whole; of a larger one (streamed from its source, never held in memory)
// it compares the first and the last checkEnds bytes, which catch an
// extent that is off by any number of sectors without reading the file
// twice.
const (
	checkWhole = 16 << 20
	checkEnds  = 1 << 20
)

// sameBytes reports whether img holds at off the n bytes of r.
func sameBytes(img io.ReaderAt, off int64, r io.ReaderAt, n int64) (bool, error) {
	spans := [][2]int64{{0, n}}
	if n > checkWhole {
		spans = [][2]int64{{0, checkEnds}, {n - checkEnds, checkEnds}}
	}
	a, b := make([]byte, 64<<10), make([]byte, 64<<10)
	for _, sp := range spans {
		for done := int64(0); done < sp[1]; {
			k := min(int64(len(a)), sp[1]-done)
			at := sp[0] + done
			if _, err := readFullAt(img, a[:k], off+at); err != nil {
				return false, err
			}
			if _, err := readFullAt(r, b[:k], at); err != nil {
				return false, fmt.Errorf("reading its source at byte %d: %w", at, err)
			}
			if !bytes.Equal(a[:k], b[:k]) {
				return false, nil
			}
			done += k
		}
	}
	return true, nil
}

// readFullAt is ReadAt that counts io.EOF after a full read as success.
func readFullAt(r io.ReaderAt, p []byte, off int64) (int, error) {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return n, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
