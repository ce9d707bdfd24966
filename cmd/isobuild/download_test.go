package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/download"
)

// dlServer serves a stream with one signed ISO, and a Flatcar release
// directory, for "isobuild download" tests.
type dlServer struct {
	*httptest.Server
	mu     sync.Mutex
	files  map[string][]byte
	gets   map[string]int
	key    *openpgp.Entity
	keyASC string
	image  []byte
}

const dlISO = "/builds/fedora-coreos-43.1-live-iso.x86_64.iso"

func newDLServer(t *testing.T) *dlServer {
	key, err := openpgp.NewEntity("isobuild test", "", "test@example.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	s := &dlServer{files: map[string][]byte{}, gets: map[string]int{}, key: key,
		image: bytes.Repeat([]byte("live iso "), 30000)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.gets[r.URL.Path]++
		b, ok := s.files[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(s.Close)

	var kb bytes.Buffer
	aw, _ := armor.Encode(&kb, openpgp.PublicKeyType, nil)
	key.Serialize(aw)
	aw.Close()
	s.keyASC = filepath.Join(t.TempDir(), "key.asc")
	os.WriteFile(s.keyASC, kb.Bytes(), 0o644)

	s.setImage(t, s.image)
	fc := []byte("flatcar live iso")
	s.files["/fc/flatcar_production_iso_image.iso"] = fc
	s.files["/fc/flatcar_production_iso_image.iso.sig"] = s.sign(t, fc)
	return s
}

// setImage serves b as the stream's ISO.
func (s *dlServer) setImage(t *testing.T, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.image = b
	sum := sha256.Sum256(b)
	s.files[dlISO] = b
	s.files[dlISO+".sig"] = s.sign(t, b)
	s.files["/streams/stable.json"] = []byte(fmt.Sprintf(`{"stream":"stable","metadata":{"last-modified":"2026-11-20T00:00:00Z"},
"architectures":{%q:{"artifacts":{"metal":{"release":"43.1","formats":{
"iso":{"disk":{"location":%q,"signature":%q,"sha256":%q}}}}}}}}`, download.HostArch(), s.URL+dlISO, s.URL+dlISO+".sig", hex.EncodeToString(sum[:])))
}

func (s *dlServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets[path]
}

func (s *dlServer) sign(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	if err := openpgp.DetachSign(&out, s.key, bytes.NewReader(b), nil); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func (s *dlServer) args(dir string, extra ...string) []string {
	return append([]string{"download", "--stream-base-url", s.URL + "/streams/", "--trust-key", s.keyASC,
		"-a", download.HostArch(), "-f", "iso", "-C", dir}, extra...)
}

func TestDownloadCLI(t *testing.T) {
	s := newDLServer(t)
	dir := t.TempDir()
	r := ok(t, nil, s.args(dir)...)
	want := filepath.Join(dir, filepath.Base(dlISO)) + "\n"
	if string(r.stdout) != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	if !strings.Contains(string(r.stderr), "Signature of fedora-coreos-43.1-live-iso.x86_64.iso verified") {
		t.Errorf("stderr %s", r.stderr)
	}
	if got, _ := os.ReadFile(strings.TrimSpace(want)); !bytes.Equal(got, s.image) {
		t.Errorf("image differs")
	}
	if _, err := os.Stat(strings.TrimSpace(want) + ".sig"); err != nil {
		t.Errorf("no signature file: %v", err)
	}

	// Again: kept, not fetched again, same stdout.
	r = ok(t, nil, s.args(dir)...)
	if string(r.stdout) != want || !strings.Contains(string(r.stderr), "present and verified") || s.count(dlISO) != 1 {
		t.Errorf("second run: stdout %q, stderr %s, %d GETs", r.stdout, r.stderr, s.count(dlISO))
	}
}

func TestDownloadCLIErrors(t *testing.T) {
	s := newDLServer(t)
	dir := t.TempDir()

	// Without --trust-key the test key is unknown.
	r := cli(t, nil, "download", "--stream-base-url", s.URL+"/streams/", "-a", download.HostArch(), "-f", "iso", "-C", dir)
	if r.code != 1 || !strings.Contains(string(r.stderr), "GPG verification failure") || !strings.Contains(string(r.stderr), "--trust-key") {
		t.Errorf("untrusted key: exit %d\n%s", r.code, r.stderr)
	}
	if len(r.stdout) != 0 {
		t.Errorf("stdout %q after a failure", r.stdout)
	}

	// No signature.
	delete(s.files, dlISO+".sig")
	r = cli(t, nil, s.args(dir)...)
	if r.code != 1 || !strings.Contains(string(r.stderr), "isobuild: error: --insecure not specified and signature not found") ||
		!strings.Contains(string(r.stderr), "Failed to fetch signature:") {
		t.Errorf("missing signature: exit %d\n%s", r.code, r.stderr)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left: %v", ents)
	}
	r = ok(t, nil, s.args(dir, "--insecure")...)
	if !strings.Contains(string(r.stderr), "Signature not found; skipping verification as requested") {
		t.Errorf("--insecure: %s", r.stderr)
	}

	// Unknown format, bad retries, bad directory, bad distro.
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{s.args(dir, "-f", "qcow2.xz"), 1, "couldn't find architecture " + download.HostArch() + ", platform metal, format qcow2.xz in stream metadata"},
		{s.args(dir, "--fetch-retries", "many"), 2, "--fetch-retries"},
		{s.args(filepath.Join(dir, "nope")), 1, "destination directory"},
		{s.args(dir, "--distro", "debian"), 2, "--distro must be"},
		{s.args(dir, "--trust-key", filepath.Join(dir, "nokey")), 1, "--trust-key"},
		{append(s.args(dir), "extra"), 2, "expects no arguments"},
	} {
		r := cli(t, nil, c.args...)
		if r.code != c.code || !strings.Contains(string(r.stderr), c.msg) {
			t.Errorf("%v: exit %d, want %d with %q\n%s", c.args[len(c.args)-2:], r.code, c.code, c.msg, r.stderr)
		}
	}
}

func TestDownloadCLIFlatcar(t *testing.T) {
	s := newDLServer(t)
	dir := t.TempDir()
	// --distro flatcar trusts Flatcar's key only: the test key is added.
	r := ok(t, nil, "download", "--distro", "flatcar", "--stream-base-url", s.URL+"/fc/", "--trust-key", s.keyASC, "-C", dir)
	if want := filepath.Join(dir, "flatcar_production_iso_image.iso") + "\n"; string(r.stdout) != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	r = cli(t, nil, "download", "--distro", "flatcar", "-s", "lts", "-C", dir)
	if r.code != 2 || !strings.Contains(string(r.stderr), "unknown Flatcar channel") {
		t.Errorf("bad channel: exit %d\n%s", r.code, r.stderr)
	}
}

func TestLineProgress(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b)("x.iso", 4<<20)
	lp := p.(*lineProgress)
	lp.every = 0
	p.Write(make([]byte, 1<<20))
	p.Close()
	if !strings.HasPrefix(b.String(), "> Read x.iso 1.0 MiB/4.0 MiB (25%), ") {
		t.Errorf("progress %q", b.String())
	}
}

// TestBuildFromReference builds from "fedora-coreos:stable": downloaded
// into the cache once, reused, then used --offline.
func TestBuildFromReference(t *testing.T) {
	s := newDLServer(t)
	iso, err := os.ReadFile(fixture.ISO(t, "embed-areas-2023-07.x86_64.iso"))
	if err != nil {
		t.Fatal(err)
	}
	s.setImage(t, iso)
	cache := t.TempDir()
	t.Setenv(cacheDirEnv, cache)
	refTest = &struct{ baseURL, trustKey string }{s.URL + "/streams/", s.keyASC}
	t.Cleanup(func() { refTest = nil })
	ign := fixture.Customize(t, "live.ign")
	out := t.TempDir()

	r := ok(t, nil, "build", "--ignition", ign, "-o", filepath.Join(out, "a.iso"), "fedora-coreos:stable")
	cached := filepath.Join(cache, "fedora-coreos", "stable", download.HostArch(), filepath.Base(dlISO))
	if got, _ := os.ReadFile(cached); !bytes.Equal(got, iso) {
		t.Fatalf("no cached image at %s\n%s", cached, r.combined())
	}
	jsonEqual(t, ok(t, nil, "iso", "ignition", "show", filepath.Join(out, "a.iso")).stdout, readTestFile(t, ign))

	// Reused while it is the stream's image and verifies.
	ok(t, nil, "build", "--ignition", ign, "-o", filepath.Join(out, "b.iso"), "fedora-coreos:stable")
	if n := s.count(dlISO); n != 1 {
		t.Errorf("image fetched %d times", n)
	}

	// Offline, with the server gone.
	s.Close()
	r = ok(t, nil, "build", "--offline", "--ignition", ign, "-o", filepath.Join(out, "c.iso"), "fedora-coreos:stable")
	if !strings.Contains(string(r.stderr), "Using cached "+cached) {
		t.Errorf("offline: %s", r.stderr)
	}
	// A corrupt cached image is refused offline.
	bad := append([]byte(nil), iso...)
	bad[40000] ^= 1
	os.WriteFile(cached, bad, 0o644)
	r = cli(t, nil, "build", "--offline", "--ignition", ign, "-o", filepath.Join(out, "d.iso"), "fedora-coreos:stable")
	if r.code != 1 || !strings.Contains(string(r.stderr), "GPG verification failure") {
		t.Errorf("corrupt cache offline: exit %d\n%s", r.code, r.stderr)
	}
	// Nothing cached for flatcar.
	r = cli(t, nil, "build", "--offline", "--ignition", ign, "-o", filepath.Join(out, "e.iso"), "flatcar:stable")
	if r.code != 1 || !strings.Contains(string(r.stderr), "no cached image for flatcar:stable") {
		t.Errorf("empty cache offline: exit %d\n%s", r.code, r.stderr)
	}

	// An existing file of the reference's name wins (no network: the
	// server is closed).
	t.Chdir(t.TempDir())
	os.WriteFile("fedora-coreos:stable", iso, 0o644)
	ok(t, nil, "build", "--ignition", ign, "-o", filepath.Join(out, "f.iso"), "fedora-coreos:stable")
}
