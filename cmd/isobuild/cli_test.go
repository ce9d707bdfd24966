package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
)

// result is the outcome of one in-process CLI run.
type result struct {
	stdout, stderr []byte
	code           int
}

func (r result) combined() string { return string(r.stdout) + string(r.stderr) }

// cli runs isobuild in-process with stdin and args.
func cli(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, bytes.NewReader(stdin), &out, &errb)
	return result{out.Bytes(), errb.Bytes(), code}
}

// ok runs the CLI and fails the test unless it succeeds.
func ok(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	r := cli(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("isobuild %s: exit %d\n%s", strings.Join(args, " "), r.code, r.combined())
	}
	return r
}

// fails runs the CLI, requires a failure whose output contains want, and
// returns the result.
func fails(t *testing.T, want string, stdin []byte, args ...string) result {
	t.Helper()
	r := cli(t, stdin, args...)
	if r.code == 0 {
		t.Fatalf("isobuild %s succeeded, want an error containing %q", strings.Join(args, " "), want)
	}
	if !strings.Contains(r.combined(), want) {
		t.Fatalf("isobuild %s: output %q does not contain %q", strings.Join(args, " "), r.combined(), want)
	}
	return r
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func readTestFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func copyFile(t *testing.T, src, dst string) string {
	t.Helper()
	if err := os.WriteFile(dst, readTestFile(t, src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// modes runs a modifying command in the three output modes on copies of
// iso and checks that they agree; it returns the resulting bytes. args
// holds the command words; the ISO and -o are appended.
func modes(t *testing.T, iso string, stdin []byte, args ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	streamed := ok(t, stdin, append(append([]string{}, args...), "-o", "-", iso)...).stdout
	out := filepath.Join(dir, "out.iso")
	ok(t, stdin, append(append([]string{}, args...), "-o", out, iso)...)
	inplace := copyFile(t, iso, filepath.Join(dir, "inplace.iso"))
	ok(t, stdin, append(append([]string{}, args...), inplace)...)
	if s, f, p := sum(streamed), sum(readTestFile(t, out)), sum(readTestFile(t, inplace)); s != f || f != p {
		t.Fatalf("%v: output modes disagree: stream %s, file %s, in place %s", args, s, f, p)
	}
	return streamed
}

// failsAllModes checks that a command fails with want in every output mode
// and leaves the input and the output directory untouched.
func failsAllModes(t *testing.T, iso, want string, stdin []byte, args ...string) {
	t.Helper()
	before := fixture.SHA256(t, iso)
	dir := t.TempDir()
	r := fails(t, want, stdin, append(append([]string{}, args...), "-o", "-", iso)...)
	if len(r.stdout) != 0 {
		t.Errorf("%v -o -: failed but wrote %d bytes to stdout", args, len(r.stdout))
	}
	fails(t, want, stdin, append(append([]string{}, args...), "-o", filepath.Join(dir, "out.iso"), iso)...)
	fails(t, want, stdin, append(append([]string{}, args...), iso)...)
	if after := fixture.SHA256(t, iso); after != before {
		t.Errorf("%v: failed command changed the input ISO", args)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("%v: failed command left %d file(s) in the output directory", args, len(ents))
	}
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
