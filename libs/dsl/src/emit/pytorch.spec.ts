import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { itWithPython, pythonHas, runPython } from '../../test/python';
import type { CheckedModel } from '../checked';
import { check, totalParams } from '../check';
import { DslError, type Diagnostic } from '../diagnostics';
import { compile } from '../index';
import type { LayerNode, ModelNode } from '../ir';
import { parseModel } from '../parser';
import { emitPytorch } from './pytorch';
import { buildTfjsModel } from './tfjs';
import { weightsFromTfjs, type KerasWeights } from './weights';

/** Together these use every layer type the PyTorch backend supports, in both layouts and with every padding case. */
const MODELS: Record<string, string> = {
  mnist: `network MNISTClassifier { input: (28, 28, 1) layers:
    Conv2D(32, (3,3), "relu") MaxPooling2D((2,2)) Flatten() Dense(128, "relu") Dropout(0.5) Output(10, "softmax") }`,
  conv2d: `network Conv2DZoo { input: (15, 15, 3) layers:
    Conv2D(8, (3,3), strides=2, padding="same", activation="relu")
    Conv2D(6, (4,4), padding="same", use_bias=false)
    BatchNormalization()
    MaxPooling2D((3,3), strides=(2,2), padding="same")
    DepthwiseConv2D((3,3), depth_multiplier=2, padding="same", activation="elu")
    SeparableConv2D(8, (3,3), depth_multiplier=2, padding="same", activation="selu")
    GroupNormalization(groups=4)
    Conv2DTranspose(6, (3,3), strides=(2,2), padding="same", activation="softplus")
    InstanceNormalization()
    Conv2DTranspose(4, (1,1), strides=(2,2))
    AveragePooling2D((2,2), padding="same")
    Conv2D(4, (3,3), dilation_rate=(2,2), activation="softmax")
    AveragePooling2D((3,3), strides=(1,1), padding="same")
    Conv2DTranspose(3, (4,4), strides=(2,2), padding="same")
    AveragePooling2D((3,3), strides=(2,2), padding="same")
    SpatialDropout2D(0.2)
    GaussianNoise(0.1)
    Activation("leaky_relu", 0.1)
    GlobalAveragePooling2D()
    Output(5) }`,
  conv1d: `network Conv1DNet { input: (20, 4) layers:
    Conv1D(8, 3, padding="same", strides=2, activation="tanh") MaxPooling1D(2) AveragePooling1D(3, strides=1, padding="same")
    SpatialDropout1D(0.1) Conv1D(6, 2) GlobalMaxPooling1D() Dense(3) }`,
  conv3d: `network Conv3DNet { input: (7, 8, 8, 2) layers:
    Conv3D(4, (3,3,3), strides=2, padding="same", activation="relu") MaxPooling3D((2,2,2), padding="same")
    AveragePooling3D((1,2,2)) SpatialDropout3D(0.1) GlobalMaxPooling3D() BatchNormalization(momentum=0.9, epsilon=0.01)
    Output(2, "sigmoid") }`,
  batchnorm3d: `network BatchNorm3D { input: (4, 4, 4, 2) layers: BatchNormalization(scale=false) Flatten() Dense(2) }`,
  recurrent: `network Recurrent { input: (10, 6) layers:
    LSTM(16, return_sequences=true) GRU(8, return_sequences=true) SimpleRNN(8, activation="relu", return_sequences=true)
    Bidirectional(LSTM(8, return_sequences=true)) Bidirectional(GRU(4, return_sequences=true), merge_mode="mul")
    Bidirectional(SimpleRNN(4), merge_mode="ave") Dense(3, "gelu") }`,
  cells: `network Cells { input: (None, 6, 5) layers:
    TimeDistributed(Dense(8, "swish")) Bidirectional(GRU(4, use_bias=false), merge_mode="sum") Reshape((2, 2)) LSTMCell(6)
    Reshape((3, 2)) GRUCell(5) Reshape((5, 1)) SimpleRNNDropoutWrapper(4, dropout=0.3) Reshape((4, 1)) Bidirectional(LSTM(3)) }`,
  embedding: `network TextNet { input: (20,) layers:
    Embedding(100, 16) LSTM(12, return_sequences=true) TimeDistributed(Dense(8, "mish")) LayerNormalization(epsilon=0.001)
    GlobalAveragePooling1D() Output(4) }`,
  transformer: `network Transformer { input: (12, 16) layers:
    TransformerEncoder(num_heads=4, ff_dim=32) TransformerDecoder(num_heads=2, ff_dim=8, dropout=0.2)
    TransformerEncoder(num_heads=2) { Dense(32, "relu") Dense(16) } Transformer(num_heads=8, ff_dim=16)
    MultiHeadAttention(2, 8) LayerNormalization() Attention(use_scale=true, causal=true) Attention() GlobalAveragePooling1D()
    Output(3, "linear") }`,
  merges: `network Merges { input: {a: (16,), b: (16,)} layers:
    a: { Dense(8, "relu") } b: { Dense(8, "sigmoid") } Concatenate()
    left: { Dense(4) } right: { Dense(4, "tanh") } Add()
    p: { Dense(4) } q: { Dense(4) } Subtract()
    m1: { Dense(4) } m2: { Dense(4) } m3: { Dense(4) } Multiply()
    s1: { Dense(4) } s2: { Dense(4) } Average()
    u: { Dense(4) } Maximum()
    w: { Dense(4) } Minimum()
    d1: { Dense(4) } d2: { Dense(4) } Dot(axes=-1, normalize=true)
    Dense(2, "softsign") }`,
  images: `network ResNetish { input: (12, 12, 3) layers:
    Conv2D(8, (3,3), padding="same", activation="relu")
    ResidualConnection { Conv2D(8, (3,3), padding="same") BatchNormalization(center=false) Activation("relu") }
    skip: { Conv2D(8, (1,1)) } Add()
    l: { Conv2D(4, (3,3), padding="same") } r: { MaxPooling2D((2,2), strides=(1,1), padding="same") } Concatenate(axis=-1)
    Conv2D(4, (3,3)) Reshape((10, 40)) Conv1D(4, 3) LayerNormalization(axis=1, scale=false) BatchNormalization()
    a: { Dense(3) } b: { Dense(3) } Dot(axes=1)
    Dense(6, "softsign") Dense(2, "exponential") }`,
  video: `network Video { input: (5, 8, 8, 1) layers:
    TimeDistributed(Conv2D(4, (3,3), padding="same", activation="relu")) TimeDistributed(MaxPooling2D((2,2)))
    TimeDistributed(Flatten()) GRU(6) BatchNormalization() Output(2) }`,
  variable_length: `network VarLen { input: (None, None, 4) layers:
    Conv1D(4, 3, strides=2, padding="same") AveragePooling1D(2, padding="same") MaxPooling1D(3, strides=2, padding="same")
    LSTM(5) }`,
  auto_flatten: `network AutoFlatten { input: (6, 6, 2) layers: Conv2D(3, (3,3), activation="silu") Dense(4) Output(2) }`,
  dense_rank3: `network Dense3D { input: (None, 7, 5) layers: Dense(4, "relu") Dense(3) Flatten() Output(2, "softmax") }`,
  hard_sigmoid: `network HardSigmoid { input: (4,) layers: Dense(3, "hard_sigmoid") }`,
  batchnorm_axis: `network BatchNormAxis { input: (3, 2) layers: BatchNormalization(axis=1, epsilon=0.5) }`,
};

