package lab

import (
	"context"
	"net/http/httptest"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func TestMetricSum(t *testing.T) {
	reg := prometheus.NewRegistry()
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reqs_total"}, []string{"route", "code"})
	inflight := prometheus.NewGauge(prometheus.GaugeOpts{Name: "inflight"})
	reg.MustRegister(reqs, inflight)
	reqs.WithLabelValues("/a", "200").Add(3)
	reqs.WithLabelValues("/a", "500").Add(1)
	reqs.WithLabelValues("/b", "200").Add(5)
	inflight.Set(2)

	gathered, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	scraped, err := Scrape(context.Background(), srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		match map[string]string
		want  float64
	}{
		{"reqs_total", nil, 9},
		{"reqs_total", map[string]string{"route": "/a"}, 4},
		{"reqs_total", map[string]string{"route": "/a", "code": "200"}, 3},
		{"reqs_total", map[string]string{"route": "/c"}, 0},
		{"inflight", nil, 2},
		{"absent", nil, 0},
	}
	for _, tt := range tests {
		for source, families := range map[string][]*dto.MetricFamily{"gathered": gathered, "scraped": scraped} {
			if got := MetricSum(families, tt.name, tt.match); got != tt.want {
				t.Errorf("%s: MetricSum(%s, %v) = %g, want %g", source, tt.name, tt.match, got, tt.want)
			}
		}
	}
}

func TestScrapeFails(t *testing.T) {
	srv := httptest.NewServer(nil) // 404 for everything
	defer srv.Close()
	if _, err := Scrape(context.Background(), srv.Client(), srv.URL+"/metrics"); err == nil {
		t.Fatal("Scrape of a 404 succeeded")
	}
}
