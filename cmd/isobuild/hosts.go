package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/isobuild/isobuild/internal/imagefile"
	"github.com/isobuild/isobuild/internal/output"
	"github.com/isobuild/isobuild/pkg/embed"
	"github.com/isobuild/isobuild/pkg/installer"
	"github.com/isobuild/isobuild/pkg/inventory"
	"github.com/isobuild/isobuild/pkg/overlay"
)

// hostBuild is the planned image of one host of a batch build.
type hostBuild struct {
	host inventory.Host
	out  string // DIR/NAME.iso
	ov   *overlay.Image
	// warnings are the engine's notices for the image, printed once it
	// is written (as a single build does).
	warnings []installer.Warning
	// install are the installer options of a CoreOS host's image (its
	// live config included), which serve also appends to the PXE
	// initramfs.
	install installer.Options
}

// batchHook, when set (by tests), runs in the worker of each host before
// its image is written; an error fails that host.
var batchHook func(h inventory.Host, out string) error

// runBatchBuild is build with --hosts: one image per host of the inventory,
// DIR/NAME.iso, from --butane rendered as a template for the host and the
// host's kargs appended to --karg-append. Every host's image goes through
// the code of a single build (planCoreOS, or the remaster planners), so
// DIR/NAME.iso is byte for byte what "build --butane RENDERED --karg-append
// ... -o FILE" writes. Every host is planned, and so its config translated
// and validated, before any file is written; the images are then written
// in parallel, each through a temporary file linked into place when
// complete; when one fails, the images already written by the run are
// removed, so that the directory holds all of them or none.
func runBatchBuild(ctx context.Context, s *streams, o buildOptions, isoPath string) error {
	if err := checkBatchOptions(o); err != nil {
		return err
	}
	var info io.Writer = s.out
	if o.quiet {
		info = io.Discard
	}
	dir, create, err := batchDir(o.out)
	if err != nil {
		return err
	}
	fp, err := planFleet(ctx, s, o, isoPath, dir)
	if err != nil {
		return err
	}
	defer fp.close()
	builds := fp.builds
	for _, b := range builds {
		if err := output.CheckNew(b.out); err != nil {
			return hintedError{err, "remove it, or give -o another directory: a batch build replaces no file"}
		}
	}
	if create {
		if err := os.Mkdir(dir, 0o777); err != nil {
			return fmt.Errorf("creating the output directory: %w", err)
		}
	}
	if err := writeBatch(ctx, builds); err != nil {
		if create {
			os.Remove(dir)
		}
		return err
	}
	for _, b := range builds {
		var w bytes.Buffer
		printWarnings(&w, false, b.warnings)
		printPrefixed(s.err, "host "+b.host.Name+": ", w.Bytes())
	}
	fmt.Fprintf(info, "Wrote %d images to %s from %s, one for each host of %s (config: %s rendered for the host)\n", len(builds), dir, isoPath, displayName(o.hosts), displayName(o.butane))
	for _, b := range builds {
		line := fmt.Sprintf("  %s (%d bytes)", b.out, b.ov.Size())
		if len(b.host.Kargs) > 0 {
			line += ", kernel arguments + " + strings.Join(b.host.Kargs, " ")
		}
		fmt.Fprintln(info, line)
	}
	return nil
}

// fleetPlan is the planned image of every host of an inventory, over the
// base image, which stays open until close.
type fleetPlan struct {
	builds []hostBuild
	base   *imagefile.File
	// coreos is the base's embed areas when it is a CoreOS live ISO;
	// otherwise the base is remastered.
	coreos *embed.Image
	close  func()
}

