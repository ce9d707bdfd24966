package serve

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/embed"
	"github.com/isobuild/isobuild/pkg/inventory"
	"github.com/isobuild/isobuild/pkg/overlay"
)

func TestMain(m *testing.M) { fixture.Main(m) }

// countingReader counts the ReadAt calls of a base.
type countingReader struct {
	r     io.ReaderAt
	reads atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.reads.Add(1)
	return c.r.ReadAt(p, off)
}

// pattern is an endless ReaderAt of bytes that depend on their offset.
type pattern struct{}

func (pattern) ReadAt(p []byte, off int64) (int, error) {
	for i := range p {
		x := uint64(off + int64(i))
		p[i] = byte(x ^ x>>8 ^ x>>16)
	}
	return len(p), nil
}

// fleet is a base image and the customized overlays of two hosts.
type fleet struct {
	base   *countingReader
	size   int64
	mtime  time.Time
	images map[string]Image
	bytes  map[string][]byte // each host's whole image
}

func hostConfig(name string) []byte {
	return []byte(`{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/etc/hostname","contents":{"source":"data:,` + name + `"}}]}}`)
}

// newFleet customizes the CoreOS fixture for web1 and db2 (db2 with an
// extent appended, as a grown area or a remaster has).
func newFleet(t *testing.T) *fleet {
	t.Helper()
	path := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	fl := &fleet{base: &countingReader{r: f}, size: st.Size(), mtime: st.ModTime(), images: map[string]Image{}, bytes: map[string][]byte{}}
	id, err := BaseIdentity(f, st.Size(), st.ModTime())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web1", "db2"} {
		ov := fl.overlay(t, name)
		if name == "db2" {
			if _, err := ov.Append(pattern{}, 300<<10+17); err != nil {
				t.Fatal(err)
			}
		}
		fp, err := Fingerprint(ov)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := ov.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		fl.images[name] = Image{Overlay: ov, ETag: ETag(id, fp), ModTime: st.ModTime(), Token: "tok-" + name + "-0123456789abcdef"}
		fl.bytes[name] = buf.Bytes()
	}
	return fl
}

// overlay is the fixture with the host's config embedded.
func (fl *fleet) overlay(t *testing.T, name string) *overlay.Image {
	t.Helper()
	im, err := embed.Open(fl.base, fl.size)
	if err != nil {
		t.Fatal(err)
	}
	c, err := im.EmbedIgnition(hostConfig(name), false)
	if err != nil {
		t.Fatal(err)
	}
	ov, err := im.Overlay(c)
	if err != nil {
		t.Fatal(err)
	}
	return ov
}

func (fl *fleet) lookup(ctx context.Context, name string) (Image, error) {
	img, ok := fl.images[name]
	if !ok {
		return Image{}, ErrNotFound
	}
	return img, nil
}

func (fl *fleet) handler(o Options) *Handler {
	o.Lookup = fl.lookup
	return New(o)
}

