// breakdown (cache stampede): one hot product read at RATE/s while a second scenario drops its
// key from every cache layer every EVICT_EVERY (DELETE /api/v1/admin/cache/products/{id}, as if it
// expired). Without protection every read that arrives while the key is being reloaded goes to the
// database (about RATE × 200 ms of them per eviction); with the breakdown lock one does.
//
//   k6 run -e PRESET=naive loadtest/breakdown.js
//   k6 run -e PRESET=protected -e EVICT_EVERY=1s loadtest/breakdown.js
//
// Knobs (besides lib/config.js): HOT_ID the product [42]; EVICT_EVERY how often its key is dropped
// [2s]; DURATION [30s]. Needs ADMIN_TOKEN. The summary adds misses per eviction and a timeline of
// misses per second.
import { load, constantRate, seconds, int, duration } from './lib/config.js';
import { getProduct, timeline } from './lib/cache.js';
import { admin, prepare, finish, probeDbLoads, probeScenario } from './lib/admin.js';
import { thresholds } from './lib/thresholds.js';
import { summary, trendStats, requestCount } from './lib/summary.js';
import { sleep } from 'k6';
import { Counter } from 'k6/metrics';

const cfg = load('breakdown', { DURATION: '30s' });
const hotId = int(cfg.env, 'HOT_ID', 42);
const evictEvery = duration(cfg.env, 'EVICT_EVERY', '2s');
const evictEveryS = seconds(evictEvery);
if (evictEveryS < 0.2 || evictEveryS >= cfg.durationS) {
  throw new Error(`EVICT_EVERY must be at least 200ms and shorter than DURATION, got '${evictEvery}'`);
}
const line = timeline(1, cfg.durationS);
const evicted = new Counter('evictions');

// evictions is how many evictions fit: one every EVICT_EVERY, the last a period before the end.
function evictions() {
  return Math.max(1, Math.floor(cfg.durationS / evictEveryS) - 1);
}

export const options = {
  scenarios: Object.assign({
    breakdown: constantRate(cfg, 'read', 1.2),
    // One VU evicts at EVICT_EVERY, 2×EVICT_EVERY, … while a whole period of the run is left:
    // the same number of evictions in every run.
    evict: { executor: 'per-vu-iterations', exec: 'evict', vus: 1, iterations: evictions(), maxDuration: cfg.duration },
  }, cfg.replicas === 1 ? { probe: probeScenario(cfg, 'probe', 1) } : {}),
  thresholds: thresholds(cfg, Object.assign(requestCount(cfg), line.thresholds())),
  tags: { testid: cfg.testid },
  summaryTrendStats: trendStats,
  discardResponseBodies: true,
};

export function setup() {
  const state = prepare(cfg);
  // Load the product once, so the first eviction drops a cached key like the later ones.
  getProduct(cfg.baseUrl, hotId, { record: false });
  return state;
}

export function teardown(state) {
  finish(cfg, state);
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
  const n = count('evictions') || 0;
  const per = (x) => (n > 0 && x !== null ? Math.round((x / n) * 10) / 10 : null);
  const missesPer = per(count('cache_misses') || 0);
  const loadsPer = per(count('service_db_loads'));
  return {
    windowS: 1,
    fields: { evictions: n, misses_per_eviction: missesPer, db_loads_per_eviction: loadsPer, hot_id: hotId, evict_every_s: evictEveryS },
    lines: [
      `product ${hotId} evicted ${n} times (every ${evictEvery}): per eviction ${missesPer === null ? '-' : missesPer} reads ` +
        `found no cached value (X-Cache MISS), ${loadsPer === null ? '-' : loadsPer} database loads (the service's count)`,
    ],
  };
});
