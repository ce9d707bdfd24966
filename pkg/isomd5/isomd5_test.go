package isomd5_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/isomd5"
)

func TestMain(m *testing.M) { fixture.Main(m) }

// makeISO builds an ISO 9660 image with xorriso holding one file of
// payload pseudo-random bytes.
func makeISO(t *testing.T, payload int) string {
	t.Helper()
	xorriso := fixture.NeedTool(t, "xorriso")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(payload), 7))
	data := make([]byte, payload)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	if err := os.WriteFile(filepath.Join(tree, "payload.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "base.iso")
	cmd := exec.Command(xorriso, "-as", "mkisofs", "-quiet", "-r", "-J", "-V", "TEST", "-o", out,
		"--modification-date=2026010100000000", tree)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, b)
	}
	return out
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func copyFile(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.WriteFile(dst, readFile(t, src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func runTool(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(fixture.NeedTool(t, name), args...).CombinedOutput()
	return string(out), err
}

// sizes are payloads that give volumes of different fragment layouts,
// down to one where a fragment is shorter than a hashing run.
var sizes = []int{300 << 10, 700 << 10, 1<<20 + 12345, 3<<20 + 2048*7, 5 << 20}

// What implantisomd5 writes, with and without --supported-iso and over an
// earlier checksum with --force, is what Read decodes and what Compute
// and AppData produce.
func TestMatchesImplantisomd5(t *testing.T) {
	fixture.NeedTool(t, "implantisomd5")
	for _, payload := range sizes {
		base := makeISO(t, payload)
		for _, opts := range [][]string{nil, {"--supported-iso"}} {
			iso := copyFile(t, base)
			if out, err := runTool(t, "implantisomd5", append(opts, iso)...); err != nil {
				t.Fatalf("implantisomd5: %v\n%s", err, out)
			}
			img := readFile(t, iso)
			r := bytes.NewReader(img)
			info, err := isomd5.Read(r, int64(len(img)))
			if err != nil || info == nil {
				t.Fatalf("payload %d %v: Read = %v, %v", payload, opts, info, err)
			}
			if info.Offset != 32768+883 || info.VolumeSize != int64(len(img)) {
				t.Errorf("payload %d: offset %d, volume %d; want %d, %d", payload, info.Offset, info.VolumeSize, 32768+883, len(img))
			}
			want := isomd5.DefaultParams()
			want.Supported = opts != nil
			if info.Params != want {
				t.Errorf("payload %d %v: params %+v, want %+v", payload, opts, info.Params, want)
			}
			out, err := runTool(t, "checkisomd5", "--md5sumonly", iso)
			if err != nil || !strings.Contains(out, info.MD5) || (info.FragmentSums != "" && !strings.Contains(out, info.FragmentSums)) {
				t.Errorf("payload %d: checkisomd5 --md5sumonly says %q (%v); Read gives %s / %s", payload, out, err, info.MD5, info.FragmentSums)
			}
			got, err := isomd5.Compute(r, int64(len(img)), info.Params)
			if err != nil {
				t.Fatal(err)
			}
			if got.MD5 != info.MD5 || got.FragmentSums != info.FragmentSums {
				t.Errorf("payload %d %v: computed %s / %s, implantisomd5 wrote %s / %s", payload, opts, got.MD5, got.FragmentSums, info.MD5, info.FragmentSums)
			}
			if app := img[info.Offset : info.Offset+isomd5.AppSize]; !bytes.Equal(got.AppData(), app) {
				t.Errorf("payload %d %v: AppData differs from implantisomd5's:\n got %q\nwant %q", payload, opts, got.AppData(), app)
			}
			// Check agrees with checkisomd5 (which fails images this
			// small, see Check).
			_, toolErr := runTool(t, "checkisomd5", iso)
			if err := isomd5.Check(r, int64(len(img))); (err == nil) != (toolErr == nil) {
				t.Errorf("payload %d: Check: %v, checkisomd5: %v", payload, err, toolErr)
			}
		}
		// --force over an existing checksum after a change.
		iso := copyFile(t, base)
		if out, err := runTool(t, "implantisomd5", "--supported-iso", iso); err != nil {
			t.Fatalf("implantisomd5: %v\n%s", err, out)
		}
		img := readFile(t, iso)
		img[len(img)/2] ^= 0xff
		os.WriteFile(iso, img, 0o644)
		off, data, err := isomd5.Implant(bytes.NewReader(img), int64(len(img)), isomd5.DefaultParams())
		if err != nil {
			t.Fatal(err)
		}
		if out, err := runTool(t, "implantisomd5", "--force", iso); err != nil {
			t.Fatalf("implantisomd5 --force: %v\n%s", err, out)
		}
		if forced := readFile(t, iso); !bytes.Equal(forced[off:off+isomd5.AppSize], data) {
			t.Errorf("payload %d: after --force:\n got %q\nwant %q", payload, data, forced[off:off+isomd5.AppSize])
		}
	}
}

// A checksum implanted by this package passes checkisomd5, and a changed
// byte anywhere in the covered part fails it (and Check).
func TestImplantPassesCheckisomd5(t *testing.T) {
	fixture.NeedTool(t, "checkisomd5")
	for _, payload := range sizes {
		base := makeISO(t, payload)
		img := readFile(t, base)
		// Whatever the area held is replaced.
		copy(img[32768+883:], "left over")
		for _, p := range []isomd5.Params{isomd5.DefaultParams(), {SkipSectors: 0, FragmentCount: 20, Supported: true}, {SkipSectors: 150, FragmentCount: 20}} {
			if p.SkipSectors == 150 && len(img) < 200*2048 {
				continue
			}
			off, data, err := isomd5.Implant(bytes.NewReader(img), int64(len(img)), p)
			if err != nil {
				t.Fatalf("payload %d %+v: %v", payload, p, err)
			}
			out := slicesClone(img)
			copy(out[off:], data)
			iso := filepath.Join(t.TempDir(), "out.iso")
			os.WriteFile(iso, out, 0o644)
			msg, toolErr := runTool(t, "checkisomd5", "--verbose", iso)
			if toolErr != nil && payload >= 700<<10 {
				t.Errorf("payload %d %+v: checkisomd5: %v\n%s", payload, p, toolErr, msg)
			}
			if err := isomd5.Check(bytes.NewReader(out), int64(len(out))); (err == nil) != (toolErr == nil) {
				t.Errorf("payload %d %+v: Check: %v, checkisomd5: %v", payload, p, err, toolErr)
			}
			if toolErr != nil {
				continue
			}
			info, err := isomd5.Read(bytes.NewReader(out), int64(len(out)))
			if err != nil || info == nil || info.Params != p {
				t.Errorf("payload %d: Read = %+v, %v; want params %+v", payload, info, err, p)
			}
			for _, at := range []int{0, 32768 + 80, len(out) / 3, len(out) - int(p.SkipSectors+1)*2048} {
				flipped := slicesClone(out)
				flipped[at] ^= 1
				os.WriteFile(iso, flipped, 0o644)
				if msg, err := runTool(t, "checkisomd5", iso); err == nil {
					t.Errorf("payload %d: checkisomd5 passes with byte %d changed:\n%s", payload, at, msg)
				}
				var me *isomd5.MismatchError
				if err := isomd5.Check(bytes.NewReader(flipped), int64(len(flipped))); !errors.As(err, &me) {
					t.Errorf("payload %d: Check with byte %d changed: %v, want a MismatchError", payload, at, err)
				}
			}
			// The skipped sectors and the area itself are not covered.
			skipped := slicesClone(out)
			skipped[len(skipped)-1] ^= 1
			if err := isomd5.Check(bytes.NewReader(skipped), int64(len(skipped))); err != nil && p.SkipSectors > 0 {
				t.Errorf("payload %d: Check with the last byte changed: %v", payload, err)
			}
		}
	}
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

func TestParse(t *testing.T) {
	pad := func(s string) []byte {
		b := bytes.Repeat([]byte{' '}, isomd5.AppSize)
		copy(b, s)
		return b
	}
	const sum = "0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name, text string
		want       *isomd5.Info
		bad        bool
	}{
		{name: "blank", text: ""},
		{name: "zeros", text: strings.Repeat("\x00", 512)},
		{name: "other application", text: "ISOBUILD"},
		{name: "full", text: "ISO MD5SUM = " + sum + ";SKIPSECTORS = 15;RHLISOSTATUS=1;FRAGMENT SUMS = abc123;FRAGMENT COUNT = 2;THIS IS NOT THE SAME AS RUNNING MD5SUM ON THIS ISO!!",
			want: &isomd5.Info{MD5: sum, FragmentSums: "abc123", Params: isomd5.Params{SkipSectors: 15, FragmentCount: 2, Supported: true}}},
		{name: "old, without fragments", text: "ISO MD5SUM = " + sum + ";SKIPSECTORS = 150;",
			want: &isomd5.Info{MD5: sum, Params: isomd5.Params{SkipSectors: 150, FragmentCount: 20}}},
		{name: "fields in another order", text: "xyzSKIPSECTORS = 3;ISO MD5SUM = " + sum + ";",
			want: &isomd5.Info{MD5: sum, Params: isomd5.Params{SkipSectors: 3, FragmentCount: 20}}},
		{name: "no skip", text: "ISO MD5SUM = " + sum + ";", bad: true},
		{name: "short md5", text: "ISO MD5SUM = 0123;SKIPSECTORS = 15;", bad: true},
		{name: "bad skip", text: "ISO MD5SUM = " + sum + ";SKIPSECTORS = x;", bad: true},
		{name: "bad count", text: "ISO MD5SUM = " + sum + ";SKIPSECTORS = 1;FRAGMENT COUNT = 0;", bad: true},
		{name: "cut off", text: strings.Repeat(" ", 480) + "ISO MD5SUM = " + sum, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := isomd5.Parse(pad(tc.text))
			var fe *isomd5.FormatError
			switch {
			case tc.bad:
				if !errors.As(err, &fe) {
					t.Errorf("got %+v, %v; want a FormatError", got, err)
				}
			case err != nil:
				t.Errorf("error %v", err)
			case (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want:
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if _, err := isomd5.Parse(make([]byte, 10)); err == nil {
		t.Error("a short area parses")
	}
}

func TestComputeErrors(t *testing.T) {
	img := make([]byte, 40*2048)
	copy(img[16*2048:], "\x01CD001")
	img[16*2048+87] = 40
	copy(img[17*2048:], "\xffCD001")
	if _, err := isomd5.Compute(bytes.NewReader(img), int64(len(img)), isomd5.DefaultParams()); err != nil {
		t.Errorf("small image: %v", err)
	}
	for name, p := range map[string]isomd5.Params{
		"no fragments":       {SkipSectors: 15},
		"too many skipped":   {SkipSectors: 40, FragmentCount: 20},
		"negative skip":      {SkipSectors: -1, FragmentCount: 20},
		"too many fragments": {SkipSectors: 15, FragmentCount: 61},
	} {
		if _, err := isomd5.Compute(bytes.NewReader(img), int64(len(img)), p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := isomd5.Compute(bytes.NewReader(img[:30*2048]), 30*2048, isomd5.DefaultParams()); err == nil {
		t.Error("truncated image: no error")
	}
	if _, err := isomd5.Read(bytes.NewReader(img[:16*2048]), 16*2048); err == nil {
		t.Error("no descriptors: no error")
	}
	if err := isomd5.Check(bytes.NewReader(img), int64(len(img))); !errors.Is(err, isomd5.ErrNotImplanted) {
		t.Errorf("Check without a checksum: %v", err)
	}
}

// Parse never panics, and what it accepts survives AppData and Parse
// again.
func FuzzParse(f *testing.F) {
	f.Add([]byte("ISO MD5SUM = 0123456789abcdef0123456789abcdef;SKIPSECTORS = 15;RHLISOSTATUS=0;FRAGMENT SUMS = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab;FRAGMENT COUNT = 20;THIS IS NOT THE SAME AS RUNNING MD5SUM ON THIS ISO!!"))
	f.Add([]byte("SKIPSECTORS = 15;ISO MD5SUM = 0123456789abcdef0123456789abcdef;"))
	f.Add([]byte("ISO MD5SUM = ;FRAGMENT COUNT = 3;"))
	f.Fuzz(func(t *testing.T, text []byte) {
		app := bytes.Repeat([]byte{' '}, isomd5.AppSize)
		copy(app, text)
		info, err := isomd5.Parse(app)
		if err != nil || info == nil {
			return
		}
		again, err := isomd5.Parse(info.AppData())
		if err != nil || again == nil || *again != *info {
			t.Fatalf("%+v does not survive AppData: %+v, %v", info, again, err)
		}
	})
}
