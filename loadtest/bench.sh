#!/usr/bin/env bash
# make bench: how much product-service's own layers (gin, middleware, GORM, logging) cost on top of
# the database round trip. It measures GET /api/v1/products/{id} on the service, uncached and
# without simulated latency, and on bench-baseline (bare net/http + pgxpool running the same SQL),
# under the same k6 load, interleaved ROUNDS times, and reports the medians and the ratio.
#
# Steps: build both binaries into a temp dir; create the bench database if missing (psql), migrate
# and seed it (idempotent); start both servers on free 127.0.0.1 ports with a clean environment;
# run k6 (loadtest/bench.js) service, baseline, service, baseline…; print a table; write
# results/bench.json. Everything it started is stopped on exit, and every step is time-bounded.
#
# Env knobs (defaults in brackets):
#   K6             path to k6 [~/.cache/product-service-lab/tools/k6-v1.8.1/k6]; `make tools` builds it
#   PG_ADMIN_URL   URL of the maintenance database used to create the bench one
#                  [postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable]
#   BENCH_DB_NAME  bench database, on the same server as PG_ADMIN_URL [products_bench]
#   PRODUCTS       products seeded and requested, ids 1..PRODUCTS [100000]
#   DURATION       length of each k6 run, as 30s, 1m, 1m30s [20s]
#   VUS            concurrent virtual users (closed model) [32]
#   ROUNDS         service+baseline pairs to run; the report takes medians [2]
#   SERVICE_ENV    extra KEY=VALUE settings for product-service, space-separated, to measure a
#                  setting against the defaults, e.g. SERVICE_ENV="DB_MAX_IDLE_CONNS=20" []
#   RESULTS_DIR    where bench.json and the servers' logs go [results]
#   GO             go command [go]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=loadtest/lib.sh
source loadtest/lib.sh
NAME=bench

K6=${K6:-$HOME/.cache/product-service-lab/tools/k6-v1.8.1/k6}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable}
BENCH_DB_NAME=${BENCH_DB_NAME:-products_bench}
PRODUCTS=${PRODUCTS:-100000}
DURATION=${DURATION:-20s}
VUS=${VUS:-32}
ROUNDS=${ROUNDS:-2}
RESULTS_DIR=${RESULTS_DIR:-results}
SERVICE_ENV=${SERVICE_ENV:-}
GO=${GO:-go}

# Time bounds of the steps, in seconds.
BUILD_TIMEOUT=300
MIGRATE_TIMEOUT=120
SEED_TIMEOUT=1200

# --- validate the knobs ---------------------------------------------------------------------------

[[ -x "$K6" ]] || die "k6 not found at $K6: run 'make tools' (or set K6 to a k6 binary)"
command -v curl >/dev/null || die "curl is required"
command -v timeout >/dev/null || die "timeout (coreutils) is required"
[[ "$PRODUCTS" =~ ^[1-9][0-9]*$ ]] || die "PRODUCTS must be a positive integer, got '$PRODUCTS'"
[[ "$VUS" =~ ^[1-9][0-9]*$ ]] || die "VUS must be a positive integer, got '$VUS'"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
[[ "$DURATION" =~ ^([0-9]+h)?([0-9]+m)?([0-9]+s)?$ && -n "$DURATION" ]] ||
	die "DURATION must look like 20s, 1m or 1m30s, got '$DURATION'"
