package testiso

import (
	"fmt"
	"io"

	"github.com/isobuild/isobuild/pkg/initrd"
)

// Members of a CoreOS live initramfs that LiveInitramfs writes.
const (
	LiveStampMember = "etc/coreos-live-initramfs"
	FeaturesMember  = "etc/coreos/features.json"
)

// LiveInitramfs writes a stand-in for a CoreOS live PXE initramfs, shaped
// like the real ones: an uncompressed early cpio archive (a microcode file),
// then a zstd-compressed archive with the live stamp, an init and, unless
// features is empty, features.json holding features, then 512 zero bytes.
// extra members go into the compressed archive too. The output depends only
// on the arguments.
func LiveInitramfs(w io.Writer, features string, extra initrd.Files) error {
	if err := initrd.WriteNewc(w, initrd.Files{"kernel/x86/microcode/GenuineIntel.bin": []byte("microcode")}); err != nil {
		return err
	}
	main := initrd.Files{LiveStampMember: nil, "init": []byte("#!/bin/sh\n")}
	if features != "" {
		main[FeaturesMember] = []byte(features)
	}
	for k, v := range extra {
		main[k] = v
	}
	zw, err := initrd.NewCompressor(w, initrd.Zstd)
	if err != nil {
		return err
	}
	if err := initrd.WriteNewc(zw, main); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress live initramfs: %w", err)
	}
	_, err = w.Write(make([]byte, 512))
	return err
}
