//go:build e2e

package e2e

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path"
	"sort"
	"strings"
)

// The subset of an Ignition 3.x config that the boot test's root can show:
// files, directories, links and systemd units. It is decoded here with
// encoding/json rather than with the Ignition library, so that the
// expectation does not share code with what it checks.
type ignConfig struct {
	Ignition struct {
		Version string `json:"version"`
		Config  struct {
			Merge   []json.RawMessage `json:"merge"`
			Replace *ignResource      `json:"replace"`
		} `json:"config"`
	} `json:"ignition"`
	Passwd struct {
		Users  []json.RawMessage `json:"users"`
		Groups []json.RawMessage `json:"groups"`
	} `json:"passwd"`
	Storage struct {
		Files []struct {
			ignNode
			Mode     *int          `json:"mode"`
			Contents ignResource   `json:"contents"`
			Append   []ignResource `json:"append"`
		} `json:"files"`
		Directories []struct {
			ignNode
			Mode *int `json:"mode"`
		} `json:"directories"`
		Links []struct {
			ignNode
			Target *string `json:"target"`
			Hard   *bool   `json:"hard"`
		} `json:"links"`
		Disks       []json.RawMessage `json:"disks"`
		Filesystems []json.RawMessage `json:"filesystems"`
	} `json:"storage"`
	Systemd struct {
		Units []struct {
			Name     string  `json:"name"`
			Enabled  *bool   `json:"enabled"`
			Mask     *bool   `json:"mask"`
			Contents *string `json:"contents"`
			Dropins  []struct {
				Name     string  `json:"name"`
				Contents *string `json:"contents"`
			} `json:"dropins"`
		} `json:"units"`
	} `json:"systemd"`
}

type ignNode struct {
	Path  string `json:"path"`
	User  ignID  `json:"user"`
	Group ignID  `json:"group"`
}

type ignID struct {
	ID   *int    `json:"id"`
	Name *string `json:"name"`
}

type ignResource struct {
	Source      *string `json:"source"`
	Compression *string `json:"compression"`
}

// wantTree is what Ignition must leave in the target root: each path with
// its type, mode, owner and (for files) exact contents. Directories that are
// not listed but are ancestors of a listed path may also exist, with mode
// 0755 (Ignition creates missing parents that way).
type wantTree struct {
	Entries  map[string]wantEntry
	Contents map[string][]byte // decoded contents of every regular file in Entries but the result file
}

type wantEntry struct {
	Type     byte
	Mode     uint32
	UID, GID int
	SHA256   string // "" for any contents
	Size     int64  // -1 for any size
	Target   string
	Why      string // where the expectation comes from, for messages
}

// add records the expectation e for path p, refusing a path declared twice.
func (t wantTree) add(p string, e wantEntry) error {
	if _, dup := t.Entries[p]; dup {
		return fmt.Errorf("%s is declared twice", p)
	}
	t.Entries[p] = e
	return nil
}

// addFile records a regular file with its exact contents.
func (t wantTree) addFile(p string, mode uint32, uid, gid int, data []byte, why string) error {
	if err := t.add(p, fileWant(mode, uid, gid, data, why)); err != nil {
		return err
	}
	t.Contents[p] = data
	return nil
}

// finish records what Ignition writes besides the declared nodes: the
// preset file for enabled or disabled units (preset holds its lines, empty
// for none) and Ignition's own record of the run, whose contents (boot ID,
// date) vary.
func (t wantTree) finish(preset, why string) error {
	if preset != "" {
		if err := t.addFile(presetFile, 0o644, 0, 0, []byte(preset), why); err != nil {
			return err
		}
	}
	return t.add(resultFile, wantEntry{Type: 'f', Mode: 0o600, Size: -1, Why: "Ignition's result file"})
}

const (
	resultFile = "/etc/.ignition-result.json"
	presetFile = "/etc/systemd/system-preset/20-ignition.preset"
)

