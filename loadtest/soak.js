// soak: the read workload of read.js (Zipf over the catalogue at RATE/s) held for a long
// DURATION, to see whether anything drifts: latency, errors, the database loads as the cache
// fills and entries expire. Requests carry a half tag (first, second) and the summary compares the
// p99 of the two halves.
//
//   k6 run -e PRESET=full loadtest/soak.js                      # 10 minutes
//   k6 run -e PRESET=protected -e DURATION=1h loadtest/soak.js
//
// Knobs: those of lib/config.js; DURATION [10m].
import exec from 'k6/execution';
import { load, constantRate } from './lib/config.js';
import { catalogueZipf } from './lib/ids.js';
import { getProduct } from './lib/cache.js';
import { prepare, finish } from './lib/admin.js';
import { thresholds } from './lib/thresholds.js';
import { summary, trendStats, requestCount } from './lib/summary.js';

const cfg = load('soak', { DURATION: '10m' });
const nextId = catalogueZipf(cfg);
const halves = ['first', 'second'];

export const options = {
  scenarios: { soak: constantRate(cfg, 'read') },
  thresholds: thresholds(cfg, Object.assign(requestCount(cfg),
    Object.fromEntries(halves.map((h) => [`http_req_duration{half:${h}}`, ['max>=0']])))),
  tags: { testid: cfg.testid },
  summaryTrendStats: trendStats,
  discardResponseBodies: true,
};

export function setup() {
  return prepare(cfg);
}

export function read() {
  const half = Date.now() - exec.scenario.startTime < (cfg.durationS * 1000) / 2 ? 'first' : 'second';
  getProduct(cfg.baseUrl, nextId(), { tags: { half } });
}

export function teardown(state) {
  finish(cfg, state);
}

export const handleSummary = summary(cfg, (data) => {
  const p99 = {};
  for (const h of halves) {
    const m = data.metrics[`http_req_duration{half:${h}}`];
    p99[h] = m ? Math.round(m.values['p(99)'] * 10) / 10 : null;
  }
  return {
    fields: { p99_first_half_ms: p99.first, p99_second_half_ms: p99.second },
    lines: [`p99 first half ${p99.first} ms, second half ${p99.second} ms`],
  };
});
