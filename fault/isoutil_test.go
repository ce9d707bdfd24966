//go:build fault

package fault

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path"
	"strings"
	"sync"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/embed"
	"github.com/isobuild/isobuild/pkg/iso"
)

// ISO9660 names of the CoreOS metadata files.
const (
	ignInfoISO  = "COREOS/IGNINFO.JSO"
	kargsISO    = "COREOS/KARGS.JSO"
	featuresISO = "COREOS/FEATURES.JSO"
	sectorSize  = 2048
	kargHdrOff  = 32672
	kargHdrSize = 72
	pvdOffset   = 32768
)

var (
	fxMu    sync.Mutex
	fxCache = map[string][]byte{}
)

// fixtureBytes returns the decompressed ISO fixture name (cached; the
// caller must not modify the slice).
func fixtureBytes(t testing.TB, name string) []byte {
	t.Helper()
	fxMu.Lock()
	defer fxMu.Unlock()
	if b, ok := fxCache[name]; ok {
		return b
	}
	p := fixture.ISO(t, name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(p)
	fxCache[name] = b
	return b
}

// fixtureNames lists the ISO fixtures.
func fixtureNames(t testing.TB) []string { return fixture.ISONames(t, "") }

// customizeFile returns the path of a customize/ fixture.
func customizeFile(t testing.TB, name string) string { return fixture.Customize(t, name) }

// isoLayout is what the mutators need to know about a pristine image.
type isoLayout struct {
	name     string
	data     []byte
	img      *iso.Image   // nil if the image does not parse
	emb      *embed.Image // nil if embed.Open fails (synthetic.iso)
	meta     map[string]iso.Record
	initrd   embed.Area
	areas    []embed.KargArea
	kargSize int
	header   bool // legacy coreKarg header present
}

func layoutOf(t testing.TB, name string) *isoLayout {
	t.Helper()
	data := fixtureBytes(t, name)
	l := &isoLayout{name: name, data: data, meta: map[string]iso.Record{}}
	img, err := iso.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return l
	}
	l.img = img
	for _, p := range []string{ignInfoISO, kargsISO, featuresISO} {
		if rec, err := img.Lookup(p); err == nil {
			l.meta[p] = rec
		}
	}
	if emb, err := embed.Open(bytes.NewReader(data), int64(len(data))); err == nil {
		l.emb = emb
		l.initrd = emb.Initrd
		if emb.Kargs != nil {
			l.areas = emb.Kargs.Areas
			l.kargSize = emb.Kargs.Size
		}
	}
	l.header = len(data) > kargHdrOff+8 && string(data[kargHdrOff:kargHdrOff+8]) == "coreKarg"
	return l
}

// lookupIn parses data and looks up an ISO9660 path.
func lookupIn(data []byte, p string) (iso.Record, error) {
	img, err := iso.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return iso.Record{}, err
	}
	return img.Lookup(p)
}

// dirRecordOffset returns the byte offset of the directory record of the
// file at ISO9660 path p, found by scanning its parent's extent for a
// record with the file's extent.
func dirRecordOffset(data []byte, p string) (int64, error) {
	rec, err := lookupIn(data, p)
	if err != nil {
		return 0, err
	}
	parent, err := lookupIn(data, path.Dir("/"+p))
	if err != nil {
		return 0, err
	}
	end := parent.Offset + parent.Length
	for pos := parent.Offset; pos < end && pos < int64(len(data)); {
		n := int64(data[pos])
		if n == 0 {
			pos = (pos/sectorSize + 1) * sectorSize
			continue
		}
		lba := binary.LittleEndian.Uint32(data[pos+2:])
		size := binary.LittleEndian.Uint32(data[pos+10:])
		nameLen := int64(data[pos+32])
		name := string(data[pos+33 : pos+33+nameLen])
		if int64(lba)*sectorSize == rec.Offset && int64(size) == rec.Length && strings.HasPrefix(name, path.Base(p)) {
			return pos, nil
		}
		pos += n
	}
	return 0, fmt.Errorf("directory record of %s not found", p)
}

// setRecordLength sets the data length (both-endian) of the record at pos.
func setRecordLength(data []byte, pos int64, n uint32) {
	binary.LittleEndian.PutUint32(data[pos+10:], n)
	binary.BigEndian.PutUint32(data[pos+14:], n)
}

// setRecordLBA sets the extent location (both-endian) of the record at pos.
func setRecordLBA(data []byte, pos int64, lba uint32) {
	binary.LittleEndian.PutUint32(data[pos+2:], lba)
	binary.BigEndian.PutUint32(data[pos+6:], lba)
}

// setFile replaces the content of the file at ISO9660 path p. Shorter
// content is padded with spaces (harmless after JSON); longer content may
// use the slack of the file's last sector, and the directory record's
// length is updated.
func setFile(data []byte, p string, content []byte) error {
	rec, err := lookupIn(data, p)
	if err != nil {
		return err
	}
	room := (rec.Length + sectorSize - 1) / sectorSize * sectorSize
	if room == 0 {
		room = sectorSize
	}
	if int64(len(content)) > room {
		return fmt.Errorf("%d bytes do not fit the %d-byte extent of %s", len(content), room, p)
	}
	if int64(len(content)) <= rec.Length {
		buf := bytes.Repeat([]byte(" "), int(rec.Length))
		copy(buf, content)
		copy(data[rec.Offset:], buf)
		return nil
	}
	pos, err := dirRecordOffset(data, p)
	if err != nil {
		return err
	}
	copy(data[rec.Offset:], content)
	setRecordLength(data, pos, uint32(len(content)))
	return nil
}

// renameRecord renames the directory record of p (to a name no longer), so
// that, for instance, features.json's extent can serve as igninfo.json on
// an image that has none (Lookup scans in on-disk order).
func renameRecord(data []byte, p, newName string) error {
	pos, err := dirRecordOffset(data, p)
	if err != nil {
		return err
	}
	nameLen := int(data[pos+32])
	old := string(data[pos+33 : pos+33+int64(nameLen)])
	base, ver, _ := strings.Cut(old, ";")
	if len(newName) > len(base) {
		return fmt.Errorf("rename %s: %q is longer than %q", p, newName, base)
	}
	// A NUL ends a name (pkg/iso's reading, and the kernel's), so a shorter
	// name is NUL-padded to keep the record layout.
	newName += strings.Repeat("\x00", len(base)-len(newName))
	nn := newName
	if ver != "" {
		nn += ";" + ver
	}
	copy(data[pos+33:], nn)
	return nil
}

// isoPathOf lower-cases an ISO9660 path the way kargs.json and
// igninfo.json spell it (their lookups upper-case it again).
func isoPathOf(p string) string { return strings.ToLower(p) }

// fixtureSHA is the hex SHA-256 of a file.
func fixtureSHA(t testing.TB, p string) string { return fixture.SHA256(t, p) }
