package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/isobuild/isobuild/pkg/serve"
)

const serveLong = `Serve a customized live ISO for every host of an inventory over HTTP, as
BMC virtual media (Redfish InsertMedia and the vendors' equivalents) and
HTTP boot clients fetch them.

The inventory (--hosts, hosts.yaml) and the Butane template (--butane) are
those of "isobuild build --hosts": every host's image is planned the same
way, and every byte served equals the file that build --hosts writes for
the host. No image is written to disk: each request streams the base image
with the host's customization in place.

  GET|HEAD /hosts/NAME.iso         the host's image (ranges, If-Range, ETag)
  GET|HEAD /hosts/NAME/pxe/vmlinuz
  GET|HEAD /hosts/NAME/pxe/initramfs.img
  GET|HEAD /hosts/NAME/pxe/rootfs.img
                                   the host's PXE files, read from the base
                                   image; the initramfs with the host's
                                   customization appended as "isobuild pxe
                                   customize" appends it (Flatcar: the
                                   host's extra initramfs; no rootfs.img)
  GET|HEAD /hosts/NAME/boot.ipxe   an iPXE script that boots them, by URLs
                                   made from the request's Host header,
                                   with the host's live kernel arguments
  GET|HEAD /hosts/TOKEN/NAME.iso   the same with --require-token, TOKEN
  (and /hosts/TOKEN/NAME/...)      being the host's token: field
  GET /healthz                     200 once the server runs

Every other path, an unknown host and a wrong token get the same 404: the
server lists no hosts anywhere. Each request is logged to standard error
as a JSON line (tokens are not logged). SIGINT or SIGTERM stop the server
gracefully: it stops accepting connections and lets downloads in flight
finish for up to --shutdown-timeout.

SIGHUP reloads: the inventory, the template, the other inputs and the base
image are read again and every host's image planned again; when every host
plans without error, the new images are served from then on (downloads in
flight finish with the old ones, and a changed image gets a new ETag),
otherwise the error is logged and the server keeps serving what it served.
A base image changed in place and not reloaded makes the image requests
fail (500) rather than serve mixed bytes. (Windows has no SIGHUP: restart
the server there.)`

const serveExample = `  # Serve every host of hosts.yaml on port 8080:
  isobuild serve --listen :8080 --butane fleet.bu --hosts hosts.yaml \
      fedora-coreos-live.x86_64.iso

  # HTTPS, and URLs that carry each host's token:
  isobuild serve --listen :8443 --tls-cert cert.pem --tls-key key.pem \
      --require-token --butane fleet.bu --hosts hosts.yaml base.iso`

type serveOptions struct {
	build           buildOptions
	listen          string
	tlsCert, tlsKey string
	requireToken    bool
	maxStreams      int
	shutdownTimeout time.Duration
}

func newServeCmd(s *streams) *cobra.Command {
	var o serveOptions
	var offline bool
	c := &cobra.Command{
		Use:     "serve --listen ADDR --butane T.bu --hosts hosts.yaml [options] ISO",
		Short:   "Serve per-host customized ISOs over HTTP, generated on the fly",
		Long:    serveLong,
		Example: serveExample,
		Args:    exactArgs(1, "one base ISO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			base, err := s.baseImage(cmd.Context(), args[0], offline)
			if err != nil {
				return err
			}
			return runServe(cmd.Context(), s, o, base)
		},
	}
	f := c.Flags()
	f.StringVar(&o.listen, "listen", "", "listen on `ADDR` (HOST:PORT, or :PORT for every address; required)")
	f.StringVar(&o.build.hosts, "hosts", "", "inventory `FILE` (hosts.yaml; - for stdin): the hosts to serve (required)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with the certificate chain in `FILE` (PEM; with --tls-key)")
	f.StringVar(&o.tlsKey, "tls-key", "", "the private key of --tls-cert, in `FILE` (PEM)")
	f.BoolVar(&o.requireToken, "require-token", false, "serve a host only under /hosts/TOKEN/ (TOKEN/NAME.iso, TOKEN/NAME/pxe/..., TOKEN/NAME/boot.ipxe), TOKEN being its token: field in the inventory (every host needs one)")
	f.IntVar(&o.maxStreams, "max-streams", 64, "stream at most `N` images and PXE files at once; more GETs wait up to 10 seconds, then get 503")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGINT or SIGTERM, let downloads in flight finish for up to `DURATION`")
	f.BoolVar(&offline, "offline", false, "with a base image reference (fedora-coreos:STREAM, flatcar:CHANNEL): use the cached image, verified, without network access")
	addBuildInputFlags(f, &o.build)
	return c
}