/**
 * Compared with the tfjs model for the same weights, except `batchnorm3d` (tfjs has no BatchNormalization for rank-5
 * tensors), which is checked against hand-computed Keras values instead.
 */
const TFJS_MODELS = Object.keys(MODELS).filter((n) => n !== 'batchnorm3d');

const tensor = (shape: number[], data: number[]) => ({ shape, data: Float32Array.from(data) });

/** Keras outputs computed by hand (from the Keras formulas) for the models tfjs cannot check; x is the flat input. */
const REFERENCES: Record<string, { weights: KerasWeights; expected: (x: number[]) => number[] }> = {
  batchnorm_axis: {
    weights: { batch_normalization_1: [tensor([3], [1, 2, 3]), tensor([3], [0.5, 0, -1]), tensor([3], [0, 10, 20]), tensor([3], [1, 4, 0.5])] },
    // Statistics along axis 1 of (batch, 3, 2): y = gamma * (x - mean) / sqrt(var + epsilon) + beta.
    expected: (x) => x.map((v, i) => {
      const c = Math.floor(i / 2) % 3;
      return ([1, 2, 3][c] * (v - [0, 10, 20][c])) / Math.sqrt([1, 4, 0.5][c] + 0.5) + [0.5, 0, -1][c];
    }),
  },
  hard_sigmoid: {
    weights: { dense_1: [tensor([4, 3], [4, -4, 1, 3, 2, -1, -2, 5, 0.5, 1, -3, 2]), tensor([3], [0.5, -0.5, 0])] },
    // Keras 3: hard_sigmoid(z) = relu6(z + 3) / 6.
    expected: (x) => {
      const k = [4, -4, 1, 3, 2, -1, -2, 5, 0.5, 1, -3, 2];
      const out: number[] = [];
      for (let b = 0; b < x.length / 4; b++) {
        for (let j = 0; j < 3; j++) {
          let z = [0.5, -0.5, 0][j];
          for (let i = 0; i < 4; i++) z += x[b * 4 + i] * k[i * 3 + j];
          out.push(Math.min(Math.max(z + 3, 0), 6) / 6);
        }
      }
      return out;
    },
  },
};

const BATCH = 3;
/** Length used for unknown (variable) dimensions. */
const FREE_DIM = 7;

const checkedOf = (src: string): CheckedModel => check(parseModel(src));

