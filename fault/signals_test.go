//go:build fault

package fault

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/isobuild/isobuild/internal/testiso"
)

// bigRootfs is the rootfs size of the large image (the image is a little
// larger).
const bigRootfs = 256 << 20

var (
	bigOnce sync.Once
	bigPath string
	bigErr  error
)

// bigImage builds (once) a CoreOS-layout image of about 256 MiB with
// internal/testiso.
func bigImage(t testing.TB) string {
	t.Helper()
	bigOnce.Do(func() {
		p := filepath.Join(workDir, "big.iso")
		f, err := os.Create(p)
		if err != nil {
			bigErr = err
			return
		}
		w := bufio.NewWriterSize(f, 1<<20)
		if err := testiso.Build(w, testiso.Options{RootfsSize: bigRootfs}); err != nil {
			bigErr = err
		} else if err := w.Flush(); err != nil {
			bigErr = err
		}
		if err := f.Close(); err != nil && bigErr == nil {
			bigErr = err
		}
		bigPath = p
	})
	if bigErr != nil {
		t.Fatalf("building the large image: %v", bigErr)
	}
	return bigPath
}

// startIsob starts isobuild without waiting for it.
func startIsob(o opts, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer, error) {
	argv := append(append([]string{}, o.wrap...), binPath)
	argv = append(argv, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), o.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr, cmd.Start()
}

// waitIsob waits for cmd (killing it after timeout) and returns its result.
func waitIsob(cmd *exec.Cmd, stdout, stderr *bytes.Buffer, start time.Time, timeout time.Duration) result {
	timer := time.AfterFunc(timeout, func() { cmd.Process.Kill() })
	cmd.Wait()
	timedOut := !timer.Stop()
	r := result{args: cmd.Args, dur: time.Since(start), stdout: stdout.Bytes(), stderr: stderr.Bytes(), timedOut: timedOut}
	r.args[0] = strings.Replace(r.args[0], binPath, "isobuild", 1)
	fillState(&r, cmd.ProcessState)
	return r
}

// TestSignalsOutput sends SIGKILL and SIGTERM to `-o FILE` writes of the
// large image at several points of the write: nothing may be left in the
// output directory.
func TestSignalsOutput(t *testing.T) {
	big := bigImage(t)
	bigSum := fileSum(t, big)
	killFam := fam("SIGKILL during -o FILE", "large image (~256 MiB), SIGKILL at 5..95% of the write: no file at all in the output dir")
	termFam := fam("SIGTERM during -o FILE", "large image, SIGTERM at 5..95% of the write: exit status 143, no file in the output dir, clean stderr")
	cmds := [][]string{
		{"iso", "kargs", "modify", "-a", "x=y"},
		{"build", "--butane", customizeFile(t, "live.bu")},
		{"iso", "ignition", "embed", "-i", customizeFile(t, "live.ign")},
	}
	for _, args := range cmds {
		// An uninterrupted run gives the duration to aim the signals at.
		dir := scratch(t, "sig-")
		out := filepath.Join(dir, "out.iso")
		full := isob(opts{}, append(append([]string{}, args...), "-o", out, big)...)
		if full.exit != 0 {
			killFam.record(t, "uninterrupted "+strings.Join(args[:3], " "), []string{"uninterrupted run failed: " + full.describe()})
			continue
		}
		os.RemoveAll(dir)
		d := full.dur
		for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
			f := killFam
			if sig == syscall.SIGTERM {
				f = termFam
			}
			for _, frac := range []float64{0.05, 0.25, 0.5, 0.75, 0.95} {
				id := fmt.Sprintf("%s at %.0f%% of %v", strings.Join(args[:min(3, len(args))], " "), frac*100, d.Round(time.Millisecond))
				dir := scratch(t, "sig-")
				out := filepath.Join(dir, "out.iso")
				cmd, so, se, err := startIsob(opts{}, append(append([]string{}, args...), "-o", out, big)...)
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				time.Sleep(time.Duration(frac * float64(d)))
				// Whether the output was already in place (the write
				// committed) when the signal went out.
				_, statErr := os.Stat(out)
				committed := statErr == nil
				cmd.Process.Signal(sig)
				r := waitIsob(cmd, so, se, start, 60*time.Second)
				var p []string
				p = append(p, checkMessage(r)...)
				switch {
				case r.exit == 0 && r.signal == 0 && committed:
					// Finished before the signal arrived: a complete output.
					f.countNote("output committed before the signal")
					p = append(p, checkDir(dir, "out.iso")...)
				case r.exit == 0 && r.signal == 0:
					p = append(p, fmt.Sprintf("%v sent while no output existed yet, but the command went on and exited 0 (output dir %q): %s", sig, dirNames(dir), r.describe()))
				case sig == syscall.SIGKILL:
					if r.signal != syscall.SIGKILL {
						p = append(p, "not killed by SIGKILL: "+r.describe())
					}
					p = append(p, checkDir(dir)...)
				default:
					// Exit status 143: exit(143), or death by SIGTERM after
					// cleaning up (which a shell reports as 143 too).
					if r.exit != 143 && r.signal != syscall.SIGTERM {
						p = append(p, "want exit status 143 after SIGTERM: "+r.describe())
					}
					p = append(p, checkDir(dir)...)
				}
				f.record(t, id, p)
				os.RemoveAll(dir)
			}
		}
	}
	if fileSum(t, big) != bigSum {
		killFam.record(t, "input", []string{"the large input image changed"})
	}
}