// planFleet reads the inventory (--hosts) and the template (--butane) of o,
// renders the template for every host and plans each host's image from
// isoPath through the code of a single build; the images' paths are in
// dir. Any error of any host fails the whole plan.
func planFleet(ctx context.Context, s *streams, o buildOptions, isoPath, dir string) (_ *fleetPlan, err error) {
	fp := &fleetPlan{}
	var closers []func()
	fp.close = func() {
		for _, c := range slices.Backward(closers) {
			c()
		}
	}
	defer func() {
		if err != nil {
			fp.close()
		}
	}()
	// The --iso-file sources that the planners open are this plan's,
	// closed with it (serve keeps an older plan open while a newer one
	// is made).
	var opened []*os.File
	savedOpen := s.open
	s.open = nil
	defer func() {
		opened = append(opened, s.open...)
		s.open = savedOpen
	}()
	closers = append(closers, func() {
		for _, f := range opened {
			f.Close()
		}
	})
	data, err := s.readInput(ctx, "--hosts", o.hosts)
	if err != nil {
		return nil, err
	}
	src, err := s.readInput(ctx, "--butane", o.butane)
	if err != nil {
		return nil, err
	}
	inv, err := inventory.Parse(displayName(o.hosts), data)
	if err != nil {
		return nil, err
	}
	tmpl, err := inventory.ParseTemplate(displayName(o.butane), src)
	if err != nil {
		return nil, hintedError{err, "--butane with --hosts is a Go text/template: {{ .Name }} is the host's name, {{ .Vars.KEY }} one of its vars"}
	}
	// Every host's Butane config renders before anything else happens:
	// a template error is the same for the whole fleet.
	rendered := make([][]byte, len(inv.Hosts))
	for i, h := range inv.Hosts {
		if rendered[i], err = tmpl.Render(h); err != nil {
			hint := ""
			var te *inventory.TemplateError
			if errors.As(err, &te) && te.Key != "" {
				hint = fmt.Sprintf("add %s to the vars of host %s in %s (vars: {%s: VALUE}), or take it out of the template", te.Key, h.Name, displayName(o.hosts), te.Key)
			}
			return nil, hostError(h, err, hint)
		}
	}
	coreos, err := s.hasEmbedAreas(ctx, isoPath)
	if err != nil {
		return nil, err
	}
	var plan func(o buildOptions) (*overlay.Image, []installer.Warning, installer.Options, error)
	if coreos {
		if err := checkCoreOSOptions(o, isoPath); err != nil {
			return nil, err
		}
		f, im, err := s.openImage(ctx, isoPath, imagefile.Read)
		if err != nil {
			return nil, err
		}
		closers = append(closers, func() { f.Close() })
		fp.base, fp.coreos = f, im
		plan = func(o buildOptions) (*overlay.Image, []installer.Warning, installer.Options, error) {
			p, err := planCoreOS(ctx, s, o, im)
			if err != nil {
				return nil, nil, installer.Options{}, err
			}
			ov, err := im.Overlay(p.changes)
			return ov, p.warnings, p.install, err
		}
	} else {
		f, rm, err := s.openRemaster(ctx, isoPath)
		if err != nil {
			return nil, err
		}
		closers = append(closers, func() { f.Close() })
		fp.base = f
		rb, err := prepareRemaster(o, isoPath, f, rm)
		if err != nil {
			return nil, err
		}
		plan = func(o buildOptions) (*overlay.Image, []installer.Warning, installer.Options, error) {
			ov, _, err := rb.plan(ctx, s, o, isoPath)
			return ov, nil, installer.Options{}, err
		}
	}
	fp.builds = make([]hostBuild, len(inv.Hosts))
	for i, h := range inv.Hosts {
		ho := o
		ho.butaneSrc = rendered[i]
		ho.kargs.Append = append(slices.Clip(o.kargs.Append), h.Kargs...)
		ho.out = filepath.Join(dir, h.Name+".iso")
		// What the planners print (Butane's report, notices) is the
		// host's: it goes out with the host's name in front.
		var notes bytes.Buffer
		saved := s.err
		s.err = &notes
		ov, warnings, install, err := plan(ho)
		s.err = saved
		printPrefixed(s.err, "host "+h.Name+": ", notes.Bytes())
		if err != nil {
			return nil, hostError(h, err, "")
		}
		fp.builds[i] = hostBuild{host: h, out: ho.out, ov: ov, warnings: warnings, install: install}
		// Planning a host leaves tens of MiB of garbage (Butane's and the
		// xz encoder's buffers); collected before the next host, it never
		// piles up into the process's peak memory, which for a server
		// planning a fleet would otherwise grow with the fleet.
		runtime.GC()
	}
	return fp, nil
}

