package drills

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// shape is the size of a drill's load: k6 at 500/s with 15 s phases under `make drills`, the Go
// generator at 100/s with short phases under `make test`.
type shape struct {
	rate  int
	phase time.Duration
}

func (s shape) String() string {
	tool := "go"
	if useK6 {
		tool = "k6"
	}
	return fmt.Sprintf("%s %d/s", tool, s.rate)
}

// loadShape is the shape of this run.
func loadShape() shape {
	if useK6 {
		return shape{rate: 500, phase: 15 * time.Second}
	}
	return shape{rate: 100, phase: 4 * time.Second}
}

// phases3 are the names of the usual drill phases.
var phases3 = []string{"before", "during", "after"}

// tick is one sample of a watcher.
type tick struct {
	at     time.Time
	values []float64
}

// watcher samples values every interval until stopped, from a drill's own goroutine.
type watcher struct {
	mu    sync.Mutex
	ticks []tick
	stop  context.CancelFunc
	done  chan struct{}
}

// watch calls sample every interval until the watcher is stopped or ctx ends.
func watch(ctx context.Context, interval time.Duration, sample func(context.Context) []float64) *watcher {
	ctx, cancel := context.WithCancel(ctx)
	w := &watcher{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for {
			v := sample(ctx)
			w.mu.Lock()
			w.ticks = append(w.ticks, tick{at: time.Now(), values: v})
			w.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
		}
	}()
	return w
}

// end stops the watcher and returns its samples.
func (w *watcher) end() []tick {
	w.stop()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ticks
}
