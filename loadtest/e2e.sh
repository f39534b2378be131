#!/usr/bin/env bash
# make e2e: the service as a user runs it. Builds the binary, migrates and seeds a database of its
# own, starts `serve` on a free 127.0.0.1 port, and runs loadtest/smoke.js with k6: one pass over
# every route (bad input included) and a short constant-rate read load. Fails on any failed check
# or threshold. Everything it started is stopped on exit.
#
# Env knobs: K6, PG_ADMIN_URL, E2E_DB_NAME [products_e2e], PRODUCTS [10000], RATE [200], DURATION [10s], GO.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=loadtest/lib.sh
source loadtest/lib.sh
NAME=e2e

K6=${K6:-$HOME/.cache/product-service-lab/tools/k6-v1.8.1/k6}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable}
E2E_DB_NAME=${E2E_DB_NAME:-products_e2e}
PRODUCTS=${PRODUCTS:-10000}
RATE=${RATE:-200}
DURATION=${DURATION:-10s}
GO=${GO:-go}
TOKEN=e2e-admin-token

[[ -x "$K6" ]] || die "k6 not found at $K6: run 'make tools'"
start_cleanup

CGO_ENABLED=0 bounded 300 "$GO" build -trimpath -o "$tmp/product-service" ./app/cmd/product-service || die "build failed"
ensure_database "$PG_ADMIN_URL" "$E2E_DB_NAME"
db_url=$(database_url "$PG_ADMIN_URL" "$E2E_DB_NAME")
run_clean=(env -i PATH="$PATH" HOME="$HOME")
bounded 120 "${run_clean[@]}" DATABASE_URL="$db_url" "$tmp/product-service" migrate >/dev/null || die "migrate failed"
bounded 300 "${run_clean[@]}" DATABASE_URL="$db_url" "$tmp/product-service" seed --products "$PRODUCTS" >/dev/null ||
	die "seed failed"

port=$(free_port) || die "no free port"
log="$tmp/service.log"
namespace="e2e-$$"
"${run_clean[@]}" DATABASE_URL="$db_url" HTTP_ADDR="127.0.0.1:$port" ADMIN_TOKEN="$TOKEN" LOG_LEVEL=warn \
	CACHE_NAMESPACE="$namespace" "$tmp/product-service" serve >"$log" 2>&1 &
pids+=("$!")
wait_ready product-service "$!" "http://127.0.0.1:$port/ready" "$log" || die "product-service did not start"

rc=0
K6_NO_USAGE_REPORT=true bounded 180 "$K6" run --quiet --no-usage-report \
	-e BASE_URL="http://127.0.0.1:$port" -e ADMIN_TOKEN="$TOKEN" -e PRODUCTS="$PRODUCTS" \
	-e RATE="$RATE" -e DURATION="$DURATION" loadtest/smoke.js || rc=$?
if ((rc != 0)); then
	echo "e2e: k6 failed ($rc); last service log lines:" >&2
	tail -n 30 "$log" >&2
	exit "$rc"
fi
if grep -q '"level":"error"' "$log"; then
	echo "e2e: the service logged errors:" >&2
	grep '"level":"error"' "$log" | head -n 10 >&2
	exit 1
fi
# The shared Redis keeps nothing of this run.
if command -v redis-cli >/dev/null; then
	redis-cli --scan --pattern "$namespace:*" | xargs -r redis-cli unlink >/dev/null
fi
echo "e2e: passed"
