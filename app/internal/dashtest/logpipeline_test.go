package dashtest

import (
	"regexp"
	"testing"
)

// logPipelineMetrics are the metrics the Logs dashboard's "Log pipeline" and "Observability cost"
// rows must read: the service's log sinks (issue 16's names), Loki's own ingestion and
// refusals, and what tracing and Prometheus cost.
var logPipelineMetrics = []string{
	"log_lines_total", "log_bytes_total", "log_lines_dropped_total", "log_shipper_push_errors_total",
	"log_sink_queue_lines", "log_sink_queue_capacity", "log_access_lines_total", "log_level",
	"log_access_sample_every", "log_shipper_sent_total",
	"loki_distributor_lines_received_total", "loki_discarded_samples_total",
	"trace_spans_ended_total", "prometheus_tsdb_head_series",
}

// removedMetrics were replaced by per-sink counters (log_lines_dropped_total{sink,reason} and
// log_shipper_push_errors_total{reason}); no panel or rule may read them.
var removedMetrics = []string{"log_shipper_dropped_total", "log_shipper_push_failures_total"}

// TestLogPipelinePanels: the Logs dashboard has its two rows and reads every metric of
// logPipelineMetrics; no dashboard or rule reads a removed metric.
func TestLogPipelinePanels(t *testing.T) {
	reads := func(qs []Query, name string) bool {
		re := regexp.MustCompile(`\b` + name + `\b`)
		for _, q := range qs {
			if re.MatchString(q.Expr) {
				return true
			}
		}
		return false
	}
	for _, d := range loadDashboards(t) {
		if str(d.json["uid"]) != "ps-logs" {
			continue
		}
		rows := map[string]bool{}
		for _, p := range d.panels() {
			if str(p["type"]) == "row" {
				rows[str(p["title"])] = true
			}
		}
		for _, row := range []string{"Log pipeline", "Observability cost"} {
			if !rows[row] {
				t.Errorf("ps-logs has no row %q", row)
			}
		}
		qs := dashboardQueries(d)
		for _, name := range logPipelineMetrics {
			if !reads(qs, name) {
				t.Errorf("no panel of ps-logs reads %s", name)
			}
		}
	}
	all := allQueries(t)
	for _, name := range removedMetrics {
		if reads(all, name) {
			t.Errorf("a dashboard or rule still reads %s, which the service no longer exports", name)
		}
	}
}
