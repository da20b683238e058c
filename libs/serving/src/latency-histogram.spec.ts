import { LatencyHistogram } from './latency-histogram';

/** The ceil(q·n)-th smallest value, the rank LatencyHistogram.quantile answers for. */
function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
}

function random(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

describe('LatencyHistogram', () => {
  it('answers quantiles within 2% of the exact quantiles of a sample spanning µs to minutes', () => {
    const next = random(7);
    // Log-uniform from 2 µs to 5 min, plus a dense cluster around 3 ms like real request latencies.
    const values = [
      ...Array.from({ length: 20_000 }, () => 0.002 * Math.exp(next() * Math.log(300_000 / 0.002))),
      ...Array.from({ length: 20_000 }, () => 3 + next()),
    ];
    const h = new LatencyHistogram();
    for (const v of values) h.record(v);
    const sorted = [...values].sort((a, b) => a - b);
    expect(h.count).toBe(values.length);
    for (const q of [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1]) {
      const exact = exactQuantile(sorted, q);
      expect(Math.abs(h.quantile(q)! - exact) / exact).toBeLessThanOrEqual(0.02);
    }
  });

  it('is null when empty and clamps values outside 1 µs .. 10 min', () => {
    const h = new LatencyHistogram();
    expect(h.quantile(0.5)).toBeNull();
    h.record(0);
    h.record(0.0001);
    expect(h.quantile(1)).toBe(0.001);
    h.record(3_600_000);
    expect(h.quantile(1)! / 600_000).toBeGreaterThan(0.98);
    expect(h.quantile(1)! / 600_000).toBeLessThan(1.02);
    expect(() => h.record(NaN)).toThrow(RangeError);
    expect(() => h.quantile(1.5)).toThrow('quantile must be between 0 and 1, got 1.5');
  });

  it('merges, and round-trips through counts as a Redis hash would hold them', () => {
    const next = random(3);
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    const all = new LatencyHistogram();
    for (let i = 0; i < 5000; i++) {
      const v = next() * 50;
      (i % 3 ? a : b).record(v);
      all.record(v);
    }
    a.merge(b);
    expect(a.count).toBe(5000);
    expect(a.toCounts()).toEqual(all.toCounts());

    const counts = all.toCounts();
    expect(Object.keys(counts).every((k) => /^\d+$/.test(k))).toBe(true);
    // HINCRBY per request under keyFor(ms), HGETALL gives strings back.
    const redis: Record<string, string> = {};
    const again = new LatencyHistogram();
    for (const v of [0.4, 0.41, 12, 900]) {
      const key = LatencyHistogram.keyFor(v);
      redis[key] = String(Number(redis[key] ?? 0) + 1);
      again.record(v);
    }
    const restored = LatencyHistogram.fromCounts(redis as unknown as Record<string, number>);
    expect(restored.toCounts()).toEqual(again.toCounts());
    expect(restored.count).toBe(4);
    expect(restored.quantile(0.5)).toBe(again.quantile(0.5));
    expect(LatencyHistogram.fromCounts(counts).toCounts()).toEqual(counts);

    expect(() => LatencyHistogram.fromCounts({ p99: 1 })).toThrow("'p99' is not a latency bucket key");
    expect(() => LatencyHistogram.fromCounts({ '99999': 1 })).toThrow("'99999' is not a latency bucket key");
    expect(() => LatencyHistogram.fromCounts({ '5': -1 })).toThrow("bucket '5' has count -1; counts are non-negative integers");
  });
});
