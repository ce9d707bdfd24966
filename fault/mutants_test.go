//go:build fault

package fault

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isobuild/isobuild/pkg/initrd"
	"github.com/isobuild/isobuild/pkg/iso"
)

// mutantSeed makes the mutants reproducible.
const mutantSeed = 0x150b_0001

// randomPerFixture is the number of random mutants per fixture; the
// structured ones come on top.
const randomPerFixture = 18

type mutant struct {
	id      string // fixture/kind#n
	data    []byte
	overlap bool // an initrd/karg area overlap every command must refuse
}

// mutCmd is one isobuild command run on every mutant.
type mutCmd struct {
	name    string
	args    []string // before -o and the image
	inPlace bool     // has an in-place mode
	reader  bool     // never writes
}

func mutCmds(t testing.TB) []mutCmd {
	c := customizeFile
	return []mutCmd{
		{name: "iso ignition embed", args: []string{"iso", "ignition", "embed", "-i", c(t, "live.ign")}, inPlace: true},
		{name: "iso ignition remove", args: []string{"iso", "ignition", "remove"}, inPlace: true},
		{name: "iso kargs modify", args: []string{"iso", "kargs", "modify", "-a", "x=y"}, inPlace: true},
		{name: "iso kargs reset", args: []string{"iso", "kargs", "reset"}, inPlace: true},
		{name: "iso network embed", args: []string{"iso", "network", "embed", "-k", c(t, "installer-test.nmconnection")}, inPlace: true},
		{name: "iso network remove", args: []string{"iso", "network", "remove"}, inPlace: true},
		{name: "iso customize", args: []string{"iso", "customize", "--dest-device", "/dev/sda", "--dest-ignition", c(t, "dest.ign")}, inPlace: true},
		{name: "iso reset", args: []string{"iso", "reset"}, inPlace: true},
		// build never edits in place: it always writes a new image.
		{name: "build", args: []string{"build", "--butane", c(t, "live.bu")}},
		{name: "iso ignition show", args: []string{"iso", "ignition", "show"}, reader: true},
		{name: "iso kargs show", args: []string{"iso", "kargs", "show"}, reader: true},
		{name: "inspect", args: []string{"inspect"}, reader: true},
		{name: "inspect --json", args: []string{"inspect", "--json"}, reader: true},
	}
}

func TestMutants(t *testing.T) {
	mutants := makeMutants(t)
	cmds := mutCmds(t)
	nOverlap := 0
	for _, m := range mutants {
		if m.overlap {
			nOverlap++
		}
	}
	t.Logf("%d mutants (%d with overlapping areas), %d commands", len(mutants), nOverlap, len(cmds))
	famFor := map[string]*family{}
	for _, c := range cmds {
		switch {
		case c.reader:
			famFor[c.name] = fam("mutants × "+c.name, "reader on mutants: exit 0/1, input unchanged, clean stderr")
		default:
			if c.inPlace {
				famFor[c.name+" in place"] = fam("mutants × "+c.name+" (in place)", "exit 0/1; exit 1 leaves the image byte-identical; no stray file; no 'karg areas disagree' afterwards")
			}
			famFor[c.name+" -o"] = fam("mutants × "+c.name+" -o OUT", "exit 0/1; input byte-identical; exit 1 leaves the output dir empty; output readable by kargs show/inspect")
		}
	}
	famFor["build in place"] = nil
	ovFam := fam("overlap mutants × every command", "igninfo over a karg area / kargs.json into the initrd area: every command exits 1 with 'corrupt' naming both areas")
	var jobs []func()
	for _, m := range mutants {
		jobs = append(jobs, func() { runMutant(t, m, cmds, famFor, ovFam) })
	}
	parallel(jobs)
}