// expectTree computes from an Ignition config what Ignition's files stage
// writes into an empty root. It refuses configs whose effects the boot
// test cannot observe or would not reproduce (users, disks, remote
// resources), so that a test never passes by ignoring part of a config.
func expectTree(config []byte) (wantTree, error) {
	var c ignConfig
	dec := json.NewDecoder(bytes.NewReader(config))
	if err := dec.Decode(&c); err != nil {
		return wantTree{}, fmt.Errorf("decode Ignition config: %w", err)
	}
	t := wantTree{Entries: map[string]wantEntry{}, Contents: map[string][]byte{}}
	switch {
	case !strings.HasPrefix(c.Ignition.Version, "3."):
		return t, fmt.Errorf("Ignition config version %q: want 3.x", c.Ignition.Version)
	case len(c.Ignition.Config.Merge) > 0 || c.Ignition.Config.Replace != nil:
		return t, fmt.Errorf("configs with ignition.config.merge/replace are not supported by the boot test")
	case len(c.Passwd.Users) > 0 || len(c.Passwd.Groups) > 0:
		return t, fmt.Errorf("configs with users or groups are not supported: the boot test's root has no passwd database")
	case len(c.Storage.Disks) > 0 || len(c.Storage.Filesystems) > 0:
		return t, fmt.Errorf("configs with disks or filesystems are not supported by the boot test")
	}
	add := t.add
	owner := func(n ignNode) (int, int, error) {
		if n.User.Name != nil || n.Group.Name != nil {
			return 0, 0, fmt.Errorf("%s: owners by name are not supported (no passwd database)", n.Path)
		}
		uid, gid := 0, 0
		if n.User.ID != nil {
			uid = *n.User.ID
		}
		if n.Group.ID != nil {
			gid = *n.Group.ID
		}
		return uid, gid, nil
	}

	for _, d := range c.Storage.Directories {
		uid, gid, err := owner(d.ignNode)
		if err != nil {
			return t, err
		}
		mode := uint32(0o755)
		if d.Mode != nil {
			mode = uint32(*d.Mode)
		}
		if err := add(d.Path, wantEntry{Type: 'd', Mode: mode, UID: uid, GID: gid, Size: -1, Why: "storage.directories"}); err != nil {
			return t, err
		}
	}
	for _, f := range c.Storage.Files {
		uid, gid, err := owner(f.ignNode)
		if err != nil {
			return t, err
		}
		if len(f.Append) > 0 {
			return t, fmt.Errorf("%s: append is not supported by the boot test", f.Path)
		}
		var data []byte
		if f.Contents.Source != nil {
			if data, err = decodeResource(f.Contents); err != nil {
				return t, fmt.Errorf("%s: %w", f.Path, err)
			}
		}
		mode := uint32(0o644)
		if f.Mode != nil {
			mode = uint32(*f.Mode)
		}
		if err := t.addFile(f.Path, mode, uid, gid, data, "storage.files"); err != nil {
			return t, err
		}
	}
	for _, l := range c.Storage.Links {
		uid, gid, err := owner(l.ignNode)
		if err != nil {
			return t, err
		}
		if l.Hard != nil && *l.Hard {
			return t, fmt.Errorf("%s: hard links are not supported by the boot test", l.Path)
		}
		if l.Target == nil {
			return t, fmt.Errorf("%s: link without target", l.Path)
		}
		if err := add(l.Path, wantEntry{Type: 'l', Mode: 0o777, UID: uid, GID: gid, Size: -1, Target: *l.Target, Why: "storage.links"}); err != nil {
			return t, err
		}
	}

	var preset strings.Builder
	for _, u := range c.Systemd.Units {
		if strings.Contains(u.Name, "@") && u.Enabled != nil {
			return t, fmt.Errorf("unit %s: enabling template units is not supported by the boot test", u.Name)
		}
		unitPath := "/etc/systemd/system/" + u.Name
		if u.Mask != nil && *u.Mask {
			if err := add(unitPath, wantEntry{Type: 'l', Mode: 0o777, Size: -1, Target: "/dev/null", Why: "systemd.units mask"}); err != nil {
				return t, err
			}
		} else if u.Contents != nil {
			if err := t.addFile(unitPath, 0o644, 0, 0, []byte(*u.Contents), "systemd.units"); err != nil {
				return t, err
			}
		}
		for _, d := range u.Dropins {
			if d.Contents == nil {
				continue
			}
			if err := t.addFile(unitPath+".d/"+d.Name, 0o644, 0, 0, []byte(*d.Contents), "systemd.units dropins"); err != nil {
				return t, err
			}
		}
		if u.Enabled != nil {
			verb := "disable"
			if *u.Enabled {
				verb = "enable"
			}
			fmt.Fprintf(&preset, "%s %s\n", verb, u.Name)
		}
	}
	return t, t.finish(preset.String(), "systemd.units enabled")
}

