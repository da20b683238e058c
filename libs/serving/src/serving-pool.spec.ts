import * as tf from '@tensorflow/tfjs';
import { buildTfjsModel, compile, weightsFromTfjs } from '@app/dsl';
import { onnx } from 'onnx-proto';
import { OnnxModelError, ReplicaCrashedError, ServingClosedError, ServingTimeoutError } from './serving.errors';
import { crashReplicaForTesting, ServingPool } from './serving-pool';

const CONVNET = `network Convnet { input: (28, 28, 1) layers: Conv2D(8, (3,3), "relu") MaxPooling2D((2,2)) Flatten() Dense(16, "relu") Output(10, "softmax") }`;
/** ~20 M multiply-adds per sample and few weights: a batch of 256 takes ~150 ms on one thread. */
const HEAVY = `network Heavy { input: (28, 28, 1) layers: Conv2D(64, (3,3), "relu") Conv2D(64, (3,3), "relu") Flatten() Output(10) }`;
const SEQUENCE = `network Seq { input: (6, 4) layers: Conv1D(5, 3, padding="same", activation="relu") Flatten() Dense(3, "sigmoid") }`;

function inputs(batch: number, size: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: batch * size }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** The ONNX bytes of a DSL model with random tfjs weights, and that tfjs model's own predictions as the reference. */
function withReference(source: string, seed: number): { model: Uint8Array; predict: (x: Float32Array, dims: number[]) => Float32Array; dispose: () => void } {
  const checked = compile(source, { backend: 'onnx', seed }).checked;
  const net = buildTfjsModel(checked, tf, { seed });
  for (const layer of net.layers) {
    const values = layer.weights.map((w, i) => tf.randomUniform(w.shape as number[], -0.5, 0.5, 'float32', seed + i));
    if (values.length) layer.setWeights(values);
    tf.dispose(values);
  }
  const model = compile(source, { backend: 'onnx', weights: weightsFromTfjs(net) }).onnx!;
  return {
    model,
    predict: (x, dims) => tf.tidy(() => (net.predict(tf.tensor(x, dims)) as tf.Tensor).dataSync() as Float32Array).slice(),
    dispose: () => net.dispose(),
  };
}

/** Settles every promise and sorts the outcomes: values, or the error class names. */
async function outcomes<T>(promises: Array<Promise<T>>): Promise<Array<T | string>> {
  return Promise.all(promises.map((p) => p.then((v) => v, (e: Error) => e.constructor.name)));
}

