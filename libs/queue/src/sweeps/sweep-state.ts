import type { HpoJobInput, JobStatus, SweepDirection } from '@app/contracts';
import type { ExperimentEntity, JobEntity } from '@app/persistence';

/** One trial as the sweep's leaderboard shows it. */
export interface TrialEntry {
  trial: number;
  job_id: string;
  experiment_id: string | null;
  status: JobStatus;
  params: Record<string, unknown>;
  /** The sweep's metric at the trial's last finished epoch (so far, while it runs); null before its first epoch. */
  value: number | null;
  /** Epochs finished. */
  epochs: number;
  /** Set when early stopping ended the trial: the epoch after which it stopped. */
  pruned_at_epoch: number | null;
  worker_id: string | null;
  error: { code: string; detail: string } | null;
}

export interface SweepCounts {
  total: number;
  /** Not started yet: waiting for a free slot (not launched) or on the queue. */
  pending: number;
  running: number;
  completed: number;
  pruned: number;
  failed: number;
  cancelled: number;
}

/** The `sweep` of a sweep job: settings, counts, the leaderboard (best first) and the best completed trial. */
export interface SweepView {
  strategy: string;
  metric: string;
  direction: SweepDirection;
  parallelism: number;
  early_stopping: HpoJobInput['search']['early_stopping'];
  search_space: unknown[];
  counts: SweepCounts;
  leaderboard: TrialEntry[];
  best: TrialEntry | null;
  /** The best trial's model, registered when the sweep completes. */
  model_id: string | null;
}

const STATUS_ORDER: JobStatus[] = ['completed', 'pruned', 'running', 'pending', 'failed', 'cancelled'];

/** The sweep's view from its trial rows and their experiments (read together, so the view is never stale). */
export function sweepView(sweep: JobEntity, trials: JobEntity[], experiments: ExperimentEntity[]): SweepView {
  const input = sweep.input as HpoJobInput;
  const { metric, direction } = input.search;
  const byId = new Map(experiments.map((e) => [e.id, e]));
  const entries = trials.map((t) => trialEntry(t, t.experimentId ? byId.get(t.experimentId) : undefined, input));
  const counts: SweepCounts = { total: input.points.length, pending: input.points.length - trials.length, running: 0, completed: 0, pruned: 0, failed: 0, cancelled: 0 };
  for (const e of entries) counts[e.status]++;
  const leaderboard = [...entries].sort((a, b) => compareEntries(a, b, direction));
  const best = leaderboard.find((e) => e.status === 'completed' && e.value !== null) ?? null;
  const modelId = sweep.status === 'completed' ? (sweep.modelId ?? null) : null;
  return { strategy: input.search.strategy, metric, direction, parallelism: input.search.parallelism, early_stopping: input.search.early_stopping, search_space: input.space, counts, leaderboard, best, model_id: modelId };
}

function trialEntry(job: JobEntity, experiment: ExperimentEntity | undefined, input: HpoJobInput): TrialEntry {
  const history = (experiment?.history ?? []) as Array<Record<string, number>>;
  const last = history[history.length - 1];
  const v = last?.[input.search.metric];
  const pruned = job.status === 'pruned' ? ((job.result as { pruned_at_epoch?: number } | null)?.pruned_at_epoch ?? last?.epoch ?? null) : null;
  return {
    trial: job.trialIndex ?? 0,
    job_id: job.id,
    experiment_id: job.experimentId ?? null,
    status: job.status,
    params: input.points[job.trialIndex ?? 0]?.params ?? {},
    value: typeof v === 'number' && Number.isFinite(v) ? v : null,
    epochs: history.length,
    pruned_at_epoch: pruned,
    worker_id: job.workerId ?? null,
    error: job.error ? { code: job.error.code, detail: job.error.detail } : null,
  };
}

/** Completed trials first, best first; then pruned (most epochs first), running, pending, failed, cancelled. */
function compareEntries(a: TrialEntry, b: TrialEntry, direction: SweepDirection): number {
  const s = STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status);
  if (s !== 0) return s;
  if (a.status === 'pruned' && a.epochs !== b.epochs) return b.epochs - a.epochs;
  if (a.value !== b.value) {
    if (a.value === null) return 1;
    if (b.value === null) return -1;
    return direction === 'max' ? b.value - a.value : a.value - b.value;
  }
  return a.trial - b.trial;
}

/**
 * Successive halving, asynchronously (ASHA, as Optuna's SuccessiveHalvingPruner): a trial that reaches a rung goes on
 * when its value is among the best ⌊n/η⌋ of the n values recorded at that rung (itself included), or the best of
 * them while fewer than η trials got there. Returns the trial's rank and how many may go on.
 */
export function rungDecision(value: number, atRung: number[], reductionFactor: number, direction: SweepDirection): { promote: boolean; rank: number; keep: number } {
  const sorted = [...atRung].sort((a, b) => (direction === 'max' ? b - a : a - b));
  const keep = Math.max(1, Math.floor(sorted.length / reductionFactor));
  const threshold = sorted[keep - 1];
  const promote = direction === 'max' ? value >= threshold : value <= threshold;
  const rank = 1 + sorted.filter((v) => (direction === 'max' ? v > value : v < value)).length;
  return { promote, rank, keep };
}

/** Rungs of successive halving for a trial of `epochs` epochs: min_epochs·η^k below `epochs`. */
export function rungsFor(epochs: number, minEpochs: number, reductionFactor: number): number[] {
  const out: number[] = [];
  for (let r = minEpochs; r < epochs; r *= reductionFactor) out.push(r);
  return out;
}
