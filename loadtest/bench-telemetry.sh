#!/usr/bin/env bash
# make bench-telemetry: what the service's telemetry costs at maximum throughput. Runs the same k6
# load (loadtest/bench.js, closed model) against the service in four set-ups, interleaved ROUNDS
# times, and reports median req/s and latency of each as a ratio to "off":
#   off          stdout JSON logs and /metrics only (always on)
#   loki         + every log line shipped to a real Loki
#   loki+traces  + OpenTelemetry traces at 100 % to a real OTLP backend (Jaeger v2)
#   loki+10%     + traces sampled at 10 % (parentbased_traceidratio 0.1)
# The cache preset is two-level over ids 1..PRODUCTS (warmed first), so nearly every request is an
# L1 hit and the service's own work, telemetry included, dominates. Target: ≤ 15 % cost at 10 %.
#
# Env knobs: K6, LOKI, JAEGER, PG_ADMIN_URL, BENCH_DB_NAME [products_bench], PRODUCTS [10000],
# VUS [32], DURATION [15s], ROUNDS [2], GO.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=loadtest/lib.sh
source loadtest/lib.sh
NAME=bench-telemetry

TOOLS=${TOOLS_DIR:-$HOME/.cache/product-service-lab/tools}
K6=${K6:-$TOOLS/k6-v1.8.1/k6}
LOKI=${LOKI:-$TOOLS/loki-v3.7.8/loki}
JAEGER=${JAEGER:-$TOOLS/jaeger-v1.76.0/jaeger}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable}
BENCH_DB_NAME=${BENCH_DB_NAME:-products_bench}
PRODUCTS=${PRODUCTS:-10000}
VUS=${VUS:-32}
DURATION=${DURATION:-15s}
ROUNDS=${ROUNDS:-2}
GO=${GO:-go}
RESULTS_DIR=${RESULTS_DIR:-results}

for tool in "$K6" "$LOKI" "$JAEGER"; do
	[[ -x "$tool" ]] || die "$tool not found: run 'make tools'"
done
start_cleanup
mkdir -p "$RESULTS_DIR"

CGO_ENABLED=0 bounded 300 "$GO" build -trimpath -o "$tmp/product-service" ./app/cmd/product-service || die "build failed"
ensure_database "$PG_ADMIN_URL" "$BENCH_DB_NAME"
db_url=$(database_url "$PG_ADMIN_URL" "$BENCH_DB_NAME")
run_clean=(env -i PATH="$PATH" HOME="$HOME")
bounded 120 "${run_clean[@]}" DATABASE_URL="$db_url" LOG_LEVEL=warn "$tmp/product-service" migrate >/dev/null || die "migrate failed"
bounded 1200 "${run_clean[@]}" DATABASE_URL="$db_url" LOG_LEVEL=warn "$tmp/product-service" seed --products "$PRODUCTS" >/dev/null ||
	die "seed failed"

# Loki and Jaeger, on free ports in the temp dir.
loki_port=$(free_port) && loki_grpc=$(free_port)
mkdir -p "$tmp/loki"
"${run_clean[@]}" LOKI_DATA="$tmp/loki" LOKI_HTTP_ADDR=127.0.0.1 LOKI_HTTP_PORT="$loki_port" LOKI_GRPC_PORT="$loki_grpc" \
	"$LOKI" -config.file=loki/loki.yaml -config.expand-env=true >"$tmp/loki.log" 2>&1 &
pids+=("$!")
READY_TIMEOUT=60 wait_ready loki "$!" "http://127.0.0.1:$loki_port/ready" "$tmp/loki.log" || die "loki did not start"

otlp_port=$(free_port)
"${run_clean[@]}" JAEGER_HEALTH_ADDR="127.0.0.1:$(free_port)" JAEGER_QUERY_ADDR="127.0.0.1:$(free_port)" \
	JAEGER_QUERY_GRPC_ADDR="127.0.0.1:$(free_port)" JAEGER_OTLP_GRPC_ADDR="127.0.0.1:$(free_port)" \
	JAEGER_OTLP_HTTP_ADDR="127.0.0.1:$otlp_port" "$JAEGER" --config observability/jaeger.yaml >"$tmp/jaeger.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$otlp_port") 2>/dev/null && break; sleep 0.2; done

