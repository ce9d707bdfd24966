//go:build fault

package fault

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// Hand-written zstd frames (RFC 8878) made of raw and RLE blocks.

const (
	zstdMagic    = 0xFD2FB528
	zstdBlockMax = 128 << 10 // Block_Maximum_Size
	blockRaw     = 0
	blockRLE     = 1
)

// newcHeader returns a newc cpio header for a regular file (or the trailer)
// with its name, NUL-terminated and padded to 4 bytes.
func newcHeader(name string, size uint32, ino uint32) []byte {
	mode := uint32(0o100600)
	if name == "TRAILER!!!" {
		mode = 0
	}
	h := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(name)+1, 0)
	b := append([]byte(h), name...)
	b = append(b, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// bombMember is a cpio member of blocks × 128 KiB zero bytes.
type bombMember struct {
	name   string
	blocks int
}

func zstdBlockHeader(last bool, typ int, size int) []byte {
	v := uint32(size)<<3 | uint32(typ)<<1
	if last {
		v |= 1
	}
	return []byte{byte(v), byte(v >> 8), byte(v >> 16)}
}

// zstdBomb returns one zstd frame: for each member a raw block with its
// cpio header, then RLE blocks of 128 KiB zeros each; a raw block with the
// cpio trailer ends the frame. No frame content size, no checksum; the
// window is 128 KiB.
func zstdBomb(members []bombMember) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, zstdMagic)
	b = append(b, 0x00)       // Frame_Header_Descriptor: no FCS, no single segment, no checksum, no dictionary
	b = append(b, (17-10)<<3) // Window_Descriptor: 2^17 bytes
	for i, m := range members {
		h := newcHeader(m.name, uint32(m.blocks*zstdBlockMax), uint32(i))
		b = append(b, zstdBlockHeader(false, blockRaw, len(h))...)
		b = append(b, h...)
		for range m.blocks {
			b = append(b, zstdBlockHeader(false, blockRLE, zstdBlockMax)...)
			b = append(b, 0)
		}
	}
	tr := newcHeader("TRAILER!!!", 0, uint32(len(members)))
	b = append(b, zstdBlockHeader(true, blockRaw, len(tr))...)
	return append(b, tr...)
}

// ---------------------------------------------------------------------------
// The xz bomb: xz -9 --check=crc32 of a cpio whose config.ign is 1 GiB of
// zeros, streamed through xz. Made in the background from TestMain.

const xzBombSize = 1 << 30

var (
	xzBombDone = make(chan struct{})
	xzBombPath string
	xzBombErr  error
)

func startXZBomb() {
	go func() {
		defer close(xzBombDone)
		if _, err := exec.LookPath("xz"); err != nil {
			xzBombErr = err
			return
		}
		p := filepath.Join(workDir, "bomb.cpio.xz")
		out, err := os.Create(p)
		if err != nil {
			xzBombErr = err
			return
		}
		defer out.Close()
		cmd := exec.Command("xz", "--check=crc32", "-9", "-T1", "-c")
		cmd.Stdout = out
		in, err := cmd.StdinPipe()
		if err != nil {
			xzBombErr = err
			return
		}
		if err := cmd.Start(); err != nil {
			xzBombErr = err
			return
		}
		w := bufio.NewWriterSize(in, 1<<20)
		w.Write(newcHeader("config.ign", xzBombSize, 0))
		zeros := make([]byte, 1<<20)
		for range xzBombSize / len(zeros) {
			w.Write(zeros)
		}
		w.Write(newcHeader("TRAILER!!!", 0, 1))
		w.Flush()
		in.Close()
		if err := cmd.Wait(); err != nil {
			xzBombErr = fmt.Errorf("xz: %w", err)
			return
		}
		xzBombPath = p
	}()
}

var limitRE = regexp.MustCompile(`(?i)limit|too large|too big|exceed|larger than|more than`)

// bombRSSLimit is the peak RSS a bomb may cost (KiB).
const bombRSSLimit = 256 << 10

