package blockdev

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// memTarget is a device in memory.
type memTarget struct {
	b       []byte
	synced  bool
	dropped bool
	writes  int
}

func (m *memTarget) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > int64(len(m.b)) {
		return 0, errors.New("no space left on device")
	}
	m.writes++
	return copy(m.b[off:], p), nil
}

func (m *memTarget) ReadAt(p []byte, off int64) (int, error) {
	return copy(p, m.b[off:]), nil
}
func (m *memTarget) Sync() error      { m.synced = true; return nil }
func (m *memTarget) DropCache() error { m.dropped = true; return nil }
func (m *memTarget) Name() string     { return "/dev/fake" }

// Corrupt flips one bit at byte offset At of what is written through it:
// a device that does not store what it was given.
type Corrupt struct {
	Target
	At int64
}

func (c Corrupt) WriteAt(p []byte, off int64) (int, error) {
	if c.At >= off && c.At < off+int64(len(p)) {
		// In place, keeping the buffer's alignment.
		p[c.At-off] ^= 0x40
		defer func() { p[c.At-off] ^= 0x40 }()
	}
	return c.Target.WriteAt(p, off)
}

// Alignment passes on that of the wrapped target.
func (c Corrupt) Alignment() int {
	if a, ok := c.Target.(Aligned); ok {
		return a.Alignment()
	}
	return 1
}

func randomImage(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(b)
	return b
}

func TestWrite(t *testing.T) {
	img := randomImage(10<<20 + 2048)
	dev := &memTarget{b: make([]byte, 16<<20)}
	var last int64
	var verified bool
	res, err := Write(context.Background(), dev, bytes.NewReader(img), int64(len(img)), WriteOptions{
		BlockSize: 1 << 20,
		Progress: func(done, total int64, v bool) {
			if done <= last && v == verified || total != int64(len(img)) {
				t.Errorf("progress %d/%d after %d", done, total, last)
			}
			last, verified = done, v
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dev.b[:len(img)], img) {
		t.Error("device bytes differ from the image")
	}
	if res.Written != int64(len(img)) || !res.Verified || res.SHA256 != sha256.Sum256(img) || !dev.synced || !dev.dropped || dev.writes != 11 {
		t.Errorf("result %+v, synced %v, dropped %v, writes %d", res, dev.synced, dev.dropped, dev.writes)
	}
	if !verified || last != int64(len(img)) {
		t.Errorf("progress ended at %d verifying=%v", last, verified)
	}
}

func TestWriteCatchesCorruption(t *testing.T) {
	img := randomImage(5 << 20)
	for _, at := range []int64{0, 3<<20 + 17, 5<<20 - 1} {
		dev := &memTarget{b: make([]byte, 8<<20)}
		_, err := Write(context.Background(), Corrupt{dev, at}, bytes.NewReader(img), int64(len(img)), WriteOptions{BlockSize: 1 << 20})
		var ve *VerifyError
		if !errors.As(err, &ve) {
			t.Fatalf("corruption at %d: err = %v, want a VerifyError", at, err)
		}
		if want := at &^ (1<<20 - 1); ve.Offset != want || ve.Device != "/dev/fake" {
			t.Errorf("corruption at %d reported at %d, want %d: %v", at, ve.Offset, want, err)
		}
		// Without the read-back the corruption goes unnoticed.
		dev = &memTarget{b: make([]byte, 8<<20)}
		res, err := Write(context.Background(), Corrupt{dev, at}, bytes.NewReader(img), int64(len(img)), WriteOptions{NoVerify: true})
		if err != nil || res.Verified || dev.dropped {
			t.Errorf("--no-verify: %v, %+v, dropped %v", err, res, dev.dropped)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	img := randomImage(3 << 20)
	// A short source.
	dev := &memTarget{b: make([]byte, 4<<20)}
	_, err := Write(context.Background(), dev, bytes.NewReader(img[:2<<20]), int64(len(img)), WriteOptions{BlockSize: 1 << 20})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short source: %v", err)
	}
	// A full device.
	dev = &memTarget{b: make([]byte, 2<<20+5)}
	_, err = Write(context.Background(), dev, bytes.NewReader(img), int64(len(img)), WriteOptions{BlockSize: 1 << 20})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("writing /dev/fake at byte offset 2097152")) {
		t.Errorf("full device: %v", err)
	}
	// Cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dev = &memTarget{b: make([]byte, 4<<20)}
	if _, err = Write(ctx, dev, bytes.NewReader(img), int64(len(img)), WriteOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// alignedTarget checks the alignment that O_DIRECT needs.
type alignedTarget struct {
	memTarget
	t *testing.T
}

func (a *alignedTarget) Alignment() int { return 4096 }

func (a *alignedTarget) check(p []byte, off int64) {
	if uintptr(unsafe.Pointer(&p[0]))%4096 != 0 || off%4096 != 0 || len(p)%4096 != 0 {
		a.t.Errorf("unaligned transfer: %d bytes at %d, address %% 4096 = %d", len(p), off, uintptr(unsafe.Pointer(&p[0]))%4096)
	}
}

func (a *alignedTarget) WriteAt(p []byte, off int64) (int, error) {
	a.check(p, off)
	return a.memTarget.WriteAt(p, off)
}

func (a *alignedTarget) ReadAt(p []byte, off int64) (int, error) {
	a.check(p, off)
	return a.memTarget.ReadAt(p, off)
}

func TestWriteAligned(t *testing.T) {
	img := randomImage(3<<20 + 2048) // an ISO's size: a multiple of 2048 only
	dev := &alignedTarget{memTarget: memTarget{b: bytes.Repeat([]byte{0xff}, 4<<20)}, t: t}
	res, err := Write(context.Background(), dev, bytes.NewReader(img), int64(len(img)), WriteOptions{BlockSize: 1<<20 + 100})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || !bytes.Equal(dev.b[:len(img)], img) {
		t.Errorf("image not written: %+v", res)
	}
	if pad := dev.b[len(img) : len(img)+2048]; !bytes.Equal(pad, make([]byte, 2048)) || dev.b[len(img)+2048] != 0xff {
		t.Error("the last block is not padded with zeros up to the alignment, and no further")
	}
}
