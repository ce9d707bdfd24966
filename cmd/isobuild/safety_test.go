//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/embed"
	"github.com/isobuild/isobuild/pkg/initrd"
	"github.com/isobuild/isobuild/pkg/overlay"
)

const safetyFixture = "embed-areas-2023-07.x86_64.iso"

// shell runs a bash command line with the test binary as "$ISOBUILD"; it
// returns the exit status and stderr.
func shell(t *testing.T, script string) (int, string) {
	t.Helper()
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), "ISOBUILD_TEST_RUN_MAIN=1", "ISOBUILD="+os.Args[0])
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stderr.String()
}

// TestStreamIntoInput: "-o -" whose stdout is the input file, or closed,
// fails with one line and leaves the input as it was.
func TestStreamIntoInput(t *testing.T) {
	for _, c := range []struct{ name, redirect, want string }{
		{"append", `>> "$IN"`, "the input image itself"},
		{"read-write", `1<> "$IN"`, "the input image itself"},
		{"closed", `>&-`, "standard output is closed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := fixture.ISO(t, safetyFixture)
			before := sum(readTestFile(t, in))
			code, stderr := shell(t, fmt.Sprintf(`IN='%s'; "$ISOBUILD" iso kargs modify -a x=y -o - "$IN" %s`, in, c.redirect))
			if code != 1 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want 1 and one line with %q", code, stderr, c.want)
			}
			if sum(readTestFile(t, in)) != before {
				t.Error("the input changed")
			}
		})
	}
	// /dev/null opened by the shell is a fine place for an image.
	in := fixture.ISO(t, safetyFixture)
	if code, stderr := shell(t, fmt.Sprintf(`"$ISOBUILD" iso kargs modify -a x=y -o - '%s' >/dev/null`, in)); code != 0 {
		t.Errorf(">/dev/null: exit %d: %s", code, stderr)
	}
}

// TestBrokenPipe: a reader that goes away makes the command fail with a
// message, not die of SIGPIPE silently.
func TestBrokenPipe(t *testing.T) {
	in := fixture.ISO(t, safetyFixture)
	for _, args := range []string{"iso kargs modify -a x=y -o -", "iso kargs show", "inspect"} {
		// The reader is gone before the command starts, so that every
		// write fails (a reader closing later races with a small
		// output that fits the pipe's buffer).
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		cmd, stderr := isobuildProcess(t, nil, w, append(strings.Fields(args), in)...)
		w.Close()
		code := waitExit(t, cmd)
		if code != 1 || !strings.Contains(stderr.String(), "broken pipe") || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%s into a closed pipe: exit %d, stderr %q", args, code, stderr)
		}
	}
}

// TestConcurrentInPlace: in-place edits of one image racing each other
// all land; none is lost and no area is mixed.
func TestConcurrentInPlace(t *testing.T) {
	in := fixture.ISO(t, safetyFixture)
	const n = 8
	var wg sync.WaitGroup
	codes := make([]result, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			codes[2*i] = cli(t, nil, "iso", "kargs", "modify", "-a", fmt.Sprintf("a%d=1", i), in)
		}()
		go func() {
			defer wg.Done()
			codes[2*i+1] = cli(t, nil, "iso", "kargs", "modify", "-a", fmt.Sprintf("b%d=2", i), in)
		}()
	}
	wg.Wait()
	for i, r := range codes {
		if r.code != 0 {
			t.Fatalf("edit %d: exit %d: %s", i, r.code, r.combined())
		}
	}
	kargs := string(ok(t, nil, "iso", "kargs", "show", in).stdout)
	for i := range n {
		for _, k := range []string{fmt.Sprintf("a%d=1", i), fmt.Sprintf("b%d=2", i)} {
			if !strings.Contains(kargs, k) {
				t.Errorf("edit %s was lost: %s", k, kargs)
			}
		}
	}
}

// TestExtractAllOrNothing: keyfiles whose names collide once flattened,
// or cannot be file names, fail the extraction before any file exists.
func TestExtractAllOrNothing(t *testing.T) {
	for name, members := range map[string]initrd.Files{
		"same base name": {
			"etc/coreos-firstboot-network/a.nmconnection":     []byte("[connection]\n"),
			"etc/coreos-firstboot-network/sub/a.nmconnection": []byte("[connection]\n"),
			"etc/coreos-firstboot-network/b.nmconnection":     []byte("[connection]\n"),
		},
		"dot-dot": {
			"etc/coreos-firstboot-network/a.nmconnection": []byte("[connection]\n"),
			"etc/coreos-firstboot-network/x/..":           []byte("[connection]\n"),
		},
	} {
		t.Run(name, func(t *testing.T) {
			in := withMembers(t, members)
			dir := filepath.Join(t.TempDir(), "out")
			r := fails(t, "nothing was written", nil, "iso", "network", "extract", "-C", dir, in)
			if !strings.Contains(string(r.stderr), "sub/a.nmconnection") && !strings.Contains(string(r.stderr), "x/..") {
				t.Errorf("error does not name the member: %s", r.stderr)
			}
			if ents, _ := os.ReadDir(dir); len(ents) > 0 {
				t.Errorf("%d files written", len(ents))
			}
		})
	}
}

// withMembers returns a copy of the fixture whose initrd area holds an
// uncompressed archive of files, written with the low-level writer, which
// takes names that Files.EncodeXZ refuses.
func withMembers(t *testing.T, files initrd.Files) string {
	t.Helper()
	path := fixture.ISO(t, safetyFixture)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	im, err := embed.Open(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	var arc bytes.Buffer
	w := initrd.NewWriter(&arc)
	for _, name := range files.Names() {
		if err := w.WriteHeader(&initrd.Header{Name: name, Mode: initrd.ModeRegular | 0o600, Nlink: 1, Size: int64(len(files[name]))}); err != nil {
			t.Fatal(err)
		}
		w.Write(files[name])
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ov := overlay.New(f, st.Size())
	if err := ov.Patch(im.Initrd.Offset, arc.Bytes()); err != nil {
		t.Fatal(err)
	}
	out := path + ".custom"
	writeOverlay(t, out, ov)
	return out
}

func writeOverlay(t *testing.T, path string, ov *overlay.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ov.WriteToContext(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
