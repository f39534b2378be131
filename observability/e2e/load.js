// Background load of the whole-stack e2e run (app/e2e, TestStack), sent to Prometheus by k6's
// remote write output so the load-test dashboard has data. Two named scenarios:
//
//   browse    product reads spread over the replicas: mostly (85 %) a small hot set (L1 and Redis
//             hits), some cold ids, unknown ids (Bloom rejects, 404) and inventory reads
//   overload  an arrival rate one VU cannot keep up with, so k6 drops iterations on purpose
//             (k6_dropped_iterations_total exists)
//
// Both run until DURATION or until the test stops k6 through its REST API.
//
//   k6 run -o experimental-prometheus-rw --tag testid=e2e -e BASE_URLS=http://127.0.0.1:8081,http://127.0.0.1:8082 \
//     -e HOT_IDS=17,95,230 -e COLD_MAX=2500 -e RATE=20 observability/e2e/load.js
import http from 'k6/http';
import { check, sleep } from 'k6';

const BASES = (__ENV.BASE_URLS || 'http://127.0.0.1:8080').split(',');
// The hot set is read most: the products seeded is_hot, which warm-up caches at start.
const HOT_IDS = (__ENV.HOT_IDS || '1,2,3,4,5').split(',').map((x) => parseInt(x, 10));
const COLD_MAX = parseInt(__ENV.COLD_MAX || '2500', 10); // cold reads stay at or below this id
const DURATION = __ENV.DURATION || '3m';

export const options = {
  scenarios: {
    browse: {
      executor: 'constant-arrival-rate', exec: 'browse', rate: parseInt(__ENV.RATE || '20', 10), timeUnit: '1s',
      duration: DURATION, preAllocatedVUs: 10, maxVUs: 40,
    },
    overload: {
      executor: 'constant-arrival-rate', exec: 'overload', rate: 3, timeUnit: '1s',
      duration: DURATION, preAllocatedVUs: 1, maxVUs: 1,
    },
  },
  // No thresholds: faults are injected during the run, and k6 counts the 500s as failures.
};

// 404s of unknown ids are an answer, not a failure.
http.setResponseCallback(http.expectedStatuses(200, 304, 404));

function hotID() {
  return HOT_IDS[Math.floor(Math.random() * HOT_IDS.length)];
}

function base() {
  return BASES[(__VU + __ITER) % BASES.length];
}

export function browse() {
  const r = Math.random();
  let res;
  if (r < 0.85) {
    res = http.get(`${base()}/api/v1/products/${hotID()}`, { tags: { name: 'GET /api/v1/products/{id}' } });
  } else if (r < 0.9) {
    const id = 1 + Math.floor(Math.random() * COLD_MAX);
    res = http.get(`${base()}/api/v1/products/${id}`, { tags: { name: 'GET /api/v1/products/{id}' } });
  } else if (r < 0.95) {
    const id = 10000000 + Math.floor(Math.random() * 1000000);
    res = http.get(`${base()}/api/v1/products/${id}`, { tags: { name: 'GET /api/v1/products/{id}' } });
    check(res, { 'unknown id 404': (x) => x.status === 404 });
    return;
  } else {
    res = http.get(`${base()}/api/v1/products/${hotID()}/inventory`, { tags: { name: 'GET /api/v1/products/{id}/inventory' } });
  }
  check(res, { 'read 200': (x) => x.status === 200 });
}

export function overload() {
  http.get(`${base()}/health`, { tags: { name: 'GET /health' } });
  sleep(1);
}
