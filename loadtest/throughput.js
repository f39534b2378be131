// throughput: the most product reads per second the service (or the balancer in front of its
// replicas) answers. Closed model: VUS virtual users each send the next Zipf(ZIPF_S) read as soon
// as the previous one answered, for DURATION; no arrival rate is imposed, so rps in the summary is
// the throughput. make scale runs it through the native balancer with one replica and with all of
// them (app/cmd/compare -throughput).
//
//   k6 run -e VUS=64 -e DURATION=20s loadtest/throughput.js
//
// Knobs (besides lib/config.js, whose RATE it ignores): VUS closed-loop virtual users [64].
import { load, int } from './lib/config.js';
import { catalogueZipf } from './lib/ids.js';
import { getProduct } from './lib/cache.js';
import { prepare, finish } from './lib/admin.js';
import { thresholds } from './lib/thresholds.js';
import { summary, trendStats, requestCount } from './lib/summary.js';

const cfg = load('throughput', { DURATION: '20s' });
const vus = int(cfg.env, 'VUS', 64);
const nextId = catalogueZipf(cfg);

export const options = {
  scenarios: { throughput: { executor: 'constant-vus', exec: 'throughput', vus, duration: cfg.duration, gracefulStop: '5s' } },
  thresholds: thresholds(cfg, requestCount(cfg)),
  tags: { testid: cfg.testid },
  summaryTrendStats: trendStats,
  discardResponseBodies: true,
};

export function setup() {
  return prepare(cfg);
}

export function teardown(state) {
  finish(cfg, state);
}

export function throughput() {
  getProduct(cfg.baseUrl, nextId());
}

export const handleSummary = summary(cfg);
