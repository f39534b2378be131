package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"
)

// Pub/sub operations between instances sharing a namespace.
const (
	opInvalidate = "invalidate" // drop these ids from L1
	opCreate     = "create"     // add these ids to the Bloom filter and drop cached "not found"
	opReset      = "reset"      // the namespace moved to a new generation
	opPolicy     = "policy"     // the policy changed
	opPeer       = "peer"       // a message of another package for its listener (see Broadcast)
)

// event is one pub/sub message.
type event struct {
	Op     string  `json:"op"`
	IDs    []int64 `json:"ids,omitempty"`
	Policy *Policy `json:"policy,omitempty"`
	Origin string  `json:"origin"`
	// Topic and Payload are an opPeer message.
	Topic   string          `json:"topic,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
	// SentUnixNano lets receivers measure the invalidation lag.
	SentUnixNano int64 `json:"sent_unix_nano"`
}

func (s *Store) channel() string { return s.opts.Namespace + ":events" }

// publish sends ev to every instance and reports whether Redis took it; failures are logged.
func (s *Store) publish(ctx context.Context, ev event) bool {
	ev.Origin, ev.SentUnixNano = s.origin, time.Now().UnixNano()
	msg, err := json.Marshal(ev)
	if err != nil {
		return false
	}
	if err := s.call(ctx, opPublish, func(ctx context.Context) error { return s.rdb.Publish(ctx, s.channel(), msg).Err() }); err != nil {
		s.log.WithError(err).WithField("op", ev.Op).Warn("cache event publish failed")
		return false
	}
	return true
}

// subscribe starts listening to other instances' events: it returns once Redis has confirmed the
// subscription (or failed to within a second; go-redis keeps trying and resubscribes after a lost
// connection), and applies events in the background until ctx ends.
func (s *Store) subscribe(ctx context.Context) {
	sub := s.rdb.Subscribe(ctx, s.channel())
	confirmCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := sub.Receive(confirmCtx); err != nil {
		s.log.WithError(err).Warn("cache pub/sub subscription not confirmed; invalidations from other instances may be missed")
	}
	go s.listen(ctx, sub)
}

// listen applies events until ctx ends.
func (s *Store) listen(ctx context.Context, sub *redis.PubSub) {
	defer sub.Close()
	msgs := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			var ev event
			if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil || ev.Origin == s.origin {
				continue
			}
			s.apply(ctx, ev)
		}
	}
}

// apply carries out one event from another instance.
func (s *Store) apply(ctx context.Context, ev event) {
	switch ev.Op {
	case opInvalidate, opCreate:
		if s.opts.Written != nil {
			s.opts.Written(ev.IDs...)
		}
		for _, id := range ev.IDs {
			if ev.Op == opCreate {
				s.bloom.add(id)
			}
			s.dropL1([]string{s.productKey(id), s.inventoryKey(id)})
		}
		s.m.invalidationLag.Observe(time.Since(time.Unix(0, ev.SentUnixNano)).Seconds())
	case opReset:
		s.loadGeneration(ctx)
		s.l1.InvalidateAll()
	case opPolicy:
		if ev.Policy != nil && ev.Policy.WarmupScope == "" {
			ev.Policy.WarmupScope = WarmupHot // sent by an instance that predates the switch
		}
		if ev.Policy != nil && ev.Policy.Validate() == nil {
			p := *ev.Policy
			s.setPolicy(&p)
		}
	case opPeer:
		if f, ok := s.listeners.Load(ev.Topic); ok {
			f.(func([]byte))(ev.Payload)
		}
	default:
		s.log.WithFields(logrus.Fields{"op": ev.Op}).Warn("cache event of unknown kind ignored")
	}
}

// Broadcast sends payload, a JSON value, to the listener of topic on every other instance of the
// namespace, over the cache's own subscription: another package's settings (the run-time log
// settings) reach every replica the way the cache policy does, without a second subscription.
func (s *Store) Broadcast(ctx context.Context, topic string, payload []byte) error {
	if !json.Valid(payload) {
		return fmt.Errorf("broadcast %s: the payload is not JSON", topic)
	}
	if !s.publish(ctx, event{Op: opPeer, Topic: topic, Payload: payload}) {
		return fmt.Errorf("broadcast %s: redis did not take the message", topic)
	}
	return nil
}

// Listen has f receive the payloads other instances Broadcast on topic (one listener a topic; a
// later one replaces it). f runs on the subscription's goroutine: it must not block.
func (s *Store) Listen(topic string, f func(payload []byte)) { s.listeners.Store(topic, f) }
