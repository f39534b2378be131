package cache

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// Broadcast reaches the listener of its topic on the other instances, not its own instance nor
// another topic's listener; a payload that is not JSON is refused before Redis.
func TestBroadcastReachesOtherInstances(t *testing.T) {
	f := newFixture(t, 0)
	a, b := f.store("naive"), f.store("naive")
	var mu sync.Mutex
	got := map[string][]string{}
	listen := func(s *Store, name, topic string) {
		s.Listen(topic, func(p []byte) {
			mu.Lock()
			defer mu.Unlock()
			got[name+" "+topic] = append(got[name+" "+topic], string(p))
		})
	}
	listen(a, "a", "logging")
	listen(b, "b", "logging")
	listen(b, "b", "other")
	ctx := context.Background()
	if err := a.Broadcast(ctx, "logging", []byte(`{"level":"debug"}`)); err != nil {
		t.Fatal(err)
	}
	if err := a.Broadcast(ctx, "logging", []byte(`not json`)); err == nil {
		t.Error("a payload that is not JSON was sent")
	}
	// A marker on the other topic: Redis delivers a channel's messages in order, so once b has it,
	// it has everything a sent before.
	if err := a.Broadcast(ctx, "other", []byte(`1`)); err != nil {
		t.Fatal(err)
	}
	lab.WaitFor(t, "b to receive the marker", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got["b other"]) == 1
	})
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(map[string][]string{"b logging": {`{"level":"debug"}`}, "b other": {"1"}}, got); diff != "" {
		t.Errorf("payloads received (-want +got):\n%s", diff)
	}
}
