package download

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Result says what Download did.
type Result struct {
	// Name is the image's file name in the Dir; SigName is its
	// signature's ("" when none was saved).
	Name, SigName string
	// Reused is true when a present file verified and nothing was
	// downloaded.
	Reused bool
	// Verified is true when the signature verified (false only for an
	// unsigned source with Client.Insecure).
	Verified bool
	// Size is the number of bytes written (after decompression).
	Size int64
}

// Download fetches one artifact into dir: the signature first, then the
// image, verified while it streams. The file name is the last path
// segment of the image's URL after redirects. With decompress, gzip, xz
// and zstd data is decompressed (".gz" or ".xz" is dropped from the name,
// except for ".tar.gz"/".tar.xz") and no signature file is kept;
// otherwise the signature is saved as NAME.sig next to the image.
//
// A present NAME whose NAME.sig equals the remote signature and that
// verifies is kept and not fetched again (not with decompress). On any
// error, nothing named NAME or NAME.sig is left from this call.
func (c *Client) Download(ctx context.Context, dir Dir, a Artifact, decompress bool) (Result, error) {
	var sig *signature
	if a.SignatureURL != "" {
		raw, err := c.getSmall(ctx, a.SignatureURL, maxSigSize)
		switch {
		case err == nil:
			if sig, err = parseSignature(raw, c.Keys); err != nil {
				return Result{}, fmt.Errorf("signature %s: %w", a.SignatureURL, err)
			}
		case ctx.Err() != nil:
			return Result{}, context.Cause(ctx)
		default:
			c.logf("Failed to fetch signature: %v", err)
		}
	}
	if sig == nil {
		if !c.Insecure {
			return Result{}, fmt.Errorf("%s: %w", a.URL, ErrNoSignature)
		}
		c.logf("Signature not found; skipping verification as requested")
	}

	first := a.Name()
	if sig != nil && !decompress && validName(first) {
		if ok := c.reuse(dir, first, sig, a); ok {
			return Result{Name: first, SigName: first + ".sig", Reused: true, Verified: true}, nil
		}
	}

	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := c.get(rctx, a.URL)
	if err != nil {
		return Result{}, fmt.Errorf("image fetch failed: %w", err)
	}
	defer resp.Body.Close()
	idle := c.IdleTimeout
	if idle <= 0 {
		idle = 2 * time.Minute
	}
	stalled := fmt.Errorf("no data from %s for %v", a.URL, idle)
	timer := time.AfterFunc(idle, func() { cancel(stalled) })
	defer timer.Stop()
	body := &idleReader{r: resp.Body, t: timer, d: idle}
	name := urlName(resp.Request.URL.String())
	if !validName(name) {
		return Result{}, fmt.Errorf("image URL %s (after redirects: %s) names no file", a.URL, resp.Request.URL)
	}
	if name != first && sig != nil && !decompress {
		if ok := c.reuse(dir, name, sig, a); ok {
			return Result{Name: name, SigName: name + ".sig", Reused: true, Verified: true}, nil
		}
	}
	out := name
	if decompress {
		out = decompressedName(name)
	}

	tmp, err := dir.Create(out)
	if err != nil {
		return Result{}, fmt.Errorf("creating %s: %w", dir.Path(out), err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Abort()
		}
	}()

	var sink io.Writer = tmp
	written := &countWriter{w: tmp}
	var done <-chan error
	var pw *io.PipeWriter
	if decompress {
		var pr *io.PipeReader
		pr, pw = io.Pipe()
		ch := make(chan error, 1)
		done = ch
		go func() {
			err := decompressTo(written, pr)
			pr.CloseWithError(err)
			ch <- err
		}()
		sink = pw
	}
	counted := &countWriter{w: sink}
	var progress io.WriteCloser
	if c.Progress != nil {
		progress = c.Progress(out, resp.ContentLength)
	}
	err = c.verifyStream(body, counted, progress, sig, a, name)
	if progress != nil {
		progress.Close()
	}
	if decompress {
		pw.CloseWithError(err)
		if derr := <-done; err == nil && derr != nil {
			err = fmt.Errorf("decompressing %s: %w", name, derr)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, context.Cause(ctx)
		}
		if context.Cause(rctx) == stalled {
			return Result{}, fmt.Errorf("reading %s: %w", name, stalled)
		}
		return Result{}, err
	}
	size := counted.n
	if decompress {
		size = written.n
	}
	if err := tmp.Commit(); err != nil {
		return Result{}, err
	}
	committed = true
	res := Result{Name: out, Verified: sig != nil, Size: size}
	if sig != nil && !decompress {
		if err := writeFile(dir, out+".sig", sig.raw); err != nil {
			dir.Remove(out)
			return Result{}, err
		}
		res.SigName = out + ".sig"
	} else {
		// A stale signature of an earlier download must not sit next
		// to a file it does not sign.
		dir.Remove(out + ".sig")
	}
	return res, nil
}

