#!/usr/bin/env bash
# make bench: what product-service costs on top of the unavoidable work, in two parts (BENCH_PARTS).
#
# uncached: how much product-service's own layers (gin, middleware, GORM, logging) cost on top of
# the database round trip. It measures GET /api/v1/products/{id} on the service, with the cache off
# (preset none) and without simulated latency, and on bench-baseline -mode sql (bare net/http +
# pgxpool running the same SQL), under the same k6 load (loadtest/bench.js), interleaved ROUNDS
# times, and reports the medians and the ratio in results/bench.json.
#
# cache: each cache preset under Zipf-distributed load with a simulated database latency, and the
# Redis-hit and L1-hit paths against bare baselines (one go-redis GET, fixed bytes); see
# loadtest/bench-cache.sh for what it runs, its knobs and results/bench-cache.json.
#
# Steps: build both binaries into a temp dir; create the bench database if missing (psql), migrate
# and seed it (idempotent); then each part starts its servers on free 127.0.0.1 ports with a clean
# environment, runs k6 and prints a table. Everything it started is stopped on exit, every step is
# time-bounded, and the run's Redis keys are deleted. It fails if more than 1% of the requests of
# any measured run failed (after printing the tables), not on a missed target.
#
# Env knobs (defaults in brackets):
#   BENCH_PARTS    which parts to run, space-separated [uncached cache]
#   K6             path to k6 [~/.cache/product-service-lab/tools/k6-v1.8.1/k6]; `make tools` builds it
#   PG_ADMIN_URL   URL of the maintenance database used to create the bench one
#                  [postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable]
#   BENCH_DB_NAME  bench database, on the same server as PG_ADMIN_URL [products_bench]
#   PRODUCTS       products seeded and requested, ids 1..PRODUCTS [100000]
#   DURATION       length of each uncached k6 run, as 30s, 1m, 1m30s [20s]
#   VUS            concurrent virtual users of every closed-model run [32]
#   ROUNDS         uncached service+baseline pairs to run; the report takes medians [2]
#   SERVICE_ENV    extra KEY=VALUE settings for product-service, space-separated, to measure a
#                  setting against the defaults, e.g. SERVICE_ENV="DB_MAX_IDLE_CONNS=20" []
#   REDIS_ADDR     Redis the services cache in, host:port; each part uses a namespace of its own
#                  and deletes its keys at the end [127.0.0.1:6379]
#   RESULTS_DIR    where the JSON results and the servers' logs go [results]
#   GO             go command [go]
#   (the cache part's own knobs are listed in loadtest/bench-cache.sh)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=loadtest/lib.sh
source loadtest/lib.sh
NAME=bench

BENCH_PARTS=${BENCH_PARTS:-uncached cache}
K6=${K6:-$HOME/.cache/product-service-lab/tools/k6-v1.8.1/k6}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable}
BENCH_DB_NAME=${BENCH_DB_NAME:-products_bench}
PRODUCTS=${PRODUCTS:-100000}
DURATION=${DURATION:-20s}
VUS=${VUS:-32}
ROUNDS=${ROUNDS:-2}
RESULTS_DIR=${RESULTS_DIR:-results}
REDIS_ADDR=${REDIS_ADDR:-127.0.0.1:6379}
SERVICE_ENV=${SERVICE_ENV:-}
GO=${GO:-go}

# Time bounds of the steps, in seconds.
BUILD_TIMEOUT=300
MIGRATE_TIMEOUT=120
SEED_TIMEOUT=1200

# --- validate the knobs ----------------------------------------------------------------------------

