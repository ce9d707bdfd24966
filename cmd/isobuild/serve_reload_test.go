//go:build linux

package main

import (
	"bufio"
	"crypto/sha256"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveProcess starts "isobuild serve" as a process (the test binary, see
// TestMain) on a free loopback port and returns it, its base URL and its
// standard error, which fills while it runs.
func serveProcess(t *testing.T, args ...string) (*exec.Cmd, string, *lockedBuffer) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "ISOBUILD_TEST_RUN_MAIN=1")
	cmd.Stdout = pw
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(pr).ReadString('\n')
	m := servingRE.FindStringSubmatch(line)
	if err != nil || m == nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("serve printed %q (%v):\n%s", line, err, stderr)
	}
	return cmd, m[2], stderr
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func head(t *testing.T, url string) *http.Response {
	t.Helper()
	res, err := http.Head(url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// TestServeReload: SIGHUP makes serve read the inventory again and serve
// the new images (new ETag, new bytes) while a download in flight ends
// with the old bytes; an invalid inventory is logged and the old one
// stays; SIGHUP does not stop the server, SIGTERM does.
func TestServeReload(t *testing.T) {
	iso := filepath.Join(t.TempDir(), "base.iso")
	buildTestISO(t, iso, 48<<20)
	tmpl := writeTemp(t, "T.bu", []byte(batchTemplate))
	hostsFile := writeTemp(t, "hosts.yaml", []byte("hosts:\n  - name: a\n    vars: {ip: 192.0.2.1, big: ''}\n  - name: b\n    vars: {ip: 192.0.2.2, big: ''}\n"))
	cmd, url, stderr := serveProcess(t, "--butane", tmpl, "--hosts", hostsFile, iso)

	res, old := get(t, url+"/hosts/a.iso", nil)
	oldTag, oldB := res.Header.Get("Etag"), head(t, url+"/hosts/b.iso")
	if res.StatusCode != 200 || oldTag == "" {
		t.Fatalf("a.iso: %d %q", res.StatusCode, oldTag)
	}
	// A download in flight when the reload comes.
	inflight, err := http.Get(url + "/hosts/a.iso")
	if err != nil {
		t.Fatal(err)
	}
	defer inflight.Body.Close()
	first := make([]byte, 1<<20)
	if _, err := io.ReadFull(inflight.Body, first); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(hostsFile, []byte("hosts:\n  - name: a\n    vars: {ip: 198.51.100.7, big: ''}\n  - name: b\n    vars: {ip: 192.0.2.2, big: ''}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new ETag", func() bool { return head(t, url+"/hosts/a.iso").Header.Get("Etag") != oldTag })
	res, got := get(t, url+"/hosts/a.iso", nil)
	if res.StatusCode != 200 || len(got) != len(old) || sha256.Sum256(got) == sha256.Sum256(old) {
		t.Fatalf("after the reload: %d, %d bytes (before: %d), same bytes %v", res.StatusCode, len(got), len(old), sha256.Sum256(got) == sha256.Sum256(old))
	}
	waitFor(t, "the reload's record", func() bool {
		return strings.Contains(stderr.String(), `"msg":"reloaded","hosts":2,"changed":1,"removed":0`)
	})
	// The unchanged host keeps its validators.
	if b := head(t, url+"/hosts/b.iso"); b.Header.Get("Etag") != oldB.Header.Get("Etag") || b.Header.Get("Last-Modified") != oldB.Header.Get("Last-Modified") {
		t.Errorf("b's validators changed: %q %q → %q %q", oldB.Header.Get("Etag"), oldB.Header.Get("Last-Modified"), b.Header.Get("Etag"), b.Header.Get("Last-Modified"))
	}
	// The download in flight got the old image to its end.
	rest, err := io.ReadAll(inflight.Body)
	if err != nil {
		t.Fatal(err)
	}
	if whole := append(first, rest...); sha256.Sum256(whole) != sha256.Sum256(old) {
		t.Errorf("the download in flight during the reload got %d bytes that are not the old image", len(whole))
	}

	// An invalid inventory: logged, and the previous one stays.
	newTag := res.Header.Get("Etag")
	if err := os.WriteFile(hostsFile, []byte("hosts:\n  - name: a\n    vars: {big: ''}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed reload's record", func() bool { return strings.Contains(stderr.String(), `"msg":"reload failed"`) })
	if res, body := get(t, url+"/hosts/a.iso", nil); res.StatusCode != 200 || res.Header.Get("Etag") != newTag || sha256.Sum256(body) != sha256.Sum256(got) {
		t.Errorf("after a failed reload: %d %q", res.StatusCode, res.Header.Get("Etag"))
	}
	if res := head(t, url+"/hosts/b.iso"); res.StatusCode != 200 {
		t.Errorf("b after a failed reload: %d", res.StatusCode)
	}
	for _, want := range []string{`host a: `, `has no var \"ip\"`, `"hosts":2`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the failed reload's record lacks %s:\n%s", want, stderr)
		}
	}

	// A base changed in place without a reload: 500, and a log line
	// saying what to do; SIGHUP then serves it with new ETags.
	if err := os.Chtimes(iso, time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hostsFile, []byte("hosts:\n  - name: a\n    vars: {ip: 198.51.100.7, big: ''}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := head(t, url+"/hosts/a.iso"); res.StatusCode != 500 {
		t.Errorf("base changed: %d", res.StatusCode)
	}
	// The record follows the response.
	waitFor(t, "the 500's record saying to send SIGHUP", func() bool { return strings.Contains(stderr.String(), "send the server SIGHUP") })
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reloaded base", func() bool { return head(t, url+"/hosts/a.iso").StatusCode == 200 })
	if tag := head(t, url+"/hosts/a.iso").Header.Get("Etag"); tag == newTag {
		t.Error("the base's change kept the ETag")
	}
	if res := head(t, url+"/hosts/b.iso"); res.StatusCode != 404 {
		t.Errorf("b, no longer in the inventory: %d", res.StatusCode)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, stderr)
	}
	if !strings.Contains(stderr.String(), "isobuild serve: stopped (terminated signal received)") {
		t.Errorf("stderr:\n%s", stderr)
	}
}
