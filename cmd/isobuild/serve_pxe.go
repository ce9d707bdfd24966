package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/isobuild/isobuild/pkg/bootcfg"
	"github.com/isobuild/isobuild/pkg/embed"
	"github.com/isobuild/isobuild/pkg/iso"
	"github.com/isobuild/isobuild/pkg/overlay"
	"github.com/isobuild/isobuild/pkg/pxe"
	"github.com/isobuild/isobuild/pkg/remaster"
	"github.com/isobuild/isobuild/pkg/serve"
)

// planPXE plans the PXE files of every host of fp, whose base has the
// identity id; customs are the hosts' image fingerprints, in fp.builds'
// order. A base that has no PXE files serve can use gives no map and a
// note saying why (its PXE routes answer 404); an error of one host fails
// the whole plan, as for the images. A CoreOS base whose initramfs is not
// a pristine live initramfs gives the kernel and the rootfs only, and a
// note.
//
//   - CoreOS live ISOs: images/pxeboot/vmlinuz (kernel.img on s390x) and
//     rootfs.img as they are in the base, and images/pxeboot/initrd.img
//     with the host's customization appended as "pxe customize" appends
//     it (the installer options of the host's image, its live config
//     included); the kernel arguments are those of the host's image
//     without the ISO-only coreos.liveiso=, with the ones the
//     customization needs.
//   - Flatcar live ISOs: the kernel and the initramfs files that the host
//     image's Flatcar boot entry loads (the base's, then the extra one with
//     the host's config), read from the host's image, with that entry's
//     kernel arguments (flatcar.first_boot=1 among them). No rootfs.
func planPXE(ctx context.Context, fp *fleetPlan, id string, customs []string) (map[string]*serve.PXE, string, error) {
	if fp.coreos != nil {
		return planCoreOSPXE(ctx, fp, id)
	}
	out := map[string]*serve.PXE{}
	for i, b := range fp.builds {
		p, note, err := flatcarPXE(b.ov, id, customs[i])
		if err != nil {
			return nil, "", hostError(b.host, err, "")
		}
		if p == nil {
			return nil, note, nil
		}
		out[b.host.Name] = p
	}
	return out, "", nil
}

func planCoreOSPXE(ctx context.Context, fp *fleetPlan, id string) (map[string]*serve.PXE, string, error) {
	img := fp.coreos.ISO
	find := func(names ...string) (iso.Record, error) {
		var err error
		for _, n := range names {
			var rec iso.Record
			if rec, err = img.Lookup(embed.PXEDir + "/" + n); err == nil && !rec.IsDir {
				return rec, nil
			}
		}
		return iso.Record{}, fmt.Errorf("the base image has no images/pxeboot/%s", strings.ToLower(names[0]))
	}
	kernel, err := find("VMLINUZ", "KERNEL.IMG")
	if err != nil {
		return nil, err.Error() + ": the PXE URLs answer 404", nil
	}
	initramfs, err := find("INITRD.IMG")
	if err != nil {
		return nil, err.Error() + ": the PXE URLs answer 404", nil
	}
	rootfs, err := find("ROOTFS.IMG")
	if err != nil {
		return nil, err.Error() + ": the PXE URLs answer 404", nil
	}
	kernelFile := serve.File{R: img.Section(kernel), Size: kernel.Length, ETag: serve.ETag(id, "pxe-kernel")}
	rootfsFile := serve.File{R: img.Section(rootfs), Size: rootfs.Length, ETag: serve.ETag(id, "pxe-rootfs")}
	out := map[string]*serve.PXE{}
	// The base's initramfs is read once; each host's customization is
	// appended to it. One that is not a pristine live initramfs leaves
	// the kernel and the rootfs, the base's own files.
	live, err := pxe.Read(ctx, img.Section(initramfs))
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		for _, b := range fp.builds {
			out[b.host.Name] = &serve.PXE{Kernel: kernelFile, Rootfs: rootfsFile}
		}
		return out, "images/pxeboot/initrd.img of the base image: " + err.Error() + ": the initramfs.img and boot.ipxe URLs answer 404", nil
	}
	for _, b := range fp.builds {
		res, err := live.Customize(b.install)
		if err != nil {
			return nil, "", hostError(b.host, fmt.Errorf("PXE initramfs: %w", err), "")
		}
		init, err := customizedInitramfs(img.Section(initramfs), initramfs.Length, res)
		if err != nil {
			return nil, "", hostError(b.host, err, "")
		}
		custom, err := serve.Fingerprint(init)
		if err != nil {
			return nil, "", hostError(b.host, err, "")
		}
		// The kernel arguments of the host's image, as built.
		hostImage, err := embed.Open(b.ov, b.ov.Size())
		if err != nil {
			return nil, "", hostError(b.host, err, "")
		}
		kargs, err := hostImage.CurrentKargs()
		if err != nil {
			return nil, "", hostError(b.host, err, "")
		}
		out[b.host.Name] = &serve.PXE{
			Kernel:    kernelFile,
			Initramfs: serve.File{R: init, Size: init.Size(), ETag: serve.ETag(id, "pxe-initramfs-"+custom)},
			Rootfs:    rootfsFile,
			Kargs:     pxeKargs(kargs, res.KernelArgs),
		}
	}
	return out, "", nil
}

