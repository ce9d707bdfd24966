package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"strings"

	"github.com/isobuild/isobuild/pkg/initrd"
	"github.com/isobuild/isobuild/pkg/remaster"
)

// maxExtraFiles bounds what --initrd-file reads, together: the extra
// initramfs is built in memory. --iso-file sources are read while the
// image is written, as large as ISO 9660 allows one extent (4 GiB − 1).
const maxExtraFiles = 64 << 20

// extraFile is one --initrd-file or --iso-file SRC:DEST.
type extraFile struct {
	option, src, dest string
}

// parseExtraFile splits SRC:DEST at the last ":/", so that SRC may hold
// colons (C:\files\x on Windows); DEST is an absolute path.
func parseExtraFile(option, v string) (extraFile, error) {
	i := strings.LastIndex(v, ":/")
	if i <= 0 {
		return extraFile{}, usageError{fmt.Errorf("%s %q: want SRC:DEST, with DEST an absolute path such as /etc/motd", option, v)}
	}
	src, dest := v[:i], v[i+1:]
	clean := path.Clean(dest)
	if clean != dest || clean == "/" || strings.Contains(dest, "/../") {
		return extraFile{}, usageError{fmt.Errorf("%s %q: destination %q is not a clean absolute file path (try %q)", option, v, dest, clean)}
	}
	return extraFile{option: option, src: src, dest: dest}, nil
}

// extraFiles reads the --initrd-file and --iso-file options: the members of
// the extra initramfs (with the permission bits of their sources) and the
// files for the ISO tree, whose sources it opens (into s.open, which the
// caller closes once the image is written).
func extraFiles(s *streams, o buildOptions) (initrd.Files, map[string]uint32, []remaster.File, error) {
	var members initrd.Files
	modes := map[string]uint32{}
	var isoFiles []remaster.File
	seen := map[string]string{}
	var total int64
	for _, list := range []struct {
		option string
		values []string
	}{{"--initrd-file", o.initrdFiles}, {"--iso-file", o.isoFiles}} {
		for _, v := range list.values {
			ef, err := parseExtraFile(list.option, v)
			if err != nil {
				return nil, nil, nil, err
			}
			key := list.option + " " + ef.dest
			if prev, dup := seen[key]; dup {
				return nil, nil, nil, usageError{fmt.Errorf("%s: %s is given twice (%s and %s)", list.option, ef.dest, prev, ef.src)}
			}
			seen[key] = ef.src
			st, err := os.Stat(ef.src)
			if err == nil && !st.Mode().IsRegular() {
				err = errors.New("not a regular file")
			}
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s %s: %w", list.option, v, err)
			}
			if list.option == "--iso-file" {
				if st.Size() > math.MaxUint32 {
					return nil, nil, nil, fmt.Errorf("%s %s: %d bytes, more than the 4 GiB − 1 of one ISO 9660 extent (isobuild does not write multi-extent files): split it, or put it on the system some other way", list.option, v, st.Size())
				}
				f, err := os.Open(ef.src)
				if err != nil {
					return nil, nil, nil, fmt.Errorf("%s %s: %w", list.option, v, err)
				}
				s.open = append(s.open, f)
				isoFiles = append(isoFiles, remaster.File{Path: ef.dest, Reader: f, Size: st.Size()})
				continue
			}
			if total += st.Size(); total > maxExtraFiles {
				return nil, nil, nil, fmt.Errorf("%s %s: the --initrd-file files add up to more than %d MiB, which isobuild holds in memory to build the extra initramfs; put large files into the ISO tree with --iso-file, or on the system some other way (a download at boot, a second disk)", list.option, v, maxExtraFiles>>20)
			}
			data, err := os.ReadFile(ef.src)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s %s: %w", list.option, v, err)
			}
			if members == nil {
				members = initrd.Files{}
			}
			name := strings.TrimPrefix(ef.dest, "/")
			members[name] = data
			modes[name] = uint32(st.Mode().Perm())
		}
	}
	return members, modes, isoFiles, nil
}

// destinations lists the DEST paths of --iso-file options, for the reset
// record.
func destinations(files []remaster.File) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Path)
	}
	return out
}
