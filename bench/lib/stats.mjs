// Small statistics and formatting helpers shared by the orchestrator, the workers and the report.

export function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Percentiles (nearest rank) of a typed array of samples; sorts a copy. */
export function percentiles(samples, count = samples.length) {
  if (count === 0) return { count: 0, p50: null, p99: null, p999: null, max: null, mean: null };
  const v = Float64Array.from(samples.subarray ? samples.subarray(0, count) : samples.slice(0, count)).sort();
  const at = (q) => v[Math.min(count - 1, Math.max(0, Math.ceil(q * count) - 1))];
  let sum = 0;
  for (let i = 0; i < count; i++) sum += v[i];
  return { count, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: v[count - 1], mean: sum / count };
}

/** A bounded sample store: keeps the first `capacity` samples (every one, until full). */
export class Samples {
  constructor(capacity) {
    this.values = new Float64Array(capacity);
    this.count = 0;
    this.dropped = 0;
  }
  add(x) {
    if (this.count < this.values.length) this.values[this.count++] = x;
    else this.dropped++;
  }
  reset() {
    this.count = 0;
    this.dropped = 0;
  }
  summary() {
    return { ...percentiles(this.values, this.count), dropped: this.dropped };
  }
}

export function fmtNum(x, digits = 0) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** 3 significant digits, with k/M suffixes for large numbers. */
export function fmtSi(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  if (a >= 1e9) return `${(x / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${(x / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${(x / 1e3).toPrecision(3)}k`;
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(2);
}

export function fmtRatio(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  return `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}×`;
}

export function fmtPct(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  return `${(x * 100).toFixed(0)}%`;
}

export function ratio(a, b) {
  if (a === null || b === null || a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return a / b;
}

export function fmtDuration(ms) {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
