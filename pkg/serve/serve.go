// Package serve answers HTTP requests for per-host images that exist only
// as overlays of one base image: GET and HEAD of /hosts/NAME.iso stream
// the host's image, generated on the fly from its [overlay.Image], with
// byte ranges, conditional requests and a strong entity tag, as BMC
// virtual media (Redfish InsertMedia, iDRAC, iLO) and HTTP boot clients
// need. No per-host copy is ever written.
//
// In isobuild's pipeline, Butane → Ignition → initramfs → overlay → output,
// this package is an output: the one that serves an overlay over HTTP
// instead of writing it to a file.
//
// # URLs
//
//   - GET|HEAD /hosts/NAME.iso, or /hosts/TOKEN/NAME.iso when
//     [Options.RequireToken] is set: the host's image.
//   - GET|HEAD /hosts/NAME/pxe/vmlinuz, /hosts/NAME/pxe/initramfs.img and
//     /hosts/NAME/pxe/rootfs.img (under /hosts/TOKEN/NAME/ with
//     RequireToken): the host's PXE files ([PXE]), with the same headers,
//     ranges and entity tags as the image; 404 for a host without them.
//   - GET|HEAD /hosts/NAME/boot.ipxe (or /hosts/TOKEN/NAME/boot.ipxe): an
//     iPXE script that boots the PXE files by absolute URLs made from the
//     request: https when the connection is TLS, else http, and the Host
//     header, which must be a plain host name or address with an optional
//     port (else 400).
//   - GET|HEAD /healthz: 200 "ok" once the handler exists.
//   - Anything else: 404, with a body that names no host. An unknown host,
//     a wrong or missing token, a path that is not exactly one of the above
//     (percent-encoded bytes, "..", a trailing slash, a directory such as
//     /hosts/) all get the same 404, so that the server tells nobody which
//     hosts exist. There is no listing of any kind.
//
// Paths are matched on the raw request path, without cleaning or
// redirects, and a host name must pass [inventory.CheckName], so no name
// can leave its segment.
//
// # Responses
//
// Image responses go through [http.ServeContent] with a fresh
// [io.SectionReader] of the overlay per request (so concurrent and
// multi-range requests never share a position). The body of a single
// range goes out piece by piece ([overlay.Image.Pieces]): patches as
// bytes, and the stretches of the base image (and of appended files) as
// files, which the connection sends with sendfile(2) from a descriptor of
// the request's own, as it sends a plain file. Responses carry
// Content-Type: application/octet-stream (set, so that ServeContent never
// sniffs the body, and HEAD reads nothing), Accept-Ranges: bytes,
// Content-Length, the image's strong ETag and Last-Modified, and
// Cache-Control: private, no-transform (the image holds the host's secrets;
// a proxy must not recompress it, which would break ranges). Single ranges,
// multiple ranges (multipart/byteranges), If-Range, If-Match,
// If-None-Match and the date conditionals behave as ServeContent defines.
//
// # Entity tags
//
// [ETag] combines [BaseIdentity], which stands for the base image's bytes,
// and [Fingerprint], which hashes every byte the overlay changes or adds:
// the tag changes whenever a byte of the host's image can have changed,
// and is the same on every replica that serves the same base and
// customization, so that a client resuming a download through a load
// balancer keeps its ranges. The caller must also change the image's
// ModTime when its customization changes, since a client may send a date in
// If-Range.
//
// The PXE files carry the tags the caller gives them ([File.ETag]); the
// iPXE script's tag is a hash of its text, which depends on the request's
// Host header.
//
// # Reloads
//
// The handler keeps nothing of an Image past the request: a caller may
// answer later lookups from a new table of images, and [Image.Release]
// tells it when a request is done with the image it got, so that it can
// close the files of an old table once no request reads them.
//
// # Limits
//
// [Options.MaxStreams] bounds the GET requests that stream an image or a
// PXE file at once; a request that finds no free slot within [Options.QueueTimeout]
// gets 503 with Retry-After. A client that goes away ends its stream at the
// next write, which frees its slot.
package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/isobuild/isobuild/pkg/inventory"
	"github.com/isobuild/isobuild/pkg/overlay"
)

// ErrNotFound is what a Lookup returns for a name it does not know.
var ErrNotFound = errors.New("no such host")

