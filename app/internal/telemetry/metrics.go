package telemetry

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Build describes the running binary.
type Build struct {
	Version, Revision, GoVersion string
}

// ReadBuild reads the version control stamp Go embeds in the binary; version is the release
// (set at link time), or the module version, or "dev".
func ReadBuild(version string) Build {
	b := Build{Version: version, Revision: "unknown", GoVersion: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if b.Version == "" {
		b.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			b.Revision = s.Value
		}
	}
	if b.Version == "" || b.Version == "(devel)" {
		b.Version = "dev"
	}
	return b
}

// RegisterBuildInfo exports build_info{version,revision,go_version} 1.
func RegisterBuildInfo(reg prometheus.Registerer, b Build) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "build_info", Help: "The running build (value 1).",
	}, []string{"version", "revision", "go_version"})
	g.WithLabelValues(b.Version, b.Revision, b.GoVersion).Set(1)
	reg.MustRegister(g)
}

// redisPool exports a go-redis client's connection pool statistics.
type redisPool struct {
	client                                     redis.UniversalClient
	hits, misses, timeouts, total, idle, stale *prometheus.Desc
}

// RegisterRedisPool exports the pool statistics of client as redis_pool_* metrics.
func RegisterRedisPool(reg prometheus.Registerer, client redis.UniversalClient) {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("redis_pool_"+name, help, nil, nil)
	}
	reg.MustRegister(&redisPool{
		client:   client,
		hits:     d("hits_total", "Times a free connection was found in the pool."),
		misses:   d("misses_total", "Times no free connection was in the pool."),
		timeouts: d("timeouts_total", "Times waiting for a connection timed out."),
		total:    d("connections", "Connections in the pool."),
		idle:     d("idle_connections", "Idle connections in the pool."),
		stale:    d("stale_connections_total", "Stale connections removed from the pool."),
	})
}

// Describe sends the descriptors.
func (p *redisPool) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{p.hits, p.misses, p.timeouts, p.total, p.idle, p.stale} {
		ch <- d
	}
}

// Collect reads the pool statistics.
func (p *redisPool) Collect(ch chan<- prometheus.Metric) {
	s := p.client.PoolStats()
	ch <- prometheus.MustNewConstMetric(p.hits, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(p.misses, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(p.timeouts, prometheus.CounterValue, float64(s.Timeouts))
	ch <- prometheus.MustNewConstMetric(p.total, prometheus.GaugeValue, float64(s.TotalConns))
	ch <- prometheus.MustNewConstMetric(p.idle, prometheus.GaugeValue, float64(s.IdleConns))
	ch <- prometheus.MustNewConstMetric(p.stale, prometheus.CounterValue, float64(s.StaleConns))
}
