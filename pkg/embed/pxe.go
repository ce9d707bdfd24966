package embed

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/isobuild/isobuild/pkg/initrd"
)

// Members of a CoreOS live PXE initramfs that customization looks at.
const (
	// LiveStampMember marks an initramfs as a CoreOS live initramfs.
	LiveStampMember = "etc/coreos-live-initramfs"
	// InitrdFeaturesMember is features.json inside the live initramfs.
	InitrdFeaturesMember = "etc/coreos/features.json"
)

// Errors of PXE customization, with coreos-installer's texts.
var (
	ErrNotLiveInitramfs    = errors.New("not a CoreOS live initramfs image")
	ErrInitramfsCustomized = errors.New("input is already customized")
	ErrNoConfigInArchive   = errors.New("couldn't find Ignition config in archive")
)

// PXEKargsNotice is printed when a customized PXE initramfs carries a live
// config: the PXE setup must pass these kernel arguments for it to apply.
const PXEKargsNotice = "PXE configuration must include kernel arguments:\n\tignition.firstboot ignition.platform.id=metal\n"

// CustomizePXE reads a CoreOS live PXE initramfs from r and returns the
// archive to append to it so that it carries the customizations o. The
// input must be pristine; its own features.json decides what is supported.
// With no options the archive holds only an empty cpio.
func CustomizePXE(r io.Reader, o InstallOptions) ([]byte, error) {
	files, err := initrd.Decode(r, func(name string) bool {
		return name == LiveStampMember || name == InitrdFeaturesMember || name == ConfigMember || initrd.Match(NetworkGlob, name)
	})
	if err != nil {
		return nil, fmt.Errorf("reading initramfs: %w", err)
	}
	if _, ok := files[LiveStampMember]; !ok {
		return nil, ErrNotLiveInitramfs
	}
	if _, ok := files[ConfigMember]; ok || len(networkFiles(files)) > 0 {
		return nil, ErrInitramfsCustomized
	}
	var f Features
	if raw, ok := files[InitrdFeaturesMember]; ok {
		if err := json.Unmarshal(raw, &f); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", InitrdFeaturesMember, err)
		}
	}
	members, err := o.Members(f)
	if err != nil {
		return nil, err
	}
	if _, ok := members[ConfigMember]; ok {
		o.warnf("%s", PXEKargsNotice)
	}
	return initrd.EncodeXZ(members)
}

// WrapIgnition returns an initramfs archive holding only config as the
// live Ignition config ("pxe ignition wrap").
func WrapIgnition(config []byte) ([]byte, error) {
	return initrd.EncodeXZ(initrd.Files{ConfigMember: config})
}

// UnwrapIgnition returns the live Ignition config of an initramfs.
func UnwrapIgnition(r io.Reader) ([]byte, error) {
	files, err := initrd.Decode(r, func(name string) bool { return name == ConfigMember })
	if err != nil {
		return nil, fmt.Errorf("reading initramfs: %w", err)
	}
	c, ok := files[ConfigMember]
	if !ok {
		return nil, ErrNoConfigInArchive
	}
	return c, nil
}

// WrapNetwork returns an initramfs archive holding only the keyfiles at
// paths ("pxe network wrap").
func WrapNetwork(paths []string) ([]byte, error) {
	keyfiles, err := ReadKeyfiles(paths)
	if err != nil {
		return nil, err
	}
	files := initrd.Files{}
	for _, k := range keyfiles {
		files[NetworkDir+k.Name] = k.Data
	}
	return initrd.EncodeXZ(files)
}

// UnwrapNetwork returns the network keyfiles of an initramfs.
func UnwrapNetwork(r io.Reader) (initrd.Files, error) {
	files, err := initrd.Decode(r, func(name string) bool { return initrd.Match(NetworkGlob, name) })
	if err != nil {
		return nil, fmt.Errorf("reading initramfs: %w", err)
	}
	return files, nil
}
