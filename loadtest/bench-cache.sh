# shellcheck shell=bash disable=SC2154 # tmp, run_clean, service_env and the helpers come from bench.sh
# The cache part of `make bench`, sourced by loadtest/bench.sh (BENCH_PARTS=cache runs it alone):
# bench.sh builds the binaries, seeds the database and provides run_k6, field, median, ratio,
# start_server and the clean-up; this file adds cache_check_knobs and cache_bench.
#
# It starts product-service with DB_SIMULATED_LATENCY=DB_LATENCY in a Redis namespace of its own,
# and two bare baselines serving the JSON body of one hot product: bench-baseline -mode redis-get
# (one go-redis GET per request) and -mode fixed (bytes in memory). Load comes from
# loadtest/bench-cache.js: ids Zipf-distributed (exponent ZIPF_S) over ranks 1..PRODUCTS, the
# products flagged is_hot taking the first ranks, the others following in id order.
#
#  1. Each preset of CACHE_PRESETS: switch to it (PUT /api/v1/admin/cache), empty the namespace
#     (POST …/reset), warm up (POST …/warmup loads the is_hot products), run the same load at RATE
#     for CACHE_WARMUP unmeasured, then measure RATE/s (constant-arrival-rate) for CACHE_DURATION,
#     then the highest rate CACHE_VUS closed-model users reach for CACHE_DURATION. /metrics is
#     scraped around each measured run for database loads/s (cache_db_loads_total) and the hit
#     ratio of each layer (cache_requests_total); X-Cache gives the share of requests the cache
#     answered and the p99 of those alone.
#  2. The hit paths, HIT_ROUNDS times interleaved, each for HIT_DURATION at CACHE_VUS users with
#     ids among the hot products only: preset protected after a warm-up (every read a Redis hit)
#     against the redis-get baseline, and preset two-level after a warm-up (every read an L1 hit)
#     against the fixed baseline. X-Cache tells how clean each run was. Since k6 shares the CPUs
#     with the servers, each run also reports the server's CPU time per request (/proc/PID/stat).
#  3. A table of every run, the targets (Redis-hit ≥ RATIO_TARGET × redis-get, L1-hit ≥
#     RATIO_TARGET × fixed, p99 ≤ P99_TARGET_MS at RATE/s for protected, two-level and full) and
#     whether each is met, and $RESULTS_DIR/bench-cache.json. A missed target is reported, not
#     failed.
#
# Env knobs (defaults in brackets), besides bench.sh's PRODUCTS, VUS, SERVICE_ENV, REDIS_ADDR:
#   CACHE_PRESETS   presets to measure, in order [none naive protected two-level full]
#   RATE            requests per second of the open-model runs [500]
#   ZIPF_S          Zipf exponent of the id distribution [1.1]
#   DB_LATENCY      the service's DB_SIMULATED_LATENCY, per detail load [200ms]
#   CACHE_WARMUP    unmeasured load at RATE after each preset's warm-up; 0 skips it [10s]
#   CACHE_DURATION  each measured preset run [15s]
#   CACHE_VUS       closed-model users of the max-rate and hit-path runs [$VUS]
#   HIT_DURATION    each hit-path run; keep it under the 30s L1 TTL [10s]
#   HIT_ROUNDS      hit-path rounds; the ratios use the medians [2]
#   P99_TARGET_MS   the p99 target at RATE/s [5]; RATIO_TARGET the throughput target [0.8]
#   CACHE_PROFILE   1: during the first round of hit paths, take a CPU profile of the service
#                   (PPROF_ADDR) into $RESULTS_DIR/bench-cache-{redis-hit,l1-hit}.cpu.pprof [0]
# Needs psql (to read the is_hot ids) and redis-cli (to delete the run's keys).

CACHE_PRESETS=${CACHE_PRESETS:-none naive protected two-level full}
RATE=${RATE:-500}
ZIPF_S=${ZIPF_S:-1.1}
DB_LATENCY=${DB_LATENCY:-200ms}
CACHE_WARMUP=${CACHE_WARMUP:-10s}
CACHE_DURATION=${CACHE_DURATION:-15s}
CACHE_VUS=${CACHE_VUS:-$VUS}
HIT_DURATION=${HIT_DURATION:-10s}
HIT_ROUNDS=${HIT_ROUNDS:-2}
P99_TARGET_MS=${P99_TARGET_MS:-5}
RATIO_TARGET=${RATIO_TARGET:-0.8}
CACHE_PROFILE=${CACHE_PROFILE:-0}

