//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// bootRow is one image of a live-ISO table (Flatcar, Debian live,
// Ubuntu-style) booted in several modes at once.
type bootRow struct {
	scenario string   // in the summary, e.g. "flatcar/base"
	name     string   // prefix of the serial logs in the test directory
	modes    []string // boot-check modes
	timeout  string   // boot-check --timeout unless BOOT_TIMEOUT is set
	want     expected // the image and the checks shared by all tables (bootProblems)
	// args are boot-check's options besides --log and --timeout.
	args []string
	// check adds the table's own problems for one boot; it runs inside
	// the mode's subtest.
	check func(t *testing.T, rep bootReport)
}

// bootRow boots r.want.iso in every mode of r at once, checks each report
// in a subtest named after the mode, records the boots and the scenario
// for the summary, and checks that booting left the image unchanged. It
// returns the reports, in the order of r.modes.
func (s *suite) bootRow(t *testing.T, ctx context.Context, dir string, r bootRow) []bootReport {
	t.Helper()
	before := sha256File(t, r.want.iso)
	reports := make([]bootReport, len(r.modes))
	var wg sync.WaitGroup
	for i, mode := range r.modes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{"--log", filepath.Join(dir, r.name+"-"+mode+".log")}
			if os.Getenv("BOOT_TIMEOUT") == "" {
				args = append(args, "--timeout", r.timeout)
			}
			reports[i] = s.boot(ctx, r.want.iso, mode, append(args, r.args...)...)
		}()
	}
	wg.Wait()
	for i, mode := range r.modes {
		rep := reports[i]
		ok := t.Run(mode, func(t *testing.T) {
			for _, p := range bootProblems(mode, r.want, rep) {
				t.Error(p)
			}
			if r.check != nil {
				r.check(t, rep)
			}
		})
		recordBoot(r.scenario, mode, rep, ok)
		if !ok {
			t.Logf("boot-check output for %s %s:\n%s\n%s", r.scenario, mode, rep.Stdout, rep.Stderr)
		}
	}
	recordScenario(r.scenario, r.want, reports)
	if after := sha256File(t, r.want.iso); after != before {
		t.Errorf("%s changed while it was booted", r.want.iso)
	}
	return reports
}
