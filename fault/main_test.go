//go:build fault

// Package fault is a fault-injection suite for the isobuild CLI. It builds
// the binary once and runs it as a subprocess against mutated CoreOS live
// ISOs, under signals and injected write errors, on a full file system,
// concurrently, against decompression bombs, with hostile stdout
// redirections and with hostile initramfs member names.
//
//	go test -tags fault -count=1 -v -timeout 20m ./fault/
//
// ISOBUILD_FAULT_BIN=/path/to/isobuild runs an existing binary instead of
// building one; FAULT_WORKERS sets the worker pool size (default 4);
// FAULT_LOG_ALL=1 reports every failing case, not only the first few of
// each family.
//
// Every case is tallied per case family; TestMain prints the table of
// outcomes after the tests and fails if any case failed.
package fault

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Paths set up by TestMain.
var (
	binPath string // the isobuild binary under test
	workDir string // scratch space shared by all tests, removed at the end
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	var err error
	workDir, err = os.MkdirTemp("", "isobuild-fault-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fault:", err)
		return 1
	}
	defer os.RemoveAll(workDir)
	if p := os.Getenv("ISOBUILD_FAULT_BIN"); p != "" {
		binPath = p
	} else {
		binPath = filepath.Join(workDir, "isobuild")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/isobuild/isobuild/cmd/isobuild")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "fault: building isobuild: %v\n", err)
			return 1
		}
	}
	startXZBomb() // slow (xz -9 of 1 GiB); runs while the other families do
	code := m.Run()
	if printTable() && code == 0 {
		code = 1
	}
	return code
}

// ---------------------------------------------------------------------------
// Case families and the outcome table.

type family struct {
	order        int
	name, desc   string
	mu           sync.Mutex
	runs, ok     int
	failed       int
	notes        []string
	firstFailure string
	logged       int
	failedKinds  map[string]int // failing case ids up to '#' or ' × '
	counted      map[string]int // countNote remarks
}

// countNote counts a remark shown as "remark: N" in the table.
func (f *family) countNote(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.counted == nil {
		f.counted = map[string]int{}
	}
	f.counted[s]++
}

var (
	famMu    sync.Mutex
	famByKey = map[string]*family{}
)

// fam returns the family called name, creating it with desc on first use.
func fam(name, desc string) *family {
	famMu.Lock()
	defer famMu.Unlock()
	f := famByKey[name]
	if f == nil {
		f = &family{order: len(famByKey), name: name, desc: desc}
		famByKey[name] = f
	}
	return f
}

// note adds a remark to the family's description column (once per text).
func (f *family) note(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.notes {
		if n == s {
			return
		}
	}
	f.notes = append(f.notes, s)
}

// maxLogged is how many failures per family are reported with t.Errorf;
// the rest only count (the table has the totals).
const maxLogged = 6

// record tallies one case: problems empty means it passed.
func (f *family) record(t *testing.T, id string, problems []string) {
	t.Helper()
	f.mu.Lock()
	f.runs++
	if len(problems) == 0 {
		f.ok++
		f.mu.Unlock()
		return
	}
	f.failed++
	msg := id + ": " + strings.Join(problems, "; ")
	if f.firstFailure == "" {
		f.firstFailure = msg
	}
	if f.failedKinds == nil {
		f.failedKinds = map[string]int{}
	}
	kind := id
	if i := strings.IndexAny(kind, "#×"); i > 0 {
		kind = strings.TrimSpace(kind[:i])
	}
	f.failedKinds[kind]++
	log := f.logged < maxLogged || os.Getenv("FAULT_LOG_ALL") != ""
	f.logged++
	f.mu.Unlock()
	if log {
		t.Errorf("[%s] %s", f.name, msg)
	} else {
		t.Fail()
	}
}

// skip records a family that could not run at all.
// skip records that a family could not run here. Under CI (CI set in the
// environment, as .ci/run does), where every tool is installed and the
// suite runs as root, a skipped family counts as a failure, so that a
// missing tool cannot hide a case.
func (f *family) skip(why string) {
	f.note("SKIPPED: " + why)
	if os.Getenv("CI") != "" {
		f.mu.Lock()
		f.runs++
		f.failed++
		f.mu.Unlock()
	}
}

