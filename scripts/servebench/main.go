// Command servebench is the harness of scripts/bench-serve.sh. It has
// four subcommands:
//
//	servebench serve -butane T.bu -hosts hosts.yaml BASE
//	    Plans every host's image from BASE with the planner calls of
//	    "isobuild build --hosts" and "isobuild serve" (inventory → Butane
//	    → embed → overlay) and serves, in this one process, on a loopback
//	    port that it prints:
//	      /hosts/NAME.iso  the host's image, through package serve's
//	                       Handler, set up as "isobuild serve" sets it up;
//	      /base.iso        the plain base file, through http.ServeContent
//	                       of an *os.File opened per request (what
//	                       http.FileServer does), the reference.
//	servebench get -n N -size BYTES [-cmp FILE] URL
//	    N concurrent full GETs of URL; each must be a 200 of BYTES bytes
//	    (equal to FILE's with -cmp). Prints the wall time in seconds and
//	    the bytes received.
//	servebench ttfb -n N URL
//	    N GETs of URL one after another, each on a new connection, each
//	    abandoned after the first byte of the body. Prints each one's time
//	    from the request to that byte, in milliseconds.
//	servebench render -butane T.bu -hosts hosts.yaml NAME
//	    Prints the template rendered for host NAME (the Butane config a
//	    single "isobuild build" of that host takes).
//
// The clients run in their own process so that the servers' CPU and
// memory figures hold none of the clients' work.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/isobuild/isobuild/internal/imagefile"
	"github.com/isobuild/isobuild/pkg/butane"
	"github.com/isobuild/isobuild/pkg/embed"
	"github.com/isobuild/isobuild/pkg/installer"
	"github.com/isobuild/isobuild/pkg/inventory"
	"github.com/isobuild/isobuild/pkg/overlay"
	"github.com/isobuild/isobuild/pkg/remaster"
	"github.com/isobuild/isobuild/pkg/serve"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = runServe(os.Args[2:])
	case "get":
		err = runGet(os.Args[2:])
	case "ttfb":
		err = runTTFB(os.Args[2:])
	case "render":
		err = runRender(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "servebench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: servebench serve|get|ttfb|render [flags] ARG (see the package documentation)")
	os.Exit(2)
}

// fleet reads the inventory and the template.
func fleet(hostsPath, butanePath string) (*inventory.Inventory, *inventory.Template, error) {
	data, err := os.ReadFile(hostsPath)
	if err != nil {
		return nil, nil, err
	}
	inv, err := inventory.Parse(hostsPath, data)
	if err != nil {
		return nil, nil, err
	}
	src, err := os.ReadFile(butanePath)
	if err != nil {
		return nil, nil, err
	}
	tmpl, err := inventory.ParseTemplate(butanePath, src)
	if err != nil {
		return nil, nil, err
	}
	return inv, tmpl, nil
}

func runRender(args []string) error {
	fs := flag.NewFlagSet("render", flag.ExitOnError)
	hostsPath := fs.String("hosts", "", "inventory")
	butanePath := fs.String("butane", "", "template")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return errors.New("give one host name")
	}
	inv, tmpl, err := fleet(*hostsPath, *butanePath)
	if err != nil {
		return err
	}
	h, ok := inv.Lookup(fs.Arg(0))
	if !ok {
		return fmt.Errorf("no host %s in %s", fs.Arg(0), *hostsPath)
	}
	out, err := tmpl.Render(h)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}

// planHost plans one host's image as cmd/isobuild's planFleet and
// planCoreOS do for a build --hosts without other options: the rendered
// template translated from Butane as the live config, the host's kargs
// appended, the karg areas reset otherwise, the initrd area grown when
// the config does not fit. scripts/bench-serve.sh checks that the bytes
// served equal build --hosts' output for the host, so a change in the CLI's
// planning that this does not follow fails the benchmark instead of
// measuring another image.
func planHost(im *embed.Image, butaneName string, rendered []byte, h inventory.Host) (*overlay.Image, error) {
	ign, _, err := butane.Translate(butaneName, rendered, butane.Options{})
	if err != nil {
		return nil, err
	}
	install := installer.Options{Generator: "isobuild build", LiveConfig: &installer.Input{Name: butaneName, Data: ign}}
	c, _, err := im.Customize(embed.Customization{Install: install, Kargs: embed.KargsEdit{Append: h.Kargs}, ResetKargs: true})
	if err != nil {
		return nil, err
	}
	c.Grow = true
	c.Description = remaster.Description{Generator: "isobuild build", OS: "coreos"}
	return im.Overlay(c)
}

func runServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	hostsPath := fs.String("hosts", "", "inventory")
	butanePath := fs.String("butane", "", "template")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return errors.New("give the base image")
	}
	basePath := fs.Arg(0)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	inv, tmpl, err := fleet(*hostsPath, *butanePath)
	if err != nil {
		return err
	}
	// As isobuild serve opens it: read-only, under a shared lock.
	f, err := imagefile.Open(ctx, basePath, imagefile.Read, imagefile.Options{})
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	im, err := embed.Open(f.File, st.Size())
	if err != nil {
		return err
	}
	id, err := serve.BaseIdentity(f.File, st.Size(), st.ModTime())
	if err != nil {
		return err
	}
	modTime := st.ModTime()
	if now := time.Now().Truncate(time.Second); now.After(modTime) {
		modTime = now
	}
	images := make(map[string]serve.Image, len(inv.Hosts))
	for _, h := range inv.Hosts {
		rendered, err := tmpl.Render(h)
		if err != nil {
			return err
		}
		ov, err := planHost(im, *butanePath, rendered, h)
		if err != nil {
			return fmt.Errorf("host %s: %w", h.Name, err)
		}
		custom, err := serve.Fingerprint(ov)
		if err != nil {
			return err
		}
		images[h.Name] = serve.Image{Overlay: ov, ETag: serve.ETag(id, custom), ModTime: modTime, Token: h.Token}
	}
	// The same lookup as isobuild serve's, with its check of the base
	// before every request.
	lookup := func(ctx context.Context, name string) (serve.Image, error) {
		img, ok := images[name]
		if !ok {
			return serve.Image{}, serve.ErrNotFound
		}
		cur, err := f.Stat()
		if err != nil {
			return serve.Image{}, err
		}
		if cur.Size() != st.Size() || !cur.ModTime().Equal(st.ModTime()) {
			return serve.Image{}, fmt.Errorf("%s changed", basePath)
		}
		return img, nil
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	hosts := serve.New(serve.Options{Lookup: lookup, MaxStreams: 64, Logger: logger})
	plainModTime := st.ModTime()
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/base.iso" {
			hosts.ServeHTTP(w, r)
			return
		}
		// The reference: a plain file, opened per request as
		// http.FileServer does, so that ServeContent's copy reaches
		// sendfile(2).
		g, err := os.Open(basePath)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer g.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, filepath.Base(basePath), plainModTime, g)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Printf("%s\n", ln.Addr())
	os.Stdout.Sync()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return nil
}

func client(n int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DisableCompression:  true,
		MaxIdleConnsPerHost: n,
		ReadBufferSize:      64 << 10,
	}}
}

func runGet(args []string) error {
	fs := flag.NewFlagSet("get", flag.ExitOnError)
	n := fs.Int("n", 16, "concurrent downloads")
	size := fs.Int64("size", -1, "expected size of each body")
	cmpPath := fs.String("cmp", "", "file every body must equal")
	fs.Parse(args)
	if fs.NArg() != 1 || *size < 0 {
		return errors.New("give -size and one URL")
	}
	url := fs.Arg(0)
	var ref *os.File
	if *cmpPath != "" {
		var err error
		if ref, err = os.Open(*cmpPath); err != nil {
			return err
		}
		defer ref.Close()
	}
	c := client(*n)
	errs := make(chan error, *n)
	var total int64
	var mu sync.Mutex
	start := time.Now()
	for range *n {
		go func() {
			got, err := fetch(c, url, ref)
			if err == nil && got != *size {
				err = fmt.Errorf("%s: %d bytes, want %d", url, got, *size)
			}
			mu.Lock()
			total += got
			mu.Unlock()
			errs <- err
		}()
	}
	var first error
	for range *n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	elapsed := time.Since(start)
	if first != nil {
		return first
	}
	fmt.Printf("%.6f %d\n", elapsed.Seconds(), total)
	return nil
}

// fetch GETs url, reading the body in 1 MiB reads, compared with ref when
// it is not nil.
func fetch(c *http.Client, url string, ref *os.File) (int64, error) {
	res, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", url, res.Status)
	}
	buf := make([]byte, 1<<20)
	var want []byte
	if ref != nil {
		want = make([]byte, len(buf))
	}
	var off int64
	for {
		k, err := res.Body.Read(buf)
		if k > 0 && ref != nil {
			if _, rerr := ref.ReadAt(want[:k], off); rerr != nil && !(errors.Is(rerr, io.EOF)) {
				return off, rerr
			} else if rerr != nil || !bytes.Equal(buf[:k], want[:k]) {
				return off, fmt.Errorf("%s: the body differs from %s in the %d bytes at offset %d", url, ref.Name(), k, off)
			}
		}
		off += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return off, err
		}
	}
	if ref != nil {
		if st, err := ref.Stat(); err != nil || st.Size() != off {
			return off, fmt.Errorf("%s: %d bytes, %s has a different size", url, off, ref.Name())
		}
	}
	return off, nil
}

func runTTFB(args []string) error {
	fs := flag.NewFlagSet("ttfb", flag.ExitOnError)
	n := fs.Int("n", 15, "requests")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return errors.New("give one URL")
	}
	url := fs.Arg(0)
	for range *n {
		c := &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true, DisableKeepAlives: true}}
		start := time.Now()
		res, err := c.Get(url)
		if err != nil {
			return err
		}
		var one [1]byte
		_, err = io.ReadFull(res.Body, one[:])
		d := time.Since(start)
		res.Body.Close()
		c.CloseIdleConnections()
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, res.Status)
		}
		fmt.Printf("%.3f\n", float64(d.Microseconds())/1000)
	}
	return nil
}
