package remaster_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/isomd5"
	"github.com/isobuild/isobuild/pkg/remaster"
)

// makeImplantedISO builds a Flatcar-like image of a few MiB (checkisomd5
// fails volumes under about 700 KiB whatever made them) and implants a
// media checksum in it with implantisomd5.
func makeImplantedISO(t *testing.T, l layout, implantArgs ...string) string {
	t.Helper()
	implant := fixture.NeedTool(t, "implantisomd5")
	pad := filepath.Join(t.TempDir(), "pad.bin")
	data := make([]byte, 3<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	if err := os.WriteFile(pad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	l.args = append(append([]string(nil), l.args...), "-graft-points", "/pad.bin="+pad)
	base := makeFlatcarISO(t, l, 0)
	run(t, implant, append(implantArgs, base)...)
	run(t, fixture.NeedTool(t, "checkisomd5"), base)
	return base
}

// An image with an implanted media checksum is remastered with a new
// checksum that checkisomd5 accepts, and reset byte for byte.
func TestRemasterImplantedChecksum(t *testing.T) {
	need(t, "xorriso", "isoinfo", "mkfs.vfat")
	checkisomd5 := fixture.NeedTool(t, "checkisomd5")
	for _, tc := range []struct {
		l    layout
		args []string
	}{
		{layouts[0], nil},
		{layouts[1], []string{"--supported-iso"}},
		// Ubuntu-style: the volume is partition 1 at a partition
		// offset, an ESP is appended after it.
		{layout{name: "partition-offset", args: []string{"-partition_offset", "16", "-appended_part_as_gpt"}, esp: true}, nil},
	} {
		t.Run(tc.l.name, func(t *testing.T) {
			t.Parallel()
			base := makeImplantedISO(t, tc.l, tc.args...)
			baseSum := sum(t, base)
			baseData := mustRead(t, base)
			baseInfo, err := isomd5.Read(bytes.NewReader(baseData), int64(len(baseData)))
			if err != nil || baseInfo == nil {
				t.Fatalf("base: %+v, %v", baseInfo, err)
			}
			_, im := openImage(t, base)
			ov, err := im.Overlay(flatcarChange())
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out.iso")
			write(t, ov, out)
			checkXorriso(t, out)
			if got := run(t, "isoinfo", "-i", out, "-R", "-x", "/flatcar/isobuild.img"); got != string(flatcarChange().Initrd) {
				t.Errorf("the extra initramfs is %d bytes", len(got))
			}
			run(t, checkisomd5, "--verbose", out)
			outData := mustRead(t, out)
			info, err := isomd5.Read(bytes.NewReader(outData), int64(len(outData)))
			if err != nil || info == nil {
				t.Fatalf("output: %+v, %v", info, err)
			}
			if info.MD5 == baseInfo.MD5 || info.Params != baseInfo.Params || info.VolumeSize != int64(len(outData)) {
				t.Errorf("output checksum %+v, base %+v", info, baseInfo)
			}

			// The sum covers the appended files.
			flipped := append([]byte(nil), outData...)
			flipped[len(baseData)+4096] ^= 1
			bad := filepath.Join(t.TempDir(), "bad.iso")
			os.WriteFile(bad, flipped, 0o644)
			if _, err := runErr(checkisomd5, bad); err == nil {
				t.Error("checkisomd5 passes an output with a changed appended byte")
			}

			// Reset gives the base back, checksum included, also after
			// the checksum was wiped (the guard ignores it).
			for _, wipe := range []bool{false, true} {
				data := append([]byte(nil), outData...)
				if wipe {
					copy(data[info.Offset:], bytes.Repeat([]byte{' '}, isomd5.AppSize))
				}
				p := filepath.Join(t.TempDir(), "in.iso")
				os.WriteFile(p, data, 0o644)
				_, again := openImage(t, p)
				if again.Record() == nil {
					t.Fatal("no reset record in the output")
				}
				reset, err := again.Reset()
				if err != nil {
					t.Fatalf("wiped %v: %v", wipe, err)
				}
				resetPath := filepath.Join(t.TempDir(), "reset.iso")
				write(t, reset, resetPath)
				if sum(t, resetPath) != baseSum {
					t.Errorf("wiped %v: iso reset is not byte-identical to the base", wipe)
				}
			}
			// Any other change to the descriptors still stops it.
			changed := append([]byte(nil), outData...)
			changed[16*2048+40]++ // the volume label
			p := filepath.Join(t.TempDir(), "changed.iso")
			os.WriteFile(p, changed, 0o644)
			_, again := openImage(t, p)
			if _, err := again.Reset(); !errors.Is(err, remaster.ErrModified) {
				t.Errorf("reset after a label change: %v, want ErrModified", err)
			}
		})
	}
}

// A damaged implanted checksum is refused: it cannot be recomputed.
func TestRemasterDamagedChecksum(t *testing.T) {
	need(t, "xorriso")
	base := makeFlatcarISO(t, layouts[0], 0)
	data := mustRead(t, base)
	copy(data[16*2048+883:], "ISO MD5SUM = 0123;SKIPSECTORS = 15;")
	p := filepath.Join(t.TempDir(), "damaged.iso")
	os.WriteFile(p, data, 0o644)
	_, im := openImage(t, p)
	var ce *remaster.ChecksumError
	if _, err := im.Overlay(flatcarChange()); !errors.As(err, &ce) || ce.Offset != 16*2048+883 {
		t.Errorf("got %v, want a ChecksumError at %d", err, 16*2048+883)
	}
}

func runErr(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