func runMutant(t *testing.T, m mutant, cmds []mutCmd, famFor map[string]*family, ovFam *family) {
	dir := scratch(t, "mut-")
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "in.iso")
	writeFile(t, in, m.data)
	inputDisagrees := disagreeRE.Match(isob(opts{timeout: 30 * time.Second}, "iso", "kargs", "show", in).stderr)
	for ci, c := range cmds {
		if c.reader {
			r := isob(opts{timeout: 30 * time.Second}, append(append([]string{}, c.args...), in)...)
			p := checkAll(r)
			p = append(p, checkSame(in, m.data, "input")...)
			if r.exit == 0 && c.name == "inspect --json" && !json.Valid(r.stdout) {
				p = append(p, "inspect --json printed invalid JSON")
			}
			recordMutant(t, m, c.name, r, p, famFor[c.name], ovFam)
			continue
		}
		// -o OUT into an empty directory.
		outDir := filepath.Join(dir, fmt.Sprintf("out%d", ci))
		os.Mkdir(outDir, 0o755)
		out := filepath.Join(outDir, "out.iso")
		r := isob(opts{timeout: 30 * time.Second}, append(append([]string{}, c.args...), "-o", out, in)...)
		p := checkAll(r)
		p = append(p, checkSame(in, m.data, "input")...)
		switch r.exit {
		case 1:
			p = append(p, checkDir(outDir)...)
		case 0:
			p = append(p, checkDir(outDir, "out.iso")...)
			p = append(p, followUp(out, inputDisagrees)...)
		}
		recordMutant(t, m, c.name+" -o", r, p, famFor[c.name+" -o"], ovFam)
		os.RemoveAll(outDir)
		if !c.inPlace {
			continue
		}
		// In place, on a copy.
		ipDir := filepath.Join(dir, fmt.Sprintf("ip%d", ci))
		os.Mkdir(ipDir, 0o755)
		img := filepath.Join(ipDir, "img.iso")
		writeFile(t, img, m.data)
		r = isob(opts{timeout: 30 * time.Second}, append(append([]string{}, c.args...), img)...)
		p = checkAll(r)
		p = append(p, checkDir(ipDir, "img.iso")...)
		switch r.exit {
		case 1:
			p = append(p, checkSame(img, m.data, "image after a failed in-place edit")...)
		case 0:
			p = append(p, followUp(img, inputDisagrees)...)
		}
		recordMutant(t, m, c.name+" in place", r, p, famFor[c.name+" in place"], ovFam)
		os.RemoveAll(ipDir)
	}
}

var disagreeRE = regexp.MustCompile(`(?i)disagree|match at all offsets`)

// followUp reads a result that isobuild wrote: `iso kargs show` and
// `inspect` may fail (an image without karg areas, say) but not because the
// karg areas disagree, which would mean the write left them inconsistent.
// Commands that do not touch kernel arguments (ignition, network) pass
// areas that already disagreed in the input through as they were: that
// is no damage of theirs, and not counted.
func followUp(image string, inputDisagrees bool) []string {
	var p []string
	const why = "the write left them inconsistent"
	for _, args := range [][]string{{"iso", "kargs", "show", image}, {"inspect", image}} {
		r := isob(opts{timeout: 30 * time.Second}, args...)
		for _, q := range checkAll(r) {
			p = append(p, "follow-up: "+q)
		}
		if r.exit != 0 && disagreeRE.Match(r.stderr) && !inputDisagrees {
			p = append(p, "follow-up on the written image reports disagreeing karg areas ("+why+"): "+r.describe())
		}
	}
	return p
}

var overlapSample sync.Once

var (
	corruptRE = regexp.MustCompile(`(?i)corrupt`)
	kargRE    = regexp.MustCompile(`(?i)karg`)
	initrdRE  = regexp.MustCompile(`(?i)initrd|igninfo`)
)

func recordMutant(t *testing.T, m mutant, cmd string, r result, p []string, f *family, ovFam *family) {
	if m.overlap {
		if r.exit != 1 {
			p = append(p, "overlapping areas not refused: "+r.describe())
		} else if !corruptRE.Match(r.stderr) || !kargRE.Match(r.stderr) || !initrdRE.Match(r.stderr) {
			p = append(p, "refusal does not say 'corrupt' and name both the initrd and the karg area: "+r.describe())
		}
		if len(p) == 0 {
			overlapSample.Do(func() { ovFam.note("sample refusal: " + clip(firstErrorLine(string(r.stderr)), 240)) })
		}
		ovFam.record(t, m.id+" × "+cmd, p)
		return
	}
	f.record(t, m.id+" × "+cmd, p)
}

// ---------------------------------------------------------------------------
// Mutant generation.

