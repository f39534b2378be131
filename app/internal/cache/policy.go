package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/product-service-lab/product-service/app/internal/jsontime"
)

// Layers says where products are cached.
type Layers string

// The cache layers a policy can use.
const (
	LayersNone     Layers = "none"      // every read goes to the database
	LayersRedis    Layers = "redis"     // Redis only
	LayersLocal    Layers = "local"     // the in-process L1 only
	LayersTwoLevel Layers = "two-level" // L1 in front of Redis
)

// Breakdown says how concurrent misses of one key are collapsed.
type Breakdown string

// The protections against cache breakdown (a hot key expiring under load).
const (
	BreakdownOff          Breakdown = "off"          // every miss loads from the database
	BreakdownSingleflight Breakdown = "singleflight" // one load per key per instance
	BreakdownLock         Breakdown = "lock"         // one load per key across instances (Redis lock)
)

// Serializer names the encoding of values stored in Redis.
type Serializer string

// The serializers.
const (
	SerializerJSON    Serializer = "json"
	SerializerMsgpack Serializer = "msgpack"
)

// Policy is one immutable set of cache switches. A request reads one *Policy and never sees a
// half-applied change; changing the policy swaps the pointer.
type Policy struct {
	// Preset names the preset the switches equal, or "custom".
	Preset string `json:"preset"`
	Layers Layers `json:"layers"`
	// TTL of Redis entries; TTLJitter spreads it over ±TTLJitter×TTL against avalanches.
	TTL       Duration `json:"ttl"`
	TTLJitter float64  `json:"ttl_jitter"`
	// LocalTTL of L1 entries.
	LocalTTL Duration `json:"local_ttl"`
	// InventoryTTL of inventory entries (stock changes more often than product data).
	InventoryTTL Duration  `json:"inventory_ttl"`
	Breakdown    Breakdown `json:"breakdown"`
	// LockTTL bounds how long a lock holder may take; LockWait how long others wait for its value.
	LockTTL  Duration `json:"lock_ttl"`
	LockWait Duration `json:"lock_wait"`
	// NullTTL caches "not found" for this long against penetration; 0 disables it.
	NullTTL Duration `json:"null_ttl"`
	// Bloom rejects ids that certainly do not exist; BloomFPR is its target false-positive rate.
	Bloom    bool    `json:"bloom"`
	BloomFPR float64 `json:"bloom_fpr"`
	// Warmup loads hot products before the service reports ready (and on demand).
	Warmup bool `json:"warmup"`
	// Refresh reloads hot products every RefreshInterval, and refreshes a key ahead of its
	// expiry when less than RefreshAhead×TTL is left (0 disables refresh-ahead).
	Refresh         bool     `json:"refresh"`
	RefreshInterval Duration `json:"refresh_interval"`
	RefreshAhead    float64  `json:"refresh_ahead"`
	// PubSub invalidates L1 entries on every instance through Redis pub/sub after a write.
	PubSub bool `json:"pubsub"`
	// DoubleDelete deletes a written product's keys again after this delay; 0 disables it.
	DoubleDelete Duration   `json:"double_delete"`
	Serializer   Serializer `json:"serializer"`
	// StaleTTL keeps a value this long past its TTL (soft expiry): a read past the TTL answers
	// the stale value at once while one refresher across every instance reloads it; 0 disables it.
	// It never applies to a value a write invalidated.
	StaleTTL Duration `json:"stale_ttl"`
	// XFetchBeta turns on probabilistic early refresh (XFetch, Vattani et al., VLDB 2015): a
	// Redis hit reloads its key in the background when now − delta×beta×ln(rand) passes the
	// expiry, delta being the key's measured load time; 0 disables it.
	XFetchBeta float64 `json:"xfetch_beta"`
	// WarmupScope says what warm-up loads: "hot" (is_hot and the most requested ids) or "all"
	// (the whole catalogue, most requested first), bounded by WarmupBudgetMB of encoded values
	// (0: no bound).
	WarmupScope    WarmupScope `json:"warmup_scope"`
	WarmupBudgetMB int         `json:"warmup_budget_mb"`
	// LoadRate bounds the reloads the cache makes off the request path (revalidation of stale
	// values, early refresh, refresh-ahead and the periodic refresh), in keys per second per
	// instance: one over it is skipped (a stale value is served a little longer); 0: no bound.
	LoadRate float64 `json:"load_rate"`
	// WarmupRate bounds warm-up, in keys per second per instance (it waits); 0: no bound. Apart
	// from LoadRate: warm-up loads hundreds of keys a statement, a reload one.
	WarmupRate float64 `json:"warmup_rate"`
	// Refill stores a written product's new version after the commit instead of only deleting
	// it, and fences every store of a product: a value older than the newest written is refused.
	Refill bool `json:"refill"`
}

