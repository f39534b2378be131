// Package drills has no code of its own: its tests are failure drills of the real product-service
// binary. Each drill starts, on free 127.0.0.1 ports and in temporary directories, a PostgreSQL
// cluster (initdb, then the postgres server from the installed packages), a redis-server and the
// service of its own, so killing them never touches the machine's shared servers; it migrates and
// seeds with the binary's own commands, puts load on the service, does something bad to it and
// checks what clients saw and what the database holds afterwards.
//
// With the build tag drills (`make drills`), the read load of every drill is k6 at RATE=500
// requests/s (loadtest/drills/read.js) with 15 s phases, split by wall-clock time into the phases
// before, during and after the trouble:
//
//	TestDrillRedisKilled        redis-server SIGKILLed, started again empty on the same port
//	TestDrillPostgresKilled     pg_ctl stop -m immediate under reads and writes, then started again
//	TestDrillSIGTERM            SIGTERM with reads in flight, then a new process on the same port
//	TestDrillConcurrentUpdates  16 writers with If-Match on one product
//	TestDrillSlowClients        slowloris, slow bodies, oversized bodies, idle and kept-alive connections
//	TestDrillConsistency        writers and readers on two instances sharing Redis (two-level)
//	TestDrillRedisSilent        a fault proxy black-holes Redis: each read spends one REDIS_TIMEOUT at most
//	TestDrillRedisRefusesWrites Redis full (noeviction): writes refused, breaker closed, hits served
//	TestDrillOverload           200 connections flood 100-id batch reads beside a client at 200/s (Go load in both runs)
//
// Without the tag (`make test`), the same drills run with a small Go load generator at 100/s and
// 4 s phases instead of k6 (about three minutes in all): the same checks, a lighter load.
//
// The invalidation window. A write commits in PostgreSQL, deletes the product's keys in Redis and
// in the writing instance's L1, and publishes the id, before it answers. Redis and the writing
// instance are consistent when the write answers; another instance drops its L1 copy when the
// pub/sub message arrives (about a millisecond here). Cache-aside leaves one race: a reader that
// loaded the old row before the commit and stores it after the deletion. double_delete deletes the
// keys once more after its delay and bounds that race. TestDrillConsistency runs with
// double_delete 200ms and takes the window to be double_delete + 100 ms = 300 ms: a read that
// starts later than an acknowledged write's answer + 300 ms must return that version or a newer
// one. It reports the largest staleness it observed.
//
// Tools: PG_BIN (the directory of initdb and postgres; default: the newest
// /usr/lib/postgresql/*/bin), redis-server on the PATH (or REDIS_SERVER), and with the tag K6_BIN
// (default: ~/.cache/product-service-lab/tools/k6-v1.8.1/k6, built by `make tools`). A missing
// PostgreSQL or Redis skips the drills, except under CI, where it fails them; a missing k6 fails.
// PostgreSQL refuses to run as root: as root the drills run it as the user postgres.
//
// DRILLS_REPORT, when set to a path (relative paths are taken from the repository root), makes
// the test binary write the figures of every drill that ran as a Markdown table there
// (`make drills` writes results/drills-<date>.md). DRILLS_LOG_DIR keeps every process's output
// and the k6 summaries there.
package drills
