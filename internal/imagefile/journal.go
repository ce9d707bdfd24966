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

// The journal file: journalMagic; the image size before the edit (uint64);
// the number of regions (uint32); per region its offset and length
// (uint64 each) and its original bytes; then the SHA-256 of all that.
// Integers are big-endian. The checksum tells a complete journal from one
// damaged later: a journal is written under a temporary name, synced and
// only then renamed into place, so a process that dies while writing it
// leaves no journal, only the temporary file, and an untouched image.
const journalMagic = "isobuild journal v1\n"

// MaxJournalSize bounds the journal a reader accepts. An edit saves the
// bytes it overwrites: the embed areas, a few MiB at most.
const MaxJournalSize = 256 << 20

// journal is the parsed content of a journal file.
type journal struct {
	size    int64 // of the image before the edit
	regions []region
}

type region struct {
	off  int64
	data []byte // the original bytes
}

// record reads from f the bytes that img's patches replace.
func record(f *os.File, img *overlay.Image) (*journal, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	j := &journal{size: st.Size()}
	for _, r := range img.Patched() {
		b := make([]byte, r.Length)
		if _, err := f.ReadAt(b, r.Offset); err != nil {
			return nil, fmt.Errorf("reading %d bytes at offset %d: %w", r.Length, r.Offset, err)
		}
		j.regions = append(j.regions, region{off: r.Offset, data: b})
	}
	return j, nil
}

func (j *journal) marshal() []byte {
	var b bytes.Buffer
	b.WriteString(journalMagic)
	b.Write(binary.BigEndian.AppendUint64(nil, uint64(j.size)))
	b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(j.regions))))
	for _, r := range j.regions {
		b.Write(binary.BigEndian.AppendUint64(nil, uint64(r.off)))
		b.Write(binary.BigEndian.AppendUint64(nil, uint64(len(r.data))))
		b.Write(r.data)
	}
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return b.Bytes()
}

// errDamaged is wrapped by parse errors.
var errDamaged = errors.New("damaged journal")

// parseJournal decodes a journal file's bytes, checking every length
// against the input before using it.
func parseJournal(b []byte) (*journal, error) {
	bad := func(what string) error { return fmt.Errorf("%w: %s", errDamaged, what) }
	if len(b) < len(journalMagic)+12+sha256.Size {
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
	size := binary.BigEndian.Uint64(p)
	n := binary.BigEndian.Uint32(p[8:])
	p = p[12:]
	if size > 1<<62 {
		return nil, bad("image size out of range")
	}
	j := &journal{size: int64(size)}
	for i := range n {
		if len(p) < 16 {
			return nil, bad(fmt.Sprintf("region %d: truncated", i))
		}
		off, l := binary.BigEndian.Uint64(p), binary.BigEndian.Uint64(p[8:])
		p = p[16:]
		if l > uint64(len(p)) || off > 1<<62 {
			return nil, bad(fmt.Sprintf("region %d: offset %d, length %d out of range", i, off, l))
		}
		j.regions = append(j.regions, region{off: int64(off), data: p[:l]})
		p = p[l:]
	}
	if len(p) != 0 {
		return nil, bad(fmt.Sprintf("%d bytes after the last region", len(p)))
	}
	return j, nil
}

// writeJournal writes j durably at path: under a temporary name, synced,
// renamed, and the directory synced.
func writeJournal(path string, j *journal) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
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

// rollback restores f from the journal at jpath, if there is one, and
// removes it. It reports whether there was a journal to roll back.
func rollback(f *os.File, jpath string) (bool, error) {
	jf, err := os.Open(jpath)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s has an unfinished edit, but its journal %s cannot be read: %w", f.Name(), jpath, err)
	}
	defer jf.Close()
	raw, err := io.ReadAll(io.LimitReader(jf, MaxJournalSize+1))
	if err != nil {
		return false, fmt.Errorf("reading the journal %s: %w", jpath, err)
	}
	var j *journal
	if len(raw) > MaxJournalSize {
		err = fmt.Errorf("%w: larger than %d bytes", errDamaged, MaxJournalSize)
	} else {
		j, err = parseJournal(raw)
	}
	if err != nil {
		return false, fmt.Errorf("%s has an unfinished edit, but its journal %s is unusable (%w): compare the image with a pristine copy, then remove the journal", f.Name(), jpath, err)
	}
	if err := restore(f, j); err != nil {
		return false, fmt.Errorf("rolling back the unfinished edit of %s from %s: %w", f.Name(), jpath, err)
	}
	if err := removeJournal(jpath); err != nil {
		return false, fmt.Errorf("%s was restored, but its journal %s could not be removed: %w", f.Name(), jpath, err)
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