// do runs one request against h and returns the response, its body read.
func do(t *testing.T, h http.Handler, method, target string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

func TestFullGet(t *testing.T) {
	fl := newFleet(t)
	srv := httptest.NewServer(fl.handler(Options{}))
	defer srv.Close()
	for name, want := range fl.bytes {
		res, err := http.Get(srv.URL + "/hosts/" + name + ".iso")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 || !bytes.Equal(got, want) {
			t.Fatalf("%s: status %d, %d bytes, equal %v", name, res.StatusCode, len(got), bytes.Equal(got, want))
		}
		for k, v := range map[string]string{
			"Content-Length":      strconv.Itoa(len(want)),
			"Accept-Ranges":       "bytes",
			"Content-Type":        "application/octet-stream",
			"Etag":                fl.images[name].ETag,
			"Last-Modified":       fl.mtime.UTC().Format(http.TimeFormat),
			"Content-Disposition": `attachment; filename="` + name + `.iso"`,
			"Cache-Control":       "private, no-transform",
		} {
			if got := res.Header.Get(k); got != v {
				t.Errorf("%s: %s: %q, want %q", name, k, got, v)
			}
		}
	}
	if fl.images["web1"].ETag == fl.images["db2"].ETag {
		t.Fatal("two hosts share an ETag")
	}
}

func TestRanges(t *testing.T) {
	fl := newFleet(t)
	h := fl.handler(Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 150 {
		name := []string{"web1", "db2"}[i%2]
		want := fl.bytes[name]
		size := int64(len(want))
		var spec string
		var lo, hi int64 // inclusive
		switch i % 5 {
		case 0: // suffix
			n := rng.Int64N(size) + 1
			spec, lo, hi = fmt.Sprintf("-%d", n), size-n, size-1
		case 1: // open-ended
			lo = rng.Int64N(size)
			spec, hi = fmt.Sprintf("%d-", lo), size-1
		case 2: // short, around the patched areas
			rg := fl.images[name].Overlay.Patched()
			p := rg[rng.IntN(len(rg))]
			lo = max(0, p.Offset+rng.Int64N(64)-32)
			hi = min(size-1, lo+rng.Int64N(4096))
			spec = fmt.Sprintf("%d-%d", lo, hi)
		default:
			lo = rng.Int64N(size)
			hi = min(size-1, lo+rng.Int64N(size-lo))
			// An end past the size is cut to it.
			end := hi
			if rng.IntN(4) == 0 {
				end, hi = size+100, size-1
			}
			spec = fmt.Sprintf("%d-%d", lo, end)
		}
		res, body := do(t, h, "GET", "/hosts/"+name+".iso", map[string]string{"Range": "bytes=" + spec})
		if res.StatusCode != http.StatusPartialContent {
			t.Fatalf("range %s: status %d", spec, res.StatusCode)
		}
		if got, want := res.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-%d/%d", lo, hi, size); got != want {
			t.Fatalf("range %s: Content-Range %q, want %q", spec, got, want)
		}
		if !bytes.Equal(body, want[lo:hi+1]) {
			t.Fatalf("%s range %s: wrong bytes", name, spec)
		}
		if res.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Fatalf("range %s: Content-Length %q for %d bytes", spec, res.Header.Get("Content-Length"), len(body))
		}
	}
	// Out of range: 416 with the size.
	size := len(fl.bytes["web1"])
	res, _ := do(t, h, "GET", "/hosts/web1.iso", map[string]string{"Range": fmt.Sprintf("bytes=%d-", size)})
	if res.StatusCode != http.StatusRequestedRangeNotSatisfiable || res.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", size) {
		t.Fatalf("range past the end: %d %q", res.StatusCode, res.Header.Get("Content-Range"))
	}
}

func TestMultiRange(t *testing.T) {
	fl := newFleet(t)
	h := fl.handler(Options{})
	rng := rand.New(rand.NewPCG(3, 4))
	for range 30 {
		want := fl.bytes["db2"]
		size := int64(len(want))
		var specs []string
		var spans [][2]int64
		for range 2 + rng.IntN(4) {
			lo := rng.Int64N(size)
			hi := min(size-1, lo+rng.Int64N(size/8))
			specs = append(specs, fmt.Sprintf("%d-%d", lo, hi))
			spans = append(spans, [2]int64{lo, hi})
		}
		res, body := do(t, h, "GET", "/hosts/db2.iso", map[string]string{"Range": "bytes=" + strings.Join(specs, ",")})
		if res.StatusCode != http.StatusPartialContent {
			// The sum of the ranges may exceed the size: then the
			// whole image, by ServeContent's rule.
			var sum int64
			for _, s := range spans {
				sum += s[1] - s[0] + 1
			}
			if res.StatusCode == 200 && sum > size && bytes.Equal(body, want) {
				continue
			}
			t.Fatalf("ranges %v: status %d", specs, res.StatusCode)
		}
		if res.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Fatalf("ranges %v: Content-Length %q for %d bytes", specs, res.Header.Get("Content-Length"), len(body))
		}
		mt, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/byteranges" {
			t.Fatalf("ranges %v: Content-Type %q", specs, res.Header.Get("Content-Type"))
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for i, s := range spans {
			part, err := mr.NextPart()
			if err != nil {
				t.Fatalf("ranges %v: part %d: %v", specs, i, err)
			}
			if got := part.Header.Get("Content-Range"); got != fmt.Sprintf("bytes %d-%d/%d", s[0], s[1], size) {
				t.Fatalf("part %d: Content-Range %q", i, got)
			}
			if got := part.Header.Get("Content-Type"); got != "application/octet-stream" {
				t.Fatalf("part %d: Content-Type %q", i, got)
			}
			data, _ := io.ReadAll(part)
			if !bytes.Equal(data, want[s[0]:s[1]+1]) {
				t.Fatalf("ranges %v: part %d has the wrong bytes", specs, i)
			}
		}
		if _, err := mr.NextPart(); err != io.EOF {
			t.Fatalf("ranges %v: more parts than ranges (%v)", specs, err)
		}
	}
}

