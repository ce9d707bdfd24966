// Command mkiso writes a small ISO with the Fedora CoreOS live-ISO layout
// (see internal/testiso), for demos and manual testing:
//
//	go run ./scripts/mkiso [-rootfs-size BYTES] [-volume-id ID] OUT.iso
//
// The image is written to a temporary file in the directory of OUT.iso and
// renamed into place, so an interrupted run never leaves a partial image.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/isobuild/isobuild/internal/testiso"
	"github.com/isobuild/isobuild/pkg/iso"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "mkiso: error: %v\n", err)
		}
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mkiso", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o testiso.Options
	fs.Int64Var(&o.RootfsSize, "rootfs-size", testiso.DefaultRootfsSize, "size of images/pxeboot/rootfs.img in `bytes`")
	fs.StringVar(&o.VolumeID, "volume-id", testiso.DefaultVolumeID, "volume `ID` (also used in coreos.liveiso=)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./scripts/mkiso [-rootfs-size BYTES] [-volume-id ID] OUT.iso\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("expected one output file, got %d arguments", fs.NArg())
	}
	if o.RootfsSize <= 0 {
		return fmt.Errorf("-rootfs-size must be positive, got %d", o.RootfsSize)
	}
	out := fs.Arg(0)
	size, err := writeISO(out, o)
	if err != nil {
		return err
	}
	return describe(stdout, out, size)
}

// writeISO builds the image into a temporary file beside out and renames it.
func writeISO(out string, o testiso.Options) (size int64, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := testiso.Build(bw, o); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	if err := tmp.Sync(); err != nil {
		return 0, err
	}
	st, err := tmp.Stat()
	if err != nil {
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// describe reads the image back and prints its files with their extents.
func describe(w io.Writer, path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	im, err := iso.Open(f, size)
	if err != nil {
		return fmt.Errorf("read back %s: %w", path, err)
	}
	fmt.Fprintf(w, "wrote %s: %d bytes, volume ID %q\n", path, size, im.Primary().VolumeID)
	return im.Walk(func(r iso.Record) error {
		if r.IsDir {
			_, err := fmt.Fprintf(w, "  %-28s dir\n", r.Path+"/")
			return err
		}
		_, err := fmt.Fprintf(w, "  %-28s offset %10d  length %10d\n", r.Path, r.Offset, r.Length)
		return err
	})
}
