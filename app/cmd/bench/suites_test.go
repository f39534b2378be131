package main

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPlanSuite(t *testing.T) {
	b := &bench{o: options{redisAddr: "127.0.0.1:6379", products: 10}, service: "/bin/ps-now", baseline: "/bin/bb",
		before: "/bin/ps-old", dbURL: "postgres://h/db", runID: "bench1"}
	tests := []struct {
		suite     string
		wantNames []string
		wantRefs  map[string][]string
	}{
		{suiteHits,
			[]string{ceilingRedis, ceilingMap, peerName, svcProtected, svcWarn, svcTwoLevel,
				svcProtected + " (before)", svcWarn + " (before)", svcTwoLevel + " (before)"},
			map[string][]string{
				peerName:                   {ceilingRedis},
				svcProtected:               {ceilingRedis, peerName},
				svcWarn:                    {ceilingRedis, peerName},
				svcTwoLevel:                {ceilingMap},
				svcProtected + " (before)": {ceilingRedis, peerName},
				svcWarn + " (before)":      {ceilingRedis, peerName},
				svcTwoLevel + " (before)":  {ceilingMap},
			}},
		{suiteUncached,
			[]string{baselineSQL, svcNone, svcNone + " (before)"},
			map[string][]string{svcNone: {baselineSQL}, svcNone + " (before)": {baselineSQL}}},
	}
	for _, tt := range tests {
		t.Run(tt.suite, func(t *testing.T) {
			p, err := b.planSuite(context.Background(), tt.suite, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			var names, prefixes []string
			for _, tg := range p.targets {
				names = append(names, tg.name)
				if tg.prefix != "" {
					if slices.Contains(prefixes, tg.prefix) {
						t.Errorf("prefix %s used twice", tg.prefix)
					}
					prefixes = append(prefixes, tg.prefix)
				}
				if tg.before != (tg.bin == b.before) || strings.HasSuffix(tg.name, "(before)") != tg.before {
					t.Errorf("target %s runs %s (before %v)", tg.name, tg.bin, tg.before)
				}
				if tg.bin != b.baseline && !slices.Contains(tg.env, "CACHE_NAMESPACE="+tg.prefix) {
					t.Errorf("target %s: namespace %s not in its environment %q", tg.name, tg.prefix, tg.env)
				}
			}
			if diff := cmp.Diff(tt.wantNames, names); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRefs, p.refs); diff != "" {
				t.Errorf("refs (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := b.planSuite(context.Background(), "nope", io.Discard); err == nil {
		t.Error("planSuite of an unknown suite succeeded")
	}
}