func TestHead(t *testing.T) {
	fl := newFleet(t)
	h := fl.handler(Options{})
	before := fl.base.reads.Load()
	for _, hdr := range []map[string]string{nil, {"Range": "bytes=0-0"}, {"Range": "bytes=100-199"}} {
		res, body := do(t, h, "HEAD", "/hosts/web1.iso", hdr)
		wantStatus, wantLen := 200, strconv.Itoa(len(fl.bytes["web1"]))
		if hdr != nil {
			wantStatus = 206
			lo, hi, _ := strings.Cut(strings.TrimPrefix(hdr["Range"], "bytes="), "-")
			a, _ := strconv.Atoi(lo)
			b, _ := strconv.Atoi(hi)
			wantLen = strconv.Itoa(b - a + 1)
		}
		if res.StatusCode != wantStatus || len(body) != 0 || res.Header.Get("Content-Length") != wantLen ||
			res.Header.Get("Accept-Ranges") != "bytes" || res.Header.Get("Etag") == "" || res.Header.Get("Content-Type") != "application/octet-stream" {
			t.Errorf("HEAD %v: %d, %d body bytes, headers %v", hdr, res.StatusCode, len(body), res.Header)
		}
	}
	if n := fl.base.reads.Load() - before; n != 0 {
		t.Errorf("HEAD read the image %d times; it needs no byte of it", n)
	}
}

func TestConditionals(t *testing.T) {
	fl := newFleet(t)
	h := fl.handler(Options{})
	img := fl.images["web1"]
	want := fl.bytes["web1"]
	lm := fl.mtime.UTC().Format(http.TimeFormat)

	// The ETag is stable across requests.
	for range 3 {
		res, _ := do(t, h, "HEAD", "/hosts/web1.iso", nil)
		if res.Header.Get("Etag") != img.ETag || res.Header.Get("Last-Modified") != lm {
			t.Fatalf("validators changed: %q %q", res.Header.Get("Etag"), res.Header.Get("Last-Modified"))
		}
	}
	for _, tc := range []struct {
		hdr    map[string]string
		status int
		body   []byte
	}{
		{map[string]string{"Range": "bytes=10-19", "If-Range": img.ETag}, 206, want[10:20]},
		{map[string]string{"Range": "bytes=10-19", "If-Range": `"stale"`}, 200, want},
		{map[string]string{"Range": "bytes=10-19", "If-Range": "W/" + img.ETag}, 200, want},
		{map[string]string{"Range": "bytes=10-19", "If-Range": lm}, 206, want[10:20]},
		{map[string]string{"Range": "bytes=10-19", "If-Range": fl.mtime.Add(-time.Hour).UTC().Format(http.TimeFormat)}, 200, want},
		{map[string]string{"If-None-Match": img.ETag}, 304, nil},
		{map[string]string{"If-Match": `"stale"`}, 412, nil},
		{map[string]string{"If-Match": img.ETag, "Range": "bytes=0-3"}, 206, want[:4]},
	} {
		res, body := do(t, h, "GET", "/hosts/web1.iso", tc.hdr)
		if res.StatusCode != tc.status || (tc.body != nil && !bytes.Equal(body, tc.body)) {
			t.Errorf("%v: status %d (want %d), %d bytes", tc.hdr, res.StatusCode, tc.status, len(body))
		}
	}
}

