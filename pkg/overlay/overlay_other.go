//go:build !linux

package overlay

import (
	"context"
	"io"
	"os"
)

// writeFile has no kernel copy to offer outside Linux: the caller writes
// the overlay with the generic path.
func (im *Image) writeFile(ctx context.Context, f *os.File) (n int64, handled bool, err error) {
	return 0, false, nil
}

// fastDst is an ApplyTo destination; outside Linux it has no fast path.
type fastDst struct{}

// applyDst inspects an *os.File given to ApplyTo.
func applyDst(f *os.File) (fastDst, error) { return fastDst{}, nil }

// copyExtent writes extent e to w at woff with positioned reads and writes.
func (fastDst) copyExtent(ctx context.Context, w io.WriterAt, woff int64, e extent, buf *[]byte) (int64, error) {
	return copyAt(ctx, w, woff, e.r, 0, e.n, e.off, "appended data", buf)
}