// printTable prints the outcome table and reports whether any case failed.
func printTable() bool {
	famMu.Lock()
	fams := make([]*family, 0, len(famByKey))
	for _, f := range famByKey {
		fams = append(fams, f)
	}
	famMu.Unlock()
	sort.SliceStable(fams, func(i, j int) bool {
		gi, gj := group(fams[i].name), group(fams[j].name)
		if gi != gj {
			return gi < gj
		}
		return fams[i].order < fams[j].order
	})
	var b strings.Builder
	b.WriteString("\nFAULT-INJECTION OUTCOMES\n")
	fmt.Fprintf(&b, "%s %-46s %6s %6s %6s  %s\n", "G", "case family", "runs", "ok", "failed", "description")
	b.WriteString(strings.Repeat("-", 140) + "\n")
	anyFailed := false
	var runs, oks, fails int
	for _, f := range fams {
		desc := f.desc
		notes := append([]string(nil), f.notes...)
		for k, n := range f.counted {
			notes = append(notes, fmt.Sprintf("%s: %d", k, n))
		}
		if len(notes) > 0 {
			desc += " [" + strings.Join(notes, "; ") + "]"
		}
		fmt.Fprintf(&b, "%s %-46s %6d %6d %6d  %s\n", group(f.name), f.name, f.runs, f.ok, f.failed, desc)
		runs, oks, fails = runs+f.runs, oks+f.ok, fails+f.failed
		if f.failed > 0 {
			anyFailed = true
		}
	}
	b.WriteString(strings.Repeat("-", 140) + "\n")
	fmt.Fprintf(&b, "  %-46s %6d %6d %6d\n", "total", runs, oks, fails)
	if anyFailed {
		b.WriteString("\nFIRST FAILURE PER FAILING FAMILY\n")
		for _, f := range fams {
			if f.failed > 0 {
				fmt.Fprintf(&b, "* %s (%d failed; by case: %s): %s\n", f.name, f.failed, topKinds(f.failedKinds, 8), clip(f.firstFailure, 1500))
			}
		}
	}
	fmt.Print(b.String())
	return anyFailed
}

// group is the letter of a family's case group (A mutants, B signals and
// I/O errors, C ENOSPC, D concurrency, E bombs, F streams, G extraction).
func group(name string) string {
	switch {
	case strings.HasPrefix(name, "mutants"), strings.HasPrefix(name, "overlap"):
		return "A"
	case strings.HasPrefix(name, "SIG"), strings.HasPrefix(name, "EIO"):
		return "B"
	case strings.HasPrefix(name, "ENOSPC"):
		return "C"
	case strings.HasPrefix(name, "concurrent"):
		return "D"
	case strings.Contains(name, "bomb"):
		return "E"
	case strings.HasPrefix(name, "stdout"):
		return "F"
	case strings.HasPrefix(name, "extraction"):
		return "G"
	}
	return "?"
}

// topKinds lists the most frequent failing case kinds.
func topKinds(m map[string]int, n int) string {
	type kc struct {
		k string
		c int
	}
	var l []kc
	for k, c := range m {
		l = append(l, kc{k, c})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].c > l[j].c || l[i].c == l[j].c && l[i].k < l[j].k })
	var parts []string
	for i, x := range l {
		if i == n {
			parts = append(parts, fmt.Sprintf("+%d more", len(l)-n))
			break
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", x.k, x.c))
	}
	return strings.Join(parts, ", ")
}

// ---------------------------------------------------------------------------
// Running isobuild.

// result is one finished subprocess.
type result struct {
	args     []string
	exit     int // exit code; -1 when killed by a signal
	signal   syscall.Signal
	stdout   []byte
	stderr   []byte
	dur      time.Duration
	maxRSS   int64 // KiB
	timedOut bool
	rssKill  bool // killed by the RSS watchdog
	startErr error
}

// opts tweak a run.
type opts struct {
	env      []string      // extra environment
	stdin    []byte        // nil: /dev/null
	timeout  time.Duration // default 60s
	wrap     []string      // argv prefix (strace ...); binPath follows it
	rssLimit int64         // KiB; kill the process when VmRSS exceeds it
	dir      string
}

// isob runs isobuild with args.
func isob(o opts, args ...string) result {
	argv := append(append([]string{}, o.wrap...), binPath)
	argv = append(argv, args...)
	return runArgv(o, argv)
}

func runArgv(o opts, argv []string) result {
	timeout := o.timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), o.env...)
	cmd.Dir = o.dir
	if o.stdin != nil {
		cmd.Stdin = bytes.NewReader(o.stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	r := result{args: argv}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		r.startErr = err
		r.exit = -1
		return r
	}
	var rssKilled bool
	done := make(chan struct{})
	if o.rssLimit > 0 {
		go func() {
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					if rss := vmRSS(cmd.Process.Pid); rss > o.rssLimit {
						rssKilled = true
						cmd.Process.Kill()
						return
					}
				}
			}
		}()
	}
	cmd.Wait()
	close(done)
	r.dur = time.Since(start)
	r.stdout, r.stderr = stdout.Bytes(), stderr.Bytes()
	r.timedOut = ctx.Err() != nil
	r.rssKill = rssKilled
	fillState(&r, cmd.ProcessState)
	return r
}

func fillState(r *result, ps *os.ProcessState) {
	if ps == nil {
		r.exit = -1
		return
	}
	r.exit = ps.ExitCode()
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		r.signal = ws.Signal()
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss
	}
}

