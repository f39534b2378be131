// breakdown (cache stampede): one hot product read at RATE/s while its cached value expires again
// and again. Without protection every read that arrives while the key is being reloaded goes to
// the database (about RATE × 200 ms of them per expiry); with the breakdown lock one does; with
// soft expiry (stale_ttl) or an early refresh (refresh_ahead, xfetch_beta) none waits at all.
//
// EXPIRY says how the value expires:
//   ttl    (default) as in production: the key's TTL runs out. setup() sets the policy's ttl to
//          HOT_TTL with ttl_jitter 0 (PUT /api/v1/admin/cache; a two-level preset's L1 then lives
//          min(local_ttl, ttl), so both layers expire), drops the hot key and reads it once, so
//          it is cached with that TTL; teardown() puts the policy back. Expiries are counted as
//          floor(DURATION / HOT_TTL): the value is stored anew after each reload, so the real
//          period is HOT_TTL plus a reload (or, with an early refresh, a little less), and the
//          figure is the expected count, not an observed one.
//   evict  a second scenario drops the key from every cache layer every EVICT_EVERY (DELETE
//          /api/v1/admin/cache/products/{id}): a hard expiry no preset can see coming.
//
//   k6 run -e PRESET=naive loadtest/breakdown.js
//   k6 run -e PRESET=tail -e HOT_TTL=2s loadtest/breakdown.js
//   k6 run -e PRESET=protected -e EXPIRY=evict -e EVICT_EVERY=1s loadtest/breakdown.js
//
// Knobs (besides lib/config.js): HOT_ID the product [42]; EXPIRY ttl or evict [ttl]; HOT_TTL the
// key's TTL with EXPIRY=ttl, at least 1s (the service's minimum) [3s]; EVICT_EVERY how often the
// key is dropped with EXPIRY=evict [2s]; DURATION [30s]. Needs ADMIN_TOKEN. The summary adds the
// database loads per expiry (every cause: reads' misses and lock timeouts, and the background
// reloads: refresh, early_refresh, revalidate; setup's own load left out) and a timeline of misses
// per second.
import { load, constantRate, seconds, int, duration, str } from './lib/config.js';
import { getProduct, timeline } from './lib/cache.js';
import { admin, prepare, finish, restorable, probeDbLoads, probeScenario } from './lib/admin.js';
import { thresholds } from './lib/thresholds.js';
import { summary, trendStats, requestCount } from './lib/summary.js';
import { sleep } from 'k6';
import { Counter } from 'k6/metrics';

const cfg = load('breakdown', { DURATION: '30s' });
const hotId = int(cfg.env, 'HOT_ID', 42);
const expiry = str(cfg.env, 'EXPIRY', 'ttl');
if (expiry !== 'ttl' && expiry !== 'evict') throw new Error(`EXPIRY must be ttl or evict, got '${expiry}'`);
const hotTtl = duration(cfg.env, 'HOT_TTL', '3s');
const hotTtlS = seconds(hotTtl);
const evictEvery = duration(cfg.env, 'EVICT_EVERY', '2s');
const evictEveryS = seconds(evictEvery);
if (expiry === 'ttl' && (hotTtlS < 1 || hotTtlS >= cfg.durationS)) {
  throw new Error(`HOT_TTL must be at least 1s (the service's minimum) and shorter than DURATION, got '${hotTtl}'`);
}
if (expiry === 'evict' && (evictEveryS < 0.2 || evictEveryS >= cfg.durationS)) {
  throw new Error(`EVICT_EVERY must be at least 200ms and shorter than DURATION, got '${evictEvery}'`);
}
const line = timeline(1, cfg.durationS);
const evicted = new Counter('evictions');
const setupDbLoads = new Counter('setup_db_loads');

// evictions is how many evictions fit: one every EVICT_EVERY, the last a period before the end.
function evictions() {
  return Math.max(1, Math.floor(cfg.durationS / evictEveryS) - 1);
}

export const options = {
  scenarios: Object.assign(
    { breakdown: constantRate(cfg, 'read', 1.2) },
    // One VU evicts at EVICT_EVERY, 2×EVICT_EVERY, … while a whole period of the run is left:
    // the same number of evictions in every run.
    expiry === 'evict'
      ? { evict: { executor: 'per-vu-iterations', exec: 'evict', vus: 1, iterations: evictions(), maxDuration: cfg.duration } }
      : {},
    cfg.replicas === 1 ? { probe: probeScenario(cfg, 'probe', 1) } : {},
  ),
  thresholds: thresholds(cfg, Object.assign(requestCount(cfg), line.thresholds())),
  tags: { testid: cfg.testid },
  summaryTrendStats: trendStats,
  discardResponseBodies: true,
};

export function setup() {
  const state = prepare(cfg);
  const a = admin(cfg);
  if (expiry === 'ttl') {
    state.restore = restorable(a.policy().policy);
    a.setPolicy({ ttl: hotTtl, ttl_jitter: 0 });
    // A warm-up may have cached the key with the preset's TTL: drop it, so the read below
    // stores it with HOT_TTL.
    a.evict(hotId);
  }
  // Load the product once, so the first expiry drops a cached key like the later ones. The
  // load it costs (a MISS: one load, on any replica) is left out of the per-expiry figure.
  const res = getProduct(cfg.baseUrl, hotId, { record: false });
  setupDbLoads.add(res.headers['X-Cache'] === 'MISS' ? 1 : 0);
  return state;
}

export function teardown(state) {
  finish(cfg, state);
  if (state.restore) admin(cfg).setPolicy(state.restore);
}

export function read() {
  getProduct(cfg.baseUrl, hotId, { window: line.window() });
}

export function probe() {
  probeDbLoads(cfg, line);
}

export function evict() {
  sleep(evictEveryS);
  admin(cfg).evict(hotId);
  evicted.add(1);
}

export const handleSummary = summary(cfg, (data) => {
  const count = (name) => (data.metrics[name] ? data.metrics[name].values.count : null);
  const n = expiry === 'ttl' ? Math.floor(cfg.durationS / hotTtlS) : count('evictions') || 0;
  const per = (x) => (n > 0 && x !== null ? Math.round((x / n) * 10) / 10 : null);
  const missesPer = per(count('cache_misses') || 0);
  const loads = count('service_db_loads');
  const loadsPer = per(loads === null ? null : Math.max(0, loads - (count('setup_db_loads') || 0)));
  const how = expiry === 'ttl'
    ? `expired ${n} times (TTL ${hotTtl}: floor(${cfg.duration} / ${hotTtl}))`
    : `evicted ${n} times (every ${evictEvery})`;
  return {
    windowS: 1,
    fields: {
      expiry, expiries: n, misses_per_expiry: missesPer, db_loads_per_expiry: loadsPer, hot_id: hotId,
      hot_ttl_s: expiry === 'ttl' ? hotTtlS : null, evict_every_s: expiry === 'evict' ? evictEveryS : null,
    },
    lines: [
      `product ${hotId} ${how}: per expiry ${missesPer === null ? '-' : missesPer} reads ` +
        `found no cached value (X-Cache MISS), ${loadsPer === null ? '-' : loadsPer} database loads (the service's count)`,
    ],
  };
});
