package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// matrix runs every cell, repeat by repeat. A cell that fails is kept with its error and the
// matrix goes on, unless the run was interrupted or the service died.
func (c *comparison) matrix(ctx context.Context) ([]cell, error) {
	var cells []cell
	total := c.o.repeat * len(c.o.scenarios) * len(c.o.columns())
	for r := 1; r <= c.o.repeat; r++ {
		for _, name := range c.o.scenarios {
			s, _ := findScenario(name)
			for _, preset := range c.o.columns() {
				if ctx.Err() != nil {
					return cells, ctx.Err()
				}
				start := time.Now()
				ce := c.cell(ctx, r, s, preset)
				cells = append(cells, ce)
				fmt.Printf("[%d/%d] %s (%.0fs)\n", len(cells), total, progressLine(ce), time.Since(start).Seconds())
				if ce.Err != "" && ctx.Err() == nil && !c.serviceAlive(ctx) {
					return cells, fmt.Errorf("the service stopped answering; see %s", filepath.Join(c.outDir, "logs", "service.log"))
				}
			}
		}
	}
	return cells, nil
}

// serviceAlive reports whether /health answers.
func (c *comparison) serviceAlive(ctx context.Context) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/health", nil)
	resp, err := c.metrics.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// cell runs one cell: preset, reset, warm-up where the preset has it, the warm load where the
// scenario has one, then the measured k6 run between two scrapes. The column edgeColumn is the
// preset -edge-preset with k6 reading through a fresh native nginx edge (edge.go).
func (c *comparison) cell(ctx context.Context, repeat int, s scenario, column string) cell {
	ce := cell{Key: cellKey{s.name, column}, Repeat: repeat, Seconds: c.o.secondsOf(s), Replicas: len(c.replicas)}
	id := fmt.Sprintf("r%d-%s-%s", repeat, s.name, column)
	var err error
	fail := func(err error) cell {
		ce.Err = err.Error()
		return ce
	}
	preset := column
	if column == edgeColumn {
		preset = c.o.edgePreset
	}
	// A warm-up the previous cell started (its policy put back) would load into this one.
	if err := c.eachReplica(func(a *adminClient) error { return a.waitWarmup(ctx) }); err != nil {
		return fail(err)
	}
	// The namespace is emptied before the switch, so Redis's memory starts from the same empty
	// namespace in every cell and the preset's warm-up is measured whole: compare deletes its
	// keys itself (the popularity set too: left alone, a warm-up would load what earlier cells
	// read, and no two runs would start alike), then one reset empties every replica's L1.
	if err := c.clearNamespace(ctx); err != nil {
		return fail(err)
	}
	if err := c.admins[0].reset(ctx); err != nil {
		return fail(err)
	}
	if c.rdb != nil {
		used, err := usedMemory(ctx, c.rdb)
		if err != nil {
			return fail(err)
		}
		ce.Redis = &redisMemory{Before: used}
	}
	if ce.Warmup, err = c.switchPreset(ctx, preset); err != nil {
		return fail(err)
	}
	if w := s.warm(c.o.quick); w > 0 && preset != "none" {
		env := c.k6Env(id+"-warm", preset, "none")
		env["DURATION"] = fmt.Sprintf("%gs", w)
		if _, err := c.k6(ctx, s.file(), env, w, id+"-warm"); err != nil {
			return fail(err)
		}
	}
	before, err := scrapeAll(ctx, c.metrics, c.replicas)
	if err != nil {
		return fail(err)
	}
	summaryPath, err := filepath.Abs(filepath.Join(c.outDir, "cells", id+".json"))
	if err != nil {
		return fail(err)
	}
	env := c.k6Env("compare-"+c.started.Format("20060102T150405")+"-"+id, preset, summaryPath)
	for k, v := range c.o.envOf(s) {
		env[k] = v
	}
	var e *edge
	if column == edgeColumn {
		if e, err = startEdge(ctx, c.o.nginx, c.root, strings.TrimPrefix(c.base, "http://")); err != nil {
			return fail(fmt.Errorf("start the edge: %w", err))
		}
		defer e.remove()
		defer e.stop()
		env["BASE_URL"] = e.base
	}
	if ce.Exit, err = c.k6(ctx, s.file(), env, c.o.secondsOf(s), id); err != nil {
		return fail(err)
	}
	if e != nil {
		e.stop() // flushes the access log
		if ce.Edge, err = readEdgeLog(e.logPath()); err != nil {
			return fail(err)
		}
		ce.Edge.Preset = preset
	}
	after, err := scrapeAll(ctx, c.metrics, c.replicas)
	if err != nil {
		return fail(err)
	}
	ce.Service = diff(before, after)
	if ce.Redis != nil {
		if ce.Redis.After, err = usedMemory(ctx, c.rdb); err != nil {
			return fail(err)
		}
	}
	if ce.K6, err = readK6Summary(summaryPath); err != nil {
		return fail(err)
	}
	return ce
}

