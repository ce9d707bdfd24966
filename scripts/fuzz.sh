#!/usr/bin/env bash
# fuzz.sh: run every Go fuzz target of the module, one at a time.
#
# Usage: scripts/fuzz.sh [PACKAGE...]      (default: ./...)
#
# Environment:
#   FUZZTIME    how long to fuzz each target (default 15s; any -fuzztime value)
#   FUZZ_MATCH  only run targets whose name matches this extended regexp
#               (default: all)
#   FUZZMINTIME how long the fuzzer may minimize a new interesting input
#               (default 2s; Go's own 60s stalls the slow targets, such as
#               the Butane and installer-config ones, for most of a short run)
#
# Targets are found with `go test -list '^Fuzz'` in each package. Each runs
# as `go test -run '^$' -fuzz '^Name$' -fuzztime $FUZZTIME PKG`, so the seed
# corpus in PKG/testdata/fuzz/Name runs first and a failing seed stops that
# target at once. A new failing input is written by the fuzzer to
# PKG/testdata/fuzz/Name/; the output of each failing run is kept in a
# temporary log named in its result line. The script prints one line per
# target and a summary, and exits non-zero if any target failed.
#
# A run that fails with only "context deadline exceeded" and writes no
# failing input is run once more: that is a race in the Go toolchain's
# fuzzing coordinator at the end of a -fuzztime duration (go.dev/issue/75804,
# fixed in Go 1.27), not a finding. Its line then says "(retried: ...)". A
# second such failure, or any written input, fails the target.
set -euo pipefail

cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-15s}
FUZZ_MATCH=${FUZZ_MATCH:-.}
if [ "$#" -eq 0 ]; then
	set -- ./...
fi

logdir=$(mktemp -d "${TMPDIR:-/tmp}/isobuild-fuzz.XXXXXX")
pass=0
fail=0
failed=()

for pkg in $(go list "$@"); do
	# -list prints the matching names, then "ok <pkg> ..."; a package without
	# tests prints only the latter.
	names=$(go test -list '^Fuzz' "$pkg" | grep -E '^Fuzz' | grep -E -- "$FUZZ_MATCH" || true)
	for name in $names; do
		log="$logdir/${pkg//\//_}.$name.log"
		start=$SECONDS
		corpus="$(go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$name"
		before=$(ls "$corpus" 2>/dev/null || true)
		ok=0 retried=
		for try in 1 2; do
			if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "${FUZZMINTIME:-2s}" "$pkg" >"$log" 2>&1; then
				ok=1
				break
			fi
			# The coordinator's race: the deadline as the only failure, and
			# no new file in the corpus.
			if [ "$try" = 1 ] && [ "$(ls "$corpus" 2>/dev/null || true)" = "$before" ] &&
				[ "$(grep -cE '^--- FAIL|^    context deadline exceeded$' "$log")" = 2 ] &&
				! grep -q 'Failing input written' "$log"; then
				cp "$log" "$log.first"
				retried=" (retried: the first run failed with Go's fuzztime deadline race, log $log.first)"
				continue
			fi
			break
		done
		if [ "$ok" = 1 ]; then
			execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | cut -d' ' -f2 || true)
			new=$(grep -oE 'new interesting: [0-9]+' "$log" | tail -1 | cut -d' ' -f3 || true)
			printf 'ok    %-50s %4ds  execs %-9s new %s%s\n' "$pkg.$name" $((SECONDS - start)) "${execs:-?}" "${new:-?}" "$retried"
			pass=$((pass + 1))
		else
			input=$(grep -oE 'testdata/fuzz/[^ ]+|--- FAIL: Fuzz[^ ]*/[^ ]+' "$log" | head -1 || true)
			printf 'FAIL  %-50s %4ds  %s (log %s)\n' "$pkg.$name" $((SECONDS - start)) "${input:-see log}" "$log"
			fail=$((fail + 1))
			failed+=("$pkg.$name")
		fi
	done
done

echo "fuzz: $pass passed, $fail failed (FUZZTIME=$FUZZTIME, logs in $logdir)"
if [ "$fail" -gt 0 ]; then
	printf 'failed: %s\n' "${failed[@]}"
	exit 1
fi
