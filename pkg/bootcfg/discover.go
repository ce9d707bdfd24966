package bootcfg

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Limits of Discover.
const (
	// MaxFiles is the most configuration files Discover reads.
	MaxFiles = 64
	// MaxDepth is the longest include chain Discover follows (a root
	// file has depth 0).
	MaxDepth = 16
)

// roots are the well-known configuration files Discover starts from, in
// order. A "*" component matches every directory.
var roots = []struct {
	Path   string
	Syntax Syntax
}{
	{"isolinux/isolinux.cfg", Syslinux},
	{"isolinux.cfg", Syslinux},
	{"syslinux/syslinux.cfg", Syslinux},
	{"boot/isolinux/isolinux.cfg", Syslinux},
	{"boot/syslinux/syslinux.cfg", Syslinux},
	{"syslinux.cfg", Syslinux},
	{"boot/grub/grub.cfg", GRUB},
	{"boot/grub2/grub.cfg", GRUB},
	{"EFI/BOOT/grub.cfg", GRUB},
	{"EFI/*/grub.cfg", GRUB},
	{"boot/grub/loopback.cfg", GRUB},
}

// Discover finds and parses the configuration files of an ISO: the
// well-known roots that exist (isolinux/isolinux.cfg, isolinux.cfg,
// syslinux/syslinux.cfg, boot/isolinux/isolinux.cfg,
// boot/syslinux/syslinux.cfg, syslinux.cfg as SYSLINUX; boot/grub/grub.cfg,
// boot/grub2/grub.cfg, EFI/BOOT/grub.cfg, EFI/*/grub.cfg,
// boot/grub/loopback.cfg as GRUB) and every file they include,
// transitively, in the syntax of the including file, breadth first. Names match case-insensitively (an exact match wins),
// since ISO 9660 names may be upper case. Paths in the result are fsys
// paths. Missing files are skipped, and a file reached twice (an include
// cycle, or a root that another file includes) is parsed once. More than
// MaxFiles files, an include chain deeper than MaxDepth or a file larger
// than MaxSize are errors, since an entry left unedited would boot without
// the extra initramfs.
func Discover(fsys fs.FS) ([]*Config, error) {
	type item struct {
		path   string
		syntax Syntax
		depth  int
	}
	var queue []item
	for _, r := range roots {
		ps, err := lookupAll(fsys, r.Path)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			queue = append(queue, item{p, r.Syntax, 0})
		}
	}
	seen := map[string]bool{}
	var out []*Config
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if seen[it.path] {
			continue
		}
		seen[it.path] = true
		if len(out) == MaxFiles {
			return nil, fmt.Errorf("%s: more than %d boot configuration files", it.path, MaxFiles)
		}
		data, err := readConfig(fsys, it.path)
		if err != nil {
			return nil, err
		}
		if data == nil {
			continue
		}
		c, err := Parse(it.path, it.syntax, data)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		for _, inc := range c.Includes {
			p, err := lookup(fsys, inc)
			if err != nil {
				return nil, fmt.Errorf("%s: included file %s: %w", it.path, inc, err)
			}
			if p == "" || seen[p] {
				continue
			}
			if it.depth+1 > MaxDepth {
				return nil, fmt.Errorf("%s: includes %s at depth %d, deeper than %d", it.path, inc, it.depth+1, MaxDepth)
			}
			queue = append(queue, item{p, it.syntax, it.depth + 1})
		}
	}
	return out, nil
}

// readConfig reads a file of at most MaxSize bytes; nil for a directory or
// a missing file.
func readConfig(fsys fs.FS, p string) ([]byte, error) {
	f, err := fsys.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", p, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", p, err)
	}
	if st.IsDir() {
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s: larger than the %d bytes a boot configuration may have", p, MaxSize)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// lookup finds p in fsys, matching each component case-insensitively (an
// exact match first). It returns "" when p does not exist.
func lookup(fsys fs.FS, p string) (string, error) {
	ps, err := lookupAll(fsys, p)
	if err != nil || len(ps) == 0 {
		return "", err
	}
	return ps[0], nil
}

// lookupAll is lookup for a pattern whose "*" components match any name.
func lookupAll(fsys fs.FS, p string) ([]string, error) {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return nil, nil
	}
	cur := []string{"."}
	for _, comp := range strings.Split(p, "/") {
		var next []string
		for _, dir := range cur {
			m, err := matchDir(fsys, dir, comp)
			if err != nil {
				return nil, err
			}
			next = append(next, m...)
		}
		if len(next) == 0 {
			return nil, nil
		}
		cur = next
	}
	return cur, nil
}

// matchDir returns the entries of dir named like comp: the exact name
// first if it exists, then the other case-insensitive matches (sorted), or
// every entry for "*".
func matchDir(fsys fs.FS, dir, comp string) ([]string, error) {
	join := func(n string) string {
		if dir == "." {
			return n
		}
		return dir + "/" + n
	}
	var out []string
	if comp != "*" {
		if _, err := fs.Stat(fsys, join(comp)); err == nil {
			out = append(out, join(comp))
		}
	}
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return out, nil
		}
		// dir may be a file, not a directory: nothing below it.
		if st, serr := fs.Stat(fsys, dir); serr == nil && !st.IsDir() {
			return nil, nil
		}
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	var more []string
	for _, e := range ents {
		if comp == "*" || e.Name() != comp && strings.EqualFold(e.Name(), comp) {
			more = append(more, join(e.Name()))
		}
	}
	sort.Strings(more)
	return append(out, more...), nil
}
