import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { buildTfjsModel, compile, type CheckedModel } from '@app/dsl';
import { setTfjsWeights } from '@app/dsl/emit/weights';
import { mulberry32 } from '@app/dsl/random';
import type { BatchProgress, EpochRow, TensorData, TrainingPlan } from '@app/dsl/train/types';
import { writeNpy } from './npy';
import { runPytorchTraining, PytorchTrainingError, torchDriverPath, type PytorchStartInfo, type PytorchTrainingOptions } from './pytorch-training';
import { probeTorch, SYSTEM_PYTHON } from './python';
import { torchWeightManifest } from './weight-manifest';

const CLASSIFIER = `network Blobs { input: (4,) layers: Dense(16, "relu") Output(3)
  loss: sparse_categorical_crossentropy optimizer: Adam(learning_rate=0.02) metrics: ["accuracy"] }`;

/** A plan as the planner would make it; the driver reads epochs, batch size, learning rate and seed. */
function planFor(checked: CheckedModel, over: Partial<TrainingPlan> = {}): TrainingPlan {
  return {
    engine: 'pytorch',
    modelName: checked.model.name,
    inputShape: checked.model.inputs[0].shape.slice(1) as number[],
    outputShape: checked.outputShape.slice(1) as number[],
    epochs: 3,
    batchSize: 32,
    validationSplit: 0,
    trainSamples: null,
    shuffle: true,
    loss: 'sparse_categorical_crossentropy',
    fromLogits: false,
    metrics: ['accuracy'],
    optimizer: { type: 'Adam', learningRate: 0.02, params: {} },
    schedule: null,
    clip: {},
    weightDecay: null,
    hyperparameters: {},
    warnings: [],
    ...over,
  };
}

/** Gaussian samples labelled by the arg-max of a fixed random linear map: learnable, far from chance. */
function blobs(count: number, dims: number, classes: number, seed: number, mapSeed = 99): TensorData {
  const gauss = (next: () => number) => () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const w = Array.from({ length: dims * classes }, gauss(mulberry32(mapSeed)));
  const g = gauss(mulberry32(seed));
  const x = Float32Array.from({ length: count * dims }, g);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    let best = -Infinity;
    for (let c = 0; c < classes; c++) {
      let z = 0;
      for (let d = 0; d < dims; d++) z += x[i * dims + d] * w[d * classes + c];
      if (z > best) [best, y[i]] = [z, c];
    }
  }
  return { x, y, count, sampleShape: [dims], labelShape: [] };
}

