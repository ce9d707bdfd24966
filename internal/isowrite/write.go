// Package isowrite writes small, deterministic ISO 9660 images, for the
// tests, the demo and the benchmarks, which build images with the layout of
// a CoreOS live ISO through package testiso.
//
// Write produces a level-1 image (16 zero system-area sectors, primary
// volume descriptor, terminator, path tables, directories, file data) with
// Rock Ridge entries giving each name its original (lower-case) spelling and
// read-only permissions when mounted. It streams file data and never stamps
// the current time. It writes no boot records: its images are for package
// iso to read, not for booting. github.com/kdomanski/iso9660 was not used
// because its writer stamps time.Now(), mangles names and stages every file
// through a temporary copy, so its output is neither reproducible nor cheap
// for multi-GiB inputs.
package isowrite

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/isobuild/isobuild/pkg/iso"
)

// File is one regular file to put in an image.
type File struct {
	// Path is slash-separated, e.g. "images/pxeboot/rootfs.img". It is
	// written as the upper-cased ISO 9660 name ("IMAGES/PXEBOOT/ROOTFS.IMG")
	// with a Rock Ridge NM entry holding the original spelling of each
	// component (or the matching component of RRPath). After ASCII upper-casing, directory components must be 1–8
	// d-characters (A–Z, 0–9, _) and the file name must be an 8.3 name of
	// d-characters.
	Path string
	// Size is the exact number of bytes Open's reader yields (at most
	// 4 GiB − 1: multi-extent files are not written).
	Size int64
	// RRPath optionally gives the Rock Ridge spelling (the name a mounted
	// image shows) when it is not a valid ISO 9660 name itself, e.g.
	// "coreos/kargs.json" for Path "coreos/kargs.jso". It must have as many
	// components as Path. Empty means Path as given.
	RRPath string
	// Open returns the file's data. It is called once, while Write streams
	// the file; a reader that is also an io.Closer is closed afterwards.
	Open func() (io.Reader, error)
}

// WriteOptions are the volume-wide settings of Write.
type WriteOptions struct {
	VolumeID string // at most 32 characters
	SystemID string // at most 32 characters
	// ModTime is used for every timestamp in the image. The zero value means
	// a fixed epoch (1970-01-01T00:00:00Z), so output never depends on the
	// clock.
	ModTime time.Time
}

// MaxFileSize is the largest file Write accepts: a single extent's data
// length is a 32-bit field.
const MaxFileSize = math.MaxUint32

// systemAreaSectors is the size of the system area that precedes the
// volume descriptors (ECMA-119 6.2.1).
const systemAreaSectors = 16

// maxDirLevels is the number of directory components a path may have: with
// the root, ECMA-119 6.8.2.1 allows eight levels.
const maxDirLevels = 7

