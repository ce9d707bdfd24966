package output

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/isobuild/isobuild/pkg/overlay"
)

// TestBeginDevice checks that, under WithDevice, an output that is a
// device node goes to the DeviceFunc (checked at Begin, written at
// Finish) and that other outputs are new files as before.
func TestBeginDevice(t *testing.T) {
	base := bytes.Repeat([]byte("b"), 4096)
	var prepared string
	var written []byte
	f := func(ctx context.Context, path string, size int64) (func(context.Context, *overlay.Image) error, error) {
		prepared = path
		if size != int64(len(base)) {
			t.Errorf("DeviceFunc got size %d, want %d", size, len(base))
		}
		return func(ctx context.Context, img *overlay.Image) error {
			var b bytes.Buffer
			_, err := img.WriteTo(&b)
			written = b.Bytes()
			return err
		}, nil
	}
	ctx := WithDevice(context.Background(), f)
	p, err := Begin(ctx, "/dev/null", bytes.NewReader(base), int64(len(base)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	if prepared != "/dev/null" {
		t.Fatalf("DeviceFunc not called at Begin (got %q)", prepared)
	}
	img := overlay.New(bytes.NewReader(base), int64(len(base)))
	if err := img.Patch(10, []byte("XY")); err != nil {
		t.Fatal(err)
	}
	if err := p.Finish(ctx, img); err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(base)
	copy(want[10:], "XY")
	if !bytes.Equal(written, want) {
		t.Error("the device did not get the overlay's bytes")
	}

	// A refusal at Begin is Begin's error.
	refused := errors.New("refused")
	ctx = WithDevice(context.Background(), func(context.Context, string, int64) (func(context.Context, *overlay.Image) error, error) {
		return nil, refused
	})
	if _, err := Begin(ctx, "/dev/null", bytes.NewReader(base), int64(len(base))); !errors.Is(err, refused) {
		t.Errorf("refused device: %v", err)
	}
	// A path that is not a device is a new file, as without WithDevice.
	out := filepath.Join(t.TempDir(), "out.iso")
	p, err = Begin(ctx, out, bytes.NewReader(base), int64(len(base)))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Finish(ctx, overlay.New(bytes.NewReader(base), int64(len(base)))); err != nil {
		t.Fatal(err)
	}
	if err := CheckNew(out); err == nil {
		t.Error("no file written")
	}
}
