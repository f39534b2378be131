// consistency: writers update products while readers read them, and every read is checked
// against what its VU already knows. Writers (WRITE_RATE/s, lib/writes.js) read a product, PUT it
// back unchanged with If-Match (the version goes up; a 412 means another writer won: read again
// and retry, up to 5 times), note the acknowledged version, and read it back at once. Readers (RATE/s, uniform over
// the same WRITE_IDS products) note the highest version each has seen. A read that returns an
// older version than its VU has acknowledged (kind=ack) or already seen (kind=seen) counts one
// stale_reads sample. The threshold stale_reads == 0 applies to the presets that claim
// consistency (lib/config.js claimsConsistency: on one instance every preset, since writes
// invalidate Redis and the writer's L1 before they answer; with REPLICAS > 1 only none, naive and
// protected, because another replica's L1 lags by the pub/sub delay).
//
// The products keep their content: only version and updated_at change, so the dataset stays fixed.
//
//   k6 run -e PRESET=two-level loadtest/consistency.js
//
// Knobs (besides lib/config.js): WRITE_IDS products 1..WRITE_IDS are read and written [50];
// WRITE_RATE writes per second [20]; MAX_WRITES the most writes a run may make, a guard on
// WRITE_RATE × DURATION [5000]; DURATION [30s]; REDIS_OUTAGE a Redis outage injected halfway
// through the run for this long (PUT /api/v1/admin/faults {"redis_error_rate": 1}), to show what a
// lost invalidation does [0: none]. Needs ADMIN_TOKEN.
//
//   k6 run -e PRESET=protected -e REDIS_OUTAGE=3s loadtest/consistency.js   # stale reads expected
import { Counter } from 'k6/metrics';
import { sleep } from 'k6';
import { load, constantRate, int, str, seconds } from './lib/config.js';
import { perVU, uniform } from './lib/ids.js';
import { getProduct, versionOf } from './lib/cache.js';
import { rewrite, writeScenario, writeThresholds, checkWriteBudget, writeFigures } from './lib/writes.js';
import { admin, prepare, finish } from './lib/admin.js';
import { thresholds, staleThreshold } from './lib/thresholds.js';
import { summary, trendStats, requestCount } from './lib/summary.js';

const cfg = load('consistency', { DURATION: '30s' });
const writeIds = int(cfg.env, 'WRITE_IDS', 50);
const writeRate = int(cfg.env, 'WRITE_RATE', 20);
const maxWrites = int(cfg.env, 'MAX_WRITES', 5000);
if (writeIds > cfg.products) throw new Error(`WRITE_IDS (${writeIds}) must not exceed PRODUCTS (${cfg.products})`);
checkWriteBudget(cfg, writeRate, maxWrites);

const outageText = str(cfg.env, 'REDIS_OUTAGE', '0');
const outageS = outageText === '0' ? 0 : seconds(outageText);
if (outageS >= cfg.durationS / 2) throw new Error(`REDIS_OUTAGE (${outageText}) must be shorter than half of DURATION`);

const staleReads = new Counter('stale_reads');

export const options = {
  scenarios: Object.assign({
    consistency: constantRate(cfg, 'read'),
    writes: writeScenario(cfg, writeRate),
  }, outageS > 0 ? {
    outage: { executor: 'shared-iterations', exec: 'outage', vus: 1, iterations: 1, startTime: `${cfg.durationS / 2}s` },
  } : {}),
  thresholds: thresholds(cfg, Object.assign(requestCount(cfg), staleThreshold(cfg), writeThresholds())),
  tags: { testid: cfg.testid },
  summaryTrendStats: trendStats,
  discardResponseBodies: true,
};

// What this VU knows: the highest version it had acknowledged, and seen, per product.
const acked = {};
const seen = {};
let nextId = null;

// observe checks a read's version against what this VU knows, then remembers it.
function observe(id, res) {
  const v = versionOf(res);
  if (res.status !== 200 || Number.isNaN(v)) return v;
  if (v < (acked[id] || 0)) staleReads.add(1, { kind: 'ack' });
  else if (v < (seen[id] || 0)) staleReads.add(1, { kind: 'seen' });
  seen[id] = Math.max(seen[id] || 0, v);
  return v;
}

function ids() {
  if (nextId === null) nextId = uniform(1, writeIds, perVU(cfg.seed));
  return nextId();
}

export function setup() {
  return prepare(cfg);
}

export function read() {
  const id = ids();
  observe(id, getProduct(cfg.baseUrl, id));
}

export function write() {
  const id = ids();
  rewrite(cfg, id, {
    seen: (res) => observe(id, res),
    acked: (v) => { acked[id] = Math.max(acked[id] || 0, v); },
  });
}

// outage makes every Redis call of the service fail for REDIS_OUTAGE.
export function outage() {
  const a = admin(cfg);
  a.setFaults({ redis_error_rate: 1 });
  try {
    sleep(outageS);
  } finally {
    a.clearFaults();
  }
}

export function teardown(state) {
  if (outageS > 0) admin(cfg).clearFaults();
  finish(cfg, state);
}

export const handleSummary = summary(cfg, (data) => {
  const w = writeFigures(data);
  return {
    fields: Object.assign(w, { write_ids: writeIds }),
    lines: [
      `${w.writes} writes acknowledged over products 1..${writeIds} (${w.write_conflicts} conflicts retried, ` +
        `${w.write_errors} errors)`,
    ],
  };
});