function diagnostics(fn: () => unknown): Diagnostic[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof DslError) return e.diagnostics;
    throw e;
  }
  throw new Error('expected a DslError');
}

type Inputs = { dims: number[]; data: number[] }[];

/** Deterministic inputs: token ids below the vocabulary for Embedding models, values in [-1, 1) otherwise. */
function makeInputs(c: CheckedModel, seed: number): Inputs {
  const first = c.model.layers[0];
  const vocab = first.kind === 'layer' && first.type === 'Embedding' ? (first.params.input_dim as number) : undefined;
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  return c.model.inputs.map((i) => {
    const dims = [BATCH, ...i.shape.slice(1).map((d) => d ?? FREE_DIM)];
    const data = Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => (vocab ? Math.floor(next() * vocab) : next() * 2 - 1));
    return { dims, data };
  });
}

/** What the Python side needs to put each Keras weight list into the torch module of the same name. */
function weightManifest(c: CheckedModel, weights: KerasWeights, file: string): object {
  const kinds = new Map<string, { kind: string; center: boolean; scale: boolean }>();
  const visit = (nodes: ModelNode[]): void => {
    for (const n of nodes) {
      if (n.kind === 'branch') {
        visit(n.body);
        continue;
      }
      const inner = n.params.layer as LayerNode | undefined;
      const kind = n.type === 'TimeDistributed' ? inner!.type : n.type === 'Bidirectional' ? `Bidirectional:${inner!.type}` : n.type;
      kinds.set(n.id, { kind, center: n.params.center !== false, scale: n.params.scale !== false });
      for (const [part, type] of [['mha', 'MultiHeadAttention'], ['ln1', 'LayerNormalization'], ['ln2', 'LayerNormalization'], ['ffn1', 'Dense'], ['ffn2', 'Dense']]) {
        kinds.set(`${n.id}_${part}`, { kind: type, center: true, scale: true });
      }
      visit(n.sublayers);
    }
  };
  visit(c.model.layers);
  const parts: Float32Array[] = [];
  let offset = 0;
  const entries = Object.entries(weights).map(([key, tensors]) => ({
    key,
    ...kinds.get(key)!,
    tensors: tensors.map((t) => {
      parts.push(t.data);
      offset += t.data.length;
      return { shape: t.shape, offset: offset - t.data.length, size: t.data.length };
    }),
  }));
  const all = new Float32Array(offset);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  writeFileSync(file, all);
  return { file, entries };
}

/** Every weight random (variances kept positive), so biases and BatchNorm statistics are exercised too. */
function randomizeWeights(model: tf.LayersModel, seed: number): void {
  let s = seed;
  for (const layer of model.layers) {
    const values = layer.weights.map((w) => {
      s += 1;
      const shape = w.shape as number[];
      return /variance/.test(w.originalName) ? tf.randomUniform(shape, 0.5, 1.5, 'float32', s) : tf.randomUniform(shape, -0.5, 0.5, 'float32', s);
    });
    if (values.length) layer.setWeights(values);
    tf.dispose(values);
  }
}

/**
 * Imports each generated module, builds the model, optionally loads Keras-layout weights (converting them the way a
 * user moving weights between backends would), runs an inference forward pass and a training forward/backward pass.
 */
