package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/isobuild/isobuild/pkg/download"
)

// imageRef matches a base image reference of build: DISTRO:STREAM, such
// as fedora-coreos:stable or flatcar:beta.
var imageRef = regexp.MustCompile(`^(fedora-coreos|flatcar):([a-z0-9][a-z0-9._-]*)$`)

// refTest lets tests point references at a local server and trust its
// key; nil in normal runs.
var refTest *struct{ baseURL, trustKey string }

// cacheDirEnv overrides the cache directory (tests, CI caches).
const cacheDirEnv = "ISOBUILD_CACHE_DIR"

// imageCacheDir is the per-user directory of downloaded base images:
// $ISOBUILD_CACHE_DIR, else the user cache directory's isobuild/images
// (~/.cache/isobuild/images on Linux).
func imageCacheDir() (string, error) {
	if d := os.Getenv(cacheDirEnv); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for downloaded images (set %s): %w", cacheDirEnv, err)
	}
	return filepath.Join(d, "isobuild", "images"), nil
}

// baseImage returns the path of build's base image argument. An existing
// file of that name wins; a reference DISTRO:STREAM is the live ISO of
// that stream for this machine's architecture, downloaded into the cache
// and verified (kept while it is the stream's current image and verifies;
// offline: the cached image, verified with its saved signature). Any other
// argument is returned as it is.
func (s *streams) baseImage(ctx context.Context, arg string, offline bool) (string, error) {
	if _, err := os.Stat(arg); err == nil {
		return arg, nil
	}
	m := imageRef.FindStringSubmatch(arg)
	if m == nil {
		return arg, nil
	}
	distro, stream, arch := m[1], m[2], download.HostArch()
	root, err := imageCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, distro, stream, arch)
	if offline {
		return s.cachedImage(distro, dir, arg)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("image cache: %w", err)
	}
	o := downloadOptions{distro: distro, stream: stream, arch: arch, platform: "metal", format: "iso", dir: dir, retries: "2"}
	if refTest != nil {
		o.baseURL, o.trustKeys = refTest.baseURL, []string{refTest.trustKey}
	}
	paths, err := s.download(ctx, o)
	if err != nil {
		return "", fmt.Errorf("%s: %w", arg, err)
	}
	if len(paths) != 1 {
		return "", fmt.Errorf("%s: the stream gives %d live ISO files, not one", arg, len(paths))
	}
	pruneCache(dir, filepath.Base(paths[0]))
	return paths[0], nil
}

// cachedImage returns the verified image in a cache directory.
func (s *streams) cachedImage(distro, dir, ref string) (string, error) {
	keys, err := download.CoreOSKeys()
	if distro == distroFlatcar {
		keys, err = download.FlatcarKeys()
	}
	if err != nil {
		return "", err
	}
	if refTest != nil {
		b, err := os.ReadFile(refTest.trustKey)
		if err != nil {
			return "", err
		}
		el, err := download.ReadArmoredKeys(bytes.NewReader(b))
		if err != nil {
			return "", err
		}
		keys = append(keys, el...)
	}
	c := &download.Client{Keys: keys}
	names := cachedNames(dir)
	if len(names) == 0 {
		return "", hintedError{fmt.Errorf("--offline: no cached image for %s in %s", ref, dir), "run the same build once without --offline to download it"}
	}
	var errs []string
	for _, n := range names {
		if err := c.VerifyPresent(download.OSDir(dir), n); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		fmt.Fprintf(s.err, "Using cached %s (signature verified)\n", filepath.Join(dir, n))
		return filepath.Join(dir, n), nil
	}
	return "", fmt.Errorf("--offline: no cached image for %s verifies: %s", ref, strings.Join(errs, "; "))
}

// cachedNames lists the images in a cache directory (files with a .sig
// next to them), newest first.
func cachedNames(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	type named struct {
		name string
		mod  int64
	}
	var out []named
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") || strings.HasSuffix(n, ".sig") || !e.Type().IsRegular() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, n+".sig")); err != nil {
			continue
		}
		if info, err := e.Info(); err == nil {
			out = append(out, named{n, info.ModTime().UnixNano()})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].mod > out[j].mod })
	var names []string
	for _, n := range out {
		names = append(names, n.name)
	}
	return names
}

// pruneCache removes the images of earlier releases (and their
// signatures) from a cache directory, keeping keep and keep.sig.
// Temporary files of downloads that may be running are left alone.
func pruneCache(dir, keep string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		n := e.Name()
		if n == keep || n == keep+".sig" || strings.HasPrefix(n, ".") || !e.Type().IsRegular() {
			continue
		}
		os.Remove(filepath.Join(dir, n))
	}
}
