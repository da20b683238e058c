/** Relative error of a bucket's representative value against any value in the bucket. */
const ALPHA = 0.015;
const GAMMA = (1 + ALPHA) / (1 - ALPHA);
const LOG_GAMMA = Math.log(GAMMA);
const MIN_MS = 0.001;
const MAX_MS = 600_000;
const BUCKETS = Math.ceil(Math.log(MAX_MS / MIN_MS) / LOG_GAMMA) + 1;

/**
 * Latencies in log-spaced buckets (DDSketch-style): any quantile is answered within 1.5% relative error for values
 * from 1 µs to 10 min (smaller values count as 1 µs, larger as 10 min). Bucket keys are decimal strings so counts can
 * be kept in a Redis hash (`HINCRBY <hash> <LatencyHistogram.keyFor(ms)> 1`) and read back with `fromCounts`.
 */
export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;

  /** The bucket key a latency is counted under. */
  static keyFor(ms: number): string {
    return String(bucketOf(ms));
  }

  /** Counts one latency, in milliseconds. */
  record(ms: number): void {
    this.counts[bucketOf(ms)]++;
    this.total++;
  }

  get count(): number {
    return this.total;
  }

  /**
   * The latency (ms) at quantile `q` in [0, 1]: the representative value of the bucket holding the ceil(q·count)-th
   * smallest recorded latency. Null when nothing was recorded.
   */
  quantile(q: number): number | null {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be between 0 and 1, got ${q}`);
    if (this.total === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return representative(i);
    }
    return representative(BUCKETS - 1);
  }

  /** Adds `other`'s counts to this histogram. */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.total += other.total;
  }

  /** The non-empty buckets, keyed as `keyFor` keys them. */
  toCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] > 0) out[String(i)] = this.counts[i];
    return out;
  }

  /** The inverse of `toCounts`; also takes the string values a Redis HGETALL returns. Throws RangeError on foreign keys. */
  static fromCounts(counts: Record<string, number>): LatencyHistogram {
    const h = new LatencyHistogram();
    for (const [key, value] of Object.entries(counts)) {
      const i = Number(key);
      const n = Number(value);
      if (!/^\d+$/.test(key) || i >= BUCKETS) throw new RangeError(`'${key}' is not a latency bucket key`);
      if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`bucket '${key}' has count ${String(value)}; counts are non-negative integers`);
      h.counts[i] += n;
      h.total += n;
    }
    return h;
  }
}

/** Bucket i holds (MIN·γ^(i-1), MIN·γ^i]; bucket 0 everything up to MIN. */
function bucketOf(ms: number): number {
  if (Number.isNaN(ms)) throw new RangeError('latency is NaN');
  if (ms <= MIN_MS) return 0;
  const i = Math.ceil(Math.log(ms / MIN_MS) / LOG_GAMMA);
  return i >= BUCKETS ? BUCKETS - 1 : i;
}

/** The value whose relative distance to both ends of bucket i is ALPHA. */
function representative(i: number): number {
  if (i === 0) return MIN_MS;
  return (2 * MIN_MS * GAMMA ** i) / (GAMMA + 1);
}
