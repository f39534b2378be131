// avalanche: many keys cached at once with one TTL expire together, and the database takes every
// read of them at once. setup() sets a short TTL (PUT /api/v1/admin/cache {"ttl": AVALANCHE_TTL};
// the preset's jitter is kept), empties the namespace (POST /api/v1/admin/cache/reset: a preset's
// warm-up cached products with its own, long TTL, which would never expire in the run), warms KEYS
// products (ids 1..KEYS, batch reads of 100, WARM_PARALLEL
// at a time), and the load (RATE/s, Zipf(ZIPF_S) over those ids, or uniform with DIST=uniform)
// then runs through their expiry. Without jitter the misses come as one wave at AVALANCHE_TTL;
// with ±10 % jitter they spread over ±10 % of it. teardown() puts the policy back.
//
//   k6 run -e PRESET=naive loadtest/avalanche.js
//   k6 run -e PRESET=protected -e AVALANCHE_TTL=10s -e DURATION=20s loadtest/avalanche.js
//
// Knobs (besides lib/config.js): AVALANCHE_TTL [20s]; KEYS [10000]; WARM_PARALLEL [20]; DIST
// [zipf]; DURATION [40s], which must outlast the TTL and its jitter. Needs ADMIN_TOKEN. The summary
// adds a timeline of misses per second counted from the end of the warm-up, and its peak.
import http from 'k6/http';
import { fail } from 'k6';
import { Counter } from 'k6/metrics';
import { load, constantRate, seconds, int, duration, str } from './lib/config.js';
import { perVU, zipf, uniform } from './lib/ids.js';
import { getProduct, timeline } from './lib/cache.js';
import { admin, prepare, finish, restorable, dbLoads, probeDbLoads, probeScenario } from './lib/admin.js';
import { thresholds } from './lib/thresholds.js';
import { summary, trendStats, requestCount } from './lib/summary.js';

const cfg = load('avalanche', { DURATION: '40s' });
const ttl = duration(cfg.env, 'AVALANCHE_TTL', '20s');
const ttlS = seconds(ttl);
const keys = int(cfg.env, 'KEYS', 10000);
const warmParallel = int(cfg.env, 'WARM_PARALLEL', 20);
const dist = str(cfg.env, 'DIST', 'zipf');
if (dist !== 'zipf' && dist !== 'uniform') throw new Error(`DIST must be zipf or uniform, got '${dist}'`);
if (keys > cfg.products) throw new Error(`KEYS (${keys}) must not exceed PRODUCTS (${cfg.products})`);
if (ttlS < 1) throw new Error(`AVALANCHE_TTL must be at least 1s (the service's minimum), got '${ttl}'`);
if (cfg.durationS < ttlS * 1.1 + 2) {
  throw new Error(`DURATION (${cfg.duration}) must outlast AVALANCHE_TTL (${ttl}) and its jitter: at least ${Math.ceil(ttlS * 1.1 + 2)}s`);
}

const line = timeline(1, cfg.durationS + 5);
const setupDbLoads = new Counter('setup_db_loads');
let nextId = null;

export const options = {
  scenarios: Object.assign(
    { avalanche: constantRate(cfg, 'read') },
    // Behind a balancer /metrics is any replica's: no timeline of database loads.
    cfg.replicas === 1 ? { probe: probeScenario(cfg, 'probe', 1) } : {},
  ),
  thresholds: thresholds(cfg, Object.assign(requestCount(cfg), line.thresholds())),
  tags: { testid: cfg.testid },
  summaryTrendStats: trendStats,
  discardResponseBodies: true,
  batchPerHost: warmParallel,
  setupTimeout: '5m',
};

export function setup() {
  const state = prepare(cfg);
  const a = admin(cfg);
  state.restore = restorable(a.policy().policy);
  a.setPolicy({ ttl });
  a.reset();
  const before = dbLoads(cfg);
  const requests = [];
  for (let lo = 1; lo <= keys; lo += 100) {
    const ids = [];
    for (let id = lo; id < lo + 100 && id <= keys; id++) ids.push(id);
    requests.push(['GET', `${cfg.baseUrl}/api/v1/products?ids=${ids.join(',')}`, null, { tags: { name: 'warm' }, timeout: '60s' }]);
  }
  for (let i = 0; i < requests.length; i += warmParallel) {
    for (const res of http.batch(requests.slice(i, i + warmParallel))) {
      if (res.status !== 200) fail(`warm-up batch read answered ${res.status}`);
    }
  }
  const after = dbLoads(cfg);
  if (!Number.isNaN(before) && !Number.isNaN(after)) setupDbLoads.add(after - before);
  state.dbLoads = Number.isNaN(after) ? null : after;
  state.warmedAt = Date.now();
  console.log(`avalanche: ${keys} products cached with ttl ${ttl}; the load runs ${cfg.duration} through their expiry`);
  return state;
}

export function read(state) {
  if (nextId === null) {
    const r = perVU(cfg.seed);
    nextId = dist === 'zipf' ? zipf(keys, cfg.zipfS, r) : uniform(1, keys, r);
  }
  getProduct(cfg.baseUrl, nextId(), { window: line.window(state.warmedAt) });
}

export function probe(state) {
  probeDbLoads(cfg, line, state.warmedAt);
}

export function teardown(state) {
  finish(cfg, state);
  admin(cfg).setPolicy(state.restore);
}

export const handleSummary = summary(cfg, (data) => {
  // peak finds the busiest window of a timeline metric.
  const peak = (metric) => {
    let best = { n: 0, at: null };
    for (const name of Object.keys(data.metrics)) {
      const m = new RegExp(`^${metric}\\{window:(\\d+)\\}$`).exec(name);
      if (m && data.metrics[name].values.count > best.n) best = { n: data.metrics[name].values.count, at: Number(m[1]) };
    }
    return best;
  };
  const misses = peak('cache_misses_window');
  const loads = peak('db_loads_window');
  return {
    windowS: 1,
    fields: {
      peak_misses_per_s: misses.n, peak_misses_at_s: misses.at,
      peak_db_loads_per_s: loads.at === null ? null : loads.n, peak_db_loads_at_s: loads.at,
      ttl_s: ttlS, keys,
    },
    lines: [
      `${keys} keys warmed with ttl ${ttl}; X-Cache misses peaked at ${misses.n}/s ${misses.at}s after the warm-up` +
        (loads.at === null ? '' : `, database loads at ${loads.n}/s ${loads.at}s after it`),
    ],
  };
});
