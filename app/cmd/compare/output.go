package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// write saves the cells' data, the charts and the report (with the check's verdict, if any).
func (c *comparison) write(cells []cell, runs []throughputRun, verdict *checkResult) error {
	data, err := json.MarshalIndent(cells, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.outDir, "cells.json"), data, 0o644); err != nil {
		return err
	}
	if len(runs) > 0 {
		data, err := json.MarshalIndent(runs, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(c.outDir, "throughput.json"), data, 0o644); err != nil {
			return err
		}
	}
	charts, err := writeCharts(c.outDir, cells, c.o.scenarios, c.o.columns())
	if err != nil {
		return fmt.Errorf("charts: %w", err)
	}
	md := renderReport(reportInput{
		header: c.header(), cells: cells, scenarios: c.o.scenarios, presets: c.o.columns(),
		charts: charts, chartDir: filepath.Base(c.outDir), check: verdict,
	})
	if len(c.replicas) > 1 {
		md += scaleSection(cells, runs, len(c.replicas), c.o.throughputVUs)
	}
	return os.WriteFile(c.report, []byte(md), 0o644)
}

// header is the report's record of what ran where.
func (c *comparison) header() header {
	m := c.machine
	h := header{
		Date: c.started.Format("2006-01-02 15:04 MST"), Mode: mode(c.o.quick), Repeats: c.o.repeat,
		Commit: m.Commit, Versions: fmt.Sprintf("%s, k6 %s, PostgreSQL %s, Redis %s", m.GoVersion, m.K6Version, orUnknown(m.PostgresVersion), m.RedisVersion),
		Machine:  fmt.Sprintf("%d cores (%s), %s memory, Linux %s; load average at start %s", m.Cores, m.CPU, m.Memory, m.Kernel, m.LoadAtStart),
		Duration: time.Since(c.started).Round(time.Second).String(),
	}
	hot := "no is_hot ids known: rank r is id r"
	if c.hotCount > 0 {
		hot = fmt.Sprintf("the %d is_hot products take the first Zipf ranks", c.hotCount)
	}
	if c.o.baseURL != "" {
		h.Dataset = fmt.Sprintf("the service at %s, ids 1..%d; %s", c.o.baseURL, c.o.products, hot)
		h.Service = "a running service (-base-url): its own settings"
	} else {
		h.Dataset = fmt.Sprintf("database %s: %d products seeded with the default seed (deterministic); %s", c.o.dbName, c.o.products, hot)
		h.Service = fmt.Sprintf("one product-service instance built from the commit, clean environment, DB_SIMULATED_LATENCY=%s, "+
			"default pools (DB_MAX_OPEN_CONNS 20, REDIS_POOL_SIZE 50), its own CACHE_NAMESPACE", c.o.dbLatency)
		if n := len(c.replicas); n > 1 {
			h.Service = fmt.Sprintf("%d product-service processes (one database, one Redis, one CACHE_NAMESPACE) behind a native "+
				"nginx %s balancer running observability/nginx.conf, built from the commit, clean environment, "+
				"DB_SIMULATED_LATENCY=%s, default pools; admin calls (preset, warm-up) go to each replica, the reset to one, "+
				"counters are added up over all", n, c.machine.NginxVersion, c.o.dbLatency)
		}
		if c.o.redisTimeout > 0 {
			h.Service += fmt.Sprintf("; REDIS_TIMEOUT=%s", c.o.redisTimeout)
		}
	}
	h.Settings = fmt.Sprintf("RATE %d/s (constant arrival rate), ZIPF_S %g, SEED %d; per cell: empty the namespace (keys and L1), switch the preset, "+
		"its warm-up where it has one (timed), then the scenario (read, read-write: after an unmeasured warm load)", c.o.rate, c.o.zipfS, c.o.seed)
	if c.o.edge {
		h.Settings += fmt.Sprintf("; edge: the %s preset behind a fresh native nginx %s (observability/nginx-edge.conf, "+
			"the service's Cache-Control max-age, 5 s by default) that k6 reads through, empty at the start of each cell "+
			"(the read warm load goes to the service directly)", c.o.edgePreset, c.machine.NginxVersion)
	}
	for _, name := range c.o.scenarios {
		s, _ := findScenario(name)
		h.Scenarios = append(h.Scenarios, scenarioLine{Name: name, Script: s.file(), Title: s.title, Knobs: knobs(c.o.envOf(s)), WarmS: s.warm(c.o.quick)})
	}
	return h
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