// runServe plans every host's image and serves them until ctx ends.
func runServe(ctx context.Context, s *streams, o serveOptions, isoPath string) error {
	switch {
	case o.listen == "":
		return usageHint("give the address to listen on, such as --listen :8080 (every address) or --listen 127.0.0.1:8080",
			"--listen is required")
	case o.build.hosts == "":
		return usageError{errors.New("--hosts is required: the inventory of the hosts to serve")}
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return usageError{errors.New("--tls-cert and --tls-key go together")}
	case o.maxStreams < 1:
		return usageError{fmt.Errorf("--max-streams %d: at least 1", o.maxStreams)}
	}
	if err := checkFleetOptions(o.build); err != nil {
		return err
	}
	var tlsConfig *tls.Config
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return fmt.Errorf("--tls-cert, --tls-key: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	// SIGHUP reloads instead of stopping (main's stop signals include
	// it): Reset takes it from main's channels, then only this one gets
	// it, until serve returns. A SIGHUP that comes while the first plan
	// is made reloads once the server runs.
	hup := make(chan os.Signal, 1)
	signal.Reset(syscall.SIGHUP)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	logger := slog.New(slog.NewJSONHandler(s.err, nil))
	fleet := &fleetServer{s: s, o: o, isoPath: isoPath}
	first, err := fleet.load(ctx, nil)
	if err != nil {
		return err
	}
	fleet.cur.Store(first)
	defer func() { fleet.cur.Load().retire() }()
	logPXENote(ctx, logger, first)
	handler := serve.New(serve.Options{Lookup: fleet.lookup, RequireToken: o.requireToken, MaxStreams: o.maxStreams, Logger: logger})
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", o.listen, err)
	}
	srv := &http.Server{
		Handler:           handler,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(slogWriter{logger}, "", 0),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
		ln = tls.NewListener(ln, tlsConfig)
	}
	path := "/hosts/NAME.iso"
	if o.requireToken {
		path = "/hosts/TOKEN/NAME.iso"
	}
	fmt.Fprintf(s.out, "Serving %d hosts from %s at %s://%s%s\n", len(first.images), isoPath, scheme, ln.Addr(), path)
	if s.out.err != nil {
		ln.Close()
		return fmt.Errorf("writing to standard output: %w", s.out.err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
serving:
	for {
		select {
		case err := <-served:
			return fmt.Errorf("serving: %w", err)
		case <-hup:
			fleet.reload(ctx, logger)
		case <-ctx.Done():
			break serving
		}
	}
	// Graceful: no new connections; the downloads in flight may finish.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if err != nil {
		srv.Close()
	}
	<-served
	fmt.Fprintf(s.err, "isobuild serve: stopped (%v)\n", context.Cause(ctx))
	if err != nil {
		logger.Warn("shutdown", slog.String("error", "downloads still running were cut: "+err.Error()))
	}
	return nil
}

// slogWriter logs the http.Server's own messages (TLS handshake errors and
// the like) as records.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn("http", slog.String("message", strings.TrimSpace(string(p))))
	return len(p), nil
}

// fleetServer holds what serve serves: the table of the hosts' images,
// replaced as a whole on SIGHUP.
type fleetServer struct {
	s       *streams
	o       serveOptions
	isoPath string
	cur     atomic.Pointer[serveTable]
}

// serveTable is every host's image as planned from the inventory, the
// template and the base image as they were when loaded. It stays open
// while requests use it, also after a reload replaced it.
type serveTable struct {
	images  map[string]serve.Image
	fp      *fleetPlan
	st      os.FileInfo // the base's, when loaded
	modTime time.Time   // the latest Last-Modified of the images
	pxeNote string      // why PXE files are missing, if some are
	mu      sync.Mutex
	refs    int  // requests using the table
	retired bool // replaced: closed once refs drops to 0
}

// acquire takes a reference for a request, unless the table is retired.
func (t *serveTable) acquire() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.retired {
		return false
	}
	t.refs++
	return true
}

func (t *serveTable) release() {
	t.mu.Lock()
	t.refs--
	done := t.retired && t.refs == 0
	t.mu.Unlock()
	if done {
		t.fp.close()
	}
}

// retire closes the table once no request uses it any more.
func (t *serveTable) retire() {
	t.mu.Lock()
	t.retired = true
	done := t.refs == 0
	t.mu.Unlock()
	if done {
		t.fp.close()
	}
}

