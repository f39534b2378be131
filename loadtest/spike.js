// spike: the read workload of read.js (Zipf over the catalogue) ramped from RATE/s to PEAK_RATE/s
// over RAMP, held for HOLD, and brought back to RATE over RAMP_DOWN (ramping-arrival-rate): how
// far each preset goes before latency or errors give way. Requests carry a phase tag (ramp, hold,
// down) and the summary gives the p99 of each; dropped iterations mean k6 could not start
// requests on time (no free VU: the service, or the machine, was at its limit).
//
//   k6 run -e PRESET=full loadtest/spike.js
//   k6 run -e PRESET=none -e PEAK_RATE=1500 -e HOLD=1m loadtest/spike.js
//
// Knobs (besides lib/config.js): PEAK_RATE [5 × RATE]; RAMP [30s]; HOLD [30s]; RAMP_DOWN [10s].
// DURATION is not used: the run lasts RAMP + HOLD + RAMP_DOWN.
import { load, int, duration, seconds } from './lib/config.js';
import { catalogueZipf } from './lib/ids.js';
import { getProduct } from './lib/cache.js';
import { prepare, finish } from './lib/admin.js';
import { thresholds } from './lib/thresholds.js';
import { summary, trendStats, requestCount } from './lib/summary.js';
import exec from 'k6/execution';

const cfg = load('spike');
const peak = int(cfg.env, 'PEAK_RATE', cfg.rate * 5);
const ramp = duration(cfg.env, 'RAMP', '30s');
const hold = duration(cfg.env, 'HOLD', '30s');
const rampDown = duration(cfg.env, 'RAMP_DOWN', '10s');
const [rampS, holdS] = [seconds(ramp), seconds(hold)];
cfg.durationS = rampS + holdS + seconds(rampDown);
cfg.duration = `${cfg.durationS}s`;
const nextId = catalogueZipf(cfg);
const phases = ['ramp', 'hold', 'down'];

export const options = {
  scenarios: {
    spike: {
      executor: 'ramping-arrival-rate', exec: 'read', startRate: cfg.rate, timeUnit: '1s',
      stages: [{ target: peak, duration: ramp }, { target: peak, duration: hold }, { target: cfg.rate, duration: rampDown }],
      preAllocatedVUs: Math.ceil(peak * 0.3) + 20, maxVUs: peak + 200, gracefulStop: '10s',
    },
  },
  thresholds: thresholds(cfg, Object.assign(requestCount(cfg),
    Object.fromEntries(phases.map((p) => [`http_req_duration{phase:${p}}`, ['max>=0']])))),
  tags: { testid: cfg.testid },
  summaryTrendStats: trendStats,
  discardResponseBodies: true,
};

export function setup() {
  return prepare(cfg);
}

function phase() {
  const s = (Date.now() - exec.scenario.startTime) / 1000;
  return s < rampS ? 'ramp' : s < rampS + holdS ? 'hold' : 'down';
}

export function read() {
  getProduct(cfg.baseUrl, nextId(), { tags: { phase: phase() } });
}

export function teardown(state) {
  finish(cfg, state);
}

export const handleSummary = summary(cfg, (data) => {
  const p99 = {};
  for (const p of phases) {
    const m = data.metrics[`http_req_duration{phase:${p}}`];
    p99[p] = m ? Math.round(m.values['p(99)'] * 10) / 10 : null;
  }
  return {
    fields: { peak_rate: peak, offered: `${cfg.rate}→${peak}/s`, p99_ramp_ms: p99.ramp, p99_hold_ms: p99.hold, p99_down_ms: p99.down },
    lines: [`${cfg.rate}/s → ${peak}/s over ${ramp}, held ${hold}, down over ${rampDown}; p99 ramp ${p99.ramp} ms, ` +
      `hold ${p99.hold} ms, down ${p99.down} ms`],
  };
});
