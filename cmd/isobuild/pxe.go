package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/isobuild/isobuild/internal/output"
	"github.com/isobuild/isobuild/pkg/embed"
	"github.com/isobuild/isobuild/pkg/initrd"
	"github.com/isobuild/isobuild/pkg/iso"
	"github.com/isobuild/isobuild/pkg/overlay"
	"github.com/isobuild/isobuild/pkg/pxe"
)

func newPXECmd(s *streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "pxe",
		Short: "Customize CoreOS live PXE initramfs images (coreos-installer compatible)",
	}
	c.AddCommand(newPXECustomizeCmd(s), newPXEIgnitionCmd(s), newPXENetworkCmd(s))
	return c
}

func newPXECustomizeCmd(s *streams) *cobra.Command {
	var f installFlags
	var out string
	c := &cobra.Command{
		Use:   "customize [options] -o OUT LIVE-INITRAMFS",
		Short: "Customize a live PXE initramfs: unattended install, network, CA, hooks",
		Long: `Write a customized copy of a CoreOS live initramfs (the *-live-initramfs.*.img
of a release, or the file "isobuild iso extract pxe" writes). The options
are those of "iso customize" without the live kernel arguments; their result
is appended to the unchanged input as one more initramfs archive. The input
must be a pristine live initramfs.

A live Ignition config in a PXE initramfs only applies when the PXE setup
passes the kernel arguments ignition.firstboot ignition.platform.id=metal.`,
		Example: `  isobuild pxe customize --dest-device /dev/sda --dest-ignition dest.ign \
      -o custom-initramfs.img fedora-coreos-live-initramfs.x86_64.img`,
		Args: exactArgs(1, "one live initramfs"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageError{errNoOutput}
			}
			ctx := cmd.Context()
			opts, err := f.options(ctx, s, "isobuild pxe customize")
			if err != nil {
				return err
			}
			if out == output.Stdout {
				err = output.RefuseTerminal(s.stdout)
			} else {
				err = output.CheckNew(out)
			}
			if err != nil {
				return err
			}
			in, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			st, err := in.Stat()
			if err != nil {
				return err
			}
			if out == output.Stdout {
				if err := output.CheckStream(s.stdout, in); err != nil {
					return err
				}
			}
			res, err := pxe.Customize(ctx, io.NewSectionReader(in, 0, st.Size()), opts)
			if err != nil {
				if _, isoErr := iso.Open(in, st.Size()); isoErr == nil {
					err = hintedError{err, "this is a live ISO, not a PXE initramfs: customize it with 'isobuild iso customize', or get its initramfs with 'isobuild iso extract pxe'"}
				}
				return fmt.Errorf("%s: %w", args[0], err)
			}
			img, err := customizedInitramfs(in, st.Size(), res)
			if err != nil {
				return err
			}
			if err := output.Write(ctx, out, s.stdout, img); err != nil {
				return err
			}
			// Notices such as "will install without confirmation" are
			// about the written file: a failed command prints none.
			if w := devicePathWarning(opts.DestDevice); w != "" {
				fmt.Fprintln(s.err, w)
			}
			printWarnings(s.err, true, res.Warnings)
			if res.KernelArgs != "" {
				fmt.Fprintf(s.err, pxeKargsNotice, res.KernelArgs)
			}
			return nil
		},
	}
	f.add(c.Flags(), true)
	addOutput(c.Flags(), &out, "write the customized initramfs to `PATH` (must not exist) or - for stdout (required)")
	return c
}

// customizedInitramfs is a live initramfs of size bytes read through in,
// unchanged, with the archive of a customization appended: what "pxe
// customize" writes, and what serve serves as a host's PXE initramfs.
func customizedInitramfs(in io.ReaderAt, size int64, res *pxe.Result) (*overlay.Image, error) {
	img := overlay.New(in, size)
	if _, err := img.Append(bytes.NewReader(res.Archive), int64(len(res.Archive))); err != nil {
		return nil, err
	}
	return img, nil
}

// writeBlob writes data to path, replacing what is there (as
// coreos-installer's pxe wrap commands do, but never half-written), or, when
// path is empty, to stdout unless it is a terminal.
func writeBlob(ctx context.Context, s *streams, path string, data []byte) error {
	img := overlay.New(bytes.NewReader(data), int64(len(data)))
	if path == "" || path == output.Stdout {
		return output.Stream(ctx, s.stdout, img)
	}
	return output.Replace(ctx, path, img)
}

// openInput opens a file argument, or stdin when there is none or it is "-".
// Reads of a pipe or terminal end when ctx is done.
func openInput(ctx context.Context, s *streams, args []string) (io.Reader, func(), error) {
	if len(args) == 0 || args[0] == "-" {
		return cancelable(ctx, s.in), func() {}, nil
	}
	f, err := os.Open(args[0])
	if err != nil {
		return nil, nil, err
	}
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		return f, func() { f.Close() }, nil
	}
	return cancelable(ctx, f), func() { f.Close() }, nil
}

func maxArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usageError{fmt.Errorf("%s takes at most %s (see '%s --help')", cmd.CommandPath(), names, cmd.CommandPath())}
		}
		return nil
	}
}

