// Package pxe customizes CoreOS live PXE initramfs images, as
// coreos-installer's "pxe customize", "pxe ignition" and "pxe network"
// commands do.
//
// In isobuild's pipeline, Butane → Ignition → initramfs → overlay → output,
// this package is the PXE counterpart of package embed: the initramfs files
// of a customization (package installer) become one more archive (package
// initrd), which the caller appends to the initramfs as an overlay.Image.
//
// A live initramfs (the *-live-initramfs.*.img of a release, or the
// images/pxeboot/initrd.img of a live ISO) is a concatenation of cpio
// archives, and the kernel lets a later archive add files. Customizing it
// therefore never changes its bytes: [Customize] checks that the input is a
// pristine live initramfs, turns the options into initramfs files with
// package installer, and returns one more xz-compressed archive to append.
// The caller builds the result as an overlay.Image (the input with the
// archive appended) and hands it to an output.
//
// [WrapIgnition] and [WrapNetwork] make a stand-alone archive holding only a
// live Ignition config or only keyfiles, which a PXE setup loads as an extra
// initrd; [UnwrapIgnition] and [UnwrapNetwork] read them back from any
// initramfs. Nothing here reads files or prints.
package pxe

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/isobuild/isobuild/pkg/initrd"
	"github.com/isobuild/isobuild/pkg/installer"
)

// Members of a CoreOS live initramfs that customization looks at.
const (
	// LiveStampMember marks an initramfs as a CoreOS live initramfs.
	LiveStampMember = "etc/coreos-live-initramfs"
	// FeaturesMember is the OS's features.json inside the live initramfs.
	FeaturesMember = "etc/coreos/features.json"
)

// KernelArgs are the kernel arguments a PXE setup must pass for a live
// Ignition config in the initramfs to apply.
const KernelArgs = "ignition.firstboot ignition.platform.id=metal"

// Errors of PXE customization.
var (
	ErrNotLive    = errors.New("input is not a CoreOS live initramfs")
	ErrCustomized = errors.New("initramfs is already customized")
	ErrNoConfig   = errors.New("initramfs has no live Ignition config")
)

// DecodeError reports an input that is not an initramfs that package
// initrd can read: concatenated cpio archives, each uncompressed or
// compressed with gzip, xz or zstd.
type DecodeError struct {
	Err error
}

func (e *DecodeError) Error() string { return "reading initramfs: " + e.Err.Error() }

func (e *DecodeError) Unwrap() error { return e.Err }

// Result is a customization of a live initramfs.
type Result struct {
	// Archive is the xz-compressed cpio archive to append to the input.
	Archive []byte
	// Warnings are what the user should be told, in the order found.
	Warnings []installer.Warning
	// KernelArgs, when not empty, are the kernel arguments the PXE setup
	// must pass for the customization to apply, because the archive
	// carries a live Ignition config.
	KernelArgs string
}

// Customize reads a CoreOS live PXE initramfs from r and returns the
// archive to append to it so that it carries the customizations o. The
// input must be pristine (no live config, no keyfiles); its own
// features.json decides which options are supported. With no options the
// archive holds only an empty cpio. Reading stops with ctx's error when ctx
// is cancelled. It is [Read] followed by [Initramfs.Customize].
func Customize(ctx context.Context, r io.Reader, o installer.Options) (*Result, error) {
	in, err := Read(ctx, r)
	if err != nil {
		return nil, err
	}
	return in.Customize(o)
}

// Initramfs is a pristine CoreOS live initramfs that [Read] checked, for
// any number of customizations ("isobuild serve" makes one for each host
// from a single read of the image's initramfs).
type Initramfs struct {
	features installer.Features
}

// Read reads a CoreOS live PXE initramfs from r and checks that it is one
// and pristine (no live config, no keyfiles), keeping what Customize
// needs: its features.json. Reading stops with ctx's error when ctx is
// cancelled.
func Read(ctx context.Context, r io.Reader) (*Initramfs, error) {
	files, err := initrd.Decode(ctxReader{ctx, r}, func(name string) bool {
		return name == LiveStampMember || name == FeaturesMember || name == installer.ConfigMember || installer.IsNetworkMember(name)
	})
	if err != nil {
		return nil, &DecodeError{Err: err}
	}
	if _, ok := files[LiveStampMember]; !ok {
		return nil, ErrNotLive
	}
	for name := range files {
		if name == installer.ConfigMember || installer.IsNetworkMember(name) {
			return nil, ErrCustomized
		}
	}
	var in Initramfs
	if raw, ok := files[FeaturesMember]; ok {
		if in.features, err = installer.ParseFeatures(raw); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", FeaturesMember, err)
		}
	}
	return &in, nil
}

// Customize returns the archive to append to the initramfs so that it
// carries the customizations o; the initramfs's features decide which
// options are supported.
func (in *Initramfs) Customize(o installer.Options) (*Result, error) {
	built, err := installer.Build(o, in.features)
	if err != nil {
		return nil, err
	}
	archive, err := initrd.EncodeXZ(built.Files)
	if err != nil {
		return nil, err
	}
	res := &Result{Archive: archive, Warnings: built.Warnings}
	if _, ok := built.Files[installer.ConfigMember]; ok {
		res.KernelArgs = KernelArgs
	}
	return res, nil
}

// ctxReader stops reading once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// WrapIgnition returns an initramfs archive holding only config, byte for
// byte, as the live Ignition config ("pxe ignition wrap").
func WrapIgnition(config []byte) ([]byte, error) {
	return initrd.EncodeXZ(initrd.Files{installer.ConfigMember: config})
}

// UnwrapIgnition returns the live Ignition config of an initramfs.
func UnwrapIgnition(r io.Reader) ([]byte, error) {
	files, err := initrd.Decode(r, func(name string) bool { return name == installer.ConfigMember })
	if err != nil {
		return nil, &DecodeError{Err: err}
	}
	c, ok := files[installer.ConfigMember]
	if !ok {
		return nil, ErrNoConfig
	}
	return c, nil
}

// WrapNetwork returns an initramfs archive holding only the keyfiles
// ("pxe network wrap"), named as [installer.NetworkFiles] names them.
func WrapNetwork(keyfiles []installer.Input) ([]byte, error) {
	files, err := installer.NetworkFiles(keyfiles)
	if err != nil {
		return nil, err
	}
	return initrd.EncodeXZ(files)
}

// UnwrapNetwork returns the network keyfiles of an initramfs, keyed by
// member path.
func UnwrapNetwork(r io.Reader) (initrd.Files, error) {
	files, err := initrd.Decode(r, installer.IsNetworkMember)
	if err != nil {
		return nil, &DecodeError{Err: err}
	}
	return files, nil
}