// writeBatch writes the images in parallel, at most GOMAXPROCS at a time.
// When one fails, or ctx is cancelled, the others stop and every image
// this call linked into place is removed again.
func writeBatch(ctx context.Context, builds []hostBuild) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu       sync.Mutex
		written  []string
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan hostBuild)
	for range min(runtime.GOMAXPROCS(0), len(builds)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range next {
				err := ctx.Err()
				if err == nil && batchHook != nil {
					err = batchHook(b.host, b.out)
				}
				if err == nil {
					err = output.NewFile(ctx, b.out, b.ov)
				}
				mu.Lock()
				if err == nil {
					written = append(written, b.out)
				} else if firstErr == nil && context.Cause(ctx) == nil {
					firstErr = hostError(b.host, err, "")
					cancel(firstErr)
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, b := range builds {
		select {
		case next <- b:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("writing the images: %w", context.Cause(ctx))
	}
	if firstErr == nil {
		return nil
	}
	// Nothing half-done stays: the images of the other hosts go too.
	for _, p := range written {
		os.Remove(p)
	}
	return firstErr
}

// checkBatchOptions checks the options that --hosts changes in build.
func checkBatchOptions(o buildOptions) error {
	switch {
	case o.out == "":
		return usageError{errors.New("-o/--output is required: with --hosts it is the directory to write NAME.iso into for each host (-o DIR/)")}
	case o.out == output.Stdout:
		return usageHint("give a directory: -o DIR/ writes DIR/NAME.iso for each host",
			"-o - streams one image, and --hosts builds one for each host")
	}
	return checkFleetOptions(o)
}

// checkFleetOptions checks the options of a build for every host of an
// inventory (build --hosts, serve).
func checkFleetOptions(o buildOptions) error {
	if o.butane == "" {
		return usageHint("give the template for every host's config with --butane T.bu ({{ .Name }} and {{ .Vars.KEY }} are the host's)",
			"--hosts needs --butane: the Butane config rendered for each host")
	}
	if o.ignition != "" {
		return usageHint("write the config as a Butane template and give it with --butane",
			"--hosts renders --butane for each host; it does not take --ignition")
	}
	// Each host's build reads the other inputs again; standard input can
	// be read only once.
	for _, in := range []struct {
		option string
		paths  []string
	}{
		{"--dest-butane", o.destButane}, {"--dest-ignition", o.install.destIgnition},
		{"--ignition-ca", o.install.ignitionCA},
	} {
		if slices.Contains(in.paths, "-") {
			return usageHint("save it to a file and give the file's path",
				"%s - with --hosts: each host's build reads it, and standard input can be read only once", in.option)
		}
	}
	return nil
}

// batchDir checks that out names a directory for a batch build's images:
// an existing one, or one to create (create), when out ends in a slash and
// its parent exists.
func batchDir(out string) (dir string, create bool, err error) {
	dir = filepath.Clean(out)
	st, err := os.Stat(out)
	switch {
	case err == nil && st.IsDir():
		return dir, false, nil
	case err == nil:
		return "", false, usageHint("give -o a directory (-o DIR/): the images are written as DIR/NAME.iso, one for each host",
			"-o %s is not a directory, and --hosts writes one image for each host", out)
	case !errors.Is(err, fs.ErrNotExist):
		return "", false, fmt.Errorf("output directory %s: %w", out, err)
	case !strings.HasSuffix(out, "/") && !strings.HasSuffix(out, string(filepath.Separator)):
		return "", false, usageHint(fmt.Sprintf("end it with a slash to have it created (-o %s/), or create it first", out),
			"-o %s does not exist: with --hosts, -o names the directory for the images", out)
	}
	parent := filepath.Dir(dir)
	if st, err := os.Stat(parent); err != nil || !st.IsDir() {
		return "", false, hintedError{fmt.Errorf("the parent of the output directory %s does not exist", out), "create " + parent + " first: build creates only the last directory of -o"}
	}
	return dir, true, nil
}

// checkCoreOSOptions refuses the options that a CoreOS live ISO does not
// take.
func checkCoreOSOptions(o buildOptions, isoPath string) error {
	if len(o.initrdFiles) > 0 || len(o.isoFiles) > 0 {
		return usageHint("put files into the Butane config (storage.files, with contents.local for local files): Ignition writes them",
			"%s is a CoreOS live ISO: --initrd-file and --iso-file are for live ISOs without embed areas", isoPath)
	}
	return nil
}

// hostError prefixes err with the host; it keeps err's hint and exit
// status (errors.As finds them through the prefix). hint is the hint for
// an error that has none.
func hostError(h inventory.Host, err error, hint string) error {
	wrapped := fmt.Errorf("host %s: %w", h.Name, err)
	var he hintedError
	if hint != "" && !errors.As(err, &he) {
		wrapped = hintedError{wrapped, hint}
	}
	return wrapped
}

// printPrefixed writes every line of text to w with prefix in front.
func printPrefixed(w io.Writer, prefix string, text []byte) {
	for _, line := range strings.SplitAfter(string(text), "\n") {
		if line == "" {
			continue
		}
		if !strings.HasSuffix(line, "\n") {
			line += "\n"
		}
		io.WriteString(w, prefix+line)
	}
}
