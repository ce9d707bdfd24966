package embed

import (
	"fmt"
	"io"
	"os"
)

// Stream copies the size-byte image r to w with every region substituted.
// Regions must be sorted by offset and must not overlap. The image is copied
// in pieces, never held in memory; when r is an *os.File the kernel may move
// the data itself (sendfile/splice).
func Stream(w io.Writer, r io.ReaderAt, size int64, regions []Region) error {
	var pos int64
	for _, reg := range regions {
		if reg.Offset < pos {
			return fmt.Errorf("region starting at %d precedes current offset %d", reg.Offset, pos)
		}
		end := reg.Offset + int64(len(reg.Data))
		if end > size {
			return fmt.Errorf("%s at offset %d runs past the end of the %d-byte image", reg.What, reg.Offset, size)
		}
		if err := CopyRange(w, r, pos, reg.Offset-pos); err != nil {
			return err
		}
		if _, err := w.Write(reg.Data); err != nil {
			return fmt.Errorf("writing %s at offset %d: %w", reg.What, reg.Offset, err)
		}
		pos = end
	}
	return CopyRange(w, r, pos, size-pos)
}

// CopyRange copies the n bytes at offset off of r to w. When r is an
// *os.File the kernel may move the data itself (copy_file_range, which
// reflinks where the file system can, sendfile or splice).
func CopyRange(w io.Writer, r io.ReaderAt, off, n int64) error {
	if n == 0 {
		return nil
	}
	var src io.Reader = io.NewSectionReader(r, off, n)
	if f, ok := r.(*os.File); ok {
		// A seeked *os.File behind an io.LimitedReader lets os.File.ReadFrom
		// and WriteTo use copy_file_range, sendfile or splice.
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("seeking to offset %d: %w", off, err)
		}
		src = &io.LimitedReader{R: f, N: n}
	}
	copied, err := io.Copy(w, src)
	if err != nil {
		return fmt.Errorf("copying image bytes %d..%d: %w", off, off+n, err)
	}
	if copied != n {
		return fmt.Errorf("copying image bytes %d..%d: image ended after %d bytes", off, off+n, off+copied)
	}
	return nil
}

// Patch writes every region into w at its offset, for in-place changes of
// an image that already holds the rest of the bytes.
func Patch(w io.WriterAt, regions []Region) error {
	for _, reg := range regions {
		if _, err := w.WriteAt(reg.Data, reg.Offset); err != nil {
			return fmt.Errorf("writing %s at offset %d: %w", reg.What, reg.Offset, err)
		}
	}
	return nil
}
