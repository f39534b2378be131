// Package e2e has no code of its own: its test (build tag e2e, run by `make e2e`) proves the
// telemetry of the service end to end without Docker. TestStack starts, natively on 127.0.0.1,
// three replicas of the real product-service binary on a PostgreSQL database and a Redis
// namespace of its own, the balancer (observability/nginx.conf) in front of them and the edge
// micro-cache (observability/nginx-edge.conf) in front of the balancer, both run by Debian's nginx
// with only their addresses and pid file substituted (app/internal/nginxconf), Prometheus with the
// repository's scrape and rule files (only the targets swapped), Loki, Jaeger v2 as the OTLP trace
// backend, the PostgreSQL and Redis exporters, and k6 writing to Prometheus, reading half through
// the edge and half through the balancer. The edge's JSON access log goes to Loki through a small
// shipper of the test's own (edgelogs_test.go), labelled as observability/fluent-bit-edge.yaml
// says: in compose Fluent Bit ships it, which this machine cannot run.
//
// It drives load and a script of events (writes, breakdowns, policy changes, a reset, injected
// faults, the tail preset with a 2 s ttl: a whole-catalogue warm-up, stale answers, a refill)
// and then asserts that every PromQL and LogQL expression of every dashboard and rule
// returns data (the Cache lab's edge panels included), that every dashboard expression grouped by
// instance returns one series per replica, that the balancer sent requests to every replica, that
// every edge log line reached Loki unchanged with the Fluent Bit labels, that every PromQL and
// LogQL snippet of the docs (docsnippets.Documents: README.md and docs/*.md) runs, that the mission's LogQL
// finds the injected slow 500s, and that trace ids taken from a Loki line and from an exemplar are
// found in Jaeger. It stops everything it started.
//
// Tools come from the environment: LOKI_BIN, JAEGER_BIN, K6_BIN, NGINX_BIN, POSTGRES_EXPORTER_BIN,
// REDIS_EXPORTER_BIN and PROMETHEUS_BIN (default /usr/bin/prometheus); a missing one skips the
// test, or fails it when CI is set (lab.Tool). E2E_LOG_DIR, when set, keeps every process's
// output in E2E_LOG_DIR/TestStack; E2E_HOLD (a duration) keeps the stack up that long after the
// checks, for a look at it. The processes are started and stopped by app/internal/lab.
package e2e
