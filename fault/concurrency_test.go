//go:build fault

package fault

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentInPlace races two in-place edits of one image. The second
// must wait for the first's lock (ISOBUILD_LOCK_TIMEOUT=60s) and both edits
// must be in the result: no lost update, no mixed areas.
func TestConcurrentInPlace(t *testing.T) {
	const name = "embed-areas-2023-07.x86_64.iso"
	pristine := fixtureBytes(t, name)
	cfgPath := customizeFile(t, "live.ign")
	cfg := readFile(t, cfgPath)
	kk := fam("concurrent in-place pairs: kargs × kargs", "`kargs modify -a a=1` racing `kargs modify -a b=2` on one image (30 pairs): both exit 0, both kargs present")
	ek := fam("concurrent in-place pairs: embed × kargs", "`ignition embed -i CFG` racing `kargs modify -a c=3` (20 pairs): both exit 0, config and c=3 present")
	env := []string{"ISOBUILD_LOCK_TIMEOUT=60s"}
	var jobs []func()
	for i := range 50 {
		jobs = append(jobs, func() {
			dir := scratch(t, "conc-")
			defer os.RemoveAll(dir)
			img := filepath.Join(dir, "img.iso")
			writeFile(t, img, pristine)
			var a, b []string
			f := kk
			if i < 30 {
				a = []string{"iso", "kargs", "modify", "-a", "a=1", img}
				b = []string{"iso", "kargs", "modify", "-a", "b=2", img}
			} else {
				f = ek
				a = []string{"iso", "ignition", "embed", "-i", cfgPath, img}
				b = []string{"iso", "kargs", "modify", "-a", "c=3", img}
			}
			// Swap who is started first every other pair.
			if i%2 == 1 {
				a, b = b, a
			}
			ra, rb := race(opts{env: env, timeout: 90 * time.Second}, a, b)
			var p []string
			for _, r := range []result{ra, rb} {
				p = append(p, checkMessage(r)...)
				if r.exit != 0 {
					p = append(p, "want exit 0: "+r.describe())
				}
			}
			p = append(p, checkDir(dir, "img.iso")...)
			ks := isob(opts{}, "iso", "kargs", "show", img)
			p = append(p, checkMessage(ks)...)
			kargs := " " + strings.TrimSpace(string(ks.stdout)) + " "
			if ks.exit != 0 {
				p = append(p, "kargs show afterwards: "+ks.describe())
			} else if i < 30 {
				for _, k := range []string{"a=1", "b=2"} {
					if !strings.Contains(kargs, " "+k+" ") {
						p = append(p, fmt.Sprintf("lost update: kargs %q lack %s", strings.TrimSpace(kargs), k))
					}
				}
			} else if !strings.Contains(kargs, " c=3 ") {
				p = append(p, fmt.Sprintf("lost update: kargs %q lack c=3", strings.TrimSpace(kargs)))
			}
			if i >= 30 {
				is := isob(opts{}, "iso", "ignition", "show", img)
				p = append(p, checkMessage(is)...)
				if is.exit != 0 {
					p = append(p, "lost update: ignition show afterwards: "+is.describe())
				} else if !bytes.Equal(bytes.TrimSpace(is.stdout), bytes.TrimSpace(cfg)) {
					p = append(p, fmt.Sprintf("ignition show prints %q, not the embedded config", clip(string(is.stdout), 200)))
				}
			}
			f.record(t, fmt.Sprintf("pair %d: %s | %s", i, strings.Join(a[:len(a)-1], " "), strings.Join(b[:len(b)-1], " ")), p)
		})
	}
	parallel(jobs)
}

// race starts two isobuild commands as close together as possible.
func race(o opts, a, b []string) (result, result) {
	var wg sync.WaitGroup
	gate := make(chan struct{})
	var ra, rb result
	for i, args := range [][]string{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			r := isob(o, args...)
			if i == 0 {
				ra = r
			} else {
				rb = r
			}
		}()
	}
	time.Sleep(time.Millisecond)
	close(gate)
	wg.Wait()
	return ra, rb
}