// vmRSS returns the resident set size of pid in KiB (0 if unknown).
func vmRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// status describes how the process ended.
func (r result) status() string {
	switch {
	case r.startErr != nil:
		return "not started: " + r.startErr.Error()
	case r.timedOut:
		return fmt.Sprintf("timed out after %v", r.dur.Round(time.Millisecond))
	case r.rssKill:
		return "killed by the RSS watchdog"
	case r.signal != 0:
		return fmt.Sprintf("killed by signal %d (%s)", int(r.signal), r.signal)
	}
	return fmt.Sprintf("exit %d", r.exit)
}

// cmdline is a short printable form of the command.
func (r result) cmdline() string {
	var parts []string
	for _, a := range r.args {
		if a == binPath {
			a = "isobuild"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// describe is a one-line summary for failure messages.
func (r result) describe() string {
	return fmt.Sprintf("`%s` → %s, stderr %q", clip(r.cmdline(), 300), r.status(), clip(string(r.stderr), 600))
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ---------------------------------------------------------------------------
// Assertions shared by every family.

const maxLineLen = 400

// checkMessage checks stderr: no Go panic, no control bytes, no overlong
// line, and for exit 1 a first line "isobuild: error: ...". Lines that only
// report a journal recovery ("rolled back") may precede the error.
func checkMessage(r result) []string {
	var p []string
	if r.startErr != nil {
		return []string{r.status()}
	}
	se := string(r.stderr)
	if strings.Contains(se, "panic:") || strings.Contains(se, "goroutine ") {
		p = append(p, "Go panic: "+r.describe())
	}
	for i, c := range r.stderr {
		if c == 0 {
			p = append(p, fmt.Sprintf("NUL byte in stderr at %d: %s", i, r.describe()))
			break
		}
		if c < 0x20 && c != '\n' && c != '\t' {
			p = append(p, fmt.Sprintf("control byte %#02x in stderr at %d: %s", c, i, r.describe()))
			break
		}
	}
	for _, line := range strings.Split(se, "\n") {
		if len(line) > maxLineLen {
			p = append(p, fmt.Sprintf("stderr line of %d bytes (limit %d): %q", len(line), maxLineLen, clip(line, 1200)))
			break
		}
	}
	if r.exit == 1 && !r.timedOut {
		if first := firstErrorLine(se); !strings.HasPrefix(first, "isobuild: error: ") {
			p = append(p, fmt.Sprintf("exit 1 without a first stderr line \"isobuild: error: ...\": %s", r.describe()))
		}
	}
	return p
}

// firstErrorLine is the first stderr line that is not a recovery notice.
func firstErrorLine(se string) string {
	for _, line := range strings.Split(se, "\n") {
		if strings.Contains(line, "rolled back") {
			continue
		}
		return line
	}
	return ""
}

// checkExit01 requires a normal exit 0 or 1.
func checkExit01(r result) []string {
	if r.startErr != nil || r.timedOut || r.rssKill || r.signal != 0 || (r.exit != 0 && r.exit != 1) {
		return []string{"want exit 0 or 1: " + r.describe()}
	}
	return nil
}

// checkAll is checkExit01 plus checkMessage.
func checkAll(r result) []string {
	return append(checkExit01(r), checkMessage(r)...)
}

// dirNames lists the names in dir, sorted ("<error>" entries on failure).
func dirNames(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return []string{"<" + err.Error() + ">"}
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// checkDir requires dir to hold exactly the names want.
func checkDir(dir string, want ...string) []string {
	got := dirNames(dir)
	sort.Strings(want)
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		return []string{fmt.Sprintf("directory %s holds %q, want %q", filepath.Base(dir), got, want)}
	}
	return nil
}

// checkSame requires the file at path to hold want.
func checkSame(path string, want []byte, what string) []string {
	got, err := os.ReadFile(path)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", what, err)}
	}
	if !bytes.Equal(got, want) {
		return []string{fmt.Sprintf("%s changed (%s)", what, diffSummary(want, got))}
	}
	return nil
}

// diffSummary says where two byte slices first differ.
func diffSummary(a, b []byte) string {
	if len(a) != len(b) {
		return fmt.Sprintf("size %d → %d", len(a), len(b))
	}
	first, n := -1, 0
	for i := range a {
		if a[i] != b[i] {
			if first < 0 {
				first = i
			}
			n++
		}
	}
	return fmt.Sprintf("%d bytes differ, first at offset %d", n, first)
}

// ---------------------------------------------------------------------------
// Helpers.

// workers is the size of the worker pools.
func workers() int {
	if n, err := strconv.Atoi(os.Getenv("FAULT_WORKERS")); err == nil && n > 0 {
		return n
	}
	return 4
}

// parallel runs the jobs on a pool of workers() goroutines.
func parallel(jobs []func()) {
	ch := make(chan func())
	var wg sync.WaitGroup
	for range workers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				j()
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
}

// scratch returns a fresh empty directory under workDir.
func scratch(t testing.TB, prefix string) string {
	t.Helper()
	d, err := os.MkdirTemp(workDir, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// journalName is the recovery journal isobuild keeps beside an image
// during an in-place edit.
func journalName(image string) string {
	return "." + filepath.Base(image) + ".isobuild-journal"
}
