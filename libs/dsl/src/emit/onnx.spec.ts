import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import type { CheckedModel } from '../checked';
import { check } from '../check';
import { DslError } from '../diagnostics';
import { parseModel } from '../parser';
import { runOnnx as runOrt } from '../../../testing/src/onnx-runner';
import { itWithPython, runPython } from '../../test/python';
import { emitOnnx } from './onnx';
import { buildTfjsModel } from './tfjs';
import { initKerasWeights, weightsFromTfjs, type KerasWeights } from './weights';

/** One model per row; together they use every layer type the ONNX emitter supports. */
const CASES: Record<string, string> = {
  convnet: `network Convnet { input: (28, 28, 1) layers: Conv2D(8, (3,3), "relu") MaxPooling2D((2,2)) Flatten() Dense(16, "relu") Dropout(0.5) Output(10) }`,
  conv_same: `network C { input: (9, 11, 3) layers: Conv2D(4, (3,3), strides=(2,2), padding="same", activation="elu") Conv2D(5, (2,2), padding="same", dilation_rate=(2,2)) AveragePooling2D((3,3), strides=(2,2), padding="same") MaxPooling2D((2,2), padding="same") Flatten() Dense(3, "softmax") }`,
  conv_valid: `network C { input: (10, 9, 2) layers: Conv2D(4, (3,2), strides=(2,1)) MaxPooling2D((2,2), strides=(1,2)) Conv2D(3, (2,2), dilation_rate=(2,1), activation="relu", use_bias=false) GlobalAveragePooling2D() Dense(3) }`,
  conv1d: `network C1 { input: (20, 6) layers: Conv1D(8, 3, padding="same", activation="selu") MaxPooling1D(2) Conv1D(4, 3, strides=2) AveragePooling1D(2, padding="same") GlobalMaxPooling1D() Dense(2, "sigmoid") }`,
  conv3d: `network C3 { input: (6, 6, 6, 2) layers: Conv3D(4, (3,3,3), padding="same", activation="relu") MaxPooling3D((2,2,2)) AveragePooling3D((2,2,2), padding="same") GlobalAveragePooling3D() Dense(2) }`,
  transposed: `network T { input: (5, 5, 3) layers: Conv2DTranspose(4, (3,3), strides=(2,2), padding="same") Conv2DTranspose(2, (2,2), strides=(3,3)) Conv2DTranspose(2, (4,4), strides=(2,2), padding="same", activation="relu") Conv2DTranspose(2, (3,3), strides=(2,2)) Flatten() Dense(4) }`,
  separable: `network S { input: (8, 8, 3) layers: SeparableConv2D(6, (3,3), depth_multiplier=2, padding="same", activation="tanh") DepthwiseConv2D((3,3), depth_multiplier=2, strides=(2,2)) GlobalMaxPooling2D() Dense(4) }`,
  batchnorm: `network B { input: (10, 10, 3) layers: Conv2D(4, (3,3)) BatchNormalization() Activation("relu") Flatten() Dense(8) BatchNormalization(epsilon=0.01, center=false) Dense(2) }`,
  batchnorm_axis: `network BA { input: (2, 3) layers: BatchNormalization(axis=1, epsilon=0.5) }`,
  norms: `network N { input: (6, 6, 8) layers: LayerNormalization() GroupNormalization(groups=4) InstanceNormalization() Conv2D(4, (1,1)) LayerNormalization(epsilon=0.01) Flatten() Dense(3) }`,
  activations: `network A { input: (12,) layers: Dense(12, "softplus") Dense(12, "softsign") Dense(12, "exponential") Dense(12, "leaky_relu") Dense(12, "gelu") Dense(12, "swish") Dense(12, "silu") Dense(12, "mish") Dense(12, "hard_sigmoid") Activation("leaky_relu", alpha=0.1) Activation("elu") }`,
  dense_rank3: `network D3 { input: (5, 7) layers: Dense(4, "relu") Dense(3, use_bias=false) Flatten() Dense(2, use_bias=false) }`,
  dense_on_image: `network DI { input: (4, 4, 3) layers: Conv2D(5, (3,3), padding="same") Dense(2, "softmax") }`,
  reshape: `network R { input: (4, 6, 2) layers: Conv2D(3, (1,1)) Reshape((12, 6)) Dense(2) Reshape((-1,)) }`,
  embedding_lstm: `network E { input: (12,) layers: Embedding(50, 8) LSTM(16, return_sequences=true) LSTM(8) Dense(3, "softmax") }`,
  recurrent: `network G { input: (10, 4) layers: GRU(6, return_sequences=true) SimpleRNN(5, return_sequences=true, activation="relu") GRUCell(4) Dense(2) }`,
  cells: `network Cells { input: (7, 3) layers: LSTM(6, activation="relu", return_sequences=true) SimpleRNNDropoutWrapper(5, dropout=0.2) Dense(2) }`,
  lstm_cell: `network LC { input: (7, 3) layers: LSTMCell(5) Dense(2) }`,
  bidirectional: `network Bi { input: (9, 4) layers: Bidirectional(LSTM(5, return_sequences=true)) Bidirectional(GRU(3, return_sequences=true), merge_mode="sum") Bidirectional(SimpleRNN(4), merge_mode="ave") Dense(2) }`,
  bidirectional_mul: `network BiM { input: (6, 3) layers: Bidirectional(LSTM(4, use_bias=false), merge_mode="mul") Dense(2) }`,
  time_distributed: `network TD { input: (5, 8, 8, 1) layers: TimeDistributed(Conv2D(3, (3,3))) TimeDistributed(Flatten()) TimeDistributed(Dense(6, "relu")) LSTM(4) Dense(2) }`,
  residual: `network Res { input: (8, 8, 4) layers: Conv2D(4, (3,3), padding="same") ResidualConnection { Conv2D(4, (3,3), padding="same", activation="relu") BatchNormalization() } GlobalAveragePooling2D() Dense(2) }`,
  merges: `network Br { input: (16,) layers: Dense(8) a: { Dense(4, "relu") } b: { Dense(4, "tanh") } Concatenate() skip: { Dense(8) } Add() x: { Dense(3) } y: { Dense(3) } Subtract() p: { Dense(3) } q: { Dense(3) } Multiply() m: { Dense(3) } n: { Dense(3) } Average() u: { Dense(3) } v: { Dense(3) } Maximum() s: { Dense(3) } t: { Dense(3) } Minimum() }`,
  named_inputs: `network Multi { input: { image: (8, 8, 1), meta: (4,) } layers: image: { Conv2D(2, (3,3)) Flatten() } meta: { Dense(8) } Concatenate() Dense(2) }`,
  conv_branches: `network CB { input: (8, 8, 3) layers: Conv2D(4, (1,1)) l: { Conv2D(4, (3,3), padding="same", activation="softmax") } r: { MaxPooling2D((3,3), strides=(1,1), padding="same") Conv2D(4, (1,1)) } Concatenate() GlobalAveragePooling2D() Dense(2) }`,
  concat_axis: `network CA { input: (4, 4, 2) layers: a: { Conv2D(2, (1,1)) } b: { Conv2D(2, (3,3), padding="same") } Concatenate(axis=1) LayerNormalization(axis=1) Flatten() Dense(2) }`,
  mixed_layouts: `network ML { input: (4, 4, 2) layers: a: { Conv2D(3, (1,1)) } b: { Dense(3) } Add() }`,
  identity: `network Id { input: (4,) layers: Dropout(0.5) }`,
  dot_time: `network DT { input: (5, 4) layers: a: { Dense(3) } b: { Dense(2) } Dot(axes=1) Flatten() Dense(2) }`,
  dot: `network Dt { input: (6,) layers: Dense(4) a: { Dense(4) } b: { Dense(4) } Dot(axes=-1) }`,
  dot_sequences: `network DS { input: (5, 4) layers: a: { Dense(3) } b: { Dense(3) } Dot(axes=2, normalize=true) Flatten() Dense(2) }`,
  attention: `network At { input: (6, 8) layers: Attention(use_scale=true) Attention(causal=true) MultiHeadAttention(2, 4) GlobalAveragePooling1D() Dense(2) }`,
  transformer: `network Tf { input: (10,) layers: Embedding(30, 16) TransformerEncoder(num_heads=4, ff_dim=32) TransformerDecoder(num_heads=2, ff_dim=8) GlobalAveragePooling1D() Output(3) }`,
  transformer_ffn: `network TfF { input: (6, 8) layers: TransformerEncoder(num_heads=2) { Dense(12, "gelu") Dense(8) } Flatten() Dense(2) }`,
  noise_dropout: `network SD { input: (8, 8, 2) layers: SpatialDropout2D(0.2) GaussianNoise(0.1) Conv2D(2, (3,3)) SpatialDropout2D(0.1) Flatten() Dense(2) }`,
  variable_length: `network VL { input: (None, None, 5) layers: Conv1D(4, 3, padding="same") LSTM(6, return_sequences=true) TimeDistributed(Dense(3)) TransformerDecoder(num_heads=1, ff_dim=4) GlobalAveragePooling1D() Dense(2) }`,
};

