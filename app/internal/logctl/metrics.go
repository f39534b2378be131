package logctl

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// metrics show the settings in force and count their changes.
type metrics struct {
	changes     *prometheus.CounterVec
	level       *prometheus.GaugeVec
	sampleEvery prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "log_settings_changes_total",
			Help: "Run-time logging changes applied, by source (admin: this replica's admin API, peer: another replica's, expiry: a bounded change ended).",
		}, []string{"source"}),
		level: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "log_level", Help: "The log level in force: 1 for it, 0 for the others.",
		}, []string{"level"}),
		sampleEvery: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "log_access_sample_every", Help: "N of the access log's sampling: one success line in N is kept per route (1 keeps all).",
		}),
	}
	for _, s := range []string{SourceAdmin, SourcePeer, SourceExpiry} {
		m.changes.WithLabelValues(s)
	}
	if reg != nil {
		reg.MustRegister(m.changes, m.level, m.sampleEvery)
	}
	return m
}

// set shows s as the settings in force.
func (m *metrics) set(s Settings) {
	for _, l := range logrus.AllLevels {
		v := 0.0
		if l == s.Level {
			v = 1
		}
		m.level.WithLabelValues(l.String()).Set(v)
	}
	m.sampleEvery.Set(float64(s.SampleEvery))
}
