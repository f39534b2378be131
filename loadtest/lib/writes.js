// Writers that update products the way a client that avoids lost updates does: read the product,
// PUT it back unchanged with If-Match (the version goes up; a 412 means another writer won: read
// again and retry, up to 5 times), then read the write back at once. A writer's reads carry its
// Authorization header, as an admin client's do, so an edge cache in front (nginx-edge.conf)
// passes them to the service instead of answering from its copy, which would hand the writer an
// old ETag to fail If-Match with until the copy's max-age ran out. The products keep their
// content: only version and updated_at change, so the dataset stays fixed. consistency.js and
// read.js (WRITE_RATE) share them.
//
//   writes           Counter: writes acknowledged (200)
//   write_conflicts  Counter: 412 answers retried
//   write_errors     Counter: writes that gave up (5 conflicts, or another status)
import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import { constantRate } from './config.js';
import { getProduct, versionOf, productName } from './cache.js';

const writes = new Counter('writes');
const conflicts = new Counter('write_conflicts');
const writeErrors = new Counter('write_errors');

// writeScenario is the k6 scenario "writes": rate writes per second for the run, running exec.
export function writeScenario(cfg, rate, exec = 'write') {
  return Object.assign(constantRate(cfg, exec), { rate, preAllocatedVUs: 20, maxVUs: 100 });
}

// writeThresholds: under 1 % of the writers' requests fail, and no write gives up.
export function writeThresholds() {
  return { 'http_req_failed{scenario:writes}': ['rate<0.01'], write_errors: ['count==0'] };
}

// checkWriteBudget refuses a run that would make more than maxWrites writes.
export function checkWriteBudget(cfg, rate, maxWrites) {
  if (rate * cfg.durationS > maxWrites) {
    throw new Error(`WRITE_RATE × DURATION = ${rate * cfg.durationS} writes, over MAX_WRITES (${maxWrites})`);
  }
}

const auth = (cfg) => ({ Authorization: `Bearer ${cfg.adminToken}` });

const params = (cfg, etag) => ({
  headers: { Authorization: `Bearer ${cfg.adminToken}`, 'Content-Type': 'application/json', 'If-Match': etag },
  tags: { name: 'PUT /api/v1/products/{id}' },
  responseCallback: http.expectedStatuses(200, 412),
});

// rewrite makes one write of product id. hooks.seen(res) sees every read of it (the writer's own
// reads, and the read-back); hooks.acked(version) hears the acknowledged version before the
// read-back. It returns whether the write was acknowledged.
export function rewrite(cfg, id, hooks = {}) {
  const seen = hooks.seen || (() => {});
  const acked = hooks.acked || (() => {});
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = getProduct(cfg.baseUrl, id, { body: true, record: false, headers: auth(cfg) });
    seen(cur);
    if (cur.status !== 200) {
      writeErrors.add(1);
      return false;
    }
    const p = cur.json();
    const body = {
      sku: p.sku, name: p.name, description: p.description, price_cents: p.price_cents,
      currency: p.currency, category_id: p.category.id, is_hot: p.is_hot,
    };
    const put = http.put(`${cfg.baseUrl}/api/v1/products/${id}`, JSON.stringify(body), params(cfg, cur.headers.Etag));
    if (put.status === 412) {
      conflicts.add(1);
      continue;
    }
    if (!check(put, { 'write 200': (r) => r.status === 200 })) {
      writeErrors.add(1);
      return false;
    }
    acked(versionOf(put));
    writes.add(1);
    // Read your write.
    seen(http.get(`${cfg.baseUrl}/api/v1/products/${id}`, { tags: { name: productName }, headers: auth(cfg) }));
    return true;
  }
  writeErrors.add(1);
  return false;
}

// writeFigures are the writers' counts from k6's summary data.
export function writeFigures(data) {
  const count = (name) => (data.metrics[name] ? data.metrics[name].values.count : 0);
  return { writes: count('writes'), write_conflicts: count('write_conflicts'), write_errors: count('write_errors') };
}