[[ -x "$K6" ]] || die "k6 not found at $K6: run 'make tools' (or set K6 to a k6 binary)"
command -v curl >/dev/null || die "curl is required"
command -v timeout >/dev/null || die "timeout (coreutils) is required"
[[ "$PRODUCTS" =~ ^[1-9][0-9]*$ ]] || die "PRODUCTS must be a positive integer, got '$PRODUCTS'"
[[ "$VUS" =~ ^[1-9][0-9]*$ ]] || die "VUS must be a positive integer, got '$VUS'"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
[[ "$REDIS_ADDR" =~ ^[A-Za-z0-9.-]+:[0-9]+$ ]] || die "REDIS_ADDR must be host:port, got '$REDIS_ADDR'"
# seconds NAME VALUE prints VALUE, a duration such as 20s, 1m or 1m30s, in seconds; 0 is allowed.
seconds() {
	[[ -n "$2" && "$2" =~ ^([0-9]+h)?([0-9]+m)?([0-9]+s)?$|^0$ ]] ||
		die "$1 must look like 20s, 1m or 1m30s, got '$2'"
	local h=${BASH_REMATCH[1]%h} m=${BASH_REMATCH[2]%m} s=${BASH_REMATCH[3]%s}
	echo $((10#${h:-0} * 3600 + 10#${m:-0} * 60 + 10#${s:-0}))
}

read -ra parts <<<"$BENCH_PARTS"
((${#parts[@]} > 0)) || die "BENCH_PARTS must name uncached, cache or both"
for part in "${parts[@]}"; do
	[[ "$part" == uncached || "$part" == cache ]] || die "BENCH_PARTS must name uncached and/or cache, got '$part'"
done
# has_part PART tells whether BENCH_PARTS names PART.
has_part() { [[ " ${parts[*]} " == *" $1 "* ]]; }

duration_s=$(seconds DURATION "$DURATION")
((duration_s > 0)) || die "DURATION must be positive"

read -ra service_env <<<"$SERVICE_ENV"
for kv in "${service_env[@]}"; do
	[[ "$kv" =~ ^[A-Z_][A-Z0-9_]*=[A-Za-z0-9._:/@+-]*$ ]] || die "SERVICE_ENV must be KEY=VALUE pairs, got '$kv'"
done

if has_part cache; then
	# shellcheck source=loadtest/bench-cache.sh
	source loadtest/bench-cache.sh
	cache_check_knobs
fi

# --- shared by both parts --------------------------------------------------------------------------

# run_k6 NAME SECONDS SCRIPT [-e KEY=VALUE...]: one k6 run of SCRIPT meant to last SECONDS; its
# one-line JSON summary lands in $tmp/NAME.json. k6 runs in the background and is waited for, so a
# signal to this script stops it at once (via cleanup). A run in which more than 1% of requests
# failed (k6's threshold, status 99) is noted in failed_runs: the script fails after its report.
failed_runs=()
run_k6() {
	local name=$1 limit=$(($2 + 60)) script=$3 rc=0
	shift 3
	K6_NO_USAGE_REPORT=true timeout -k 10 "$limit" "$K6" run --quiet --no-usage-report \
		-e SUMMARY_FILE="$tmp/$name.json" "$@" "$script" 2>"$tmp/k6-$name.err" &
	k6_pid=$!
	wait "$k6_pid" || rc=$?
	k6_pid=""
	case $rc in
	0) ;;
	99)
		failed_runs+=("$name")
		echo "bench: more than 1% of the requests of run $name failed" >&2
		;;
	124 | 137)
		cat "$tmp/k6-$name.err" >&2
		die "k6 run $name did not finish within ${limit}s"
		;;
	*)
		cat "$tmp/k6-$name.err" >&2
		die "k6 run $name failed with status $rc"
		;;
	esac
}

# field FILE NAME prints a number from a one-line k6 summary.
field() {
	sed -nE "s/.*\"$2\":(-?[0-9.eE+-]+).*/\1/p" "$1"
}

# median prints the median of the numbers on its input.
median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B prints A/B with three decimals, or null when B is not positive.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "null" }'; }

# start_server NAME LOG READY_URL COMMAND...: start a server in the background, note its pid for
# the clean-up and wait until READY_URL answers.
start_server() {
	local name=$1 log=$2 url=$3
	shift 3
	"$@" >"$log" 2>&1 &
	pids+=("$!")
	wait_ready "$name" "$!" "$url" "$log" || die "$name did not start"
}

# stop_server PID: SIGTERM, then wait up to STOP_TIMEOUT seconds for it to drain and exit.
stop_server() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# Each part's services use a cache namespace of their own in the shared Redis; finish deletes
# them, never anything else.
namespaces=()

# delete_namespaces deletes every Redis key of the run's namespaces (SCAN + UNLINK).
delete_namespaces() {
	local ns keys
	local cli=(redis-cli -h "${REDIS_ADDR%:*}" -p "${REDIS_ADDR##*:}")
	for ns in "${namespaces[@]}"; do
		if ! command -v redis-cli >/dev/null; then
			echo "bench: redis-cli not found: keys under $ns:* may be left in Redis at $REDIS_ADDR" >&2
			continue
		fi
		if ! keys=$(bounded 60 "${cli[@]}" --scan --pattern "$ns:*") ||
			! { [[ -z "$keys" ]] || xargs -n 500 "${cli[@]}" UNLINK <<<"$keys" >/dev/null; }; then
			echo "bench: could not delete the keys $ns:* in Redis at $REDIS_ADDR" >&2
			continue
		fi
		echo "bench: deleted $(grep -c . <<<"$keys") Redis keys $ns:*"
	done
}

