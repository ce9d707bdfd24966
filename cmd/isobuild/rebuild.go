package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/isobuild/isobuild/internal/output"
	"github.com/isobuild/isobuild/pkg/bootcfg"
	"github.com/isobuild/isobuild/pkg/embed"
	"github.com/isobuild/isobuild/pkg/flatcar"
	"github.com/isobuild/isobuild/pkg/overlay"
	"github.com/isobuild/isobuild/pkg/remaster"
)

// checkFirstBootEdit refuses kernel-argument edits of flatcar.first_boot
// on a Flatcar image that carries a config: isobuild sets it itself.
func checkFirstBootEdit(edit embed.KargsEdit) error {
	for _, k := range slices.Concat(edit.Append, edit.Delete, edit.Replace) {
		if k == "flatcar.first_boot" || strings.HasPrefix(k, "flatcar.first_boot=") {
			return usageError{fmt.Errorf("--karg-*: %s: isobuild sets flatcar.first_boot=1 itself, since Flatcar runs Ignition only with it", k)}
		}
	}
	return nil
}

// rebuildRemastered writes to out the image at path, which isobuild
// remastered, built again from its base with its customization as change
// leaves it. change gets the customization read back from the image (see
// remaster.Image.Customization). When the change keeps no extra initramfs,
// no files and no argument edits, the output is the base image itself.
func rebuildRemastered(ctx context.Context, s *streams, path, out string, change func(c *remaster.Change) error) error {
	f, rm, err := s.openRemaster(ctx, path)
	if err != nil {
		return err
	}
	defer f.Close()
	if out == output.Stdout {
		if err := output.CheckStream(s.stdout, f.File); err != nil {
			return err
		}
	}
	base, c, err := rm.Customization()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := change(&c); err != nil {
		return err
	}
	var ov *overlay.Image
	if c.Initrd == nil && len(c.Files) == 0 && c.Args == nil {
		ov, err = rm.Reset()
	} else {
		ov, err = base.Overlay(c)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if out == output.Stdout {
		return output.Stream(ctx, s.stdout, ov)
	}
	reset, err := rm.Reset()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	// The output starts as a copy of the base image, which the new
	// customization then overlays.
	pending, err := output.Begin(ctx, out, reset, reset.Size())
	if err != nil {
		return err
	}
	defer pending.Abort()
	return pending.Finish(ctx, ov)
}

// isFlatcarConfig reports whether a customization is a Flatcar config,
// which needs flatcar.first_boot=1 on every entry.
func isFlatcarConfig(c *remaster.Change) bool {
	return c.Description.OS == "flatcar" && c.Initrd != nil
}

// modifyRemasteredKargs is "iso kargs modify -o" for an image isobuild
// remastered: the same customization with edit applied to each entry's
// current arguments.
func modifyRemasteredKargs(ctx context.Context, s *streams, path, out string, edit embed.KargsEdit) error {
	return rebuildRemastered(ctx, s, path, out, func(c *remaster.Change) error {
		if isFlatcarConfig(c) {
			if err := checkFirstBootEdit(edit); err != nil {
				return err
			}
		}
		current := c.Args
		c.Args = func(e bootcfg.Entry, args string) (string, error) {
			args, err := current(e, args)
			if err != nil {
				return "", err
			}
			return edit.Apply(args)
		}
		c.Description.Kargs = append(c.Description.Kargs, kargsDescription(edit)...)
		return nil
	})
}

// resetRemasteredKargs is "iso kargs reset -o" for an image isobuild
// remastered: the same customization with the base image's arguments on
// every entry (plus flatcar.first_boot=1 where a Flatcar config needs it).
func resetRemasteredKargs(ctx context.Context, s *streams, path, out string) error {
	return rebuildRemastered(ctx, s, path, out, func(c *remaster.Change) error {
		c.Args, c.Description.Kargs = nil, nil
		if isFlatcarConfig(c) {
			c.Args = func(_ bootcfg.Entry, args string) (string, error) { return withFirstBoot(args), nil }
			c.Description.Kargs = []string{"append " + flatcar.FirstBootArg}
		}
		return nil
	})
}

// remastered reports whether the image at path carries isobuild's reset
// record, that is whether build remastered it.
func (s *streams) remastered(ctx context.Context, path string) bool {
	f, rm, err := s.openRemaster(ctx, path)
	if err != nil {
		return false
	}
	f.Close()
	return rm.Record() != nil
}

// copyImage writes an unchanged copy of the image at path to out: "iso
// kargs reset -o" of an image whose arguments are its own already.
func copyImage(ctx context.Context, s *streams, path, out string) error {
	f, rm, err := s.openRemaster(ctx, path)
	if err != nil {
		return err
	}
	defer f.Close()
	ov := overlay.New(f.File, rm.Size())
	if out == output.Stdout {
		if err := output.CheckStream(s.stdout, f.File); err != nil {
			return err
		}
		return output.Stream(ctx, s.stdout, ov)
	}
	pending, err := output.Begin(ctx, out, f.File, rm.Size())
	if err != nil {
		return err
	}
	defer pending.Abort()
	return pending.Finish(ctx, ov)
}