// verifyStream copies r to sink (and progress), checking the signature
// and the digests of a over the bytes. The copy, each digest and the
// signature check run in parallel (see fanout).
func (c *Client) verifyStream(r io.Reader, sink, progress io.Writer, sig *signature, a Artifact, name string) error {
	d := newDigests(a)
	if progress != nil {
		sink = io.MultiWriter(sink, progress)
	}
	ws := []io.Writer{sink}
	// The signature's own SHA-256 gives the data's, when it has one.
	d.sharedSHA256 = sig != nil && sig.plainSHA256 && d.h["sha256"] != nil
	for _, alg := range []string{"sha256", "sha512"} {
		if h, ok := d.h[alg]; ok && !(alg == "sha256" && d.sharedSHA256) {
			ws = append(ws, h)
		}
	}
	var pw *io.PipeWriter
	var sigDone chan error
	if sig != nil {
		var pr *io.PipeReader
		pr, pw = io.Pipe()
		sigDone = make(chan error, 1)
		go func() {
			var sum *[]byte
			if d.sharedSHA256 {
				sum = &d.shared
			}
			err := sig.check(c.Keys, pr, sum)
			// A check that ended early fails the writes to it.
			pr.CloseWithError(errSignatureDone)
			sigDone <- err
		}()
		ws = append(ws, pw)
	}
	err, from := fanout(r, ws)
	if sig != nil {
		pw.CloseWithError(err)
		serr := <-sigDone
		if err == nil || from == len(ws)-1 {
			if serr != nil {
				if errors.Is(serr, ErrBadSignature) {
					return fmt.Errorf("%s: %w", name, serr)
				}
				return fmt.Errorf("reading %s: %w", name, serr)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	return d.check(name)
}

// errSignatureDone fails writes to a signature check that has returned.
var errSignatureDone = errors.New("signature check ended")

// reuse reports whether dir holds name with a signature file equal to
// sig that verifies, with the digests of a.
func (c *Client) reuse(dir Dir, name string, sig *signature, a Artifact) bool {
	local, err := readSmall(dir, name+".sig", maxSigSize)
	if err != nil {
		return false
	}
	if !bytes.Equal(local, sig.raw) {
		c.logf("%s does not match the remote signature; downloading again", dir.Path(name+".sig"))
		return false
	}
	f, err := dir.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := c.verifyStream(f, io.Discard, nil, sig, a, dir.Path(name)); err != nil {
		c.logf("Present %s does not verify (%v); downloading again", dir.Path(name), err)
		return false
	}
	return true
}

func readSmall(dir Dir, name string, limit int64) ([]byte, error) {
	f, err := dir.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("%s is too large", dir.Path(name))
	}
	return b, err
}

func writeFile(dir Dir, name string, b []byte) error {
	t, err := dir.Create(name)
	if err != nil {
		return fmt.Errorf("creating %s: %w", dir.Path(name), err)
	}
	if _, err := t.Write(b); err != nil {
		t.Abort()
		return fmt.Errorf("writing %s: %w", dir.Path(name), err)
	}
	return t.Commit()
}

func validName(n string) bool {
	return n != "" && n != "." && n != ".." && n != "/" && !strings.ContainsAny(n, "/\\\x00")
}

// decompressedName drops .gz or .xz, except from .tar.gz and .tar.xz.
func decompressedName(n string) string {
	for _, ext := range []string{".gz", ".xz"} {
		if strings.HasSuffix(n, ext) && !strings.HasSuffix(n, ".tar"+ext) && len(n) > len(ext) {
			return strings.TrimSuffix(n, ext)
		}
	}
	return n
}

// decompressTo writes r decompressed to w, by its magic bytes: gzip, xz
// or zstd; other data is copied as it is. It reads r to its end.
func decompressTo(w io.Writer, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(6)
	var src io.Reader = br
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		z, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		src = z
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		z, err := xz.NewReader(br)
		if err != nil {
			return err
		}
		src = z
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		z, err := zstd.NewReader(br)
		if err != nil {
			return err
		}
		defer z.Close()
		src = z
	}
	if _, err := io.Copy(w, src); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, br)
	return err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// VerifyPresent checks, without any network access, that dir holds name
// and name.sig and that the signature verifies over the file with c.Keys.
func (c *Client) VerifyPresent(dir Dir, name string) error {
	raw, err := readSmall(dir, name+".sig", maxSigSize)
	if err != nil {
		return fmt.Errorf("signature of %s: %w", dir.Path(name), err)
	}
	sig, err := parseSignature(raw, c.Keys)
	if err != nil {
		return fmt.Errorf("%s: %w", dir.Path(name+".sig"), err)
	}
	f, err := dir.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return c.verifyStream(f, io.Discard, nil, sig, Artifact{}, dir.Path(name))
}