// WarmupScope says which products warm-up loads.
type WarmupScope string

// The warm-up scopes.
const (
	WarmupHot WarmupScope = "hot" // is_hot products and the most requested ids
	WarmupAll WarmupScope = "all" // the whole catalogue, most requested first
)

// custom is the preset name of a policy that matches no preset.
const custom = "custom"

// presetOrder lists the presets from least to most protection.
var presetOrder = []string{"none", "naive", "protected", "two-level", "full", "xfetch", "tail"}

// Presets returns the named presets.
func Presets() map[string]Policy {
	base := Policy{
		Layers: LayersNone, TTL: Duration(5 * time.Minute), LocalTTL: Duration(30 * time.Second),
		InventoryTTL: Duration(5 * time.Second), Breakdown: BreakdownOff, LockTTL: Duration(3 * time.Second),
		LockWait: Duration(time.Second), BloomFPR: 0.01, RefreshInterval: Duration(30 * time.Minute),
		RefreshAhead: 0.1, Serializer: SerializerJSON, WarmupScope: WarmupHot,
	}
	none := base
	none.Preset = "none"

	naive := base
	naive.Preset, naive.Layers = "naive", LayersRedis

	protected := naive
	protected.Preset, protected.Breakdown, protected.TTLJitter = "protected", BreakdownLock, 0.1
	protected.NullTTL, protected.Bloom = Duration(30*time.Second), true

	twoLevel := protected
	twoLevel.Preset, twoLevel.Layers, twoLevel.PubSub = "two-level", LayersTwoLevel, true

	full := twoLevel
	full.Preset, full.Warmup, full.Refresh = "full", true, true

	// xfetch replaces full's fixed refresh-ahead by probabilistic early refresh.
	xfetch := full
	xfetch.Preset, xfetch.RefreshAhead, xfetch.XFetchBeta = "xfetch", 0, 1

	// tail keeps reloads off the request path: the whole catalogue warmed (bounded in loads/s),
	// expired values served stale while one instance reloads them, writes refilling the cache.
	tail := full
	tail.Preset, tail.StaleTTL, tail.WarmupScope, tail.Refill = "tail", Duration(time.Hour), WarmupAll, true
	tail.LoadRate, tail.WarmupRate = 100, 5000

	return map[string]Policy{"none": none, "naive": naive, "protected": protected, "two-level": twoLevel, "full": full,
		"xfetch": xfetch, "tail": tail}
}

// PresetNames lists the presets from least to most protection.
func PresetNames() []string { return slices.Clone(presetOrder) }

// Preset returns the named preset.
func Preset(name string) (Policy, error) {
	p, ok := Presets()[name]
	if !ok {
		return Policy{}, fmt.Errorf("unknown preset %q (want one of %s)", name, strings.Join(presetOrder, ", "))
	}
	return p, nil
}