# finish runs on exit: it stops k6, then the servers (they may write to Redis on their way out),
# then deletes the run's keys, then lets lib.sh's cleanup remove $tmp.
finish() {
	local rc=$? pid
	set +e
	trap - EXIT
	for pid in $k6_pid "${pids[@]}"; do stop_server "$pid"; done
	k6_pid=""
	delete_namespaces
	(exit "$rc")
	cleanup
}

# The bench database lives on the admin URL's server: swap the database name in its path.
BENCH_DATABASE_URL=$(database_url "$PG_ADMIN_URL" "$BENCH_DB_NAME")
redacted_url=$(redact "$BENCH_DATABASE_URL")

start_cleanup
trap finish EXIT
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

# --- uncached: service vs bench-baseline -mode sql -------------------------------------------------

uncached_bench() {
	local ns="bench-$$-u" service_port baseline_port service_url baseline_url url r target f rows
	local s_rps s_p50 s_p99 b_rps b_p50 b_p99 r_rps r_p50 r_p99 out
	namespaces+=("$ns")

	service_port=$(free_port) || die "no free port for product-service"
	start_server product-service "$RESULTS_DIR/bench-service.log" "http://127.0.0.1:$service_port/ready" \
		"${run_clean[@]}" DATABASE_URL="$BENCH_DATABASE_URL" HTTP_ADDR="127.0.0.1:$service_port" LOG_LEVEL=warn \
		DB_SIMULATED_LATENCY=0 APP_ENV=development REDIS_ADDR="$REDIS_ADDR" CACHE_PRESET=none \
		CACHE_NAMESPACE="$ns" "${service_env[@]}" "$tmp/product-service" serve
	baseline_port=$(free_port) || die "no free port for bench-baseline"
	start_server bench-baseline "$RESULTS_DIR/bench-baseline.log" "http://127.0.0.1:$baseline_port/api/v1/products/1" \
		"${run_clean[@]}" "$tmp/bench-baseline" -mode sql -addr "127.0.0.1:$baseline_port" \
		-database-url "$BENCH_DATABASE_URL" -max-conns 20
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

	echo
	echo "bench: uncached: $ROUNDS round(s) of $DURATION at $VUS VUs, ids uniform in 1..$PRODUCTS, cache off (preset none)"
	for ((r = 1; r <= ROUNDS; r++)); do
		for target in service baseline; do
			url=$service_url
			[[ $target == baseline ]] && url=$baseline_url
			run_k6 "$target-$r" "$duration_s" loadtest/bench.js -e BASE_URL="$url" -e PRODUCTS="$PRODUCTS" \
				-e VUS="$VUS" -e DURATION="$DURATION" -e LABEL="round $r $target"
		done
	done

	rows="$tmp/rows.tsv"
	: >"$rows"
	for ((r = 1; r <= ROUNDS; r++)); do
		for target in service baseline; do
			f="$tmp/$target-$r.json"
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$target" "$(field "$f" rps)" "$(field "$f" p50_ms)" \
				"$(field "$f" p99_ms)" "$(field "$f" failed_rate)" "$(field "$f" reqs)" >>"$rows"
		done
	done
	# column_of TARGET N prints column N of TARGET's rows.
	column_of() { awk -F'\t' -v t="$1" -v c="$2" '$2 == t { print $c }' "$rows"; }
	s_rps=$(column_of service 3 | median) s_p50=$(column_of service 4 | median) s_p99=$(column_of service 5 | median)
	b_rps=$(column_of baseline 3 | median) b_p50=$(column_of baseline 4 | median) b_p99=$(column_of baseline 5 | median)
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
}

# --- run -------------------------------------------------------------------------------------------

if ((${#service_env[@]} > 0)); then echo "bench: product-service runs with ${service_env[*]}"; fi
echo "bench: $(nproc) CPUs shared by k6, the servers, PostgreSQL and Redis"
if has_part uncached; then uncached_bench; fi
if has_part cache; then cache_bench; fi

if ((${#failed_runs[@]} > 0)); then
	die "more than 1% of the requests failed in: ${failed_runs[*]} (see the logs in $RESULTS_DIR)"
fi
