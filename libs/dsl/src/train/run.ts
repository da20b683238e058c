/**
 * The tfjs training loop: Keras semantics (losses, streaming metrics, optimizers, schedules, clipping, weight decay,
 * validation split) with an explicit loop instead of `model.fit`, so that every batch can report progress, yield to
 * the event loop for cancellation, and every epoch can write a resumable checkpoint.
 */
import type * as Tfjs from '@tensorflow/tfjs';
import type { CheckedModel } from '../checked';
import { buildTfjsModel } from '../emit/tfjs';
import { mulberry32, seedFor } from '../random';
import { decodeCheckpoint, encodeCheckpoint, planFingerprint, type Checkpoint, type StoredTensor } from './checkpoint';
import { Batcher, splitData } from './data';
import { finishMetric, kerasLoss, metricDef, type MetricDef, type Targets } from './losses';
import { createOptimizer, type KerasOptimizer, type NamedTensor } from './optimizers';
import type { EpochRow, TensorData, TrainData, TrainingPlan, TrainOptions } from './types';

type Tf = typeof Tfjs;
type Tensor = Tfjs.Tensor;
type LayersModel = Tfjs.LayersModel;

export interface TrainOutcome {
  status: 'completed' | 'cancelled';
  /** Every finished epoch once, including those of the checkpoint a run resumed from. */
  history: EpochRow[];
  /** Loss and metrics on `data.test` after the last epoch (completed runs with test data only). */
  test?: Record<string, number>;
  /** The trained model; the caller disposes it. A cancelled run's model includes the unfinished epoch's updates. */
  model: LayersModel;
  /** 1-based first epoch this call trained. */
  startEpoch: number;
  backend: string;
}

/**
 * Trains `checked` with `plan` (from `planTraining(checked, 'tfjs')`) on `data`, using the active backend of `tf`.
 * Per batch: forward pass in training mode, Keras loss, gradients, the plan's optimizer step; per epoch: validation
 * in inference mode, a history row, `onEpoch` with a checkpoint. With `seed`, a run is reproducible on one backend
 * (initial weights, shuffling, dropout and noise), also across a resume. Rejects with an Error for data that does
 * not fit the model or a checkpoint of another model or plan.
 */
