package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/product-service-lab/product-service/app/internal/config"
)

// defaultOverload is the overload protection of an empty environment: a bound on concurrent work,
// no per-client limits.
var defaultOverload = config.Overload{
	MaxInFlight: 256, MaxQueued: 512, QueueTimeout: 250 * time.Millisecond,
	ClientBurst: 100, ItemCost: 1, MaxClients: 100_000,
	TrustedProxies: strings.Split(config.DefaultTrustedProxies, ","),
}

func TestLoadOverload(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want config.Overload
	}{
		{"defaults", nil, defaultOverload},
		{"every variable", map[string]string{
			"HTTP_MAX_IN_FLIGHT": "64", "HTTP_MAX_QUEUED": "0", "HTTP_QUEUE_TIMEOUT": "50ms",
			"HTTP_CLIENT_RATE": "500", "HTTP_CLIENT_BURST": "800", "HTTP_CLIENT_ITEM_COST": "0.5",
			"HTTP_CLIENT_MAX_TRACKED": "10", "HTTP_TRUSTED_PROXIES": " 10.1.0.0/16, 192.0.2.7 ",
		}, config.Overload{MaxInFlight: 64, QueueTimeout: 50 * time.Millisecond, ClientRate: 500, ClientBurst: 800,
			ItemCost: 0.5, MaxClients: 10, TrustedProxies: []string{"10.1.0.0/16", "192.0.2.7"}}},
		{"burst defaults to twice the rate", map[string]string{"HTTP_CLIENT_RATE": "300"},
			with(func(o *config.Overload) { o.ClientRate, o.ClientBurst = 300, 600 })},
		{"burst defaults to at least one batch", map[string]string{"HTTP_CLIENT_RATE": "10", "HTTP_CLIENT_ITEM_COST": "2"},
			with(func(o *config.Overload) { o.ClientRate, o.ItemCost, o.ClientBurst = 10, 2, 200 })},
		{"off", map[string]string{"HTTP_MAX_IN_FLIGHT": "0", "HTTP_TRUSTED_PROXIES": "none"},
			with(func(o *config.Overload) { o.MaxInFlight, o.TrustedProxies = 0, []string{} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, cfg.Overload); diff != "" {
				t.Errorf("overload (-want +got):\n%s", diff)
			}
		})
	}
}

// with returns defaultOverload changed by f.
func with(f func(*config.Overload)) config.Overload {
	o := defaultOverload
	o.TrustedProxies = append([]string(nil), o.TrustedProxies...)
	f(&o)
	return o
}