const HARNESS = String.raw`
import importlib.util, json, sys, traceback
import numpy as np
import torch

torch.set_num_threads(1)


def put(param, value):
    value = torch.as_tensor(np.array(value), dtype=param.dtype)
    assert tuple(param.shape) == tuple(value.shape), (tuple(param.shape), tuple(value.shape))
    param.data.copy_(value)


def load_rnn(m, kind, ws, suffix):
    kernel, recurrent = ws[0], ws[1]
    bias = ws[2] if len(ws) > 2 else None
    if kind.startswith("GRU"):
        # Keras gates z, r, h; torch r, z, n. Keras GRU (reset_after) keeps an input and a recurrent bias.
        u = recurrent.shape[0]
        order = np.r_[u:2 * u, 0:u, 2 * u:3 * u]
        kernel, recurrent = kernel[:, order], recurrent[:, order]
        biases = None if bias is None else (bias[0][order], bias[1][order])
    else:
        # LSTM gates i, f, c, o are torch's i, f, g, o; torch adds a second (recurrent) bias.
        biases = None if bias is None else (bias, np.zeros_like(bias))
    put(getattr(m, "weight_ih_l0" + suffix), kernel.T)
    put(getattr(m, "weight_hh_l0" + suffix), recurrent.T)
    if biases is not None:
        put(getattr(m, "bias_ih_l0" + suffix), biases[0])
        put(getattr(m, "bias_hh_l0" + suffix), biases[1])


def load_keras(model, manifest):
    blob = np.fromfile(manifest["file"], dtype=np.float32)
    for e in manifest["entries"]:
        ws = [blob[t["offset"]:t["offset"] + t["size"]].reshape(t["shape"]) for t in e["tensors"]]
        m, kind = getattr(model, e["key"]), e["kind"]
        if kind in ("Dense", "Output"):
            put(m.weight, ws[0].T)
            if len(ws) > 1:
                put(m.bias, ws[1])
        elif kind in ("Conv1D", "Conv2D", "Conv3D"):
            r = ws[0].ndim - 2
            put(m.weight, ws[0].transpose(r + 1, r, *range(r)))
            if len(ws) > 1:
                put(m.bias, ws[1])
        elif kind == "Conv2DTranspose":
            put(m.weight, ws[0].transpose(3, 2, 0, 1))
            if len(ws) > 1:
                put(m.bias, ws[1])
        elif kind in ("DepthwiseConv2D", "SeparableConv2D"):
            kh, kw, c, dm = ws[0].shape
            depthwise = ws[0].reshape(kh, kw, c * dm).transpose(2, 0, 1)[:, None]
            if kind == "DepthwiseConv2D":
                put(m.weight, depthwise)
                if len(ws) > 1:
                    put(m.bias, ws[1])
            else:
                put(m[0].weight, depthwise)
                put(m[1].weight, ws[1].transpose(3, 2, 0, 1))
                if len(ws) > 2:
                    put(m[1].bias, ws[2])
        elif kind in ("BatchNormalization", "LayerNormalization", "GroupNormalization", "InstanceNormalization"):
            ws = list(ws)
            if e["scale"]:
                put(m.weight, ws.pop(0))
            if e["center"]:
                put(m.bias, ws.pop(0))
            if kind == "BatchNormalization":
                m.running_mean.copy_(torch.as_tensor(ws[0]))
                m.running_var.copy_(torch.as_tensor(ws[1]))
        elif kind == "Embedding":
            put(m.weight, ws[0])
        elif kind == "MultiHeadAttention":
            d = ws[0].shape[0]
            for i, proj in enumerate((m.query, m.key, m.value)):
                put(proj.weight, ws[2 * i].reshape(d, -1).T)
                put(proj.bias, ws[2 * i + 1].reshape(-1))
            put(m.output.weight, ws[6].reshape(-1, d).T)
            put(m.output.bias, ws[7])
        elif kind == "Attention":
            put(m.scale, ws[0].reshape(()))
        elif kind.startswith("Bidirectional:"):
            half = len(ws) // 2
            load_rnn(m, kind.split(":")[1], ws[:half], "")
            load_rnn(m, kind.split(":")[1], ws[half:], "_reverse")
        else:
            load_rnn(m, kind, ws, "")


results = {}
for job in json.load(sys.stdin):
    r = {}
    try:
        spec = importlib.util.spec_from_file_location(job["module"], job["path"])
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        torch.manual_seed(0)
        model = mod.build_model()
        r["params"] = sum(p.numel() for p in model.parameters())
        r["input_shape"] = list(mod.INPUT_SHAPE)
        if job.get("weights"):
            load_keras(model, job["weights"])
        xs = [torch.tensor(x["data"], dtype=torch.float32).reshape(x["dims"]) for x in job["inputs"]]
        model.eval()
        with torch.no_grad():
            y = model(*xs)
        r["shape"] = list(y.shape)
        r["data"] = y.reshape(-1).tolist()
        model.train()
        model(*xs).sum().backward()
        r["no_grad"] = [n for n, p in model.named_parameters() if p.grad is None]
    except Exception:
        r["error"] = traceback.format_exc()[-3000:]
    results[job["name"]] = r
print(json.dumps(results))
`;

interface PyResult {
  params: number;
  input_shape: (number | null)[];
  shape: number[];
  data: number[];
  no_grad: string[];
  error?: string;
}

/**
 * The example and golden `ok` files as the pytorch backend compiles them; examples the checker rejects are not the
 * backend's concern.
 */
const FIXTURES = join(__dirname, '..', '..', 'fixtures');
const fixtures = new Map<string, { checked: CheckedModel; code: string }>();
const fixtureFiles = ['examples', 'ok'].flatMap((d) => readdirSync(join(FIXTURES, d)).filter((f) => f.endsWith('.neural')).map((f) => `${d}/${f}`));
for (const file of fixtureFiles) {
  const src = readFileSync(join(FIXTURES, file), 'utf8');
  try {
    check(parseModel(src));
  } catch (e) {
    if (e instanceof DslError) continue;
    throw e;
  }
  const result = compile(src, { backend: 'pytorch' });
  fixtures.set(file, { checked: result.checked, code: result.code! });
}