func TestETagChanges(t *testing.T) {
	fl := newFleet(t)
	id, err := BaseIdentity(fl.base, fl.size, fl.mtime)
	if err != nil {
		t.Fatal(err)
	}
	fp := func(ov *overlay.Image) string {
		s, err := Fingerprint(ov)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// The same customization, planned again: the same tag.
	if again := ETag(id, fp(fl.overlay(t, "web1"))); again != fl.images["web1"].ETag {
		t.Fatalf("ETag of the same customization differs: %s %s", again, fl.images["web1"].ETag)
	}
	// Another config (a host's vars changed): another tag.
	if other := ETag(id, fp(fl.overlay(t, "web1-renamed"))); other == fl.images["web1"].ETag {
		t.Fatal("ETag does not change with the customization")
	}
	// The base changed: another identity, whether its time or its bytes.
	id2, _ := BaseIdentity(fl.base, fl.size, fl.mtime.Add(time.Nanosecond))
	if id2 == id {
		t.Fatal("BaseIdentity ignores the modification time")
	}
	data := make([]byte, fl.size)
	fl.base.ReadAt(data, 0)
	for _, off := range []int64{0, 0x8000 + 813, fl.size - 1} {
		mod := bytes.Clone(data)
		mod[off] ^= 1
		id3, _ := BaseIdentity(bytes.NewReader(mod), fl.size, fl.mtime)
		if id3 == id {
			t.Fatalf("BaseIdentity ignores a change at %d", off)
		}
	}
	id4, _ := BaseIdentity(bytes.NewReader(data[:fl.size-1]), fl.size-1, fl.mtime)
	if id4 == id {
		t.Fatal("BaseIdentity ignores the size")
	}
	// Appended bytes count.
	ov := fl.overlay(t, "web1")
	ov.Append(bytes.NewReader([]byte("abc")), 3)
	ov2 := fl.overlay(t, "web1")
	ov2.Append(bytes.NewReader([]byte("abd")), 3)
	if fp(ov) == fp(ov2) {
		t.Fatal("Fingerprint ignores the appended bytes")
	}
	if _, err := BaseIdentity(bytes.NewReader(data[:10]), fl.size, fl.mtime); err == nil {
		t.Fatal("BaseIdentity of a short reader succeeded")
	}
}

// names that no response body may contain.
var hostNames = []string{"web1", "db2", "tok-"}

func checkNoNames(t *testing.T, what string, body []byte) {
	t.Helper()
	for _, n := range hostNames {
		if bytes.Contains(body, []byte(n)) {
			t.Errorf("%s: the body names a host or token: %q", what, body)
		}
	}
}

func TestNotFound(t *testing.T) {
	fl := newFleet(t)
	// The lookup sees only valid names: nothing reaches it that could
	// leave its path segment.
	h := New(Options{Lookup: func(ctx context.Context, name string) (Image, error) {
		if err := inventory.CheckName(name); err != nil {
			t.Errorf("lookup of %q", name)
		}
		return fl.lookup(ctx, name)
	}})
	for _, p := range []string{
		"/", "/hosts", "/hosts/", "/hosts/web1", "/hosts/web1.iso/", "/hosts/web1.ISO", "/hosts/unknown.iso",
		"/hosts//web1.iso", "/hosts/./web1.iso", "/hosts/../hosts/web1.iso", "/hosts/%2e%2e/web1.iso",
		"/hosts/x%2fweb1.iso", "/hosts/x%2Fweb1.iso", "/hosts/web1%2eiso", "/hosts/%77eb1.iso", "/hosts/.iso",
		"/hosts/..iso", "/hosts/...iso", "/hosts/web1.iso%00", "/HOSTS/web1.iso", "/hosts/web1.iso/../db2.iso",
		"/hosts/tok-web1-0123456789abcdef/web1.iso", "/healthz/", "/debug/pprof/", "/hosts/web1.iso.iso", "/hosts/%2fetc%2fpasswd",
		"/hosts/..%2f..%2fetc%2fpasswd.iso", "/hosts/web1.iso;x", "/hosts/db2.iso%3f", "/hosts/web1%00.iso",
	} {
		for _, m := range []string{"GET", "HEAD"} {
			res, body := do(t, h, m, p, nil)
			if res.StatusCode != 404 {
				t.Errorf("%s %s: status %d, want 404", m, p, res.StatusCode)
			}
			checkNoNames(t, p, body)
		}
	}
	// Other methods: 405 whether the host exists or not.
	for _, p := range []string{"/hosts/web1.iso", "/hosts/nope.iso", "/healthz"} {
		for _, m := range []string{"POST", "PUT", "DELETE", "OPTIONS"} {
			res, body := do(t, h, m, p, nil)
			if res.StatusCode != 405 || res.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: status %d, Allow %q", m, p, res.StatusCode, res.Header.Get("Allow"))
			}
			checkNoNames(t, m+" "+p, body)
		}
	}

	// The same over a real connection, with paths no client library
	// would send as they are.
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, p := range []string{"/hosts/../hosts/web1.iso", "/hosts/./web1.iso", "/x/../hosts/web1.iso", "hosts/web1.iso", "*", "http://evil/hosts/../hosts/web1.iso"} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", p)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		conn.Close()
		if res.StatusCode != 404 && res.StatusCode != 400 {
			t.Errorf("raw GET %s: status %d", p, res.StatusCode)
		}
		checkNoNames(t, "raw "+p, body)
	}
}

