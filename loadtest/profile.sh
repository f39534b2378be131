#!/usr/bin/env bash
# make profile: where the service spends its CPU under the main read workload, without Pyroscope.
# Starts product-service with PPROF_ADDR on free 127.0.0.1 ports (or uses a running one: set
# BASE_URL and PPROF_URL), runs loadtest/read.js with k6 (Zipf reads at RATE/s), captures a
# PROFILE_SECONDS-long CPU profile from /debug/pprof/profile while the load runs, saves it to
# results/cpu-<date>.pprof and prints its top functions (`go tool pprof -top`).
#
# The database is migrated and seeded like make bench's (idempotent; same database by default,
# so a seeded one is reused). Every step is time-bounded; whatever it started is stopped on exit,
# and the Redis keys of its cache namespace are deleted. A service pushing to Pyroscope
# (PYROSCOPE_URL) cannot serve a CPU profile: Go allows one at a time, and the SDK holds it.
#
# Env knobs (defaults in brackets):
#   K6            path to k6 [~/.cache/product-service-lab/tools/k6-v1.8.1/k6]; `make tools` builds it
#   PG_ADMIN_URL  maintenance database URL, to create the profile database
#                 [postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable]
#   PROFILE_DB_NAME  database on that server [products_bench]
#   PRODUCTS      products seeded and requested, ids 1..PRODUCTS [100000]
#   RATE          read requests per second [500]
#   PROFILE_SECONDS  length of the CPU profile, in seconds [30]
#   CACHE_PRESET  the started service's cache preset [protected]
#   SERVICE_ENV   extra KEY=VALUE settings for the started service, space-separated []
#   BASE_URL, PPROF_URL  profile a running service instead (e.g. http://127.0.0.1:8080 and
#                 http://127.0.0.1:6060); its database must hold ids 1..PRODUCTS []
#   REDIS_ADDR    Redis of the started service, host:port [127.0.0.1:6379]
#   RESULTS_DIR   where the profile goes [results]
#   GO            go command [go]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=loadtest/lib.sh
source loadtest/lib.sh
NAME=profile

K6=${K6:-$HOME/.cache/product-service-lab/tools/k6-v1.8.1/k6}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable}
PROFILE_DB_NAME=${PROFILE_DB_NAME:-products_bench}
PRODUCTS=${PRODUCTS:-100000}
RATE=${RATE:-500}
profile_seconds=${PROFILE_SECONDS:-30}
CACHE_PRESET=${CACHE_PRESET:-protected}
SERVICE_ENV=${SERVICE_ENV:-}
BASE_URL=${BASE_URL:-}
PPROF_URL=${PPROF_URL:-}
REDIS_ADDR=${REDIS_ADDR:-127.0.0.1:6379}
RESULTS_DIR=${RESULTS_DIR:-results}
GO=${GO:-go}

[[ -x "$K6" ]] || die "k6 not found at $K6: run 'make tools' (or set K6 to a k6 binary)"
command -v curl >/dev/null || die "curl is required"
[[ "$PRODUCTS" =~ ^[1-9][0-9]*$ ]] || die "PRODUCTS must be a positive integer, got '$PRODUCTS'"
[[ "$RATE" =~ ^[1-9][0-9]*$ ]] || die "RATE must be a positive integer, got '$RATE'"
[[ "$profile_seconds" =~ ^[1-9][0-9]*$ ]] || die "PROFILE_SECONDS must be a positive integer, got '$profile_seconds'"
[[ "$REDIS_ADDR" =~ ^[A-Za-z0-9.-]+:[0-9]+$ ]] || die "REDIS_ADDR must be host:port, got '$REDIS_ADDR'"
if [[ -n "$BASE_URL" || -n "$PPROF_URL" ]]; then
	[[ -n "$BASE_URL" && -n "$PPROF_URL" ]] || die "set both BASE_URL and PPROF_URL to profile a running service"
fi
read -ra service_env <<<"$SERVICE_ENV"
for kv in "${service_env[@]}"; do
	[[ "$kv" =~ ^[A-Z_][A-Z0-9_]*=[A-Za-z0-9._:/@+-]*$ ]] || die "SERVICE_ENV must be KEY=VALUE pairs, got '$kv'"
done