func fileWant(mode uint32, uid, gid int, data []byte, why string) wantEntry {
	sum := sha256.Sum256(data)
	return wantEntry{Type: 'f', Mode: mode, UID: uid, GID: gid, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), Why: why}
}

// decodeResource returns the bytes of an inline (data URL) resource,
// decompressed as its compression field says.
func decodeResource(r ignResource) ([]byte, error) {
	src := *r.Source
	rest, ok := strings.CutPrefix(src, "data:")
	if !ok {
		return nil, fmt.Errorf("source %.40q: only data URLs are supported by the boot test", src)
	}
	header, payload, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, fmt.Errorf("data URL without a comma")
	}
	var data []byte
	var err error
	if strings.HasSuffix(header, ";base64") {
		data, err = base64.StdEncoding.DecodeString(payload)
	} else {
		var s string
		s, err = url.PathUnescape(payload)
		data = []byte(s)
	}
	if err != nil {
		return nil, fmt.Errorf("data URL: %w", err)
	}
	comp := ""
	if r.Compression != nil {
		comp = *r.Compression
	}
	switch comp {
	case "":
		return data, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		out, err := io.ReadAll(zr)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("compression %q is not supported by the boot test", comp)
}

// treeProblems compares what the guest reported with the expectation and
// returns one message per difference; none means Ignition wrote exactly
// what the config declares.
func treeProblems(want wantTree, got map[string]entry) []string {
	var probs []string
	paths := make([]string, 0, len(want.Entries))
	for p := range want.Entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	ancestors := map[string]bool{}
	for _, p := range paths {
		for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
			ancestors[d] = true
		}
	}
	for _, p := range paths {
		w := want.Entries[p]
		g, ok := got[p]
		if !ok {
			probs = append(probs, fmt.Sprintf("%s (%s) was not written", p, w.Why))
			continue
		}
		if g.Type != w.Type {
			probs = append(probs, fmt.Sprintf("%s is of type %c, want %c", p, g.Type, w.Type))
			continue
		}
		// Symlink permissions are always 0777 on Linux and not set by
		// Ignition; compare them only for other types.
		if w.Type != 'l' && g.Mode != w.Mode {
			probs = append(probs, fmt.Sprintf("%s has mode %04o, want %04o", p, g.Mode, w.Mode))
		}
		if g.UID != w.UID || g.GID != w.GID {
			probs = append(probs, fmt.Sprintf("%s is owned by %d:%d, want %d:%d", p, g.UID, g.GID, w.UID, w.GID))
		}
		if w.Size >= 0 && g.Size != w.Size {
			probs = append(probs, fmt.Sprintf("%s has %d bytes, want %d", p, g.Size, w.Size))
		}
		if w.SHA256 != "" && g.SHA256 != w.SHA256 {
			probs = append(probs, fmt.Sprintf("%s has sha256 %s, want %s", p, g.SHA256, w.SHA256))
		}
		if w.Type == 'l' && g.Target != w.Target {
			probs = append(probs, fmt.Sprintf("%s points to %s, want %s", p, g.Target, w.Target))
		}
	}
	extra := make([]string, 0)
	for p, g := range got {
		if _, ok := want.Entries[p]; ok {
			continue
		}
		if g.Type == 'd' && ancestors[p] {
			if g.Mode != 0o755 || g.UID != 0 || g.GID != 0 {
				probs = append(probs, fmt.Sprintf("parent directory %s has mode %04o and owner %d:%d, want 0755 0:0", p, g.Mode, g.UID, g.GID))
			}
			continue
		}
		extra = append(extra, p)
	}
	sort.Strings(extra)
	for _, p := range extra {
		probs = append(probs, fmt.Sprintf("%s was written but the config does not declare it (%s)", p, got[p]))
	}
	return probs
}
