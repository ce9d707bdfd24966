//go:build e2e

package e2e

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
)

// The build-big-config row: isobuild build with a config whose compressed
// form does not fit the 256 KiB initrd embed area (images/ignition.img of
// the base ISO). isobuild must then move images/ignition.img to an extent
// after the end of the base image, sized for the config; every boot entry
// loads that file by path, so the live system must get the whole config and
// Ignition must write the 2 MiB file it carries.

const (
	bigBlobSize  = 2 << 20
	bigBlobLocal = "blob"
	bigBlobPath  = "/var/lib/isobuild-big/blob"
	// bigBlobSeed names the data: block i of the blob is the SHA-256 of
	// the seed and i (8 bytes, big-endian), so reruns build the same file,
	// and it does not compress.
	bigBlobSeed = "isobuild e2e build-big-config"
	// embedAreaSize is the size of the base ISO's images/ignition.img.
	embedAreaSize = 256 << 10
)

// bigButane writes the blob from the files directory and a small inline
// file.
const bigButane = `variant: fcos
version: 1.4.0
storage:
  files:
    - path: ` + bigBlobPath + `
      mode: 0644
      contents:
        local: ` + bigBlobLocal + `
    - path: /etc/isobuild-big.conf
      mode: 0644
      contents:
        inline: |
          # isobuild e2e: a config too big for the initrd embed area
          blob=` + bigBlobPath + `
`

// bigBlob returns the blob's bytes.
func bigBlob() []byte {
	blob := make([]byte, 0, bigBlobSize)
	var in [len(bigBlobSeed) + 8]byte
	copy(in[:], bigBlobSeed)
	for i := uint64(0); len(blob) < bigBlobSize; i++ {
		binary.BigEndian.PutUint64(in[len(bigBlobSeed):], i)
		sum := sha256.Sum256(in[:])
		blob = append(blob, sum[:]...)
	}
	return blob[:bigBlobSize]
}

func prepareBigConfig(t *testing.T, s *suite, dir string) expected {
	files := filepath.Join(dir, "big-config-files")
	if err := os.MkdirAll(files, 0o755); err != nil {
		t.Fatal(err)
	}
	blob := bigBlob()
	if err := os.WriteFile(filepath.Join(files, bigBlobLocal), blob, 0o644); err != nil {
		t.Fatal(err)
	}
	bu := filepath.Join(dir, "big-config.bu")
	if err := os.WriteFile(bu, []byte(bigButane), 0o644); err != nil {
		t.Fatal(err)
	}
	tree, err := expectTreeFromButane([]byte(bigButane), files)
	if err != nil {
		t.Fatalf("%s: %v", bu, err)
	}

	out := filepath.Join(dir, "build-big-config.iso")
	s.isobuildRun(t, "build", "--butane", bu, "-d", files, "-o", out, s.base)
	for _, p := range bigConfigLayout(t, s.base, out) {
		t.Error(p)
	}

	// iso reset must give the base image back byte for byte, also after
	// the relocation. A failure here does not stop the boots.
	reset := filepath.Join(dir, "build-big-config-reset.iso")
	cmd := command(testContext(t), s.isobuild, "iso", "reset", "-o", reset, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("isobuild iso reset -o %s %s: %v\n%s", reset, out, err, b)
	} else if got, want := fixture.SHA256(t, reset), fixture.SHA256(t, s.base); got != want {
		t.Errorf("isobuild iso reset of %s: sha256 %s, want the base ISO's %s (%s)",
			filepath.Base(out), got, want, firstDifference(t, reset, s.base))
	} else {
		t.Logf("isobuild iso reset -o %s %s: byte-identical to the base ISO", filepath.Base(reset), filepath.Base(out))
	}

	return expected{
		iso:      out,
		kargs:    s.defaultKargs,
		config:   s.embeddedConfig(t, out),
		tree:     tree,
		keyfiles: map[string][]byte{},
		check:    bigBlobCheck(blob),
	}
}

// bigBlobCheck says, besides the tree check (which compares every file with
// the Butane's files directory), in so many words that the guest got the
// blob: its size and its sha256, against the generated data.
func bigBlobCheck(blob []byte) func(rep bootReport) []string {
	sum := sha256.Sum256(blob)
	return func(rep bootReport) []string {
		e, ok := rep.Entries[bigBlobPath]
		switch {
		case !ok:
			return []string{bigBlobPath + " was not written"}
		case e.Type != 'f' || e.Size != int64(len(blob)) || e.SHA256 != hex.EncodeToString(sum[:]):
			return []string{fmt.Sprintf("%s is %s, want the %d-byte blob sha256 %x", bigBlobPath, e, len(blob), sum)}
		}
		return nil
	}
}

