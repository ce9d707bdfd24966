package embed

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/iso"
)

// rewriteMetadata replaces the contents of a metadata file of the image at
// path, padding with spaces to its old length (JSON allows them).
func rewriteMetadata(t *testing.T, path, name string, v any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	img, err := iso.Open(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := img.Lookup(name)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(raw)) > rec.Length {
		t.Fatalf("new %s is %d bytes, the file %d", name, len(raw), rec.Length)
	}
	poke(t, path, rec.Offset, append(raw, bytes.Repeat([]byte(" "), int(rec.Length)-len(raw))...))
}

// TestLayoutCorrupt: areas that overlap each other or the metadata, or
// reach outside their file, make Open fail with ErrCorrupt naming both.
func TestLayoutCorrupt(t *testing.T) {
	const name = "embed-areas-2023-07.x86_64.iso"
	pristine := mustOpen(t, fixture.ISO(t, name))
	infoRec, err := pristine.ISO.Lookup(KargsInfoPath)
	if err != nil {
		t.Fatal(err)
	}
	var kj map[string]any
	raw, err := pristine.ISO.ReadFile(KargsInfoPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &kj); err != nil {
		t.Fatal(err)
	}
	files := kj["files"].([]any)
	firstFile := files[0].(map[string]any)["path"].(string)
	firstRec, err := pristine.ISO.Lookup(strings.ToUpper(firstFile))
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name  string
		edit  func(path string)
		wants []string
	}{
		{"igninfo over a karg area", func(path string) {
			// The whole bootloader config as the initrd area: igninfo.json
			// is too short for an offset and a length.
			rewriteMetadata(t, path, IgnInfoPath, map[string]any{"file": strings.TrimPrefix(firstFile, "/")})
		}, []string{"initrd embed area", "karg area in " + Quote(firstFile)}},
		{"karg area inside images/ignition.img", func(path string) {
			kj2 := clone(kj)
			f0 := kj2["files"].([]any)[0].(map[string]any)
			f0["path"] = "/images/ignition.img"
			f0["offset"] = 4096
			rewriteMetadata(t, path, KargsInfoPath, kj2)
		}, []string{`initrd embed area in "IMAGES/IGNITION.IMG"`, `karg area in "/images/ignition.img"`}},
		{"karg area over kargs.json itself", func(path string) {
			kj2 := clone(kj)
			f0 := kj2["files"].([]any)[0].(map[string]any)
			f0["path"] = "/coreos/kargs.jso"
			f0["offset"] = 0
			kj2["size"] = int(infoRec.Length)
			rewriteMetadata(t, path, KargsInfoPath, kj2)
		}, []string{"metadata file COREOS/KARGS.JSO", `karg area in "/coreos/kargs.jso"`}},
		{"karg area past the end of its file", func(path string) {
			kj2 := clone(kj)
			kj2["files"].([]any)[0].(map[string]any)["offset"] = firstRec.Length - 10
			rewriteMetadata(t, path, KargsInfoPath, kj2)
		}, []string{"lies outside", "file " + Quote(strings.ToUpper(firstFile))}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := fixture.ISO(t, name)
			c.edit(path)
			_, err := open(t, path)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open = %v, want ErrCorrupt", err)
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

// TestLayoutLegacyHeader: on an image described by the coreKarg header, a
// karg area over the header itself is refused.
func TestLayoutLegacyHeader(t *testing.T) {
	path := fixture.ISO(t, "embed-areas-2021-01.iso")
	im := mustOpen(t, path)
	if im.Kargs == nil || im.Kargs.Source != "coreKarg header" {
		t.Skipf("fixture has no coreKarg header areas: %+v", im.Kargs)
	}
	for _, c := range []struct {
		off  int64
		want string
	}{{kargHeaderOffset - 16, "coreKarg header"}, {32768 + 100, "volume descriptor"}} {
		path := fixture.ISO(t, "embed-areas-2021-01.iso")
		var slot [8]byte
		putLE(slot[:], c.off)
		poke(t, path, kargHeaderOffset+24, slot[:])
		_, err := open(t, path)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("area at %d: Open = %v, want ErrCorrupt naming the %s", c.off, err, c.want)
		}
	}
}

func putLE(b []byte, v int64) {
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
}

func clone(m map[string]any) map[string]any {
	raw, _ := json.Marshal(m)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return out
}
