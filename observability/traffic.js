// Background traffic of the compose stack (the `traffic` service): a steady, read-mostly mix through
// nginx, so the dashboards, logs and traces show live data from the first minute without a load
// test. Not a benchmark: `docker compose stop traffic` before measuring anything.
//
//   RATE      requests per second (default 20)
//   PRODUCTS  ids 1..PRODUCTS exist (the seed size)
//
// Reads are skewed towards low ids, as real catalogues are, so caches get hits and misses both; a
// few requests name unknown or malformed ids, so 404s and 400s show too.
import http from 'k6/http';

const BASE = __ENV.BASE_URL || 'http://nginx:8080';
const PRODUCTS = parseInt(__ENV.PRODUCTS || '100000', 10);
const RATE = parseInt(__ENV.RATE || '20', 10);

export const options = {
  scenarios: {
    background: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      // The container restarts when a day is over (restart: unless-stopped).
      duration: '24h',
      preAllocatedVUs: 10,
      maxVUs: 50,
    },
  },
  discardResponseBodies: true,
};

// skewedId draws an id in 1..PRODUCTS, most often among the first few hundred.
function skewedId() {
  return 1 + Math.floor(PRODUCTS * Math.pow(Math.random(), 4));
}

export default function () {
  const roll = Math.random();
  if (roll < 0.80) {
    http.get(`${BASE}/api/v1/products/${skewedId()}`, { tags: { name: 'GET /api/v1/products/{id}' } });
  } else if (roll < 0.88) {
    http.get(`${BASE}/api/v1/products/${skewedId()}/inventory`, { tags: { name: 'GET /api/v1/products/{id}/inventory' } });
  } else if (roll < 0.93) {
    const ids = [skewedId(), skewedId(), skewedId()].join(',');
    http.get(`${BASE}/api/v1/products?ids=${ids}`, { tags: { name: 'GET /api/v1/products?ids' } });
  } else if (roll < 0.97) {
    const category = 1 + Math.floor(Math.random() * 24); // the seed's 24 categories
    http.get(`${BASE}/api/v1/products?category_id=${category}&limit=20`, { tags: { name: 'GET /api/v1/products?category_id' } });
  } else if (roll < 0.99) {
    http.get(`${BASE}/api/v1/products/${PRODUCTS + 1 + Math.floor(Math.random() * 1000)}`, { tags: { name: 'GET /api/v1/products/{id}' } });
  } else {
    http.get(`${BASE}/api/v1/products/not-a-number`, { tags: { name: 'GET /api/v1/products/{id}' } });
  }
}