// Image is what the handler serves for one host.
type Image struct {
	// Overlay is the host's image; it must be safe for concurrent
	// ReadAt (as every overlay of *os.File bases and in-memory patches
	// is).
	Overlay *overlay.Image
	// ETag is the strong entity tag, with its quotes (see ETag).
	ETag string
	// ModTime is the Last-Modified time: it must be stable across
	// requests, and later whenever the image's bytes change.
	ModTime time.Time
	// Token, when Options.RequireToken is set, is the secret that the
	// host's URLs carry; a host without one cannot be fetched then.
	Token string
	// PXE, when not nil, are the host's PXE boot files; without them
	// the host's PXE URLs answer 404.
	PXE *PXE
	// Release, when not nil, is called once when the handler is done
	// with the image (the response is complete or abandoned), so that
	// the caller can close what the image reads once no request uses it.
	Release func()
}

// PXE are the files a PXE (iPXE) boot of a host fetches.
type PXE struct {
	// Kernel and Initramfs are the kernel and the initramfs, the latter
	// with the host's customization appended; the host's iPXE script
	// needs both (a zero File's URL answers 404).
	Kernel, Initramfs File
	// Rootfs is the root file system image that a CoreOS live initramfs
	// fetches (coreos.live.rootfs_url); a zero File (nil R) has none,
	// and its URL answers 404.
	Rootfs File
	// Kargs are the kernel arguments of the host's iPXE script; the
	// handler puts initrd=main in front and, with a Rootfs,
	// coreos.live.rootfs_url= with the URL of Rootfs.
	Kargs string
}

// File is one PXE boot file: Size bytes of R, which must be safe for
// concurrent ReadAt, with its strong entity tag (quoted).
type File struct {
	R    io.ReaderAt
	Size int64
	ETag string
}

// Lookup returns the image of the host called name, or an error wrapping
// ErrNotFound. Other errors answer 500 (the message is logged, not sent).
type Lookup func(ctx context.Context, name string) (Image, error)

// Options configure a Handler.
type Options struct {
	Lookup Lookup
	// RequireToken makes the image URLs /hosts/TOKEN/NAME.iso, TOKEN
	// being the host's Image.Token.
	RequireToken bool
	// MaxStreams bounds the image GETs in flight; 0 means 64.
	MaxStreams int
	// QueueTimeout is how long a GET waits for a free stream; 0 means
	// 10 seconds.
	QueueTimeout time.Duration
	// Logger gets one record per request; nil logs nothing. Tokens are
	// never logged.
	Logger *slog.Logger
}

// Handler is the http.Handler of package serve; create it with New.
type Handler struct {
	opts   Options
	slots  chan struct{}
	active atomic.Int64
}

// New returns a Handler for o; o.Lookup is required.
func New(o Options) *Handler {
	if o.Lookup == nil {
		panic("serve: nil Lookup")
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = 64
	}
	if o.QueueTimeout <= 0 {
		o.QueueTimeout = 10 * time.Second
	}
	return &Handler{opts: o, slots: make(chan struct{}, o.MaxStreams)}
}

// Active returns the number of image requests being answered.
func (h *Handler) Active() int { return int(h.active.Load()) }

const notFoundBody = "404 page not found\n"

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	route, name, token, file := h.route(r)
	defer func() {
		if h.opts.Logger == nil {
			return
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", rec.status()),
			slog.Int64("bytes", rec.n),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", r.RemoteAddr),
		}
		if name != "" {
			attrs = append(attrs, slog.String("host", name))
		}
		if file != "" {
			attrs = append(attrs, slog.String("file", file))
		}
		if rec.err != nil {
			attrs = append(attrs, slog.String("error", rec.err.Error()))
		}
		if rg := r.Header.Get("Range"); rg != "" {
			attrs = append(attrs, slog.String("range", truncate(rg, 200)))
		}
		h.opts.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	}()
	switch route {
	case "healthz":
		if !getOrHead(rec, r) {
			return
		}
		rec.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rec.Header().Set("Cache-Control", "no-store")
		io.WriteString(rec, "ok\n")
	case "image", "pxe", "ipxe":
		if !getOrHead(rec, r) {
			return
		}
		h.serveHost(rec, r, route, name, token, file)
	default:
		notFound(rec)
	}
}

// PXE file names in URLs.
const (
	kernelName    = "vmlinuz"
	initramfsName = "initramfs.img"
	rootfsName    = "rootfs.img"
	scriptName    = "boot.ipxe"
)

