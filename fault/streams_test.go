//go:build fault

package fault

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestStreams points -o - at the input itself (>> IN, 1<> IN), closes
// stdout, and cuts the pipe (| head -c 10).
func TestStreams(t *testing.T) {
	modes := []struct{ fam, desc, redir string }{
		{"stdout >> IN", "`-o - IN >> IN`: exit 1 with a one-line message, IN byte-identical", `>> "$IN"`},
		{"stdout 1<> IN", "`-o - IN 1<> IN`: exit 1 with a one-line message, IN byte-identical", `1<> "$IN"`},
		{"stdout closed (>&-)", "`-o - IN >&-`: exit 1 with a one-line message, IN byte-identical", `>&-`},
	}
	ops := [][]string{
		{"iso", "kargs", "modify", "-a", "x=y"},
		{"iso", "ignition", "embed", "-i", customizeFile(t, "live.ign")},
		{"build", "--butane", customizeFile(t, "live.bu")},
	}
	fixtures := []string{"embed-areas-2023-07.x86_64.iso", "embed-areas-2022-09.iso"}
	headFam := fam("stdout | head -c 10", "`-o - IN | head -c 10`: exit 0, or exit 1 with a one-line broken-pipe message; never a silent SIGPIPE death")
	var jobs []func()
	for _, name := range fixtures {
		pristine := fixtureBytes(t, name)
		for _, op := range ops {
			for _, m := range modes {
				jobs = append(jobs, func() {
					dir := scratch(t, "stream-")
					defer os.RemoveAll(dir)
					in := filepath.Join(dir, "in.iso")
					writeFile(t, in, pristine)
					script := `IN=$2; BIN=$1; shift 2; "$BIN" "$@" -o - "$IN" ` + m.redir
					r := runArgv(opts{}, append([]string{"bash", "-c", script, "bash", binPath, in}, op...))
					p := checkMessage(r)
					if r.exit != 1 || r.signal != 0 {
						p = append(p, "want exit 1: "+r.describe())
					} else {
						p = append(p, checkOneLine(r)...)
					}
					p = append(p, checkSame(in, pristine, "IN")...)
					p = append(p, checkDir(dir, "in.iso")...)
					fam(m.fam, m.desc).record(t, fmt.Sprintf("%s × %s", name, strings.Join(op[:3], " ")), p)
				})
			}
			jobs = append(jobs, func() {
				dir := scratch(t, "stream-")
				defer os.RemoveAll(dir)
				in := filepath.Join(dir, "in.iso")
				writeFile(t, in, pristine)
				status := filepath.Join(dir, "status")
				script := `IN=$2; BIN=$1; ST=$3; shift 3; "$BIN" "$@" -o - "$IN" | head -c 10 >/dev/null; echo "${PIPESTATUS[0]}" > "$ST"`
				r := runArgv(opts{}, append([]string{"bash", "-c", script, "bash", binPath, in, status}, op...))
				p := checkMessage(r)
				st, err := os.ReadFile(status)
				code, err2 := strconv.Atoi(strings.TrimSpace(string(st)))
				switch {
				case err != nil || err2 != nil:
					p = append(p, fmt.Sprintf("no exit status recorded (%v %v): %s", err, err2, r.describe()))
				case code >= 128:
					p = append(p, fmt.Sprintf("isobuild killed by signal %d (exit status %d), stderr %q", code-128, code, clip(string(r.stderr), 300)))
				case code == 1:
					r.exit = 1
					p = append(p, checkMessage(r)...)
					p = append(p, checkOneLine(r)...)
					if !brokenPipeRE.Match(r.stderr) {
						p = append(p, fmt.Sprintf("exit 1 without a broken-pipe message: stderr %q", clip(string(r.stderr), 300)))
					}
				case code != 0:
					p = append(p, fmt.Sprintf("exit status %d, stderr %q", code, clip(string(r.stderr), 300)))
				}
				p = append(p, checkSame(in, pristine, "IN")...)
				headFam.record(t, fmt.Sprintf("%s × %s", name, strings.Join(op[:3], " ")), p)
			})
		}
	}
	parallel(jobs)
}

var brokenPipeRE = regexp.MustCompile(`(?i)broken pipe|EPIPE`)

// checkOneLine requires exactly one error line on stderr (hint lines,
// "isobuild: hint: ...", may follow it).
func checkOneLine(r result) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(r.stderr), "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, "isobuild: hint: ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "isobuild: error: ") {
		return []string{fmt.Sprintf("want a one-line \"isobuild: error: \" message, got %d lines: %q", len(lines), clip(string(r.stderr), 400))}
	}
	return nil
}
