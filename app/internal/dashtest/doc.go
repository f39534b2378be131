// Package dashtest checks the Grafana provisioning and dashboards and the Prometheus files at the
// repository root (grafana/, prometheus/), without Grafana or Docker, and gives end-to-end runs
// what they need of those files.
//
// The tests check that every dashboard is valid JSON with a fixed uid, a title, a description,
// unique panel ids and data sources that grafana/provisioning provides; that the data sources link
// metrics, logs and traces to each other; that every alert has a severity, a summary, a
// description, a runbook section in docs/alerts.md and a promtool unit test that fires it and one that
// does not; and, when promtool is on the PATH (required when CI is set), that `promtool check
// config`, `promtool check rules` and `promtool test rules` pass.
//
// For end-to-end runs (app/e2e):
//
//   - Queries lists every PromQL and LogQL expression of every panel, variable, annotation,
//     recording rule and alert, with dashboard variables substituted ($preset and other "All"
//     variables by their allValue ".*", $__rate_interval and $__interval by 1m, $__range by 5m);
//     as JSON: [{"source": "dashboard/cache-lab/panel 3/A", "title": "...", "datasource":
//     "prometheus", "kind": "metric", "expr": "..."}, ...]; kind "logs" marks LogQL log queries,
//     which Loki only runs as range queries. Pyroscope flame-graph panels are left out: they
//     query by label selector, and no e2e stack runs Pyroscope.
//   - NativeConfig returns prometheus/prometheus.yml for a Prometheus run outside compose: each
//     job it is given scrapes static targets instead of its compose ones, other jobs are removed,
//     and rule_files become absolute paths into the repository.
//   - TestQueriesEvaluate runs every expression of the list against DASHTEST_PROMETHEUS_URL and
//     DASHTEST_LOKI_URL (each optional; it does nothing without them) and fails on any query the
//     server refuses; it logs the ones that returned no data.
package dashtest
