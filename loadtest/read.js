// read: the main workload. Product reads at RATE/s (constant arrival rate), ids Zipf(ZIPF_S) over
// the PRODUCTS ids (the ids of HOT_IDS_FILE first), for DURATION. It shows which preset keeps the
// database quiet at what latency on a skewed, realistic read mix.
//
//   k6 run loadtest/read.js                                        # 500/s for 30s on localhost:8080
//   k6 run -e PRESET=two-level -e RESET=1 -e DURATION=1m loadtest/read.js
//   docker compose run --rm k6 run --tag testid=read-1 /loadtest/read.js
//
// Shared knobs: lib/config.js. Thresholds: lib/thresholds.js.
import { load, constantRate } from './lib/config.js';
import { catalogueZipf } from './lib/ids.js';
import { getProduct } from './lib/cache.js';
import { prepare, finish } from './lib/admin.js';
import { thresholds } from './lib/thresholds.js';
import { summary, trendStats, requestCount } from './lib/summary.js';

const cfg = load('read', { DURATION: '30s' });
const nextId = catalogueZipf(cfg);

export const options = {
  scenarios: { read: constantRate(cfg, 'read') },
  thresholds: thresholds(cfg, requestCount(cfg)),
  tags: { testid: cfg.testid },
  summaryTrendStats: trendStats,
  discardResponseBodies: true,
};

export function setup() {
  return prepare(cfg);
}

export function teardown(state) {
  finish(cfg, state);
}

export function read() {
  getProduct(cfg.baseUrl, nextId());
}

export const handleSummary = summary(cfg);