// switchPreset makes preset the policy of every replica. When the preset warms up, it then runs
// the warm-up on each replica (POST /api/v1/admin/cache/warmup) and waits until none runs (the
// switch may have started one in the background), and returns how long that took from the switch
// and the database loads it made.
func (c *comparison) switchPreset(ctx context.Context, preset string) (*warmupRun, error) {
	before, err := scrapeAll(ctx, c.metrics, c.replicas)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	warms := false
	// Each replica is switched itself (not left to the pub/sub policy event), so all of them
	// run the preset before the load starts.
	if err := c.eachReplica(func(a *adminClient) error {
		st, err := a.setPreset(ctx, preset)
		warms = warms || st.Policy.Warmup
		return err
	}); err != nil {
		return nil, err
	}
	if !warms {
		return nil, nil
	}
	if err := c.eachReplica(func(a *adminClient) error { return a.warmup(ctx) }); err != nil {
		return nil, err
	}
	if err := c.eachReplica(func(a *adminClient) error { return a.waitWarmup(ctx) }); err != nil {
		return nil, err
	}
	w := &warmupRun{Seconds: time.Since(start).Seconds()}
	after, err := scrapeAll(ctx, c.metrics, c.replicas)
	if err != nil {
		return nil, err
	}
	w.DBLoads = diff(before, after).DBLoads["warmup"]
	return w, nil
}

// eachReplica runs an admin call on every replica, in order, and stops at the first error.
func (c *comparison) eachReplica(call func(*adminClient) error) error {
	for _, a := range c.admins {
		if err := call(a); err != nil {
			return fmt.Errorf("replica %s: %w", a.base, err)
		}
	}
	return nil
}

// k6Env is the environment every script gets.
func (c *comparison) k6Env(testid, preset, summary string) map[string]string {
	env := map[string]string{
		"BASE_URL": c.base, "ADMIN_TOKEN": c.admin.token, "PRESET": preset, "RATE": fmt.Sprint(c.o.rate),
		"SEED": fmt.Sprint(c.o.seed), "PRODUCTS": fmt.Sprint(c.o.products), "ZIPF_S": fmt.Sprint(c.o.zipfS),
		"TESTID": testid, "SUMMARY_FILE": summary, "REPLICAS": fmt.Sprint(len(c.replicas)),
	}
	if c.hotFile != "" {
		env["HOT_IDS_FILE"] = c.hotFile
	}
	return env
}

// k6 runs loadtest/<script>.js for about seconds, its output in the cell's log, and returns k6's
// exit status: 0, or lab.K6ThresholdsCrossed.
func (c *comparison) k6(ctx context.Context, script string, env map[string]string, seconds float64, logName string) (int, error) {
	vars := make([]string, 0, len(env))
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	slices.Sort(vars)
	crossed, err := lab.RunK6(ctx, lab.K6{Bin: c.o.k6, Script: filepath.Join(c.root, "loadtest", script+".js"), Env: vars,
		Log: filepath.Join(c.outDir, "logs", logName+".txt")}, time.Duration(seconds)*time.Second+3*time.Minute)
	if crossed {
		return lab.K6ThresholdsCrossed, nil
	}
	return 0, err
}
