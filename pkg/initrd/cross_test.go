package initrd

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cavaliergopher/cpio"

	"github.com/isobuild/isobuild/internal/fixture"
)

// Cross-checks against independent implementations: the cavaliergopher/cpio
// reader and writer, and the cpio, xz, gzip and zstd command-line tools.

// needTools skips the test if a tool is missing, unless CI is set, in which
// case a missing tool is a failure: CI must install it.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found on PATH, and CI is set: CI must install it", tool)
			}
			fixture.Skipf(t, "%s is not on PATH", tool)
		}
	}
}

func run(t *testing.T, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

func TestCavaliergopherReadsWriteNewc(t *testing.T) {
	files := exampleFiles()
	files["a/b/c"] = []byte("abc")
	files["a/d"] = []byte{}
	raw := mustWriteNewc(t, files)

	type ent struct {
		name  string
		mode  uint32
		ino   int64
		links int
		data  string
	}
	want := []ent{
		{"a", 0o40755, 0, 1, ""},
		{"a/b", 0o40755, 1, 1, ""},
		{"a/b/c", 0o100600, 2, 1, "abc"},
		{"a/d", 0o100600, 3, 1, ""},
		{"config.ign", 0o100600, 4, 1, exampleConfig},
		{"etc", 0o40755, 5, 1, ""},
		{"etc/coreos-firstboot-network", 0o40755, 6, 1, ""},
		{exampleKeyPath, 0o100600, 7, 1, exampleKeyfile},
	}
	r := cpio.NewReader(bytes.NewReader(raw))
	var got []ent
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("cavaliergopher Next after %d entries: %v", len(got), err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if h.Size != int64(len(data)) || h.ModTime.Unix() != 0 || h.Uid != 0 || h.Guid != 0 {
			t.Errorf("%s: size %d (data %d), mtime %v, uid %d, gid %d", h.Name, h.Size, len(data), h.ModTime, h.Uid, h.Guid)
		}
		got = append(got, ent{h.Name, uint32(h.Mode), h.Inode, h.Links, string(data)})
	}
	if len(got) != len(want) {
		t.Fatalf("cavaliergopher read %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestDecodeCavaliergopherArchive decodes an archive written by another
// implementation (upper-case hex, its own inode handling).
func TestDecodeCavaliergopherArchive(t *testing.T) {
	var buf bytes.Buffer
	w := cpio.NewWriter(&buf)
	add := func(h *cpio.Header, data string) {
		h.Size = int64(len(data))
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, data); err != nil {
			t.Fatal(err)
		}
	}
	add(&cpio.Header{Name: "etc", Mode: cpio.TypeDir | 0o755}, "")
	add(&cpio.Header{Name: "etc/hostname", Mode: cpio.TypeReg | 0o644}, "host\n")
	add(&cpio.Header{Name: "link", Mode: cpio.TypeSymlink | 0o777, Linkname: "etc/hostname"}, "etc/hostname")
	add(&cpio.Header{Name: "config.ign", Mode: cpio.TypeReg | 0o600}, exampleConfig)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("070701")) {
		t.Fatalf("cavaliergopher wrote magic %q", buf.Bytes()[:6])
	}
	got, err := Decode(bytes.NewReader(cat(buf.Bytes(), gzipBytes(t, buf.Bytes()))), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Files{"etc/hostname": []byte("host\n"), "config.ign": []byte(exampleConfig)}
	if d := diffFiles(want, got); d != "" {
		t.Error(d)
	}
}

// TestExternalCpioReadsArea pipes a whole embed area through
// `xzcat | cpio -i --to-stdout`, as the reference shell tests do.
func TestExternalCpioReadsArea(t *testing.T) {
	needTools(t, "xzcat", "cpio", "xz")
	enc := mustEncodeXZ(t, exampleFiles())
	area := cat(enc, zeroBytes(262144-len(enc)))
	cpioIn := run(t, area, "xzcat")
	if out := run(t, cpioIn, "cpio", "-i", "--to-stdout", "--quiet"); string(out) != exampleConfig+exampleKeyfile {
		t.Errorf("cpio -i --to-stdout = %q, want %q", out, exampleConfig+exampleKeyfile)
	}
	wantList := "config.ign\netc\netc/coreos-firstboot-network\n" + exampleKeyPath + "\n"
	if out := run(t, cpioIn, "cpio", "-it", "--quiet"); string(out) != wantList {
		t.Errorf("cpio -it = %q, want %q", out, wantList)
	}
	verbose := string(run(t, cpioIn, "cpio", "-itv", "--quiet"))
	if strings.Count(verbose, "-rw-------") != 2 || strings.Count(verbose, "drwxr-xr-x") != 2 {
		t.Errorf("cpio -itv modes:\n%s", verbose)
	}

	path := filepath.Join(t.TempDir(), "area.xz")
	if err := os.WriteFile(path, enc, 0o644); err != nil {
		t.Fatal(err)
	}
	// file <streams> <blocks> <compressed> <uncompressed> <ratio> <check> <padding>
	list := string(run(t, nil, "xz", "--robot", "--list", path))
	if !strings.Contains(list, "\nfile\t1\t1\t") || !strings.Contains(list, "\tCRC32\t") {
		t.Errorf("xz --list: want one stream, one block, CRC32:\n%s", list)
	}
}

// TestDecodeExternalArchives decodes archives made by GNU cpio (which pads to
// 512-byte blocks) and compressed by the xz, gzip and zstd tools in various
// modes, one after the other.
func TestDecodeExternalArchives(t *testing.T) {
	needTools(t, "cpio", "xz", "gzip", "zstd")
	dir := t.TempDir()
	for name, data := range map[string]string{
		"config.ign":                   exampleConfig,
		"etc/coreos-firstboot-network": "",
		"etc/big":                      strings.Repeat("0123456789abcdef", 20000),
	} {
		p := filepath.Join(dir, name)
		if data == "" {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("config.ign", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	names := "config.ign\netc\netc/big\netc/coreos-firstboot-network\nlink\n"
	cmd := exec.Command("cpio", "-o", "-H", "newc", "--quiet")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(names)
	archive, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if len(archive)%512 != 0 {
		t.Fatalf("GNU cpio archive is %d bytes, expected 512-byte blocks", len(archive))
	}

	variants := map[string][]byte{
		"cpio":                  archive,
		"xz crc32":              run(t, archive, "xz", "-c", "--check=crc32"),
		"xz crc64":              run(t, archive, "xz", "-c", "--check=crc64"),
		"xz sha256":             run(t, archive, "xz", "-c", "--check=sha256"),
		"xz none":               run(t, archive, "xz", "-c", "--check=none"),
		"xz blocks with sizes":  run(t, archive, "xz", "-c", "-T2", "--block-size=16KiB", "--check=crc32"),
		"xz -9":                 run(t, archive, "xz", "-c", "-9", "--check=crc32"),
		"gzip -9":               run(t, archive, "gzip", "-c", "-9"),
		"gzip with name":        run(t, archive, "gzip", "-c", "-N"),
		"zstd -19":              run(t, archive, "zstd", "-c", "-q", "-19"),
		"zstd no check":         run(t, archive, "zstd", "-c", "-q", "--no-check"),
		"zstd content size":     run(t, archive, "zstd", "-c", "-q", "--content-size"),
		"zstd --long":           run(t, archive, "zstd", "-c", "-q", "--long=24"),
		"zstd tiny block split": run(t, archive, "zstd", "-c", "-q", "--zstd=wlog=10"),
	}
	want := Files{
		"config.ign": []byte(exampleConfig),
		"etc/big":    []byte(strings.Repeat("0123456789abcdef", 20000)),
	}
	var all []byte
	for name, v := range variants {
		got, err := Decode(bytes.NewReader(v), nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if d := diffFiles(want, got); d != "" {
			t.Errorf("%s: %s", name, d)
		}
		all = append(all, v...)
		all = append(all, 0)
	}
	got, err := Decode(bytes.NewReader(all), nil)
	if err != nil {
		t.Fatalf("all variants concatenated: %v", err)
	}
	if d := diffFiles(want, got); d != "" {
		t.Errorf("all variants concatenated: %s", d)
	}
}
