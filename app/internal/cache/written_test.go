package cache

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// With a Written hook (read replicas), every write reaches the other instances' hook, whatever
// the preset's pubsub switch: protected has no L1 and no pub/sub of its own, yet another instance
// must learn that the row changed, or it would fill Redis from a replica that has not replayed the
// write.
func TestWritesReachOtherInstancesWrittenHook(t *testing.T) {
	for _, preset := range []string{"protected", "two-level"} {
		t.Run(preset, func(t *testing.T) {
			f := newFixture(t, 0)
			var mu sync.Mutex
			var seen []int64
			hook := func(ids ...int64) {
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, ids...)
			}
			p, err := Preset(preset)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var stores []*Store
			var done []chan struct{}
			for _, written := range []func(...int64){hook, hook} {
				s, err := New(f.src, f.rdb, p, Options{Namespace: f.namespace, Metrics: NewMetricsForTest(), L1MaxEntries: 1000, Written: written})
				if err != nil {
					t.Fatal(err)
				}
				d := make(chan struct{})
				go func() { s.Run(ctx); close(d) }()
				stores, done = append(stores, s), append(done, d)
				lab.WaitFor(t, "cache ready", func() bool { return s.Ready(ctx) == nil })
			}
			t.Cleanup(func() {
				cancel()
				for _, d := range done {
					<-d
				}
			})
			a := stores[0]
			const id = 21
			old, _ := mustProduct(t, a, id)
			in := inputFrom(old)
			in.Name = "renamed"
			if _, err := a.Update(ctx, id, in, old.Version); err != nil {
				t.Fatal(err)
			}
			a.Evict(ctx, id+1)
			// The writer's own store marks its writes itself (pgstore); the hook hears the other's.
			lab.WaitFor(t, "the other instance's hook", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return slices.Contains(seen, id) && slices.Contains(seen, id+1)
			})
			mu.Lock()
			defer mu.Unlock()
			if n := len(seen); n != 2 {
				t.Errorf("hook heard %v, want %d and %d once each (only the other instance applies an event)", seen, id, id+1)
			}
		})
	}
}
