package download

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
)

// FlatcarChannels are the Flatcar release channels.
var FlatcarChannels = []string{"stable", "beta", "alpha"}

// FlatcarBaseURL returns the release directory of a Flatcar channel,
// architecture (x86_64/amd64 or aarch64/arm64) and version ("current" or
// a version such as "4230.2.3"), such as
// https://stable.release.flatcar-linux.net/amd64-usr/current/.
func FlatcarBaseURL(channel, arch, version string) (string, error) {
	ok := false
	for _, c := range FlatcarChannels {
		ok = ok || c == channel
	}
	if !ok {
		return "", fmt.Errorf("unknown Flatcar channel %q (use %s)", channel, strings.Join(FlatcarChannels, ", "))
	}
	var board string
	switch CoreOSArch(arch) {
	case "x86_64":
		board = "amd64-usr"
	case "aarch64":
		board = "arm64-usr"
	default:
		return "", fmt.Errorf("flatcar has no images for architecture %s (use x86_64 or aarch64)", arch)
	}
	if version == "" {
		version = "current"
	}
	if strings.ContainsAny(version, "/?#") {
		return "", fmt.Errorf("flatcar version %q is not a version", version)
	}
	return "https://" + channel + ".release.flatcar-linux.net/" + board + "/" + version + "/", nil
}

// flatcarFiles are the files of each Flatcar format, sorted by kind.
var flatcarFiles = map[string][][2]string{
	"iso": {{"disk", "flatcar_production_iso_image.iso"}},
	"pxe": {{"initramfs", "flatcar_production_pxe_image.cpio.gz"}, {"kernel", "flatcar_production_pxe.vmlinuz"}},
}

// FlatcarFormats lists the formats FlatcarArtifacts knows.
var FlatcarFormats = []string{"iso", "pxe"}

// FlatcarArtifacts returns the artifacts of a Flatcar format under base
// (a release directory, see FlatcarBaseURL; mirrors use the same layout),
// each with its NAME.sig signature. With a Client, it also fetches each
// NAME.DIGESTS and fills in the SHA512 it lists; a missing DIGESTS file
// is no error (the signature alone then vouches for the image).
func (c *Client) FlatcarArtifacts(ctx context.Context, base, format string) ([]Artifact, error) {
	files, ok := flatcarFiles[format]
	if !ok {
		return nil, fmt.Errorf("unknown Flatcar format %q (use %s)", format, strings.Join(FlatcarFormats, ", "))
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	var out []Artifact
	for _, f := range files {
		u, err := resolveRef(base, f[1])
		if err != nil {
			return nil, fmt.Errorf("flatcar base URL %q: %w", base, err)
		}
		a := Artifact{Kind: f[0], URL: u, SignatureURL: u + ".sig"}
		if c != nil {
			b, err := c.getSmall(ctx, u+".DIGESTS", 64<<10)
			switch {
			case err == nil:
				d, err := ParseDigests(b)
				if err != nil {
					return nil, fmt.Errorf("%s.DIGESTS: %w", u, err)
				}
				if sum := d[f[1]]["SHA512"]; sum != "" {
					a.SHA512 = sum
				}
			case ctx.Err() != nil:
				return nil, ctx.Err()
			case !isNotFound(err):
				c.logf("Failed to fetch digests: %v", err)
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// ParseDigests parses a Flatcar DIGESTS file: sections headed "# MD5
// HASH", "# SHA1 HASH", "# SHA512 HASH" (any algorithm name), each
// followed by lines "<hex>  <file name>". It returns digests by file name
// and algorithm (upper case), hex in lower case. Blank lines are skipped;
// a line of another form, or hex of the wrong length for MD5, SHA1,
// SHA256 or SHA512, is an error naming its line.
func ParseDigests(b []byte) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	alg := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 4096), 4096)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			f := strings.Fields(strings.TrimPrefix(line, "#"))
			if len(f) != 2 || !strings.EqualFold(f[1], "HASH") {
				return nil, fmt.Errorf("line %d: %q is not a \"# ALGORITHM HASH\" header", n, line)
			}
			alg = strings.ToUpper(f[0])
			continue
		}
		if alg == "" {
			return nil, fmt.Errorf("line %d: digest before any \"# ALGORITHM HASH\" header", n)
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: %q is not \"<hex>  <file name>\"", n, line)
		}
		sum := strings.ToLower(f[0])
		if want, ok := map[string]int{"MD5": 32, "SHA1": 40, "SHA256": 64, "SHA512": 128}[alg]; ok && !isHex(sum, want) {
			return nil, fmt.Errorf("line %d: %s digest %q is not %d hex digits", n, alg, f[0], want)
		}
		name := strings.TrimPrefix(f[1], "*")
		if name == "" {
			return nil, fmt.Errorf("line %d: %q names no file", n, line)
		}
		if out[name] == nil {
			out[name] = map[string]string{}
		}
		out[name][alg] = sum
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading digests: %w", err)
	}
	return out, nil
}
