import type { EpochRow } from '@app/dsl/train/types';
import { zipSync } from 'fflate';

/** History columns that describe the epoch rather than measure the model. */
const NOT_METRICS = new Set(['epoch', 'epoch_seconds', 'samples_per_second', 'learning_rate']);

/** Metrics where smaller is better: losses and error measures (Keras' naming, with or without `val_`/`test_`). */
const LOWER_IS_BETTER = /(^|_)(loss|mae|mse|rmse|mape|msle|hinge|huber|poisson|kl_divergence|log_cosh|error)$/;

export function isLowerBetter(metric: string): boolean {
  return LOWER_IS_BETTER.test(metric);
}

/** The model's metrics of one history row (loss, accuracy, val_*), without timing columns. */
export function metricsOf(row: Record<string, number> | undefined): Record<string, number> {
  if (!row) return {};
  return Object.fromEntries(Object.entries(row).filter(([k, v]) => !NOT_METRICS.has(k) && Number.isFinite(v)));
}

/** The best value of each metric over the history: the minimum of losses and errors, the maximum of the others. */
export function bestMetrics(history: Array<Record<string, number>>): Record<string, number> {
  const best: Record<string, number> = {};
  for (const row of history) {
    for (const [k, v] of Object.entries(metricsOf(row))) {
      if (!(k in best) || (isLowerBetter(k) ? v < best[k] : v > best[k])) best[k] = v;
    }
  }
  return best;
}

/** The history as CSV: `epoch` first, then every column any row has, in first-seen order; empty cells where absent. */
export function historyCsv(history: EpochRow[] | Array<Record<string, number>>): string {
  const columns = ['epoch'];
  for (const row of history) for (const k of Object.keys(row)) if (!columns.includes(k)) columns.push(k);
  const lines = [columns.join(',')];
  for (const row of history) lines.push(columns.map((c) => (row[c] === undefined ? '' : String(row[c]))).join(','));
  return `${lines.join('\n')}\n`;
}

/** The tfjs format as one download: model.json and weights.bin in a zip. */
export function tfjsZip(modelJson: string, weights: Uint8Array): Uint8Array {
  return zipSync({ 'model.json': new TextEncoder().encode(modelJson), 'weights.bin': weights }, { level: 6 });
}