// route classifies the request by its raw path: "healthz", "image",
// "pxe" (file being the PXE file's name) or "ipxe", with the host name
// and token, or "" for anything else.
func (h *Handler) route(r *http.Request) (route, name, token, file string) {
	p := r.URL.EscapedPath()
	if p == "/healthz" {
		return "healthz", "", "", ""
	}
	rest, ok := strings.CutPrefix(p, "/hosts/")
	if !ok {
		return "", "", "", ""
	}
	if h.opts.RequireToken {
		token, rest, ok = strings.Cut(rest, "/")
		if !ok || !validToken(token) {
			return "", "", "", ""
		}
	}
	route = "image"
	name, ok = strings.CutSuffix(rest, ".iso")
	if !ok || strings.Contains(name, "/") {
		var sub string
		name, sub, _ = strings.Cut(rest, "/")
		switch sub {
		case "pxe/" + kernelName, "pxe/" + initramfsName, "pxe/" + rootfsName:
			route, file = "pxe", strings.TrimPrefix(sub, "pxe/")
		case scriptName:
			route = "ipxe"
		default:
			return "", "", "", ""
		}
	}
	if inventory.CheckName(name) != nil {
		return "", "", "", ""
	}
	return route, name, token, file
}

// validToken accepts what inventory.CheckToken does.
func validToken(t string) bool { return inventory.CheckToken(t) == nil }

func getOrHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
	return false
}

func notFound(w http.ResponseWriter) {
	http.Error(w, strings.TrimSuffix(notFoundBody, "\n"), http.StatusNotFound)
}

// serveHost answers the routes of one host: its image, a PXE file or its
// iPXE script.
func (h *Handler) serveHost(w *recorder, r *http.Request, route, name, token, file string) {
	h.active.Add(1)
	defer h.active.Add(-1)
	img, err := h.opts.Lookup(r.Context(), name)
	if err == nil && img.Release != nil {
		defer img.Release()
	}
	if errors.Is(err, ErrNotFound) {
		notFound(w)
		return
	}
	if err != nil {
		w.err = err
		http.Error(w, "500 internal server error", http.StatusInternalServerError)
		return
	}
	if h.opts.RequireToken {
		// Constant time, and the same answer as for an unknown host.
		if img.Token == "" || subtle.ConstantTimeCompare([]byte(img.Token), []byte(token)) != 1 {
			notFound(w)
			return
		}
	}
	var (
		content  io.ReadSeeker
		etag     string
		filename string
	)
	switch route {
	case "image":
		ov := img.Overlay
		content, etag, filename = &imageReader{io.NewSectionReader(ov, 0, ov.Size()), ov}, img.ETag, name+".iso"
	case "pxe":
		var f File
		if img.PXE != nil {
			switch file {
			case kernelName:
				f = img.PXE.Kernel
			case initramfsName:
				f = img.PXE.Initramfs
			case rootfsName:
				f = img.PXE.Rootfs
			}
		}
		if f.R == nil {
			notFound(w)
			return
		}
		content, etag, filename = io.NewSectionReader(f.R, 0, f.Size), f.ETag, name+"-"+file
	case "ipxe":
		if img.PXE == nil || img.PXE.Kernel.R == nil || img.PXE.Initramfs.R == nil {
			notFound(w)
			return
		}
		script, err := h.script(r, img.PXE, name, token)
		if err != nil {
			w.err = err
			code := http.StatusInternalServerError
			if errors.Is(err, errBadHost) {
				code = http.StatusBadRequest
			}
			http.Error(w, fmt.Sprintf("%d %s", code, strings.ToLower(http.StatusText(code))), code)
			return
		}
		sum := sha256.Sum256(script)
		hd := w.Header()
		hd.Set("Content-Type", "text/plain; charset=utf-8")
		hd.Set("Cache-Control", "private, no-cache")
		hd.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
		http.ServeContent(w, r, scriptName, img.ModTime, bytes.NewReader(script))
		return
	}
	if r.Method == http.MethodGet {
		if !h.acquire(r.Context()) {
			w.Header().Set("Retry-After", "5")
			http.Error(w, "503 too many downloads at once; retry later", http.StatusServiceUnavailable)
			return
		}
		defer func() { <-h.slots }()
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	hd.Set("Cache-Control", "private, no-transform")
	if etag != "" {
		hd.Set("ETag", etag)
	}
	http.ServeContent(w, r, filename, img.ModTime, content)
}

// errBadHost is the error of a request whose Host header cannot go into
// a URL of the iPXE script.
var errBadHost = errors.New("the Host header is not a plain host name or address with an optional port")

// script returns the iPXE script of a host, with absolute URLs made from
// the request.
func (h *Handler) script(r *http.Request, p *PXE, name, token string) ([]byte, error) {
	if !validHost(r.Host) {
		return nil, errBadHost
	}
	// iPXE expands ${...} in every command and ends a command at a line
	// break: kernel arguments holding them would change the script.
	if strings.ContainsAny(p.Kargs, "\r\n") || strings.Contains(p.Kargs, "${") {
		return nil, errors.New("the kernel arguments hold a line break or ${, which iPXE would interpret")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + r.Host + "/hosts/"
	if h.opts.RequireToken {
		base += token + "/"
	}
	base += name + "/pxe/"
	args := []string{"initrd=main"}
	if p.Rootfs.R != nil {
		args = append(args, "coreos.live.rootfs_url="+base+rootfsName)
	}
	if k := strings.TrimSpace(p.Kargs); k != "" {
		args = append(args, k)
	}
	var b bytes.Buffer
	b.WriteString("#!ipxe\n")
	fmt.Fprintf(&b, "kernel %s%s %s\n", base, kernelName, strings.Join(args, " "))
	fmt.Fprintf(&b, "initrd --name main %s%s\n", base, initramfsName)
	b.WriteString("boot\n")
	return b.Bytes(), nil
}

// validHost accepts a Host header of a DNS name or IPv4 address
// (letters, digits, dots, hyphens), or an IPv6 address in brackets, with
// an optional :PORT: nothing that could end a URL or an iPXE argument.
func validHost(host string) bool {
	const hexColon = "0123456789abcdefABCDEF:."
	const dnsChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 2 || !onlyOf(host[1:end], hexColon) {
			return false
		}
		rest := host[end+1:]
		if rest == "" {
			return true
		}
		port, ok := strings.CutPrefix(rest, ":")
		return ok && validPort(port)
	}
	name := host
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		if !validPort(host[i+1:]) {
			return false
		}
		name = host[:i]
	}
	return name != "" && len(name) <= 253 && name[0] != '-' && name[0] != '.' && onlyOf(name, dnsChars)
}

