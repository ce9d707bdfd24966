package download

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

var keyConfig = &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}

// newKey makes a signing key; with cfg it is created at cfg.Now().
func newKey(t testing.TB, cfg *packet.Config) *openpgp.Entity {
	t.Helper()
	if cfg == nil {
		cfg = keyConfig
	}
	e, err := openpgp.NewEntity("isobuild test", "", "test@example.invalid", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func armoredPublic(t testing.TB, e *openpgp.Entity) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return b.Bytes()
}

func sign(t testing.TB, e *openpgp.Entity, data []byte, cfg *packet.Config) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := openpgp.DetachSign(&b, e, bytes.NewReader(data), cfg); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sha256hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
func sha512hex(b []byte) string { s := sha512.Sum512(b); return hex.EncodeToString(s[:]) }

// server serves files by path and counts GETs.
type server struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	gets  map[string]int
	// fail503 makes the first n GETs of a path answer 503.
	fail503 map[string]int
	// redirect maps a path to another.
	redirect map[string]string
	// stall makes a path send half its bytes, then wait for release.
	stall   map[string]chan struct{}
	started chan struct{}
}

func newServer(t testing.TB) *server {
	s := &server{files: map[string][]byte{}, gets: map[string]int{}, fail503: map[string]int{},
		redirect: map[string]string{}, stall: map[string]chan struct{}{}, started: make(chan struct{}, 10)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.gets[r.URL.Path]++
	if s.fail503[r.URL.Path] > 0 {
		s.fail503[r.URL.Path]--
		s.mu.Unlock()
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	if to, ok := s.redirect[r.URL.Path]; ok {
		s.mu.Unlock()
		http.Redirect(w, r, to, http.StatusFound)
		return
	}
	b, ok := s.files[r.URL.Path]
	stall := s.stall[r.URL.Path]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	if stall != nil {
		w.Write(b[:len(b)/2])
		w.(http.Flusher).Flush()
		s.started <- struct{}{}
		select {
		case <-stall:
		case <-r.Context().Done():
		}
		return
	}
	w.Write(b)
}

func (s *server) set(path string, b []byte) {
	s.mu.Lock()
	s.files[path] = b
	s.mu.Unlock()
}

func (s *server) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets[path]
}

// fixture is a stream with one signed ISO.
type fixture struct {
	srv   *server
	key   *openpgp.Entity
	image []byte
	c     *Client
	dir   string
}

const isoName = "fedora-coreos-43.20261101.3.0-live-iso.x86_64.iso"
const isoPath = "/prod/streams/stable/builds/43.20261101.3.0/x86_64/" + isoName

func newFixture(t *testing.T) *fixture {
	f := &fixture{srv: newServer(t), key: newKey(t, nil), dir: t.TempDir()}
	f.image = bytes.Repeat([]byte("isobuild test image "), 50000)
	f.srv.set(isoPath, f.image)
	f.srv.set(isoPath+".sig", sign(t, f.key, f.image, nil))
	f.setStream(t, sha256hex(f.image))
	f.c = &Client{Keys: openpgp.EntityList{f.key}, Backoff: time.Millisecond}
	return f
}

func (f *fixture) setStream(t *testing.T, sum string) {
	loc := f.srv.URL + isoPath
	js := fmt.Sprintf(`{"stream":"stable","metadata":{"last-modified":"2026-11-20T00:00:00Z"},
"architectures":{"x86_64":{"artifacts":{"metal":{"release":"43.20261101.3.0","formats":{
"iso":{"disk":{"location":%q,"signature":%q,"sha256":%q}},
"pxe":{"kernel":{"location":"k","signature":"k.sig","sha256":""},"initramfs":{"location":"i"},"rootfs":{"location":"r"}}}}}}}}`,
		loc, loc+".sig", sum)
	f.srv.set("/streams/stable.json", []byte(js))
}

func (f *fixture) artifact(t *testing.T) Artifact {
	t.Helper()
	u, err := StreamURL(f.srv.URL+"/streams/", "stable")
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.c.FetchStream(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	arts, err := Resolve(st, u, "x86_64", "metal", "iso")
	if err != nil {
		t.Fatal(err)
	}
	if len(arts) != 1 {
		t.Fatalf("iso resolves to %d artifacts", len(arts))
	}
	return arts[0]
}

func (f *fixture) download(t *testing.T, a Artifact) (Result, error) {
	return f.c.Download(context.Background(), OSDir(f.dir), a, false)
}

// files lists the directory, hidden temporary files included.
func files(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func wantNothing(t *testing.T, dir string) {
	t.Helper()
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("files left after a failed download: %v", got)
	}
}

func TestDownloadGood(t *testing.T) {
	f := newFixture(t)
	res, err := f.download(t, f.artifact(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Name != isoName || res.SigName != isoName+".sig" || !res.Verified || res.Reused || res.Size != int64(len(f.image)) {
		t.Errorf("result %+v", res)
	}
	got, _ := os.ReadFile(filepath.Join(f.dir, isoName))
	if !bytes.Equal(got, f.image) {
		t.Errorf("image content differs")
	}
	sig, _ := os.ReadFile(filepath.Join(f.dir, isoName+".sig"))
	if !bytes.Equal(sig, f.srv.files[isoPath+".sig"]) {
		t.Errorf("saved signature differs")
	}
	if got := files(t, f.dir); strings.Join(got, " ") != isoName+" "+isoName+".sig" {
		t.Errorf("directory holds %v", got)
	}
	if st, _ := os.Stat(filepath.Join(f.dir, isoName)); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
}

func TestDownloadArmoredSignature(t *testing.T) {
	f := newFixture(t)
	var b bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&b, f.key, bytes.NewReader(f.image), nil); err != nil {
		t.Fatal(err)
	}
	f.srv.set(isoPath+".sig", b.Bytes())
	if _, err := f.download(t, f.artifact(t)); err != nil {
		t.Fatal(err)
	}
}

func TestDownloadTampered(t *testing.T) {
	f := newFixture(t)
	a := f.artifact(t)
	bad := append([]byte(nil), f.image...)
	bad[len(bad)/2] ^= 1
	f.srv.set(isoPath, bad)
	_, err := f.download(t, a)
	if !errors.Is(err, ErrBadSignature) {
		t.Errorf("tampered image: err = %v, want ErrBadSignature", err)
	}
	wantNothing(t, f.dir)

	// Without a signature, the sha256 of the metadata still catches it.
	f.c.Insecure = true
	a.SignatureURL = ""
	_, err = f.download(t, a)
	if !errors.Is(err, ErrChecksum) {
		t.Errorf("tampered unsigned image: err = %v, want ErrChecksum", err)
	}
	wantNothing(t, f.dir)
}

func TestDownloadBadSignature(t *testing.T) {
	for _, insecure := range []bool{false, true} {
		t.Run(fmt.Sprint("insecure=", insecure), func(t *testing.T) {
			f := newFixture(t)
			f.c.Insecure = insecure
			a := f.artifact(t)
			// Made by a key that is not trusted.
			f.srv.set(isoPath+".sig", sign(t, newKey(t, nil), f.image, nil))
			if _, err := f.download(t, a); !errors.Is(err, ErrBadSignature) {
				t.Errorf("untrusted signer: err = %v", err)
			}
			// By the trusted key, over other data.
			f.srv.set(isoPath+".sig", sign(t, f.key, []byte("other"), nil))
			if _, err := f.download(t, a); !errors.Is(err, ErrBadSignature) {
				t.Errorf("signature of other data: err = %v", err)
			}
			// Not a signature at all.
			f.srv.set(isoPath+".sig", []byte("<html>not found</html>"))
			if _, err := f.download(t, a); !errors.Is(err, ErrBadSignature) {
				t.Errorf("garbage signature: err = %v", err)
			}
			wantNothing(t, f.dir)
		})
	}
}

func TestDownloadMissingSignature(t *testing.T) {
	f := newFixture(t)
	a := f.artifact(t)
	delete(f.srv.files, isoPath+".sig")
	var logs []string
	f.c.Log = func(m string) { logs = append(logs, m) }
	if _, err := f.download(t, a); !errors.Is(err, ErrNoSignature) {
		t.Errorf("missing signature without Insecure: err = %v", err)
	}
	wantNothing(t, f.dir)
	if f.srv.count(isoPath) != 0 {
		t.Errorf("image fetched although its signature is missing")
	}
	f.c.Insecure = true
	res, err := f.download(t, a)
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified || res.SigName != "" {
		t.Errorf("result %+v", res)
	}
	if got := files(t, f.dir); strings.Join(got, " ") != isoName {
		t.Errorf("directory holds %v", got)
	}
	if !strings.Contains(strings.Join(logs, "\n"), "Signature not found; skipping verification as requested") {
		t.Errorf("log %q", logs)
	}
}

// TestSharedSHA256: a version 4 SHA-256 signature gives the data's
// SHA-256 from its own hash (one hash pass, not two); other signatures
// hash it apart. Either way a right digest passes and a wrong one fails.
func TestSharedSHA256(t *testing.T) {
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA512} {
		f := newFixture(t)
		f.srv.set(isoPath+".sig", sign(t, f.key, f.image, &packet.Config{DefaultHash: h}))
		sig, err := parseSignature(sign(t, f.key, f.image, &packet.Config{DefaultHash: h}), f.c.Keys)
		if err != nil {
			t.Fatal(err)
		}
		if sig.plainSHA256 != (h == crypto.SHA256) {
			t.Errorf("%v: plainSHA256 = %v", h, sig.plainSHA256)
		}
		if h == crypto.SHA256 {
			var sum []byte
			if err := sig.check(f.c.Keys, bytes.NewReader(f.image), &sum); err != nil || hex.EncodeToString(sum) != sha256hex(f.image) {
				t.Errorf("shared sha256 %x, want %s (%v)", sum, sha256hex(f.image), err)
			}
		}
		if _, err := f.download(t, f.artifact(t)); err != nil {
			t.Errorf("%v: %v", h, err)
		}
		g := newFixture(t)
		g.srv.set(isoPath+".sig", sign(t, g.key, g.image, &packet.Config{DefaultHash: h}))
		g.setStream(t, sha256hex(append([]byte("x"), g.image...)))
		if _, err := g.download(t, g.artifact(t)); !errors.Is(err, ErrChecksum) {
			t.Errorf("%v: wrong sha256: err = %v, want ErrChecksum", h, err)
		}
		wantNothing(t, g.dir)
	}
}

func TestDownloadChecksumMismatch(t *testing.T) {
	f := newFixture(t)
	f.setStream(t, strings.Repeat("0", 64))
	_, err := f.download(t, f.artifact(t))
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "expected="+strings.Repeat("0", 64)) {
		t.Errorf("err = %v", err)
	}
	wantNothing(t, f.dir)
}

func TestDownloadRetries(t *testing.T) {
	f := newFixture(t)
	a := f.artifact(t)
	f.srv.fail503[isoPath+".sig"] = 2
	f.srv.fail503[isoPath] = 3
	f.c.Retries = 3
	if _, err := f.download(t, a); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.count(isoPath); n != 4 {
		t.Errorf("image GETs = %d, want 4", n)
	}

	// Too few retries: the 503 is the error.
	g := newFixture(t)
	a = g.artifact(t)
	g.srv.fail503[isoPath] = 3
	g.c.Retries = 2
	_, err := g.download(t, a)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 503 {
		t.Errorf("err = %v, want a 503", err)
	}
	wantNothing(t, g.dir)

	// A 404 is not retried.
	h := newFixture(t)
	a = h.artifact(t)
	delete(h.srv.files, isoPath)
	h.c.Retries = 5
	if _, err := h.download(t, a); err == nil || h.srv.count(isoPath) != 1 {
		t.Errorf("404: err = %v after %d GETs", err, h.srv.count(isoPath))
	}
}

func TestDownloadRedirect(t *testing.T) {
	f := newFixture(t)
	a := f.artifact(t)
	a.URL = f.srv.URL + "/latest/iso"
	f.srv.redirect["/latest/iso"] = isoPath
	res, err := f.download(t, a)
	if err != nil {
		t.Fatal(err)
	}
	if res.Name != isoName {
		t.Errorf("name %q, want the final URL's %q", res.Name, isoName)
	}
	if got := files(t, f.dir); strings.Join(got, " ") != isoName+" "+isoName+".sig" {
		t.Errorf("directory holds %v", got)
	}
	// Again: the name is known only after the redirect, so the image is
	// requested, but its body is not read and the file is kept.
	res, err = f.download(t, a)
	if err != nil || !res.Reused {
		t.Errorf("second download: %+v, %v", res, err)
	}
}

func TestDownloadPresent(t *testing.T) {
	f := newFixture(t)
	a := f.artifact(t)
	if _, err := f.download(t, a); err != nil {
		t.Fatal(err)
	}
	st1, _ := os.Stat(filepath.Join(f.dir, isoName))
	res, err := f.download(t, a)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Reused {
		t.Errorf("verified present file downloaded again: %+v", res)
	}
	if n := f.srv.count(isoPath); n != 1 {
		t.Errorf("image GETs = %d, want 1", n)
	}
	st2, _ := os.Stat(filepath.Join(f.dir, isoName))
	if !os.SameFile(st1, st2) {
		t.Errorf("present file replaced")
	}
}

func TestDownloadCorruptPresent(t *testing.T) {
	f := newFixture(t)
	a := f.artifact(t)
	if _, err := f.download(t, a); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(f.dir, isoName)
	bad := append([]byte(nil), f.image...)
	bad[7] ^= 0x40
	os.WriteFile(p, bad, 0o644)
	res, err := f.download(t, a)
	if err != nil {
		t.Fatal(err)
	}
	if res.Reused || f.srv.count(isoPath) != 2 {
		t.Errorf("corrupt file kept: %+v, %d GETs", res, f.srv.count(isoPath))
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, f.image) {
		t.Errorf("corrupt file not replaced")
	}
	// A truncated file, and a signature file that differs, too.
	os.WriteFile(p, f.image[:100], 0o644)
	os.WriteFile(p+".sig", []byte("stale"), 0o644)
	if res, err := f.download(t, a); err != nil || res.Reused {
		t.Errorf("%+v, %v", res, err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, f.image) {
		t.Errorf("truncated file not replaced")
	}
}

func TestDownloadCancel(t *testing.T) {
	f := newFixture(t)
	a := f.artifact(t)
	release := make(chan struct{})
	defer close(release)
	f.srv.stall[isoPath] = release
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := f.c.Download(ctx, OSDir(f.dir), a, false)
		errc <- err
	}()
	<-f.srv.started
	// Half the image is on its way to the temporary file.
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("download did not end on cancel")
	}
	wantNothing(t, f.dir)
}