# hot_limit is how many is_hot products the service's warm-up loads (CACHE_HOT_LIMIT).
hot_limit=5000
# The servers of the cache part by name (service, redis-get, fixed): their URL and pid.
declare -A url_of pid_of

# cache_check_knobs validates the knobs before anything starts.
cache_check_knobs() {
	local preset
	read -ra cache_presets <<<"$CACHE_PRESETS"
	((${#cache_presets[@]} > 0)) || die "CACHE_PRESETS must name at least one preset"
	for preset in "${cache_presets[@]}"; do
		[[ " none naive protected two-level full " == *" $preset "* ]] ||
			die "CACHE_PRESETS: unknown preset '$preset' (none, naive, protected, two-level, full)"
	done
	[[ "$RATE" =~ ^[1-9][0-9]*$ ]] || die "RATE must be a positive integer, got '$RATE'"
	[[ "$CACHE_VUS" =~ ^[1-9][0-9]*$ ]] || die "CACHE_VUS must be a positive integer, got '$CACHE_VUS'"
	[[ "$HIT_ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "HIT_ROUNDS must be a positive integer, got '$HIT_ROUNDS'"
	if ! [[ "$ZIPF_S" =~ ^[0-9]*\.?[0-9]+$ ]] || ! awk -v s="$ZIPF_S" 'BEGIN { exit !(s > 0) }'; then
		die "ZIPF_S must be a positive number, got '$ZIPF_S'"
	fi
	[[ "$DB_LATENCY" =~ ^[0-9]+(ms|s)$ ]] || die "DB_LATENCY must look like 200ms or 1s, got '$DB_LATENCY'"
	[[ "$P99_TARGET_MS" =~ ^[0-9]*\.?[0-9]+$ ]] || die "P99_TARGET_MS must be a number, got '$P99_TARGET_MS'"
	[[ "$RATIO_TARGET" =~ ^[0-9]*\.?[0-9]+$ ]] || die "RATIO_TARGET must be a number, got '$RATIO_TARGET'"
	[[ "$CACHE_PROFILE" == 0 || "$CACHE_PROFILE" == 1 ]] || die "CACHE_PROFILE must be 0 or 1, got '$CACHE_PROFILE'"
	cache_duration_s=$(seconds CACHE_DURATION "$CACHE_DURATION")
	cache_warmup_s=$(seconds CACHE_WARMUP "$CACHE_WARMUP")
	hit_duration_s=$(seconds HIT_DURATION "$HIT_DURATION")
	((cache_duration_s > 0 && hit_duration_s > 0)) || die "CACHE_DURATION and HIT_DURATION must be positive"
	if ((hit_duration_s > 20)); then
		echo "bench: warning: HIT_DURATION over 20s outlives L1 entries (30s TTL): the L1-hit run will see Redis hits" >&2
	fi
	clock_ticks=$(getconf CLK_TCK) || die "getconf CLK_TCK failed"
	command -v psql >/dev/null || die "psql is required by the cache part (it reads the is_hot ids)"
	command -v redis-cli >/dev/null || die "redis-cli is required by the cache part (it deletes the run's keys)"
	bounded 10 redis-cli -h "${REDIS_ADDR%:*}" -p "${REDIS_ADDR##*:}" ping 2>/dev/null | grep -q PONG ||
		die "Redis does not answer at $REDIS_ADDR (set REDIS_ADDR)"
}

# admin METHOD PATH [BODY]: call the service's cache admin API and print the answer.
admin() {
	local method=$1 path=$2 data=()
	if (($# > 2)); then data=(-H 'Content-Type: application/json' --data "$3"); fi
	curl -sS --fail-with-body --max-time 120 -X "$method" -H "Authorization: Bearer $admin_token" "${data[@]}" \
		"$cache_url/api/v1/admin/cache$path" || die "$method /api/v1/admin/cache$path failed"
}

# scrape FILE saves the cache counters of the service's /metrics, one "series value" a line.
scrape() {
	curl -fsS --max-time 10 "$cache_url/metrics" | awk '/^cache_(requests|db_loads)_total\{/ { print $1, $2 }' >"$1" ||
		die "cannot read $cache_url/metrics"
}

# grown BEFORE AFTER PREFIX sums how much the series starting with PREFIX grew between two scrapes.
grown() {
	awk -v p="$3" 'index($1, p) == 1 { if (FILENAME == ARGV[1]) a[$1] = $2; else d += $2 - a[$1] }
		END { printf "%.0f\n", d }' "$1" "$2"
}

# cpu_ticks PID prints the CPU time a process has used, user + system, in clock ticks.
cpu_ticks() {
	# Fields after the ")" that ends the command name: utime and stime are the 12th and 13th.
	sed -E 's/.*\) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# measure NAME SERVER PRESET SECONDS K6_ARGS...: one measured k6 run of bench-cache.js against
# SERVER (service, redis-get or fixed). $tmp/NAME.json ends up holding k6's summary, the run's
# names, the server's CPU time per request and the share of requests the cache answered (X-Cache);
# for the service also database loads/s and the hit ratio of each layer, from its counters scraped
# around the run.
measure() {
	local name=$1 server=$2 preset=$3 secs=$4 f before after ticks l1h l1m redh redm rede loads cached
	shift 4
	f="$tmp/$name.json" before="$tmp/$name.before" after="$tmp/$name.after"
	if [[ $server == service ]]; then scrape "$before"; fi
	ticks=$(cpu_ticks "${pid_of[$server]}")
	run_k6 "$name" "$secs" loadtest/bench-cache.js -e BASE_URL="${url_of[$server]}" -e LABEL="$name" "${ids_args[@]}" "$@"
	ticks=$(($(cpu_ticks "${pid_of[$server]}") - ticks))
	local extra="\"name\":\"$name\",\"server\":\"$server\",\"preset\":\"$preset\""
	extra+=",\"cpu_us_per_req\":$(ratio $((ticks * 1000000 / clock_ticks)) "$(field "$f" reqs)")"
	if [[ $server == service ]]; then
		scrape "$after"
		l1h=$(grown "$before" "$after" 'cache_requests_total{layer="l1",result="hit"}')
		l1h=$((l1h + $(grown "$before" "$after" 'cache_requests_total{layer="l1",result="null_hit"}')))
		l1m=$(grown "$before" "$after" 'cache_requests_total{layer="l1",result="miss"}')
		redh=$(grown "$before" "$after" 'cache_requests_total{layer="redis",result="hit"}')
		redh=$((redh + $(grown "$before" "$after" 'cache_requests_total{layer="redis",result="null_hit"}')))
		redm=$(grown "$before" "$after" 'cache_requests_total{layer="redis",result="miss"}')
		rede=$(grown "$before" "$after" 'cache_requests_total{layer="redis",result="error"}')
		loads=$(grown "$before" "$after" 'cache_db_loads_total{')
		extra+=",\"db_loads\":$loads,\"db_loads_per_s\":$(ratio "$loads" "$(field "$f" duration_s)")"
		extra+=",\"l1_lookups\":$((l1h + l1m)),\"l1_hit_ratio\":$(ratio "$l1h" $((l1h + l1m)))"
		extra+=",\"redis_lookups\":$((redh + redm + rede)),\"redis_errors\":$rede"
		extra+=",\"redis_hit_ratio\":$(ratio "$redh" $((redh + redm + rede)))"
	fi
	cached=$(awk -v a="$(field "$f" x_hit_l1)" -v b="$(field "$f" x_hit_redis)" -v c="$(field "$f" x_hit_null)" \
		-v d="$(field "$f" x_bloom_reject)" -v n="$(field "$f" reqs)" 'BEGIN { printf "%.4f", (n > 0 ? (a + b + c + d) / n : 0) }')
	extra+=",\"cached_share\":$cached"
	sed -i -E "s/\}$/,$extra}/" "$f"
}

# profile KIND starts taking a CPU profile of the service, over the middle of a hit-path run, into
# $RESULTS_DIR/bench-cache-KIND.cpu.pprof; profile_pid names the process to wait for.
profile() {
	local secs=$((hit_duration_s > 4 ? hit_duration_s - 3 : 1))
	(
		sleep 2
		curl -fsS --max-time $((secs + 10)) -o "$RESULTS_DIR/bench-cache-$1.cpu.pprof" \
			"http://$pprof_addr/debug/pprof/profile?seconds=$secs" ||
			echo "bench: no CPU profile from $pprof_addr (does this product-service read PPROF_ADDR?)" >&2
	) &
	profile_pid=$!
	pids+=("$profile_pid")
}

# num NAME FIELD prints a field of run NAME's summary, or - when it has none (null or absent).
num() {
	local v
	v=$(field "$tmp/$1.json" "$2")
	echo "${v:--}"
}

# preset_row NAME LOAD: one line of the preset table.
preset_row() {
	local f="$tmp/$1.json"
	awk -v name="$(sed -nE 's/.*"preset":"([^"]*)".*/\1/p' "$f")" -v what="$2" -v rps="$(num "$1" rps)" \
		-v p50="$(num "$1" p50_ms)" -v p95="$(num "$1" p95_ms)" -v p99="$(num "$1" p99_ms)" \
		-v hp99="$(num "$1" hit_p99_ms)" -v failed="$(num "$1" failed_rate)" -v dropped="$(num "$1" dropped)" \
		-v loads="$(num "$1" db_loads_per_s)" -v l1="$(num "$1" l1_hit_ratio)" -v red="$(num "$1" redis_hit_ratio)" \
		-v cached="$(num "$1" cached_share)" -v cpu="$(num "$1" cpu_us_per_req)" '
		function pct(x) { return x == "-" ? "-" : sprintf("%.1f%%", x * 100) }
		BEGIN {
			printf "%-10s %-6s %8.1f %7.2f %7.2f %7.2f %7s %6s %7s %8.1f %6s %6s %6s %7.0f\n", name, what, rps, p50, p95, p99,
				(hp99 > 0 ? sprintf("%.2f", hp99) : "-"), pct(failed), dropped, loads, pct(l1), pct(red), pct(cached), cpu
		}'
}

# cache_bench runs the cache part.
cache_bench() {
	local ns="bench-$$-c" port hot_id preset loaded r mode kind baseline
	local hit_args rate_args max_args
	namespaces+=("$ns")
	admin_token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')

	# The products flagged is_hot, as many as the service's warm-up loads, take the first ranks.
	hot_file="$tmp/hot-ids.txt"
	bounded 30 psql "$BENCH_DATABASE_URL" -XtAc \
		"SELECT id FROM products WHERE is_hot AND id <= $PRODUCTS ORDER BY id LIMIT $hot_limit" >"$hot_file" ||
		die "cannot read the is_hot ids from $(redact "$BENCH_DATABASE_URL")"
	hot_n=$(grep -c . "$hot_file") || die "no product in 1..$PRODUCTS is flagged is_hot: seed more products"
	hot_id=$(head -n 1 "$hot_file")
	# How every run draws its ids.
	ids_args=(-e PRODUCTS="$PRODUCTS" -e ZIPF_S="$ZIPF_S" -e HOT_IDS_FILE="$hot_file")

	port=$(free_port) || die "no free port for product-service"
	local pprof_env=()
	if ((CACHE_PROFILE)); then
		pprof_addr=127.0.0.1:$(free_port) || die "no free port for pprof"
		[[ "$pprof_addr" != "127.0.0.1:$port" ]] || die "free_port gave the same port twice; run again"
		pprof_env=(PPROF_ADDR="$pprof_addr")
	fi
	start_server product-service "$RESULTS_DIR/bench-cache-service.log" "http://127.0.0.1:$port/ready" \
		"${run_clean[@]}" DATABASE_URL="$BENCH_DATABASE_URL" HTTP_ADDR="127.0.0.1:$port" LOG_LEVEL=warn \
		APP_ENV=development DB_SIMULATED_LATENCY="$DB_LATENCY" REDIS_ADDR="$REDIS_ADDR" CACHE_PRESET=none \
		CACHE_NAMESPACE="$ns" CACHE_HOT_LIMIT="$hot_limit" ADMIN_TOKEN="$admin_token" "${pprof_env[@]}" \
		"${service_env[@]}" "$tmp/product-service" serve
	cache_url="http://127.0.0.1:$port"
	url_of[service]=$cache_url pid_of[service]=${pids[-1]}
	for mode in redis-get fixed; do
		port=$(free_port) || die "no free port for bench-baseline"
		start_server "bench-baseline $mode" "$RESULTS_DIR/bench-baseline-$mode.log" \
			"http://127.0.0.1:$port/api/v1/products/1" "${run_clean[@]}" "$tmp/bench-baseline" -mode "$mode" \
			-addr "127.0.0.1:$port" -database-url "$BENCH_DATABASE_URL" -product-id "$hot_id" \
			-redis-addr "$REDIS_ADDR" -redis-key "$ns:baseline:product"
		url_of[$mode]="http://127.0.0.1:$port" pid_of[$mode]=${pids[-1]}
	done

	# The baselines must send the bytes the service sends for that product.
	curl -fsS -o "$tmp/body-service" --max-time 5 "$cache_url/api/v1/products/$hot_id" ||
		die "product-service does not serve product $hot_id"
	for url in "${url_of[redis-get]}" "${url_of[fixed]}"; do
		curl -fsS -o "$tmp/body-baseline" --max-time 5 "$url/api/v1/products/$hot_id" || die "$url does not answer"
		cmp -s "$tmp/body-service" "$tmp/body-baseline" ||
			echo "bench: warning: $url sends other bytes than the service for product $hot_id; the comparison is skewed" >&2
	done

	local per_preset=$((cache_warmup_s + 2 * cache_duration_s + 6)) per_round=$((4 * (hit_duration_s + 4)))
	echo
	echo "bench: cache: presets ${cache_presets[*]} with DB_SIMULATED_LATENCY=$DB_LATENCY, ids Zipf(s=$ZIPF_S) over" \
		"$PRODUCTS products, the $hot_n is_hot ones first; about" \
		"$(((${#cache_presets[@]} * per_preset + HIT_ROUNDS * per_round + 59) / 60)) min"

	rate_args=(-e MODE=rate -e RATE="$RATE" -e DURATION="$CACHE_DURATION")
	max_args=(-e MODE=max -e VUS="$CACHE_VUS" -e DURATION="$CACHE_DURATION")
	for preset in "${cache_presets[@]}"; do
		admin PUT "" "{\"preset\":\"$preset\"}" >/dev/null
		admin POST /reset >/dev/null
		loaded=$(admin POST /warmup | sed -nE 's/.*"loaded":([0-9]+).*/\1/p')
		echo "bench: preset $preset: namespace emptied, warm-up loaded ${loaded:-?} products"
		if [[ $preset != none ]] && ((cache_warmup_s > 0)); then
			run_k6 "$preset-warmup" "$cache_warmup_s" loadtest/bench-cache.js -e BASE_URL="$cache_url" \
				-e LABEL="$preset warm-up" "${ids_args[@]}" -e MODE=rate -e RATE="$RATE" -e DURATION="$CACHE_WARMUP"
		fi
		measure "$preset-rate" service "$preset" "$cache_duration_s" "${rate_args[@]}"
		measure "$preset-max" service "$preset" "$cache_duration_s" "${max_args[@]}"
	done

	# Hit paths: ids among the hot products only, all loaded by the warm-up just before.
	hit_args=(-e MODE=max -e VUS="$CACHE_VUS" -e DURATION="$HIT_DURATION" -e RANKS="$hot_n")
	echo
	echo "bench: hit paths: $HIT_ROUNDS round(s) of $HIT_DURATION at $CACHE_VUS VUs over the $hot_n is_hot products"
	for ((r = 1; r <= HIT_ROUNDS; r++)); do
		for preset in protected two-level; do
			admin PUT "" "{\"preset\":\"$preset\"}" >/dev/null
			admin POST /warmup >/dev/null
			kind=redis-hit baseline=redis-get
			if [[ $preset == two-level ]]; then kind=l1-hit baseline=fixed; fi
			if ((CACHE_PROFILE && r == 1)); then profile "$kind"; fi
			measure "$kind-$r" service "$preset" "$hit_duration_s" "${hit_args[@]}"
			if ((CACHE_PROFILE && r == 1)); then wait "$profile_pid" || true; fi
			measure "$baseline-$r" "$baseline" "" "$hit_duration_s" "${hit_args[@]}"
		done
	done
	if ((CACHE_PROFILE)); then
		echo "bench: CPU profiles of the hit paths (round 1, perturbed by profiling):" \
			"go tool pprof -top $RESULTS_DIR/bench-cache-{redis-hit,l1-hit}.cpu.pprof"
	fi

	cache_report
}

# cache_report prints the tables and the targets, and writes bench-cache.json.
cache_report() {
	local preset name kind f out hit_row
	local -A rps p99 cpu
	echo
	printf '%-10s %-6s %8s %7s %7s %7s %7s %6s %7s %8s %6s %6s %6s %7s\n' preset load "req/s" "p50 ms" "p95 ms" \
		"p99 ms" "hit p99" failed dropped "db ld/s" "L1 hit" "Rd hit" cached "cpu µs"
	for preset in "${cache_presets[@]}"; do
		preset_row "$preset-rate" "$RATE/s"
		preset_row "$preset-max" "max"
	done
	echo "(hit p99: of the requests the cache answered; db ld/s: cache_db_loads_total growth; L1/Rd hit: hits per"
	echo " lookup of that layer; cached: share of requests with X-Cache HIT-* or BLOOM-REJECT; dropped: requests k6"
	echo " could not start on time; cpu µs: the service's CPU time per request)"

	echo
	printf '%-6s %-10s %-22s %9s %7s %7s %7s %7s %s\n' round path target "req/s" "p50 ms" "p99 ms" failed "cpu µs" "X-Cache"
	for ((r = 1; r <= HIT_ROUNDS; r++)); do
		for kind in redis-hit redis-get l1-hit fixed; do
			case $kind in
			redis-hit) hit_row="service (protected)" ;;
			redis-get) hit_row="baseline (1 redis GET)" ;;
			l1-hit) hit_row="service (two-level)" ;;
			fixed) hit_row="baseline (fixed bytes)" ;;
			esac
			awk -v r="$r" -v k="$kind" -v t="$hit_row" -v rps="$(num "$kind-$r" rps)" -v p50="$(num "$kind-$r" p50_ms)" \
				-v p99="$(num "$kind-$r" p99_ms)" -v failed="$(num "$kind-$r" failed_rate)" -v n="$(num "$kind-$r" reqs)" \
				-v cpu="$(num "$kind-$r" cpu_us_per_req)" -v l1="$(num "$kind-$r" x_hit_l1)" \
				-v red="$(num "$kind-$r" x_hit_redis)" -v miss="$(num "$kind-$r" x_miss)" '
				BEGIN {
					x = "none (baseline)"
					if (l1 + red + miss > 0) x = sprintf("HIT-L1 %.1f%%, HIT-REDIS %.1f%%, MISS %.1f%%", 100 * l1 / n, 100 * red / n, 100 * miss / n)
					printf "%-6s %-10s %-22s %9.1f %7.2f %7.2f %6.2f%% %7.1f %s\n", r, k, t, rps, p50, p99, 100 * failed, cpu, x
				}'
		done
	done
	for kind in redis-hit redis-get l1-hit fixed; do
		rps[$kind]=$(for ((r = 1; r <= HIT_ROUNDS; r++)); do num "$kind-$r" rps; done | median)
		p99[$kind]=$(for ((r = 1; r <= HIT_ROUNDS; r++)); do num "$kind-$r" p99_ms; done | median)
		cpu[$kind]=$(for ((r = 1; r <= HIT_ROUNDS; r++)); do num "$kind-$r" cpu_us_per_req; done | median)
		printf '%-6s %-10s %-22s %9.1f %7s %7.2f %7s %7.1f\n' median "$kind" "" "${rps[$kind]}" "" "${p99[$kind]}" "" "${cpu[$kind]}"
	done
	local redis_ratio l1_ratio redis_cpu_ratio l1_cpu_ratio
	redis_ratio=$(ratio "${rps[redis-hit]}" "${rps[redis-get]}")
	l1_ratio=$(ratio "${rps[l1-hit]}" "${rps[fixed]}")
	# The same comparison by CPU time per request, which k6 sharing the CPUs does not blur.
	redis_cpu_ratio=$(ratio "${cpu[redis-get]}" "${cpu[redis-hit]}")
	l1_cpu_ratio=$(ratio "${cpu[fixed]}" "${cpu[l1-hit]}")
	echo "baseline/service CPU time per request: Redis-hit $redis_cpu_ratio, L1-hit $l1_cpu_ratio" \
		"(k6 shares the CPUs, which brings the req/s ratios closer to 1 than the servers' own costs are)"

	# targets: one line each, "name<TAB>figure<TAB>met<TAB>note".
	local targets="$tmp/targets.tsv" met
	: >"$targets"
	met=$(awk -v x="$redis_ratio" -v t="$RATIO_TARGET" 'BEGIN { print (x != "null" && x >= t) ? "yes" : "NO" }')
	printf 'Redis-hit req/s >= %s x redis-get baseline\t%s\t%s\t%.1f / %.1f req/s\n' "$RATIO_TARGET" "$redis_ratio" "$met" \
		"${rps[redis-hit]}" "${rps[redis-get]}" >>"$targets"
	met=$(awk -v x="$l1_ratio" -v t="$RATIO_TARGET" 'BEGIN { print (x != "null" && x >= t) ? "yes" : "NO" }')
	printf 'L1-hit req/s >= %s x fixed-bytes baseline\t%s\t%s\t%.1f / %.1f req/s\n' "$RATIO_TARGET" "$l1_ratio" "$met" \
		"${rps[l1-hit]}" "${rps[fixed]}" >>"$targets"
	for preset in protected two-level full; do
		[[ " ${cache_presets[*]} " == *" $preset "* ]] || continue
		name="$preset-rate"
		awk -v p="$preset" -v rate="$RATE" -v t="$P99_TARGET_MS" -v p99="$(num "$name" p99_ms)" \
			-v hp99="$(num "$name" hit_p99_ms)" -v cached="$(num "$name" cached_share)" 'BEGIN {
			printf "p99 <= %s ms at %s/s, %s\t%.2f ms\t%s\tcache answered %.1f%%, their p99 %.2f ms (%s)\n", t, rate, p,
				p99, (p99 <= t ? "yes" : "NO"), 100 * cached, hp99, (hp99 <= t ? "within target" : "over target")
		}' >>"$targets"
	done
	echo
	printf '%-46s %10s %4s  %s\n' target figure met note
	awk -F'\t' '{ printf "%-46s %10s %4s  %s\n", $1, $2, $3, $4 }' "$targets"
	if grep -q $'^p99.*\tNO\t' "$targets"; then
		echo "(a request the cache does not answer waits DB_LATENCY=$DB_LATENCY: while more than 1% of requests miss," \
			"the p99 is a miss; Zipf(s=$ZIPF_S) over $PRODUCTS ids keeps sending a share of requests to ids not yet cached)"
	fi

	out="$RESULTS_DIR/bench-cache.json"
	{
		printf '{"when":"%s","commit":"%s","cpus":%d,"products":%d,"hot_ids":%d,"zipf_s":%s,"rate":%d,"vus":%d,' \
			"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(nproc)" \
			"$PRODUCTS" "$hot_n" "$ZIPF_S" "$RATE" "$CACHE_VUS"
		printf '"db_latency":"%s","warmup":"%s","duration":"%s","hit_duration":"%s","hit_rounds":%d,"service_env":"%s",\n' \
			"$DB_LATENCY" "$CACHE_WARMUP" "$CACHE_DURATION" "$HIT_DURATION" "$HIT_ROUNDS" "${service_env[*]}"
		printf ' "runs":[\n'
		{
			for preset in "${cache_presets[@]}"; do cat "$tmp/$preset-rate.json" "$tmp/$preset-max.json"; done
			for ((r = 1; r <= HIT_ROUNDS; r++)); do
				for kind in redis-hit redis-get l1-hit fixed; do cat "$tmp/$kind-$r.json"; done
			done
		} | awk '{ printf "%s  %s", (NR > 1 ? ",\n" : ""), $0 } END { print "" }'
		printf ' ],\n'
		printf ' "hit_paths":{"redis_hit_rps":%s,"redis_get_rps":%s,"redis_ratio":%s,"l1_hit_rps":%s,"fixed_rps":%s,"l1_ratio":%s,\n' \
			"${rps[redis-hit]}" "${rps[redis-get]}" "$redis_ratio" "${rps[l1-hit]}" "${rps[fixed]}" "$l1_ratio"
		printf '  "cpu_us_per_req":{"redis_hit":%s,"redis_get":%s,"l1_hit":%s,"fixed":%s},"redis_cpu_ratio":%s,"l1_cpu_ratio":%s},\n' \
			"${cpu[redis-hit]}" "${cpu[redis-get]}" "${cpu[l1-hit]}" "${cpu[fixed]}" "$redis_cpu_ratio" "$l1_cpu_ratio"
		printf ' "targets":[\n'
		awk -F'\t' '{ printf "%s  {\"target\":\"%s\",\"figure\":\"%s\",\"met\":%s,\"note\":\"%s\"}", (NR > 1 ? ",\n" : ""),
			$1, $2, ($3 == "yes" ? "true" : "false"), $4 } END { print "" }' "$targets"
		printf ' ]}\n'
	} >"$out"
	echo "bench: wrote $out"
}