// load plans every host's image again (inventory, template and base image
// read anew) into a table. prev is the table served so far, if any: a
// host whose image is unchanged keeps its Last-Modified, and a changed
// one gets a later time than any of prev's.
func (fs *fleetServer) load(ctx context.Context, prev *serveTable) (_ *serveTable, err error) {
	o, isoPath := fs.o, fs.isoPath
	fp, err := planFleet(ctx, fs.s, o.build, isoPath, "")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			fp.close()
		}
		// Planning's garbage goes back to the system: a server's memory
		// while it streams is the plans it keeps, not the peak of making
		// them.
		debug.FreeOSMemory()
	}()
	if o.requireToken {
		var missing []string
		for _, b := range fp.builds {
			if b.host.Token == "" {
				missing = append(missing, b.host.Name)
			}
		}
		if len(missing) > 0 {
			return nil, usageHint("give every host a token: field of at least 16 random characters (openssl rand -hex 16 makes one)",
				"--require-token: %d host(s) have no token: %s", len(missing), strings.Join(missing, ", "))
		}
	}
	st, err := fp.base.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", isoPath, err)
	}
	id, err := serve.BaseIdentity(fp.base.File, st.Size(), st.ModTime())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", isoPath, err)
	}
	// Last-Modified: the base's time, or the time of loading when
	// later, since the customization (inventory, template, inputs) may
	// have changed since the previous run; a client that resumes with a
	// date in If-Range must not get ranges of another image.
	modTime := st.ModTime()
	if now := time.Now().Truncate(time.Second); now.After(modTime) {
		modTime = now
	}
	if prev != nil && !modTime.After(prev.modTime) {
		// If-Range dates have a resolution of a second.
		modTime = prev.modTime.Add(time.Second)
	}
	customs := make([]string, len(fp.builds))
	for i, b := range fp.builds {
		if customs[i], err = serve.Fingerprint(b.ov); err != nil {
			return nil, fmt.Errorf("host %s: %w", b.host.Name, err)
		}
	}
	pxeFiles, note, err := planPXE(ctx, fp, id, customs)
	if err != nil {
		return nil, err
	}
	t := &serveTable{images: make(map[string]serve.Image, len(fp.builds)), fp: fp, st: st, modTime: modTime, pxeNote: note}
	for i, b := range fp.builds {
		img := serve.Image{Overlay: b.ov, ETag: serve.ETag(id, customs[i]), ModTime: modTime, Token: b.host.Token, PXE: pxeFiles[b.host.Name]}
		if old, ok := prev.image(b.host.Name); ok && old.ETag == img.ETag {
			img.ModTime = old.ModTime
		}
		t.images[b.host.Name] = img
	}
	return t, nil
}

// image returns the image of a host in t, which may be nil.
func (t *serveTable) image(name string) (serve.Image, bool) {
	if t == nil {
		return serve.Image{}, false
	}
	img, ok := t.images[name]
	return img, ok
}

// reload loads the table again and serves it instead of the current one,
// which the requests in flight keep until they end; on any error the
// current table stays, and the error is logged.
func (fs *fleetServer) reload(ctx context.Context, logger *slog.Logger) {
	start := time.Now()
	old := fs.cur.Load()
	t, err := fs.load(ctx, old)
	if err != nil {
		msg, hint := describe(err)
		attrs := []slog.Attr{slog.String("error", msg), slog.Int("hosts", len(old.images)), slog.String("kept", "the previous inventory and base image")}
		if hint != "" {
			attrs = append(attrs, slog.String("hint", hint))
		}
		logger.LogAttrs(ctx, slog.LevelError, "reload failed", attrs...)
		return
	}
	changed := 0
	for name, img := range t.images {
		if o, ok := old.images[name]; !ok || o.ETag != img.ETag {
			changed++
		}
	}
	removed := 0
	for name := range old.images {
		if _, ok := t.images[name]; !ok {
			removed++
		}
	}
	fs.cur.Store(t)
	old.retire()
	logPXENote(ctx, logger, t)
	logger.LogAttrs(ctx, slog.LevelInfo, "reloaded", slog.Int("hosts", len(t.images)), slog.Int("changed", changed),
		slog.Int("removed", removed), slog.Duration("duration", time.Since(start)))
}

// logPXENote logs why a table has no PXE files, if it has none.
func logPXENote(ctx context.Context, logger *slog.Logger, t *serveTable) {
	if t.pxeNote != "" {
		logger.LogAttrs(ctx, slog.LevelWarn, "PXE files", slog.String("note", t.pxeNote))
	}
}

// lookup finds a host's image in the current table; the image holds a
// reference on the table until the handler releases it.
func (fs *fleetServer) lookup(ctx context.Context, name string) (serve.Image, error) {
	var t *serveTable
	for {
		if t = fs.cur.Load(); t.acquire() {
			break
		}
	}
	img, ok := t.images[name]
	if !ok {
		t.release()
		return serve.Image{}, serve.ErrNotFound
	}
	// The overlays read the base file: one changed in place would give
	// bytes that match neither the old ETag nor any image.
	cur, err := t.fp.base.Stat()
	if err == nil && (cur.Size() != t.st.Size() || !cur.ModTime().Equal(t.st.ModTime())) {
		err = errors.New("changed since the server loaded it: send the server SIGHUP (kill -HUP PID) to serve the new image, with new ETags")
	}
	if err != nil {
		t.release()
		return serve.Image{}, fmt.Errorf("%s: %w", fs.isoPath, err)
	}
	img.Release = t.release
	return img, nil
}
