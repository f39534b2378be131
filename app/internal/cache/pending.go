package cache

import (
	"context"
	"sync"
)

// pendingSet remembers invalidations Redis did not take (it was down, or the breaker open): a
// committed write must never leave the old value to be served from Redis once Redis is back.
// While a key is pending, reads skip Redis for it; a successful write of the key (a fresh load) or
// of the deletion (retried every second by Run) clears it. Ids whose pub/sub message was lost are
// announced again, so other instances drop their L1 copies too. With an outbox the retries are
// the relay's (durable, shared by every instance, backing off); the set then only keeps this
// instance's reads off keys it knows to be stale until the relay (or a fresh value) clears them.
type pendingSet struct {
	mu   sync.Mutex
	keys map[string]struct{}
	ids  map[int64]struct{}
}

func newPendingSet() *pendingSet {
	return &pendingSet{keys: map[string]struct{}{}, ids: map[int64]struct{}{}}
}

func (p *pendingSet) add(id int64, keys ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		p.keys[k] = struct{}{}
	}
	p.ids[id] = struct{}{}
}

// has reports whether key still waits for its deletion.
func (p *pendingSet) has(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.keys[key]
	return ok
}

// done clears key once Redis holds a fresh value for it, or none.
func (p *pendingSet) done(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.keys, key)
}

func (p *pendingSet) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.keys)
}

// snapshot returns what is pending.
func (p *pendingSet) snapshot() (keys []string, ids []int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.keys {
		keys = append(keys, k)
	}
	for id := range p.ids {
		ids = append(ids, id)
	}
	return keys, ids
}

// retryPending deletes the pending keys and announces the pending ids again.
func (s *Store) retryPending(ctx context.Context) {
	keys, ids := s.pending.snapshot()
	if len(keys) == 0 && len(ids) == 0 {
		return
	}
	if len(keys) > 0 {
		failed := s.redisDel(ctx, keys...)
		s.m.invalidations.WithLabelValues("redis").Add(float64(len(keys) - len(failed)))
		left := make(map[string]bool, len(failed))
		for _, k := range failed {
			left[k] = true
		}
		for _, k := range keys {
			if !left[k] {
				s.pending.done(k)
			}
		}
	}
	if len(ids) > 0 && s.publish(ctx, event{Op: opInvalidate, IDs: ids}) {
		s.pending.mu.Lock()
		for _, id := range ids {
			delete(s.pending.ids, id)
		}
		s.pending.mu.Unlock()
	}
}

// settle clears an id's keys and announcement once the outbox relay applied its invalidation.
func (p *pendingSet) settle(id int64, keys ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		delete(p.keys, k)
	}
	delete(p.ids, id)
}
