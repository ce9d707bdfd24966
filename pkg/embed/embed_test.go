package embed

import (
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
	"github.com/isobuild/isobuild/pkg/installer"
	"github.com/isobuild/isobuild/pkg/iso"
)

func open(t *testing.T, path string) (*Image, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return Open(f, st.Size())
}

func mustOpen(t *testing.T, path string) *Image {
	t.Helper()
	im, err := open(t, path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return im
}

func poke(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

const (
	fcos34  = "mitigations=auto,nosmt coreos.liveiso=fedora-coreos-34.20210921.dev.0 ignition.firstboot ignition.platform.id=metal"
	rhcos47 = "random.trust_cpu=on coreos.liveiso=rhcos-47.84.202112162337-0 ignition.firstboot ignition.platform.id=metal"
)

// Spec section 7.2 and 7.3.
func TestAreas(t *testing.T) {
	for _, tc := range []struct {
		name       string
		initrd     Area
		kargsSize  int
		kargs      []int64
		source     string
		defaultArg string
		features   installer.Features
	}{
		{name: "embed-areas-2020-09.iso", initrd: Area{"IMAGES/IGNITION.IMG", 92160, 262144}},
		{name: "embed-areas-2021-01.iso", initrd: Area{"IMAGES/IGNITION.IMG", 96256, 262144}, kargsSize: 1131, kargs: []int64{94026, 365415}, source: "coreKarg header", defaultArg: rhcos47},
		{name: "embed-areas-2021-09.iso", initrd: Area{"IMAGES/IGNITION.IMG", 102400, 262144}, kargsSize: 1139, kargs: []int64{98126, 371658}, source: "kargs.json", defaultArg: fcos34},
		{name: "embed-areas-2021-12.iso", initrd: Area{"IMAGES/IGNITION.IMG", 161792, 262144}, kargsSize: 1139, kargs: []int64{139086, 431050}, source: "kargs.json",
			features: installer.Features{InstallerConfig: true, LiveInitrdNetwork: true}},
		{name: "embed-areas-2022-02.iso", initrd: Area{"IMAGES/IGNITION.IMG", 159744, 262144}, kargsSize: 1139, kargs: []int64{137038, 429002}, source: "kargs.json",
			features: installer.Features{InstallerConfig: true, LiveInitrdNetwork: true}},
		{name: "embed-areas-2022-09.iso", initrd: Area{"IMAGES/IGNITION.IMG", 159744, 262144}, kargsSize: 1139, kargs: []int64{137038, 429002}, source: "kargs.json"},
		{name: "embed-areas-2023-03.s390x.iso", initrd: Area{"IMAGES/CDBOOT.IMG", 203776, 262144}},
		{name: "embed-areas-2023-03.x86_64.iso", initrd: Area{"IMAGES/IGNITION.IMG", 157696, 262144}, kargsSize: 1139, kargs: []int64{427853, 431050}, source: "kargs.json"},
		{name: "embed-areas-2023-07.s390x.iso", initrd: Area{"IMAGES/CDBOOT.IMG", 203776, 262144}, kargsSize: 896, kargs: []int64{138368}, source: "kargs.json"},
		{name: "embed-areas-2023-07.x86_64.iso", initrd: Area{"IMAGES/IGNITION.IMG", 139264, 262144}, kargsSize: 1139, kargs: []int64{137037, 408522}, source: "kargs.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im := mustOpen(t, fixture.ISO(t, tc.name))
			if im.Initrd != tc.initrd {
				t.Errorf("initrd area %+v, want %+v", im.Initrd, tc.initrd)
			}
			if len(im.Members()) != 0 || im.InitrdUsed != 0 {
				t.Errorf("pristine fixture has members %v, %d bytes used", im.Members().Names(), im.InitrdUsed)
			}
			if tc.kargs == nil {
				if im.Kargs != nil {
					t.Fatalf("found karg areas %+v, want none", im.Kargs)
				}
				if _, err := im.CurrentKargs(); !errors.Is(err, ErrNoKargAreas) {
					t.Fatalf("CurrentKargs: %v", err)
				}
				return
			}
			if im.Kargs == nil {
				t.Fatal("no karg areas found")
			}
			if im.Kargs.Size != tc.kargsSize || im.Kargs.Source != tc.source {
				t.Errorf("karg size %d from %s, want %d from %s", im.Kargs.Size, im.Kargs.Source, tc.kargsSize, tc.source)
			}
			var offs []int64
			for _, a := range im.Kargs.Areas {
				offs = append(offs, a.Offset)
			}
			if len(offs) != len(tc.kargs) {
				t.Fatalf("karg areas at %v, want %v", offs, tc.kargs)
			}
			for i := range offs {
				if offs[i] != tc.kargs[i] {
					t.Fatalf("karg areas at %v, want %v", offs, tc.kargs)
				}
			}
			cur, err := im.CurrentKargs()
			if err != nil {
				t.Fatal(err)
			}
			if cur != im.Kargs.Default {
				t.Errorf("pristine kargs %q differ from default %q", cur, im.Kargs.Default)
			}
			if tc.defaultArg != "" && cur != tc.defaultArg {
				t.Errorf("kargs %q, want %q", cur, tc.defaultArg)
			}
			if tc.features.InstallerConfig {
				f, err := im.Features()
				if err != nil {
					t.Fatal(err)
				}
				if !f.InstallerConfig || !f.LiveInitrdNetwork || f.InstallerConfigDirectives["console"] {
					t.Errorf("features %+v", f)
				}
			}
			if strings.Contains(tc.name, "s390x") {
				if a := im.Kargs.Areas[0]; a.Pad != 0 || a.End != 0 {
					t.Errorf("s390x pad/end %q/%q, want NULs", a.Pad, a.End)
				}
			}
		})
	}
}

func TestUnrecognized(t *testing.T) {
	_, err := open(t, fixture.ISO(t, "synthetic.iso"))
	if !errors.Is(err, ErrUnrecognized) || !strings.Contains(err.Error(), "IMAGES/IGNITION.IMG") {
		t.Fatalf("synthetic.iso: %v, want ErrUnrecognized", err)
	}
}

// Spec 6.7 item 42.
func TestCorruptDirectoryRecord(t *testing.T) {
	path := fixture.ISO(t, "embed-areas-2021-09.iso")
	if im := mustOpen(t, path); im.Initrd.Offset != 102400 || im.Initrd.Length != 262144 {
		t.Fatalf("initrd area %+v", im.Initrd)
	}
	poke(t, path, 65903, []byte("Z"))
	if _, err := open(t, path); err == nil {
		t.Fatal("Open succeeded on a corrupted IMAGES directory")
	}
}

// Spec 6.7 item 43: kargs.json alone, the header alone, both, neither.
func TestKargSources(t *testing.T) {
	check := func(t *testing.T, path, source string) {
		t.Helper()
		im := mustOpen(t, path)
		if im.Kargs == nil {
			t.Fatal("no karg areas")
		}
		if im.Kargs.Source != source || im.Kargs.Size != 1139 || im.Kargs.Default != fcos34 {
			t.Fatalf("got %s size %d default %q", im.Kargs.Source, im.Kargs.Size, im.Kargs.Default)
		}
		offs := []int64{im.Kargs.Areas[0].Offset, im.Kargs.Areas[1].Offset}
		if len(im.Kargs.Areas) != 2 || offs[0] != 98126 || offs[1] != 371658 {
			t.Fatalf("areas %v", offs)
		}
	}
	both := fixture.ISO(t, "embed-areas-2021-09.iso")
	check(t, both, "kargs.json")

	jsonOnly := fixture.ISO(t, "embed-areas-2021-09.iso")
	poke(t, jsonOnly, kargHeaderOffset, make([]byte, 8))
	check(t, jsonOnly, "kargs.json")

	headerOnly := fixture.ISO(t, "embed-areas-2021-09.iso")
	poke(t, headerOnly, 63725, []byte("Z"))
	check(t, headerOnly, "coreKarg header")

	neither := fixture.ISO(t, "embed-areas-2021-09.iso")
	poke(t, neither, 63725, []byte("Z"))
	poke(t, neither, kargHeaderOffset, make([]byte, 8))
	if im := mustOpen(t, neither); im.Kargs != nil {
		t.Fatalf("found karg areas %+v", im.Kargs)
	}
}

func TestIncomplete(t *testing.T) {
	path := fixture.ISO(t, "embed-areas-2022-09.iso")
	st, _ := os.Stat(path)
	if err := os.Truncate(path, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	_, err := open(t, path)
	if !errors.Is(err, iso.ErrIncomplete) || !strings.Contains(err.Error(), "shorter than its ISO 9660 volume size") {
		t.Fatalf("got %v", err)
	}
}

// Spec 6.7 item 46 and section 3.6.
func TestKargsEdit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		edit KargsEdit
		want string
	}{
		{"foo bar foobar", KargsEdit{Delete: []string{"foo"}}, "bar foobar"},
		{"foo bar foobar", KargsEdit{Delete: []string{"bar"}}, "foo foobar"},
		{"foo bar foobar", KargsEdit{Delete: []string{"foobar"}}, "foo bar"},
		{"foo bar foobar", KargsEdit{Delete: []string{"foo bar"}}, "foobar"},
		{"foo bar foobar", KargsEdit{Delete: []string{"  foo  "}}, "bar foobar"},
		{"foo=bar", KargsEdit{Delete: []string{"foo"}}, "foo=bar"},
		{"a", KargsEdit{Append: []string{" b ", "a"}}, "a b a"},
		// Phases run delete, append, replace whatever the order given.
		{"x", KargsEdit{Append: []string{"x"}, Delete: []string{"x"}}, "x"},
		{"k=1", KargsEdit{Append: []string{"n=old"}, Replace: []string{"n=old=new", "k=1=2"}}, "k=2 n=new"},
		{"foo=bar baz foo=bar", KargsEdit{Replace: []string{"foo=bar=qux"}}, "foo=qux baz foo=qux"},
		{"", KargsEdit{Append: []string{"first"}}, "first"},
	} {
		got, err := tc.edit.Apply(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%+v.Apply(%q) = %q, %v; want %q", tc.edit, tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"foo", "foo=bar", "a=b=c=d", "=b=c", "a==c"} {
		var syntax *ReplaceSyntaxError
		if _, err := (KargsEdit{Replace: []string{bad}}).Apply("x"); !errors.As(err, &syntax) || syntax.Arg != bad {
			t.Errorf("replace %q: %v", bad, err)
		}
	}
}

func TestOverlayTooLarge(t *testing.T) {
	im := mustOpen(t, fixture.ISO(t, "embed-areas-2023-07.x86_64.iso"))
	big := make([]byte, 300000)
	rand.NewChaCha8([32]byte{7}).Read(big)
	c, err := im.EmbedIgnition(big, false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = im.Overlay(c)
	var tl *TooLargeError
	if !errors.As(err, &tl) || !strings.Contains(err.Error(), "too small for a") {
		t.Fatalf("got %v", err)
	}
	if tl.Area.Length != 262144 || tl.Need <= 262144 {
		t.Fatalf("TooLargeError %+v", tl)
	}
}

func TestKargsControlCharacters(t *testing.T) {
	im := mustOpen(t, fixture.ISO(t, "embed-areas-2023-07.x86_64.iso"))
	for _, bad := range []string{"x\nsearch --set=root --label EVIL", "a\rb", "nul\x00", "tab\there"} {
		c, err := im.ModifyKargs(KargsEdit{Append: []string{bad}})
		if err == nil {
			_, err = im.Overlay(c)
		}
		if err == nil || !strings.Contains(err.Error(), "control characters") {
			t.Errorf("append %q: %v", bad, err)
		}
	}
}
