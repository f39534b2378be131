// Smoke test of the whole API contract, run by `make e2e` against a real service:
// one pass over every route (good and bad input) in the "contract" scenario, then a short
// constant-rate read load. Every check must pass and no read may fail.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e ADMIN_TOKEN=dev-admin-token loadtest/smoke.js
import http from 'k6/http';
import { check, group, fail } from 'k6';

const BASE = __ENV.BASE_URL || 'http://localhost:8080';
const TOKEN = __ENV.ADMIN_TOKEN || 'dev-admin-token';
const PRODUCTS = parseInt(__ENV.PRODUCTS || '10000', 10);
const RATE = parseInt(__ENV.RATE || '200', 10);

export const options = {
  scenarios: {
    contract: { executor: 'shared-iterations', vus: 1, iterations: 1, exec: 'contract', maxDuration: '60s' },
    reads: {
      executor: 'constant-arrival-rate', exec: 'reads', startTime: '0s',
      rate: RATE, timeUnit: '1s', duration: __ENV.DURATION || '10s', preAllocatedVUs: 20, maxVUs: 100,
    },
  },
  thresholds: {
    checks: ['rate==1'],
    'http_req_failed{scenario:reads}': ['rate<0.01'],
    'http_req_duration{scenario:reads}': ['p(99)<500'],
  },
};

const json = { 'Content-Type': 'application/json' };
const admin = Object.assign({ Authorization: `Bearer ${TOKEN}` }, json);

function isProblem(res, status, type) {
  let body = {};
  try { body = res.json(); } catch (e) { /* checked below */ }
  return check(res, {
    [`${res.request.method} ${res.request.url.replace(BASE, '')} → ${status} ${type}`]: (r) =>
      r.status === status &&
      r.headers['Content-Type'] === 'application/problem+json' &&
      body.type === `urn:product-service:problem:${type}` &&
      body.status === status && typeof body.detail === 'string' &&
      body.request_id === r.headers['X-Request-Id'],
  });
}

export function contract() {
  group('health', () => {
    check(http.get(`${BASE}/health`), { 'health 200': (r) => r.status === 200 });
    check(http.get(`${BASE}/ready`), { 'ready 200': (r) => r.status === 200 });
  });

  group('detail', () => {
    const r = http.get(`${BASE}/api/v1/products/42`, { headers: { 'X-Request-ID': 'smoke-42' } });
    check(r, {
      'detail 200': (x) => x.status === 200,
      'detail ETag': (x) => x.headers.Etag === '"42-1"' || /^"42-\d+"$/.test(x.headers.Etag),
      'detail X-Cache': (x) => typeof x.headers['X-Cache'] === 'string',
      'detail Cache-Control': (x) => /max-age=/.test(x.headers['Cache-Control']),
      'request id echoed': (x) => x.headers['X-Request-Id'] === 'smoke-42',
      'snake_case body': (x) => x.json('price_cents') > 0 && x.json('rating.count') > 0 && x.json('category.name') !== '',
    });
    const again = http.get(`${BASE}/api/v1/products/42`, { headers: { 'If-None-Match': r.headers.Etag } });
    check(again, { 'If-None-Match 304': (x) => x.status === 304 && !x.body });
    for (const bad of ['abc', '-1', '0', '99999999999999999999', '1.5']) {
      isProblem(http.get(`${BASE}/api/v1/products/${bad}`), 400, 'invalid-id');
    }
    isProblem(http.get(`${BASE}/api/v1/products/${PRODUCTS + 1000000}`), 404, 'not-found');
    check(http.get(`${BASE}/api/v1/products/42/inventory`), { 'inventory 200': (x) => x.status === 200 && x.json('available') >= 0 });
  });

  group('batch and list', () => {
    const b = http.get(`${BASE}/api/v1/products?ids=3,1,${PRODUCTS + 5},2`);
    check(b, {
      'batch keeps order': (x) => JSON.stringify(x.json('items').map((p) => p.id)) === '[3,1,2]',
      'batch lists missing': (x) => JSON.stringify(x.json('missing')) === `[${PRODUCTS + 5}]`,
    });
    const many = Array.from({ length: 101 }, (_, i) => i + 1).join(',');
    isProblem(http.get(`${BASE}/api/v1/products?ids=${many}`), 400, 'invalid-ids');
    const p1 = http.get(`${BASE}/api/v1/products?category_id=1&limit=5`);
    const p2 = http.get(`${BASE}/api/v1/products?category_id=1&limit=5&cursor=${p1.json('next_cursor')}`);
    check(p2, {
      'keyset page continues': (x) => x.status === 200 && x.json('items')[0].id > p1.json('items')[4].id,
    });
    isProblem(http.get(`${BASE}/api/v1/products?limit=101`), 400, 'invalid-query');
    isProblem(http.get(`${BASE}/api/v1/products?cursor=bogus`), 400, 'invalid-cursor');
  });

  group('writes', () => {
    const sku = `SMOKE-${Date.now()}`;
    const body = JSON.stringify({ sku, name: 'Smoke lamp', price_cents: 1299, currency: 'EUR', category_id: 1, stock: 3 });
    isProblem(http.post(`${BASE}/api/v1/products`, body, { headers: json }), 401, 'unauthorized');
    isProblem(http.post(`${BASE}/api/v1/products`, body, { headers: Object.assign({}, json, { Authorization: 'Bearer wrong' }) }), 403, 'forbidden');
    isProblem(http.post(`${BASE}/api/v1/products`, 'not json', { headers: admin }), 400, 'malformed-json');
    isProblem(http.post(`${BASE}/api/v1/products`, JSON.stringify({ sku: 'X', name: '', price_cents: -1, currency: 'EUR', category_id: 1 }), { headers: admin }), 422, 'validation-failed');
    isProblem(http.post(`${BASE}/api/v1/products`, JSON.stringify({ sku: 'X', name: 'x', price_cents: 1, currency: 'EUR', category_id: 999999 }), { headers: admin }), 422, 'unknown-category');
    isProblem(http.post(`${BASE}/api/v1/products`, `{"name":"${'x'.repeat(1100000)}"}`, { headers: admin }), 413, 'body-too-large');

    const created = http.post(`${BASE}/api/v1/products`, body, { headers: admin });
    if (!check(created, { 'create 201': (x) => x.status === 201 && x.headers.Location !== undefined })) {
      fail(`create failed: ${created.status} ${created.body}`);
    }
    const loc = `${BASE}${created.headers.Location}`;
    const etag = created.headers.Etag;
    const upd = JSON.stringify({ sku, name: 'Smoke lamp v2', price_cents: 1399, currency: 'EUR', category_id: 1 });
    const put = http.put(loc, upd, { headers: Object.assign({ 'If-Match': etag }, admin) });
    check(put, { 'update 200 with a new ETag': (x) => x.status === 200 && x.headers.Etag !== etag && x.json('version') === 2 });
    isProblem(http.put(loc, upd, { headers: Object.assign({ 'If-Match': etag }, admin) }), 412, 'precondition-failed');
    check(http.del(loc, null, { headers: admin }), { 'delete 204': (x) => x.status === 204 });
    isProblem(http.get(loc), 404, 'not-found');
  });
}

export function reads() {
  const id = 1 + Math.floor(Math.random() * PRODUCTS);
  http.get(`${BASE}/api/v1/products/${id}`, { tags: { name: 'GET /api/v1/products/{id}' } });
}
