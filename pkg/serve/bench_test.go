package serve

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/isobuild/isobuild/pkg/overlay"
)

// benchBase writes a base file of size random bytes (in the page cache
// after the first read).
func benchBase(b *testing.B, size int64) *os.File {
	b.Helper()
	p := filepath.Join(b.TempDir(), "base.iso")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(buf)) {
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() { f.Close() })
	return f
}

// download fetches url n times at once, discarding the bytes.
func download(b *testing.B, url string, n int, want int64) {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := http.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			got, err := io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if err != nil || got != want {
				b.Errorf("%d bytes, %v", got, err)
			}
		}()
	}
	wg.Wait()
}

// BenchmarkServe compares 16 concurrent full downloads of a host image
// (base + patches, through Handler) with ServeContent of the plain base
// file from the same process. ISOBUILD_BENCH_SIZE sets the base size in
// MiB (default 256; the figure is 1024).
func BenchmarkServe(b *testing.B) {
	size := int64(256) << 20
	if s := os.Getenv("ISOBUILD_BENCH_SIZE"); s != "" {
		var mib int64
		for _, c := range s {
			mib = mib*10 + int64(c-'0')
		}
		size = mib << 20
	}
	f := benchBase(b, size)
	ov := overlay.New(f, size)
	ov.Patch(32768, make([]byte, 2048))
	ov.Patch(size/2, make([]byte, 256<<10))
	h := New(Options{Lookup: func(context.Context, string) (Image, error) {
		return Image{Overlay: ov, ETag: `"x"`, ModTime: time.Unix(1e9, 0)}, nil
	}})
	const streams = 16
	for _, tc := range []struct {
		name    string
		handler http.Handler
		path    string
	}{
		{"overlay", h, "/hosts/h.iso"},
		{"plain-file", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			http.ServeContent(w, r, "base.iso", time.Unix(1e9, 0), io.NewSectionReader(f, 0, size))
		}), "/base.iso"},
		{"plain-osfile", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			g, err := os.Open(f.Name())
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			defer g.Close()
			w.Header().Set("Content-Type", "application/octet-stream")
			http.ServeContent(w, r, "base.iso", time.Unix(1e9, 0), g)
		}), "/base.iso"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			download(b, srv.URL+tc.path, 1, size) // warm the cache
			b.SetBytes(size * streams)
			b.ResetTimer()
			for range b.N {
				download(b, srv.URL+tc.path, streams, size)
			}
		})
	}
}
