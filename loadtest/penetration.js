// penetration: reads of ids that do not exist, at RATE/s, uniform over UNKNOWN_IDS ids starting
// at PRODUCTS + 1,000,000. Nothing can be cached for them unless the service caches "not found"
// (null caching, HIT-NULL) or knows they do not exist (Bloom filter, BLOOM-REJECT); otherwise each
// read costs a database load. A 404 is the expected answer, not a failure.
//
//   k6 run -e PRESET=naive loadtest/penetration.js
//   k6 run -e PRESET=protected -e UNKNOWN_IDS=100 loadtest/penetration.js
//
// Knobs (besides lib/config.js): UNKNOWN_IDS [10000]; DURATION [30s].
import { load, constantRate, int } from './lib/config.js';
import { perVU, uniform } from './lib/ids.js';
import { getProduct } from './lib/cache.js';
import { prepare, finish } from './lib/admin.js';
import { thresholds } from './lib/thresholds.js';
import { summary, trendStats, requestCount } from './lib/summary.js';

const cfg = load('penetration', { DURATION: '30s' });
const unknownIds = int(cfg.env, 'UNKNOWN_IDS', 10000);
const first = cfg.products + 1000000;
let nextId = null;

export const options = {
  scenarios: { penetration: constantRate(cfg, 'read') },
  thresholds: thresholds(cfg, requestCount(cfg)),
  tags: { testid: cfg.testid },
  summaryTrendStats: trendStats,
  discardResponseBodies: true,
};

export function setup() {
  return prepare(cfg);
}

export function read() {
  if (nextId === null) nextId = uniform(first, first + unknownIds - 1, perVU(cfg.seed));
  getProduct(cfg.baseUrl, nextId(), { missing: true });
}

export function teardown(state) {
  finish(cfg, state);
}

export const handleSummary = summary(cfg, () => ({
  fields: { unknown_ids: unknownIds, first_unknown_id: first },
  lines: [`ids ${first}..${first + unknownIds - 1} (none exists)`],
}));
