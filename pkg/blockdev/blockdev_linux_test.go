//go:build linux

package blockdev

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/internal/testiso"
)

func TestMain(m *testing.M) { fixture.Main(m) }

// loopDevice attaches a sparse file of size bytes to a free loop device,
// detached when the test ends. It skips the test unless run as root with
// losetup.
func loopDevice(t *testing.T, size int64, flags ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		fixture.Skipf(t, "loop devices need root")
	}
	losetup := fixture.NeedTool(t, "losetup")
	backing := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(backing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(backing, size); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(losetup, append(append([]string{"--find", "--show"}, flags...), backing)...).CombinedOutput()
	if err != nil {
		fixture.Skipf(t, "losetup --find: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command(losetup, "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", dev, err, out)
		}
	})
	return dev
}

// liveISO builds a small live ISO (8 MiB of rootfs) and returns its bytes.
func liveISO(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := testiso.Build(&b, testiso.Options{RootfsSize: 8 << 20}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestLoopWrite(t *testing.T) {
	dev := loopDevice(t, 32<<20)
	img := liveISO(t)
	d, err := Lookup(dev)
	if err != nil {
		t.Fatal(err)
	}
	if d.Path != dev || d.Size != 32<<20 || d.Transport != "loop" || d.Removable() || len(d.Mounts) != 0 {
		t.Fatalf("Lookup(%s) = %+v", dev, d)
	}
	if err := Check(d, int64(len(img)), CheckOptions{Yes: true}); !errors.Is(err, ErrNotRemovable) {
		t.Fatalf("non-removable loop device without Force: %v", err)
	}
	if err := Check(d, int64(len(img)), CheckOptions{}); !errors.Is(err, ErrNotRemovable) {
		t.Fatalf("without Force or Yes: %v", err)
	}
	if err := Check(d, int64(len(img)), CheckOptions{Force: true}); !errors.Is(err, ErrNoConfirmation) {
		t.Fatalf("without Yes or a terminal: %v", err)
	}
	if err := Check(d, int64(len(img)), CheckOptions{Yes: true, Force: true}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(d)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Write(context.Background(), f, bytes.NewReader(img), int64(len(img)), WriteOptions{})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || res.Written != int64(len(img)) {
		t.Errorf("result %+v", res)
	}
	got := readDevice(t, dev, len(img))
	if !bytes.Equal(got, img) {
		t.Error("the loop device does not hold the image's bytes")
	}
}

func readDevice(t *testing.T, dev string, n int) []byte {
	t.Helper()
	r, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make([]byte, n)
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestLoopReadBackCatchesCorruption(t *testing.T) {
	dev := loopDevice(t, 16<<20)
	img := liveISO(t)
	d, err := Lookup(dev)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	at := int64(len(img)) - 5000
	_, err = Write(context.Background(), Corrupt{f, at}, bytes.NewReader(img), int64(len(img)), WriteOptions{})
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Device != dev || ve.Offset > at || ve.Offset+ve.Length <= at {
		t.Fatalf("err = %v, want a VerifyError around byte %d of %s", err, at, dev)
	}
}

func TestLoopTooSmall(t *testing.T) {
	dev := loopDevice(t, 4<<20)
	d, err := Lookup(dev)
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(d, int64(len(liveISO(t))), CheckOptions{Yes: true, Force: true}); !errors.Is(err, ErrTooSmall) {
		t.Fatalf("4 MiB device for an image over 8 MiB: %v", err)
	}
}

// TestLoopMounted mounts a file system on a partition of a loop device and
// checks that the whole device is refused.
func TestLoopMounted(t *testing.T) {
	dev := loopDevice(t, 16<<20, "--partscan")
	sgdisk := fixture.NeedTool(t, "sgdisk")
	mkfs := fixture.NeedTool(t, "mkfs.ext2")
	if out, err := exec.Command(sgdisk, "-n", "1:2048:+8M", dev).CombinedOutput(); err != nil {
		t.Fatalf("sgdisk: %v: %s", err, out)
	}
	part := dev + "p1"
	if _, err := os.Stat(part); err != nil {
		exec.Command("partx", "-a", dev).Run()
		if _, err := os.Stat(part); err != nil {
			fixture.Skipf(t, "no partition device %s after sgdisk: %v", part, err)
		}
	}
	if out, err := exec.Command(mkfs, "-q", part).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext2: %v: %s", err, out)
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", part, mnt).CombinedOutput(); err != nil {
		fixture.Skipf(t, "mount %s: %v: %s", part, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	})
	d, err := Lookup(dev)
	if err != nil {
		t.Fatal(err)
	}
	err = Check(d, 1<<20, CheckOptions{Yes: true, Force: true})
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), part+" on "+mnt) {
		t.Fatalf("device with a mounted partition: %v", err)
	}
	// The exclusive open refuses it too, whatever Check said.
	if f, err := Open(d); !errors.Is(err, ErrInUse) {
		if err == nil {
			f.Close()
		}
		t.Fatalf("Open of a device with a mounted partition: %v", err)
	}
	// And the partition itself is refused as a partition.
	p, err := Lookup(part)
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(p, 1<<20, CheckOptions{Yes: true, Force: true}); !errors.Is(err, ErrPartition) || !strings.Contains(err.Error(), "whole disk, "+dev) {
		t.Errorf("partition: %v", err)
	}
}

func TestLookupNotABlockDevice(t *testing.T) {
	if _, err := Lookup("/dev/null"); !errors.Is(err, ErrNotBlockDevice) {
		t.Errorf("/dev/null: %v", err)
	}
	if _, err := Lookup(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

func TestCandidates(t *testing.T) {
	ds, err := Candidates()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Size == 0 || d.Partition {
			t.Errorf("candidate %+v", d)
		}
	}
}

// TestLoopDropCache checks that the read-back after DropCache reads the
// medium: bytes changed under the loop device (in its backing file) show
// through, where a read from the device's cache would still see the old
// ones.
func TestLoopDropCache(t *testing.T) {
	dev := loopDevice(t, 1<<20)
	d, err := Lookup(dev)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := alignedBuffer(4096, f.Alignment())
	copy(old, bytes.Repeat([]byte("A"), 4096))
	if _, err := f.WriteAt(old, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	backing, err := exec.Command("losetup", "--noheadings", "-O", "BACK-FILE", dev).Output()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.OpenFile(strings.TrimSpace(string(backing)), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.WriteAt(bytes.Repeat([]byte("B"), 4096), 0); err != nil {
		t.Fatal(err)
	}
	b.Close()
	got := alignedBuffer(4096, f.Alignment())
	if _, err := f.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if got[0] != 'A' {
		t.Logf("the device's cache already missed before DropCache (%q)", got[0])
	}
	if err := f.DropCache(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if got[0] != 'B' {
		t.Errorf("after DropCache the read-back still sees %q, not the medium's %q", got[0], 'B')
	}
}
