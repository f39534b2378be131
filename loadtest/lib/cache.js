// Custom metrics fed from the X-Cache response header (where the service answered from), and the
// product read every scenario makes.
//
//   cache_hit_l1, cache_hit_redis   Rate: share of reads answered by that layer (HIT-L1, HIT-REDIS)
//   cache_hit_null                  Rate: share answered by a cached "not found" (HIT-NULL)
//   cache_hit_stale                 Rate: share answered by a value past its fresh-until while one
//                                   reload runs in the background (STALE; soft expiry, stale_ttl)
//   cache_bloom_reject              Rate: share the Bloom filter answered (BLOOM-REJECT)
//   cache_served                    Rate: share answered without the database (any of the above)
//   cache_misses                    Counter: reads that went to the database (MISS, BYPASS); its
//                                   rate in the summary is misses/s
//   cache_misses_window             Counter of misses tagged window=<second it started at>, for a
//                                   timeline (see timeline())
//
// A MISS is a read that found no cached value; under a breakdown lock most of them wait for
// another request's load instead of loading, so the database loads the service counts
// (cache_db_loads_total, which admin.js probeDbLoads follows) can be far fewer.
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter, Rate } from 'k6/metrics';

const hitL1 = new Rate('cache_hit_l1');
const hitRedis = new Rate('cache_hit_redis');
const hitNull = new Rate('cache_hit_null');
const hitStale = new Rate('cache_hit_stale');
const bloomReject = new Rate('cache_bloom_reject');
const served = new Rate('cache_served');
const misses = new Counter('cache_misses');
const missesWindow = new Counter('cache_misses_window');
const noHeader = new Counter('cache_header_missing');

// productName tags every product read with one URL name, so k6's series stay bounded.
export const productName = 'GET /api/v1/products/{id}';

// record counts one response's X-Cache value; at, when given, is the window (seconds from the
// timeline's start) the read fell in.
export function record(res, at) {
  const x = res.headers['X-Cache'];
  if (x === undefined) {
    if (res.status !== 0) noHeader.add(1);
    return;
  }
  hitL1.add(x === 'HIT-L1');
  hitRedis.add(x === 'HIT-REDIS');
  hitNull.add(x === 'HIT-NULL');
  hitStale.add(x === 'STALE');
  bloomReject.add(x === 'BLOOM-REJECT');
  const miss = x === 'MISS' || x === 'BYPASS';
  served.add(!miss);
  if (miss) {
    misses.add(1);
    if (at !== undefined) missesWindow.add(1, { window: at });
  }
}

// getProduct reads one product (the body is discarded unless opts.body), checks the status
// (200, or 404 when opts.missing) and records X-Cache (unless opts.record is false). opts.window
// is passed to record; opts.tags are added to the request's, opts.headers sent.
export function getProduct(baseUrl, id, opts = {}) {
  const params = {
    tags: Object.assign({ name: productName }, opts.tags || {}),
    responseType: opts.body ? 'text' : 'none',
  };
  if (opts.headers) params.headers = opts.headers;
  if (opts.missing) params.responseCallback = http.expectedStatuses(200, 404);
  const res = http.get(`${baseUrl}/api/v1/products/${id}`, params);
  const want = opts.missing ? 404 : 200;
  check(res, { [`status is ${want}`]: (r) => r.status === want });
  if (opts.record !== false) record(res, opts.window);
  return res;
}

// timeline cuts a run into windows of width seconds; window() names the one a moment falls in
// (now by default), as the zero-padded second it starts at ("0005"), counted from start (ms since
// the epoch; default: the scenario's start). thresholds() returns a no-op threshold per window of
// each timeline metric, which makes k6 keep the per-window counts in its summary
// (cache_misses_window{window:0005}, db_loads_window{window:0005}).
export function timeline(width, total) {
  const n = Math.ceil(total / width) + 1;
  const label = (i) => String(i * width).padStart(4, '0');
  return {
    width,
    window(start, now = Date.now()) {
      const from = start === undefined ? exec.scenario.startTime : start;
      const i = Math.max(0, Math.min(n - 1, Math.floor((now - from) / 1000 / width)));
      return label(i);
    },
    thresholds() {
      const t = {};
      for (let i = 0; i < n; i++) {
        t[`cache_misses_window{window:${label(i)}}`] = ['count>=0'];
        t[`db_loads_window{window:${label(i)}}`] = ['count>=0'];
      }
      return t;
    },
  };
}

// versionOf reads the version from an ETag "<id>-<version>", or NaN.
export function versionOf(res) {
  const m = /^(?:W\/)?"\d+-(\d+)"$/.exec(res.headers.Etag || '');
  return m ? Number(m[1]) : NaN;
}