describe('runPytorchTraining (real PyTorch under /usr/bin/python3)', () => {
  const root = mkdtempSync(join(tmpdir(), 'pytorch-training-'));
  let runs = 0;
  const workDir = () => join(root, `run-${++runs}`);
  const classifier = compile(CLASSIFIER, { backend: 'pytorch' });
  const base = (over: Partial<PytorchTrainingOptions> = {}): PytorchTrainingOptions => ({
    python: SYSTEM_PYTHON,
    moduleCode: classifier.code!,
    checked: classifier.checked,
    plan: planFor(classifier.checked),
    data: { train: blobs(600, 4, 3, 1), validation: blobs(100, 4, 3, 2), test: blobs(100, 4, 3, 3) },
    workDir: workDir(),
    ...over,
  });

  beforeAll(async () => {
    // CI installs python3-torch; without it these tests must fail, never skip.
    if (!(await probeTorch(SYSTEM_PYTHON))) throw new Error(`${SYSTEM_PYTHON} cannot import torch and numpy: apt-get install python3-torch`);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('trains a Dense classifier well above chance, with per-batch progress, Keras-keyed epoch rows, test metrics and weights', async () => {
    let start: PytorchStartInfo | undefined;
    const batches: BatchProgress[] = [];
    const epochs: { row: EpochRow; checkpoint: Uint8Array }[] = [];
    const opts = base({ progressIntervalMs: 0, seed: 3, onStart: (i) => (start = i), onBatch: (p) => batches.push(p), onEpoch: (row, checkpoint) => void epochs.push({ row, checkpoint }) });
    const result = await runPytorchTraining(opts);

    expect(result.status).toBe('completed');
    expect(start).toEqual({ startEpoch: 1, epochs: 3, stepsPerEpoch: 19, trainSamples: 600, validationSamples: 100, testSamples: 100, torchVersion: expect.stringMatching(/^\d+\.\d+/), threads: 1 });
    for (const epoch of [1, 2, 3]) {
      const mine = batches.filter((b) => b.epoch === epoch);
      expect(mine.map((b) => b.batch)).toEqual(Array.from({ length: 19 }, (_, i) => i + 1));
      expect(mine.every((b) => b.batches === 19)).toBe(true);
      // The running mean over the whole epoch is the epoch's loss.
      expect(mine[18].loss).toBeCloseTo(result.history[epoch - 1].loss, 9);
    }
    expect(result.history.map((r) => Object.keys(r))).toEqual(Array(3).fill(['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy', 'epoch_seconds', 'samples_per_second', 'learning_rate']));
    expect(result.history.map((r) => r.epoch)).toEqual([1, 2, 3]);
    const last = result.history[2];
    expect(last.loss).toBeLessThan(result.history[0].loss);
    expect(last.accuracy).toBeGreaterThan(0.85);
    expect(last.val_accuracy).toBeGreaterThan(0.85);
    expect(last.learning_rate).toBe(0.02);
    expect(last.samples_per_second).toBeGreaterThan(0);
    expect(last.epoch_seconds).toBeGreaterThan(0);
    expect(Object.keys(result.test!)).toEqual(['test_loss', 'test_accuracy']);
    expect(result.test!.test_accuracy).toBeGreaterThan(0.85);

    expect(epochs.map((e) => e.row)).toEqual(result.history);
    for (const { checkpoint } of epochs) expect(Buffer.from(checkpoint.subarray(0, 2)).toString()).toBe('PK');
    expect(readdirSync(join(opts.workDir, 'out')).filter((f) => f.startsWith('checkpoint'))).toEqual([]);
    expect(Buffer.from(result.stateDict!.subarray(0, 2)).toString()).toBe('PK');
    expect(Object.fromEntries(Object.entries(result.weights!).map(([k, ts]) => [k, ts.map((t) => t.shape)]))).toEqual({ dense_1: [[4, 16], [16]], output_1: [[16, 3], [3]] });
  });

  it('stops within about a second of an abort and returns the epochs finished so far', async () => {
    const big = compile(`network Wide { input: (32,) layers: Dense(256, "relu") Dense(256, "relu") Output(3)
      loss: sparse_categorical_crossentropy metrics: ["accuracy"] }`, { backend: 'pytorch' });
    const controller = new AbortController();
    const finished: EpochRow[] = [];
    const batches: BatchProgress[] = [];
    let abortedAt = 0;
    const started = Date.now();
    const result = await runPytorchTraining({
      ...base(),
      moduleCode: big.code!,
      checked: big.checked,
      plan: planFor(big.checked, { epochs: 50, batchSize: 32, optimizer: { type: 'Adam', learningRate: 0.001, params: {} } }),
      data: { train: blobs(8000, 32, 3, 4) },
      signal: controller.signal,
      onBatch: (p) => {
        batches.push(p);
        if (p.epoch >= 2 && !abortedAt) {
          abortedAt = Date.now();
          controller.abort();
        }
      },
      onEpoch: (row) => void finished.push(row),
    });
    const stoppedAfter = Date.now() - abortedAt;
    expect(abortedAt).toBeGreaterThan(0);
    expect(result.status).toBe('cancelled');
    expect(stoppedAfter).toBeLessThan(1500);
    expect(result.history.length).toBeGreaterThanOrEqual(1);
    expect(result.history.length).toBeLessThan(50);
    expect(result.history).toEqual(finished);
    expect(result.weights).toBeUndefined();
    // The default throttle: at most one batch event per 250 ms.
    expect(batches.length).toBeLessThanOrEqual(1 + (abortedAt - started) / 250);
  });

  it('a run of 3 epochs equals 1 epoch plus a resumed run of 2 (same seed): the same history and bit-identical weights', async () => {
    const src = `network Resumable { input: (4,) layers: Dense(32, "relu") Dropout(0.3) Output(3)
      loss: sparse_categorical_crossentropy optimizer: Adam(learning_rate=ExponentialDecay(0.02, 5, 0.8)) metrics: ["accuracy"] }`;
    const m = compile(src, { backend: 'pytorch' });
    const plan = planFor(m.checked, { schedule: { name: 'ExponentialDecay', initialLearningRate: 0.02, decaySteps: 5, decayRate: 0.8 } });
    const opts = (over: Partial<PytorchTrainingOptions>) => base({ moduleCode: m.code!, checked: m.checked, plan, seed: 11, ...over });
    const metrics = (rows: EpochRow[]) => rows.map(({ epoch_seconds: _s, samples_per_second: _r, ...rest }) => rest);

    const full = await runPytorchTraining(opts({}));
    let checkpoint: Uint8Array | undefined;
    const first = await runPytorchTraining(opts({ plan: { ...plan, epochs: 1 }, onEpoch: (_row, bytes) => void (checkpoint = bytes) }));
    let start: PytorchStartInfo | undefined;
    const resumedEpochs: number[] = [];
    const resumed = await runPytorchTraining(opts({ resume: checkpoint, onStart: (i) => (start = i), onEpoch: (row) => void resumedEpochs.push(row.epoch) }));

    expect(start!.startEpoch).toBe(2);
    expect(resumedEpochs).toEqual([2, 3]);
    expect(resumed.history.map((r) => r.epoch)).toEqual([1, 2, 3]);
    // Epoch 1 is carried over from the checkpoint, timing included.
    expect(resumed.history[0]).toEqual(first.history[0]);
    expect(metrics(resumed.history)).toEqual(metrics(full.history));
    expect(resumed.history[2].learning_rate).toBeLessThan(0.02);
    expect(resumed.test).toEqual(full.test);
    expect(resumed.weights).toEqual(full.weights);
  });

  it('reports driver failures as one line without a traceback or a path, with the detail in .log', async () => {
    const failure = async (over: Partial<PytorchTrainingOptions>): Promise<PytorchTrainingError> => {
      const e = await runPytorchTraining(base(over)).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(PytorchTrainingError);
      const err = e as PytorchTrainingError;
      expect(err.message).not.toMatch(/\n|Traceback|\//);
      return err;
    };
    const wrongShape = await failure({ data: { train: { ...blobs(50, 5, 3, 1) } } });
    expect([wrongShape.code, wrongShape.message]).toEqual(['invalid_data', 'train data: training samples have shape (5,) but the model expects (4,)']);
    expect(wrongShape.exitCode).toBe(1);

    const labels = blobs(50, 4, 3, 1);
    labels.y[7] = 7;
    const badClass = await failure({ data: { train: labels } });
    expect(badClass.message).toBe('y_train.npy holds class 7 but the model has 3 classes (0..2)');

    const garbage = await failure({ resume: new TextEncoder().encode('not a checkpoint') });
    expect([garbage.code, garbage.message]).toEqual(['invalid_checkpoint', 'the checkpoint cannot be read: it is not a checkpoint written by this trainer']);

    const crash = await failure({ moduleCode: `${classifier.code}\n\ndef build_model():\n    raise RuntimeError("no weights in /srv/models/secret/init.bin")\n` });
    expect([crash.code, crash.message]).toEqual(['training_failed', 'training failed: RuntimeError: no weights in init.bin']);
    expect(crash.log).toContain('Traceback (most recent call last)');
    expect(crash.log).toContain('/srv/models/secret/init.bin');

    const missing = await failure({ python: join(root, 'no-such-python') });
    expect([missing.code, missing.message]).toEqual(['spawn_failed', 'The Python interpreter for PyTorch training could not be started (ENOENT)']);
  });

  it('never leaves the driver behind: it dies with a SIGKILLed parent', async () => {
    const dir = workDir();
    await mkdir(join(dir, 'data'), { recursive: true });
    await writeFile(join(dir, 'model.py'), classifier.code!);
    const d = blobs(20000, 4, 3, 1);
    await writeNpy(join(dir, 'data', 'x_train.npy'), d.x, [d.count, 4]);
    await writeNpy(join(dir, 'data', 'y_train.npy'), BigInt64Array.from(d.y, (v) => BigInt(v)), [d.count]);
    const args = [torchDriverPath(), '--module', join(dir, 'model.py'), '--data-dir', join(dir, 'data'), '--out-dir', join(dir, 'out'), '--epochs', '1000', '--batch-size', '8'];
    const output = join(dir, 'driver.log');
    // A stand-in Node worker starting the driver with its output in a file, so no broken pipe can end it: only the
    // parent-death signal can.
    const worker = `
      const { spawn } = require('node:child_process');
      const out = require('node:fs').openSync(${JSON.stringify(output)}, 'w');
      const py = spawn(${JSON.stringify(SYSTEM_PYTHON)}, ${JSON.stringify(args)}, { env: { ...process.env, TORCH_TRAIN_PARENT_PID: String(process.pid) }, stdio: ['ignore', out, out] });
      console.log(py.pid);
      setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['-e', worker], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve) => parent.stdout.once('data', (b: Buffer) => resolve(Number(b.toString().trim()))));
    const alive = () => existsSync(`/proc/${pid}`) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    const training = Date.now() + 20_000;
    while (!(existsSync(output) && readFileSync(output, 'utf8').includes('"type":"batch"')) && Date.now() < training) await new Promise((r) => setTimeout(r, 50));
    expect(readFileSync(output, 'utf8')).toContain('"type":"batch"');
    expect(alive()).toBe(true);
    parent.kill('SIGKILL');
    const deadline = Date.now() + 3000;
    while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
  });
});

describe('the exported Keras-layout weights, loaded into the tfjs model, predict what the trained torch model predicts', () => {
  const MODELS: Record<string, string> = {
    dense: `network DenseNet { input: (4,) layers: Dense(8, "relu") Dense(6, "tanh") Output(3) }`,
    convnet: `network ConvNet { input: (8, 8, 1) layers: Conv2D(4, (3,3), "relu") MaxPooling2D((2,2)) Flatten() Dense(3) }`,
    batchnorm: `network BatchNormNet { input: (4,) layers: Dense(8) BatchNormalization(momentum=0.5) Activation("relu") Output(3) }`,
    lstm: `network LstmNet { input: (5, 3) layers: LSTM(6) Output(3) }`,
    gru: `network GruNet { input: (5, 3) layers: GRU(6) Output(3) }`,
    embedding: `network EmbeddingNet { input: (6,) layers: Embedding(20, 8) GlobalAveragePooling1D() Output(3) }`,
    conv_zoo: `network ConvZoo { input: (9, 9, 2) layers:
      Conv2D(4, (3,3), strides=2, padding="same", activation="relu") BatchNormalization(center=false, momentum=0.5)
      DepthwiseConv2D((3,3), depth_multiplier=2, padding="same") SeparableConv2D(5, (3,3), depth_multiplier=2, padding="same")
      GroupNormalization(groups=5) Conv2DTranspose(3, (3,3), strides=(2,2), padding="same") LayerNormalization()
      GlobalAveragePooling2D() Output(3) }`,
    sequence_zoo: `network SequenceZoo { input: (6, 4) layers:
      Conv1D(6, 3, padding="same") Bidirectional(LSTM(3, return_sequences=true)) Bidirectional(GRU(3, return_sequences=true), merge_mode="sum")
      SimpleRNN(6, return_sequences=true) TimeDistributed(Dense(6)) MultiHeadAttention(2, 3) TransformerEncoder(num_heads=2, ff_dim=8)
      Attention(use_scale=true) GlobalAveragePooling1D() Output(3) }`,
  };
  const root = mkdtempSync(join(tmpdir(), 'pytorch-keras-weights-'));
  const predictions = new Map<string, { torch: number[]; tfjs: number[]; keys: string[]; expectedKeys: string[] }>();

  beforeAll(async () => {
    if (!(await probeTorch(SYSTEM_PYTHON))) throw new Error(`${SYSTEM_PYTHON} cannot import torch and numpy: apt-get install python3-torch`);
    await tf.setBackend('cpu');
    const jobs: { name: string; module: string; state: string; x: string; shape: number[] }[] = [];
    const tfjsOut = new Map<string, number[]>();
    const keys = new Map<string, [string[], string[]]>();
    for (const [name, src] of Object.entries(MODELS)) {
      const m = compile(`${src.slice(0, -1)} loss: sparse_categorical_crossentropy optimizer: Adam(learning_rate=0.05) }`, { backend: 'pytorch' });
      const sample = m.checked.model.inputs[0].shape.slice(1) as number[];
      const per = sample.reduce((a, b) => a * b, 1);
      const rand = mulberry32(name.length);
      const vocab = name === 'embedding' ? 20 : 0;
      const values = (n: number) => Float32Array.from({ length: n * per }, () => (vocab ? Math.floor(rand() * vocab) : rand() * 2 - 1));
      const train: TensorData = { x: values(96), y: Int32Array.from({ length: 96 }, () => Math.floor(rand() * 3)), count: 96, sampleShape: sample, labelShape: [] };
      const dir = join(root, name);
      const result = await runPytorchTraining({ python: SYSTEM_PYTHON, moduleCode: m.code!, checked: m.checked, plan: planFor(m.checked, { epochs: 1, batchSize: 16, optimizer: { type: 'Adam', learningRate: 0.05, params: {} } }), data: { train }, workDir: dir, seed: 1 });
      keys.set(name, [Object.keys(result.weights!), torchWeightManifest(m.checked).map((e) => e.key)]);
      const x = values(8);
      const model = buildTfjsModel(m.checked, tf, { seed: 0 });
      setTfjsWeights(model, result.weights!);
      tfjsOut.set(name, tf.tidy(() => Array.from((model.predict(tf.tensor(x, [8, ...sample])) as tf.Tensor).dataSync())));
      model.dispose();
      await writeNpy(join(dir, 'predict.npy'), x, [8, ...sample]);
      await writeFile(join(dir, 'trained.pt'), result.stateDict!);
      jobs.push({ name, module: join(dir, 'model.py'), state: join(dir, 'trained.pt'), x: join(dir, 'predict.npy'), shape: sample });
    }
    // One interpreter predicts for every model: build it, load the state_dict the run returned, run it in eval mode.
    const snippet = [
      'import importlib.util, json, sys, numpy as np, torch',
      'out = {}',
      'for job in json.loads(sys.stdin.read()):',
      '    spec = importlib.util.spec_from_file_location(job["name"], job["module"])',
      '    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)',
      '    model = mod.build_model(); model.load_state_dict(torch.load(job["state"], weights_only=True)); model.eval()',
      '    with torch.no_grad():',
      '        out[job["name"]] = model(torch.from_numpy(np.load(job["x"]))).reshape(-1).tolist()',
      'print(json.dumps(out))',
    ].join('\n');
    const torchOut = await new Promise<Record<string, number[]>>((resolve, reject) => {
      const py = spawn(SYSTEM_PYTHON, ['-c', snippet], { env: { PATH: process.env.PATH, OMP_NUM_THREADS: '1' } });
      let stdout = '';
      let stderr = '';
      py.stdout.on('data', (b) => (stdout += b));
      py.stderr.on('data', (b) => (stderr += b));
      py.on('close', (code) => (code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(stderr))));
      py.stdin.end(JSON.stringify(jobs));
    });
    for (const name of Object.keys(MODELS)) {
      const [got, expected] = keys.get(name)!;
      predictions.set(name, { torch: torchOut[name], tfjs: tfjsOut.get(name)!, keys: got, expectedKeys: expected });
    }
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it.each(Object.keys(MODELS))('%s', (name) => {
    const { torch, tfjs, keys, expectedKeys } = predictions.get(name)!;
    expect(keys).toEqual(expectedKeys);
    expect(torch).toHaveLength(tfjs.length);
    expect(torch.length).toBeGreaterThanOrEqual(24);
    expect(Math.max(...torch.map((v, i) => Math.abs(v - tfjs[i])))).toBeLessThan(1e-4);
  });
});