describe('ServingPool', () => {
  let convnet: ReturnType<typeof withReference>;
  let heavy: Uint8Array;
  let pool: ServingPool | undefined;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    convnet = withReference(CONVNET, 3);
    heavy = compile(HEAVY, { backend: 'onnx', seed: 2 }).onnx!;
  });

  afterAll(() => convnet.dispose());

  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  it('predicts what the tfjs model with the same weights predicts, for every batch size', async () => {
    pool = await ServingPool.start({ model: convnet.model, replicas: 1 });
    expect(pool.signature).toEqual({ inputName: 'input', inputShape: [null, 28, 28, 1], outputName: 'output', outputShape: [null, 10] });
    expect(pool.readyReplicas).toBe(1);
    for (const batch of [1, 3, 64]) {
      const x = inputs(batch, 784, batch);
      const expected = convnet.predict(x, [batch, 28, 28, 1]);
      const { output, dims } = await pool.predict(x, batch);
      expect(dims).toEqual([batch, 10]);
      expect(maxAbsDiff(output, expected)).toBeLessThan(1e-4);
      expect(x.length).toBe(0); // transferred to the thread
    }
    // A view into a larger buffer is copied rather than transferred.
    const big = inputs(4, 784, 9);
    const view = big.subarray(784, 1568);
    const { output } = await pool.predict(view, 1);
    expect(maxAbsDiff(output, convnet.predict(big.slice(784, 1568), [1, 28, 28, 1]))).toBeLessThan(1e-4);
    expect(big.length).toBe(4 * 784);
  });

  it('serves a rank-2 model too', async () => {
    const seq = withReference(SEQUENCE, 5);
    pool = await ServingPool.start({ model: seq.model, replicas: 1 });
    const x = inputs(5, 24, 2);
    const { output, dims } = await pool.predict(x.slice(), 5);
    expect(dims).toEqual([5, 3]);
    expect(maxAbsDiff(output, seq.predict(x, [5, 6, 4]))).toBeLessThan(1e-4);
    seq.dispose();
  });

  it('spreads concurrent load over both replicas, rejects beyond the queue limit, and resizes 1 → 2 → 1', async () => {
    pool = await ServingPool.start({ model: convnet.model, replicas: 2, maxQueuePerReplica: 4 });
    expect([pool.replicas, pool.readyReplicas]).toEqual([2, 2]);
    const threads = new Set(pool.stats().replicas.map((r) => r.threadId));
    expect(threads.size).toBe(2);

    const x = inputs(8, 784, 1);
    const expected = convnet.predict(x, [8, 28, 28, 1]);
    const results = await outcomes(Array.from({ length: 10 }, () => pool!.predict(x.slice(), 8)));
    // 2 replicas × 4: the last two are refused at once, the first eight are all answered correctly.
    expect(results.slice(8)).toEqual(['ServingOverloadedError', 'ServingOverloadedError']);
    for (const r of results.slice(0, 8)) expect(maxAbsDiff((r as { output: Float32Array }).output, expected)).toBeLessThan(1e-4);
    expect(pool.stats().replicas.map((r) => r.served)).toEqual([4, 4]);

    await pool.resize(1);
    expect([pool.replicas, pool.readyReplicas, pool.stats().replicas.length]).toEqual([1, 1, 1]);
    await pool.resize(2);
    expect([pool.replicas, pool.readyReplicas, pool.stats().replicas.length]).toEqual([2, 2, 2]);

    // Scaling down lets the removed replica finish what it holds.
    const inFlight = Array.from({ length: 6 }, () => pool!.predict(x.slice(), 8));
    expect(pool.stats().replicas.every((r) => r.outstanding === 3)).toBe(true);
    const down = pool.resize(1);
    expect(pool.stats().replicas.map((r) => r.state).sort()).toEqual(['draining', 'ready']);
    const settled = await outcomes(inFlight);
    await down;
    for (const r of settled) expect(maxAbsDiff((r as { output: Float32Array }).output, expected)).toBeLessThan(1e-4);
    expect(pool.stats().replicas).toHaveLength(1);
    expect(pool.readyReplicas).toBe(1);
    await expect(pool.predict(x.slice(), 8)).resolves.toBeDefined();
  });

  it('replaces a crashed replica, failing only the request it held', async () => {
    pool = await ServingPool.start({ model: convnet.model, replicas: 2 });
    const x = inputs(1, 784, 4);
    const expected = convnet.predict(x, [1, 28, 28, 1]);
    const victimId = pool.stats().replicas[0].id;
    // The thread dies on the crash message, before it reads the request queued behind it.
    crashReplicaForTesting(pool, victimId);
    const held = [pool.predict(x.slice(), 1), pool.predict(x.slice(), 1)];
    expect(pool.stats().replicas.map((r) => r.outstanding)).toEqual([1, 1]);
    const results = await outcomes(held);
    expect(results.filter((r) => typeof r === 'string')).toEqual(['ReplicaCrashedError']);
    expect(maxAbsDiff((results.find((r) => typeof r !== 'string') as { output: Float32Array }).output, expected)).toBeLessThan(1e-4);
    expect(pool.stats().crashes).toBe(1);

    await pool.resize(pool.replicas);
    const replicas = pool.stats().replicas;
    expect(replicas.map((r) => r.state)).toEqual(['ready', 'ready']);
    expect(replicas.map((r) => r.id)).not.toContain(victimId);
    const after = await Promise.all(Array.from({ length: 4 }, () => pool!.predict(x.slice(), 1)));
    for (const r of after) expect(maxAbsDiff(r.output, expected)).toBeLessThan(1e-4);
    expect(pool.stats().replicas.every((r) => r.served > 0)).toBe(true);
  });

  it('times out a request that takes too long and restarts its replica', async () => {
    pool = await ServingPool.start({ model: heavy, replicas: 1, timeoutMs: 20 });
    // ~5 G multiply-adds: 150 ms or more on one thread.
    const slow = pool.predict(inputs(256, 784, 1), 256);
    const behind = pool.predict(inputs(1, 784, 1), 1);
    await expect(slow).rejects.toThrow(new ServingTimeoutError('the model did not answer within 20 ms; its replica is being restarted'));
    await expect(behind).rejects.toBeInstanceOf(ReplicaCrashedError);
    expect(pool.stats()).toMatchObject({ timeouts: 1, crashes: 1 });
    await pool.resize(1);
    expect(pool.readyReplicas).toBe(1);
    await expect(pool.predict(inputs(1, 784, 1), 1)).resolves.toMatchObject({ dims: [1, 10] });
  });

  it('close() rejects queued work, is idempotent, and refuses further work', async () => {
    pool = await ServingPool.start({ model: convnet.model, replicas: 1 });
    const queued = Array.from({ length: 5 }, () => pool!.predict(inputs(64, 784, 1), 64));
    const closing = pool.close();
    expect(await outcomes(queued)).toEqual(Array(5).fill('ServingClosedError'));
    await Promise.all([closing, pool.close()]);
    expect(pool.readyReplicas).toBe(0);
    expect(pool.stats().replicas).toHaveLength(0);
    await expect(pool.predict(inputs(1, 784, 1), 1)).rejects.toBeInstanceOf(ServingClosedError);
    await expect(pool.resize(2)).rejects.toBeInstanceOf(ServingClosedError);
  });

  it('rejects inputs that do not match the batch', async () => {
    pool = await ServingPool.start({ model: convnet.model, replicas: 1 });
    await expect(pool.predict(new Float32Array(784), 2)).rejects.toThrow('input has 784 values but 2 × [28, 28, 1] needs 1568');
    await expect(pool.predict(new Float32Array(0), 0)).rejects.toThrow('batch must be a positive integer, got 0');
  });

  it('rejects models it cannot serve with OnnxModelError', async () => {
    await expect(ServingPool.start({ model: Uint8Array.from([1, 2, 3]), replicas: 1 })).rejects.toBeInstanceOf(OnnxModelError);
    const variable = compile(`network V { input: (None, None, 5) layers: Conv1D(4, 3, padding="same") GlobalAveragePooling1D() Dense(2) }`, { backend: 'onnx', seed: 1 }).onnx!;
    await expect(ServingPool.start({ model: variable, replicas: 1 })).rejects.toThrow("the model's input 'input' has shape [?, ?, 5]: only the batch dimension may be variable to be served");
    // Well-formed protobuf, but an operator ONNX Runtime does not have: fails in the thread, at session creation.
    const proto = onnx.ModelProto.decode(convnet.model);
    const nodes = (proto.graph as onnx.GraphProto).node;
    nodes[nodes.length - 1].opType = 'NoSuchOperator';
    const broken = onnx.ModelProto.encode(proto).finish();
    const err = await ServingPool.start({ model: broken, replicas: 2 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(OnnxModelError);
    expect((err as Error).message).toMatch(/^ONNX Runtime cannot load or run the model: .*NoSuchOperator/);
    await expect(ServingPool.start({ model: convnet.model, replicas: 0 })).rejects.toThrow('replicas must be an integer >= 1, got 0');
  });

  it('holds requests made while no replica is ready until the replacement is warm', async () => {
    pool = await ServingPool.start({ model: convnet.model, replicas: 1 });
    crashReplicaForTesting(pool, pool.stats().replicas[0].id);
    await expect(pool.predict(inputs(1, 784, 2), 1)).rejects.toBeInstanceOf(ReplicaCrashedError);
    expect(pool.readyReplicas).toBe(0);
    // Until the replacement is warm, requests wait for it instead of failing.
    const waiting = pool.predict(inputs(1, 784, 2), 1);
    expect(pool.stats()).toMatchObject({ crashes: 1, waiting: 1 });
    await expect(waiting).resolves.toMatchObject({ dims: [1, 10] });
    expect(pool.stats()).toMatchObject({ crashes: 1, waiting: 0 });
    expect(pool.readyReplicas).toBe(1);
  });
});
