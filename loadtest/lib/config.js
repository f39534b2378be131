// Settings shared by the scenario scripts, read once from __ENV and validated: a bad value stops
// the run at start-up with a message that names the variable.
//
//   BASE_URL     the service (or the balancer in front of it)          [http://localhost:8080]
//   RATE         requests per second of the main scenario              [500]
//   DURATION     length of the main scenario, k6 duration text         [per script]
//   ADMIN_TOKEN  bearer token of the admin API                         [dev-admin-token]
//   PRESET       the cache preset in force (one of PRESETS below); it picks
//                the thresholds, and with ADMIN_TOKEN setup() switches the service to it when
//                another preset is in force. Unset: lenient thresholds, the policy is left alone.
//   RESET        1: setup() empties the cache namespace first (POST /api/v1/admin/cache/reset) [0]
//   TESTID       the testid tag of every sample, and part of the summary file's name
//                [<script>-<preset or "any">]
//   SEED         seed of the id generators; the same seed draws the same ids on each VU [1]
//   PRODUCTS     the catalogue holds ids 1..PRODUCTS                    [100000]
//   ZIPF_S       exponent of the Zipf id distributions                  [1.1]
//   HOT_IDS_FILE ids (one a line, e.g. the products flagged is_hot) that take the first Zipf ranks
//   REPLICAS     instances behind BASE_URL; above 1, only the presets without an L1 claim strict
//                consistency (see claimsConsistency)                 [1]
//   SUMMARY_FILE where handleSummary writes its JSON; "none" writes none
//                [$RESULTS_DIR/<script>-<testid>.json]
//   RESULTS_DIR  the directory of the default SUMMARY_FILE; it must exist (k6 creates no
//                directory; a failed write is logged, the run still counts) [results]
//
// Each script documents its own extra knobs.

// PRESETS lists the service's presets, from least to most protection: cache.PresetNames() in
// app/internal/cache (compare's TestPresetsMatchTheService keeps the two lists equal).
export const PRESETS = ['none', 'naive', 'protected', 'two-level', 'full', 'xfetch', 'tail'];

// load reads the shared settings for the script named name; defaults overrides per-script
// defaults (e.g. { DURATION: '10m' }).
export function load(name, defaults = {}) {
  const env = Object.assign({}, defaults, definedOnly(__ENV));
  const preset = str(env, 'PRESET', '');
  if (preset !== '' && !PRESETS.includes(preset)) {
    throw new Error(`PRESET must be one of ${PRESETS.join(', ')}, got '${preset}'`);
  }
  const cfg = {
    name,
    baseUrl: url(env, 'BASE_URL', 'http://localhost:8080'),
    rate: int(env, 'RATE', 500),
    duration: duration(env, 'DURATION', '30s'),
    adminToken: str(env, 'ADMIN_TOKEN', 'dev-admin-token'),
    preset,
    reset: flag(env, 'RESET', false),
    seed: int(env, 'SEED', 1, 0),
    products: int(env, 'PRODUCTS', 100000),
    zipfS: positive(env, 'ZIPF_S', 1.1),
    hotIdsFile: str(env, 'HOT_IDS_FILE', ''),
    replicas: int(env, 'REPLICAS', 1),
  };
  cfg.testid = str(env, 'TESTID', `${name}-${preset || 'any'}`);
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(cfg.testid)) {
    throw new Error(`TESTID must be letters, digits and ._:- (at most 128), got '${cfg.testid}'`);
  }
  cfg.summaryFile = str(env, 'SUMMARY_FILE', `${str(env, 'RESULTS_DIR', 'results')}/${name}-${cfg.testid}.json`);
  cfg.durationS = seconds(cfg.duration);
  cfg.env = env;
  return cfg;
}

// claimsConsistency tells whether a preset promises that a read never returns an older version
// than one already acknowledged or seen. Every preset invalidates Redis and the writing instance's
// L1 before a write answers, so on one instance all claim it (none trivially: it caches nothing).
// With several replicas, another replica's L1 keeps the old value for the pub/sub lag (about 1 ms,
// cache_l1_invalidation_lag_seconds), so two-level and full only claim it up to that window.
export function claimsConsistency(cfg) {
  if (cfg.preset === '') return false;
  if (cfg.replicas > 1) return ['none', 'naive', 'protected'].includes(cfg.preset);
  return true;
}

// vus returns preAllocatedVUs and maxVUs for an arrival rate whose slowest requests may take
// slowS seconds: enough VUs are allocated before the run that k6 seldom has to add any mid-run.
export function vus(rate, slowS = 0.4) {
  const pre = Math.ceil(rate * slowS) + 20;
  return { preAllocatedVUs: pre, maxVUs: Math.max(pre, Math.ceil(rate * 2) + 50) };
}

// seconds converts k6 duration text (1h2m3s, 500ms, 1.5s) into seconds.
export function seconds(text) {
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let used = 0;
  let m;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
    used += m[0].length;
  }
  if (used !== text.length || used === 0) throw new Error(`'${text}' is not a duration such as 30s, 1m or 1m30s`);
  return total;
}

function definedOnly(env) {
  const out = {};
  for (const k of Object.keys(env)) if (env[k] !== undefined && env[k] !== '') out[k] = env[k];
  return out;
}

export function str(env, name, def) {
  return env[name] === undefined ? def : String(env[name]);
}

export function int(env, name, def, min = 1) {
  const raw = env[name];
  if (raw === undefined) return def;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer ≥ ${min}, got '${raw}'`);
  return v;
}

export function positive(env, name, def) {
  const raw = env[name];
  if (raw === undefined) return def;
  const v = Number(raw);
  if (!(v > 0) || !Number.isFinite(v)) throw new Error(`${name} must be a positive number, got '${raw}'`);
  return v;
}

export function duration(env, name, def) {
  const v = str(env, name, def);
  try {
    if (seconds(v) <= 0) throw new Error('not positive');
  } catch (e) {
    throw new Error(`${name} must be a positive duration such as 30s, 1m or 1m30s, got '${v}'`);
  }
  return v;
}

export function flag(env, name, def) {
  const raw = env[name];
  if (raw === undefined) return def;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new Error(`${name} must be 0 or 1, got '${raw}'`);
}

function url(env, name, def) {
  const v = str(env, name, def).replace(/\/+$/, '');
  if (!/^https?:\/\/[^\s/]+$/.test(v)) throw new Error(`${name} must be http(s)://host[:port], got '${v}'`);
  return v;
}

// constantRate is the main scenario of a script: cfg.rate iterations per second for cfg.duration,
// running the exported function exec, with enough VUs pre-allocated for requests of slowS seconds.
export function constantRate(cfg, exec, slowS = 0.4) {
  return Object.assign(
    { executor: 'constant-arrival-rate', exec, rate: cfg.rate, timeUnit: '1s', duration: cfg.duration, gracefulStop: '10s' },
    vus(cfg.rate, slowS),
  );
}
