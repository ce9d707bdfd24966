//go:build e2e

package e2e

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The inventory of TestServe: a Butane template (spec 1.4.0, Ignition
// 3.3.0, which the test image's Ignition reads) and two hosts.
const (
	serveTemplate = `variant: fcos
version: 1.4.0
storage:
  files:
    - path: /etc/hostname
      mode: 0644
      contents:
        inline: "{{ .Name }}"
    - path: /etc/isobuild-role
      mode: 0644
      contents:
        inline: "{{ .Vars.role }}"
`
	serveHosts = `hosts:
  - name: node1
    vars: {role: worker}
  - name: node2
    vars: {role: control}
`
)

// TestServe serves the CoreOS-layout test image with isobuild serve over
// loopback, checks that a host's image as served equals what build --hosts
// writes for it, and boots it from its URL with isobuild vm (QEMU's HTTP
// block driver, reading with Range requests as a BMC's virtual media does):
// Ignition must apply that host's config.
func TestServe(t *testing.T) {
	s := getSuite(t)
	dir := testDir(t)
	ctx := testContext(t)
	bu := filepath.Join(dir, "fleet.bu")
	hosts := filepath.Join(dir, "hosts.yaml")
	if err := os.WriteFile(bu, []byte(serveTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hosts, []byte(serveHosts), 0o644); err != nil {
		t.Fatal(err)
	}
	batch := filepath.Join(dir, "batch") + "/"
	s.isobuildLogged(t, "build", "--butane", bu, "--hosts", hosts, "-o", batch, s.base)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	srv := command(ctx, s.isobuild, "serve", "--listen", addr, "--butane", bu, "--hosts", hosts, s.base)
	srv.Dir = s.root
	var logs bytes.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
		t.Logf("isobuild serve's log:\n%s", tail(logs.String(), 4000))
	})
	base := "http://" + addr
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("isobuild serve on %s is not healthy after 20 s: %v", addr, err)
		}
	}

	url := base + "/hosts/node1.iso"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	served, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	want, err := os.ReadFile(filepath.Join(batch, "node1.iso"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(served, want) {
		t.Fatalf("GET %s: %d bytes (sha256 %x), but build --hosts wrote %d bytes (sha256 %x)", url, len(served), sha256.Sum256(served), len(want), sha256.Sum256(want))
	}

	rep := s.vm(t, ctx, url, "bios", "--disk-size", "64M")
	recordBoot("serve-node1", "bios-http", rep, rep.Result == "PASS")
	if rep.Result != "PASS" || rep.Config != "present" || rep.Ignition != "fetch=0 files=0" {
		t.Fatalf("booted from %s: result %s, config %q, Ignition %q; want PASS with the host's config applied", url, rep.Result, rep.Config, rep.Ignition)
	}
	for path, contents := range map[string]string{"/etc/hostname": "node1", "/etc/isobuild-role": "worker"} {
		e, ok := rep.Entries[path]
		if sum := fmt.Sprintf("%x", sha256.Sum256([]byte(contents))); !ok || e.Type != 'f' || e.SHA256 != sum {
			t.Errorf("Ignition wrote %s as %+v, want a file holding %q", path, e, contents)
		}
	}
}
