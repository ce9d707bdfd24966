package imagefile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/isobuild/isobuild/pkg/overlay"
)

// The journal file: journalMagic; the image size before the edit and
// after it (uint64 each); the number of regions (uint32); per region its
// offset and length (uint64 each), the SHA-256 of the bytes the edit
// writes there, and the original bytes; then the SHA-256 of all that.
// Integers are big-endian.
//
// The final checksum tells a complete journal from one damaged later: a
// journal is written under a temporary name, synced and only then renamed
// into place, so a process that dies while writing it leaves no journal,
// only the temporary file, and an untouched image. The hash of the new
// bytes ties the journal to its edit: a region is restored only if it
// holds its original bytes or the edit's, so a stale journal never writes
// into an image that has been replaced or edited by another tool since.
const journalMagic = "isobuild journal v2\n"

// MaxJournalSize bounds the journal a reader accepts. An edit saves the
// bytes it overwrites: the embed areas, a few MiB at most.
const MaxJournalSize = 256 << 20

// journal is the parsed content of a journal file.
type journal struct {
	size    int64 // of the image before the edit
	newSize int64 // after it
	regions []region
}

type region struct {
	off     int64
	data    []byte // the original bytes
	newHash [sha256.Size]byte
}

// record reads from f the bytes that img's patches replace, and hashes
// the bytes that replace them.
func record(f *os.File, img *overlay.Image) (*journal, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	j := &journal{size: st.Size(), newSize: max(st.Size(), img.Size())}
	for _, r := range img.Patched() {
		b := make([]byte, r.Length)
		if _, err := f.ReadAt(b, r.Offset); err != nil {
			return nil, fmt.Errorf("reading %d bytes at offset %d: %w", r.Length, r.Offset, err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(img, r.Offset, r.Length)); err != nil {
			return nil, err
		}
		reg := region{off: r.Offset, data: b}
		h.Sum(reg.newHash[:0])
		j.regions = append(j.regions, reg)
	}
	return j, nil
}

func (j *journal) marshal() []byte {
	n := len(journalMagic) + 20 + sha256.Size
	for _, r := range j.regions {
		n += 16 + sha256.Size + len(r.data)
	}
	b := make([]byte, 0, n)
	b = append(b, journalMagic...)
	b = binary.BigEndian.AppendUint64(b, uint64(j.size))
	b = binary.BigEndian.AppendUint64(b, uint64(j.newSize))
	b = binary.BigEndian.AppendUint32(b, uint32(len(j.regions)))
	for _, r := range j.regions {
		b = binary.BigEndian.AppendUint64(b, uint64(r.off))
		b = binary.BigEndian.AppendUint64(b, uint64(len(r.data)))
		b = append(b, r.newHash[:]...)
		b = append(b, r.data...)
	}
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// errDamaged is wrapped by parse errors.
var errDamaged = errors.New("damaged journal")

// parseJournal decodes a journal file's bytes, checking every length
// against the input before using it.
func parseJournal(b []byte) (*journal, error) {
	bad := func(what string) error { return fmt.Errorf("%w: %s", errDamaged, what) }
	if len(b) < len(journalMagic)+20+sha256.Size {
		return nil, bad("too short")
	}
	if string(b[:len(journalMagic)]) != journalMagic {
		return nil, bad("not an isobuild journal")
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, bad("checksum mismatch")
	}
	p := body[len(journalMagic):]
	size, newSize := binary.BigEndian.Uint64(p), binary.BigEndian.Uint64(p[8:])
	n := binary.BigEndian.Uint32(p[16:])
	p = p[20:]
	if size > 1<<62 || newSize > 1<<62 || newSize < size {
		return nil, bad("image sizes out of range")
	}
	j := &journal{size: int64(size), newSize: int64(newSize)}
	for i := range n {
		if len(p) < 16+sha256.Size {
			return nil, bad(fmt.Sprintf("region %d: truncated", i))
		}
		off, l := binary.BigEndian.Uint64(p), binary.BigEndian.Uint64(p[8:])
		reg := region{off: int64(off)}
		copy(reg.newHash[:], p[16:])
		p = p[16+sha256.Size:]
		if l > uint64(len(p)) || off > 1<<62 {
			return nil, bad(fmt.Sprintf("region %d: offset %d, length %d out of range", i, off, l))
		}
		reg.data = p[:l]
		j.regions = append(j.regions, reg)
		p = p[l:]
	}
	if len(p) != 0 {
		return nil, bad(fmt.Sprintf("%d bytes after the last region", len(p)))
	}
	return j, nil
}

// MismatchError reports a journal whose edit the image does not hold: a
// region that is neither as before the edit nor as the edit wrote it, or
// a size that neither had. The image has been replaced or changed since.
type MismatchError struct {
	Offset int64
	Detail string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s: the journal does not belong to the image as it is now", e.Detail)
}

// check verifies that f holds, region by region, either the original bytes
// or the edit's, so that restoring cannot write over anything else.
func (j *journal) check(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() < j.size || st.Size() > j.newSize {
		return &MismatchError{Detail: fmt.Sprintf("the image is %d bytes; the edit changed it from %d to %d bytes", st.Size(), j.size, j.newSize)}
	}
	for _, r := range j.regions {
		cur := make([]byte, len(r.data))
		if _, err := f.ReadAt(cur, r.off); err != nil {
			return fmt.Errorf("reading %d bytes at offset %d: %w", len(cur), r.off, err)
		}
		if bytes.Equal(cur, r.data) || sha256.Sum256(cur) == r.newHash {
			continue
		}
		return &MismatchError{Offset: r.off, Detail: fmt.Sprintf("the %d bytes at offset %d are neither the original ones nor the edit's", len(cur), r.off)}
	}
	return nil
}

// writeJournal writes j durably at path: under a temporary name, synced,
// renamed, and the directory synced.
func writeJournal(path string, j *journal) error {
	tmp := path + ".tmp"
	// Under the lock, a temporary journal is a dead process's; O_EXCL
	// also refuses to follow a symlink planted in its place.
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating the journal of the in-place edit: %w", err)
	}
	_, err = f.Write(j.marshal())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing the journal %s of the in-place edit (the image is unchanged): %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// removeJournal removes the journal at path, durably.
func removeJournal(path string) error {
	if err := os.Remove(path); err != nil {
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

// restore writes j's original bytes back into f, truncates what an edit
// appended, and syncs f.
func restore(f *os.File, j *journal) error {
	for _, r := range j.regions {
		if _, err := f.WriteAt(r.data, r.off); err != nil {
			return fmt.Errorf("restoring %d bytes at offset %d: %w", len(r.data), r.off, err)
		}
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() > j.size {
		if err := f.Truncate(j.size); err != nil {
			return fmt.Errorf("truncating to the original %d bytes: %w", j.size, err)
		}
	}
	return f.Sync()
}

// rollback restores f, the image called name, from the journal at jpath,
// if there is one, and removes it. It reports whether there was a journal
// to roll back. A journal that could have been written by someone else, or
// that does not match the image, is refused and left alone.
func rollback(f *os.File, name, jpath string) (bool, error) {
	jst, err := os.Lstat(jpath)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	unusable := func(err error) error {
		return fmt.Errorf("%s has an unfinished edit, but its journal %s is unusable (%w): nothing was restored; compare the image with a pristine copy (or run 'isobuild iso reset'), then remove the journal", name, jpath, err)
	}
	if err != nil {
		return false, unusable(err)
	}
	ist, err := f.Stat()
	if err != nil {
		return false, err
	}
	if err := checkJournalFile(jst, ist); err != nil {
		return false, unusable(err)
	}
	jf, err := os.Open(jpath)
	if err != nil {
		return false, unusable(err)
	}
	defer jf.Close()
	if st, err := jf.Stat(); err != nil || !os.SameFile(st, jst) {
		return false, unusable(errors.New("it changed while being opened"))
	}
	raw, err := io.ReadAll(io.LimitReader(jf, MaxJournalSize+1))
	if err != nil {
		return false, unusable(err)
	}
	var j *journal
	if len(raw) > MaxJournalSize {
		err = fmt.Errorf("%w: larger than %d bytes", errDamaged, MaxJournalSize)
	} else {
		j, err = parseJournal(raw)
	}
	if err == nil {
		err = j.check(f)
	}
	if err != nil {
		return false, unusable(err)
	}
	if err := restore(f, j); err != nil {
		return false, fmt.Errorf("rolling back the unfinished edit of %s from %s: %w", name, jpath, err)
	}
	if err := removeJournal(jpath); err != nil {
		return false, fmt.Errorf("%s was restored, but its journal %s could not be removed: %w", name, jpath, err)
	}
	return true, nil
}

// syncDir makes a rename or removal in dir durable. Errors are ignored:
// some systems cannot open or sync a directory, and the data is synced.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
