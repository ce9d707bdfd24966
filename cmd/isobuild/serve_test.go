package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isobuild/isobuild/internal/fixture"
)

// lockedBuffer is a bytes.Buffer for a writer in another goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var servingRE = regexp.MustCompile(`^Serving (\d+) hosts from .* at (https?://[^/]+)(/hosts/\S+)\n$`)

// startServe runs "isobuild serve" in-process on a free loopback port and
// returns its base URL and a function that stops it and returns its exit
// status and standard error.
func startServe(t *testing.T, args ...string) (string, func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		code := run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), nil, pw, stderr)
		pw.Close()
		done <- code
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("serve ended: exit %d, %s", <-done, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	m := servingRE.FindStringSubmatch(line)
	if m == nil {
		cancel()
		t.Fatalf("serve printed %q", line)
	}
	stopped := false
	stop := func() (int, string) {
		if !stopped {
			stopped = true
			cancel()
		}
		select {
		case code := <-done:
			return code, stderr.String()
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not stop")
		}
		return 0, ""
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})
	return m[2], stop
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
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
	return res, body
}

func TestServeEqualsBatch(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	tmpl := writeTemp(t, "T.bu", []byte(batchTemplate))
	hostsFile := writeTemp(t, "hosts.yaml", []byte(batchHosts(randomText(400<<10))))
	out := t.TempDir()
	common := []string{"--butane", tmpl, "--hosts", hostsFile, "--karg-append", "console=ttyS0,115200n8"}
	ok(t, nil, append(append([]string{"build"}, common...), "-o", out, iso)...)

	url, stop := startServe(t, append(common, iso)...)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, name := range []string{"web1", "db.2", "big"} {
		want := readTestFile(t, filepath.Join(out, name+".iso"))
		res, got := get(t, url+"/hosts/"+name+".iso", nil)
		if res.StatusCode != 200 || !bytes.Equal(got, want) {
			t.Fatalf("%s: status %d, %d bytes; the batch file has %d, equal %v", name, res.StatusCode, len(got), len(want), bytes.Equal(got, want))
		}
		etag := res.Header.Get("Etag")
		if !strings.HasPrefix(etag, `"`) || res.Header.Get("Last-Modified") == "" {
			t.Fatalf("%s: validators %q %q", name, etag, res.Header.Get("Last-Modified"))
		}
		for range 20 {
			lo := rng.IntN(len(want))
			hi := min(len(want)-1, lo+rng.IntN(256<<10))
			res, got := get(t, url+"/hosts/"+name+".iso", map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", lo, hi), "If-Range": etag})
			if res.StatusCode != 206 || !bytes.Equal(got, want[lo:hi+1]) {
				t.Fatalf("%s: range %d-%d: status %d", name, lo, hi, res.StatusCode)
			}
		}
	}
	res, body := get(t, url+"/hosts/nope.iso", nil)
	if res.StatusCode != 404 || bytes.Contains(body, []byte("web1")) {
		t.Fatalf("unknown host: %d %q", res.StatusCode, body)
	}
	if res, _ := get(t, url+"/healthz", nil); res.StatusCode != 200 {
		t.Fatalf("healthz: %d", res.StatusCode)
	}
	// A base image changed under the server: no more image bytes.
	if err := os.Chtimes(iso, time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if res, body := get(t, url+"/hosts/web1.iso", nil); res.StatusCode != 500 || bytes.Contains(body, []byte(iso)) {
		t.Fatalf("after the base changed: %d %q", res.StatusCode, body)
	}
	code, stderr := stop()
	if code != 0 {
		t.Fatalf("serve exit %d:\n%s", code, stderr)
	}
	for _, want := range []string{`"route":"image"`, `"host":"web1"`, `"status":206`, `"status":404`, "changed since the server loaded it: send the server SIGHUP", "isobuild serve: stopped"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("serve's log lacks %s:\n%s", want, stderr)
		}
	}
}

func TestServeTokens(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	tmpl := writeTemp(t, "T.bu", []byte(batchTemplate))
	hostsFile := writeTemp(t, "hosts.yaml", []byte("hosts:\n  - name: a\n    vars: {ip: 1, big: ''}\n    token: 0123456789abcdef0123\n  - name: b\n    vars: {ip: 2, big: ''}\n"))
	// Every host needs a token.
	fails(t, "--require-token: 1 host(s) have no token: b", nil, "serve", "--listen", "127.0.0.1:0", "--require-token", "--butane", tmpl, "--hosts", hostsFile, iso)

	withTokens := writeTemp(t, "hosts.yaml", []byte("hosts:\n  - name: a\n    vars: {ip: 1, big: ''}\n    token: 0123456789abcdef0123\n"))
	url, stop := startServe(t, "--require-token", "--butane", tmpl, "--hosts", withTokens, iso)
	if res, _ := get(t, url+"/hosts/a.iso", nil); res.StatusCode != 404 {
		t.Errorf("without the token: %d", res.StatusCode)
	}
	if res, _ := get(t, url+"/hosts/0123456789abcdef0123/a.iso", nil); res.StatusCode != 200 {
		t.Errorf("with the token: %d", res.StatusCode)
	}
	if _, stderr := stop(); strings.Contains(stderr, "0123456789abcdef0123") {
		t.Errorf("the token is in the log:\n%s", stderr)
	}
}

func TestServeUsage(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	tmpl := writeTemp(t, "T.bu", []byte(batchTemplate))
	hostsFile := writeTemp(t, "hosts.yaml", []byte("hosts:\n  - name: a\n    vars: {big: ''}\n"))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--butane", tmpl, "--hosts", hostsFile}, "--listen is required"},
		{[]string{"--listen", ":0", "--butane", tmpl}, "--hosts is required"},
		{[]string{"--listen", ":0", "--hosts", hostsFile}, "--hosts needs --butane"},
		{[]string{"--listen", ":0", "--butane", tmpl, "--hosts", hostsFile, "--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"--listen", ":0", "--butane", tmpl, "--hosts", hostsFile, "--max-streams", "0"}, "--max-streams 0"},
		// A host's config is checked before the server listens.
		{[]string{"--listen", "127.0.0.1:0", "--butane", tmpl, "--hosts", hostsFile}, `host a: ` + tmpl + `:12:25: host "a" has no var "ip"`},
		{[]string{"--listen", "127.0.0.1:0", "--butane", tmpl, "--hosts", hostsFile, "--tls-cert", "/nonexistent", "--tls-key", "/nonexistent"}, "--tls-cert, --tls-key: open /nonexistent"},
	} {
		fails(t, tc.want, nil, append(append([]string{"serve"}, tc.args...), iso)...)
	}
	if _, err := os.Stat("isobuild"); err == nil {
		t.Fatal("a stray isobuild binary")
	}
}
