package iso

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// Record is one directory record of the primary tree.
type Record struct {
	Name   string // normalised ISO 9660 name (";1" and a trailing "." dropped), e.g. "IGNITION.IMG"
	Path   string // slash-separated path from the root, e.g. "IMAGES/IGNITION.IMG" ("" for the root)
	IsDir  bool
	Offset int64 // extent start in bytes = LBA*2048
	Length int64 // data length in bytes
}

// Directory record layout (ECMA-119 9.1).
const (
	recMinLen     = 34 // 33 fixed bytes and at least one identifier byte
	recLBA        = 2
	recDataLength = 10
	recFlags      = 25
	recNameLen    = 32
	recName       = 33
	flagDirectory = 0x02
)

// maxDepth bounds directory recursion in Walk. ECMA-119 allows 8 levels;
// the bound only keeps corrupt images from recursing without limit.
const maxDepth = 256

// errStop ends a directory scan early without an error.
var errStop = errors.New("stop")

// decodeRecord decodes the directory record b of the directory whose path
// is dir. It returns ok == false for the "." and ".." records.
func decodeRecord(b []byte, dir string) (rec Record, ok bool, err error) {
	if len(b) < recMinLen {
		return Record{}, false, fmt.Errorf("directory record length %d is shorter than %d", len(b), recMinLen)
	}
	nameLen := int(b[recNameLen])
	if recName+nameLen > len(b) {
		return Record{}, false, fmt.Errorf("identifier length %d overruns directory record of %d bytes", nameLen, len(b))
	}
	raw := b[recName : recName+nameLen]
	rec.IsDir = b[recFlags]&flagDirectory != 0
	rec.Offset = int64(binary.LittleEndian.Uint32(b[recLBA:])) * SectorSize
	rec.Length = int64(binary.LittleEndian.Uint32(b[recDataLength:]))
	if nameLen == 1 && raw[0] <= 1 {
		return rec, false, nil // "." or ".."
	}
	if rec.Name, err = fileName(raw); err != nil {
		return Record{}, false, err
	}
	rec.Path = joinPath(dir, rec.Name)
	return rec, true, nil
}