// Write writes a complete ISO 9660 level-1 image of files to w: a system area
// of 16 zero sectors, the primary volume descriptor, the terminator, the L
// and M path tables, the directory extents (a directory may span several
// sectors) and then the file extents, each starting on a sector boundary, in
// the order a Walk of the image visits the files. Directories are created
// implicitly from the file paths. The same input always yields the same
// bytes, whatever the order of files. File data is streamed, never held in
// memory. Invalid names, duplicate paths and files of 4 GiB or more are
// rejected before anything is written.
func Write(w io.Writer, files []File, opts WriteOptions) error {
	l, err := plan(files, opts)
	if err != nil {
		return fmt.Errorf("write ISO: %w", err)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	if err := l.write(bw); err != nil {
		return fmt.Errorf("write ISO: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write ISO: %w", err)
	}
	return nil
}

// wnode is a directory or file in the tree being written.
type wnode struct {
	id       string // ISO 9660 identifier as written: "DIR", "NAME.EXT;1", "\x00" for the root
	name     string // normalised name (what the reader returns), for duplicate detection
	rrName   string // Rock Ridge NM: the original spelling
	base     string // sort key parts (ECMA-119 9.3): name and extension
	ext      string
	isDir    bool
	parent   *wnode
	children []*wnode // sorted
	byName   map[string]*wnode
	byRRName map[string]*wnode
	file     *File
	lba      uint32
	size     int64 // data length (directories: whole sectors)
	number   int   // path table directory number, 1-based
}

type layout struct {
	opts      WriteOptions
	stamp     time.Time
	root      *wnode
	dirs      []*wnode // path table order
	files     []*wnode // data order
	ptSize    int      // path table size in bytes
	ptLBA     uint32   // L table; the M table follows
	ptSectors uint32
	total     uint32 // volume space size in sectors
}

func plan(files []File, opts WriteOptions) (*layout, error) {
	if err := checkID("volume ID", opts.VolumeID); err != nil {
		return nil, err
	}
	if err := checkID("system ID", opts.SystemID); err != nil {
		return nil, err
	}
	l := &layout{opts: opts, stamp: time.Unix(0, 0).UTC()}
	if !opts.ModTime.IsZero() {
		l.stamp = opts.ModTime.UTC().Truncate(time.Second)
	}
	if y := l.stamp.Year(); y < 1900 || y > 2155 {
		return nil, fmt.Errorf("modification time %s outside the years 1900–2155 that ISO 9660 can record", l.stamp)
	}
	l.root = &wnode{id: "\x00", isDir: true, byName: map[string]*wnode{}, byRRName: map[string]*wnode{}}
	for i := range files {
		if err := l.add(&files[i]); err != nil {
			return nil, err
		}
	}
	l.sortTree(l.root)

	// Path table order: breadth first, children in identifier order, which
	// gives the ECMA-119 6.9.1 ordering (level, parent number, identifier).
	l.dirs = []*wnode{l.root}
	for i := 0; i < len(l.dirs); i++ {
		d := l.dirs[i]
		d.number = i + 1
		l.ptSize += ptRecordLen(d)
		for _, c := range d.children {
			if c.isDir {
				l.dirs = append(l.dirs, c)
			}
		}
	}
	if len(l.dirs) > math.MaxUint16 {
		return nil, fmt.Errorf("too many directories (%d) for the path table", len(l.dirs))
	}
	l.ptSectors = uint32(sectors(int64(l.ptSize)))
	next := uint64(systemAreaSectors + 2) // PVD, terminator
	l.ptLBA = uint32(next)
	next += 2 * uint64(l.ptSectors)
	for _, d := range l.dirs {
		d.size = dirExtentSize(d)
		d.lba = uint32(next)
		next += uint64(sectors(d.size))
	}
	l.collectFiles(l.root)
	for _, f := range l.files {
		f.lba = uint32(next) // empty files point at the next data sector, as genisoimage does
		next += uint64(sectors(f.size))
		if next > math.MaxUint32 {
			return nil, fmt.Errorf("image too large: more than %d sectors", uint64(math.MaxUint32))
		}
	}
	l.total = uint32(next)
	return l, nil
}

// add inserts f into the tree, creating its directories.
func (l *layout) add(f *File) error {
	if f.Size < 0 {
		return fmt.Errorf("file %q: negative size %d", f.Path, f.Size)
	}
	if f.Size > MaxFileSize {
		return fmt.Errorf("file %q: size %d exceeds the ISO 9660 single-extent limit of %d bytes (4 GiB - 1)", f.Path, f.Size, int64(MaxFileSize))
	}
	if f.Open == nil {
		return fmt.Errorf("file %q: nil Open function", f.Path)
	}
	comps := strings.Split(f.Path, "/")
	if len(comps)-1 > maxDirLevels {
		return fmt.Errorf("file %q: more than %d directory levels", f.Path, maxDirLevels)
	}
	rrComps := comps
	if f.RRPath != "" {
		rrComps = strings.Split(f.RRPath, "/")
		if len(rrComps) != len(comps) {
			return fmt.Errorf("file %q: Rock Ridge path %q has %d components, want %d", f.Path, f.RRPath, len(rrComps), len(comps))
		}
	}
	dir := l.root
	for i, c := range comps {
		last := i == len(comps)-1
		n, err := newNode(c, !last)
		if err != nil {
			return fmt.Errorf("file %q: %w", f.Path, err)
		}
		if err := checkRRName(rrComps[i]); err != nil {
			return fmt.Errorf("file %q: Rock Ridge path %q: %w", f.Path, f.RRPath, err)
		}
		n.rrName = rrComps[i]
		prev := dir.byName[n.name]
		switch {
		case prev == nil:
			if other := dir.byRRName[n.rrName]; other != nil {
				return fmt.Errorf("file %q: Rock Ridge name %q is also used for %s", f.Path, n.rrName, joinPath(pathOf(dir), other.name))
			}
		case !last && prev.isDir:
			if prev.rrName != n.rrName {
				return fmt.Errorf("file %q: directory %q is also spelled %q", f.Path, n.rrName, prev.rrName)
			}
			dir = prev
			continue
		case prev.isDir:
			return fmt.Errorf("file %q: %q is also a directory", f.Path, strings.Join(comps[:i+1], "/"))
		case !last:
			return fmt.Errorf("file %q: %q is also a file", f.Path, strings.Join(comps[:i+1], "/"))
		default:
			return fmt.Errorf("file %q: duplicate ISO 9660 path %s (already used by %q)", f.Path, joinPath(pathOf(dir), n.name), prev.file.Path)
		}
		n.parent = dir
		dir.byName[n.name] = n
		dir.byRRName[n.rrName] = n
		dir.children = append(dir.children, n)
		if last {
			n.file, n.size = f, f.Size
		} else {
			n.byName, n.byRRName = map[string]*wnode{}, map[string]*wnode{}
		}
		dir = n
	}
	return nil
}

func pathOf(n *wnode) string {
	if n.parent == nil {
		return ""
	}
	return joinPath(pathOf(n.parent), n.name)
}

// newNode validates one path component and derives its ISO 9660 names.
func newNode(comp string, isDir bool) (*wnode, error) {
	up := asciiUpper(comp)
	bad := func(what string) error {
		return fmt.Errorf("%s name %q (upper-cased %q) is not a valid ISO 9660 level-1 name: %s", kind(isDir), comp, up, what)
	}
	if comp == "" || comp == "." || comp == ".." {
		return nil, fmt.Errorf("invalid path component %q", comp)
	}
	n := &wnode{rrName: comp, isDir: isDir}
	if isDir {
		if err := checkDChars(up, 8); err != "" {
			return nil, bad(err)
		}
		n.id, n.name, n.base = up, up, up
		return n, nil
	}
	base, ext, _ := strings.Cut(up, ".")
	if strings.Contains(ext, ".") {
		return nil, bad("more than one dot")
	}
	if base == "" {
		return nil, bad("empty name before the dot")
	}
	if err := checkDChars(base, 8); err != "" {
		return nil, bad(err)
	}
	if err := checkDChars(ext, 3); err != "" {
		return nil, bad("extension " + err)
	}
	n.base, n.ext = base, ext
	n.id = base + "." + ext + ";1"
	n.name = base
	if ext != "" {
		n.name += "." + ext
	}
	return n, nil
}

// maxRRName keeps every directory record within 255 bytes: 48 bytes for
// the fixed part and the longest identifier, 36 for PX, 5 for the NM header.
const maxRRName = 160

// checkRRName validates a Rock Ridge name component.
func checkRRName(s string) error {
	switch {
	case s == "" || s == "." || s == "..":
		return fmt.Errorf("invalid component %q", s)
	case len(s) > maxRRName:
		return fmt.Errorf("component %q longer than %d bytes", s, maxRRName)
	case strings.ContainsRune(s, 0):
		return fmt.Errorf("component %q contains a NUL byte", s)
	}
	return nil
}

func kind(isDir bool) string {
	if isDir {
		return "directory"
	}
	return "file"
}

// checkDChars returns a description of what is wrong with s as a run of at
// most max d-characters, or "".
func checkDChars(s string, max int) string {
	if len(s) > max {
		return fmt.Sprintf("longer than %d characters", max)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return fmt.Sprintf("character %q is not one of A-Z, 0-9, _", c)
		}
	}
	return ""
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// checkID validates a volume or system identifier so that the reader gets it
// back unchanged.
func checkID(what, s string) error {
	if len(s) > 32 {
		return fmt.Errorf("%s %q is longer than 32 characters", what, s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isNameChar(c) && c != ';' && c != '/' {
			return fmt.Errorf("%s %q: character %q is not allowed", what, s, c)
		}
	}
	return nil
}

// sortTree orders every directory's children as ECMA-119 9.3 requires:
// by name, then extension, each compared as if padded with spaces.
func (l *layout) sortTree(d *wnode) {
	sort.Slice(d.children, func(i, j int) bool {
		a, b := d.children[i], d.children[j]
		if c := comparePadded(a.base, b.base); c != 0 {
			return c < 0
		}
		return comparePadded(a.ext, b.ext) < 0
	})
	for _, c := range d.children {
		if c.isDir {
			l.sortTree(c)
		}
	}
}

func comparePadded(a, b string) int {
	for i := 0; i < max(len(a), len(b)); i++ {
		ca, cb := byte(' '), byte(' ')
		if i < len(a) {
			ca = a[i]
		}
		if i < len(b) {
			cb = b[i]
		}
		if ca != cb {
			return int(ca) - int(cb)
		}
	}
	return 0
}

func (l *layout) collectFiles(d *wnode) {
	for _, c := range d.children {
		if c.isDir {
			l.collectFiles(c)
		} else {
			l.files = append(l.files, c)
		}
	}
}

func sectors(n int64) int64 { return (n + iso.SectorSize - 1) / iso.SectorSize }

func ptRecordLen(d *wnode) int {
	n := len(d.id)
	return 8 + n + n&1
}

// System Use entries (SUSP/RRIP 1.10): SP and ER in the root's "." record,
// PX (read-only POSIX attributes, owner root) in every record and NM (the
// original spelling) in every record but "." and "..".
const (
	erID  = "RRIP_1991A"
	erDes = "ROCK RIDGE NAMES AND MODES"
	erSrc = "ISOBUILD"
)

func systemUse(target *wnode, rrName string, rootSelf bool) []byte {
	var su []byte
	if rootSelf {
		su = append(su, 'S', 'P', 7, 1, 0xBE, 0xEF, 0)
	}
	mode, nlink := uint32(0o100444), uint32(1)
	if target.isDir {
		mode, nlink = 0o40555, 2
	}
	px := make([]byte, 36)
	copy(px, []byte{'P', 'X', 36, 1})
	putBoth32(px[4:], mode)
	putBoth32(px[12:], nlink)
	// uid and gid (bytes 20–35) stay 0
	su = append(su, px...)
	if rrName != "" {
		su = append(su, 'N', 'M', byte(5+len(rrName)), 1, 0)
		su = append(su, rrName...)
	}
	if rootSelf {
		su = append(su, 'E', 'R', byte(8+len(erID)+len(erDes)+len(erSrc)), 1, byte(len(erID)), byte(len(erDes)), byte(len(erSrc)), 1)
		su = append(su, erID+erDes+erSrc...)
	}
	return su
}

// dirRecordLen is the length of a directory record with identifier id and
// system use area su.
func dirRecordLen(id string, su int) int {
	n := 33 + len(id)
	n += n & 1
	return n + su
}

// dirEntries returns the identifiers and system use areas of the records in
// directory d, in order: ".", "..", then the children.
func dirEntries(d *wnode) (ids []string, sus [][]byte, targets []*wnode) {
	parent := d.parent
	if parent == nil {
		parent = d
	}
	ids = append(ids, "\x00", "\x01")
	sus = append(sus, systemUse(d, "", d.parent == nil), systemUse(parent, "", false))
	targets = append(targets, d, parent)
	for _, c := range d.children {
		ids = append(ids, c.id)
		sus = append(sus, systemUse(c, c.rrName, false))
		targets = append(targets, c)
	}
	return ids, sus, targets
}

// packDir places d's records (see dirEntries) in its extent: a record
// never crosses a sector boundary. It returns each record's offset and the
// extent size in whole sectors.
func packDir(ids []string, sus [][]byte) (offs []int, size int64) {
	off := 0
	for i, id := range ids {
		n := dirRecordLen(id, len(sus[i]))
		if off%iso.SectorSize+n > iso.SectorSize {
			off += iso.SectorSize - off%iso.SectorSize
		}
		offs = append(offs, off)
		off += n
	}
	return offs, sectors(int64(off)) * iso.SectorSize
}

func dirExtentSize(d *wnode) int64 {
	ids, sus, _ := dirEntries(d)
	_, size := packDir(ids, sus)
	return size
}

func putBoth32(b []byte, v uint32) {
	binary.LittleEndian.PutUint32(b, v)
	binary.BigEndian.PutUint32(b[4:], v)
}

func putBoth16(b []byte, v uint16) {
	binary.LittleEndian.PutUint16(b, v)
	binary.BigEndian.PutUint16(b[2:], v)
}

// putDirRecord encodes a directory record into b, which must be exactly
// dirRecordLen(id, len(su)) bytes long.
func (l *layout) putDirRecord(b []byte, id string, su []byte, target *wnode) {
	b[0] = byte(len(b))
	putBoth32(b[recLBA:], target.lba)
	putBoth32(b[recDataLength:], uint32(target.size))
	t := l.stamp
	copy(b[18:25], []byte{byte(t.Year() - 1900), byte(t.Month()), byte(t.Day()), byte(t.Hour()), byte(t.Minute()), byte(t.Second()), 0})
	if target.isDir {
		b[recFlags] = flagDirectory
	}
	putBoth16(b[28:], 1) // volume sequence number
	b[recNameLen] = byte(len(id))
	copy(b[recName:], id)
	copy(b[len(b)-len(su):], su)
}

func padString(b []byte, s string) {
	for i := range b {
		b[i] = ' '
	}
	copy(b, s)
}

// dateTime17 encodes a volume descriptor date (ECMA-119 8.4.26.1).
func dateTime17(t time.Time) []byte {
	if t.IsZero() {
		return append([]byte("0000000000000000"), 0)
	}
	return append([]byte(t.Format("20060102150405")+"00"), 0)
}

func (l *layout) pvd() []byte {
	b := make([]byte, iso.SectorSize)
	b[0] = iso.TypePrimary
	copy(b[1:], "CD001")
	b[6] = 1
	padString(b[8:40], l.opts.SystemID)
	padString(b[40:72], l.opts.VolumeID)
	putBoth32(b[80:], l.total)
	putBoth16(b[120:], 1) // volume set size
	putBoth16(b[124:], 1) // volume sequence number
	putBoth16(b[128:], iso.SectorSize)
	putBoth32(b[132:], uint32(l.ptSize))
	binary.LittleEndian.PutUint32(b[140:], l.ptLBA)
	binary.BigEndian.PutUint32(b[148:], l.ptLBA+l.ptSectors)
	l.putDirRecord(b[rootRecordOffset:rootRecordOffset+rootRecordLen], "\x00", nil, l.root)
	padString(b[190:813], "")              // volume set, publisher, preparer, application, file identifiers
	copy(b[813:], dateTime17(l.stamp))     // creation
	copy(b[830:], dateTime17(l.stamp))     // modification
	copy(b[847:], dateTime17(time.Time{})) // expiration: not specified
	copy(b[864:], dateTime17(time.Time{})) // effective: not specified
	b[881] = 1                             // file structure version
	return b
}

func (l *layout) pathTable(bigEndian bool) []byte {
	b := make([]byte, int64(l.ptSectors)*iso.SectorSize)
	off := 0
	for _, d := range l.dirs {
		b[off] = byte(len(d.id))
		parent := 1
		if d.parent != nil {
			parent = d.parent.number
		}
		if bigEndian {
			binary.BigEndian.PutUint32(b[off+2:], d.lba)
			binary.BigEndian.PutUint16(b[off+6:], uint16(parent))
		} else {
			binary.LittleEndian.PutUint32(b[off+2:], d.lba)
			binary.LittleEndian.PutUint16(b[off+6:], uint16(parent))
		}
		copy(b[off+8:], d.id)
		off += ptRecordLen(d)
	}
	return b
}

func (l *layout) dirExtent(d *wnode) []byte {
	ids, sus, targets := dirEntries(d)
	offs, size := packDir(ids, sus)
	b := make([]byte, size)
	for i, id := range ids {
		n := dirRecordLen(id, len(sus[i]))
		l.putDirRecord(b[offs[i]:offs[i]+n], id, sus[i], targets[i])
	}
	return b
}

func (l *layout) write(w io.Writer) error {
	if _, err := w.Write(make([]byte, systemAreaSectors*iso.SectorSize)); err != nil {
		return err
	}
	term := make([]byte, iso.SectorSize)
	term[0] = iso.TypeTerminator
	copy(term[1:], "CD001")
	term[6] = 1
	chunks := [][]byte{l.pvd(), term, l.pathTable(false), l.pathTable(true)}
	for _, d := range l.dirs {
		chunks = append(chunks, l.dirExtent(d))
	}
	for _, c := range chunks {
		if _, err := w.Write(c); err != nil {
			return err
		}
	}
	zeros := make([]byte, iso.SectorSize)
	for _, f := range l.files {
		if err := copyFile(w, f.file); err != nil {
			return err
		}
		if pad := sectors(f.size)*iso.SectorSize - f.size; pad > 0 {
			if _, err := w.Write(zeros[:pad]); err != nil {
				return err
			}
		}
	}
	return nil
}

// errTooLong reports a file reader that yields more than File.Size bytes.
var errTooLong = errors.New("reader returned more bytes than the declared size")

func copyFile(w io.Writer, f *File) (err error) {
	r, err := f.Open()
	if err != nil {
		return fmt.Errorf("open %q: %w", f.Path, err)
	}
	if c, ok := r.(io.Closer); ok {
		defer func() {
			if cerr := c.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("close %q: %w", f.Path, cerr)
			}
		}()
	}
	n, err := io.Copy(w, io.LimitReader(r, f.Size))
	if err != nil {
		return fmt.Errorf("copy %q: %w", f.Path, err)
	}
	if n != f.Size {
		return fmt.Errorf("copy %q: reader returned %d bytes, declared size is %d: %w", f.Path, n, f.Size, io.ErrUnexpectedEOF)
	}
	var one [1]byte
	if m, _ := io.ReadFull(r, one[:]); m > 0 {
		return fmt.Errorf("copy %q: %w (%d)", f.Path, errTooLong, f.Size)
	}
	return nil
}

// Directory record layout (ECMA-119 9.1), as package iso reads it.
const (
	recLBA        = 2
	recDataLength = 10
	recFlags      = 25
	recNameLen    = 32
	recName       = 33
	flagDirectory = 0x02

	rootRecordOffset = 156 // of the root directory record in the PVD
	rootRecordLen    = 34
)

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// isNameChar reports whether package iso reads c back unchanged in an
// identifier: ASCII letters, digits, '_', space and !"%&'()*+,-.:<=>?.
func isNameChar(c byte) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '_', ' ', '!', '"', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', ':', '<', '=', '>', '?':
		return true
	}
	return false
}
