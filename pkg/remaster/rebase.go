package remaster

import (
	"errors"
	"fmt"
	"io"

	"github.com/isobuild/isobuild/pkg/bootcfg"
)

// maxRebaseFile bounds the extra initramfs that Customization reads into
// memory. isobuild's own builds keep it far smaller.
const maxRebaseFile = 256 << 20

// Customization returns what made a customized image from its base, so
// that callers can change one part of it and build the image again from
// the base: the base image (read through the reset record, see Reset) and
// a Change that, given to the base's Overlay, makes an image with the same
// extra initramfs, the same files and the same kernel arguments as im.
//
// The change's Initrd holds the bytes im has at the path its record
// names, and its Files read the bytes im has at theirs (so im's reader
// must stay open until the new image is written); its Args give each boot entry of the base the arguments
// of the same entry (the same configuration file, the same position in
// it) in im. Its Description is the record's.
func (im *Image) Customization() (*Image, Change, error) {
	if im.record == nil {
		return nil, Change{}, ErrNotCustomized
	}
	reset, err := im.Reset()
	if err != nil {
		return nil, Change{}, err
	}
	base, err := Open(reset, reset.Size())
	if err != nil {
		return nil, Change{}, fmt.Errorf("the image it was made from: %w", err)
	}
	d := im.record.Description
	c := Change{Description: d}
	if d.Initrd != "" {
		if c.Initrd, err = im.readFile(d.Initrd); err != nil {
			return nil, Change{}, fmt.Errorf("reading the extra initramfs: %w", err)
		}
		c.InitrdPath = d.Initrd
	}
	for _, p := range d.Files {
		// Read from im when the image is written, as large as it is.
		e, err := im.Trees[0].Lookup(p)
		if err == nil && e.IsDir {
			err = fmt.Errorf("%s is a directory", p)
		}
		if err != nil {
			return nil, Change{}, fmt.Errorf("reading the added file: %w", err)
		}
		c.Files = append(c.Files, File{Path: p, Reader: io.NewSectionReader(im.r, e.Offset, e.Length), Size: e.Length})
	}

	// The entries of a configuration keep their order and number through
	// a remaster (bootcfg rewrites lines in place), so an entry is known
	// by its file and its position there.
	type key struct {
		path string
		n    int
	}
	current := map[key]string{}
	for _, cfg := range im.Configs {
		for n, e := range cfg.Entries {
			current[key{e.Path, n}] = e.Args
		}
	}
	position := map[[2]any]int{}
	for _, cfg := range base.Configs {
		for n, e := range cfg.Entries {
			position[[2]any{e.Path, e.Line}] = n
			if _, ok := current[key{e.Path, n}]; !ok {
				return nil, Change{}, fmt.Errorf("%s: boot entry %d (line %d) of the base image is not in the customized image", e.Path, n+1, e.Line)
			}
		}
	}
	c.Args = func(e bootcfg.Entry, _ string) (string, error) {
		n, ok := position[[2]any{e.Path, e.Line}]
		if !ok {
			return "", fmt.Errorf("%s:%d: not a boot entry of the base image", e.Path, e.Line)
		}
		return current[key{e.Path, n}], nil
	}
	return base, c, nil
}

// readFile reads the regular file at an ISO path from the first tree.
func (im *Image) readFile(p string) ([]byte, error) {
	e, err := im.Trees[0].Lookup(p)
	if err != nil {
		return nil, err
	}
	if e.IsDir {
		return nil, fmt.Errorf("%s is a directory", p)
	}
	if e.Length > maxRebaseFile {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d this reads", p, e.Length, maxRebaseFile)
	}
	data := make([]byte, e.Length)
	if n, err := im.r.ReadAt(data, e.Offset); n < len(data) {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%s: reading %d bytes at byte %d: %w", p, e.Length, e.Offset, err)
	}
	return data, nil
}