// TestDownloadExpiredKey checks a signature made while its key was valid
// against a key that has expired since, as Flatcar's yearly subkeys do.
func TestDownloadExpiredKey(t *testing.T) {
	f := newFixture(t)
	past := time.Now().Add(-3 * 365 * 24 * time.Hour)
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, KeyLifetimeSecs: 24 * 3600, Time: func() time.Time { return past }}
	old := newKey(t, cfg)
	signCfg := &packet.Config{Time: func() time.Time { return past.Add(time.Hour) }}
	sig := sign(t, old, f.image, signCfg)
	// The plain check at the present time fails: the test can fail.
	if _, err := openpgp.CheckDetachedSignature(openpgp.EntityList{old}, bytes.NewReader(f.image), bytes.NewReader(sig), nil); err == nil {
		t.Fatal("expired key verifies at the present time; test key is not expired")
	}
	f.c.Keys = openpgp.EntityList{old}
	f.srv.set(isoPath+".sig", sig)
	if _, err := f.download(t, f.artifact(t)); err != nil {
		t.Errorf("signature made before the key expired: %v", err)
	}

}

func TestDownloadDecompress(t *testing.T) {
	f := newFixture(t)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(f.image)
	zw.Close()
	const p = "/x/fedora-coreos-metal.x86_64.raw.gz"
	f.srv.set(p, gz.Bytes())
	f.srv.set(p+".sig", sign(t, f.key, gz.Bytes(), nil))
	a := Artifact{Kind: "disk", URL: f.srv.URL + p, SignatureURL: f.srv.URL + p + ".sig", SHA256: sha256hex(gz.Bytes())}
	res, err := f.c.Download(context.Background(), OSDir(f.dir), a, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Name != "fedora-coreos-metal.x86_64.raw" || res.SigName != "" || res.Size != int64(len(f.image)) {
		t.Errorf("result %+v", res)
	}
	if got, _ := os.ReadFile(filepath.Join(f.dir, res.Name)); !bytes.Equal(got, f.image) {
		t.Errorf("decompressed content differs")
	}
	if got := files(t, f.dir); len(got) != 1 {
		t.Errorf("directory holds %v", got)
	}
	// Tampered compressed data: nothing left.
	g := append([]byte(nil), gz.Bytes()...)
	g[len(g)/2] ^= 1
	f.srv.set(p, g)
	os.Remove(filepath.Join(f.dir, res.Name))
	if _, err := f.c.Download(context.Background(), OSDir(f.dir), a, true); err == nil {
		t.Errorf("tampered compressed image accepted")
	}
	wantNothing(t, f.dir)
}

func TestDecompressedName(t *testing.T) {
	for in, want := range map[string]string{
		"a.raw.xz": "a.raw", "a.raw.gz": "a.raw", "a.tar.gz": "a.tar.gz", "a.tar.xz": "a.tar.xz",
		"kernel": "kernel", ".xz": ".xz", "a.iso": "a.iso",
	} {
		if got := decompressedName(in); got != want {
			t.Errorf("decompressedName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestResolve(t *testing.T) {
	f := newFixture(t)
	u := f.srv.URL + "/streams/stable.json"
	st, err := f.c.FetchStream(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	arts, err := Resolve(st, u, "x86_64", "metal", "pxe")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, a := range arts {
		kinds = append(kinds, a.Kind)
	}
	if strings.Join(kinds, ",") != "initramfs,kernel,rootfs" {
		t.Errorf("pxe kinds %v", kinds)
	}
	if arts[1].URL != f.srv.URL+"/streams/k" || arts[1].SignatureURL != f.srv.URL+"/streams/k.sig" || arts[0].SignatureURL != "" {
		t.Errorf("relative locations: %+v", arts)
	}
	for _, q := range [][3]string{{"aarch64", "metal", "iso"}, {"x86_64", "qemu", "iso"}, {"x86_64", "metal", "raw.xz"}} {
		_, err := Resolve(st, u, q[0], q[1], q[2])
		want := fmt.Sprintf("couldn't find architecture %s, platform %s, format %s in stream metadata", q[0], q[1], q[2])
		if err == nil || err.Error() != want {
			t.Errorf("Resolve(%v) = %v", q, err)
		}
	}
	if _, err := f.c.FetchStream(context.Background(), f.srv.URL+"/streams/nope.json"); err == nil || !strings.Contains(err.Error(), "stream metadata fetch from") {
		t.Errorf("missing stream: %v", err)
	}
	f.srv.set("/streams/bad.json", []byte("{"))
	if _, err := f.c.FetchStream(context.Background(), f.srv.URL+"/streams/bad.json"); err == nil || !strings.Contains(err.Error(), "decoding stream metadata") {
		t.Errorf("bad stream: %v", err)
	}
	if got, _ := StreamURL("https://example.com/streams/", "testing"); got != "https://example.com/streams/testing.json" {
		t.Errorf("StreamURL %s", got)
	}
	if a, _ := URLArtifact("https://example.com/a/b.iso?x=1"); a.SignatureURL != "https://example.com/a/b.iso.sig?x=1" || a.Name() != "b.iso" {
		t.Errorf("URLArtifact %+v", a)
	}
}

func TestFlatcar(t *testing.T) {
	f := newFixture(t)
	img := []byte("flatcar iso bytes")
	const dir = "/amd64-usr/current/"
	f.srv.set(dir+"flatcar_production_iso_image.iso", img)
	f.srv.set(dir+"flatcar_production_iso_image.iso.sig", sign(t, f.key, img, nil))
	digests := "# MD5 HASH\n" + strings.Repeat("a", 32) + "  flatcar_production_iso_image.iso\n# SHA512 HASH\n" +
		sha512hex(img) + "  flatcar_production_iso_image.iso\n"
	f.srv.set(dir+"flatcar_production_iso_image.iso.DIGESTS", []byte(digests))
	arts, err := f.c.FlatcarArtifacts(context.Background(), f.srv.URL+dir, "iso")
	if err != nil {
		t.Fatal(err)
	}
	if len(arts) != 1 || arts[0].SHA512 != sha512hex(img) {
		t.Fatalf("artifacts %+v", arts)
	}
	if _, err := f.c.Download(context.Background(), OSDir(f.dir), arts[0], false); err != nil {
		t.Fatal(err)
	}
	// A DIGESTS that disagrees fails the download.
	os.Remove(filepath.Join(f.dir, "flatcar_production_iso_image.iso"))
	arts[0].SHA512 = sha512hex([]byte("other"))
	if _, err := f.c.Download(context.Background(), OSDir(f.dir), arts[0], false); !errors.Is(err, ErrChecksum) {
		t.Errorf("sha512 mismatch: %v", err)
	}
	// pxe without DIGESTS files.
	arts, err = f.c.FlatcarArtifacts(context.Background(), f.srv.URL+dir, "pxe")
	if err != nil || len(arts) != 2 || arts[0].Name() != "flatcar_production_pxe_image.cpio.gz" || arts[1].Name() != "flatcar_production_pxe.vmlinuz" || arts[1].SHA512 != "" {
		t.Errorf("pxe: %+v, %v", arts, err)
	}
	if u, _ := FlatcarBaseURL("beta", "aarch64", ""); u != "https://beta.release.flatcar-linux.net/arm64-usr/current/" {
		t.Errorf("FlatcarBaseURL %s", u)
	}
	if _, err := FlatcarBaseURL("lts", "x86_64", ""); err == nil {
		t.Errorf("unknown channel accepted")
	}
	if _, err := FlatcarBaseURL("stable", "s390x", ""); err == nil {
		t.Errorf("unknown arch accepted")
	}
}

func TestParseDigests(t *testing.T) {
	d, err := ParseDigests([]byte("# SHA1 HASH\n" + strings.Repeat("B", 40) + "  f.bin\n\n# SHA512 HASH\n" + strings.Repeat("c", 128) + " *f.bin\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d["f.bin"]["SHA1"] != strings.Repeat("b", 40) || d["f.bin"]["SHA512"] != strings.Repeat("c", 128) {
		t.Errorf("%v", d)
	}
	for _, bad := range []string{"abc  f\n", "# SHA512 HASH\nabc  f\n", "# SHA512\n", "# SHA1 HASH\n" + strings.Repeat("b", 40) + "\n"} {
		if _, err := ParseDigests([]byte(bad)); err == nil {
			t.Errorf("ParseDigests(%q) succeeded", bad)
		}
	}
}

func FuzzParseDigests(f *testing.F) {
	f.Add([]byte("# SHA512 HASH\n" + strings.Repeat("c", 128) + "  f.bin\n"))
	f.Add([]byte("# MD5 HASH\nzz  x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDigests(b)
		if err != nil {
			return
		}
		for name, m := range d {
			if name == "" || len(m) == 0 {
				t.Fatalf("empty entry %q: %v", name, m)
			}
		}
	})
}

func FuzzDecodeStream(f *testing.F) {
	f.Add([]byte(`{"stream":"stable","architectures":{"x86_64":{"artifacts":{"metal":{"formats":{"iso":{"disk":{"location":"https://h/a.iso","sha256":"00"}}}}}}}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := DecodeStream(b)
		if err != nil {
			return
		}
		// Resolving never panics, and every artifact it gives has an
		// http(s) URL.
		for arch, a := range st.Architectures {
			for p, pa := range a.Artifacts {
				for fm := range pa.Formats {
					arts, err := Resolve(st, "https://example.com/streams/stable.json", arch, p, fm)
					for _, x := range arts {
						if err == nil && !strings.HasPrefix(x.URL, "http") {
							t.Fatalf("artifact URL %q", x.URL)
						}
					}
				}
			}
		}
	})
}

func FuzzParseSignature(f *testing.F) {
	k := newKey(f, nil)
	f.Add(sign(f, k, []byte("x"), nil))
	f.Add([]byte("-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n"))
	keys := openpgp.EntityList{k}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxSigSize {
			return
		}
		s, err := parseSignature(b, keys)
		if err != nil {
			return
		}
		var sum []byte
		s.check(keys, strings.NewReader("x"), &sum)
	})
}

// TestDownloadTruncated checks that a response cut short fails even when
// nothing else would notice (no signature, no digest).
func TestDownloadTruncated(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		w.Write(make([]byte, 300000))
	}))
	defer srv.Close()
	dir := t.TempDir()
	c := &Client{Insecure: true}
	_, err := c.Download(context.Background(), OSDir(dir), Artifact{Kind: "disk", URL: srv.URL + "/a.iso"}, false)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want io.ErrUnexpectedEOF", err)
	}
	wantNothing(t, dir)
}

// TestFanoutWriteError checks that a failing writer stops the copy and
// is reported.
func TestFanoutWriteError(t *testing.T) {
	boom := errors.New("disk full")
	var good bytes.Buffer
	err, from := fanout(bytes.NewReader(make([]byte, 10*fanoutChunk)), []io.Writer{&good, failAfter{boom}})
	if err != boom || from != 1 {
		t.Errorf("fanout = %v, %d", err, from)
	}
	data := bytes.Repeat([]byte("0123456789"), 100000)
	var a, b bytes.Buffer
	if err, _ := fanout(bytes.NewReader(data), []io.Writer{&a, &b}); err != nil || !bytes.Equal(a.Bytes(), data) || !bytes.Equal(b.Bytes(), data) {
		t.Errorf("fanout copy: %v", err)
	}
}

type failAfter struct{ err error }

func (f failAfter) Write(p []byte) (int, error) { return 0, f.err }

func TestDownloadStalled(t *testing.T) {
	f := newFixture(t)
	a := f.artifact(t)
	release := make(chan struct{})
	defer close(release)
	f.srv.stall[isoPath] = release
	f.c.IdleTimeout = 200 * time.Millisecond
	_, err := f.download(t, a)
	if err == nil || !strings.Contains(err.Error(), "no data from") {
		t.Errorf("stalled transfer: err = %v", err)
	}
	wantNothing(t, f.dir)
}