/** Every case is compared against tfjs except BatchNormalization on a non-channel axis, which tfjs computes wrongly. */
const TFJS_CASES = Object.keys(CASES);

/** Length used for unknown (variable) sequence dimensions. */
const FREE_DIM = 7;
const BATCH = 3;

function compileCase(name: string): CheckedModel {
  return check(parseModel(CASES[name]), { autoFlatten: !['dense_on_image', 'mixed_layouts'].includes(name) });
}

function hasEmbeddingInput(c: CheckedModel): number | undefined {
  const first = c.model.layers[0];
  return first.kind === 'layer' && first.type === 'Embedding' ? (first.params.input_dim as number) : undefined;
}

type Inputs = Record<string, { dims: number[]; data: Float32Array }>;

/** Deterministic inputs: token ids below the vocabulary size for Embedding models, values in [-1, 1) otherwise. */
function makeInputs(c: CheckedModel, seed: number): Inputs {
  const vocab = hasEmbeddingInput(c);
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  return Object.fromEntries(
    c.model.inputs.map((i) => {
      const dims = [BATCH, ...i.shape.slice(1).map((d) => d ?? FREE_DIM)];
      const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => (vocab ? Math.floor(next() * vocab) : next() * 2 - 1));
      return [i.name, { dims, data }];
    }),
  );
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** Every weight replaced by a random value (variances kept positive), so biases and statistics are exercised too. */
function randomizeWeights(model: tf.LayersModel, seed: number): void {
  let s = seed;
  for (const layer of model.layers) {
    const values = layer.weights.map((w) => {
      s += 1;
      const positive = /variance/.test(w.originalName);
      return positive ? tf.randomUniform(w.shape as number[], 0.5, 1.5, 'float32', s) : tf.randomUniform(w.shape as number[], -0.5, 0.5, 'float32', s);
    });
    if (values.length) layer.setWeights(values);
    tf.dispose(values);
  }
}