func newPXEIgnitionCmd(s *streams) *cobra.Command {
	c := &cobra.Command{Use: "ignition", Short: "Wrap a live Ignition config in an initramfs, or get it back"}
	var cfg, out string
	wrap := &cobra.Command{
		Use:   "wrap [-i CONFIG] [-o OUT]",
		Short: "Write an initramfs archive holding an Ignition config",
		Long: `Write an initramfs archive (xz-compressed cpio) holding the config as
config.ign. Load it as an extra initrd after the live initramfs in the PXE
setup. The config is stored byte for byte. -o overwrites an existing file.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			config, err := s.readInput(cmd.Context(), "--ignition-file", cfg)
			if err != nil {
				return err
			}
			data, err := pxe.WrapIgnition(config)
			if err != nil {
				return err
			}
			return writeBlob(cmd.Context(), s, out, data)
		},
	}
	wrap.Flags().StringVarP(&cfg, "ignition-file", "i", "", "Ignition config to wrap (default: stdin)")
	addOutput(wrap.Flags(), &out, "write to `PATH` (default: stdout)")
	unwrap := &cobra.Command{
		Use:   "unwrap [INITRAMFS]",
		Short: "Print the Ignition config of an initramfs (default: stdin)",
		Args:  maxArgs(1, "one initramfs"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, done, err := openInput(cmd.Context(), s, args)
			if err != nil {
				return err
			}
			defer done()
			config, err := pxe.UnwrapIgnition(r)
			if err != nil {
				return err
			}
			_, err = s.out.Write(config)
			return err
		},
	}
	c.AddCommand(wrap, unwrap)
	return c
}

func newPXENetworkCmd(s *streams) *cobra.Command {
	c := &cobra.Command{Use: "network", Short: "Wrap NetworkManager keyfiles in an initramfs, or get them back"}
	var keyfiles []string
	var out string
	wrap := &cobra.Command{
		Use:   "wrap -k KEYFILE [-k KEYFILE]... [-o OUT]",
		Short: "Write an initramfs archive holding NetworkManager keyfiles",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(keyfiles) == 0 {
				return usageError{errors.New("at least one -k/--keyfile is required")}
			}
			inputs, err := s.inputs(cmd.Context(), "--keyfile", keyfiles, false)
			if err != nil {
				return err
			}
			data, err := pxe.WrapNetwork(inputs)
			if err != nil {
				return err
			}
			return writeBlob(cmd.Context(), s, out, data)
		},
	}
	wrap.Flags().StringArrayVarP(&keyfiles, "keyfile", "k", nil, "NetworkManager keyfile `PATH` (repeatable)")
	addOutput(wrap.Flags(), &out, "write to `PATH` (default: stdout)")
	var dir string
	unwrap := &cobra.Command{
		Use:   "unwrap [-C DIR] [INITRAMFS]",
		Short: "Print or write the keyfiles of an initramfs (default: stdin)",
		Args:  maxArgs(1, "one initramfs"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, done, err := openInput(cmd.Context(), s, args)
			if err != nil {
				return err
			}
			defer done()
			files, err := pxe.UnwrapNetwork(r)
			if err != nil {
				return err
			}
			return extractKeyfiles(s, files, dir)
		},
	}
	unwrap.Flags().StringVarP(&dir, "directory", "C", "", "write the keyfiles into `DIR` instead of printing them")
	c.AddCommand(wrap, unwrap)
	return c
}

// extractKeyfiles prints keyfiles, or writes them into dir when it is set.
func extractKeyfiles(s *streams, files initrd.Files, dir string) error {
	if len(files) == 0 {
		return embed.ErrNoNetwork
	}
	if dir == "" {
		for i, name := range files.Names() {
			if i > 0 {
				fmt.Fprintln(s.out)
			}
			fmt.Fprintf(s.out, "########## %s ##########\n", filepath.Base(name))
			if _, err := s.out.Write(files[name]); err != nil {
				return err
			}
		}
		return nil
	}
	// Every name is checked, and every target too, before anything is
	// created; then each file goes through a temporary file, and a failure
	// half-way removes the files already written.
	targets := map[string]string{} // flattened name → member
	names := files.Names()
	for _, name := range names {
		base := path.Base(name)
		if !cleanMember(name) || strings.ContainsAny(base, "\\\x00") || !utf8.ValidString(base) {
			return fmt.Errorf("embedded keyfile %s: not a usable file name; nothing was written", embed.Quote(name))
		}
		if other, ok := targets[base]; ok {
			return fmt.Errorf("embedded keyfiles %s and %s would both be written as %s; nothing was written", embed.Quote(other), embed.Quote(name), filepath.Join(dir, base))
		}
		targets[base] = name
		if err := output.CheckNew(filepath.Join(dir, base)); err != nil {
			return err
		}
	}
	created := false
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		created = true
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	var written []string
	for _, name := range names {
		p := filepath.Join(dir, path.Base(name))
		if err := writeExclusive(p, files[name], 0o600); err != nil {
			for _, w := range written {
				os.Remove(w)
			}
			if created {
				os.Remove(dir)
			}
			return fmt.Errorf("embedded keyfile %s: %w (the keyfiles written before it were removed)", embed.Quote(name), err)
		}
		written = append(written, p)
	}
	for _, p := range written {
		fmt.Fprintln(s.out, p)
	}
	return nil
}

// cleanMember reports whether an archive member name is a plain relative
// path: no empty, "." or ".." component, not absolute.
func cleanMember(name string) bool {
	if name == "" || strings.HasPrefix(name, "/") {
		return false
	}
	for _, c := range strings.Split(name, "/") {
		if c == "" || c == "." || c == ".." {
			return false
		}
	}
	return true
}
