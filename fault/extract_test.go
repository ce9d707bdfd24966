//go:build fault

package fault

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/pkg/initrd"
)

// hostileArchive is an initramfs whose network members must not be
// extracted.
type hostileArchive struct {
	kind   string
	member string // the name the error must contain
	xz     func() ([]byte, error)
}

// rawXZ writes members (parents first, as given) with the low-level cpio
// writer, which does not police names, and xz-compresses them.
func rawXZ(members []string) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := initrd.NewCompressor(&buf, initrd.XZ)
	if err != nil {
		return nil, err
	}
	w := initrd.NewWriter(zw)
	for i, m := range members {
		h := &initrd.Header{Name: strings.TrimSuffix(m, "/"), Nlink: 1, Ino: uint32(i)}
		var data []byte
		if strings.HasSuffix(m, "/") {
			h.Mode = initrd.ModeDir | 0o755
		} else {
			h.Mode = initrd.ModeRegular | 0o600
			data = []byte("[connection]\nid=evil\ntype=ethernet\n")
			h.Size = int64(len(data))
		}
		if err := w.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func hostileArchives() []hostileArchive {
	const nd = "etc/coreos-firstboot-network/"
	return []hostileArchive{
		{"same base name in two dirs", "eth0.nmconnection", func() ([]byte, error) {
			return initrd.EncodeXZ(initrd.Files{
				nd + "eth0.nmconnection":     []byte("[connection]\nid=a\n"),
				nd + "sub/eth0.nmconnection": []byte("[connection]\nid=b\n"),
			})
		}},
		{"member named coreos-firstboot-network/..", nd + "..", func() ([]byte, error) {
			return rawXZ([]string{"etc/", nd, nd + "ok.nmconnection", nd + ".."})
		}},
		{"member escaping with ../", "escape.nmconnection", func() ([]byte, error) {
			return rawXZ([]string{"etc/", nd, nd + "ok.nmconnection", nd + "../../../escape.nmconnection"})
		}},
	}
}

// TestExtraction extracts hostile network members with `iso network
// extract -C DIR` and `pxe network unwrap -C DIR`: both must fail naming
// the member and create nothing.
func TestExtraction(t *testing.T) {
	const name = "embed-areas-2023-07.x86_64.iso"
	l := layoutOf(t, name)
	isoFam := fam("extraction: iso network extract -C DIR", "hostile members (same base name twice, '..', '../' escape): exit 1 naming the member, nothing created")
	pxeFam := fam("extraction: pxe network unwrap -C DIR", "the same members in a standalone initramfs: exit 1 naming the member, nothing created")
	for _, h := range hostileArchives() {
		xz, err := h.xz()
		if err != nil {
			isoFam.record(t, h.kind, []string{"building the archive: " + err.Error()})
			continue
		}
		base := scratch(t, "extract-")
		inDir := filepath.Join(base, "in")
		outDir := filepath.Join(base, "a", "b", "c", "out")
		os.MkdirAll(inDir, 0o755)
		img := filepath.Join(inDir, "img.iso")
		data := append([]byte(nil), l.data...)
		copy(data[l.initrd.Offset:], xz)
		writeFile(t, img, data)
		raw := filepath.Join(inDir, "raw.initramfs")
		writeFile(t, raw, xz)
		for _, c := range []struct {
			f    *family
			args []string
		}{
			{isoFam, []string{"iso", "network", "extract", "-C", outDir, img}},
			{pxeFam, []string{"pxe", "network", "unwrap", "-C", outDir, raw}},
		} {
			os.RemoveAll(filepath.Join(base, "a"))
			os.MkdirAll(outDir, 0o755)
			r := isob(opts{}, c.args...)
			p := checkMessage(r)
			if r.exit != 1 || r.signal != 0 {
				p = append(p, "want exit 1: "+r.describe())
			} else if !strings.Contains(string(r.stderr), h.member) {
				p = append(p, fmt.Sprintf("the error does not name the member %q: %s", h.member, r.describe()))
			}
			p = append(p, checkTree(base, "a", "a/b", "a/b/c", "a/b/c/out", "in", "in/img.iso", "in/raw.initramfs")...)
			p = append(p, checkSame(img, data, "input")...)
			c.f.record(t, h.kind, p)
		}
		os.RemoveAll(base)
	}
}

// checkTree requires the tree under base to hold exactly want.
func checkTree(base string, want ...string) []string {
	var got []string
	filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if p != base {
			rel, _ := filepath.Rel(base, p)
			got = append(got, rel)
		}
		return nil
	})
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		var extra []string
		w := map[string]bool{}
		for _, x := range want {
			w[x] = true
		}
		for _, g := range got {
			if !w[g] {
				extra = append(extra, g)
			}
		}
		return []string{fmt.Sprintf("files created: %q (tree %q)", extra, got)}
	}
	return nil
}
