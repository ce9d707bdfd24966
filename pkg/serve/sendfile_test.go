package serve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/embed"
)

// fileFleet serves one host whose overlay reads a copy of the CoreOS
// fixture as an *os.File, so that its stretches go out by sendfile.
func fileFleet(t *testing.T) (h *Handler, base string, want []byte) {
	t.Helper()
	base = filepath.Join(t.TempDir(), "base.iso")
	data, err := os.ReadFile(fixture.ISO(t, "embed-areas-2023-07.x86_64.iso"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(base, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	im, err := embed.Open(f, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := im.EmbedIgnition(hostConfig("file1"), false)
	if err != nil {
		t.Fatal(err)
	}
	ov, err := im.Overlay(c)
	if err != nil {
		t.Fatal(err)
	}
	// An extent of a file too, at the end.
	ext, err := os.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ext.Close() })
	if _, err := ov.Append(io.NewSectionReader(ext, 4096, 70000), 70000); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := ov.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	img := Image{Overlay: ov, ETag: `"file1"`}
	h = New(Options{Lookup: func(_ context.Context, name string) (Image, error) {
		if name != "file1" {
			return Image{}, ErrNotFound
		}
		return img, nil
	}})
	return h, base, buf.Bytes()
}

func getRange(t *testing.T, url string, from, to int64) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if from >= 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", from, to))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// TestSendfilePieces: over a real connection, where the base image's
// stretches go out by sendfile and the patches as bytes, a full GET and
// random ranges (across patches and into the appended extent) are the
// image's bytes.
func TestSendfilePieces(t *testing.T) {
	h, _, want := fileFleet(t)
	srv := httptest.NewServer(h)
	defer srv.Close()
	url := srv.URL + "/hosts/file1.iso"
	if got := getRange(t, url, -1, 0); !bytes.Equal(got, want) {
		t.Fatalf("full GET: %d bytes, not the image's %d", len(got), len(want))
	}
	rng := rand.New(rand.NewSource(3))
	size := int64(len(want))
	for i := 0; i < 60; i++ {
		from := rng.Int63n(size)
		to := min(from+rng.Int63n(1<<20), size-1)
		if got := getRange(t, url, from, to); !bytes.Equal(got, want[from:to+1]) {
			t.Fatalf("bytes=%d-%d: other bytes than the image's", from, to)
		}
	}
}

// TestSendfileReplacedBase: a base file replaced under its name is not
// reopened for sendfile; the image's bytes still come from the file the
// overlay was planned on.
func TestSendfileReplacedBase(t *testing.T) {
	h, base, want := fileFleet(t)
	other := filepath.Join(filepath.Dir(base), "other.iso")
	if err := os.WriteFile(other, bytes.Repeat([]byte{0xee}, len(want)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, base); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	if got := getRange(t, srv.URL+"/hosts/file1.iso", -1, 0); !bytes.Equal(got, want) {
		t.Fatalf("after the base was replaced: %d bytes, not the planned image's", len(got))
	}
}
