package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
)

// karg-capable fixtures (spec 7.3).
var kargFixtures = []string{
	"embed-areas-2021-01.iso", "embed-areas-2021-09.iso", "embed-areas-2021-12.iso",
	"embed-areas-2022-02.iso", "embed-areas-2022-09.iso", "embed-areas-2023-03.x86_64.iso",
	"embed-areas-2023-07.s390x.iso", "embed-areas-2023-07.x86_64.iso",
}

func kargsShow(t *testing.T, iso string, extra ...string) string {
	t.Helper()
	r := ok(t, nil, append(append([]string{"iso", "kargs", "show"}, extra...), iso)...)
	if !bytes.HasSuffix(r.stdout, []byte("\n")) {
		t.Fatalf("kargs show output %q lacks the final newline", r.stdout)
	}
	return strings.TrimSuffix(string(r.stdout), "\n")
}

func TestKargs(t *testing.T) {
	for _, name := range kargFixtures {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iso := fixture.ISO(t, name)
			orig := fixture.SHA256(t, iso)
			def := kargsShow(t, iso, "--default")
			if cur := kargsShow(t, iso); cur != def || strings.Contains(cur, "foobar") {
				t.Fatalf("pristine kargs %q, default %q", cur, def)
			}

			// Items 17-18: append, then delete restores the original.
			added := writeTemp(t, "added.iso", modes(t, iso, nil, "iso", "kargs", "modify", "-a", "foobar=oldval", "-a", "dodo"))
			if got := kargsShow(t, added); !strings.HasSuffix(got, " foobar=oldval dodo") {
				t.Fatalf("after append: %q", got)
			}
			if got := sum(modes(t, added, nil, "iso", "kargs", "modify", "-d", "foobar=oldval", "-d", "dodo")); got != orig {
				t.Fatal("deleting the appended kargs did not restore the original")
			}

			// Item 19: replace.
			replaced := writeTemp(t, "replaced.iso", modes(t, added, nil, "iso", "kargs", "modify", "-r", "foobar=oldval=newval"))
			if got := kargsShow(t, replaced); !strings.HasSuffix(got, " foobar=newval dodo") {
				t.Fatalf("after replace: %q", got)
			}
			if got := sum(modes(t, replaced, nil, "iso", "kargs", "modify", "-d", "foobar=newval", "-d", "dodo")); got != orig {
				t.Fatal("deleting the replaced kargs did not restore the original")
			}
			fails(t, "Wrong input, format should be: KEY=OLD=NEW", nil, "iso", "kargs", "modify", "-r", "foo=bar", "-o", "-", iso)

			// Item 20: the maximum length, and one more.
			rep := inspectJSON(t, iso)
			size := rep.Kargs.Size
			maxLen := size - (len(def) + 1) - 1
			long := strings.Repeat("x", maxLen)
			full := writeTemp(t, "full.iso", ok(t, nil, "iso", "kargs", "modify", "-a", long, "-o", "-", iso).stdout)
			if got := kargsShow(t, full); !strings.HasSuffix(got, " "+long) {
				t.Fatalf("maximum-length karg not stored")
			}
			failsAllModes(t, iso, "kargs too large for area", nil, "iso", "kargs", "modify", "-a", long+"x")

			// Item 21: reset restores the original in every mode.
			foo := writeTemp(t, "foo.iso", ok(t, nil, "iso", "kargs", "modify", "-a", "foobar", "-o", "-", iso).stdout)
			if got := sum(modes(t, foo, nil, "iso", "kargs", "reset")); got != orig {
				t.Fatal("kargs reset did not restore the original")
			}
			if got := sum(modes(t, foo, nil, "iso", "reset")); got != orig {
				t.Fatal("iso reset did not restore the original")
			}

			// Item 22: ground truth of the first area's bytes.
			val := writeTemp(t, "val.iso", ok(t, nil, "iso", "kargs", "modify", "-a", "foobar=val", "-o", "-", iso).stdout)
			area := rep.Kargs.Areas[0]
			got := readTestFile(t, val)[area.Offset : area.Offset+int64(area.Length)]
			want := []byte(def + " foobar=val")
			if strings.Contains(name, "s390x") {
				want = append(want, make([]byte, size-len(want))...)
			} else {
				want = append(want, '\n')
				want = append(want, bytes.Repeat([]byte("#"), size-len(want))...)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("area bytes at %d:\n got %q\nwant %q", area.Offset, got, want)
			}
		})
	}
}

func TestKargsUnsupported(t *testing.T) {
	for _, name := range []string{"embed-areas-2020-09.iso", "embed-areas-2023-03.s390x.iso"} {
		t.Run(name, func(t *testing.T) {
			iso := fixture.ISO(t, name)
			const want = "No karg embed areas found"
			failsAllModes(t, iso, want, nil, "iso", "kargs", "modify", "-a", "foo")
			failsAllModes(t, iso, want, nil, "iso", "kargs", "reset")
			fails(t, want, nil, "iso", "kargs", "show", iso)
			fails(t, want, nil, "iso", "kargs", "show", "--default", iso)
			// iso reset still works without karg areas.
			orig := fixture.SHA256(t, iso)
			if got := sum(modes(t, iso, nil, "iso", "reset")); got != orig {
				t.Fatal("iso reset changed a pristine image")
			}
		})
	}
}

func TestKargsMismatch(t *testing.T) {
	iso := fixture.ISO(t, "embed-areas-2023-07.x86_64.iso")
	rep := inspectJSON(t, iso)
	f, err := os.OpenFile(iso, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Make the second area differ from the first.
	if _, err := f.WriteAt([]byte("xyz"), rep.Kargs.Areas[1].Offset); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fails(t, "kargs don't match at all offsets!", nil, "iso", "kargs", "show", iso)
}
