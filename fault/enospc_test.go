//go:build fault

package fault

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

var spaceRE = regexp.MustCompile(`(?i)no space|space left|ENOSPC|disk full|file system full`)

// TestENOSPC writes -o outputs to a small tmpfs that cannot hold them, edits
// in place on a full tmpfs, and injects ENOSPC into in-place pwrite64s.
func TestENOSPC(t *testing.T) {
	outFam := fam("ENOSPC -o OUT on a 1500k tmpfs", "1 MiB input on a tmpfs of 1500k, -o on the same tmpfs: exit 1 with a message, nothing but the input left, input unchanged")
	fullFam := fam("ENOSPC in place on a full tmpfs", "in-place edits on a tmpfs with no free block: exit 1 (image unchanged) or exit 0 (intended result); no journal left")
	if os.Geteuid() != 0 {
		outFam.skip("not root: no tmpfs mount")
		fullFam.skip("not root: no tmpfs mount")
	} else {
		tmpfsCases(t, outFam, fullFam)
	}
	if _, err := exec.LookPath("strace"); err != nil {
		fam("ENOSPC in place (strace)", "").skip("strace not installed")
		return
	}
	injectFamily(t, fam("ENOSPC in place (strace)", "pwrite64 #N fails with ENOSPC: exit 1 with a message; after recovery the image is the original"), "error=ENOSPC")
}

func mountTmpfs(t *testing.T, size string) (string, bool) {
	dir := scratch(t, "tmpfs-")
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Logf("mount tmpfs: %v: %s", err, out)
		return "", false
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir, true
}

func tmpfsCases(t *testing.T, outFam, fullFam *family) {
	const name = "embed-areas-2023-07.x86_64.iso"
	pristine := fixtureBytes(t, name)
	c := customizeFile
	cmds := [][]string{
		{"iso", "kargs", "modify", "-a", "x=y"},
		{"iso", "ignition", "embed", "-i", c(t, "live.ign")},
		{"iso", "network", "embed", "-k", c(t, "installer-test.nmconnection")},
		{"iso", "customize", "--dest-device", "/dev/sda", "--dest-ignition", c(t, "dest.ign")},
		{"iso", "reset"},
		{"build", "--butane", c(t, "live.bu")},
	}
	dir, ok := mountTmpfs(t, "1500k")
	if !ok {
		outFam.skip("mount -t tmpfs failed")
		fullFam.skip("mount -t tmpfs failed")
		return
	}
	in := filepath.Join(dir, "in.iso")
	writeFile(t, in, pristine)
	for _, args := range cmds {
		r := isob(opts{}, append(append([]string{}, args...), "-o", filepath.Join(dir, "out.iso"), in)...)
		p := checkAll(r)
		if r.exit != 1 {
			p = append(p, "want exit 1: "+r.describe())
		} else if !spaceRE.Match(r.stderr) {
			p = append(p, "the message does not say the file system is full: "+r.describe())
		}
		p = append(p, checkDir(dir, "in.iso")...)
		p = append(p, checkSame(in, pristine, "input")...)
		outFam.record(t, fmt.Sprintf("%v -o tmpfs/out.iso", args[:2]), p)
		for _, n := range dirNames(dir) { // keep the next case independent
			if n != "in.iso" {
				os.Remove(filepath.Join(dir, n))
			}
		}
	}
	// In place on a full file system: only the journal needs new blocks.
	for _, op := range injOps(t) {
		intended, _, err := prepareInjection(t, name, op)
		if err != nil {
			fullFam.record(t, op.name, []string{err.Error()})
			continue
		}
		img := filepath.Join(dir, "img.iso")
		for _, n := range dirNames(dir) {
			os.Remove(filepath.Join(dir, n))
		}
		writeFile(t, img, pristine)
		fillFS(filepath.Join(dir, "filler"))
		r := isob(opts{}, append(append([]string{}, op.args...), img)...)
		p := checkAll(r)
		p = append(p, checkDir(dir, "img.iso", "filler")...)
		switch r.exit {
		case 1:
			p = append(p, checkSame(img, pristine, "image after a failed in-place edit")...)
			if !spaceRE.Match(r.stderr) {
				p = append(p, "the message does not say the file system is full: "+r.describe())
			}
		case 0:
			p = append(p, checkSame(img, intended, "image (compared with the intended result)")...)
		}
		fullFam.record(t, op.name+" in place on a full tmpfs", p)
		for _, n := range dirNames(dir) {
			os.Remove(filepath.Join(dir, n))
		}
	}
}

// fillFS writes zeros to path until the file system is full.
func fillFS(path string) {
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			return
		}
	}
}