// pxeKargs turns the live kernel arguments of a CoreOS ISO into those of
// a PXE boot: without the ISO-only coreos.liveiso=, with every argument of
// need that is missing appended.
func pxeKargs(kargs, need string) string {
	var out []string
	for _, k := range strings.Fields(kargs) {
		if k == "coreos.liveiso" || strings.HasPrefix(k, "coreos.liveiso=") {
			continue
		}
		out = append(out, k)
	}
	for _, k := range strings.Fields(need) {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return strings.Join(out, " ")
}

// flatcarPXE returns the PXE files of a Flatcar host image ov, or nil and
// a note when ov has no Flatcar boot entry.
func flatcarPXE(ov *overlay.Image, id, custom string) (*serve.PXE, string, error) {
	rm, err := remaster.Open(ov, ov.Size())
	if err != nil {
		return nil, "", err
	}
	const note = "the base image is neither a CoreOS nor a Flatcar live ISO: the PXE URLs answer 404"
	var entry *bootcfg.Entry
	for _, e := range rm.Entries() {
		if strings.EqualFold(bootPath(e.Kernel), "flatcar/vmlinuz") && len(e.Initrds) > 0 {
			entry = &e
			break
		}
	}
	if entry == nil {
		return nil, note, nil
	}
	tree := rm.Trees[0]
	open := func(p string) (*iso.Entry, error) {
		e, err := tree.Lookup(bootPath(p))
		if err == nil && e.IsDir {
			err = errors.New("a directory")
		}
		if err != nil {
			return nil, fmt.Errorf("%s of the boot entry: %w", p, err)
		}
		return &e, nil
	}
	k, err := open(entry.Kernel)
	if err != nil {
		return nil, "", err
	}
	// The initramfs files in the order the boot loader loads them, each
	// padded to 4 bytes as it pads them, so that every archive starts
	// aligned.
	var init *overlay.Image
	for _, p := range entry.Initrds {
		e, err := open(p)
		if err != nil {
			return nil, "", err
		}
		if init == nil {
			init = overlay.New(tree.Section(*e), e.Length)
			continue
		}
		if pad := -init.Size() & 3; pad > 0 {
			if _, err := init.Append(bytes.NewReader(make([]byte, pad)), pad); err != nil {
				return nil, "", err
			}
		}
		if _, err := init.Append(tree.Section(*e), e.Length); err != nil {
			return nil, "", err
		}
	}
	return &serve.PXE{
		Kernel: serve.File{R: tree.Section(*k), Size: k.Length, ETag: serve.ETag(id, "pxe-kernel-"+custom)},
		// The initramfs's bytes are those of the host's image: its
		// fingerprint and the base's identity stand for them.
		Initramfs: serve.File{R: init, Size: init.Size(), ETag: serve.ETag(id, "pxe-initramfs-"+custom)},
		Kargs:     entry.Args,
	}, "", nil
}

// bootPath is a boot loader's path of a file as a path in the ISO tree:
// without a device prefix such as (cd) and without the leading slash.
func bootPath(p string) string {
	if i := strings.LastIndexByte(p, ')'); i >= 0 && strings.HasPrefix(p, "(") {
		p = p[i+1:]
	}
	return strings.TrimPrefix(p, "/")
}