describe('emitPytorch (generated Python run under PyTorch)', () => {
  const itPy = itWithPython('torch', 'numpy');
  const dir = mkdtempSync(join(tmpdir(), 'pytorch-emit-'));
  const checked = new Map<string, CheckedModel>();
  const expected = new Map<string, Float32Array>();
  let results: Record<string, PyResult> = {};

  beforeAll(async () => {
    await tf.setBackend('cpu');
    const jobs: object[] = [];
    for (const [name, src] of Object.entries(MODELS)) {
      const c = checkedOf(src);
      checked.set(name, c);
      const path = join(dir, `${name}.py`);
      writeFileSync(path, emitPytorch(c));
      const inputs = makeInputs(c, 1);
      jobs.push({ name, module: name, path, inputs });
      if (!TFJS_MODELS.includes(name)) continue;
      const model = buildTfjsModel(c, tf, { seed: 3 });
      randomizeWeights(model, 11);
      const xs = inputs.map((x) => tf.tensor(x.data, x.dims));
      expected.set(name, tf.tidy(() => (model.predict(xs.length === 1 ? xs[0] : xs) as tf.Tensor).dataSync() as Float32Array).slice());
      jobs.push({ name: `weights:${name}`, module: `${name}_w`, path, inputs, weights: weightManifest(c, weightsFromTfjs(model), join(dir, `${name}.bin`)) });
      tf.dispose(xs);
      model.dispose();
    }
    for (const [name, ref] of Object.entries(REFERENCES)) {
      const c = checked.get(name)!;
      const inputs = makeInputs(c, 9).map((x) => ({ ...x, data: x.data.map((v) => v * 4) }));
      expected.set(`keras:${name}`, Float32Array.from(ref.expected(inputs[0].data)));
      jobs.push({ name: `keras:${name}`, module: `${name}_k`, path: join(dir, `${name}.py`), inputs, weights: weightManifest(c, ref.weights, join(dir, `${name}.ref.bin`)) });
    }
    for (const [file, { checked: c, code }] of fixtures) {
      const module = `fixture_${file.replace(/\W/g, '_')}`;
      const path = join(dir, `${module}.py`);
      writeFileSync(path, code);
      checked.set(file, c);
      jobs.push({ name: file, module, path, inputs: makeInputs(c, 2) });
    }
    if (!pythonHas('torch', 'numpy')) return;
    const run = runPython(['-c', HARNESS], { input: JSON.stringify(jobs), timeoutMs: 300_000 });
    if (run.status !== 0) throw new Error(`harness failed: ${run.stderr}`);
    results = JSON.parse(run.stdout);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  itPy.each(Object.keys(MODELS))('%s: forward gives the checked output shape; parameters match the torch count', (name) => {
    const c = checked.get(name)!;
    const r = results[name];
    expect(r.error).toBeUndefined();
    expect(r.shape).toEqual([BATCH, ...c.outputShape.slice(1).map((d) => d ?? FREE_DIM)]);
    expect(r.params).toBe(totalParams(c, 'torch'));
    expect(r.input_shape).toEqual(c.model.inputs[0].shape.slice(1));
    expect(r.no_grad).toEqual([]);
    expect(r.data.every(Number.isFinite)).toBe(true);
  });

  /** Largest difference relative to max(1, |expected|). */
  function worstDiff(r: PyResult, want: Float32Array): number {
    expect(r.error).toBeUndefined();
    expect(r.data).toHaveLength(want.length);
    return Math.max(...r.data.map((v, i) => Math.abs(v - want[i]) / Math.max(1, Math.abs(want[i]))));
  }

  itPy.each(TFJS_MODELS)('%s: with the same Keras weights, PyTorch and tfjs agree', (name) => {
    expect(worstDiff(results[`weights:${name}`], expected.get(name)!)).toBeLessThan(1e-4);
  });

  itPy.each(Object.keys(REFERENCES))('%s: with given Keras weights, PyTorch gives the Keras values', (name) => {
    expect(worstDiff(results[`keras:${name}`], expected.get(`keras:${name}`)!)).toBeLessThan(1e-5);
  });

  it('compiles every fixture the checker accepts', () => {
    // Four examples are not valid for the checker (a channels-first input, Embedding/Transformer on wrong ranks).
    expect([...fixtures.keys()].filter((f) => f.startsWith('examples/'))).toHaveLength(14);
    expect([...fixtures.keys()].filter((f) => f.startsWith('ok/'))).toHaveLength(7);
  });

  itPy.each([...fixtures.keys()])('fixture %s imports and runs', (file) => {
    const c = checked.get(file)!;
    const r = results[file];
    expect(r.error).toBeUndefined();
    expect(r.shape).toEqual([BATCH, ...c.outputShape.slice(1).map((d) => d ?? FREE_DIM)]);
    expect(r.params).toBe(totalParams(c, 'torch'));
  });
});

/** Training configurations: every loss, optimizer, schedule and metric the script supports. */
const TRAINING: Record<string, string> = {
  sparse: `network Sparse { input: (8,) layers: Dense(16, "relu") Output(3)
    loss: sparse_categorical_crossentropy optimizer: Adam(learning_rate=0.01) metrics: ["accuracy", "top_k_accuracy"]
    train { epochs: 4, batch_size: 16, validation_split: 0.25 } }`,
  categorical_logits: `network CatLogits { input: (8,) layers: Dense(16, "relu") Output(3, "linear")
    loss: categorical_crossentropy optimizer: SGD(learning_rate=0.05, momentum=0.9, nesterov=true)
    metrics: ["accuracy", "categorical_accuracy", "precision", "recall", "auc"] }`,
  binary: `network Binary { input: (8,) layers: Dense(8, "tanh") Output(1, "sigmoid")
    loss: binary_crossentropy optimizer: RMSprop(learning_rate=ExponentialDecay(0.01, 10, 0.9), rho=0.8) metrics: ["accuracy", "auc"] }`,
  binary_logits: `network BinaryLogits { input: (8,) layers: Dense(8, "relu") Dense(1)
    loss: binary_cross_entropy optimizer: Adagrad(learning_rate=0.1) metrics: ["binary_accuracy"] }`,
  mse: `network Regression { input: (8,) layers: Dense(8, "relu") Dense(2)
    loss: mse optimizer: Adadelta(learning_rate=1.0) lr_schedule: StepDecay(1.0, 5, 0.5) metrics: ["mae", "mse", "rmse"] }`,
  mae: `network Mae { input: (8,) layers: Dense(2) loss: mae optimizer: Adamax(learning_rate=InverseTimeDecay(0.05, 4, 0.5)) }`,
  huber: `network Huber { input: (8,) layers: Dense(2) loss: huber optimizer: Nadam(learning_rate=CosineDecay(0.05, 20)) }`,
  hinge: `network Hinge { input: (8,) layers: Dense(1, "tanh")
    loss: hinge optimizer: AdamW(learning_rate=PolynomialDecay(0.05, 20), weight_decay=0.01) }`,
  kl: `network KL { input: (8,) layers: Dense(3, "softmax")
    loss: kl_divergence optimizer: Adam(learning_rate=0.05, clipnorm=1.0, weight_decay=0.001) }`,
  poisson: `network Poisson { input: (8,) layers: Dense(2, "softplus")
    loss: poisson optimizer: SGD(learning_rate=0.05, clipvalue=0.5, global_clipnorm=1.0) }`,
  cosine: `network Cosine { input: (8,) layers: Dense(3) loss: cosine_similarity optimizer: Adam(learning_rate=0.05) }`,
  log_cosh: `network LogCosh { input: (8,) layers: Dense(2) loss: log_cosh optimizer: Adam(learning_rate=0.05) train { gradient_clip: 1.0 } }`,
  nll: `network Nll { input: (8,) layers: Output(3) loss: nll optimizer: Adam(learning_rate=0.05) metrics: ["sparse_categorical_accuracy"] }`,
  multi_input: `network TwoInputs { input: {a: (4,), b: (4,)} layers: a: { Dense(8, "relu") } b: { Dense(8, "relu") } Concatenate() Output(3)
    loss: cross_entropy optimizer: Adam(learning_rate=0.02) metrics: ["accuracy"] }`,
};

/** Writes learnable synthetic data for each module (from its LOSS and shapes) and trains it in-process via main(argv). */
const TRAIN_HARNESS = String.raw`
import contextlib, importlib.util, io, json, os, sys, traceback
import numpy as np

results = {}
for job in json.load(sys.stdin):
    try:
        spec = importlib.util.spec_from_file_location(job["name"], job["path"])
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        rng = np.random.default_rng(0)
        shapes = [mod.INPUT_SHAPE] if len(mod.INPUT_NAMES) == 1 else [mod.INPUT_SHAPES[n] for n in mod.INPUT_NAMES]
        n, out = 96, mod.OUTPUT_SHAPE[-1]
        xs = [rng.normal(size=(n,) + tuple(s)).astype("float32") for s in shapes]
        z = sum(x.reshape(n, -1) @ rng.normal(size=(x[0].size, out)) for x in xs)
        loss = mod.LOSS
        if loss.endswith("categorical_crossentropy"):
            y = z.argmax(1)
        elif loss in ("binary_crossentropy", "hinge"):
            y = (z > 0).astype("float32")
        elif loss == "kl_divergence":
            y = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        elif loss == "poisson":
            y = np.exp(np.clip(z, -2, 2) / 2)
        else:
            y = z
        arrays = {"y_train": y[:80], "y_test": y[80:]}
        for name, x in zip(mod.INPUT_NAMES, xs):
            key = "" if len(xs) == 1 else "_" + name
            arrays["x_train" + key], arrays["x_test" + key] = x[:80], x[80:]
        path = os.path.join(job["dir"], job["name"] + ".npz")
        np.savez(path, **arrays)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            mod.main(["--data", path, "--epochs", "4", "--batch-size", "16", "--seed", "0"])
        results[job["name"]] = {"stdout": buf.getvalue()}
    except BaseException:
        results[job["name"]] = {"error": traceback.format_exc()[-3000:]}
print(json.dumps(results))
`;

describe('emitPytorch training script', () => {
  const itPy = itWithPython('torch', 'numpy');
  const dir = mkdtempSync(join(tmpdir(), 'pytorch-train-'));
  let runs: Record<string, { stdout?: string; error?: string }> = {};

  beforeAll(() => {
    const jobs = Object.entries(TRAINING).map(([name, src]) => {
      const path = join(dir, `${name}.py`);
      writeFileSync(path, emitPytorch(checkedOf(src)));
      return { name, path, dir };
    });
    if (!pythonHas('torch', 'numpy')) return;
    const run = runPython(['-c', TRAIN_HARNESS], { input: JSON.stringify(jobs), timeoutMs: 300_000 });
    if (run.status !== 0) throw new Error(`training harness failed: ${run.stderr}`);
    runs = JSON.parse(run.stdout);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const rows = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);

  itPy.each(Object.keys(TRAINING))('%s trains: one JSON line per epoch with the Keras keys, and the loss falls', (name) => {
    const r = runs[name];
    expect(r.error).toBeUndefined();
    const lines = rows(r.stdout!);
    const epochs = lines.filter((l) => 'epoch' in l);
    expect(epochs.map((l) => l.epoch)).toEqual([1, 2, 3, 4]);
    const model = checkedOf(TRAINING[name]).model;
    const keys = ['loss', ...(model.metrics ?? []).map((m) => (m === 'top_k_accuracy' ? 'sparse_top_k_categorical_accuracy' : m))];
    const validated = (model.training?.validation_split ?? 0.2) !== 0;
    expect(Object.keys(epochs[0]).sort()).toEqual(['epoch', ...keys, ...(validated ? keys.map((k) => `val_${k}`) : [])].sort());
    expect(lines[lines.length - 1]).toEqual(Object.fromEntries(keys.map((k) => [`test_${k}`, expect.any(Number)])));
    for (const l of lines) for (const v of Object.values(l)) expect(Number.isFinite(v)).toBe(true);
    expect(epochs[3].loss).toBeLessThan(epochs[0].loss);
    for (const k of keys.filter((k) => /accuracy|precision|recall|auc/.test(k))) {
      expect(epochs[3][k]).toBeGreaterThanOrEqual(0);
      expect(epochs[3][k]).toBeLessThanOrEqual(1);
    }
  });

  itPy('runs as a script: __main__ trains, evaluates and saves a loadable state_dict', () => {
    const script = join(dir, 'sparse.py');
    const saved = join(dir, 'weights.pt');
    const run = runPython([script, '--data', join(dir, 'sparse.npz'), '--epochs', '3', '--seed', '1', '--save', saved]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const lines = rows(run.stdout);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toEqual({ epoch: 1, loss: expect.any(Number), accuracy: expect.any(Number), sparse_top_k_categorical_accuracy: expect.any(Number), val_loss: expect.any(Number), val_accuracy: expect.any(Number), val_sparse_top_k_categorical_accuracy: expect.any(Number) });
    expect(lines[2].loss).toBeLessThan(lines[0].loss);
    const load = runPython(['-c', `import sys, torch; sys.path.insert(0, ${JSON.stringify(dir)}); import sparse; m = sparse.build_model(); m.load_state_dict(torch.load(${JSON.stringify(saved)})); print(sorted(m.state_dict()))`]);
    expect(load.stderr).toBe('');
    expect(load.stdout.trim()).toBe("['dense_1.bias', 'dense_1.weight', 'output_1.bias', 'output_1.weight']");
  });

  itPy('says clearly when --dataset needs torchvision, and when there is no data', () => {
    const script = join(dir, 'sparse.py');
    const noData = runPython([script]);
    expect(noData.status).not.toBe(0);
    expect(noData.stderr).toContain('no training data: pass --data PATH.npz or --dataset NAME');
    if (pythonHas('torchvision')) return;
    const run = runPython([script, '--dataset', 'MNIST', '--data-dir', dir]);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('--dataset MNIST needs torchvision, which is not installed');
  });
});

describe('emitPytorch output is inert whatever the DSL strings hold', () => {
  const itPy = itWithPython('torch', 'numpy');
  const payload = `x'"); __import__('os').system('touch PWNED') #\n"""\n\\'`;

  function evilModel(): CheckedModel {
    const c = checkedOf(`network Evil { input: (4,) layers: Dense(3, "relu") Output(2)
      loss: sparse_categorical_crossentropy train { epochs: 1, save_path: "saved'); __import__('os').system('touch PWNED'); ('\n.pt" } }`);
    c.model.name = payload;
    c.model.inputs[0].name = payload;
    return c;
  }

  it('escapes every DSL string and falls back to a safe class name', () => {
    const code = emitPytorch(evilModel());
    expect(code).toContain('class NeuralModel(nn.Module):');
    expect(code).not.toContain("__import__('os')");
    expect(code).not.toContain('\n"""\n');
  });

  itPy('imports without side effects and keeps the strings verbatim', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pytorch-inert-'));
    try {
      const c = evilModel();
      writeFileSync(join(dir, 'evil.py'), emitPytorch(c));
      const probe = [
        'import ast, json, sys',
        'source = open("evil.py").read()',
        'calls = [n.func.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]',
        'sys.path.insert(0, ".")',
        'import evil',
        'print(json.dumps([evil.MODEL_NAME, evil.INPUT_NAMES, evil.SAVE_PATH, type(evil.build_model()).__name__, "__import__" in calls]))',
      ].join('\n');
      const run = runPython(['-c', probe], { cwd: dir });
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout)).toEqual([payload, [payload], "saved'); __import__('os').system('touch PWNED'); ('\n.pt", 'NeuralModel', false]);
      const rng = 'import numpy as np; r = np.random.default_rng(0); np.savez("d.npz", x_train=r.normal(size=(8, 4)), y_train=r.integers(0, 2, 8))';
      expect(runPython(['-c', rng], { cwd: dir }).status).toBe(0);
      const train = runPython(['evil.py', '--data', 'd.npz'], { cwd: dir });
      expect(train.stderr).toBe('');
      expect(existsSync(join(dir, 'PWNED'))).toBe(false);
      // The save path arrived as data: the file is named by the whole string.
      expect(existsSync(join(dir, "saved'); __import__('os').system('touch PWNED'); ('\n.pt"))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('emitPytorch refusals', () => {
  it('reports every layer PyTorch cannot express at once, at each layer', () => {
    const c = checkedOf(`network Opaque {
      input: (8, 8, 3)
      layers:
        Lambda("x: __import__('os').system('id')")
        MyAttentionLayer(units=3)
        Inception()
        Flatten()
        Output(2)
    }`);
    const ds = diagnostics(() => emitPytorch(c));
    expect(ds.map((d) => [d.code, d.line, d.column])).toEqual([
      ['unsupported_layer', 4, 9],
      ['unsupported_layer', 5, 9],
      ['unsupported_layer', 6, 9],
    ]);
    expect(ds[0].message).toBe('Lambda layers cannot be emitted for the pytorch backend: a Lambda would run arbitrary code, which is never generated');
    expect(ds[1].message).toMatch(/^MyAttentionLayer layers cannot be emitted for the pytorch backend: custom layers/);
  });

  it('refuses what torch cannot match exactly, with the rest of the problems, in one error', () => {
    const c = checkedOf(`network Mixed {
      input: (10,)
      layers:
        Embedding(50, 8, mask_zero=true)
        LSTM(4, activation="relu", return_sequences=true)
        Bidirectional(GRU(4, activation="sigmoid"))
        Output(2)
      optimizer: Ftrl(learning_rate=0.1)
      metrics: ["f1_score"]
    }`);
    const ds = diagnostics(() => emitPytorch(c, { dataset: 'ImageNet' }));
    expect(ds.map((d) => d.code).sort()).toEqual(['unknown_dataset', 'unsupported_layer', 'unsupported_layer', 'unsupported_layer', 'unsupported_metric', 'unsupported_optimizer']);
    expect(ds.find((d) => d.line === 5)!.message).toBe("LSTM with activation 'relu' cannot be emitted for the pytorch backend: torch.nn.LSTM supports tanh only");
  });

  it('refuses unresolved hyperparameters', () => {
    const c = checkedOf(`network H { input: (4,) layers: Dense(HPO(choice(8, 16))) Output(2) }`);
    expect(diagnostics(() => emitPytorch(c)).map((d) => d.code)).toEqual(['unresolved_hpo']);
  });
});

describe('emitPytorch layout', () => {
  it('permutes once around a conv/pool run and back before Flatten, so Dense sees Keras HWC order', () => {
    const code = emitPytorch(checkedOf(MODELS.mnist));
    const forward = code.slice(code.indexOf('def forward'), code.indexOf('def build_model'));
    const ops = forward.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('x = '));
    expect(ops).toEqual([
      'x = x.permute(0, 3, 1, 2)',
      'x = torch.relu(self.conv2d_1(x))',
      'x = self.max_pooling2d_1(x)',
      'x = x.permute(0, 2, 3, 1)',
      'x = torch.flatten(x, 1)',
      'x = torch.relu(self.dense_1(x))',
      'x = self.dropout_1(x)',
      'x = torch.softmax(self.output_1(x), dim=-1)',
    ]);
  });

  it('defines INPUT_SHAPE, INPUT_SHAPES for several inputs, the class and build_model; trains only under __main__', () => {
    const code = emitPytorch(checkedOf(TRAINING.multi_input), { dataset: 'mnist' });
    expect(code).toContain("INPUT_SHAPE = (4,)\nINPUT_SHAPES = {'a': (4,), 'b': (4,)}");
    expect(code).toContain('class TwoInputs(nn.Module):');
    expect(code).toContain('    def forward(self, x0, x1):');
    expect(code).toContain('def build_model():\n    """A fresh, untrained instance of the network."""\n    return TwoInputs()');
    expect(code).toContain("DEFAULT_DATASET = 'MNIST'");
    expect(code.trimEnd().endsWith('if __name__ == "__main__":\n    main()')).toBe(true);
  });
});
