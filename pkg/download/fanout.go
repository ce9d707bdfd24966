package download

import (
	"io"
	"sync"
	"sync/atomic"
)

// fanout sizes: chunks of 256 KiB, at most fanoutBuffers of them in
// flight (2.5 MiB however large the image).
const (
	fanoutChunk   = 256 << 10
	fanoutBuffers = 10
)

// fanout reads r to its end and writes every chunk to each of ws, each
// writer in its own goroutine, so that hashing, signature checking and
// writing the file run in parallel with each other and with the
// transfer. It stops at the first read or write error and returns it,
// with the index of the writer that failed (-1 for a read error).
func fanout(r io.Reader, ws []io.Writer) (err error, from int) {
	type item struct {
		b    []byte
		refs *atomic.Int32
	}
	free := make(chan []byte, fanoutBuffers)
	for range fanoutBuffers {
		free <- make([]byte, fanoutChunk)
	}
	chans := make([]chan item, len(ws))
	errs := make([]error, len(ws))
	var failed atomic.Bool
	var wg sync.WaitGroup
	for i, w := range ws {
		ch := make(chan item, fanoutBuffers)
		chans[i] = ch
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range ch {
				if errs[i] == nil {
					if _, err := w.Write(it.b); err != nil {
						errs[i] = err
						failed.Store(true)
					}
				}
				if it.refs.Add(-1) == 0 {
					free <- it.b[:cap(it.b)]
				}
			}
		}()
	}
	var rerr error
	for !failed.Load() {
		b := <-free
		n, err := fill(r, b)
		if n > 0 {
			refs := new(atomic.Int32)
			refs.Store(int32(len(ws)))
			for _, ch := range chans {
				ch <- item{b[:n], refs}
			}
		} else {
			free <- b
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
	}
	for _, ch := range chans {
		close(ch)
	}
	wg.Wait()
	if rerr != nil {
		return rerr, -1
	}
	for i, e := range errs {
		if e != nil {
			return e, i
		}
	}
	return nil, 0
}

// fill reads into b until it is full or r fails; io.EOF means the data
// ended (after the n bytes returned). Unlike io.ReadFull it passes every
// other error on as it is, io.ErrUnexpectedEOF of a truncated response
// included.
func fill(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
