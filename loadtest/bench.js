// Maximum-throughput read of GET /api/v1/products/{id}, used by loadtest/bench.sh (make bench) to
// compare product-service with the bare bench-baseline under the same load.
//
// Closed model: VUS virtual users each send the next request as soon as the previous answers, for
// DURATION; ids are uniformly random in 1..PRODUCTS, so the database sees a cold-ish spread.
//
// Env: BASE_URL (required), PRODUCTS (100000), VUS (32), DURATION (20s), LABEL (names the run in
// the output), SUMMARY_FILE (where to write the one-line JSON summary; none when unset).
import http from 'k6/http';
import { check } from 'k6';

const BASE_URL = (__ENV.BASE_URL || '').replace(/\/+$/, '');
const PRODUCTS = parseInt(__ENV.PRODUCTS || '100000', 10);
const VUS = parseInt(__ENV.VUS || '32', 10);
const DURATION = __ENV.DURATION || '20s';
const LABEL = __ENV.LABEL || BASE_URL;

if (!BASE_URL) {
  throw new Error('BASE_URL is required, e.g. BASE_URL=http://127.0.0.1:8080');
}
if (!(PRODUCTS >= 1)) {
  throw new Error(`PRODUCTS must be a positive integer, got ${__ENV.PRODUCTS}`);
}

export const options = {
  scenarios: {
    max_throughput: {
      executor: 'constant-vus',
      vus: VUS,
      duration: DURATION,
      gracefulStop: '5s',
    },
  },
  // Only the status is checked; not keeping bodies saves the load generator CPU it shares with
  // the servers on a small machine.
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'min', 'p(50)', 'p(90)', 'p(99)', 'max'],
  thresholds: {
    http_req_failed: ['rate<0.01'],
  },
};

// One URL name for every id keeps k6's metric series bounded.
const params = { tags: { name: 'GET /api/v1/products/{id}' } };

export default function () {
  const id = Math.floor(Math.random() * PRODUCTS) + 1;
  const res = http.get(`${BASE_URL}/api/v1/products/${id}`, params);
  check(res, { 'status is 200': (r) => r.status === 200 });
}

function round(x, digits) {
  const f = 10 ** digits;
  return Math.round((x || 0) * f) / f;
}

export function handleSummary(data) {
  const m = data.metrics;
  const dur = m.http_req_duration.values;
  const result = {
    label: LABEL,
    rps: round(m.http_reqs.values.rate, 1),
    p50_ms: round(dur['p(50)'], 3),
    p99_ms: round(dur['p(99)'], 3),
    failed_rate: round(m.http_req_failed ? m.http_req_failed.values.rate : 0, 5),
    reqs: m.http_reqs.values.count,
    vus: VUS,
    duration: DURATION,
  };
  const line =
    `${LABEL}: ${result.rps} req/s, p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, ` +
    `failed ${(result.failed_rate * 100).toFixed(2)}% (${result.reqs} requests, ${VUS} VUs, ${DURATION})\n`;
  const out = { stdout: line };
  if (__ENV.SUMMARY_FILE) {
    out[__ENV.SUMMARY_FILE] = JSON.stringify(result) + '\n';
  }
  return out;
}
