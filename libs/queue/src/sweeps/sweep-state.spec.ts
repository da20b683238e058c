import type { ExperimentEntity, JobEntity } from '@app/persistence';
import { rungDecision, rungsFor, sweepView } from './sweep-state';

describe('rungDecision', () => {
  it('promotes the first trial to reach a rung', () => {
    expect(rungDecision(0.1, [0.1], 3, 'max')).toEqual({ promote: true, rank: 1, keep: 1 });
    expect(rungDecision(5, [5], 3, 'min')).toEqual({ promote: true, rank: 1, keep: 1 });
  });

  it('with fewer than η values only the best goes on', () => {
    expect(rungDecision(0.9, [0.5, 0.9], 3, 'max')).toEqual({ promote: true, rank: 1, keep: 1 });
    expect(rungDecision(0.5, [0.5, 0.9], 3, 'max')).toEqual({ promote: false, rank: 2, keep: 1 });
  });

  it('with n values the best floor(n/η) go on', () => {
    const atRung = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7];
    // floor(7/3) = 2: 0.7 and 0.6 go on
    expect(rungDecision(0.7, atRung, 3, 'max')).toMatchObject({ promote: true, rank: 1, keep: 2 });
    expect(rungDecision(0.6, atRung, 3, 'max')).toMatchObject({ promote: true, rank: 2, keep: 2 });
    expect(rungDecision(0.5, atRung, 3, 'max')).toMatchObject({ promote: false, rank: 3, keep: 2 });
    expect(rungDecision(0.1, atRung, 3, 'max')).toMatchObject({ promote: false, rank: 7, keep: 2 });
    // η = 2 with 6 values keeps 3
    const six = [1, 2, 3, 4, 5, 6];
    expect(six.filter((v) => rungDecision(v, six, 2, 'max').promote)).toEqual([4, 5, 6]);
    // exactly η values: keep 1
    expect([0.3, 0.2, 0.1].filter((v) => rungDecision(v, [0.3, 0.2, 0.1], 3, 'max').promote)).toEqual([0.3]);
  });

  it('counts ties with the threshold as promoted', () => {
    const atRung = [0.8, 0.8, 0.5];
    expect(rungDecision(0.8, atRung, 3, 'max')).toEqual({ promote: true, rank: 1, keep: 1 });
    expect(rungDecision(0.5, atRung, 3, 'max')).toMatchObject({ promote: false, rank: 3 });
    expect(rungDecision(0.2, [0.2, 0.2, 0.9], 3, 'min')).toEqual({ promote: true, rank: 1, keep: 1 });
  });

  it('works for direction min (lower is better)', () => {
    const losses = [0.9, 0.3, 0.5, 0.7, 0.4, 0.6];
    // floor(6/3) = 2: 0.3 and 0.4 go on
    expect(losses.filter((v) => rungDecision(v, losses, 3, 'min').promote).sort()).toEqual([0.3, 0.4]);
    expect(rungDecision(0.3, losses, 3, 'min')).toEqual({ promote: true, rank: 1, keep: 2 });
    expect(rungDecision(0.9, losses, 3, 'min')).toEqual({ promote: false, rank: 6, keep: 2 });
    expect(rungDecision(0.2, [0.2, 0.5], 3, 'min').promote).toBe(true);
    expect(rungDecision(0.5, [0.2, 0.5], 3, 'min').promote).toBe(false);
  });

  it('does not depend on the order of the values', () => {
    expect(rungDecision(0.6, [0.6, 0.1, 0.7, 0.2, 0.3, 0.4], 3, 'max')).toMatchObject({ promote: true, rank: 2, keep: 2 });
    expect(rungDecision(0.4, [0.6, 0.1, 0.7, 0.2, 0.3, 0.4], 3, 'max')).toMatchObject({ promote: false, rank: 3, keep: 2 });
  });
});

describe('rungsFor', () => {
  it('gives min_epochs·η^k below epochs', () => {
    expect(rungsFor(6, 1, 3)).toEqual([1, 3]);
    expect(rungsFor(4, 1, 3)).toEqual([1, 3]);
    expect(rungsFor(3, 1, 3)).toEqual([1]);
    expect(rungsFor(1, 1, 3)).toEqual([]);
    expect(rungsFor(10, 1, 3)).toEqual([1, 3, 9]);
    expect(rungsFor(20, 2, 2)).toEqual([2, 4, 8, 16]);
    expect(rungsFor(2, 2, 2)).toEqual([]);
  });
});

const search = { strategy: 'random', metric: 'val_accuracy', direction: 'max', parallelism: 2, seed: 7, early_stopping: { type: 'asha', min_epochs: 1, reduction_factor: 3 } };

function sweepRow(points: number, over: Record<string, unknown> = {}, direction = 'max'): JobEntity {
  return {
    id: 'sweep',
    status: 'running',
    type: 'hpo',
    input: { search: { ...search, direction }, space: [{ path: 'dense_1.units', kind: 'choice', values: [8, 16] }], points: Array.from({ length: points }, (_, i) => ({ params: { 'dense_1.units': 8 * (i + 1) } })) },
    trialIndex: null,
    experimentId: null,
    workerId: null,
    error: null,
    result: null,
    modelId: 'model-1',
    ...over,
  } as never;
}

function trial(i: number, status: string, over: Record<string, unknown> = {}): JobEntity {
  return { id: `t${i}`, status, type: 'train', input: {}, trialIndex: i, experimentId: `e${i}`, workerId: status === 'pending' ? null : `w${i % 2}`, error: null, result: null, modelId: null, ...over } as never;
}

function experiment(i: number, values: number[], metric = 'val_accuracy'): ExperimentEntity {
  return { id: `e${i}`, history: values.map((v, k) => ({ epoch: k + 1, loss: 1 - v, [metric]: v })) } as never;
}

