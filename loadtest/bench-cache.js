// GET /api/v1/products/{id} with Zipf-distributed ids, used by loadtest/bench-cache.sh (make bench)
// to measure product-service under each cache preset and the bare baselines under the same load.
//
// MODE=rate: open model, RATE requests per second (constant-arrival-rate) for DURATION, whatever
// the latency; k6 counts iterations it could not start on time as dropped_iterations.
// MODE=max: closed model, VUS virtual users each sending the next request as soon as the previous
// answers, for DURATION: the highest throughput the target sustains.
//
// Ids: rank r (1 = most requested) is drawn with probability ∝ r^-ZIPF_S from 1..RANKS. The ids of
// HOT_IDS_FILE (one per line, e.g. the products flagged is_hot) take ranks 1..n in file order, the
// other ids of 1..PRODUCTS the following ranks in ascending order; without the file, rank r is id r.
// RANKS below PRODUCTS keeps the load on the most requested ids (e.g. only the hot ones).
//
// The X-Cache response header is counted per value (x_cache_hit_l1, x_cache_miss, …; x_cache_none
// when absent, as from a baseline), and the latency of the requests the cache answered (any HIT-*
// or BLOOM-REJECT) is the Trend cache_hit_req_duration.
//
// Env: BASE_URL (required), MODE (rate), RATE (500), VUS (32), DURATION (15s), PRODUCTS (100000),
// RANKS (PRODUCTS), ZIPF_S (1.1), HOT_IDS_FILE (none), PRE_VUS (VUs allocated before a rate run:
// RATE/4 + 50, enough for a quarter of a second each), MAX_VUS (max(RATE, PRE_VUS)), LABEL,
// SUMMARY_FILE (where to write the one-line JSON summary; none when unset).
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';

const BASE_URL = (__ENV.BASE_URL || '').replace(/\/+$/, '');
const MODE = __ENV.MODE || 'rate';
const RATE = int('RATE', 500);
const VUS = int('VUS', 32);
const DURATION = __ENV.DURATION || '15s';
const PRODUCTS = int('PRODUCTS', 100000);
const RANKS = int('RANKS', PRODUCTS);
const ZIPF_S = parseFloat(__ENV.ZIPF_S || '1.1');
const PRE_VUS = int('PRE_VUS', Math.ceil(RATE / 4) + 50);
const MAX_VUS = int('MAX_VUS', Math.max(RATE, PRE_VUS));
const LABEL = __ENV.LABEL || BASE_URL;

