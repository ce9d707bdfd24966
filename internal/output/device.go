package output

import (
	"context"
	"os"

	"github.com/isobuild/isobuild/pkg/overlay"
)

// DeviceFunc prepares writing an image to the device at path (a block or
// character device node that exists): it checks the device for an image
// of baseSize bytes and asks for confirmation, before any planning, and
// returns the function that writes the finished image onto it.
type DeviceFunc func(ctx context.Context, path string, baseSize int64) (write func(context.Context, *overlay.Image) error, err error)

type deviceKey struct{}

// WithDevice returns a context under which Begin hands outputs that are
// devices to f instead of creating a new file (which a device, since it
// exists, would refuse).
func WithDevice(ctx context.Context, f DeviceFunc) context.Context {
	return context.WithValue(ctx, deviceKey{}, f)
}

// deviceFor returns ctx's DeviceFunc when path is a device node, else nil.
func deviceFor(ctx context.Context, path string) DeviceFunc {
	f, _ := ctx.Value(deviceKey{}).(DeviceFunc)
	if f == nil {
		return nil
	}
	if st, err := os.Stat(path); err != nil || st.Mode()&os.ModeDevice == 0 {
		return nil
	}
	return f
}

// beginDevice is Begin for a device: the checks happen now, the write in
// Finish, in one pass from the overlay.
func beginDevice(ctx context.Context, path string, size int64, f DeviceFunc) (*Pending, error) {
	write, err := f(ctx, path, size)
	if err != nil {
		return nil, err
	}
	copied := make(chan error, 1)
	copied <- nil
	return &Pending{path: path, base: size, cancel: func() {}, copied: copied, device: write}, nil
}
