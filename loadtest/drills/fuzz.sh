#!/usr/bin/env bash
# Fuzz drill (make drills; make fuzz with FUZZTIME=20s MIN_EXECS=0): runs every fuzz target of the
# module for FUZZTIME each, one after the other, and reports how many inputs each one tried.
#
# Targets are found with `go test -list '^Fuzz'` in each package whose test files declare one. Each
# runs as `go test -run '^$' -fuzz '^Target$' -fuzztime FUZZTIME -parallel PARALLEL pkg`; the last
# `execs:` figure of go's fuzz output is the number of inputs tried, `new interesting` the inputs
# that widened coverage. A failing input is written by go itself to the package's
# testdata/fuzz/<Target>/ (keep it: it becomes a seed that `go test` replays for ever).
#
# It prints a table target / execs / new interesting / result and the total, and fails when any
# target failed or the total is below MIN_EXECS. With REPORT naming a file, it appends a
# "## Fuzzing" section with the same table to it.
#
# Env knobs (defaults in brackets):
#   FUZZTIME   time per target [60s]. Measured on a busy 2-core machine (load average 10-14) with
#              the 14 targets of today: 60s each gave 1.57 million executions in 16 minutes (45s:
#              0.97 million). Most come from the small packages; the httpapi targets, whose test
#              binary instruments every dependency, run only ~500-700 inputs/s
#   FUZZ_RUN   a regular expression; only targets whose "<package> <Target>" matches run [all]
#   MIN_EXECS  fail below this many executions over all targets [1000000]
#   PARALLEL   fuzzing workers per target [the number of CPUs]
#   REPORT     Markdown file to append the section to [none]
#   GO         the go command [go]
# Run from anywhere: it works in the repository root.
set -euo pipefail
cd "$(dirname "$0")/../.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-60s}
MIN_EXECS=${MIN_EXECS:-1000000}
PARALLEL=${PARALLEL:-$(nproc 2>/dev/null || echo 2)}
REPORT=${REPORT:-}

logs=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-drill.XXXXXX")
trap 'rm -rf "$logs"' EXIT

# Packages whose test files declare a fuzz target; `go test -list` then says which ones exist.
targets=()
while IFS=$'\t' read -r pkg dir; do
	grep -qs '^func Fuzz' "$dir"/*_test.go || continue
	while read -r f; do
		[[ "$pkg $f" =~ ${FUZZ_RUN:-.} ]] || continue
		targets+=("$pkg $f")
	done < <("$GO" test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
done < <("$GO" list -f '{{.ImportPath}}{{"\t"}}{{.Dir}}' ./...)
if ((${#targets[@]} == 0)); then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

module=$("$GO" list -m)
rows=()
total=0
failed=0
start=$SECONDS
for t in "${targets[@]}"; do
	read -r pkg f <<<"$t"
	short=${pkg#"$module"/}
	log="$logs/${short//\//_}.$f.log"
	echo "fuzz: $short $f for $FUZZTIME" >&2
	result=PASS
	if ! "$GO" test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" -parallel "$PARALLEL" "$pkg" >"$log" 2>&1; then
		result=FAIL
		failed=$((failed + 1))
		tail -n 30 "$log" >&2
	fi
	# Last progress line: "fuzz: elapsed: 10s, execs: 123456 (12345/sec), new interesting: 7 (total: 19)".
	line=$(grep -E '^fuzz: elapsed: .*execs: [0-9]+' "$log" | tail -n 1 || true)
	execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$line")
	interesting=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$line")
	if [[ -z "$execs" ]]; then
		execs=0
		if [[ $result == PASS ]]; then
			result="FAIL (no execs: line format?)"
			failed=$((failed + 1))
			tail -n 30 "$log" >&2
		fi
	fi
	total=$((total + execs))
	rows+=("| \`$short\` $f | $execs | ${interesting:-0} | $result |")
done
elapsed=$((SECONDS - start))

verdict=PASS
if ((failed > 0)); then
	verdict="FAIL: $failed target(s) failed"
elif ((total < MIN_EXECS)); then
	verdict="FAIL: $total executions, below MIN_EXECS=$MIN_EXECS"
fi

table() {
	echo "| target | execs | new interesting | result |"
	echo "|---|---:|---:|---|"
	printf '%s\n' "${rows[@]}"
	echo "| **total** (${#targets[@]} targets, $FUZZTIME each, -parallel $PARALLEL, ${elapsed}s wall) | **$total** | | **$verdict** |"
}

table
if [[ -n "$REPORT" ]]; then
	{
		echo
		echo "## Fuzzing"
		echo
		echo "Every fuzz target of the module for $FUZZTIME each (\`loadtest/drills/fuzz.sh\`); at least $MIN_EXECS executions in all."
		echo
		table
	} >>"$REPORT"
fi
[[ $verdict == PASS ]]
