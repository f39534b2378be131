package config

import (
	"strings"
	"time"
)

// Logging holds the access log's volume controls and the bound of run-time debug logging (the
// level and sampling can change at run time through /api/v1/admin/logging).
type Logging struct {
	// SampleEvery (LOG_SAMPLE_EVERY) is N: the access log keeps one success line in N per route
	// (4xx, 5xx and slow lines are always kept); 1 keeps every line.
	SampleEvery int
	// AccessExclude (LOG_ACCESS_EXCLUDE, comma-separated route templates) are the routes whose
	// success lines are not logged at all; empty logs every route.
	AccessExclude []string
	// DebugMax (LOG_DEBUG_MAX) is the longest the admin API may set debug or trace for.
	DebugMax time.Duration
}

// DefaultAccessExclude are the probe and scrape routes: a line per probe or scrape says nothing
// that app_requests_total does not.
const DefaultAccessExclude = "/health,/ready,/metrics"

// maxSampleEvery is logctl.MaxSampleEvery (config imports none of ours).
const maxSampleEvery = 1_000_000

func (r *reader) logging() Logging {
	l := Logging{
		SampleEvery: r.integer("LOG_SAMPLE_EVERY", 1, 1, maxSampleEvery),
		DebugMax:    r.duration("LOG_DEBUG_MAX", 15*time.Minute, time.Second),
	}
	for _, v := range strings.Split(r.str("LOG_ACCESS_EXCLUDE", DefaultAccessExclude), ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		if !strings.HasPrefix(v, "/") {
			r.fail("LOG_ACCESS_EXCLUDE", "every entry must be a route template starting with /, got %q", v)
			return l
		}
		l.AccessExclude = append(l.AccessExclude, v)
	}
	return l
}