func makeMutants(t *testing.T) []mutant {
	rng := rand.New(rand.NewPCG(mutantSeed, mutantSeed^0x9e3779b97f4a7c15))
	var all []mutant
	for _, name := range fixtureNames(t) {
		l := layoutOf(t, name)
		g := &mutGen{l: l, rng: rng, seen: map[string]int{}}
		g.structured(t)
		for range randomPerFixture {
			g.random(t)
		}
		all = append(all, g.out...)
	}
	return all
}

type mutGen struct {
	l    *isoLayout
	rng  *rand.Rand
	seen map[string]int
	out  []mutant
}

func (g *mutGen) clone() []byte { return append([]byte(nil), g.l.data...) }

func (g *mutGen) add(kind string, data []byte, overlap bool) {
	g.seen[kind]++
	g.out = append(g.out, mutant{id: fmt.Sprintf("%s/%s#%d", g.l.name, kind, g.seen[kind]), data: data, overlap: overlap})
}

// jsonish bytes make mutations that keep JSON half-plausible.
const jsonish = `0123456789-+.eE,:{}[]" nul`

func (g *mutGen) randByte(jsonBias bool) byte {
	if jsonBias && g.rng.IntN(2) == 0 {
		return jsonish[g.rng.IntN(len(jsonish))]
	}
	return byte(g.rng.IntN(256))
}

// flip flips 1..3 random bits in [off, off+n).
func (g *mutGen) flip(d []byte, off, n int64) {
	for range 1 + g.rng.IntN(3) {
		i := off + g.rng.Int64N(n)
		d[i] ^= 1 << g.rng.IntN(8)
	}
}

// overwrite writes 1..8 random bytes at a random place in [off, off+n).
func (g *mutGen) overwrite(d []byte, off, n int64, jsonBias bool) {
	k := int64(1 + g.rng.IntN(8))
	i := off + g.rng.Int64N(n)
	for j := i; j < i+k && j < off+n; j++ {
		d[j] = g.randByte(jsonBias)
	}
}

var kargBytes = []byte{'\n', '#', 0, 0xff, ' ', 'x', '=', '\r', 0x1b, '"', 0xc3}