// Apply returns base changed by patch, a JSON object of Policy fields. A "preset" in the patch
// replaces every switch first; the other fields then apply on top. Unknown fields are refused.
func Apply(base Policy, patch []byte) (Policy, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(patch, &fields); err != nil || fields == nil {
		return Policy{}, errors.New("the policy must be a JSON object")
	}
	p := base
	if raw, ok := fields["preset"]; ok {
		var name string
		if err := json.Unmarshal(raw, &name); err != nil {
			return Policy{}, errors.New("preset must be a string")
		}
		var err error
		if p, err = Preset(name); err != nil {
			return Policy{}, err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(patch))
	dec.DisallowUnknownFields()
	next := p
	if err := dec.Decode(&next); err != nil {
		return Policy{}, fmt.Errorf("policy: %w", err)
	}
	next.Preset = p.Preset
	if err := next.Validate(); err != nil {
		return Policy{}, err
	}
	next.Preset = next.name()
	return next, nil
}

// name returns the preset the policy equals, or "custom".
func (p Policy) name() string {
	for _, n := range presetOrder {
		q := Presets()[n]
		q.Preset = p.Preset
		if q == p {
			return n
		}
	}
	return custom
}

// Validate checks every switch.
func (p Policy) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !slices.Contains([]Layers{LayersNone, LayersRedis, LayersLocal, LayersTwoLevel}, p.Layers) {
		bad("layers %q is not none, redis, local or two-level", p.Layers)
	}
	if !slices.Contains([]Breakdown{BreakdownOff, BreakdownSingleflight, BreakdownLock}, p.Breakdown) {
		bad("breakdown %q is not off, singleflight or lock", p.Breakdown)
	}
	if p.Breakdown == BreakdownLock && !p.usesRedis() && p.Layers != LayersNone {
		bad("breakdown lock waits for the value in Redis: it needs layers redis or two-level")
	}
	if !slices.Contains([]Serializer{SerializerJSON, SerializerMsgpack}, p.Serializer) {
		bad("serializer %q is not json or msgpack", p.Serializer)
	}
	for _, d := range []struct {
		name     string
		v        Duration
		min, max time.Duration
	}{
		{"ttl", p.TTL, time.Second, 30 * 24 * time.Hour},
		{"local_ttl", p.LocalTTL, 10 * time.Millisecond, 24 * time.Hour},
		{"inventory_ttl", p.InventoryTTL, 100 * time.Millisecond, 24 * time.Hour},
		{"lock_ttl", p.LockTTL, 10 * time.Millisecond, time.Minute},
		{"lock_wait", p.LockWait, time.Millisecond, time.Minute},
		{"null_ttl", p.NullTTL, 0, 24 * time.Hour},
		{"refresh_interval", p.RefreshInterval, time.Second, 24 * time.Hour},
		{"double_delete", p.DoubleDelete, 0, time.Minute},
		{"stale_ttl", p.StaleTTL, 0, 7 * 24 * time.Hour},
	} {
		if time.Duration(d.v) < d.min || time.Duration(d.v) > d.max {
			bad("%s %s is outside %s..%s", d.name, time.Duration(d.v), d.min, d.max)
		}
	}
	if p.TTLJitter < 0 || p.TTLJitter >= 1 {
		bad("ttl_jitter %v must be in [0, 1)", p.TTLJitter)
	}
	if p.BloomFPR <= 0 || p.BloomFPR >= 0.5 {
		bad("bloom_fpr %v must be in (0, 0.5)", p.BloomFPR)
	}
	if p.RefreshAhead < 0 || p.RefreshAhead >= 1 {
		bad("refresh_ahead %v must be in [0, 1)", p.RefreshAhead)
	}
	if p.XFetchBeta < 0 || p.XFetchBeta > 10 {
		bad("xfetch_beta %v must be in [0, 10]", p.XFetchBeta)
	}
	if !slices.Contains([]WarmupScope{WarmupHot, WarmupAll}, p.WarmupScope) {
		bad("warmup_scope %q is not hot or all", p.WarmupScope)
	}
	if p.WarmupBudgetMB < 0 {
		bad("warmup_budget_mb %d must not be negative", p.WarmupBudgetMB)
	}
	if p.LoadRate < 0 || p.WarmupRate < 0 {
		bad("load_rate %v and warmup_rate %v must not be negative", p.LoadRate, p.WarmupRate)
	}
	if (p.StaleTTL > 0 || p.XFetchBeta > 0 || p.Refill) && !p.usesRedis() && p.Layers != LayersNone {
		bad("stale_ttl, xfetch_beta and refill keep their state in Redis: they need layers redis or two-level")
	}
	return errors.Join(errs...)
}

func (p *Policy) usesRedis() bool { return p.Layers == LayersRedis || p.Layers == LayersTwoLevel }
func (p *Policy) usesL1() bool    { return p.Layers == LayersLocal || p.Layers == LayersTwoLevel }

// stamps reports whether Redis values carry their fresh-until time and load time (soft expiry and
// XFetch need them).
func (p *Policy) stamps() bool { return p.StaleTTL > 0 || p.XFetchBeta > 0 }

// l1TTL is how long an L1 entry lives: LocalTTL, never longer than the entry's own TTL.
func (p *Policy) l1TTL(ttl time.Duration) time.Duration {
	return min(time.Duration(p.LocalTTL), ttl)
}

// Duration is a policy duration, written in JSON as Go duration text such as "30s".
type Duration = jsontime.Duration
