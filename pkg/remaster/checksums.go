package remaster

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"
)

// checksumLists are the files in which Debian and Ubuntu images list a
// checksum of every file ("HASH  ./path" lines); Ubuntu's casper checks
// md5sum.txt at boot and reports every changed file as a mismatch.
var checksumLists = []struct {
	path string
	hash func() hash.Hash
}{
	{"/md5sum.txt", md5.New},
	{"/sha256sum.txt", sha256.New},
}

// maxChecksumList bounds the size of a checksum list read into memory.
const maxChecksumList = 4 << 20

// checksumLists returns the checksum lists of the image updated for the
// added and replaced files: the line of a replaced file gets the new
// checksum, and an added file gets a line in the list's own format. Lists
// that do not change are not returned.
func (im *Image) checksumLists(changed []File) ([]File, error) {
	var out []File
	for _, l := range checksumLists {
		e, err := im.Trees[0].Lookup(l.path)
		if err != nil || e.IsDir || e.Length > maxChecksumList {
			continue
		}
		data := make([]byte, e.Length)
		if _, err := im.Trees[0].Section(e).ReadAt(data, 0); err != nil {
			return nil, err
		}
		updated, ok, err := updateChecksums(data, changed, l.hash)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, File{Path: l.path, Data: updated})
		}
	}
	return out, nil
}

// updateChecksums rewrites the lines "HASH  ./path" (or "HASH  path") of
// the changed files and appends lines for the files it does not list.
func updateChecksums(list []byte, changed []File, newHash func() hash.Hash) ([]byte, bool, error) {
	lines := strings.SplitAfter(string(list), "\n")
	prefix := "./"
	sep := "  "
	index := map[string]int{}
	for i, line := range lines {
		sum, name, found := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		if !found || len(sum) < 32 {
			continue
		}
		rest := strings.TrimLeft(name, " *")
		if i == 0 {
			sep = " " + name[:len(name)-len(rest)]
			if !strings.HasPrefix(rest, "./") {
				prefix = ""
			}
		}
		index[strings.TrimPrefix(rest, "./")] = i
	}
	if len(index) == 0 {
		return nil, false, nil
	}
	var buf bytes.Buffer
	appended := false
	for _, f := range changed {
		h := newHash()
		r, n := f.content()
		if _, err := io.Copy(h, io.NewSectionReader(r, 0, n)); err != nil {
			return nil, false, fmt.Errorf("checksum of %s: %w", f.Path, err)
		}
		sum := hex.EncodeToString(h.Sum(nil))
		name := strings.TrimPrefix(f.Path, "/")
		if i, ok := index[name]; ok {
			eol := lines[i][len(strings.TrimRight(lines[i], "\r\n")):]
			lines[i] = sum + sep + prefix + name + eol
			continue
		}
		if !appended && len(lines) > 0 && !strings.HasSuffix(lines[len(lines)-1], "\n") && lines[len(lines)-1] != "" {
			lines[len(lines)-1] += "\n"
		}
		appended = true
		lines = append(lines, sum+sep+prefix+name+"\n")
	}
	for _, l := range lines {
		buf.WriteString(l)
	}
	return buf.Bytes(), !bytes.Equal(buf.Bytes(), list), nil
}
