package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/isobuild/isobuild/pkg/download"
)

const downloadLong = `Download a Fedora CoreOS (or RHCOS/SCOS, or Flatcar) image and verify it
while it streams: its OpenPGP signature with the built-in Fedora and Red Hat
keys (Flatcar's image signing key with --distro flatcar) and any keys given
with --trust-key, in process (no gpg needed), plus the sha256 of the stream
metadata (Flatcar: the sha512 of its DIGESTS file).

The options, defaults and messages are those of "coreos-installer download".
The image URL comes from the stream metadata (-s, -a, -p, -f) or from
-u/--image-url, whose signature is the same URL with ".sig" appended. The
file is named after the last path segment of the final URL (after
redirects) and written into -C (the current directory by default), with the
signature next to it as NAME.sig.

Nothing unverified ever carries the image's name: the bytes go to a hidden
temporary file in the same directory, which becomes the image only after
every check passed; on any failure (or Ctrl-C) it is removed. A present
file whose NAME.sig equals the remote signature and that verifies is not
downloaded again.

--insecure only tolerates a missing signature; a signature that does not
verify always fails. Signatures are checked at the time they were made, so
images signed with a key that has expired since still verify.

The written image paths are printed on standard output, one a line;
messages and progress go to standard error (a progress bar on a terminal,
otherwise a line every few seconds).`

const downloadExample = `  # The Fedora CoreOS live ISO of the stable stream, into images/:
  isobuild download -s stable -p metal -f iso -C images/

  # The PXE kernel, initramfs and rootfs for aarch64:
  isobuild download -a aarch64 -f pxe -C pxe/

  # A mirror's stream metadata, with its own signing key:
  isobuild download --stream-base-url https://mirror.example.com/streams/ \
      --trust-key mirror-key.asc -f iso

  # One image by URL, decompressed (its signature is URL.sig):
  isobuild download -d -u https://example.com/fedora-coreos-metal.x86_64.raw.xz

  # Flatcar's stable live ISO (or -f pxe for kernel and initramfs):
  isobuild download --distro flatcar -s stable -f iso

  # Download and build in one go:
  iso=$(isobuild download -f iso -C images/)
  isobuild build --butane config.bu -o custom.iso "$iso"`

// downloadOptions are the options of one download.
type downloadOptions struct {
	distro     string
	stream     string
	arch       string
	platform   string
	format     string
	imageURL   string
	dir        string
	decompress bool
	insecure   bool
	baseURL    string
	retries    string
	trustKeys  []string
	// quiet drops the progress output.
	quiet bool
}

const (
	distroFCOS    = "fedora-coreos"
	distroFlatcar = "flatcar"
)

func newDownloadCmd(s *streams) *cobra.Command {
	var o downloadOptions
	c := &cobra.Command{
		Use:     "download [options]",
		Short:   "Download and verify a CoreOS or Flatcar image (coreos-installer compatible)",
		Long:    downloadLong,
		Example: downloadExample,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("format") && o.distro == distroFlatcar {
				o.format = "iso"
			}
			paths, err := s.download(cmd.Context(), o)
			for _, p := range paths {
				fmt.Fprintln(s.out, p)
			}
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&o.distro, "distro", distroFCOS, "distribution: fedora-coreos (stream metadata: Fedora CoreOS, or RHCOS/SCOS with --stream-base-url) or flatcar")
	f.StringVarP(&o.stream, "stream", "s", "stable", "stream (Flatcar: channel stable, beta or alpha)")
	f.StringVarP(&o.arch, "architecture", "a", download.HostArch(), "target CPU architecture")
	f.StringVarP(&o.platform, "platform", "p", "metal", "Fedora CoreOS platform name")
	f.StringVarP(&o.format, "format", "f", "raw.xz", "image format (such as iso, pxe, raw.xz, 4k.raw.xz; Flatcar: iso or pxe, default iso)")
	f.StringVarP(&o.imageURL, "image-url", "u", "", "manually specify the image URL (its signature: the URL with .sig appended)")
	f.StringVarP(&o.dir, "directory", "C", ".", "destination directory")
	f.BoolVarP(&o.decompress, "decompress", "d", false, "decompress image (gzip, xz, zstd) and don't save signature")
	f.BoolVar(&o.insecure, "insecure", false, "skip signature verification when the image has no signature")
	f.StringVar(&o.baseURL, "stream-base-url", "", "base URL for Fedora CoreOS stream metadata (default "+download.DefaultStreamBaseURL+"); with --distro flatcar: the release directory, replacing -s and -a")
	f.StringVar(&o.retries, "fetch-retries", "0", "fetch retries, or the string \"infinite\"")
	f.StringArrayVar(&o.trustKeys, "trust-key", nil, "also trust the armored OpenPGP public keys in `FILE` (repeatable)")
	return c
}

