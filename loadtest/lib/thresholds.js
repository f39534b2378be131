// Thresholds of each scenario, by the preset in force (PRESET). They are the targets the
// comparison expects to hold on one service with DB_SIMULATED_LATENCY=200ms at RATE=500:
//
//   - http_req_failed < 1 % on the scenario's requests, everywhere;
//   - p99 of the scenario's requests under a target that depends on the preset: a request the
//     cache does not answer waits for the database (200 ms), so where more than 1 % of requests
//     miss (every preset on a cold Zipf workload, `none` everywhere, `naive` on unknown ids) the
//     target is set above one database load, and where the cache answers almost everything (the
//     Bloom filter on unknown ids) it is tight;
//   - stale_reads == 0 where the preset claims consistency (config.js claimsConsistency).
//
// Without PRESET the lenient column applies.
import { claimsConsistency } from './config.js';

// p99Ms[scenario][preset]: the p99 target in milliseconds; "any" is the lenient column.
export const p99Ms = {
  read: { none: 1000, naive: 750, protected: 750, 'two-level': 750, full: 750, any: 1000 },
  breakdown: { none: 1000, naive: 750, protected: 750, 'two-level': 750, full: 750, any: 1000 },
  avalanche: { none: 1000, naive: 750, protected: 750, 'two-level': 750, full: 750, any: 1000 },
  penetration: { none: 1000, naive: 750, protected: 100, 'two-level': 100, full: 100, any: 1000 },
  consistency: { none: 1000, naive: 750, protected: 750, 'two-level': 750, full: 750, any: 1000 },
  spike: { none: 2000, naive: 1500, protected: 1500, 'two-level': 1500, full: 1500, any: 2000 },
  soak: { none: 1000, naive: 750, protected: 750, 'two-level': 750, full: 750, any: 1000 },
  // A closed loop at saturation: latency is queueing, the figure is the rate.
  throughput: { none: 2000, naive: 2000, protected: 2000, 'two-level': 2000, full: 2000, any: 2000 },
};

// thresholds returns k6 thresholds for the script's main scenario (named like the script), plus
// extra. The p50 and p95 of the scenario come along in the summary, since k6 keeps every
// statistic of a thresholded sub-metric.
export function thresholds(cfg, extra = {}) {
  const s = cfg.name;
  const target = p99Ms[s][cfg.preset || 'any'];
  const t = {
    [`http_req_failed{scenario:${s}}`]: ['rate<0.01'],
    [`http_req_duration{scenario:${s}}`]: [`p(99)<${target}`],
  };
  return Object.assign(t, extra);
}

// staleThreshold returns stale_reads == 0 where the preset claims consistency, else a no-op that
// keeps the count in the summary.
export function staleThreshold(cfg) {
  return { stale_reads: [claimsConsistency(cfg) ? 'count==0' : 'count>=0'] };
}
