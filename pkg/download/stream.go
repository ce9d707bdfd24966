package download

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"runtime"
	"sort"
	"strings"

	"github.com/coreos/stream-metadata-go/stream"
)

// DefaultStreamBaseURL is where Fedora CoreOS publishes its stream
// metadata.
const DefaultStreamBaseURL = "https://builds.coreos.fedoraproject.org/streams/"

// Artifact is one file to fetch.
type Artifact struct {
	// Kind names the artifact within its format: "disk" for single-file
	// formats, "kernel", "initramfs" or "rootfs" for pxe.
	Kind string
	// URL is where the file is.
	URL string
	// SignatureURL is where its detached OpenPGP signature is; empty for
	// none.
	SignatureURL string
	// SHA256 and SHA512 are expected digests in hex; empty for unknown.
	SHA256, SHA512 string
}

// Name is the file name the artifact URL gives (the last path segment).
func (a Artifact) Name() string { return urlName(a.URL) }

func urlName(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return path.Base(p.Path)
}

// StreamURL joins a stream name to a base URL as a relative reference
// ("stable" and ".../streams/" give ".../streams/stable.json").
func StreamURL(base, name string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("stream base URL %q: %w", base, err)
	}
	r, err := url.Parse(url.PathEscape(name) + ".json")
	if err != nil {
		return "", err
	}
	return b.ResolveReference(r).String(), nil
}

// maxStreamSize bounds a stream metadata document.
const maxStreamSize = 16 << 20

// FetchStream fetches and decodes the stream metadata at url.
func (c *Client) FetchStream(ctx context.Context, url string) (*stream.Stream, error) {
	b, err := c.getSmall(ctx, url, maxStreamSize)
	if err != nil {
		return nil, fmt.Errorf("stream metadata fetch from %s failed: %w", url, err)
	}
	st, err := DecodeStream(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return st, nil
}

// DecodeStream decodes stream metadata JSON.
func DecodeStream(b []byte) (*stream.Stream, error) {
	var st stream.Stream
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&st); err != nil {
		return nil, fmt.Errorf("decoding stream metadata: %w", err)
	}
	return &st, nil
}

// Resolve returns the artifacts of one architecture, platform and format
// of a stream, sorted by kind (so pxe gives initramfs, kernel, rootfs).
// Relative locations are resolved against base, the URL the metadata came
// from.
func Resolve(st *stream.Stream, base, arch, platform, format string) ([]Artifact, error) {
	notFound := fmt.Errorf("couldn't find architecture %s, platform %s, format %s in stream metadata", arch, platform, format)
	a, ok := st.Architectures[arch]
	if !ok {
		return nil, notFound
	}
	p, ok := a.Artifacts[platform]
	if !ok {
		return nil, notFound
	}
	f, ok := p.Formats[format]
	if !ok {
		return nil, notFound
	}
	var out []Artifact
	for kind, art := range map[string]*stream.Artifact{"disk": f.Disk, "kernel": f.Kernel, "initramfs": f.Initramfs, "rootfs": f.Rootfs} {
		if art == nil {
			continue
		}
		loc, err := resolveRef(base, art.Location)
		if err != nil {
			return nil, fmt.Errorf("stream metadata %s location: %w", kind, err)
		}
		sig := ""
		if art.Signature != "" {
			if sig, err = resolveRef(base, art.Signature); err != nil {
				return nil, fmt.Errorf("stream metadata %s signature: %w", kind, err)
			}
		}
		sum := strings.ToLower(art.Sha256)
		if sum != "" && !isHex(sum, 64) {
			return nil, fmt.Errorf("stream metadata %s sha256 %q is not 64 hex digits", kind, art.Sha256)
		}
		out = append(out, Artifact{Kind: kind, URL: loc, SignatureURL: sig, SHA256: sum})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no artifacts found")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out, nil
}

func resolveRef(base, ref string) (string, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	if base != "" {
		b, err := url.Parse(base)
		if err != nil {
			return "", err
		}
		r = b.ResolveReference(r)
	}
	if r.Scheme != "http" && r.Scheme != "https" {
		return "", fmt.Errorf("%q is not an http or https URL", ref)
	}
	return r.String(), nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// URLArtifact is the artifact for an image URL given directly: its
// signature is the same URL with ".sig" appended to the path (the query
// is kept).
func URLArtifact(u string) (Artifact, error) {
	p, err := url.Parse(u)
	if err != nil {
		return Artifact{}, fmt.Errorf("image URL %q: %w", u, err)
	}
	if p.Scheme != "http" && p.Scheme != "https" {
		return Artifact{}, fmt.Errorf("image URL %q: not an http or https URL", u)
	}
	s := *p
	s.Path += ".sig"
	if s.RawPath != "" {
		s.RawPath += ".sig"
	}
	return Artifact{Kind: "disk", URL: p.String(), SignatureURL: s.String()}, nil
}

// HostArch is the architecture of this machine as CoreOS names it
// (uname -m): x86_64, aarch64, ppc64le, s390x; other Go architectures are
// returned as Go names them.
func HostArch() string { return CoreOSArch(runtime.GOARCH) }

// CoreOSArch maps a Go or CoreOS architecture name to the CoreOS one.
func CoreOSArch(a string) string {
	switch a {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return a
}