// TestBombs writes decompression bombs over the initrd embed area of a
// fixture copy and feeds the same streams to `pxe network unwrap`.
func TestBombs(t *testing.T) {
	const name = "embed-areas-2023-07.x86_64.iso"
	l := layoutOf(t, name)
	if l.initrd.Offset != 139264 || l.initrd.Length != 262144 {
		t.Logf("%s: initrd embed area at %d, %d bytes", name, l.initrd.Offset, l.initrd.Length)
	}
	type bomb struct {
		fam, desc string
		stream    func() ([]byte, error)
	}
	bombs := []bomb{
		{"zstd bomb 7 GiB", "one zstd frame (raw cpio headers + 128 KiB RLE blocks, ~230 KB) expanding to 7 GiB", func() ([]byte, error) {
			// newc sizes are 32-bit: two config.ign members, 4 GiB-128 KiB and 3 GiB+128 KiB.
			return zstdBomb([]bombMember{{"config.ign", 32767}, {"config.ign", 24577}}), nil
		}},
		{"zstd bomb 1 GiB", "one zstd frame expanding to a 1 GiB config.ign", func() ([]byte, error) {
			return zstdBomb([]bombMember{{"config.ign", 8192}}), nil
		}},
		{"xz bomb 1 GiB", "xz -9 --check=crc32 stream of a cpio with a 1 GiB all-zero config.ign", func() ([]byte, error) {
			select {
			case <-xzBombDone:
			case <-time.After(5 * time.Minute):
				return nil, fmt.Errorf("xz bomb not ready after 5 minutes")
			}
			if xzBombErr != nil {
				return nil, xzBombErr
			}
			return os.ReadFile(xzBombPath)
		}},
	}
	for _, b := range bombs {
		f := fam(b.fam, b.desc+"; `iso ignition show`, `inspect`, `pxe network unwrap`: exit 1 in 15 s naming a limit, peak RSS < 256 MiB")
		stream, err := b.stream()
		if err != nil {
			f.record(t, "making the bomb", []string{err.Error()})
			continue
		}
		if int64(len(stream)) > l.initrd.Length {
			f.record(t, "making the bomb", []string{fmt.Sprintf("%d-byte stream does not fit the %d-byte area", len(stream), l.initrd.Length)})
			continue
		}
		f.note(fmt.Sprintf("%d-byte stream", len(stream)))
		dir := scratch(t, "bomb-")
		img := filepath.Join(dir, "bomb.iso")
		data := append([]byte(nil), l.data...)
		copy(data[l.initrd.Offset:], stream)
		writeFile(t, img, data)
		raw := filepath.Join(dir, "bomb.initramfs")
		writeFile(t, raw, stream)
		for _, args := range [][]string{
			{"iso", "ignition", "show", img},
			{"inspect", img},
			{"pxe", "network", "unwrap", raw},
		} {
			r := isob(opts{timeout: 15 * time.Second, rssLimit: 1 << 20}, args...)
			p := checkMessage(r)
			switch {
			case r.timedOut:
				p = append(p, "did not finish within 15 s")
			case r.rssKill:
				p = append(p, "killed: RSS passed 1 GiB")
			case r.exit != 1:
				p = append(p, "want exit 1: "+r.describe())
			case !limitRE.Match(r.stderr):
				p = append(p, "the error does not mention a limit: "+r.describe())
			}
			if r.maxRSS >= bombRSSLimit {
				p = append(p, fmt.Sprintf("peak RSS %d KiB (limit %d KiB)", r.maxRSS, bombRSSLimit))
			}
			p = append(p, checkSame(img, data, "bomb image")...)
			f.record(t, fmt.Sprintf("%s (%v, %d KiB RSS)", args[:len(args)-1], r.dur.Round(time.Millisecond), r.maxRSS), p)
		}
		os.RemoveAll(dir)
	}
	_ = io.Discard
}
