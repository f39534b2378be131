// Id distributions: Zipf over ranks, uniform over a range, and a hot set. Each draws from a seeded
// generator of its own per VU (seed SEED and the VU's number), so a run with the same SEED and the
// same VUs draws the same ids: the distributions are fixed, not Math.random's.
import exec from 'k6/execution';

// rng returns a pseudo-random generator of floats in [0, 1) seeded by seed (sfc32 fed by
// splitmix32: fast, 128 bits of state, good enough for load generation).
export function rng(seed) {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  return () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
}

// perVU returns a generator that is seeded on first use from seed and the VU running it, so every
// VU has its own fixed stream (init code runs before the VU has its number).
export function perVU(seed, salt = 0) {
  let r = null;
  return () => {
    if (r === null) r = rng(Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(exec.vu.idInTest + 1, 0x85ebca77) ^ salt);
    return r();
  };
}

// zipf draws ranks 1..n with P(k) ∝ k^-s in O(1) time and memory: rejection-inversion sampling
// (W. Hörmann, G. Derflinger, "Rejection-inversion to generate variates from monotone discrete
// distributions", 1996), as in Apache Commons RNG's RejectionInversionZipfSampler. random gives floats in [0, 1).
export function zipf(n, s, random) {
  if (!(n >= 1) || !(s > 0)) throw new Error(`zipf needs n ≥ 1 and s > 0, got n=${n}, s=${s}`);
  // helper1(x) = log1p(x)/x and helper2(x) = expm1(x)/x, with their limits near 0 (s close to 1).
  const helper1 = (x) => (Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x * (0.5 - x * (1 / 3 - 0.25 * x)));
  const helper2 = (x) => (Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + (x / 3) * (1 + 0.25 * x)));
  const h = (x) => Math.exp(-s * Math.log(x));
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
      const u = hIntegralN + random() * (hIntegralX1 - hIntegralN);
      const x = hIntegralInverse(u);
      const k = Math.min(Math.max(Math.floor(x + 0.5), 1), n);
      if (k - x <= squeeze || u >= hIntegral(k + 0.5) - h(k)) return k;
    }
  };
}

// uniform draws integers in lo..hi.
export function uniform(lo, hi, random) {
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo > hi) throw new Error(`uniform needs lo ≤ hi, got ${lo}..${hi}`);
  const n = hi - lo + 1;
  return () => lo + Math.floor(random() * n);
}

// hotSet draws uniformly from a list of ids, or from the range lo..hi when given { lo, hi }.
export function hotSet(set, random) {
  if (Array.isArray(set)) {
    if (set.length === 0) throw new Error('hotSet needs at least one id');
    return () => set[Math.floor(random() * set.length)];
  }
  return uniform(set.lo, set.hi, random);
}

// readIds parses a file of ids, one a line (blank lines skipped), keeping the first of duplicates;
// each must be in 1..max. Call it from the init context (it uses open()).
export function readIds(path, max) {
  const seen = new Set();
  const ids = [];
  for (const raw of open(path).split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const id = Number(line);
    if (!Number.isInteger(id) || id < 1 || id > max) throw new Error(`${path}: '${line}' is not an id in 1..${max}`);
    if (!seen.has(id)) {
      seen.add(id);
      ids.push(id);
    }
  }
  return ids;
}

// rankToId maps Zipf ranks 1..products onto ids: the ids of hot take ranks 1..hot.length in their
// order, the other ids of 1..products follow in ascending order; without hot ids, rank r is id r.
export function rankToId(hot, products) {
  const sorted = hot.slice().sort((a, b) => a - b);
  // atMost counts the hot ids ≤ id.
  const atMost = (id) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] <= id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return (rank) => {
    if (rank <= hot.length) return hot[rank - 1];
    // The n-th id that is not hot: the smallest id with n non-hot ids at or below it.
    const n = rank - hot.length;
    let lo = n;
    let hi = Math.min(n + sorted.length, products);
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (mid - atMost(mid) >= n) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}

// catalogueZipf returns the id generator of the read workloads: Zipf(cfg.zipfS) over the
// cfg.products ids, the ids of HOT_IDS_FILE first. Call it from the init context.
export function catalogueZipf(cfg, salt = 0) {
  const hot = cfg.hotIdsFile ? readIds(cfg.hotIdsFile, cfg.products) : [];
  const toId = rankToId(hot, cfg.products);
  let next = null;
  return () => {
    if (next === null) next = zipf(cfg.products, cfg.zipfS, perVU(cfg.seed, salt));
    return toId(next());
  };
}