hours=${BASH_REMATCH[1]%h} minutes=${BASH_REMATCH[2]%m} seconds=${BASH_REMATCH[3]%s}
duration_s=$((10#${hours:-0} * 3600 + 10#${minutes:-0} * 60 + 10#${seconds:-0}))
((duration_s > 0)) || die "DURATION must be positive"
# k6 runs DURATION plus a 5s graceful stop, start-up and the summary.
K6_TIMEOUT=$((duration_s + 60))

read -ra service_env <<<"$SERVICE_ENV"
for kv in "${service_env[@]}"; do
	[[ "$kv" =~ ^[A-Z_][A-Z0-9_]*=[A-Za-z0-9._:/@+-]*$ ]] || die "SERVICE_ENV must be KEY=VALUE pairs, got '$kv'"
done

# The bench database lives on the admin URL's server: swap the database name in its path.
BENCH_DATABASE_URL=$(database_url "$PG_ADMIN_URL" "$BENCH_DB_NAME")
redacted_url=$(redact "$BENCH_DATABASE_URL")

start_cleanup
mkdir -p "$RESULTS_DIR"

# --- build -----------------------------------------------------------------------------------------

echo "bench: building product-service and bench-baseline"
for cmd in product-service bench-baseline; do
	CGO_ENABLED=0 bounded "$BUILD_TIMEOUT" "$GO" build -trimpath -o "$tmp/$cmd" "./app/cmd/$cmd" ||
		die "go build ./app/cmd/$cmd failed"
done

# --- database --------------------------------------------------------------------------------------

ensure_database "$PG_ADMIN_URL" "$BENCH_DB_NAME"

# Only what is named here reaches the servers: a cache or latency setting in the caller's
# environment cannot leak into the measurement.
# An array, not a function: started with &, a function would run in a subshell whose pid $! names,
# and stopping that subshell would leave the server running.
run_clean=(env -i PATH="$PATH" HOME="$HOME")

echo "bench: migrating and seeding $PRODUCTS products into $redacted_url (idempotent; the first run takes a while)"
bounded "$MIGRATE_TIMEOUT" "${run_clean[@]}" DATABASE_URL="$BENCH_DATABASE_URL" LOG_LEVEL=warn \
	"$tmp/product-service" migrate || die "migrate failed"
bounded "$SEED_TIMEOUT" "${run_clean[@]}" DATABASE_URL="$BENCH_DATABASE_URL" LOG_LEVEL=warn \
	"$tmp/product-service" seed --products "$PRODUCTS" || die "seed failed"

# --- servers ---------------------------------------------------------------------------------------

service_port=$(free_port) || die "no free port for product-service"
service_log="$RESULTS_DIR/bench-service.log"
"${run_clean[@]}" DATABASE_URL="$BENCH_DATABASE_URL" HTTP_ADDR="127.0.0.1:$service_port" LOG_LEVEL=warn \
	DB_SIMULATED_LATENCY=0 APP_ENV=development "${service_env[@]}" "$tmp/product-service" serve >"$service_log" 2>&1 &
pids+=("$!")
wait_ready product-service "$!" "http://127.0.0.1:$service_port/ready" "$service_log" || die "product-service did not start"

baseline_port=$(free_port) || die "no free port for bench-baseline"
baseline_log="$RESULTS_DIR/bench-baseline.log"
"${run_clean[@]}" "$tmp/bench-baseline" -addr "127.0.0.1:$baseline_port" -database-url "$BENCH_DATABASE_URL" \
	-max-conns 20 >"$baseline_log" 2>&1 &
pids+=("$!")
wait_ready bench-baseline "$!" "http://127.0.0.1:$baseline_port/api/v1/products/1" "$baseline_log" ||
	die "bench-baseline did not start"

service_url="http://127.0.0.1:$service_port"
baseline_url="http://127.0.0.1:$baseline_port"

# Both must serve the last seeded id, and send the same body for it.
for url in "$service_url" "$baseline_url"; do
	curl -fsS -o "$tmp/body-${url##*:}" --max-time 5 "$url/api/v1/products/$PRODUCTS" ||
		die "$url does not serve product $PRODUCTS: is the database seeded?"
done
if ! cmp -s "$tmp/body-$service_port" "$tmp/body-$baseline_port"; then
	echo "bench: warning: product $PRODUCTS differs between the service and the baseline; the comparison is skewed" >&2
	diff <(tr ',' '\n' <"$tmp/body-$service_port") <(tr ',' '\n' <"$tmp/body-$baseline_port") >&2 || true
fi

# --- load ------------------------------------------------------------------------------------------

if ((${#service_env[@]} > 0)); then echo "bench: product-service runs with ${service_env[*]}"; fi
echo "bench: $ROUNDS round(s) of $DURATION at $VUS VUs, ids uniform in 1..$PRODUCTS; $(nproc) CPUs shared by k6, both servers and PostgreSQL"

# run_k6 TARGET URL ROUND: one k6 run; its JSON summary lands in $tmp/TARGET-ROUND.json. k6 runs in
# the background and is waited for, so a signal to this script stops it at once (via cleanup).
run_k6() {
	local target=$1 url=$2 round=$3 rc=0
	K6_NO_USAGE_REPORT=true timeout -k 10 "$K6_TIMEOUT" "$K6" run --quiet --no-usage-report \
		-e BASE_URL="$url" -e PRODUCTS="$PRODUCTS" -e VUS="$VUS" -e DURATION="$DURATION" \
		-e LABEL="round $round $target" -e SUMMARY_FILE="$tmp/$target-$round.json" \
		loadtest/bench.js 2>"$tmp/k6-$target-$round.err" &
	k6_pid=$!
	wait "$k6_pid" || rc=$?
	k6_pid=""
	if ((rc != 0)); then
		cat "$tmp/k6-$target-$round.err" >&2
		case $rc in
		99) die "k6: more than 1% of requests to $target failed (round $round); see $RESULTS_DIR/bench-$target.log" ;;
		124 | 137) die "k6 against $target did not finish within ${K6_TIMEOUT}s" ;;
		*) die "k6 against $target failed with status $rc" ;;
		esac
	fi
}

for ((r = 1; r <= ROUNDS; r++)); do
	run_k6 service "$service_url" "$r"
	run_k6 baseline "$baseline_url" "$r"
done

# --- report ----------------------------------------------------------------------------------------

# field FILE NAME prints a number from a one-line k6 summary.
field() {
	sed -nE "s/.*\"$2\":(-?[0-9.eE+-]+).*/\1/p" "$1"
}

rows="$tmp/rows.tsv"
: >"$rows"
for ((r = 1; r <= ROUNDS; r++)); do
	for target in service baseline; do
		f="$tmp/$target-$r.json"
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$target" "$(field "$f" rps)" "$(field "$f" p50_ms)" \
			"$(field "$f" p99_ms)" "$(field "$f" failed_rate)" "$(field "$f" reqs)" >>"$rows"
	done
done

# median TARGET COLUMN over the rounds.
median() {
	awk -F'\t' -v t="$1" -v c="$2" '$2 == t { print $c }' "$rows" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

s_rps=$(median service 3) s_p50=$(median service 4) s_p99=$(median service 5)
b_rps=$(median baseline 3) b_p50=$(median baseline 4) b_p99=$(median baseline 5)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "null" }'; }
r_rps=$(ratio "$s_rps" "$b_rps") r_p50=$(ratio "$s_p50" "$b_p50") r_p99=$(ratio "$s_p99" "$b_p99")

echo
printf '%-8s %-9s %10s %10s %10s %8s\n' round target "req/s" "p50 ms" "p99 ms" failed
awk -F'\t' '{ printf "%-8s %-9s %10.1f %10.2f %10.2f %7.2f%%\n", $1, $2, $3, $4, $5, $6 * 100 }' "$rows"
printf '%-8s %-9s %10.1f %10.2f %10.2f\n' median service "$s_rps" "$s_p50" "$s_p99"
printf '%-8s %-9s %10.1f %10.2f %10.2f\n' median baseline "$b_rps" "$b_p50" "$b_p99"
printf '%-18s %10s %10s %10s\n' "service/baseline" "$r_rps" "$r_p50" "$r_p99"
echo "(throughput ratio below 1 and latency ratios above 1 are the service's overhead)"

out="$RESULTS_DIR/bench.json"
{
	printf '{"when":"%s","commit":"%s","cpus":%d,"products":%d,"vus":%d,"duration":"%s","rounds":%d,"service_env":"%s",\n' \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		"$(nproc)" "$PRODUCTS" "$VUS" "$DURATION" "$ROUNDS" "${service_env[*]}"
	printf ' "runs":[\n'
	awk -F'\t' '{ printf "%s  {\"round\":%d,\"target\":\"%s\",\"rps\":%s,\"p50_ms\":%s,\"p99_ms\":%s,\"failed_rate\":%s,\"reqs\":%s}", (NR > 1 ? ",\n" : ""), $1, $2, $3, $4, $5, $6, $7 } END { print "" }' "$rows"
	printf ' ],\n'
	printf ' "median":{"service":{"rps":%s,"p50_ms":%s,"p99_ms":%s},"baseline":{"rps":%s,"p50_ms":%s,"p99_ms":%s}},\n' \
		"$s_rps" "$s_p50" "$s_p99" "$b_rps" "$b_p50" "$b_p99"
	printf ' "ratio_service_over_baseline":{"rps":%s,"p50":%s,"p99":%s}}\n' "$r_rps" "$r_p50" "$r_p99"
} >"$out"
echo "bench: wrote $out"