configs=(off loki loki+traces loki+10%)
config_env() {
	case $1 in
	off) ;;
	loki) echo "LOKI_URL=http://127.0.0.1:$loki_port" ;;
	loki+traces) echo "LOKI_URL=http://127.0.0.1:$loki_port OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$otlp_port OTEL_TRACES_SAMPLER=always_on" ;;
	loki+10%) echo "LOKI_URL=http://127.0.0.1:$loki_port OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$otlp_port OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.1" ;;
	esac
}

# measure CONFIG ROUND: start the service in that set-up, warm L1, run k6, stop the service.
measure() {
	local cfg=$1 round=$2 port pid extra log
	port=$(free_port)
	log="$tmp/service-$round-${cfg//[^a-z0-9]/_}.log"
	read -ra extra <<<"$(config_env "$cfg")"
	"${run_clean[@]}" DATABASE_URL="$db_url" HTTP_ADDR="127.0.0.1:$port" LOG_LEVEL=info CACHE_PRESET=two-level \
		CACHE_NAMESPACE="bench-telemetry-$$" "${extra[@]}" "$tmp/product-service" serve >"$log" 2>&1 &
	pid=$!
	pids+=("$pid")
	wait_ready product-service "$pid" "http://127.0.0.1:$port/ready" "$log" || die "service ($cfg) did not start"
	K6_NO_USAGE_REPORT=true bounded 120 "$K6" run --quiet --no-usage-report -e BASE_URL="http://127.0.0.1:$port" \
		-e PRODUCTS="$PRODUCTS" -e VUS="$VUS" -e DURATION=5s -e LABEL="warm-up $cfg" loadtest/bench.js >/dev/null 2>&1 || true
	K6_NO_USAGE_REPORT=true bounded 300 "$K6" run --quiet --no-usage-report -e BASE_URL="http://127.0.0.1:$port" \
		-e PRODUCTS="$PRODUCTS" -e VUS="$VUS" -e DURATION="$DURATION" -e LABEL="round $round $cfg" \
		-e SUMMARY_FILE="$tmp/$round-${cfg//[^a-z0-9]/_}.json" loadtest/bench.js || die "k6 against $cfg failed"
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
}

echo "$NAME: $ROUNDS round(s) × ${#configs[@]} set-ups, $DURATION at $VUS VUs, ids 1..$PRODUCTS, preset two-level; $(nproc) CPUs"
for ((r = 1; r <= ROUNDS; r++)); do
	for cfg in "${configs[@]}"; do measure "$cfg" "$r"; done
done

value() { sed -nE "s/.*\"$2\":(-?[0-9.eE+-]+).*/\1/p" "$1"; }
median_of() { # CONFIG FIELD
	for ((r = 1; r <= ROUNDS; r++)); do value "$tmp/$r-${1//[^a-z0-9]/_}.json" "$2"; done | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
off_rps=$(median_of off rps)
echo
printf '%-12s %10s %10s %10s %12s\n' set-up "req/s" "p50 ms" "p99 ms" "cost vs off"
json="["
for cfg in "${configs[@]}"; do
	rps=$(median_of "$cfg" rps) p50=$(median_of "$cfg" p50_ms) p99=$(median_of "$cfg" p99_ms)
	cost=$(awk -v a="$rps" -v b="$off_rps" 'BEGIN { printf "%.1f%%", (1 - a / b) * 100 }')
	printf '%-12s %10.1f %10.2f %10.2f %12s\n' "$cfg" "$rps" "$p50" "$p99" "$cost"
	json+="{\"setup\":\"$cfg\",\"rps\":$rps,\"p50_ms\":$p50,\"p99_ms\":$p99,\"cost_vs_off\":\"$cost\"},"
done
echo "${json%,}]" >"$RESULTS_DIR/bench-telemetry.json"
ten=$(median_of "loki+10%" rps)
awk -v a="$ten" -v b="$off_rps" 'BEGIN { c = (1 - a / b) * 100; printf "target ≤ 15 %% cost at 10 %% sampling: %.1f %% — %s\n", c, (c <= 15 ? "met" : "missed") }'
echo "$NAME: wrote $RESULTS_DIR/bench-telemetry.json"