export async function runTraining(tf: Tf, checked: CheckedModel, plan: TrainingPlan, data: TrainData, opts: TrainOptions = {}): Promise<TrainOutcome> {
  if (plan.engine !== 'tfjs') throw new Error(`runTraining runs tfjs plans; this plan is for the '${plan.engine}' engine`);
  const fingerprint = planFingerprint(checked, plan);
  const resumed = opts.resume ? decodeCheckpoint(opts.resume) : undefined;
  if (resumed && (resumed.fingerprint !== fingerprint || resumed.modelName !== checked.model.name)) {
    throw new Error(`The checkpoint was written for another model or training plan (model '${resumed.modelName}', fingerprint ${resumed.fingerprint}; this run: '${checked.model.name}', ${fingerprint})`);
  }
  const seed = opts.seed ?? resumed?.seed ?? undefined;
  const split = splitData(plan, data);
  if (split.train.count === 0) throw new Error('No training samples');

  const model = withRandom(seed === undefined ? undefined : mulberry32(seedFor(seed, 'build')), () => buildTfjsModel(checked, tf, { seed }));
  let optimizer: KerasOptimizer | undefined;
  try {
    const batcher = new Batcher(tf, plan, model.inputs[0].shape, model.outputs[0].shape, split.train);
    if (data.validation) batcher.accept(data.validation, 'validation');
    if (data.test) batcher.accept(data.test, 'test');
    const variables = model.trainableWeights.map((w) => w.read() as Tfjs.Variable);
    optimizer = createOptimizer(tf, plan, variables);
    const history: EpochRow[] = resumed ? [...resumed.history] : [];
    if (resumed) restore(tf, model, optimizer, resumed);
    const ctx: Context = { tf, model, plan, batcher, metrics: plan.metrics.map((k) => metricDef(tf, k, plan.loss)) };
    const startEpoch = (resumed?.epoch ?? 0) + 1;
    const batches = Math.ceil(split.train.count / plan.batchSize);
    const backend = tf.getBackend();
    await opts.onStart?.({
      backend,
      startEpoch,
      epochs: plan.epochs,
      trainSamples: split.train.count,
      validationSamples: split.validation?.count ?? 0,
      testSamples: data.test?.count ?? 0,
      batchesPerEpoch: batches,
      parameters: model.countParams(),
    });
    // Without a seed, shuffling still needs a stream; it is simply not reproducible.
    const shuffleSeed = seed ?? Math.floor(Math.random() * 2 ** 32);
    for (let epoch = startEpoch; epoch <= plan.epochs; epoch++) {
      if (opts.signal?.aborted) return { status: 'cancelled', history, model, startEpoch, backend };
      const order = Uint32Array.from({ length: split.train.count }, (_, i) => i);
      if (plan.shuffle) shuffle(order, mulberry32(seedFor(shuffleSeed, `shuffle:${epoch}`)));
      const random = seed === undefined ? undefined : mulberry32(seedFor(seed, `random:${epoch}`));
      const sums = new Accumulator(ctx.metrics);
      let learningRate = optimizer.learningRate();
      // Time spent in training steps only: validation, callbacks and event-loop turns are left out of the rate.
      let training = 0;
      for (let b = 0; b < batches; b++) {
        const t0 = performance.now();
        const start = b * plan.batchSize;
        const end = Math.min(start + plan.batchSize, split.train.count);
        learningRate = optimizer.learningRate();
        const opt = optimizer;
        const stats = withRandom(random, () => trainStep(ctx, opt, variables, split.train, order, start, end));
        sums.add(stats, end - start);
        training += performance.now() - t0;
        opts.onBatch?.({ epoch, batch: b + 1, batches, loss: sums.loss() });
        // Lets an abort message (or any other event) through between batches.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (opts.signal?.aborted) return { status: 'cancelled', history, model, startEpoch, backend };
      }
      const seconds = training / 1000;
      const values: Record<string, number> = { epoch, loss: sums.loss(), ...sums.values() };
      if (split.validation) {
        const validation = await evaluateData(ctx, split.validation, opts.signal);
        if (!validation) return { status: 'cancelled', history, model, startEpoch, backend };
        for (const [key, value] of Object.entries(validation)) values[`val_${key}`] = value;
      }
      const row = { ...values, epoch_seconds: seconds, samples_per_second: split.train.count / seconds, learning_rate: learningRate } as EpochRow;
      history.push(row);
      if (opts.onEpoch) {
        const checkpoint = encodeCheckpoint(snapshot(tf, model, optimizer, { fingerprint, modelName: checked.model.name, epoch, seed: seed ?? null, history }));
        await opts.onEpoch(row, checkpoint);
      }
    }
    const outcome: TrainOutcome = { status: 'completed', history, model, startEpoch, backend };
    if (data.test) {
      const test = await evaluateData(ctx, data.test, opts.signal);
      if (!test) return { status: 'cancelled', history, model, startEpoch, backend };
      outcome.test = test;
    }
    return outcome;
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    optimizer?.dispose();
  }
}

/**
 * Loss and metrics of `model` on `data` in inference mode, batched by `plan.batchSize`, with the plan's Keras
 * semantics (streamed over every sample). Keys: `loss` and the plan's metric keys.
 */
export async function evaluate(tf: Tf, model: LayersModel, plan: TrainingPlan, data: TensorData): Promise<Record<string, number>> {
  const batcher = new Batcher(tf, plan, model.inputs[0].shape, model.outputs[0].shape, data);
  return (await evaluateData({ tf, model, plan, batcher, metrics: plan.metrics.map((k) => metricDef(tf, k, plan.loss)) }, data))!;
}

interface Context {
  tf: Tf;
  model: LayersModel;
  plan: TrainingPlan;
  batcher: Batcher;
  metrics: MetricDef[];
}

/** One optimizer step; returns [batch mean loss, ...metric statistics] read back in one transfer. */
function trainStep(ctx: Context, optimizer: KerasOptimizer, variables: Tfjs.Variable[], d: TensorData, order: ArrayLike<number>, start: number, end: number): Float32Array {
  const { tf, model, plan } = ctx;
  const { x, target } = ctx.batcher.batch(d, order, start, end);
  let out: Tensor | undefined;
  try {
    const stats = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => {
        const y = model.apply(x, { training: true }) as Tensor;
        out = tf.keep(y);
        return kerasLoss(tf, plan.loss, plan.fromLogits, y, target) as Tfjs.Scalar;
      }, variables);
      optimizer.apply(variables.map((v) => grads[v.name]));
      return statistics(ctx, value, out!, target);
    });
    const values = stats.dataSync() as Float32Array;
    stats.dispose();
    return values;
  } finally {
    tf.dispose([x, target.y]);
    if (out) out.dispose();
  }
}

function statistics(ctx: Context, loss: Tensor, out: Tensor, target: Targets): Tensor {
  const { tf } = ctx;
  return tf.concat([tf.reshape(loss, [1]), ...ctx.metrics.map((m) => m.stats(out, target))]);
}

