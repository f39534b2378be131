// Package dashtest has no code: its tests check the Grafana provisioning and dashboards and the
// Prometheus files at the repository root (grafana/, prometheus/), without Grafana or Docker.
//
// The tests check that every dashboard is valid JSON with a fixed uid, a title, a description,
// unique panel ids and data sources that grafana/provisioning provides; that the data sources link
// metrics, logs and traces to each other; that every alert has a severity, a summary, a
// description, a runbook section in docs/alerts.md and a promtool unit test that fires it and one that
// does not; and, when promtool is on the PATH (required when CI is set), that `promtool check
// config`, `promtool check rules` and `promtool test rules` pass.
//
// Three tests serve end-to-end runs and do nothing unless their environment variables are set:
//
//   - TestWriteQueryList writes every PromQL and LogQL expression of every panel, variable,
//     annotation, recording rule and alert, with dashboard variables substituted ($preset and other
//     "All" variables by their allValue ".*", $__rate_interval and $__interval by 1m, $__range by
//     5m), as JSON to DASHTEST_QUERIES_OUT:
//     [{"source": "dashboard/cache-lab/panel 3/A", "title": "...", "datasource": "prometheus",
//     "kind": "metric", "expr": "..."}, ...]; kind "logs" marks LogQL log queries, which Loki only
//     runs as range queries.
//     Pyroscope flame-graph panels are left out: they query by label selector, and no e2e stack
//     runs Pyroscope.
//   - TestWriteNativeConfig writes prometheus/prometheus.yml for a Prometheus run outside compose
//     to DASHTEST_PROM_CONFIG_OUT: each job named in DASHTEST_PROM_TARGETS
//     ("product-service=127.0.0.1:8081,127.0.0.1:8082;prometheus=127.0.0.1:9090") scrapes those
//     static targets instead of its compose ones, other jobs are removed, and rule_files become
//     absolute paths into this repository.
//   - TestQueriesEvaluate runs every expression of the list against DASHTEST_PROMETHEUS_URL and
//     DASHTEST_LOKI_URL (each optional) and fails on any query the server refuses; it logs the
//     ones that returned no data.
package dashtest