// download runs one download and returns the paths of the written (or
// reused) images.
func (s *streams) download(ctx context.Context, o downloadOptions) ([]string, error) {
	retries, err := parseRetries(o.retries)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(o.dir); err != nil {
		return nil, fmt.Errorf("destination directory: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("destination directory %s is not a directory", o.dir)
	}
	var keys openpgp.EntityList
	switch o.distro {
	case distroFCOS:
		keys, err = download.CoreOSKeys()
	case distroFlatcar:
		keys, err = download.FlatcarKeys()
	default:
		return nil, usageError{fmt.Errorf("--distro must be %s or %s, not %q", distroFCOS, distroFlatcar, o.distro)}
	}
	if err != nil {
		return nil, fmt.Errorf("built-in keys: %w", err)
	}
	for _, path := range o.trustKeys {
		b, err := s.readInput(ctx, "--trust-key", path)
		if err != nil {
			return nil, err
		}
		el, err := download.ReadArmoredKeys(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("--trust-key %s: %w", path, err)
		}
		keys = append(keys, el...)
	}
	c := &download.Client{
		Keys:     keys,
		Insecure: o.insecure,
		Retries:  retries,
		Log:      func(m string) { fmt.Fprintln(s.err, m) },
	}
	if !o.quiet {
		c.Progress = newProgress(s.err)
	}

	arts, err := resolveArtifacts(ctx, c, o)
	if err != nil {
		return nil, err
	}
	dir := download.OSDir(o.dir)
	var paths []string
	for _, a := range arts {
		fmt.Fprintf(s.err, "Downloading %s\n", a.URL)
		res, err := c.Download(ctx, dir, a, o.decompress)
		if err != nil {
			if errors.Is(err, download.ErrNoSignature) {
				hint := "the source gives no signature for the image"
				if a.SignatureURL != "" {
					hint = "there is no signature at " + a.SignatureURL
				}
				return paths, hintedError{fmt.Errorf("--insecure not specified and signature not found (%s)", a.URL),
					hint + "; --insecure accepts the image unsigned (the stream metadata's sha256, if any, is still checked)"}
			}
			if errors.Is(err, download.ErrBadSignature) && len(o.trustKeys) == 0 {
				return paths, hintedError{err, "an image signed with a key isobuild does not carry (an old Fedora key, a mirror's or a private build's) verifies with --trust-key KEY.asc"}
			}
			return paths, err
		}
		switch {
		case res.Reused:
			fmt.Fprintf(s.err, "%s is present and verified; not downloading it again\n", dir.Path(res.Name))
		case res.Verified:
			fmt.Fprintf(s.err, "Signature of %s verified\n", res.Name)
		}
		paths = append(paths, dir.Path(res.Name))
	}
	return paths, nil
}

// resolveArtifacts finds what o asks for.
func resolveArtifacts(ctx context.Context, c *download.Client, o downloadOptions) ([]download.Artifact, error) {
	if o.imageURL != "" {
		a, err := download.URLArtifact(o.imageURL)
		if err != nil {
			return nil, usageError{err}
		}
		return []download.Artifact{a}, nil
	}
	if o.distro == distroFlatcar {
		base := o.baseURL
		if base == "" {
			var err error
			if base, err = download.FlatcarBaseURL(o.stream, o.arch, "current"); err != nil {
				return nil, usageError{err}
			}
		}
		return c.FlatcarArtifacts(ctx, base, o.format)
	}
	base := o.baseURL
	if base == "" {
		base = download.DefaultStreamBaseURL
	}
	u, err := download.StreamURL(base, o.stream)
	if err != nil {
		return nil, usageError{err}
	}
	st, err := c.FetchStream(ctx, u)
	if err != nil {
		return nil, err
	}
	return download.Resolve(st, u, o.arch, o.platform, o.format)
}

// parseRetries parses --fetch-retries: a count or "infinite".
func parseRetries(s string) (int, error) {
	if s == "infinite" {
		return download.Infinite, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, usageError{fmt.Errorf("--fetch-retries: %q is neither a number of retries nor \"infinite\"", s)}
	}
	return n, nil
}

// isTerminal reports whether w is a terminal (see fileIsTerminal).
func isTerminal(w io.Writer) bool { return fileIsTerminal(w) }

// newProgress returns the progress output for downloads to w: a bar on a
// terminal, otherwise a line every few seconds.
func newProgress(w io.Writer) func(name string, size int64) io.WriteCloser {
	if isTerminal(w) {
		return func(name string, size int64) io.WriteCloser {
			bar := progressbar.NewOptions64(size,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription(name),
				progressbar.OptionShowBytes(true),
				progressbar.OptionShowTotalBytes(true),
				progressbar.OptionShowCount(),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionSetWidth(20),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionUseIECUnits(true),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
			)
			return &barWriter{bar: bar, w: w, size: size}
		}
	}
	return func(name string, size int64) io.WriteCloser {
		return &lineProgress{w: w, name: name, size: size, start: time.Now(), last: time.Now(), every: 5 * time.Second}
	}
}

// barWriter ends the bar at 100 % only when the transfer completed.
type barWriter struct {
	bar  *progressbar.ProgressBar
	w    io.Writer
	size int64
	n    int64
}

func (b *barWriter) Write(p []byte) (int, error) {
	b.n += int64(len(p))
	b.bar.Add(len(p))
	return len(p), nil
}

func (b *barWriter) Close() error {
	if b.size < 0 || b.n == b.size {
		return b.bar.Finish()
	}
	b.bar.Exit()
	fmt.Fprintln(b.w)
	return nil
}

// lineProgress writes "> Read NAME 227.3 MiB/659.8 MiB (34%), 52.1 MiB/s,
// 8s left" every few seconds, for logs.
type lineProgress struct {
	w           io.Writer
	name        string
	size, n     int64
	start, last time.Time
	every       time.Duration
}

func (l *lineProgress) Write(p []byte) (int, error) {
	l.n += int64(len(p))
	if now := time.Now(); now.Sub(l.last) >= l.every {
		l.last = now
		l.line(now)
	}
	return len(p), nil
}

func (l *lineProgress) line(now time.Time) {
	secs := now.Sub(l.start).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(l.n) / secs
	}
	if l.size <= 0 {
		fmt.Fprintf(l.w, "> Read %s %s, %s/s\n", l.name, mib(l.n), mib(int64(rate)))
		return
	}
	eta := ""
	if rate > 0 {
		eta = fmt.Sprintf(", %s left", time.Duration(float64(l.size-l.n)/rate*float64(time.Second)).Round(time.Second))
	}
	fmt.Fprintf(l.w, "> Read %s %s/%s (%d%%), %s/s%s\n", l.name, mib(l.n), mib(l.size), l.n*100/l.size, mib(int64(rate)), eta)
}

func (l *lineProgress) Close() error {
	if l.n > 0 && time.Since(l.start) >= l.every {
		l.line(time.Now())
	}
	return nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