func validPort(p string) bool { return p != "" && len(p) <= 5 && onlyOf(p, "0123456789") }

func onlyOf(s, chars string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(chars, s[i]) < 0 {
			return false
		}
	}
	return true
}

// acquire takes a stream slot, waiting at most QueueTimeout.
func (h *Handler) acquire(ctx context.Context) bool {
	select {
	case h.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(h.opts.QueueTimeout)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// recorder keeps the status and the body size of a response for the log.
type recorder struct {
	http.ResponseWriter
	code int
	n    int64
	err  error
}

func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	n, err := r.ResponseWriter.Write(p)
	r.n += int64(n)
	return n, err
}

// ReadFrom keeps the underlying writer's fast path (io.Copy prefers it).
// An image's body (ServeContent copies its content limited to the range)
// goes piece by piece, so that the base image's stretches reach the
// connection's ReadFrom as files, which it sends with sendfile(2).
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if lr, ok := src.(*io.LimitedReader); ok {
		if ir, ok := lr.R.(*imageReader); ok {
			n, err := r.sendImage(ir, lr.N)
			lr.N -= n
			return n, err
		}
	}
	return r.readFrom(src)
}

// readFrom copies src with the underlying writer's ReadFrom, if it has one.
func (r *recorder) readFrom(src io.Reader) (int64, error) {
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		n, err := rf.ReadFrom(src)
		r.n += n
		return n, err
	}
	n, err := io.Copy(writerOnly{r}, src)
	return n, err
}

// imageReader is the content of an image response: the overlay as an
// io.ReadSeeker for ServeContent, which recorder.ReadFrom recognizes.
type imageReader struct {
	*io.SectionReader
	ov *overlay.Image
}