describe('sweepView', () => {
  const trials = [
    trial(0, 'completed'),
    trial(1, 'failed', { error: { code: 'training_failed', detail: 'boom' } }),
    trial(2, 'pruned', { result: { pruned_at_epoch: 1 } }),
    trial(3, 'completed'),
    trial(4, 'running'),
    trial(5, 'pruned', { result: { pruned_at_epoch: 3 } }),
    trial(6, 'cancelled'),
    trial(7, 'pending', { experimentId: null }),
    trial(8, 'completed'),
  ];
  const experiments = [
    experiment(0, [0.5, 0.7, 0.8]),
    experiment(1, [0.2]),
    experiment(2, [0.95]),
    experiment(3, [0.6, 0.9, 0.92]),
    experiment(4, [0.99, 0.99]),
    experiment(5, [0.4, 0.5, 0.55]),
    experiment(6, []),
    experiment(8, [0.3, 0.85]),
  ];

  it('orders completed best-first, then pruned (most epochs first), running, pending, failed, cancelled', () => {
    const v = sweepView(sweepRow(12), trials, experiments);
    expect(v.leaderboard.map((e) => e.trial)).toEqual([3, 8, 0, 5, 2, 4, 7, 1, 6]);
    expect(v.leaderboard.map((e) => e.status)).toEqual(['completed', 'completed', 'completed', 'pruned', 'pruned', 'running', 'pending', 'failed', 'cancelled']);
  });

  it('orders completed trials lowest first for direction min', () => {
    const v = sweepView(sweepRow(12, {}, 'min'), trials, experiments);
    expect(v.direction).toBe('min');
    expect(v.leaderboard.filter((e) => e.status === 'completed').map((e) => e.trial)).toEqual([0, 8, 3]);
    expect(v.best?.trial).toBe(0);
    expect(v.best?.value).toBe(0.8);
  });

  it('fills the entries from the trial rows, the points and the last epoch of history', () => {
    const v = sweepView(sweepRow(12), trials, experiments);
    const by = (i: number) => v.leaderboard.find((e) => e.trial === i)!;
    expect(by(3)).toEqual({ trial: 3, job_id: 't3', experiment_id: 'e3', status: 'completed', params: { 'dense_1.units': 32 }, value: 0.92, epochs: 3, pruned_at_epoch: null, worker_id: 'w1', error: null });
    expect(by(5)).toMatchObject({ status: 'pruned', epochs: 3, pruned_at_epoch: 3, value: 0.55 });
    expect(by(2)).toMatchObject({ status: 'pruned', epochs: 1, pruned_at_epoch: 1 });
    expect(by(4)).toMatchObject({ status: 'running', value: 0.99, epochs: 2, pruned_at_epoch: null });
    expect(by(7)).toMatchObject({ status: 'pending', experiment_id: null, value: null, epochs: 0, worker_id: null, params: { 'dense_1.units': 64 } });
    expect(by(6)).toMatchObject({ status: 'cancelled', value: null, epochs: 0 });
    expect(by(1)).toMatchObject({ status: 'failed', error: { code: 'training_failed', detail: 'boom' }, value: 0.2 });
  });

  it('counts every status, with points not launched yet as pending', () => {
    const v = sweepView(sweepRow(12), trials, experiments);
    expect(v.counts).toEqual({ total: 12, pending: 1 + 3, running: 1, completed: 3, pruned: 2, failed: 1, cancelled: 1 });
    const fresh = sweepView(sweepRow(5), [], []);
    expect(fresh.counts).toEqual({ total: 5, pending: 5, running: 0, completed: 0, pruned: 0, failed: 0, cancelled: 0 });
    expect(fresh.leaderboard).toEqual([]);
    expect(fresh.best).toBeNull();
  });

  it('best is the best completed trial, never a running or pruned one with a higher value', () => {
    const v = sweepView(sweepRow(12), trials, experiments);
    // trial 4 (running, 0.99) and trial 2 (pruned, 0.95) are higher than any completed trial
    expect(v.best?.trial).toBe(3);
    expect(v.best?.value).toBe(0.92);
    expect(v.best).toBe(v.leaderboard[0]);
    const none = sweepView(sweepRow(3), [trial(0, 'running'), trial(1, 'pruned')], [experiment(0, [0.9]), experiment(1, [0.8])]);
    expect(none.best).toBeNull();
  });

  it('skips a completed trial without a value for best', () => {
    const v = sweepView(sweepRow(2), [trial(0, 'completed'), trial(1, 'completed')], [experiment(0, []), experiment(1, [0.4])]);
    expect(v.leaderboard.map((e) => e.trial)).toEqual([1, 0]);
    expect(v.best?.trial).toBe(1);
  });

  it('reports model_id only when the sweep row is completed', () => {
    expect(sweepView(sweepRow(12), trials, experiments).model_id).toBeNull();
    expect(sweepView(sweepRow(12, { status: 'failed' }), trials, experiments).model_id).toBeNull();
    expect(sweepView(sweepRow(12, { status: 'completed' }), trials, experiments).model_id).toBe('model-1');
    expect(sweepView(sweepRow(12, { status: 'completed', modelId: null }), trials, experiments).model_id).toBeNull();
  });

  it('copies the settings of the sweep', () => {
    const v = sweepView(sweepRow(12), trials, experiments);
    expect(v).toMatchObject({ strategy: 'random', metric: 'val_accuracy', direction: 'max', parallelism: 2, early_stopping: search.early_stopping });
    expect(v.search_space).toEqual([{ path: 'dense_1.units', kind: 'choice', values: [8, 16] }]);
  });
});