/**
 * Streams the loss and metrics over `d` in inference mode. Yields to the event loop between batches, like training,
 * so epoch messages go out and a cancel comes in during a long validation or test pass; null once `signal` aborts.
 */
async function evaluateData(ctx: Context, d: TensorData, signal?: AbortSignal): Promise<Record<string, number> | null> {
  const { tf, model, plan } = ctx;
  const sums = new Accumulator(ctx.metrics);
  const order = Uint32Array.from({ length: d.count }, (_, i) => i);
  for (let start = 0; start < d.count; start += plan.batchSize) {
    const end = Math.min(start + plan.batchSize, d.count);
    const { x, target } = ctx.batcher.batch(d, order, start, end);
    const stats = tf.tidy(() => {
      const out = model.apply(x, { training: false }) as Tensor;
      return statistics(ctx, kerasLoss(tf, plan.loss, plan.fromLogits, out, target), out, target);
    });
    sums.add(stats.dataSync() as Float32Array, end - start);
    tf.dispose([stats, x, target.y]);
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (signal?.aborted) return null;
  }
  return { loss: sums.loss(), ...sums.values() };
}

/** Sums of the loss (weighted by batch size, as Keras' loss tracker) and of each metric's statistics. */
class Accumulator {
  private lossSum = 0;
  private samples = 0;
  private readonly sums: Float64Array[];

  constructor(private readonly metrics: MetricDef[]) {
    this.sums = metrics.map((m) => new Float64Array(m.size));
  }

  add(stats: Float32Array, n: number): void {
    this.lossSum += stats[0] * n;
    this.samples += n;
    let k = 1;
    this.metrics.forEach((m, i) => {
      for (let j = 0; j < m.size; j++) this.sums[i][j] += stats[k++];
    });
  }

  loss(): number {
    return this.samples ? this.lossSum / this.samples : 0;
  }

  values(): Record<string, number> {
    return Object.fromEntries(this.metrics.map((m, i) => [m.key, finishMetric(m, this.sums[i])]));
  }
}

/**
 * Runs `f` with Math.random replaced by `random`: tfjs' dropout and noise ops draw their seeds from Math.random when
 * none is given (tfjs-core rand_util, random ops), and a fixed layer seed would repeat one mask every step. Swapped
 * only for the synchronous step, so other code in the process never sees the seeded stream.
 */
function withRandom<T>(random: (() => number) | undefined, f: () => T): T {
  if (!random) return f();
  const original = Math.random;
  Math.random = random;
  try {
    return f();
  } finally {
    Math.random = original;
  }
}

function shuffle(order: Uint32Array, random: () => number): void {
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
}

function snapshot(tf: Tf, model: LayersModel, optimizer: KerasOptimizer, head: Pick<Checkpoint, 'fingerprint' | 'modelName' | 'epoch' | 'seed' | 'history'>): Checkpoint {
  const store = (name: string, t: Tensor): StoredTensor => ({ name, shape: t.shape, data: Float32Array.from(t.dataSync() as Float32Array) });
  const values = model.getWeights();
  const weights = model.weights.map((w, i) => store(w.originalName, values[i]));
  const state = optimizer.getWeights();
  const iterations = Math.round(state[0].tensor.dataSync()[0]);
  const slots = state.slice(1).map((s) => store(s.name, s.tensor));
  tf.dispose(state.map((s) => s.tensor));
  return { ...head, history: [...head.history], weights, optimizer: { type: optimizer.type, iterations, slots } };
}

function restore(tf: Tf, model: LayersModel, optimizer: KerasOptimizer, c: Checkpoint): void {
  const weights = model.weights;
  if (c.weights.length !== weights.length) throw new Error(`The checkpoint holds ${c.weights.length} weights, the model has ${weights.length}`);
  c.weights.forEach((w, i) => {
    if (w.shape.join() !== weights[i].shape.join()) throw new Error(`Checkpoint weight ${w.name} has shape [${w.shape}], the model's ${weights[i].originalName} [${weights[i].shape}]`);
  });
  if (c.optimizer.type !== optimizer.type) throw new Error(`The checkpoint holds ${c.optimizer.type} state, the plan uses ${optimizer.type}`);
  const tensors = c.weights.map((w) => tf.tensor(w.data, w.shape, 'float32'));
  const state: NamedTensor[] = [
    { name: 'iterations', tensor: tf.scalar(c.optimizer.iterations, 'float32') },
    ...c.optimizer.slots.map((s) => ({ name: s.name, tensor: tf.tensor(s.data, s.shape, 'float32') })),
  ];
  try {
    model.setWeights(tensors);
    optimizer.setWeights(state);
  } finally {
    tf.dispose([...tensors, ...state.map((s) => s.tensor)]);
  }
}