// sendImage writes the n bytes of ir from its current position, patches
// as bytes and stretches of a base or extent file through readFrom as a
// limited *os.File (so that a TCP connection sends them with sendfile),
// and advances ir's position by what it wrote. The file is opened again
// for the request, since sendfile reads at the file's own position, which
// concurrent requests must not share; a file that is no longer the one
// the overlay reads (replaced under its name) is read through the
// overlay's reader instead.
func (r *recorder) sendImage(ir *imageReader, n int64) (int64, error) {
	pos, err := ir.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	var sent int64
	own := map[*os.File]*os.File{}
	defer func() {
		for _, f := range own {
			if f != nil {
				f.Close()
			}
		}
	}()
	for _, p := range ir.ov.Pieces(pos, n) {
		var k int64
		var err error
		if p.Data != nil {
			var m int
			m, err = r.Write(p.Data)
			k = int64(m)
		} else if p.File != nil && ownFile(own, p.File) != nil {
			g := own[p.File]
			if _, err = g.Seek(p.FileOff, io.SeekStart); err == nil {
				k, err = r.readFrom(io.LimitReader(g, p.N))
			}
		} else {
			k, err = r.readFrom(io.NewSectionReader(p.R, p.ROff, p.N))
		}
		sent += k
		if _, serr := ir.Seek(k, io.SeekCurrent); err == nil {
			err = serr
		}
		if err == nil && k < p.N {
			err = fmt.Errorf("image bytes %d to %d: %w (did the base image shrink?)", p.Off+k, p.Off+p.N, io.ErrUnexpectedEOF)
		}
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// ownFile returns the request's own descriptor of f's file, opening it on
// first use; nil (remembered) when the file at f's name is not f's file.
func ownFile(own map[*os.File]*os.File, f *os.File) *os.File {
	if g, seen := own[f]; seen {
		return g
	}
	var g *os.File
	if st, err := f.Stat(); err == nil {
		if h, err := os.Open(f.Name()); err == nil {
			if hst, err := h.Stat(); err == nil && os.SameFile(st, hst) {
				g = h
			} else {
				h.Close()
			}
		}
	}
	own[f] = g
	return g
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

type writerOnly struct{ io.Writer }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// sampleSize is how much of each end of the base BaseIdentity hashes.
const sampleSize = 1 << 20

// BaseIdentity returns a short string that stands for the bytes of a base
// image of size bytes, read through r, last modified at modTime: a hash of
// the size, the modification time (to the nanosecond) and the first and
// last MiB. It reads at most 2 MiB, so it is cheap enough to check before
// every request. An ordinary change of the file (a write, or a replacement
// by another file) changes the modification time; a replacement that keeps
// it (cp -p, rsync -t) almost always changes the ends, which hold the ISO
// 9660 volume descriptors with their creation time and volume ID, the
// boot catalogue and the GPT backup header. The inode is left out on
// purpose: every replica reading the same file, or a copy with its time
// kept, gets the same identity, so that ETags agree across replicas.
// A caller that knows the base's SHA-256 (from a verified download) can use
// that instead.
func BaseIdentity(r io.ReaderAt, size int64, modTime time.Time) (string, error) {
	h := sha256.New()
	var hdr [16]byte
	binary.BigEndian.PutUint64(hdr[:8], uint64(size))
	binary.BigEndian.PutUint64(hdr[8:], uint64(modTime.UnixNano()))
	h.Write(hdr[:])
	head := min(size, sampleSize)
	if err := hashRange(h, r, 0, head); err != nil {
		return "", err
	}
	if tail := max(head, size-sampleSize); tail < size {
		if err := hashRange(h, r, tail, size-tail); err != nil {
			return "", err
		}
	}
	return "base-" + hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// Fingerprint hashes what the overlay changes in its base: its sizes,
// every patched range with its bytes and every appended byte. Two overlays
// of the same base with equal fingerprints have the same bytes. It reads
// the patches and the appended data, so callers compute it once per host
// (not per request).
func Fingerprint(ov *overlay.Image) (string, error) {
	h := sha256.New()
	var num [8]byte
	put := func(v int64) {
		binary.BigEndian.PutUint64(num[:], uint64(v))
		h.Write(num[:])
	}
	put(ov.BaseSize())
	put(ov.Size())
	for _, rg := range ov.Patched() {
		put(rg.Offset)
		put(rg.Length)
		if err := hashRange(h, ov, rg.Offset, rg.Length); err != nil {
			return "", err
		}
	}
	if err := hashRange(h, ov, ov.BaseSize(), ov.Size()-ov.BaseSize()); err != nil {
		return "", err
	}
	return "custom-" + hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// ETag returns the strong entity tag of an image from its base identity and
// its overlay's fingerprint.
func ETag(baseIdentity, fingerprint string) string {
	sum := sha256.Sum256([]byte(baseIdentity + "\x00" + fingerprint))
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

func hashRange(w io.Writer, r io.ReaderAt, off, n int64) error {
	if n <= 0 {
		return nil
	}
	got, err := io.Copy(w, io.NewSectionReader(r, off, n))
	if err == nil && got < n {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("reading %d bytes at offset %d: %w", n, off, err)
	}
	return nil
}
