// Package initrd reads and writes initramfs images: cpio archives in the
// "newc" format, optionally compressed, as the Linux kernel unpacks them at
// boot (Documentation/filesystems/ramfs-rootfs-initramfs.rst and
// Documentation/driver-api/early-userspace/buffer-format.rst).
//
// In isobuild's pipeline, Butane → Ignition → initramfs → overlay → output,
// this package turns the initramfs files that package installer makes into
// the compressed archive that package embed patches into a live ISO and
// package pxe appends to a PXE initramfs; it also reads those archives back.
//
// It provides
//
//   - Files, a set of regular files keyed by archive path, with WriteNewc
//     and EncodeXZ producing the byte-exact payload of a CoreOS live ISO
//     Ignition embed area, and Decode/DecodeArea reading such an area or a
//     whole PXE initramfs back;
//   - Writer and Reader, a low-level newc writer and reader shaped like
//     archive/tar, which Files is built on. They are public for callers
//     that need more than regular files of mode 0600 (directories,
//     symlinks, other modes and owners), such as a tool that builds a whole
//     initramfs;
//   - Compression and NewCompressor for deterministic gzip, xz and zstd
//     layers.
//
// A newc archive is a sequence of entries, each a 110-byte ASCII header
// (magic "070701", then 13 fields of 8 hex digits: ino, mode, uid, gid, nlink,
// mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check),
// the NUL-terminated name padded so that header plus name is a multiple of 4
// bytes, and the data padded to a multiple of 4. The entry named TRAILER!!!
// ends the archive.
//
// The kernel accepts a sequence of such archives, each uncompressed or
// compressed, with runs of zero bytes between and after them; later entries
// replace earlier ones of the same name. It does not create missing parent
// directories, so writers must emit directory entries before the files in
// them. The kernel's XZ decoder (XZ Embedded) only supports the CRC32 integrity
// check (or none), not xz's default CRC64, so every xz stream written here
// uses CRC32.
package initrd

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// Files is a set of regular files keyed by archive path (relative, with no
// leading "/").
type Files map[string][]byte

// Names returns the member paths sorted byte-wise.
func (f Files) Names() []string {
	return slices.Sorted(maps.Keys(f))
}

// Modes written by WriteNewc (spec §2.2).
const (
	dirMode  = ModeDir | 0o755
	fileMode = ModeRegular | 0o600
)

// WriteNewc writes files as one newc archive in the exact layout of the
// CoreOS embed area (coreos-live-iso-spec §2.2): paths sorted byte-wise; before
// each file, an entry (mode 040755) for every parent directory not yet emitted;
// files with mode 0100600; uid, gid and mtime 0, nlink 1; inode numbers
// counting all entries from 0; then the trailer. Paths must be relative and
// clean: no leading or trailing "/", no empty, "." or ".." components, no NUL,
// and no path may also be a parent directory of another.
func WriteNewc(w io.Writer, files Files) error {
	return WriteNewcModes(w, files, nil)
}

// WriteNewcModes is WriteNewc with the permission bits of each file taken
// from modes (0600 for a file it does not name); only the bits of 0o7777
// are used.
func WriteNewcModes(w io.Writer, files Files, modes map[string]uint32) error {
	names := files.Names()
	if err := checkPaths(names); err != nil {
		return err
	}
	cw := NewWriter(w)
	var ino uint32
	var cwd []string // directory components emitted so far, as a stack
	for _, name := range names {
		parent := strings.Split(name, "/")
		parent = parent[:len(parent)-1]
		common := 0
		for common < len(cwd) && common < len(parent) && cwd[common] == parent[common] {
			common++
		}
		cwd = cwd[:common]
		for _, c := range parent[common:] {
			cwd = append(cwd, c)
			h := &Header{Name: strings.Join(cwd, "/"), Mode: dirMode, Nlink: 1, Ino: ino}
			if err := cw.WriteHeader(h); err != nil {
				return err
			}
			ino++
		}
		data := files[name]
		mode := uint32(fileMode)
		if m, ok := modes[name]; ok {
			mode = ModeRegular | m&0o7777
		}
		if err := cw.WriteHeader(&Header{Name: name, Mode: mode, Nlink: 1, Ino: ino, Size: int64(len(data))}); err != nil {
			return err
		}
		if _, err := cw.Write(data); err != nil {
			return err
		}
		ino++
	}
	return cw.Close()
}

// checkPaths validates sorted member paths for WriteNewc.
func checkPaths(names []string) error {
	dirs := make(map[string]bool)
	for _, name := range names {
		if err := checkPath(name); err != nil {
			return err
		}
		for i := range len(name) {
			if name[i] == '/' {
				dirs[name[:i]] = true
			}
		}
	}
	for _, name := range names {
		if dirs[name] {
			return fmt.Errorf("invalid member path %q: it is also a parent directory of another member", name)
		}
	}
	return nil
}

func checkPath(name string) error {
	if name == "" {
		return fmt.Errorf("invalid member path %q: empty", name)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("invalid member path %q: contains a NUL byte", name)
	}
	if strings.HasPrefix(name, "/") {
		return fmt.Errorf("invalid member path %q: not relative", name)
	}
	for c := range strings.SplitSeq(name, "/") {
		if c == "" || c == "." || c == ".." {
			return fmt.Errorf("invalid member path %q: empty, \".\" or \"..\" component", name)
		}
	}
	return nil
}

// EncodeXZ returns WriteNewc(files) compressed as one xz stream with the
// CRC32 integrity check, the only check the kernel's XZ decoder accepts. The
// output is deterministic (same files, same bytes) and, like every xz stream,
// a multiple of 4 bytes long, so zero bytes may follow it as stream padding.
//
// The dictionary is the archive's size rounded up to a power of two (4 KiB
// at least, 8 MiB at most, NewCompressor's size): a larger one finds no more
// matches, and the writer allocates and clears about six times its size up
// front, which for the usual few-KiB config was most of a build's own CPU
// time (50 MB for the 8 MiB dictionary).
func EncodeXZ(files Files) ([]byte, error) {
	var archive bytes.Buffer
	if err := WriteNewc(&archive, files); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw, err := newXZ(&buf, xzDictFor(archive.Len()))
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(archive.Bytes()); err != nil {
		return nil, fmt.Errorf("compress initramfs: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress initramfs: %w", err)
	}
	return buf.Bytes(), nil
}

// EncodeGzip returns WriteNewcModes(files, modes) compressed as one
// deterministic gzip stream, zero-padded to a multiple of 4 bytes so that
// an archive concatenated after it stays aligned: the extra initramfs that
// package remaster adds to live ISOs without embed areas.
func EncodeGzip(files Files, modes map[string]uint32) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := NewCompressor(&buf, Gzip)
	if err != nil {
		return nil, err
	}
	if err := WriteNewcModes(zw, files, modes); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress initramfs: %w", err)
	}
	for buf.Len()%4 != 0 {
		buf.WriteByte(0)
	}
	return buf.Bytes(), nil
}
