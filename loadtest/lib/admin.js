// The service's admin API (README "Cache lab"), with ADMIN_TOKEN. Every call is tagged
// name=admin, so it stays out of the scenarios' own request metrics, and fails the run with a
// message when the service refuses it.
import http from 'k6/http';
import { fail } from 'k6';
import { Counter } from 'k6/metrics';

// admin returns the admin calls against cfg.baseUrl.
export function admin(cfg) {
  const base = `${cfg.baseUrl}/api/v1/admin`;
  const params = (extra = {}) =>
    Object.assign(
      {
        headers: { Authorization: `Bearer ${cfg.adminToken}`, 'Content-Type': 'application/json' },
        tags: { name: 'admin' },
        timeout: '120s',
        responseType: 'text', // the scripts discard bodies by default
      },
      extra,
    );
  const call = (method, path, body) => {
    const res = http.request(method, `${base}${path}`, body === undefined ? null : JSON.stringify(body), params());
    if (res.status < 200 || res.status > 299) {
      fail(`${method} /api/v1/admin${path} answered ${res.status}: ${String(res.body).slice(0, 300)}` +
        (res.status === 401 || res.status === 403 ? ' (set ADMIN_TOKEN to the service\'s token)' : ''));
    }
    return res.status === 204 || !res.body ? null : res.json();
  };
  return {
    // policy returns { policy, status, presets }.
    policy: () => call('GET', '/cache'),
    // setPolicy applies a patch such as { preset: 'naive' } or { ttl: '20s' }.
    setPolicy: (patch) => call('PUT', '/cache', patch),
    reset: () => call('POST', '/cache/reset'),
    warmup: () => call('POST', '/cache/warmup'),
    // evict drops one product from every layer, as if it expired.
    evict: (id) => call('DELETE', `/cache/products/${id}`),
    setFaults: (faults) => call('PUT', '/faults', faults),
    clearFaults: () => call('DELETE', '/faults'),
  };
}

// restorable returns the patch that puts back a policy read with admin(cfg).policy().policy: its
// preset when it is a named one, else every switch.
export function restorable(policy) {
  if (policy.preset !== 'custom') return { preset: policy.preset };
  const p = Object.assign({}, policy);
  delete p.preset;
  return p;
}

// dbLoads sums cache_db_loads_total on the service's /metrics (one instance; behind a balancer it
// reads whichever answers).
export function dbLoads(cfg) {
  const res = http.get(`${cfg.baseUrl}/metrics`, { tags: { name: 'metrics' }, timeout: '10s', responseType: 'text' });
  if (res.status !== 200) return NaN;
  let sum = 0;
  for (const line of res.body.split('\n')) {
    const m = /^cache_db_loads_total\{[^}]*\} (\S+)/.exec(line);
    if (m) sum += Number(m[1]);
  }
  return sum;
}

// serviceDbLoads is fed by finish(): the database loads the service counted during the run.
const serviceDbLoads = new Counter('service_db_loads');

// prepare is the common setup(): with PRESET and a token, make PRESET the policy in force (the
// thresholds assume it); with RESET=1, empty the cache namespace. It returns the policy in force
// before (null when neither was asked), so teardown can restore it, and the service's database
// loads so far.
export function prepare(cfg) {
  const a = admin(cfg);
  let before = null;
  if (cfg.preset !== '' || cfg.reset) {
    before = a.policy().policy;
    if (cfg.preset !== '' && before.preset !== cfg.preset) {
      console.log(`${cfg.name}: switching the cache policy from ${before.preset} to ${cfg.preset}`);
      a.setPolicy({ preset: cfg.preset });
    }
    if (cfg.reset) a.reset();
  }
  // NaN does not survive setup()'s JSON: null stands for "unknown".
  const loads = cfg.replicas === 1 ? dbLoads(cfg) : NaN;
  return { before, dbLoads: Number.isNaN(loads) ? null : loads };
}

// finish is the common teardown(): it counts the database loads the service made since prepare
// (service_db_loads; one instance only: behind a balancer /metrics is any replica's).
export function finish(cfg, state) {
  if (!state || typeof state.dbLoads !== 'number') return;
  const now = dbLoads(cfg);
  if (!Number.isNaN(now)) serviceDbLoads.add(now - state.dbLoads);
}

// probeDbLoads is the body of a one-VU scenario run every line.width seconds (see probeScenario):
// it reads the service's database loads and counts those made since its last look in
// db_loads_window, in the window the interval started in. One instance only.
const dbLoadsWindow = new Counter('db_loads_window');
let lastLoads = NaN;
export function probeDbLoads(cfg, line, start) {
  const now = Date.now();
  const loads = dbLoads(cfg);
  if (!Number.isNaN(lastLoads) && !Number.isNaN(loads)) {
    dbLoadsWindow.add(loads - lastLoads, { window: line.window(start, now - (line.width * 1000) / 2) });
  }
  lastLoads = loads;
}

// probeScenario runs the function exec every width seconds for the run, on one VU.
export function probeScenario(cfg, exec, width) {
  return {
    executor: 'constant-arrival-rate', exec, rate: 1, timeUnit: `${width}s`, duration: cfg.duration,
    preAllocatedVUs: 1, maxVUs: 1,
  };
}