// random adds one random mutant of a kind that applies to the fixture.
func (g *mutGen) random(t *testing.T) {
	l := g.l
	type kind struct {
		name string
		fn   func(d []byte)
	}
	var kinds []kind
	for p, rec := range sortedMeta(l.meta) {
		if rec.Length == 0 {
			continue
		}
		base := strings.ToLower(filepath.Base(p))
		kinds = append(kinds,
			kind{"flip-" + base, func(d []byte) { g.flip(d, rec.Offset, rec.Length) }},
			kind{"overwrite-" + base, func(d []byte) { g.overwrite(d, rec.Offset, rec.Length, true) }})
	}
	for _, a := range l.areas {
		kinds = append(kinds,
			kind{"flip-kargarea", func(d []byte) { g.flip(d, a.Offset, int64(a.Length)+1) }},
			kind{"overwrite-kargarea", func(d []byte) {
				for range 1 + g.rng.IntN(4) {
					d[a.Offset+g.rng.Int64N(int64(a.Length)+1)] = kargBytes[g.rng.IntN(len(kargBytes))]
				}
			}})
	}
	if l.initrd.Length > 0 {
		area := l.initrd
		kinds = append(kinds,
			kind{"garbage-initrd", func(d []byte) { g.overwrite(d, area.Offset, min(area.Length, 64), false) }},
			kind{"flip-customized-initrd", func(d []byte) {
				xz, err := initrd.EncodeXZ(initrd.Files{
					"config.ign": []byte(`{"ignition":{"version":"3.4.0"}}`),
					"etc/coreos-firstboot-network/eth0.nmconnection": []byte("[connection]\nid=eth0\ntype=ethernet\n"),
				})
				if err != nil {
					t.Fatal(err)
				}
				copy(d[area.Offset:], xz)
				switch g.rng.IntN(3) {
				case 0:
					g.flip(d, area.Offset, int64(len(xz)))
				case 1:
					g.overwrite(d, area.Offset, int64(len(xz)), false)
				default: // truncate the stream
					cut := g.rng.Int64N(int64(len(xz)))
					clear(d[area.Offset+cut : area.Offset+int64(len(xz))])
				}
			}})
	}
	if len(l.data) >= kargHdrOff+kargHdrSize {
		if l.header {
			kinds = append(kinds, kind{"flip-corekarg-header", func(d []byte) { g.flip(d, kargHdrOff, kargHdrSize) }},
				kind{"overwrite-corekarg-header", func(d []byte) { g.overwrite(d, kargHdrOff+8, kargHdrSize-8, false) }})
		} else if _, ok := l.meta[kargsISO]; !ok {
			kinds = append(kinds, kind{"fake-corekarg-header", func(d []byte) {
				h := d[kargHdrOff : kargHdrOff+kargHdrSize]
				copy(h, "coreKarg")
				sizes := []uint64{1139, 0, 4096, 1, uint64(g.rng.Uint32())}
				binary.LittleEndian.PutUint64(h[8:], sizes[g.rng.IntN(len(sizes))])
				for i := 16; i < kargHdrSize; i += 8 {
					var off uint64
					switch g.rng.IntN(4) {
					case 0:
						off = uint64(g.rng.Int64N(int64(len(d))))
					case 1:
						off = uint64(len(d)) + uint64(g.rng.IntN(1<<20))
					case 2:
						off = g.rng.Uint64()
					}
					binary.LittleEndian.PutUint64(h[i:], off)
				}
			}})
		}
	}
	if len(l.data) >= pvdOffset+sectorSize {
		kinds = append(kinds, kind{"pvd", func(d []byte) {
			fields := [][2]int64{{0, 7}, {80, 8}, {120, 4}, {128, 4}, {156, 34}, {0, 2048}}
			f := fields[g.rng.IntN(len(fields))]
			if g.rng.IntN(2) == 0 {
				g.flip(d, pvdOffset+f[0], f[1])
			} else {
				g.overwrite(d, pvdOffset+f[0], f[1], false)
			}
		}}, kind{"volume-descriptors", func(d []byte) {
			// The descriptors after the primary one and their set terminator.
			n := int64(1 + g.rng.IntN(4))
			base := pvdOffset + n*sectorSize
			if base+7 > int64(len(d)) {
				return
			}
			if g.rng.IntN(2) == 0 {
				d[base] = byte(g.rng.IntN(256)) // type
			} else {
				g.overwrite(d, base+1, 6, false) // "CD001" and version
			}
		}})
	}
	if l.img != nil {
		var targets []string
		for p := range sortedMeta(l.meta) {
			targets = append(targets, p)
		}
		if l.initrd.File != "" {
			targets = append(targets, l.initrd.File)
		}
		for _, a := range l.areas {
			if a.File != "" {
				targets = append(targets, strings.ToUpper(a.File))
			}
		}
		if len(targets) > 0 {
			kinds = append(kinds, kind{"dirrec", func(d []byte) {
				p := targets[g.rng.IntN(len(targets))]
				pos, err := dirRecordOffset(d, p)
				if err != nil {
					return
				}
				fields := [][2]int64{{0, 1}, {2, 8}, {10, 8}, {25, 1}, {32, 1}, {33, 12}}
				f := fields[g.rng.IntN(len(fields))]
				if g.rng.IntN(2) == 0 {
					g.flip(d, pos+f[0], f[1])
				} else {
					g.overwrite(d, pos+f[0], f[1], false)
				}
			}})
		}
	}
	if len(kinds) == 0 {
		return
	}
	k := kinds[g.rng.IntN(len(kinds))]
	d := g.clone()
	k.fn(d)
	g.add(k.name, d, false)
}

// sortedMeta iterates over the metadata records in a fixed order.
func sortedMeta(m map[string]iso.Record) func(func(string, iso.Record) bool) {
	return func(yield func(string, iso.Record) bool) {
		for _, p := range []string{featuresISO, ignInfoISO, kargsISO} {
			if rec, ok := m[p]; ok {
				if !yield(p, rec) {
					return
				}
			}
		}
	}
}