function int(name, def) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return def;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got '${raw}'`);
  return v;
}

if (!BASE_URL) throw new Error('BASE_URL is required, e.g. BASE_URL=http://127.0.0.1:8080');
if (MODE !== 'rate' && MODE !== 'max') throw new Error(`MODE must be rate or max, got '${MODE}'`);
if (RANKS > PRODUCTS) throw new Error(`RANKS (${RANKS}) must not exceed PRODUCTS (${PRODUCTS})`);
if (!(ZIPF_S > 0)) throw new Error(`ZIPF_S must be a positive number, got '${__ENV.ZIPF_S}'`);

// zipfSampler draws ranks 1..n with P(k) ∝ k^-s in O(1) time and memory: rejection-inversion
// sampling (W. Hörmann, G. Derflinger, "Rejection-inversion to generate variates from monotone
// discrete distributions", 1996), as in Apache Commons RNG's RejectionInversionZipfSampler. It
// needs no table, so every VU's init stays cheap.
function zipfSampler(n, s) {
  // helper1(x) = log1p(x)/x and helper2(x) = expm1(x)/x, with their limits near 0 (s close to 1).
  const helper1 = (x) => (Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x * (0.5 - x * (1 / 3 - 0.25 * x)));
  const helper2 = (x) => (Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + (x / 3) * (1 + 0.25 * x)));
  const h = (x) => Math.exp(-s * Math.log(x));
  // hIntegral is an antiderivative of h; hIntegralInverse its inverse.
  const hIntegral = (x) => {
    const logX = Math.log(x);
    return helper2((1 - s) * logX) * logX;
  };
  const hIntegralInverse = (x) => {
    let t = x * (1 - s);
    if (t < -1) t = -1; // rounding can push t just past the domain of log1p
    return Math.exp(helper1(t) * x);
  };
  const hIntegralX1 = hIntegral(1.5) - 1;
  const hIntegralN = hIntegral(n + 0.5);
  const squeeze = 2 - hIntegralInverse(hIntegral(2.5) - h(2));
  return () => {
    for (;;) {
      const u = hIntegralN + Math.random() * (hIntegralX1 - hIntegralN);
      const x = hIntegralInverse(u);
      const k = Math.min(Math.max(Math.floor(x + 0.5), 1), n);
      if (k - x <= squeeze || u >= hIntegral(k + 0.5) - h(k)) return k;
    }
  };
}

// hotIDs reads HOT_IDS_FILE: distinct ids in 1..PRODUCTS, in rank order.
function hotIDs() {
  if (!__ENV.HOT_IDS_FILE) return [];
  const seen = new Set();
  const ids = [];
  for (const line of open(__ENV.HOT_IDS_FILE).split('\n')) {
    const id = Number(line.trim());
    if (line.trim() === '') continue;
    if (!Number.isInteger(id) || id < 1 || id > PRODUCTS) {
      throw new Error(`HOT_IDS_FILE: '${line}' is not an id in 1..${PRODUCTS}`);
    }
    if (!seen.has(id)) {
      seen.add(id);
      ids.push(id);
    }
  }
  return ids;
}

const hot = hotIDs();
const hotSorted = hot.slice().sort((a, b) => a - b);

// hotAtMost counts the hot ids ≤ id.
function hotAtMost(id) {
  let lo = 0;
  let hi = hotSorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (hotSorted[mid] <= id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// idOfRank maps a rank to an id: the hot ids first, then the n-th other id, the smallest id with
// n other ids at or below it.
function idOfRank(rank) {
  if (rank <= hot.length) return hot[rank - 1];
  const n = rank - hot.length;
  let lo = n;
  let hi = n + hotSorted.length;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (mid - hotAtMost(mid) >= n) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

const nextRank = zipfSampler(RANKS, ZIPF_S);

const scenario =
  MODE === 'rate'
    ? {
        executor: 'constant-arrival-rate',
        rate: RATE,
        timeUnit: '1s',
        duration: DURATION,
        preAllocatedVUs: PRE_VUS,
        maxVUs: MAX_VUS,
        gracefulStop: '5s',
      }
    : { executor: 'constant-vus', vus: VUS, duration: DURATION, gracefulStop: '5s' };

export const options = {
  scenarios: { products: scenario },
  // Only the status and X-Cache are read; not keeping bodies saves the load generator CPU it
  // shares with the servers on a small machine.
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'min', 'p(50)', 'p(95)', 'p(99)', 'max'],
  thresholds: {
    http_req_failed: ['rate<0.01'],
  },
};

// The X-Cache values, each with its counter.
const xCache = {
  'HIT-L1': new Counter('x_cache_hit_l1'),
  'HIT-REDIS': new Counter('x_cache_hit_redis'),
  'HIT-NULL': new Counter('x_cache_hit_null'),
  'BLOOM-REJECT': new Counter('x_cache_bloom_reject'),
  MISS: new Counter('x_cache_miss'),
  BYPASS: new Counter('x_cache_bypass'),
};
const xCacheNone = new Counter('x_cache_none'); // no header: a baseline
const xCacheOther = new Counter('x_cache_other');
const hitDuration = new Trend('cache_hit_req_duration', true);

// One URL name for every id keeps k6's metric series bounded.
const params = { tags: { name: 'GET /api/v1/products/{id}' } };

export default function () {
  const id = idOfRank(nextRank());
  const res = http.get(`${BASE_URL}/api/v1/products/${id}`, params);
  check(res, { 'status is 200': (r) => r.status === 200 });
  const result = res.headers['X-Cache'];
  if (result === undefined) {
    xCacheNone.add(1);
    return;
  }
  const counter = xCache[result];
  if (counter === undefined) {
    xCacheOther.add(1);
    return;
  }
  counter.add(1);
  if (result.startsWith('HIT-') || result === 'BLOOM-REJECT') hitDuration.add(res.timings.duration);
}

function round(x, digits) {
  const f = 10 ** digits;
  return Math.round((x || 0) * f) / f;
}

function count(metrics, name) {
  return metrics[name] ? metrics[name].values.count : 0;
}

export function handleSummary(data) {
  const m = data.metrics;
  const dur = m.http_req_duration.values;
  const hit = m.cache_hit_req_duration ? m.cache_hit_req_duration.values : {};
  const result = {
    label: LABEL,
    mode: MODE,
    rps: round(m.http_reqs.values.rate, 1),
    p50_ms: round(dur['p(50)'], 3),
    p95_ms: round(dur['p(95)'], 3),
    p99_ms: round(dur['p(99)'], 3),
    hit_p99_ms: round(hit['p(99)'], 3),
    failed_rate: round(m.http_req_failed ? m.http_req_failed.values.rate : 0, 5),
    reqs: m.http_reqs.values.count,
    dropped: count(m, 'dropped_iterations'),
    duration_s: round(data.state.testRunDurationMs / 1000, 3),
    x_hit_l1: count(m, 'x_cache_hit_l1'),
    x_hit_redis: count(m, 'x_cache_hit_redis'),
    x_hit_null: count(m, 'x_cache_hit_null'),
    x_bloom_reject: count(m, 'x_cache_bloom_reject'),
    x_miss: count(m, 'x_cache_miss'),
    x_bypass: count(m, 'x_cache_bypass'),
    x_none: count(m, 'x_cache_none'),
    x_other: count(m, 'x_cache_other'),
  };
  const load = MODE === 'rate' ? `${RATE}/s offered` : `${VUS} VUs`;
  const line =
    `${LABEL}: ${result.rps} req/s (${load}), p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, ` +
    `failed ${(result.failed_rate * 100).toFixed(2)}%, ${result.dropped} dropped, ${result.reqs} requests\n`;
  const out = { stdout: line };
  if (__ENV.SUMMARY_FILE) {
    out[__ENV.SUMMARY_FILE] = JSON.stringify(result) + '\n';
  }
  return out;
}