// fileSum hashes a file.
func fileSum(t testing.TB, p string) string {
	t.Helper()
	return fixtureSHA(t, p)
}

// injFixtures have one to three karg areas (and 2021-01 the legacy header).
var injFixtures = []string{
	"embed-areas-2023-07.x86_64.iso",
	"embed-areas-2022-09.iso",
	"embed-areas-2023-07.s390x.iso",
	"embed-areas-2021-01.iso",
}

// injOp is an in-place edit under strace fault injection.
type injOp struct {
	name string
	args []string
}

func injOps(t testing.TB) []injOp {
	return []injOp{
		{"iso kargs modify", []string{"iso", "kargs", "modify", "-a", "x=y"}},
		{"iso ignition embed", []string{"iso", "ignition", "embed", "-i", customizeFile(t, "live.ign")}},
	}
}

// TestSignalsInPlace injects SIGKILL, SIGTERM and EIO into each pwrite64 of
// in-place edits in turn.
func TestSignalsInPlace(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		for _, n := range []string{"SIGKILL in place (strace)", "SIGTERM in place (strace)", "EIO in place (strace)"} {
			fam(n, "").skip("strace not installed")
		}
		return
	}
	injectFamily(t, fam("SIGKILL in place (strace)", "SIGKILL at pwrite64 #N, N=1..writes+1; then `iso kargs show` recovers: image = original or result, no journal left"), "signal=SIGKILL")
	injectFamily(t, fam("SIGTERM in place (strace)", "SIGTERM at pwrite64 #N; then recovery: image = original or result, no journal left"), "signal=SIGTERM")
	injectFamily(t, fam("EIO in place (strace)", "pwrite64 #N fails with EIO: exit 1 with a message; after recovery the image is the original"), "error=EIO")
}

// injectFamily runs every (fixture, op, N) injection case of one kind.
func injectFamily(t *testing.T, f *family, inj string) {
	var jobs []func()
	for _, name := range injFixtures {
		pristine := fixtureBytes(t, name)
		for _, op := range injOps(t) {
			intended, n, err := prepareInjection(t, name, op)
			if err != nil {
				f.record(t, name+" × "+op.name, []string{err.Error()})
				continue
			}
			if n == 0 {
				f.note(op.name + ": no pwrite64 calls seen")
			}
			for i := 1; i <= n+1; i++ {
				jobs = append(jobs, func() {
					id := fmt.Sprintf("%s × %s × %s at pwrite64 #%d of %d", name, op.name, inj, i, n)
					f.record(t, id, injectCase(t, pristine, intended, op, inj, i))
				})
			}
		}
	}
	parallel(jobs)
}