namespace=""
# finish stops k6 and the service (lib.sh's cleanup), after deleting the run's Redis keys.
finish() {
	local rc=$? keys
	set +e
	trap - EXIT
	if [[ -n "$k6_pid" ]]; then kill -TERM "$k6_pid" 2>/dev/null; wait "$k6_pid" 2>/dev/null; k6_pid=""; fi
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	pids=()
	if [[ -n "$namespace" ]] && command -v redis-cli >/dev/null; then
		local cli=(redis-cli -h "${REDIS_ADDR%:*}" -p "${REDIS_ADDR##*:}")
		keys=$(bounded 60 "${cli[@]}" --scan --pattern "$namespace:*") &&
			{ [[ -z "$keys" ]] || xargs -n 500 "${cli[@]}" UNLINK <<<"$keys" >/dev/null; } ||
			echo "profile: could not delete the keys $namespace:* in Redis at $REDIS_ADDR" >&2
	fi
	(exit "$rc")
	cleanup
}
start_cleanup
trap finish EXIT
mkdir -p "$RESULTS_DIR"

if [[ -z "$BASE_URL" ]]; then
	echo "profile: building product-service"
	CGO_ENABLED=0 bounded 300 "$GO" build -trimpath -o "$tmp/product-service" ./app/cmd/product-service ||
		die "go build failed"
	ensure_database "$PG_ADMIN_URL" "$PROFILE_DB_NAME"
	db_url=$(database_url "$PG_ADMIN_URL" "$PROFILE_DB_NAME")
	# Only what is named here reaches the service: no PYROSCOPE_URL (it would hold the CPU profiler).
	run_clean=(env -i PATH="$PATH" HOME="$HOME")
	echo "profile: migrating and seeding $PRODUCTS products into $(redact "$db_url") (idempotent)"
	bounded 120 "${run_clean[@]}" DATABASE_URL="$db_url" LOG_LEVEL=warn "$tmp/product-service" migrate ||
		die "migrate failed"
	bounded 1200 "${run_clean[@]}" DATABASE_URL="$db_url" LOG_LEVEL=warn \
		"$tmp/product-service" seed --products "$PRODUCTS" || die "seed failed"
	port=$(free_port) || die "no free port for the service"
	pprof_port=$(free_port) || die "no free port for pprof"
	namespace="profile-$$"
	log="$RESULTS_DIR/profile-service.log"
	"${run_clean[@]}" DATABASE_URL="$db_url" HTTP_ADDR="127.0.0.1:$port" PPROF_ADDR="127.0.0.1:$pprof_port" \
		LOG_LEVEL=warn REDIS_ADDR="$REDIS_ADDR" CACHE_PRESET="$CACHE_PRESET" CACHE_NAMESPACE="$namespace" \
		"${service_env[@]}" "$tmp/product-service" serve >"$log" 2>&1 &
	pids+=("$!")
	BASE_URL="http://127.0.0.1:$port"
	PPROF_URL="http://127.0.0.1:$pprof_port"
	wait_ready product-service "${pids[-1]}" "$BASE_URL/ready" "$log" || die "the service did not start"
fi
curl -fsS -o /dev/null --max-time 5 "$PPROF_URL/debug/pprof/" || die "no pprof at $PPROF_URL (PPROF_ADDR unset?)"

# The load outlasts the capture: a few seconds of warm-up before it, a few after.
warmup=5
duration=$((profile_seconds + 2 * warmup))
echo "profile: k6 read.js at $RATE/s for ${duration}s against $BASE_URL; CPU profile of ${profile_seconds}s after ${warmup}s"
K6_NO_USAGE_REPORT=true timeout -k 10 $((duration + 60)) "$K6" run --quiet --no-usage-report \
	-e BASE_URL="$BASE_URL" -e RATE="$RATE" -e DURATION="${duration}s" -e PRODUCTS="$PRODUCTS" \
	-e SUMMARY_FILE="$tmp/read.json" loadtest/read.js >"$tmp/k6.out" 2>&1 &
k6_pid=$!
sleep "$warmup"
out="$RESULTS_DIR/cpu-$(date -u +%Y-%m-%dT%H%M%SZ).pprof"
bounded $((profile_seconds + 30)) curl -fsS -o "$out.tmp" "$PPROF_URL/debug/pprof/profile?seconds=$profile_seconds" ||
	die "capturing the CPU profile failed (another CPU profile running, e.g. PYROSCOPE_URL set?)"
mv "$out.tmp" "$out"
rc=0
wait "$k6_pid" || rc=$?
k6_pid=""
case $rc in
0) ;;
99) echo "profile: warning: read.js missed a threshold; the profile is of a service under strain" >&2 ;;
*)
	cat "$tmp/k6.out" >&2
	die "k6 failed with status $rc"
	;;
esac
tail -n 3 "$tmp/k6.out" | sed 's/^/profile: k6: /'

echo "profile: wrote $out (open with: $GO tool pprof -http=127.0.0.1:0 $out)"
"$GO" tool pprof -top -nodecount=25 "$out"
