// read: the main workload. Product reads at RATE/s (constant arrival rate), ids Zipf(ZIPF_S) over
// the PRODUCTS ids (the ids of HOT_IDS_FILE first), for DURATION. It shows which preset keeps the
// database quiet at what latency on a skewed, realistic read mix.
//
// With WRITE_RATE > 0 writers update products at that rate meanwhile (the scenario "writes",
// lib/writes.js: read, PUT back unchanged with If-Match, read back), their ids drawn from the same
// Zipf distribution: the popular products are the ones written, as in production, so each write
// invalidates (or, with refill, replaces) a value the readers want. The read figures stay those of
// the readers (scenario "read"); the writers' requests are tagged scenario=writes.
//
//   k6 run loadtest/read.js                                        # 500/s for 30s on localhost:8080
//   k6 run -e PRESET=two-level -e RESET=1 -e DURATION=1m loadtest/read.js
//   k6 run -e PRESET=tail -e WRITE_RATE=20 loadtest/read.js        # reads with writes mixed in
//   docker compose run --rm k6 run --tag testid=read-1 /loadtest/read.js
//
// Knobs (besides lib/config.js): WRITE_RATE writes per second [0: none]; MAX_WRITES the most
// writes a run may make, a guard on WRITE_RATE × DURATION [5000]. Writes need ADMIN_TOKEN.
// Thresholds: lib/thresholds.js.
import { load, constantRate, int } from './lib/config.js';
import { catalogueZipf } from './lib/ids.js';
import { getProduct } from './lib/cache.js';
import { prepare, finish } from './lib/admin.js';
import { rewrite, writeScenario, writeThresholds, checkWriteBudget, writeFigures } from './lib/writes.js';
import { thresholds } from './lib/thresholds.js';
import { summary, trendStats, requestCount } from './lib/summary.js';

const cfg = load('read', { DURATION: '30s' });
const writeRate = int(cfg.env, 'WRITE_RATE', 0, 0);
checkWriteBudget(cfg, writeRate, int(cfg.env, 'MAX_WRITES', 5000));
const nextId = catalogueZipf(cfg);

export const options = {
  scenarios: Object.assign({ read: constantRate(cfg, 'read') }, writeRate > 0 ? { writes: writeScenario(cfg, writeRate) } : {}),
  thresholds: thresholds(cfg, Object.assign(requestCount(cfg), writeRate > 0 ? writeThresholds() : {})),
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

export function write() {
  rewrite(cfg, nextId());
}

export const handleSummary = summary(cfg, (data) => {
  if (writeRate === 0) return {};
  const w = writeFigures(data);
  return {
    fields: Object.assign(w, { write_rate: writeRate }),
    lines: [`${w.writes} writes acknowledged at ${writeRate}/s (${w.write_conflicts} conflicts retried, ${w.write_errors} errors)`],
  };
});