// prepareInjection computes the intended result of op with -o from a
// pristine copy and counts the pwrite64 calls of the in-place edit.
func prepareInjection(t *testing.T, name string, op injOp) (intended []byte, writes int, err error) {
	pristine := fixtureBytes(t, name)
	dir := scratch(t, "prep-")
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "in.iso")
	writeFile(t, in, pristine)
	out := filepath.Join(dir, "out.iso")
	r := isob(opts{}, append(append([]string{}, op.args...), "-o", out, in)...)
	if r.exit != 0 {
		return nil, 0, fmt.Errorf("computing the intended result: %s", r.describe())
	}
	intended = readFile(t, out)
	img := filepath.Join(dir, "img.iso")
	writeFile(t, img, pristine)
	log := filepath.Join(dir, "strace.log")
	r = isob(opts{wrap: []string{"strace", "-f", "-qq", "-o", log, "-e", "trace=pwrite64"}}, append(append([]string{}, op.args...), img)...)
	if r.exit != 0 {
		return nil, 0, fmt.Errorf("counting writes: %s", r.describe())
	}
	for _, line := range strings.Split(string(readFile(t, log)), "\n") {
		if strings.Contains(line, "pwrite64(") {
			writes++
		}
	}
	return intended, writes, nil
}

// injectCase runs op in place under strace with inj at the n-th pwrite64,
// then `iso kargs show` (which must recover an interrupted edit), and checks
// the image.
func injectCase(t *testing.T, pristine, intended []byte, op injOp, inj string, n int) []string {
	dir := scratch(t, "inj-")
	defer os.RemoveAll(dir)
	img := filepath.Join(dir, "img.iso")
	writeFile(t, img, pristine)
	wrap := []string{"strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=pwrite64", "-e", fmt.Sprintf("inject=pwrite64:%s:when=%d", inj, n)}
	r := isob(opts{wrap: wrap}, append(append([]string{}, op.args...), img)...)
	p := checkMessage(r)
	switch {
	case r.timedOut:
		p = append(p, "hung: "+r.describe())
	case strings.HasPrefix(inj, "error="):
		if r.exit != 0 && r.exit != 1 {
			p = append(p, "want exit 0 or 1 after a write error: "+r.describe())
		}
	case r.exit != 0 && r.exit != 1 && r.exit != 143 && r.exit != 137 && r.signal == 0:
		// strace reports a killed tracee as 128+signal.
		p = append(p, "unexpected exit status: "+r.describe())
	}
	rec := isob(opts{}, "iso", "kargs", "show", img)
	p = append(p, checkMessage(rec)...)
	if rec.exit != 0 {
		p = append(p, "recovery `iso kargs show` failed: "+rec.describe())
	}
	p = append(p, checkDir(dir, "img.iso")...)
	got, err := os.ReadFile(img)
	if err != nil {
		return append(p, err.Error())
	}
	isPristine, isIntended := bytes.Equal(got, pristine), bytes.Equal(got, intended)
	switch {
	case r.exit == 0 && !isIntended:
		p = append(p, fmt.Sprintf("exit 0 but the image is not the intended result (%s) (%s)", diffSummary(intended, got), r.describe()))
	case r.exit == 1 && !isPristine:
		p = append(p, fmt.Sprintf("exit 1 but after recovery the image is not the original (%s) (%s; recovery: %s)", diffSummary(pristine, got), r.describe(), rec.describe()))
	case !isPristine && !isIntended:
		p = append(p, fmt.Sprintf("after recovery the image is neither the original (%s) nor the intended result (%s) (%s; recovery: %s)",
			diffSummary(pristine, got), diffSummary(intended, got), r.describe(), rec.describe()))
	}
	return p
}