// bigConfigLayout checks with xorriso that images/ignition.img of the
// built image out is larger than the blob and lies after the end of the
// base image, and that it was the base's 256 KiB embed area before.
func bigConfigLayout(t *testing.T, base, out string) []string {
	t.Helper()
	const name = "images/ignition.img"
	before, ok := fixture.XorrisoExtents(t, base)[name]
	if !ok || before[1] != embedAreaSize {
		return []string{fmt.Sprintf("base ISO %s: /%s is %v (lba, bytes), want a %d-byte embed area", base, name, before, embedAreaSize)}
	}
	after, ok := fixture.XorrisoExtents(t, out)[name]
	if !ok {
		return []string{fmt.Sprintf("%s has no /%s", out, name)}
	}
	fi, err := os.Stat(base)
	if err != nil {
		t.Fatal(err)
	}
	var probs []string
	if after[1] <= bigBlobSize {
		probs = append(probs, fmt.Sprintf("/%s of the built ISO has %d bytes, want more than the %d-byte blob", name, after[1], bigBlobSize))
	}
	if start := after[0] * 2048; start < fi.Size() {
		probs = append(probs, fmt.Sprintf("/%s of the built ISO starts at byte %d (lba %d), want at or after the end of the %d-byte base ISO",
			name, start, after[0], fi.Size()))
	}
	t.Logf("/%s: base lba %d, %d bytes; built lba %d, %d bytes (base image ends at lba %d)",
		name, before[0], before[1], after[0], after[1], fi.Size()/2048)
	return probs
}

// firstDifference describes where files a and b first differ, for a
// failure message.
func firstDifference(t *testing.T, a, b string) string {
	t.Helper()
	da, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	n := min(len(da), len(db))
	i := 0
	for i < n && da[i] == db[i] {
		i++
	}
	switch {
	case i < n:
		return fmt.Sprintf("first difference at byte %d (sector %d); %d bytes, want %d", i, i/2048, len(da), len(db))
	case len(da) != len(db):
		return fmt.Sprintf("%d bytes, want %d; the shorter is a prefix of the longer", len(da), len(db))
	}
	return "identical"
}

// bigBlobSHA256 pins the blob, so that a change to bigBlob (which would
// make runs incomparable) is noticed.
const bigBlobSHA256 = "20839bb56e557cbed53e5d8cc47474a42187197bff96a51eb480a4687aaa6d12"

// TestBigConfigChecks checks the build-big-config row's inputs and its
// blob check without QEMU: the blob is the pinned data and does not
// compress (else the config would fit the embed area and the row would
// test nothing), the expectation holds the blob, and the check catches a
// missing or different blob.
func TestBigConfigChecks(t *testing.T) {
	blob := bigBlob()
	if sum := sha256.Sum256(blob); len(blob) != bigBlobSize || hex.EncodeToString(sum[:]) != bigBlobSHA256 {
		t.Fatalf("bigBlob: %d bytes sha256 %x, want %d bytes sha256 %s", len(blob), sum, bigBlobSize, bigBlobSHA256)
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(blob)
	zw.Close()
	if gz.Len() < len(blob) {
		t.Fatalf("the blob compresses to %d bytes with gzip: it must not compress", gz.Len())
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, bigBlobLocal), blob, 0o644); err != nil {
		t.Fatal(err)
	}
	tree, err := expectTreeFromButane([]byte(bigButane), dir)
	if err != nil {
		t.Fatal(err)
	}
	w, ok := tree.Entries[bigBlobPath]
	if !ok || w.Size != bigBlobSize || w.Mode != 0o644 || !bytes.Equal(tree.Contents[bigBlobPath], blob) {
		t.Fatalf("expectation for %s: %+v, want the %d-byte blob, mode 0644", bigBlobPath, w, bigBlobSize)
	}
	good := entry{Type: 'f', Mode: 0o644, Size: w.Size, SHA256: w.SHA256, Path: bigBlobPath}
	check := bigBlobCheck(blob)
	if p := check(bootReport{Entries: map[string]entry{bigBlobPath: good}}); len(p) > 0 {
		t.Fatalf("the blob check refuses the blob: %q", p)
	}
	short, other := good, good
	short.Size--
	other.SHA256 = strings.Repeat("0", 64)
	for name, es := range map[string]map[string]entry{
		"missing":     {},
		"short":       {bigBlobPath: short},
		"other data":  {bigBlobPath: other},
		"a directory": {bigBlobPath: {Type: 'd', Mode: 0o755, Size: -1, Path: bigBlobPath}},
	} {
		if p := check(bootReport{Entries: es}); len(p) == 0 {
			t.Errorf("%s blob: no problem found", name)
		}
	}
}
