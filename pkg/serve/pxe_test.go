package serve

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/isobuild/isobuild/pkg/inventory"
)

// pxeFleet is newFleet with PXE files: web1 with a rootfs (CoreOS), db2
// without (Flatcar); each file is a slice of the pattern, the initramfs
// an overlay with the host's bytes appended.
func pxeFleet(t *testing.T) (*fleet, map[string][]byte) {
	t.Helper()
	fl := newFleet(t)
	want := map[string][]byte{}
	slice := func(off, n int64) ([]byte, File) {
		b := make([]byte, n)
		pattern{}.ReadAt(b, off)
		return b, File{R: bytes.NewReader(b), Size: n, ETag: fmt.Sprintf(`"f%d"`, off)}
	}
	for i, name := range []string{"web1", "db2"} {
		img := fl.images[name]
		k, kf := slice(int64(i)*1000, 3001)
		ini, inf := slice(int64(i)*7000+5, 200<<10)
		ini = append(ini, []byte("custom "+name)...)
		inf.R, inf.Size = bytes.NewReader(ini), int64(len(ini))
		p := &PXE{Kernel: kf, Initramfs: inf, Kargs: "console=ttyS0 ignition.firstboot ignition.platform.id=metal"}
		want[name+"/pxe/vmlinuz"], want[name+"/pxe/initramfs.img"] = k, ini
		if name == "web1" {
			r, rf := slice(1<<20, 512<<10+3)
			p.Rootfs = rf
			want[name+"/pxe/rootfs.img"] = r
		} else {
			p.Kargs = "flatcar.first_boot=1"
		}
		img.PXE = p
		fl.images[name] = img
	}
	return fl, want
}

func TestPXEFiles(t *testing.T) {
	fl, want := pxeFleet(t)
	var released atomic.Int64
	h := New(Options{Lookup: func(ctx context.Context, name string) (Image, error) {
		img, err := fl.lookup(ctx, name)
		img.Release = func() { released.Add(1) }
		return img, err
	}})
	rng := rand.New(rand.NewPCG(1, 2))
	requests := 0
	for p, body := range want {
		res, got := do(t, h, "GET", "/hosts/"+p, nil)
		requests++
		if res.StatusCode != 200 || !bytes.Equal(got, body) {
			t.Fatalf("%s: %d, %d bytes, want %d", p, res.StatusCode, len(got), len(body))
		}
		etag := res.Header.Get("Etag")
		if etag == "" || res.Header.Get("Accept-Ranges") != "bytes" || res.Header.Get("Content-Type") != "application/octet-stream" || res.Header.Get("Last-Modified") == "" {
			t.Errorf("%s: headers %v", p, res.Header)
		}
		res, got = do(t, h, "HEAD", "/hosts/"+p, nil)
		requests++
		if res.StatusCode != 200 || len(got) != 0 || res.Header.Get("Content-Length") != fmt.Sprint(len(body)) || res.Header.Get("Etag") != etag {
			t.Errorf("HEAD %s: %d %v", p, res.StatusCode, res.Header)
		}
		for range 20 {
			lo := rng.IntN(len(body))
			hi := lo + rng.IntN(len(body)-lo)
			res, got := do(t, h, "GET", "/hosts/"+p, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", lo, hi), "If-Range": etag})
			requests++
			if res.StatusCode != 206 || !bytes.Equal(got, body[lo:hi+1]) {
				t.Fatalf("%s: range %d-%d: %d", p, lo, hi, res.StatusCode)
			}
		}
		// A stale ETag in If-Range: the whole file.
		if res, got := do(t, h, "GET", "/hosts/"+p, map[string]string{"Range": "bytes=0-9", "If-Range": `"stale"`}); res.StatusCode != 200 || len(got) != len(body) {
			t.Errorf("%s: stale If-Range: %d", p, res.StatusCode)
		}
		requests++
	}
	if int(released.Load()) != requests {
		t.Errorf("released %d images for %d requests", released.Load(), requests)
	}
	// A host without a rootfs, a host without PXE files, unknown names
	// and files: 404, naming nobody.
	fl.images["plain"] = Image{Overlay: fl.images["web1"].Overlay}
	for _, p := range []string{
		"/hosts/db2/pxe/rootfs.img", "/hosts/plain/pxe/vmlinuz", "/hosts/plain/boot.ipxe", "/hosts/nope/pxe/vmlinuz", "/hosts/nope/boot.ipxe",
		"/hosts/web1/pxe/", "/hosts/web1/pxe", "/hosts/web1/pxe/initrd.img", "/hosts/web1/pxe/vmlinuz/", "/hosts/web1/pxe/../pxe/vmlinuz",
		"/hosts/web1/pxe/%76mlinuz", "/hosts/web1%2fpxe/vmlinuz", "/hosts/web1/PXE/vmlinuz", "/hosts/web1/boot.ipxe/", "/hosts/web1/x/boot.ipxe",
		"/hosts/../web1/pxe/vmlinuz", "/hosts/web1/pxe/vmlinuz.iso", "/hosts/web1/boot.ipxe.iso", "/hosts//pxe/vmlinuz",
	} {
		res, body := do(t, h, "GET", p, nil)
		if res.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, res.StatusCode)
		}
		checkNoNames(t, p, body)
	}
}