// checkExtent fails unless the extent of rec lies inside the image.
func (im *Image) checkExtent(rec Record) error {
	if rec.Offset > im.size || rec.Length > im.size-rec.Offset {
		return fmt.Errorf("extent [%d, %d) beyond end of image (%d bytes)", rec.Offset, rec.Offset+rec.Length, im.size)
	}
	return nil
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func describeDir(path string) string {
	if path == "" {
		return "root directory"
	}
	return fmt.Sprintf("directory %q", path)
}

// scanDir calls fn for each record of directory dir in on-disk order,
// skipping "." and "..". A record length of 0 means "no more records in this
// sector": the scan continues at the next 2048-byte boundary relative to the
// start of the extent. fn returning errStop ends the scan without error.
func (im *Image) scanDir(dir Record, fn func(Record) error) error {
	var sector [SectorSize]byte
	secIdx, secLen := int64(-1), int64(0)
	for pos := int64(0); pos < dir.Length; {
		si := pos / SectorSize
		if si != secIdx {
			secLen = min(SectorSize, dir.Length-si*SectorSize)
			if err := im.readAt(sector[:secLen], dir.Offset+si*SectorSize); err != nil {
				return &FormatError{Offset: dir.Offset + si*SectorSize, What: describeDir(dir.Path), Err: err}
			}
			secIdx = si
		}
		in := pos - si*SectorSize
		recLen := int64(sector[in])
		if recLen == 0 {
			pos = (si + 1) * SectorSize
			continue
		}
		if recLen > dir.Length-pos {
			return &FormatError{Offset: dir.Offset + pos, What: describeDir(dir.Path), Err: errIncompleteRecord}
		}
		var b []byte
		if in+recLen <= secLen {
			b = sector[in : in+recLen]
		} else {
			// Records should not cross sectors; tolerate it like the
			// reference reader, which treats the extent as a stream.
			b = make([]byte, recLen)
			if err := im.readAt(b, dir.Offset+pos); err != nil {
				return &FormatError{Offset: dir.Offset + pos, What: describeDir(dir.Path), Err: err}
			}
		}
		rec, ok, err := decodeRecord(b, dir.Path)
		if err == nil {
			err = im.checkExtent(rec)
		}
		if err != nil {
			return &FormatError{Offset: dir.Offset + pos, What: describeDir(dir.Path), Err: err}
		}
		pos += recLen
		if !ok {
			continue
		}
		if err := fn(rec); err != nil {
			if err == errStop {
				return nil
			}
			return err
		}
	}
	return nil
}

// splitPath normalises a lookup path: split on "/", ignore empty and "."
// components, and let ".." pop the previous component (never above the
// root).
func splitPath(path string) []string {
	var comps []string
	for _, c := range strings.Split(path, "/") {
		switch c {
		case "", ".":
		case "..":
			if len(comps) > 0 {
				comps = comps[:len(comps)-1]
			}
		default:
			comps = append(comps, c)
		}
	}
	return comps
}

// Lookup resolves a path from the root: components are split on "/", empty
// and "." components are ignored and ".." pops the previous one, so "/" and
// "" name the root. Each component must equal a normalised record name
// exactly (case-sensitive), scanning in on-disk order. A missing component,
// or a file used as a directory, yields an error matching ErrNotFound.
func (im *Image) Lookup(path string) (Record, error) {
	cur := im.root
	for _, c := range splitPath(path) {
		if !cur.IsDir {
			return Record{}, fmt.Errorf("look up %q: %s is not a directory: %w", path, cur.Path, ErrNotFound)
		}
		found := false
		err := im.scanDir(cur, func(r Record) error {
			if r.Name == c {
				cur, found = r, true
				return errStop
			}
			return nil
		})
		if err != nil {
			return Record{}, fmt.Errorf("look up %q: %w", path, err)
		}
		if !found {
			return Record{}, fmt.Errorf("look up %q: %s: %w", path, joinPath(cur.Path, c), ErrNotFound)
		}
	}
	return cur, nil
}

// ReadDir lists the records of the directory at path in on-disk order,
// without "." and "..".
func (im *Image) ReadDir(path string) ([]Record, error) {
	dir, err := im.Lookup(path)
	if err != nil {
		return nil, err
	}
	if !dir.IsDir {
		return nil, fmt.Errorf("read directory %q: %s is not a directory", path, dir.Path)
	}
	var recs []Record
	err = im.scanDir(dir, func(r Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read directory %q: %w", path, err)
	}
	return recs, nil
}

// Walk visits the whole primary tree in pre-order (a directory, then its
// contents, in on-disk order), excluding the root. If fn returns fs.SkipDir
// for a directory its contents are skipped; for a file, the rest of its
// directory is skipped. fs.SkipAll ends the walk without error. Any other
// error from fn ends the walk and is returned unchanged. A directory extent
// reached twice (a loop in a corrupt image), or directories whose extents add
// up to more than the image size (overlapping extents), are errors, so a walk
// never reads more directory bytes than the image holds.
func (im *Image) Walk(fn func(Record) error) error {
	w := &walker{im: im, fn: fn, seen: map[int64]bool{im.root.Offset: true}, budget: im.size - im.root.Length}
	err := w.walk(im.root, 0)
	if err == fs.SkipAll || err == fs.SkipDir {
		return nil
	}
	return err
}

type walker struct {
	im     *Image
	fn     func(Record) error
	seen   map[int64]bool // directory extents visited
	budget int64          // directory bytes that may still be read
}

func (w *walker) walk(dir Record, depth int) error {
	if depth >= maxDepth {
		return &FormatError{Offset: dir.Offset, What: describeDir(dir.Path), Err: fmt.Errorf("directory tree deeper than %d levels", maxDepth)}
	}
	return w.im.scanDir(dir, func(r Record) error {
		err := w.fn(r)
		if err == fs.SkipDir {
			if r.IsDir {
				return nil
			}
			return errStop
		}
		if err != nil || !r.IsDir {
			return err
		}
		if r.Length > 0 {
			if w.seen[r.Offset] {
				return &FormatError{Offset: r.Offset, What: describeDir(r.Path), Err: fmt.Errorf("directory extent already visited (directory loop)")}
			}
			w.seen[r.Offset] = true
			if w.budget -= r.Length; w.budget < 0 {
				return &FormatError{Offset: r.Offset, What: describeDir(r.Path), Err: fmt.Errorf("directory extents add up to more than the image size (overlapping directories)")}
			}
		}
		return w.walk(r, depth+1)
	})
}

// ReadFile returns the contents of the file at path. It is meant for small
// metadata files; use Section to stream large ones.
func (im *Image) ReadFile(path string) ([]byte, error) {
	rec, err := im.Lookup(path)
	if err != nil {
		return nil, err
	}
	if rec.IsDir {
		return nil, fmt.Errorf("read %q: entry %s is a directory", path, rec.Path)
	}
	buf := make([]byte, rec.Length)
	if err := im.readAt(buf, rec.Offset); err != nil {
		return nil, fmt.Errorf("read %q: %w", path, err)
	}
	return buf, nil
}

// Section returns a reader over the extent of rec.
func (im *Image) Section(rec Record) *io.SectionReader {
	return io.NewSectionReader(im.r, rec.Offset, rec.Length)
}