describe('emitOnnx', () => {
  const seeded = new Map<string, Uint8Array>();
  const tfjsExpected = new Map<string, Float32Array>();
  let outputs: ReturnType<typeof runOrt>;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    const jobs: { id: string; bytes: Uint8Array; inputs: Inputs }[] = [];
    for (const name of Object.keys(CASES)) {
      const c = compileCase(name);
      seeded.set(name, emitOnnx(c, { seed: 7 }));
      jobs.push({ id: `seeded:${name}`, bytes: seeded.get(name)!, inputs: makeInputs(c, 1) });
    }
    for (const name of TFJS_CASES) {
      const c = compileCase(name);
      const model = buildTfjsModel(compileCase(name), tf, { seed: 3 });
      randomizeWeights(model, 11);
      const inputs = makeInputs(c, 5);
      const xs = c.model.inputs.map((i) => tf.tensor(inputs[i.name].data, inputs[i.name].dims));
      tfjsExpected.set(name, tf.tidy(() => (model.predict(xs.length === 1 ? xs[0] : xs) as tf.Tensor).dataSync() as Float32Array).slice());
      jobs.push({ id: `tfjs:${name}`, bytes: emitOnnx(c, { weights: weightsFromTfjs(model) }), inputs });
      tf.dispose(xs);
      model.dispose();
    }
    outputs = runOrt(jobs);
  });

  it.each(Object.keys(CASES))('%s runs in onnxruntime with the checked output shape', (name) => {
    const c = compileCase(name);
    const out = outputs[`seeded:${name}`];
    expect(out.error).toBeUndefined();
    expect(out.dims).toEqual([BATCH, ...c.outputShape.slice(1).map((d) => d ?? FREE_DIM)]);
    expect(out.data.every(Number.isFinite)).toBe(true);
  });

  it.each(TFJS_CASES)('%s agrees with the tfjs model for the same weights', (name) => {
    const out = outputs[`tfjs:${name}`];
    expect(out.error).toBeUndefined();
    expect(maxAbsDiff(out.data, tfjsExpected.get(name)!)).toBeLessThan(1e-4);
  });

  itWithPython('onnx')('every model passes onnx.checker.check_model(full_check=True)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'onnx-check-'));
    try {
      for (const [name, bytes] of seeded) writeFileSync(join(dir, `${name}.onnx`), bytes);
      const script = [
        'import glob, json, os, sys, onnx',
        'res = {}',
        'for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.onnx"))):',
        '    try:',
        '        onnx.checker.check_model(onnx.load(f), full_check=True); res[os.path.basename(f)[:-5]] = "ok"',
        '    except Exception as e:',
        '        res[os.path.basename(f)[:-5]] = str(e)[:500]',
        'print(json.dumps(res))',
      ].join('\n');
      const run = runPython(['-c', script, dir]);
      expect(run.stderr).toBe('');
      const results = JSON.parse(run.stdout) as Record<string, string>;
      expect(results).toEqual(Object.fromEntries(Object.keys(CASES).sort().map((n) => [n, 'ok'])));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('normalises a non-channel axis like Keras', () => {
    const c = compileCase('batchnorm_axis');
    const [gamma, beta, mean, variance] = [[2, 3], [0.5, -0.5], [1, -1], [4, 9]];
    const weights = { batch_normalization_1: [gamma, beta, mean, variance].map((v) => ({ shape: [2], data: Float32Array.from(v) })) };
    const x = Float32Array.from({ length: BATCH * 6 }, (_, i) => i - 4);
    const out = runOrt([{ id: 'bn', bytes: emitOnnx(c, { weights }), inputs: { input: { dims: [BATCH, 2, 3], data: x } } }]).bn;
    const expected = Array.from(x, (v, i) => {
      const ch = Math.floor(i / 3) % 2;
      return ((v - mean[ch]) / Math.sqrt(variance[ch] + 0.5)) * gamma[ch] + beta[ch];
    });
    expect(maxAbsDiff(out.data, expected)).toBeLessThan(1e-5);
  });

  it('takes GRU weights trained with reset_after=false, as by the native tfjs GRU', () => {
    const c = check(parseModel(`network G { input: (5, 3) layers: GRU(4) Dense(2) }`));
    const model = tf.sequential({
      layers: [
        tf.layers.gru({ name: 'gru_1', units: 4, recurrentActivation: 'sigmoid', inputShape: [5, 3] }),
        tf.layers.dense({ name: 'dense_1', units: 2 }),
      ],
    });
    randomizeWeights(model, 4);
    const x = Float32Array.from({ length: BATCH * 15 }, (_, i) => Math.sin(i));
    const expected = tf.tidy(() => (model.predict(tf.tensor(x, [BATCH, 5, 3])) as tf.Tensor).dataSync().slice());
    const out = runOrt([{ id: 'gru', bytes: emitOnnx(c, { weights: weightsFromTfjs(model) }), inputs: { input: { dims: [BATCH, 5, 3], data: x } } }]).gru;
    expect(maxAbsDiff(out.data, expected)).toBeLessThan(1e-5);
    model.dispose();
  });

  it('uses the Keras 3 hard_sigmoid, relu6(x + 3) / 6', () => {
    const c = check(parseModel(`network H { input: (6,) layers: Activation("hard_sigmoid") }`));
    const out = runOrt([{ id: 'h', bytes: emitOnnx(c), inputs: { input: { dims: [1, 6], data: Float32Array.of(-4, -3, -1, 0, 1.5, 4) } } }]).h;
    expect(maxAbsDiff(out.data, [0, 0, 1 / 3, 0.5, 0.75, 1])).toBeLessThan(1e-6);
  });

  it('writes an IR 8 / opset 13 model with named channels-last inputs, a symbolic batch and one output', () => {
    const proto = onnx.ModelProto.decode(seeded.get('named_inputs')!);
    expect(Number(proto.irVersion)).toBe(8);
    expect(proto.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 13]]);
    const dims = (v: onnx.IValueInfoProto) => v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
    const graph = proto.graph as onnx.GraphProto;
    expect(graph.input.map((i) => [i.name, dims(i)])).toEqual([['image', ['N', 8, 8, 1]], ['meta', ['N', 4]]]);
    expect(graph.output.map((o) => [o.name, dims(o)])).toEqual([['output', ['N', 2]]]);
  });

  it('runs a conv stack channels-first between two Transposes and feeds the Keras Dense kernel to Gemm unchanged', () => {
    const c = compileCase('convnet');
    const weights = initKerasWeights(c, 5);
    const graph = onnx.ModelProto.decode(emitOnnx(c, { weights })).graph as onnx.GraphProto;
    const ops = graph.node.map((n) => n.opType);
    expect(ops).toEqual(['Transpose', 'Conv', 'Relu', 'MaxPool', 'Transpose', 'Flatten', 'Gemm', 'Relu', 'Gemm', 'Softmax']);
    const gemm = graph.node.find((n) => n.opType === 'Gemm')!;
    const kernel = graph.initializer.find((t) => t.name === gemm.input![1])!;
    expect(kernel.dims!.map(Number)).toEqual(weights.dense_1[0].shape);
    expect(new Float32Array(Uint8Array.from(kernel.rawData!).buffer)).toEqual(weights.dense_1[0].data);
  });

  it('is deterministic for a seed', () => {
    const c = compileCase('transformer');
    expect(emitOnnx(c, { seed: 2 })).toEqual(emitOnnx(c, { seed: 2 }));
    expect(emitOnnx(c, { seed: 2 })).not.toEqual(emitOnnx(c, { seed: 3 }));
  });

  it('reports every layer ONNX cannot express at once, at the layers', () => {
    const src = [
      'network U { input: (10,) layers:',
      '  Lambda("x: x * 2")',
      '  MyCustomLayer(units=3)',
      '  Embedding(20, 4, mask_zero=true)',
      '  LSTM(4, activation="gelu")',
      '}',
    ].join('\n');
    let error: unknown;
    try {
      emitOnnx(check(parseModel(src)));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DslError);
    const ds = (error as DslError).diagnostics;
    expect(ds.map((d) => [d.code, d.line, d.column])).toEqual([
      ['unsupported_layer', 2, 3],
      ['unsupported_layer', 3, 3],
      ['unsupported_layer', 4, 3],
      ['unsupported_layer', 5, 3],
    ]);
    expect(ds[0].message).toMatch(/^Lambda layers cannot be emitted for the onnx backend/);
    expect(ds[1].message).toMatch(/MyCustomLayer/);
    expect(ds[2].message).toMatch(/mask_zero/);
    expect(ds[3].message).toMatch(/'gelu'/);
  });

  it('asks for hyperparameters to be resolved first', () => {
    const c = check(parseModel(`network H { input: (4,) layers: Dense(HPO(choice(8, 16))) Dense(2) }`));
    expect(() => emitOnnx(c)).toThrow(DslError);
    expect(() => emitOnnx(c)).toThrow(/must be resolved/);
  });

  it('rejects weights that do not fit the model, naming each layer', () => {
    const c = compileCase('convnet');
    const given = initKerasWeights(c);
    const weights: KerasWeights = {
      ...given,
      dense_1: [{ shape: [4, 16], data: new Float32Array(64) }],
      output_1: [{ ...given.output_1[0], shape: [10, 16] }, given.output_1[1]],
    };
    delete weights.conv2d_1;
    let error: unknown;
    try {
      emitOnnx(c, { weights });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DslError);
    expect((error as DslError).diagnostics.map((d) => [d.code, d.message])).toEqual([
      ['weights', "Weights for layer 'conv2d_1' do not fit: expected kernel [3, 3, 1, 8], bias [8], got nothing"],
      ['weights', "Weights for layer 'dense_1' do not fit: expected kernel [1352, 16], bias [16], got [4, 16]"],
      ['weights', "Weights for layer 'output_1' do not fit: expected kernel [16, 10], bias [10], got [10, 16], [10]"],
    ]);
  });
});