func TestIPXEScript(t *testing.T) {
	fl, _ := pxeFleet(t)
	h := fl.handler(Options{})
	res, body := do(t, h, "GET", "http://boot.example:8080/hosts/web1/boot.ipxe", nil)
	want := "#!ipxe\n" +
		"kernel http://boot.example:8080/hosts/web1/pxe/vmlinuz initrd=main coreos.live.rootfs_url=http://boot.example:8080/hosts/web1/pxe/rootfs.img console=ttyS0 ignition.firstboot ignition.platform.id=metal\n" +
		"initrd --name main http://boot.example:8080/hosts/web1/pxe/initramfs.img\n" +
		"boot\n"
	if res.StatusCode != 200 || string(body) != want || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") || res.Header.Get("Etag") == "" {
		t.Fatalf("web1: %d %q\n%v", res.StatusCode, body, res.Header)
	}
	// No rootfs: no rootfs_url.
	_, body = do(t, h, "GET", "http://[2001:db8::1]:80/hosts/db2/boot.ipxe", nil)
	if want := "#!ipxe\nkernel http://[2001:db8::1]:80/hosts/db2/pxe/vmlinuz initrd=main flatcar.first_boot=1\ninitrd --name main http://[2001:db8::1]:80/hosts/db2/pxe/initramfs.img\nboot\n"; string(body) != want {
		t.Errorf("db2: %q", body)
	}
	// TLS: https URLs; the token goes into them.
	ht := fl.handler(Options{RequireToken: true})
	req := httptest.NewRequest("GET", "https://10.0.0.1/hosts/tok-web1-0123456789abcdef/web1/boot.ipxe", nil)
	req.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	ht.ServeHTTP(rec, req)
	if got := rec.Body.String(); rec.Code != 200 || !strings.Contains(got, "kernel https://10.0.0.1/hosts/tok-web1-0123456789abcdef/web1/pxe/vmlinuz ") ||
		!strings.Contains(got, "coreos.live.rootfs_url=https://10.0.0.1/hosts/tok-web1-0123456789abcdef/web1/pxe/rootfs.img") {
		t.Errorf("with TLS and a token: %d %q", rec.Code, got)
	}
	for _, p := range []string{"/hosts/web1/boot.ipxe", "/hosts/tok-db2-0123456789abcdef/web1/boot.ipxe", "/hosts/web1/pxe/vmlinuz", "/hosts/tok-db2-0123456789abcdef/web1/pxe/vmlinuz"} {
		if res, body := do(t, ht, "GET", p, nil); res.StatusCode != 404 {
			t.Errorf("%s without its token: %d", p, res.StatusCode)
		} else {
			checkNoNames(t, p, body)
		}
	}
	if res, _ := do(t, ht, "GET", "/hosts/tok-web1-0123456789abcdef/web1/pxe/initramfs.img", nil); res.StatusCode != 200 {
		t.Errorf("initramfs with its token: %d", res.StatusCode)
	}
	// Host headers that cannot go into the script.
	for _, host := range []string{"a b", "evil.example/x", "x${y}", "x:port", "[::1", "[zz]", "-x", "x:123456", "x:", "a\"b", "a'b", "a;b", "[::1]x"} {
		req := httptest.NewRequest("GET", "/hosts/web1/boot.ipxe", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 400 || strings.Contains(rec.Body.String(), "web1") {
			t.Errorf("Host %q: %d %q", host, rec.Code, rec.Body.String())
		}
	}
	for _, host := range []string{"localhost", "boot-1.example.org:8443", "192.0.2.1:80", "[fe80::1]", "[::1]:8080"} {
		if !validHost(host) {
			t.Errorf("Host %q refused", host)
		}
	}
	// Kernel arguments that iPXE would interpret: 500, logged.
	img := fl.images["web1"]
	p := *img.PXE
	p.Kargs = "x=${net0/ip}"
	img.PXE = &p
	fl.images["web1"] = img
	if res, _ := do(t, h, "GET", "/hosts/web1/boot.ipxe", nil); res.StatusCode != 500 {
		t.Errorf("kargs with ${: %d", res.StatusCode)
	}
}

// FuzzHost: validHost never accepts what could end a URL or an iPXE
// argument.
func FuzzHost(f *testing.F) {
	for _, s := range []string{"localhost", "[::1]:80", "a b", "x:1", "${x}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if validHost(host) && strings.ContainsAny(host, " \t\r\n/\\?#@$%\"'{};&<>") {
			t.Fatalf("accepted %q", host)
		}
	})
}

// FuzzRoute: whatever the path, a host route carries a name that
// inventory.CheckName accepts and, for PXE files, one of the three names.
func FuzzRoute(f *testing.F) {
	for _, s := range []string{"/hosts/a.iso", "/hosts/a/pxe/vmlinuz", "/hosts/a/boot.ipxe", "/hosts/t0123456789abcdef/a/pxe/rootfs.img", "/hosts/../a/pxe/vmlinuz", "/hosts/a%2f/boot.ipxe"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, p string, token bool) {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.RawPath, req.URL.Path = "", p
		h := &Handler{opts: Options{RequireToken: token}}
		route, name, tok, file := h.route(req)
		switch route {
		case "", "healthz":
			if name != "" || file != "" {
				t.Fatalf("%q: route %q with name %q file %q", p, route, name, file)
			}
		case "image", "ipxe", "pxe":
			if inventory.CheckName(name) != nil {
				t.Fatalf("%q: name %q", p, name)
			}
			if token && inventory.CheckToken(tok) != nil {
				t.Fatalf("%q: token %q", p, tok)
			}
			if (route == "pxe") != (file == kernelName || file == initramfsName || file == rootfsName) {
				t.Fatalf("%q: route %q file %q", p, route, file)
			}
		default:
			t.Fatalf("%q: route %q", p, route)
		}
	})
}
