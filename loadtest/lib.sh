# Shared by the scripts that start real servers and load them (e2e.sh, profile.sh). Source it from the
# repository root after `set -euo pipefail`, set NAME (the prefix of messages), then call
# start_cleanup before starting anything.

STOP_TIMEOUT=${STOP_TIMEOUT:-15}
READY_TIMEOUT=${READY_TIMEOUT:-30}

die() {
	echo "${NAME:-loadtest}: $*" >&2
	exit 1
}

# start_cleanup makes a temp dir ($tmp) and arranges that every pid in $pids (and $k6_pid) is
# stopped, and $tmp removed, on any exit.
start_cleanup() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/${NAME:-loadtest}.XXXXXX")
	pids=()   # servers; they stay unreaped until cleanup, so their pids cannot be reused
	k6_pid="" # the k6 run in progress, if any
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

cleanup() {
	local rc=$? pid i
	trap - EXIT INT TERM
	if [[ -n "$k6_pid" ]]; then pids+=("$k6_pid"); fi
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
	exit "$rc"
}

# bounded runs a foreground step with a time limit; --foreground keeps it in the terminal's process
# group, so Ctrl-C reaches it.
bounded() {
	local limit=$1
	shift
	timeout --foreground -k 10 "$limit" "$@"
}

# redact hides the password of a URL.
redact() { sed -E 's#//([^:@/]*):[^@/]*@#//\1:***@#' <<<"$1"; }

# database_url ADMIN_URL NAME prints ADMIN_URL with its database swapped for NAME.
database_url() { sed -E "s#^([a-z]+://[^/]*/)[^?]*#\1$2#" <<<"$1"; }

# ensure_database ADMIN_URL NAME creates database NAME when psql is available and it is missing.
ensure_database() {
	local admin=$1 name=$2 exists
	[[ "$name" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "database name must match [a-z_][a-z0-9_]*, got '$name'"
	if ! command -v psql >/dev/null; then
		echo "$NAME: psql not found; assuming database $name exists (migrate fails if not)"
		return 0
	fi
	exists=$(bounded 30 psql "$admin" -XtAc "SELECT 1 FROM pg_database WHERE datname = '$name'") ||
		die "cannot reach PostgreSQL at $(redact "$admin") (set PG_ADMIN_URL)"
	if [[ "$exists" != 1 ]]; then
		echo "$NAME: creating database $name"
		bounded 60 psql "$admin" -Xqc "CREATE DATABASE \"$name\"" || die "cannot create database $name"
	fi
}

# free_port prints a 127.0.0.1 port nobody listens on, below the ephemeral range k6's own
# connections use.
free_port() {
	local p i
	for ((i = 0; i < 100; i++)); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# wait_ready NAME PID URL LOG: poll URL until it answers 2xx while PID still runs.
wait_ready() {
	local name=$1 pid=$2 url=$3 log=$4 deadline=$((SECONDS + READY_TIMEOUT))
	while ((SECONDS < deadline)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$NAME: $name exited during start-up; last lines of $log:" >&2
			tail -n 20 "$log" >&2
			return 1
		fi
		if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
			# A process that lost the port to another would exit right after its listen failed.
			sleep 0.3
			kill -0 "$pid" 2>/dev/null && return 0
		fi
		sleep 0.2
	done
	echo "$NAME: $name not ready at $url within ${READY_TIMEOUT}s; last lines of $log:" >&2
	tail -n 20 "$log" >&2
	return 1
}