func TestHealthz(t *testing.T) {
	fl := newFleet(t)
	res, body := do(t, fl.handler(Options{}), "GET", "/healthz", nil)
	if res.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("healthz: %d %q", res.StatusCode, body)
	}
}

func TestTokens(t *testing.T) {
	fl := newFleet(t)
	var logs bytes.Buffer
	h := fl.handler(Options{RequireToken: true, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	res, body := do(t, h, "GET", "/hosts/tok-web1-0123456789abcdef/web1.iso", nil)
	if res.StatusCode != 200 || !bytes.Equal(body, fl.bytes["web1"]) {
		t.Fatalf("with its token: %d", res.StatusCode)
	}
	const tok = "tok-web1-0123456789abcdef"
	for _, p := range []string{"/hosts/web1.iso", "/hosts/tok-db2-0123456789abcdef/web1.iso", "/hosts/" + tok[:len(tok)-1] + "/web1.iso",
		"/hosts/" + tok + "x/web1.iso", "/hosts//web1.iso", "/hosts/" + tok + "/nope.iso", "/hosts/tok%2dweb1-0123456789abcdef/web1.iso",
		"/hosts/" + tok + "/web1.iso/", "/hosts/" + tok + "/" + tok + "/web1.iso"} {
		res, body := do(t, h, "GET", p, nil)
		if res.StatusCode != 404 {
			t.Errorf("%s: status %d", p, res.StatusCode)
		}
		checkNoNames(t, p, body)
	}
	// A host without a token cannot be fetched at all.
	fl.images["notoken"] = Image{Overlay: fl.images["web1"].Overlay}
	if res, _ := do(t, h, "GET", "/hosts/0123456789abcdef/notoken.iso", nil); res.StatusCode != 404 {
		t.Errorf("host without a token: %d", res.StatusCode)
	}
	if strings.Contains(logs.String(), "tok-") {
		t.Errorf("a token was logged:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"host":"web1"`) || !strings.Contains(logs.String(), `"status":404`) {
		t.Errorf("the request log lacks the host or a status:\n%s", logs.String())
	}
}

func TestLookupError(t *testing.T) {
	var logs bytes.Buffer
	h := New(Options{
		Lookup: func(context.Context, string) (Image, error) { return Image{}, errors.New("base image web1 gone") },
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	res, body := do(t, h, "GET", "/hosts/web1.iso", nil)
	if res.StatusCode != 500 {
		t.Fatalf("status %d", res.StatusCode)
	}
	checkNoNames(t, "500", body)
	if !strings.Contains(logs.String(), "base image web1 gone") {
		t.Errorf("the error was not logged: %s", logs.String())
	}
}

func TestConcurrentDownloads(t *testing.T) {
	fl := newFleet(t)
	srv := httptest.NewServer(fl.handler(Options{}))
	defer srv.Close()
	sums := map[string][32]byte{}
	for n, b := range fl.bytes {
		sums[n] = sha256.Sum256(b)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := []string{"web1", "db2"}[i%2]
			req, _ := http.NewRequest("GET", srv.URL+"/hosts/"+name+".iso", nil)
			var lo, hi int
			if i%4 >= 2 {
				lo, hi = i*1000, i*1000+300000
				req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", lo, hi))
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer res.Body.Close()
			got, err := io.ReadAll(res.Body)
			if err != nil {
				errs <- err
				return
			}
			if hi > 0 {
				if !bytes.Equal(got, fl.bytes[name][lo:hi+1]) {
					errs <- fmt.Errorf("download %d (%s, range): wrong bytes", i, name)
				}
			} else if sha256.Sum256(got) != sums[name] {
				errs <- fmt.Errorf("download %d (%s): wrong bytes", i, name)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// bigImage is web1 with 256 MiB appended, larger than any socket buffer,
// so that a stream blocks on a client that stops reading.
func bigImage(t *testing.T, fl *fleet) {
	ov := fl.overlay(t, "web1")
	if _, err := ov.Append(pattern{}, 256<<20); err != nil {
		t.Fatal(err)
	}
	fl.images["big"] = Image{Overlay: ov, ETag: `"big"`}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestClientDisconnect(t *testing.T) {
	fl := newFleet(t)
	bigImage(t, fl)
	h := fl.handler(Options{MaxStreams: 1, QueueTimeout: 5 * time.Second})
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, rg := range []string{"", "bytes=0-99,1000-268435455"} {
		req, _ := http.NewRequest("GET", srv.URL+"/hosts/big.iso", nil)
		if rg != "" {
			req.Header.Set("Range", rg)
		}
		tr := &http.Transport{}
		res, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(res.Body, make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
		// The stream is blocked on the client, holding the only slot.
		time.Sleep(50 * time.Millisecond)
		if h.Active() != 1 {
			t.Fatalf("%q: %d streams active while the client holds one", rg, h.Active())
		}
		res.Body.Close()
		tr.CloseIdleConnections()
		waitFor(t, "the stream to end after the client left", func() bool { return h.Active() == 0 })
		// The slot is free again: a new download gets it at once.
		res, err = http.Get(srv.URL + "/hosts/web1.iso")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !bytes.Equal(got, fl.bytes["web1"]) {
			t.Fatal("the download after a disconnect is wrong")
		}
	}
}

func TestMaxStreams(t *testing.T) {
	fl := newFleet(t)
	bigImage(t, fl)
	h := fl.handler(Options{MaxStreams: 1, QueueTimeout: 50 * time.Millisecond})
	srv := httptest.NewServer(h)
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Get(srv.URL + "/hosts/big.iso")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	waitFor(t, "the first stream", func() bool { return h.Active() == 1 })
	res2, err := http.Get(srv.URL + "/hosts/web1.iso")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res2.Body)
	res2.Body.Close()
	if res2.StatusCode != 503 || res2.Header.Get("Retry-After") == "" {
		t.Fatalf("second stream: %d, Retry-After %q", res2.StatusCode, res2.Header.Get("Retry-After"))
	}
	checkNoNames(t, "503", body)
	// HEAD needs no slot.
	req, _ := http.NewRequest("HEAD", srv.URL+"/hosts/web1.iso", nil)
	res3, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res3.Body.Close()
	if res3.StatusCode != 200 {
		t.Fatalf("HEAD while the streams are taken: %d", res3.StatusCode)
	}
}