// structured adds the hand-made mutants: metadata pointing areas past the
// end of the image, at negative offsets, with huge lengths, and over each
// other.
func (g *mutGen) structured(t *testing.T) {
	l := g.l
	if l.img == nil || l.emb == nil {
		return
	}
	// kargs.json.
	if rec, ok := l.meta[kargsISO]; ok && len(l.areas) > 0 {
		raw := l.data[rec.Offset : rec.Offset+rec.Length]
		edit := func(kind string, overlap bool, fn func(m map[string]any)) {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("%s: kargs.json: %v", l.name, err)
			}
			fn(m)
			js, _ := json.Marshal(m)
			d := g.clone()
			if err := setFile(d, kargsISO, js); err != nil {
				t.Logf("%s: %s: %v", l.name, kind, err)
				return
			}
			g.add(kind, d, overlap)
		}
		file0 := func(m map[string]any) map[string]any { return m["files"].([]any)[0].(map[string]any) }
		for _, off := range []float64{1 << 40, float64(len(l.data)) - 1} {
			edit("kargsjson-offset-past-eof", false, func(m map[string]any) { file0(m)["offset"] = off })
		}
		areaRec, err := lookupIn(l.data, strings.ToUpper(l.areas[0].File))
		if err == nil {
			edit("kargsjson-area-straddles-eof", false, func(m map[string]any) {
				file0(m)["offset"] = len(l.data) - int(areaRec.Offset) - l.kargSize/2
			})
		}
		for _, off := range []float64{-1, -2048, -(1 << 62)} {
			edit("kargsjson-negative-offset", false, func(m map[string]any) { file0(m)["offset"] = off })
		}
		for _, size := range []float64{1 << 40, 1 << 62, 2049, 0, -1, 1e300} {
			edit("kargsjson-huge-size", false, func(m map[string]any) { m["size"] = size })
		}
		edit("kargsjson-areas-overlap-each-other", false, func(m map[string]any) {
			f := m["files"].([]any)
			f0 := file0(m)
			dup := map[string]any{"path": f0["path"], "offset": f0["offset"].(float64) + 10}
			m["files"] = append(f, dup)
		})
		// kargs.json pointing a karg area into the initrd embed area.
		if irec, err := lookupIn(l.data, l.initrd.File); err == nil {
			rel := l.initrd.Offset - irec.Offset
			// Every variant keeps the karg area inside the file, so that
			// the overlap is the only thing wrong with it.
			deltas := []int64{0, 4096, l.initrd.Length - int64(l.kargSize)}
			if rel >= int64(l.kargSize)/2 { // straddling the start of the initrd area
				deltas = append(deltas, -int64(l.kargSize)/2)
			}
			for _, delta := range deltas {
				off := rel + delta
				edit("kargsjson-into-initrd-area", true, func(m map[string]any) {
					f0 := file0(m)
					f0["path"], f0["offset"] = isoPathOf(l.initrd.File), off
				})
				edit("kargsjson-all-into-initrd-area", true, func(m map[string]any) {
					for _, f := range m["files"].([]any) {
						fm := f.(map[string]any)
						fm["path"], fm["offset"] = isoPathOf(l.initrd.File), off
					}
				})
			}
		}
	}
	// igninfo.json: the image's own, or features.json's extent renamed to
	// IGNINFO.JSO on images without one.
	ignPath, prep := "", func([]byte) error { return nil }
	if _, ok := l.meta[ignInfoISO]; ok {
		ignPath = ignInfoISO
	} else if _, ok := l.meta[featuresISO]; ok {
		ignPath = featuresISO
		prep = func(d []byte) error { return renameRecord(d, featuresISO, "IGNINFO.JSO") }
	}
	if ignPath != "" {
		irec, err := lookupIn(l.data, l.initrd.File)
		if err != nil {
			t.Fatalf("%s: %v", l.name, err)
		}
		ign := func(kind string, overlap bool, v map[string]any) {
			d := g.clone()
			js, _ := json.Marshal(v)
			if err := setFile(d, ignPath, js); err != nil {
				t.Logf("%s: %s: %v", l.name, kind, err)
				return
			}
			if err := prep(d); err != nil {
				t.Fatalf("%s: %v", l.name, err)
			}
			g.add(kind, d, overlap)
		}
		file := isoPathOf(l.initrd.File)
		rel := l.initrd.Offset - irec.Offset
		ign("igninfo-offset-past-eof", false, map[string]any{"file": file, "offset": 1 << 40, "length": l.initrd.Length})
		ign("igninfo-negative-offset", false, map[string]any{"file": file, "offset": -1, "length": l.initrd.Length})
		ign("igninfo-negative-length", false, map[string]any{"file": file, "offset": rel, "length": -1})
		ign("igninfo-huge-length", false, map[string]any{"file": file, "offset": rel, "length": int64(1) << 62})
		ign("igninfo-huge-length", false, map[string]any{"file": file, "offset": rel, "length": int64(1)<<31 + 1})
		ign("igninfo-zero-length", false, map[string]any{"file": file, "offset": rel, "length": 0})
		ign("igninfo-length-past-eof", false, map[string]any{"file": file, "offset": rel, "length": len(l.data)})
		ign("igninfo-missing-file", false, map[string]any{"file": "images/nonexist.img"})
		ign("igninfo-file-is-dir", false, map[string]any{"file": "images"})
		// The initrd area over a karg area.
		for _, a := range l.areas {
			crec, ok := fileContaining(l.img, a.Offset)
			if !ok {
				continue
			}
			// Every variant lies inside the file that holds the karg area, so
			// that the overlap is the only thing wrong with it.
			fileEnd := crec.Offset + crec.Length
			for _, v := range []struct{ start, length int64 }{
				{a.Offset - 100, int64(a.Length) + 200}, {a.Offset + 10, 512}, {a.Offset, int64(a.Length)}, {crec.Offset, crec.Length},
			} {
				start := max(v.start, crec.Offset)
				length := min(v.length, fileEnd-start)
				if length <= 0 {
					continue
				}
				ign("igninfo-over-karg-area", true, map[string]any{"file": isoPathOf(crec.Path), "offset": start - crec.Offset, "length": length})
			}
		}
	}
	// Legacy coreKarg header (only where it is the karg descriptor in
	// effect: kargs.json takes precedence).
	if _, hasJSON := l.meta[kargsISO]; l.header && !hasJSON {
		hdr := func(kind string, overlap bool, fn func(h []byte)) {
			d := g.clone()
			fn(d[kargHdrOff : kargHdrOff+kargHdrSize])
			g.add(kind, d, overlap)
		}
		put := binary.LittleEndian.PutUint64
		hdr("corekarg-huge-length", false, func(h []byte) { put(h[8:], 1<<40) })
		hdr("corekarg-huge-length", false, func(h []byte) { put(h[8:], ^uint64(0)) })
		hdr("corekarg-default-past-eof", false, func(h []byte) { put(h[16:], uint64(len(l.data))) })
		hdr("corekarg-default-negative", false, func(h []byte) { put(h[16:], ^uint64(0)) })
		hdr("corekarg-area-past-eof", false, func(h []byte) { put(h[24:], uint64(len(l.data))-10) })
		hdr("corekarg-area-negative", false, func(h []byte) { put(h[24:], ^uint64(99)) })
		hdr("corekarg-six-same-areas", false, func(h []byte) {
			first := binary.LittleEndian.Uint64(h[24:])
			for i := 24; i < kargHdrSize; i += 8 {
				put(h[i:], first)
			}
		})
		hdr("corekarg-area-into-initrd-area", true, func(h []byte) { put(h[24:], uint64(l.initrd.Offset+512)) })
	}
	// Directory records of the initrd area file and kargs.json.
	for _, p := range []string{l.initrd.File, kargsISO} {
		pos, err := dirRecordOffset(l.data, p)
		if err != nil {
			continue
		}
		base := strings.ToLower(filepath.Base(p))
		d := g.clone()
		setRecordLBA(d, pos, uint32(len(l.data)/sectorSize+100))
		g.add("dirrec-extent-past-eof-"+base, d, false)
		d = g.clone()
		setRecordLength(d, pos, 0xffffffff)
		g.add("dirrec-huge-length-"+base, d, false)
		d = g.clone()
		setRecordLBA(d, pos, 0)
		g.add("dirrec-extent-at-0-"+base, d, false)
	}
}

// fileContaining finds the file whose extent holds byte off.
func fileContaining(img *iso.Image, off int64) (iso.Record, bool) {
	var found iso.Record
	ok := false
	img.Walk(func(r iso.Record) error {
		if !r.IsDir && !ok && r.Offset <= off && off < r.Offset+r.Length {
			found, ok = r, true
		}
		return nil
	})
	return found, ok
}
