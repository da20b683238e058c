import { createTenantSession, jobFinished, startGateway, type TenantSession, type TestGateway } from '@app/testing';
import { readFileSync } from 'fs';
import { join } from 'path';
import request from 'supertest';

/** What POST /jobs/hpo refuses, and what it accepts with a warning (embedded gateway, real HTTP). */

const IRIS = (layers: string, extra = '') => `network S {\n  input: (4,)\n  layers:\n${layers}\n    Output(3, "softmax")\n  loss: "sparse_categorical_crossentropy"\n${extra}}`;
const TWO_SITES = IRIS('    Dense(HPO(choice(4, 8)), activation="relu")', '  optimizer: Adam(learning_rate=HPO(log_range(0.001, 0.1)))\n');
const body = (dsl: string, search: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ dsl_code: dsl, backend: 'tensorflow', dataset: 'Iris', training_config: { epochs: 2 }, search, ...extra });

describe('POST /jobs/hpo', () => {
  let gw: TestGateway;
  let s: TenantSession;
  const submit = (b: unknown) => request(gw.url).post('/jobs/hpo').set(s.headers).send(b as object);

  beforeAll(async () => {
    gw = await startGateway({ env: { RATE_LIMIT_ENABLED: 'false', HPO_MAX_TRIALS: '20', HPO_POLL_MS: '100' } });
    s = await createTenantSession(gw);
  });
  afterAll(() => gw?.close());

  it('refuses a model with nothing to search, or whose only site the training_config sets', async () => {
    const none = (await submit(body(IRIS('    Dense(8, activation="relu")'), { trials: 2 })).expect(422)).body;
    expect(none).toMatchObject({ code: 'no_search_space', errors: [{ field: 'dsl_code' }] });
    const batch = IRIS('    Dense(8, activation="relu")', '  train { batch_size: [8, 16] }\n');
    await submit(body(batch, { trials: 2 }, { training_config: { epochs: 2, batch_size: 8 } })).expect(422);
  });

  it('names each site a grid cannot enumerate, and refuses limits and metrics the trials do not report', async () => {
    const grid = (await submit(body(TWO_SITES, { strategy: 'grid' })).expect(422)).body;
    expect(grid.errors).toEqual([{ field: 'search.strategy', message: expect.stringContaining('optimizer.learning_rate is a log_range(0.001, 0.1)') }]);
    const many = (await submit(body(TWO_SITES, { trials: 21 })).expect(422)).body;
    expect(many.errors).toEqual([{ field: 'search.trials', message: 'trials 21 exceeds the limit of 20 (HPO_MAX_TRIALS)' }]);
    const metric = (await submit(body(TWO_SITES, { trials: 2, metric: 'val_auc' })).expect(422)).body;
    expect(metric.errors[0]).toMatchObject({ field: 'search.metric', message: expect.stringMatching(/trials report loss, val_loss, accuracy, val_accuracy; val_auc is not one of them/) });
    const noVal = (await submit(body(TWO_SITES, { trials: 2, metric: 'val_loss' }, { training_config: { epochs: 2, validation_split: 0 } })).expect(422)).body;
    expect(noVal.errors[0].message).toMatch(/need a validation_split above 0/);
    const bad = (await submit(body(TWO_SITES, { trials: 0, direction: 'up', early_stopping: { reduction_factor: 1 } })).expect(422)).body;
    expect(bad.errors.map((e: { field: string }) => e.field).sort()).toEqual(['search.direction', 'search.early_stopping.reduction_factor', 'search.trials']);
    // DSL errors are the same 422 as POST /jobs/train gives, with line and column.
    const broken = (await submit(body('network S {\n  input: (4,)\n  layers:\n    Dense(HPO(choice(4, 8)))\n    Output(3, "sofmax")\n}', { trials: 2 })).expect(422)).body;
    expect(broken.errors[0]).toMatchObject({ line: 5, column: expect.any(Number), message: expect.stringContaining('sofmax') });
  });

  it('says what it does differently: a space smaller than the trials asked, a search_method it does not have', async () => {
    const small = IRIS('    Dense(HPO(choice(4, 8)), activation="relu")');
    const a = (await submit(body(small, { trials: 5, early_stopping: { type: 'none' } })).expect(202)).body;
    expect(a).toMatchObject({ total_trials: 2, warnings: ['The search space has only 2 distinct points; the sweep runs 2 trials, not 5.'] });
    const done = await jobFinished(gw.url, s.headers, a.job_id, 120_000);
    expect(done).toMatchObject({ status: 'completed', sweep: { strategy: 'random', metric: 'val_accuracy', direction: 'max', counts: { total: 2, completed: 2 } } });
    expect(done.sweep.leaderboard.map((e: { params: Record<string, number> }) => e.params['dense_1.units']).sort()).toEqual([4, 8]);

    // mnist_hpo.neural of the examples asks for bayesian search: sampled at random instead, and said so.
    const example = readFileSync(join(__dirname, '..', 'libs', 'dsl', 'fixtures', 'examples', 'mnist_hpo.neural'), 'utf8');
    const b = (await submit({ dsl_code: example, backend: 'tensorflow', dataset: 'MNIST', training_config: { epochs: 1, train_samples: 200 }, search: { trials: 3, seed: 4 } }).expect(202)).body;
    expect(b.warnings).toEqual([expect.stringContaining('search_method "bayesian"')]);
    expect(b.search_space.map((x: { path: string }) => x.path)).toEqual(['dense_1.units', 'dropout_1.rate', 'optimizer.learning_rate']);
    await request(gw.url).delete(`/jobs/${b.job_id}`).set(s.headers).expect(202);
    const cancelled = await jobFinished(gw.url, s.headers, b.job_id, 60_000);
    expect(cancelled.status).toBe('cancelled');
  });

  it('keeps sweeps to their tenant', async () => {
    const other = await createTenantSession(gw);
    const mine = (await submit(body(TWO_SITES, { trials: 2, early_stopping: { type: 'none' } })).expect(202)).body;
    await request(gw.url).get(`/jobs/${mine.job_id}`).set(other.headers).expect(404);
    expect((await request(gw.url).get(`/jobs?sweep_id=${mine.job_id}`).set(other.headers).expect(200)).body.total).toBe(0);
    expect((await request(gw.url).get(`/experiments?sweep_id=${mine.job_id}`).set(other.headers).expect(200)).body.total).toBe(0);
    await request(gw.url).delete(`/jobs/${mine.job_id}`).set(other.headers).expect(404);
    const done = await jobFinished(gw.url, s.headers, mine.job_id, 120_000);
    expect(done.status).toBe('completed');
    const first = done.sweep.leaderboard[0].experiment_id;
    await request(gw.url).get(`/experiments/${first}/compare?sweep_id=${mine.job_id}`).set(s.headers).expect(200);
    const foreign = await request(gw.url).get(`/experiments/${first}/compare?sweep_id=${mine.job_id}`).set(other.headers).expect(404);
    expect(foreign.body.code).toBe('not_found');
  });
});
