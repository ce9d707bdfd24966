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
	"strings"
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
  GET|HEAD /hosts/TOKEN/NAME.iso   the same with --require-token, TOKEN
                                   being the host's token: field
  GET /healthz                     200 once the server runs

Every other path, an unknown host and a wrong token get the same 404: the
server lists no hosts anywhere. Each request is logged to standard error
as a JSON line (tokens are not logged). SIGINT or SIGTERM stop the server
gracefully: it stops accepting connections and lets downloads in flight
finish for up to --shutdown-timeout. To serve a changed inventory or base
image, restart the server; while it runs, a base image changed in place
makes the image requests fail (500) rather than serve mixed bytes.`

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
	f.BoolVar(&o.requireToken, "require-token", false, "serve a host only at /hosts/TOKEN/NAME.iso, TOKEN being its token: field in the inventory (every host needs one)")
	f.IntVar(&o.maxStreams, "max-streams", 64, "stream at most `N` images at once; more GETs wait up to 10 seconds, then get 503")
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
	fp, err := planFleet(ctx, s, o.build, isoPath, "")
	if err != nil {
		return err
	}
	defer fp.close()
	if o.requireToken {
		var missing []string
		for _, b := range fp.builds {
			if b.host.Token == "" {
				missing = append(missing, b.host.Name)
			}
		}
		if len(missing) > 0 {
			return usageHint("give every host a token: field of at least 16 random characters (openssl rand -hex 16 makes one)",
				"--require-token: %d host(s) have no token: %s", len(missing), strings.Join(missing, ", "))
		}
	}
	st, err := fp.base.Stat()
	if err != nil {
		return fmt.Errorf("%s: %w", isoPath, err)
	}
	id, err := serve.BaseIdentity(fp.base.File, st.Size(), st.ModTime())
	if err != nil {
		return fmt.Errorf("%s: %w", isoPath, err)
	}
	// Last-Modified: the base's time, or the start of the server when
	// later, since the customization (inventory, template, inputs) may
	// have changed since the previous run; a client that resumes with a
	// date in If-Range must not get ranges of another image.
	modTime := st.ModTime()
	if now := time.Now().Truncate(time.Second); now.After(modTime) {
		modTime = now
	}
	images := make(map[string]serve.Image, len(fp.builds))
	for _, b := range fp.builds {
		custom, err := serve.Fingerprint(b.ov)
		if err != nil {
			return fmt.Errorf("host %s: %w", b.host.Name, err)
		}
		images[b.host.Name] = serve.Image{Overlay: b.ov, ETag: serve.ETag(id, custom), ModTime: modTime, Token: b.host.Token}
	}
	lookup := func(ctx context.Context, name string) (serve.Image, error) {
		img, ok := images[name]
		if !ok {
			return serve.Image{}, serve.ErrNotFound
		}
		// The overlays read the base file: one changed in place would
		// give bytes that match neither the old ETag nor any image.
		cur, err := fp.base.Stat()
		if err != nil {
			return serve.Image{}, fmt.Errorf("%s: %w", isoPath, err)
		}
		if cur.Size() != st.Size() || !cur.ModTime().Equal(st.ModTime()) {
			return serve.Image{}, fmt.Errorf("%s changed since the server started: restart it to serve the new image", isoPath)
		}
		return img, nil
	}
	logger := slog.New(slog.NewJSONHandler(s.err, nil))
	handler := serve.New(serve.Options{Lookup: lookup, RequireToken: o.requireToken, MaxStreams: o.maxStreams, Logger: logger})
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
	fmt.Fprintf(s.out, "Serving %d hosts from %s at %s://%s%s\n", len(images), isoPath, scheme, ln.Addr(), path)
	if s.out.err != nil {
		ln.Close()
		return fmt.Errorf("writing to standard output: %w", s.out.err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
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
