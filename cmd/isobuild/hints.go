package main

import (
	"errors"

	"github.com/isobuild/isobuild/pkg/butane"
	"github.com/isobuild/isobuild/pkg/embed"
	"github.com/isobuild/isobuild/pkg/iso"
)

// hint returns advice for errors a user can act on, or "".
func hint(err error) string {
	var tooLarge *embed.TooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return "the initrd embed area is fixed in size; move large files to remote sources (contents.source: https://...) or shrink the config"
	case errors.Is(err, embed.ErrUnrecognized):
		return "use a Fedora CoreOS, RHCOS or SCOS live ISO (one with images/ignition.img or coreos/igninfo.json)"
	case errors.Is(err, iso.ErrIncomplete):
		return "the file is shorter than its ISO9660 header says: was the download or copy cut short?"
	case errors.Is(err, embed.ErrHasConfig), errors.Is(err, embed.ErrHasNetwork), errors.Is(err, embed.ErrCustomized):
		return "pass -f to replace the existing customizations, or start from the pristine image (isobuild iso reset)"
	case errors.Is(err, butane.ErrStrict):
		return "fix the warnings above, or drop --strict"
	case errors.Is(err, embed.ErrNoKargAreas):
		return "this image predates kernel-argument embed areas; use a newer live ISO"
	}
	return ""
}
