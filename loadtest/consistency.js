// consistency: writers update products while readers read them, and every read is checked
// against what its VU already knows. Writers (WRITE_RATE/s) read a product, PUT it back unchanged
// with If-Match (the version goes up; a 412 means another writer won: read again and retry, up to
// 5 times), note the acknowledged version, and read it back at once. Readers (RATE/s, uniform over
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
import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import { sleep } from 'k6';
import { load, constantRate, int, str, seconds } from './lib/config.js';
import { perVU, uniform } from './lib/ids.js';
import { getProduct, versionOf, productName } from './lib/cache.js';
import { admin, prepare, finish } from './lib/admin.js';
import { thresholds, staleThreshold } from './lib/thresholds.js';
import { summary, trendStats, requestCount } from './lib/summary.js';

const cfg = load('consistency', { DURATION: '30s' });
const writeIds = int(cfg.env, 'WRITE_IDS', 50);
const writeRate = int(cfg.env, 'WRITE_RATE', 20);
const maxWrites = int(cfg.env, 'MAX_WRITES', 5000);
if (writeIds > cfg.products) throw new Error(`WRITE_IDS (${writeIds}) must not exceed PRODUCTS (${cfg.products})`);
if (writeRate * cfg.durationS > maxWrites) {
  throw new Error(`WRITE_RATE × DURATION = ${writeRate * cfg.durationS} writes, over MAX_WRITES (${maxWrites})`);
}

const outageText = str(cfg.env, 'REDIS_OUTAGE', '0');
const outageS = outageText === '0' ? 0 : seconds(outageText);
if (outageS >= cfg.durationS / 2) throw new Error(`REDIS_OUTAGE (${outageText}) must be shorter than half of DURATION`);

const staleReads = new Counter('stale_reads');
const writes = new Counter('writes');
const conflicts = new Counter('write_conflicts');
const writeErrors = new Counter('write_errors');

export const options = {
  scenarios: Object.assign({
    consistency: constantRate(cfg, 'read'),
    writes: Object.assign(constantRate(cfg, 'write'), { rate: writeRate, preAllocatedVUs: 20, maxVUs: 100 }),
  }, outageS > 0 ? {
    outage: { executor: 'shared-iterations', exec: 'outage', vus: 1, iterations: 1, startTime: `${cfg.durationS / 2}s` },
  } : {}),
  thresholds: thresholds(cfg, Object.assign(requestCount(cfg), staleThreshold(cfg), {
    'http_req_failed{scenario:writes}': ['rate<0.01'],
    write_errors: ['count==0'],
  })),
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

const writeParams = (etag) => ({
  headers: {
    Authorization: `Bearer ${cfg.adminToken}`,
    'Content-Type': 'application/json',
    'If-Match': etag,
  },
  tags: { name: 'PUT /api/v1/products/{id}' },
  responseCallback: http.expectedStatuses(200, 412),
});

export function write() {
  const id = ids();
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = getProduct(cfg.baseUrl, id, { body: true, record: false });
    observe(id, cur);
    if (cur.status !== 200) {
      writeErrors.add(1);
      return;
    }
    const p = cur.json();
    const body = {
      sku: p.sku, name: p.name, description: p.description, price_cents: p.price_cents,
      currency: p.currency, category_id: p.category.id, is_hot: p.is_hot,
    };
    const put = http.put(`${cfg.baseUrl}/api/v1/products/${id}`, JSON.stringify(body), writeParams(cur.headers.Etag));
    if (put.status === 412) {
      conflicts.add(1);
      continue;
    }
    if (!check(put, { 'write 200': (r) => r.status === 200 })) {
      writeErrors.add(1);
      return;
    }
    const v = versionOf(put);
    acked[id] = Math.max(acked[id] || 0, v);
    writes.add(1);
    // Read your write.
    observe(id, http.get(`${cfg.baseUrl}/api/v1/products/${id}`, { tags: { name: productName } }));
    return;
  }
  writeErrors.add(1);
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
  const count = (name) => (data.metrics[name] ? data.metrics[name].values.count : 0);
  return {
    fields: { writes: count('writes'), write_conflicts: count('write_conflicts'), write_errors: count('write_errors'), write_ids: writeIds },
    lines: [
      `${count('writes')} writes acknowledged over products 1..${writeIds} (${count('write_conflicts')} conflicts retried, ` +
        `${count('write_errors')} errors)`,
    ],
  };
});
