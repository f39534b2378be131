// The read load of the failure drills (app/drills, `make drills`): product detail reads at a
// constant arrival rate, split by wall-clock time into the drill's phases (before, during and after
// the trouble), with every answer counted by phase, by class of read and by outcome. The drill
// decides what counts as a failure in each phase; this script only measures.
//
//   BASE_URLS     comma-separated service addresses; reads rotate over them  [http://127.0.0.1:8080]
//   RATE          reads per second                                            [500]
//   DURATION      length of the run, k6 duration text                         [45s]
//   PHASES        the phases, each name@start in Unix milliseconds, in order, e.g.
//                 before@1700000000000,during@1700000015000,after@1700000030000; a read takes
//                 the phase whose start is the latest not after the moment it is sent (before the
//                 first start: the first phase)                               [one phase "all"]
//   PRODUCTS      ids 1..PRODUCTS exist                                       [10000]
//   ZIPF_S        exponent of the Zipf distribution of the class "read"       [1.1]
//   CACHED_IDS    when set (N), the reads are of two classes: "cached", uniform over ids 1..N
//                 (which the drill warmed), and "uncached", each an id read once, counting up
//                 from UNCACHED_FROM; UNCACHED_SHARE of the reads are uncached [unset: class "read"]
//   UNCACHED_FROM first id of the uncached reads                              [CACHED_IDS + 1]
//   UNCACHED_COUNT the uncached ids are UNCACHED_FROM .. UNCACHED_FROM+UNCACHED_COUNT-1, taken in
//                 turn (each is read once while the run sends fewer reads)  [PRODUCTS - UNCACHED_FROM + 1]
//   UNCACHED_SHARE share of the uncached reads                                [0.2]
//   SEED          seed of the id generators                                   [1]
//   SUMMARY_FILE  where the JSON summary goes (the drill reads it)            [results/drill-read.json]
//
// Outcomes: ok (2xx or 304), c4xx, c5xx, s503 (503 problem+json: the documented answer of a read
// the service cannot serve), neterr (no HTTP answer: refused, reset, timed out). Metric names:
// drill_<class>_<phase>_<outcome> (counters) and drill_<class>_<phase>_ms (trends of the latency).
import http from 'k6/http';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';
import { perVU, zipf } from '../lib/ids.js';

const env = __ENV;
const baseUrls = (env.BASE_URLS || 'http://127.0.0.1:8080').split(',').map((s) => s.trim().replace(/\/$/, ''));
const rate = intEnv('RATE', 500);
const duration = env.DURATION || '45s';
const products = intEnv('PRODUCTS', 10000);
const zipfS = Number(env.ZIPF_S || '1.1');
const seed = intEnv('SEED', 1);
const cachedIds = env.CACHED_IDS ? intEnv('CACHED_IDS', 0) : 0;
const uncachedFrom = intEnv('UNCACHED_FROM', cachedIds + 1);
const uncachedCount = intEnv('UNCACHED_COUNT', Math.max(1, products - uncachedFrom + 1));
const uncachedShare = Number(env.UNCACHED_SHARE || '0.2');
const summaryFile = env.SUMMARY_FILE || 'results/drill-read.json';

function intEnv(name, def) {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got '${raw}'`);
  return n;
}

// phases: [{ name, start }] in order.
const phases = (env.PHASES || 'all@0').split(',').map((p) => {
  const [name, start] = p.split('@');
  if (!/^[a-z]+$/.test(name) || !/^[0-9]+$/.test(start || '')) {
    throw new Error(`PHASES must be name@unix-millis,…; got '${p}'`);
  }
  return { name, start: Number(start) };
});

const classes = cachedIds > 0 ? ['cached', 'uncached'] : ['read'];
const outcomes = ['ok', 'c4xx', 'c5xx', 's503', 'neterr'];
const counters = {};
const trends = {};
for (const c of classes) {
  for (const p of phases) {
    trends[`${c}_${p.name}`] = new Trend(`drill_${c}_${p.name}_ms`, true);
    for (const o of outcomes) counters[`${c}_${p.name}_${o}`] = new Counter(`drill_${c}_${p.name}_${o}`);
  }
}

export const options = {
  discardResponseBodies: false,
  summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max', 'count'],
  scenarios: {
    drill: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration,
      preAllocatedVUs: Math.max(50, Math.ceil(rate / 5)),
      maxVUs: Math.max(200, rate * 2),
      gracefulStop: '15s',
    },
  },
};

const random = perVU(seed);
const rank = zipf(products, zipfS, random);

function phaseAt(now) {
  let name = phases[0].name;
  for (const p of phases) if (now >= p.start) name = p.name;
  return name;
}

function outcome(res) {
  if (res.status === 0) return 'neterr';
  if ((res.status >= 200 && res.status < 300) || res.status === 304) return 'ok';
  if (res.status === 503 && String(res.headers['Content-Type'] || '').startsWith('application/problem+json')) return 's503';
  return res.status >= 500 ? 'c5xx' : 'c4xx';
}

export default function () {
  let cls = 'read';
  let id;
  if (cachedIds > 0) {
    if (random() < uncachedShare) {
      cls = 'uncached';
      id = uncachedFrom + (exec.scenario.iterationInTest % uncachedCount);
    } else {
      cls = 'cached';
      id = 1 + Math.floor(random() * cachedIds);
    }
  } else {
    id = rank();
  }
  const base = baseUrls[exec.scenario.iterationInTest % baseUrls.length];
  const sent = Date.now();
  const phase = phaseAt(sent);
  const res = http.get(`${base}/api/v1/products/${id}`, { timeout: '20s', tags: { name: 'detail', phase, cls } });
  counters[`${cls}_${phase}_${outcome(res)}`].add(1);
  trends[`${cls}_${phase}`].add(res.timings.duration);
}

export function handleSummary(data) {
  const out = { stdout: '' };
  const lines = [];
  for (const c of classes) {
    for (const p of phases) {
      const t = data.metrics[`drill_${c}_${p.name}_ms`];
      const parts = outcomes.map((o) => {
        const m = data.metrics[`drill_${c}_${p.name}_${o}`];
        return `${o}=${m ? m.values.count : 0}`;
      });
      const p99 = t ? t.values['p(99)'].toFixed(1) : '-';
      lines.push(`${c.padEnd(8)} ${p.name.padEnd(8)} p99=${p99}ms ${parts.join(' ')}`);
    }
  }
  out.stdout = `drill read load: ${rate}/s for ${duration}\n${lines.join('\n')}\n`;
  if (summaryFile !== 'none') out[summaryFile] = JSON.stringify(data.metrics);
  return out;
}
