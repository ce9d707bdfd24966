package embed

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/initrd"
	"github.com/isobuild/isobuild/pkg/overlay"
	"github.com/isobuild/isobuild/pkg/remaster"
	"github.com/isobuild/isobuild/pkg/sysarea"
)

// bigMembers returns initrd members that compress to about n bytes: random
// data does not compress.
func bigMembers(n int) initrd.Files {
	rng := rand.New(rand.NewPCG(1, 2))
	blob := make([]byte, n)
	for i := range blob {
		blob[i] = byte(rng.Uint32())
	}
	return initrd.Files{"config.ign": []byte(`{"ignition":{"version":"3.3.0"}}`), "etc/big.bin": blob}
}

func writeOverlay(t *testing.T, ov *overlay.Image, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := ov.WriteTo(f); err != nil {
		t.Fatal(err)
	}
}

// TestGrow: a config larger than the 256 KiB area relocates
// images/ignition.img to an appended extent on every real x86_64 fixture;
// the result reads back, passes xorriso and the partition-table checks,
// is deterministic and resets to the base byte for byte.
func TestGrow(t *testing.T) {
	xorriso := fixture.NeedTool(t, "xorriso")
	for _, name := range fixture.ISONames(t, "embed-areas-") {
		if strings.Contains(name, "s390x") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			base := fixture.ISO(t, name)
			im := mustOpen(t, base)
			members := bigMembers(300 << 10)
			kargs := "console=ttyS0 grown"
			c := Changes{Members: members, Grow: true, Description: remaster.Description{Generator: "test"}}
			if im.Kargs != nil {
				c.Kargs = &kargs
			}
			if _, err := im.Overlay(Changes{Members: members}); !errors.As(err, new(*TooLargeError)) {
				t.Fatalf("without Grow: %v, want a TooLargeError", err)
			}
			ov, err := im.Overlay(c)
			if catalogPointsAt(t, im, im.Initrd.Offset) {
				// The oldest fixtures have their boot images cut down
				// to nothing: the UEFI entry's empty efiboot.img lies at
				// the start of images/ignition.img, and a boot image is
				// never moved.
				if err == nil || !strings.Contains(err.Error(), "El Torito") {
					t.Fatalf("an area where a boot image starts: %v, want a refusal naming El Torito", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			out := filepath.Join(dir, "out.iso")
			writeOverlay(t, ov, out)
			ov2, _ := mustOpen(t, base).Overlay(c)
			out2 := filepath.Join(dir, "out2.iso")
			writeOverlay(t, ov2, out2)
			if a, b := sha256File(t, out), sha256File(t, out2); a != b {
				t.Error("two grown images differ")
			}

			grown := mustOpen(t, out)
			if grown.Initrd.Length < int64(len(members["etc/big.bin"])) || grown.Initrd.Offset < im.ISO.Size() {
				t.Errorf("grown area %+v: want one of at least %d bytes after the base's %d", grown.Initrd, len(members["etc/big.bin"]), im.ISO.Size())
			}
			if got := grown.Members(); !bytes.Equal(got["etc/big.bin"], members["etc/big.bin"]) || len(got) != 2 {
				t.Errorf("members read back: %v", got.Names())
			}
			if im.Kargs != nil {
				if cur, err := grown.CurrentKargs(); err != nil || cur != kargs {
					t.Errorf("kargs %q, %v", cur, err)
				}
			}
			rep, _ := exec.Command(xorriso, "-abort_on", "NEVER", "-indev", out, "-report_el_torito", "plain", "-find", "/images", "-exec", "report_lba", "--").CombinedOutput()
			for _, line := range strings.Split(string(rep), "\n") {
				if strings.Contains(line, "WARNING") || strings.Contains(line, "FAILURE") || strings.Contains(line, "SORRY") {
					t.Errorf("xorriso: %s", line)
				}
			}
			if !strings.Contains(string(rep), "/images/ignition.img") {
				t.Errorf("xorriso does not list images/ignition.img:\n%s", rep)
			}
			f, _ := os.Open(out)
			defer f.Close()
			st, _ := f.Stat()
			sys, err := sysarea.Read(f, st.Size())
			if err != nil {
				t.Fatal(err)
			}
			if err := sys.Verify(); err != nil {
				t.Errorf("partition tables: %v", err)
			}

			// A grown image whose area still fits takes a new config in
			// place; one that needs more refuses.
			again, err := grown.Overlay(Changes{Members: bigMembers(280 << 10), Grow: true})
			if err != nil || again.Size() != st.Size() {
				t.Errorf("re-embedding into the grown area: size %v, %v", again, err)
			}
			if _, err := grown.Overlay(Changes{Members: bigMembers(600 << 10), Grow: true}); !errors.Is(err, ErrGrownTooSmall) {
				t.Errorf("growing a grown image: %v, want ErrGrownTooSmall", err)
			}

			rm, err := remaster.Open(f, st.Size())
			if err != nil || rm.Record() == nil {
				t.Fatalf("reset record: %v, %v", rm, err)
			}
			reset, err := rm.Reset()
			if err != nil {
				t.Fatal(err)
			}
			resetPath := filepath.Join(dir, "reset.iso")
			writeOverlay(t, reset, resetPath)
			if sha256File(t, resetPath) != sha256File(t, base) {
				t.Error("the reset image differs from the base")
			}
		})
	}
}

func TestGrowS390x(t *testing.T) {
	for _, name := range fixture.ISONames(t, "embed-areas-") {
		if !strings.Contains(name, "s390x") {
			continue
		}
		im := mustOpen(t, fixture.ISO(t, name))
		_, err := im.Overlay(Changes{Members: bigMembers(300 << 10), Grow: true})
		var ng *NotGrowableError
		if !errors.As(err, &ng) || !errors.As(err, new(*TooLargeError)) || !strings.Contains(err.Error(), "cannot grow") {
			t.Errorf("%s: %v, want a NotGrowableError", name, err)
		}
	}
}

// catalogPointsAt reports whether an El Torito boot image starts at off.
func catalogPointsAt(t *testing.T, im *Image, off int64) bool {
	entries, err := im.ISO.BootCatalog()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if int64(e.LoadRBA)*2048 == off {
			return true
		}
	}
	return false
}

func sha256File(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}
