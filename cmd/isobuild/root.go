package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

const rootLong = `isobuild turns a stock live ISO and a Butane or Ignition config into a
customized live or installer ISO that boots like the original: BIOS and
UEFI, from CD or USB stick. No root, no loop mounts, no container, no
xorriso.

Fedora CoreOS, RHCOS and SCOS images reserve areas for a config, network
keyfiles and kernel arguments: isobuild writes into them and copies the
rest byte for byte. Flatcar and other live ISOs get the config (or any
files) in an extra initramfs, appended after the image with its metadata
repointed; every boot entry loads it.

Around that: download and verify a base image (download), write it to a
USB stick safely (write), try it in a virtual machine (vm), and for
fleets build one image per host of an inventory (build --hosts) or serve
them over HTTP to BMCs and PXE clients (serve).

The "iso" and "pxe" commands take the names, options and output modes of
coreos-installer's and print the same error texts, so scripts that use
"coreos-installer iso ignition|kargs|network|customize|reset|extract pxe" or
"coreos-installer pxe ..." work with "isobuild" in its place.`

const rootExample = `  # Customize a live ISO from a Butane file, with a serial console:
  isobuild build --butane config.bu --karg-append console=ttyS0,115200n8 \
      -o custom.iso fedora-coreos-live.x86_64.iso

  # See what an image carries:
  isobuild inspect custom.iso

  # Undo every customization, in place:
  isobuild iso reset custom.iso

  # Try it in a VM, then write it to a USB stick:
  isobuild vm custom.iso
  isobuild write custom.iso /dev/sdb`

// newRootCmd builds the command tree writing to the given streams.
func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root, _ := newRoot(stdin, stdout, stderr)
	return root
}

// newRoot is newRootCmd that also returns the streams of the run.
func newRoot(stdin io.Reader, stdout, stderr io.Writer) (*cobra.Command, *streams) {
	root := &cobra.Command{
		Use:           "isobuild",
		Short:         "Customize live ISO images (CoreOS, Flatcar, others) from Butane or Ignition configs",
		Long:          rootLong,
		Example:       rootExample,
		SilenceUsage:  true,
		SilenceErrors: true,
		// The text comes from the build info when --version is given.
		Version: "set by the template",
	}
	root.SetVersionTemplate("{{isobuildVersion}}")
	root.Flags().BoolP("version", "v", false, "print the version of isobuild and its libraries (as 'isobuild version')")
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(flagError)
	io := &streams{in: stdin, out: &checkedWriter{w: stdout}, stdout: stdout, err: stderr}
	root.PersistentPreRun = func(c *cobra.Command, _ []string) { io.command = c.CommandPath() }
	root.AddCommand(newBuildCmd(io), newButaneCmd(io), newInspectCmd(io), newISOCmd(io), newPXECmd(io), newDevCmd(io), newVersionCmd(io))
	root.AddCommand(newDownloadCmd(io))
	root.AddCommand(newWriteCmd(io))
	root.AddCommand(newServeCmd(io))
	root.AddCommand(newVMCmd(io))
	root.SetHelpCommand(newHelpCmd())
	// In the tree now, so that its unknown subcommands are usage errors
	// too and it gets examples.
	root.InitDefaultCompletionCmd()
	strictCommands(root)
	addExamples(root)
	return root, io
}

// streams are the standard streams of one run.
type streams struct {
	in io.Reader
	// out takes text for stdout and remembers the first write error, so
	// that no command can succeed when its output was lost.
	out *checkedWriter
	// stdout is the same stream unwrapped, for images: package output
	// looks at the file behind it (terminal, pipe, same file as the input).
	stdout io.Writer
	err    io.Writer
	// stdinBy names the option that consumed stdin, if any.
	stdinBy string
	// seen holds the start of each input read, and the option that read
	// it, by name, for hints.
	seen map[string]seenInput
	// command is the path of the command that runs, such as
	// "isobuild build".
	command string
	// open are the --iso-file sources, read while the image is written;
	// closeOpen closes them.
	open []*os.File
}

// closeOpen closes the files of s.open.
func (s *streams) closeOpen() {
	for _, f := range s.open {
		f.Close()
	}
	s.open = nil
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s expects %s, got %d argument(s) (see '%s --help')", cmd.CommandPath(), names, len(args), cmd.CommandPath())}
		}
		return nil
	}
}

// maxInputSize bounds every input that is read whole: configs, keyfiles,
// scripts, certificates. They all end up in an initramfs, so a bigger one
// is a mistake (such as /dev/zero), not a workload.
const maxInputSize = 64 << 20

// readInput reads a whole file, or stdin for "-" or "". It works on pipes
// such as bash's /dev/fd/63. Stdin can be read by one option only; what
// names the option in errors. Reading stops when ctx is done, so that a
// signal ends a command that waits for input.
func (s *streams) readInput(ctx context.Context, what, path string) ([]byte, error) {
	if path == "" || path == "-" {
		if s.stdinBy != "" {
			return nil, usageError{fmt.Errorf("%s and %s both read standard input (-); give one of them a file", s.stdinBy, what)}
		}
		s.stdinBy = what
		b, err := readAll(ctx, s.in)
		if err != nil {
			return nil, fmt.Errorf("%s: reading standard input: %w", what, err)
		}
		s.remember("<stdin>", what, b)
		return b, nil
	}
	b, err := readFile(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	s.remember(path, what, b)
	return b, nil
}

// readFile reads the file at path whole, as readAll does.
func readFile(ctx context.Context, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > maxInputSize {
		return nil, fmt.Errorf("%s: %w", path, errInputTooLarge)
	}
	b, err := readAll(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

var errInputTooLarge = fmt.Errorf("larger than %d MiB, which no input of an initramfs needs to be", maxInputSize>>20)

// readAll reads r to its end, at most maxInputSize bytes. It returns when
// ctx is done even while a read of a pipe or terminal is blocked; that read
// then ends with the process.
func readAll(ctx context.Context, r io.Reader) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(r, maxInputSize+1))
		done <- result{b, err}
	}()
	select {
	case res := <-done:
		if res.err != nil {
			return nil, res.err
		}
		if len(res.b) > maxInputSize {
			return nil, errInputTooLarge
		}
		return res.b, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// cancelable returns a reader of r whose reads end with ctx's cause once
// ctx is done, even while a read of r is blocked.
func cancelable(ctx context.Context, r io.Reader) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		_, err := io.Copy(pw, r)
		pw.CloseWithError(err)
	}()
	context.AfterFunc(ctx, func() { pr.CloseWithError(context.Cause(ctx)) })
	return pr
}

// checkedWriter passes writes on to w and keeps the first error.
type checkedWriter struct {
	w   io.Writer
	err error
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}
