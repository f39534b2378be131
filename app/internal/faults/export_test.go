package faults

import (
	"context"
	"sync"
	"time"
)

// RecordWaits makes i note each latency it is asked to wait before waiting it as usual; the
// returned function lists them. Tests check what a fault waited without reading a clock.
func RecordWaits(i *Injector) func() []time.Duration {
	var mu sync.Mutex
	var asked []time.Duration
	real := i.wait
	i.wait = func(ctx context.Context, d Duration) error {
		mu.Lock()
		asked = append(asked, time.Duration(d))
		mu.Unlock()
		return real(ctx, d)
	}
	return func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Duration(nil), asked...)
	}
}
