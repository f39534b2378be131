// handleSummary for the scenario scripts: a readable text summary on stdout, and a JSON document
// (k6's whole summary data plus a "derived" block of the figures the comparison reads) written to
// cfg.summaryFile (SUMMARY_FILE; results/<script>-<testid>.json by default).

const stats = ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'p(99.9)', 'max'];

// trendStats is the summaryTrendStats every script uses.
export const trendStats = stats;

function metric(data, name) {
  return data.metrics[name] ? data.metrics[name].values : undefined;
}

function round(x, digits = 3) {
  if (x === undefined || x === null || Number.isNaN(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// derive extracts the comparison's figures from k6's summary data.
export function derive(cfg, data, extra = {}) {
  const s = cfg.name;
  const dur = metric(data, `http_req_duration{scenario:${s}}`) || {};
  const failed = metric(data, `http_req_failed{scenario:${s}}`) || {};
  const reqs = metric(data, `http_reqs{scenario:${s}}`) || {};
  const rate = (name) => {
    const v = metric(data, name);
    return v ? round(v.rate, 5) : null;
  };
  const count = (name) => {
    const v = metric(data, name);
    return v ? v.count : 0;
  };
  const windows = { misses: {}, db_loads: {} };
  for (const name of Object.keys(data.metrics)) {
    const m = /^(cache_misses|db_loads)_window\{window:(\d+)\}$/.exec(name);
    if (m) windows[m[1] === 'cache_misses' ? 'misses' : 'db_loads'][m[2]] = data.metrics[name].values.count;
  }
  const thresholds = [];
  for (const name of Object.keys(data.metrics)) {
    const t = data.metrics[name].thresholds;
    if (!t) continue;
    for (const expr of Object.keys(t)) {
      // ">=0" thresholds only keep a sub-metric in the summary; they are not targets.
      if (!/>=0$/.test(expr)) thresholds.push({ metric: name, expr, ok: t[expr].ok });
    }
  }
  const runS = data.state.testRunDurationMs / 1000;
  return Object.assign(
    {
      scenario: s,
      testid: cfg.testid,
      preset: cfg.preset || null,
      base_url: cfg.baseUrl,
      rate: cfg.rate,
      duration_s: cfg.durationS,
      run_s: round(runS),
      requests: reqs.count || 0,
      rps: round(reqs.count ? reqs.count / cfg.durationS : 0, 1),
      p50_ms: round(dur.med),
      p95_ms: round(dur['p(95)']),
      p99_ms: round(dur['p(99)']),
      p999_ms: round(dur['p(99.9)']),
      max_ms: round(dur.max),
      failed_rate: round(failed.rate || 0, 5),
      dropped: count('dropped_iterations'),
      hit_l1: rate('cache_hit_l1'),
      hit_redis: rate('cache_hit_redis'),
      hit_null: rate('cache_hit_null'),
      hit_stale: rate('cache_hit_stale'),
      bloom_reject: rate('cache_bloom_reject'),
      served: rate('cache_served'),
      misses: count('cache_misses'),
      misses_per_s: round(count('cache_misses') / cfg.durationS, 2),
      stale_reads: data.metrics.stale_reads ? count('stale_reads') : null,
      setup_db_loads: count('setup_db_loads'),
      service_db_loads: data.metrics.service_db_loads ? count('service_db_loads') : null,
      windows,
      window_s: extra.windowS || null,
      thresholds,
      thresholds_ok: thresholds.every((t) => t.ok),
    },
    extra.fields || {},
  );
}

function pct(x) {
  return x === null ? '-' : `${(x * 100).toFixed(1)}%`;
}

// text renders the derived figures for a person.
export function text(d, lines = []) {
  const out = [];
  out.push(`${d.scenario} (testid ${d.testid}, preset ${d.preset || 'not given'}) against ${d.base_url}`);
  const offered = d.offered || `${d.rate}/s`;
  out.push(`  ${d.requests} requests in ${d.duration_s}s at ${offered} offered (${d.rps}/s on average, ${d.dropped} dropped)`);
  out.push(`  latency p50 ${d.p50_ms} ms, p95 ${d.p95_ms} ms, p99 ${d.p99_ms} ms, p99.9 ${d.p999_ms} ms, max ${d.max_ms} ms; failed ${pct(d.failed_rate)}`);
  if (d.served !== null) {
    out.push(`  X-Cache: L1 ${pct(d.hit_l1)}, Redis ${pct(d.hit_redis)}, stale ${pct(d.hit_stale)}, null ${pct(d.hit_null)}, Bloom ${pct(d.bloom_reject)}` +
      ` → answered without the database ${pct(d.served)}; ${d.misses} misses (${d.misses_per_s}/s)`);
  }
  if (d.service_db_loads !== null) {
    out.push(`  database loads counted by the service: ${d.service_db_loads} (${(d.service_db_loads / d.duration_s).toFixed(1)}/s)`);
  }
  if (d.stale_reads !== null) out.push(`  stale reads: ${d.stale_reads}`);
  for (const l of lines) out.push(`  ${l}`);
  for (const [what, w] of [['X-Cache misses', d.windows.misses], ['database loads', d.windows.db_loads]]) {
    const keys = Object.keys(w).sort();
    if (keys.length === 0 || keys.every((k) => w[k] === 0)) continue;
    const per = keys.map((k) => w[k] / d.window_s);
    const peak = Math.max(...per, 1);
    const bars = '▁▂▃▄▅▆▇█';
    const spark = per.map((v) => bars[Math.min(7, Math.floor((v / peak) * 7.999))]).join('');
    out.push(`  ${what}/s, ${d.window_s}s windows from ${Number(keys[0])}s: ${spark} (peak ${Math.round(peak)}/s)`);
  }
  for (const t of d.thresholds) out.push(`  ${t.ok ? 'ok  ' : 'FAIL'} ${t.metric} ${t.expr}`);
  return out.join('\n') + '\n';
}

// summary returns a handleSummary for the script; extra(data) may return { fields, lines, windowS }.
export function summary(cfg, extra = () => ({})) {
  return (data) => {
    const e = extra(data) || {};
    const d = derive(cfg, data, e);
    const out = { stdout: text(d, e.lines || []) };
    if (cfg.summaryFile !== 'none') {
      out[cfg.summaryFile] = JSON.stringify({ derived: d, k6: data }, null, 1) + '\n';
    }
    return out;
  };
}

// requestCount is the no-op threshold that keeps the scenario's request count in the summary.
export function requestCount(cfg) {
  return { [`http_reqs{scenario:${cfg.name}}`]: ['count>=0'] };
}
