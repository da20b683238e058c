import * as tf from '@tensorflow/tfjs';
import { check, totalParams } from '../check';
import { parseModel } from '../parser';
import { buildTfjsModel } from './tfjs';
import { initKerasWeights, kerasWeightOwners, setTfjsWeights, weightsFromTfjs, type KerasWeights } from './weights';

const checked = (src: string) => check(parseModel(src));
const shapes = (w: KerasWeights) => Object.fromEntries(Object.entries(w).map(([k, v]) => [k, v.map((t) => t.shape)]));
const count = (w: KerasWeights) => Object.values(w).reduce((n, ts) => n + ts.reduce((m, t) => m + t.data.length, 0), 0);

describe('initKerasWeights', () => {
  it('lays weights out per Keras layer name, in Keras order and layout', () => {
    const w = initKerasWeights(
      checked(`network M { input: (8, 8, 3) layers:
        Conv2D(4, (3,3)) SeparableConv2D(5, (3,3), depth_multiplier=2) BatchNormalization(center=false)
        Flatten() Dense(6, use_bias=false) Output(2) }`),
    );
    expect(shapes(w)).toEqual({
      conv2d_1: [[3, 3, 3, 4], [4]],
      separable_conv2d_1: [[3, 3, 4, 2], [1, 1, 8, 5], [5]],
      batch_normalization_1: [[5], [5], [5]],
      dense_1: [[80, 6]],
      output_1: [[6, 2], [2]],
    });
    const [gamma, mean, variance] = w.batch_normalization_1.map((t) => Array.from(t.data));
    expect([gamma, mean, variance]).toEqual([[1, 1, 1, 1, 1], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]]);
    expect(Array.from(w.output_1[1].data)).toEqual([0, 0]);
  });

  it('covers recurrent, wrapped, embedding and attention layers, and the parts of a transformer block', () => {
    const w = initKerasWeights(
      checked(`network S { input: (10,) layers:
        Embedding(30, 8) Bidirectional(LSTM(4, return_sequences=true)) GRU(3, return_sequences=true)
        TimeDistributed(Dense(8)) MultiHeadAttention(2, 3) TransformerDecoder(num_heads=2, ff_dim=16)
        Attention(use_scale=true) SimpleRNN(2) }`),
    );
    expect(shapes(w)).toEqual({
      embedding_1: [[30, 8]],
      bidirectional_1: [[8, 16], [4, 16], [16], [8, 16], [4, 16], [16]],
      gru_1: [[8, 9], [3, 9], [2, 9]],
      time_distributed_1: [[3, 8], [8]],
      multi_head_attention_1: [[8, 2, 3], [2, 3], [8, 2, 3], [2, 3], [8, 2, 3], [2, 3], [2, 3, 8], [8]],
      transformer_decoder_1_mha: [[8, 2, 4], [2, 4], [8, 2, 4], [2, 4], [8, 2, 4], [2, 4], [2, 4, 8], [8]],
      transformer_decoder_1_ln1: [[8], [8]],
      transformer_decoder_1_ffn1: [[8, 16], [16]],
      transformer_decoder_1_ffn2: [[16, 8], [8]],
      transformer_decoder_1_ln2: [[8], [8]],
      attention_1: [[]],
      simple_rnn_1: [[8, 2], [2, 2], [2]],
    });
  });

  it('has as many values as Keras counts parameters', () => {
    const models = [
      `network A { input: (28, 28, 1) layers: Conv2D(32, (3,3), "relu") MaxPooling2D((2,2)) Flatten() Dense(128, "relu") Dropout(0.5) Output(10) }`,
      `network B { input: (12,) layers: Embedding(40, 16) TransformerEncoder(num_heads=4, ff_dim=32) { Dense(8, "relu") Dense(16) } LayerNormalization() GlobalAveragePooling1D() Dense(2) }`,
      `network C { input: (9, 9, 4) layers: DepthwiseConv2D((3,3), depth_multiplier=3) Conv2DTranspose(2, (2,2), strides=(2,2)) GroupNormalization(groups=2) InstanceNormalization() }`,
      `network D { input: (7, 5) layers: Bidirectional(GRU(6, return_sequences=true), merge_mode="sum") LSTMCell(3) BatchNormalization() Dense(2) }`,
      `network E { input: { a: (6,), b: (6,) } layers: x: { Dense(4) } b: { Dense(4) } Concatenate() ResidualConnection { Dense(8) } Output(3) }`,
    ];
    for (const src of models) {
      const c = checked(src);
      expect(count(initKerasWeights(c))).toBe(totalParams(c, 'keras'));
    }
  });

  it('is deterministic per seed, and each layer draws from its own stream', () => {
    const a = checked(`network A { input: (6,) layers: Dense(5) Dense(3) }`);
    const b = checked(`network A { input: (6,) layers: Dense(5) Dense(3) Dense(7) }`);
    expect(initKerasWeights(a, 3)).toEqual(initKerasWeights(a, 3));
    expect(initKerasWeights(a, 3).dense_1[0].data).not.toEqual(initKerasWeights(a, 4).dense_1[0].data);
    expect(initKerasWeights(b, 3).dense_2).toEqual(initKerasWeights(a, 3).dense_2);
  });

  it('draws Glorot-uniform kernels and orthogonal recurrent kernels', () => {
    const w = initKerasWeights(checked(`network R { input: (5, 40) layers: LSTM(20) Dense(60) }`), 1);
    const kernel = Array.from(w.dense_1[0].data);
    const limit = Math.sqrt(6 / (20 + 60));
    expect(Math.max(...kernel.map(Math.abs))).toBeLessThanOrEqual(limit);
    // Uniform(-l, l) has variance l²/3; 1200 draws land well within 10 %.
    const variance = kernel.reduce((s, v) => s + v * v, 0) / kernel.length;
    expect(variance / (limit * limit / 3)).toBeCloseTo(1, 0);
    const [, recurrent] = w.lstm_1;
    const [u, cols] = recurrent.shape;
    for (let i = 0; i < u; i++) {
      for (let j = 0; j < u; j++) {
        let dot = 0;
        for (let k = 0; k < cols; k++) dot += recurrent.data[i * cols + k] * recurrent.data[j * cols + k];
        expect(dot).toBeCloseTo(i === j ? 1 : 0, 5);
      }
    }
  });
});

describe('weightsFromTfjs', () => {
  beforeAll(() => tf.setBackend('cpu'));

  it('reads each layer in Keras order under its layer name', () => {
    const c = checked(`network T { input: (4, 3) layers: LSTM(2) BatchNormalization() Dense(3) }`);
    const model = tf.sequential({
      layers: [
        tf.layers.lstm({ name: 'lstm_1', units: 2, inputShape: [4, 3] }),
        tf.layers.batchNormalization({ name: 'batch_normalization_1' }),
        tf.layers.dense({ name: 'dense_1', units: 3 }),
      ],
    });
    const w = weightsFromTfjs(model);
    expect(shapes(w)).toEqual(Object.fromEntries(kerasWeightOwners(c).map((o) => [o.key, o.weights.map((s) => s.shape)])));
    expect(Array.from(w.dense_1[0].data)).toEqual(Array.from(model.layers[2].getWeights()[0].dataSync()));
    model.dispose();
  });
});

describe('setTfjsWeights', () => {
  beforeAll(() => tf.setBackend('cpu'));

  const predict = (model: tf.LayersModel, x: tf.Tensor) => tf.tidy(() => Array.from((model.predict(x) as tf.Tensor).dataSync()));

  it('is the inverse of weightsFromTfjs: a second model with the first one\'s weights predicts the same', () => {
    const c = checked(`network W { input: (6, 4) layers:
      Conv1D(5, 3, padding="same", activation="relu") BatchNormalization() Bidirectional(LSTM(3, return_sequences=true))
      GRU(4, return_sequences=true) MultiHeadAttention(2, 3) LayerNormalization() GlobalAveragePooling1D() Output(3) }`);
    const a = buildTfjsModel(c, tf, { seed: 1 });
    const b = buildTfjsModel(c, tf, { seed: 2 });
    const x = tf.randomNormal([5, 6, 4], 0, 1, 'float32', 3);
    expect(predict(b, x)).not.toEqual(predict(a, x));
    setTfjsWeights(b, weightsFromTfjs(a));
    expect(predict(b, x)).toEqual(predict(a, x));
    expect(weightsFromTfjs(b)).toEqual(weightsFromTfjs(a));
    tf.dispose(x);
    a.dispose();
    b.dispose();
  });

  it('refuses a missing layer, an unknown layer, a wrong tensor count or shape, and changes nothing then', () => {
    const c = checked(`network S { input: (4,) layers: Dense(3) Output(2) }`);
    const model = buildTfjsModel(c, tf, { seed: 1 });
    const good = weightsFromTfjs(model);
    const { dense_1: _dropped, ...missing } = good;
    expect(() => setTfjsWeights(model, missing)).toThrow("setTfjsWeights: no weights given for layer 'dense_1'");
    expect(() => setTfjsWeights(model, { ...good, dense_9: good.dense_1 })).toThrow("the model has no layer 'dense_9' with weights");
    expect(() => setTfjsWeights(model, { ...good, dense_1: good.dense_1.slice(0, 1) })).toThrow("layer 'dense_1' has 2 weights, got 1");
    const transposed = { ...good, output_1: [{ shape: [2, 3], data: new Float32Array(6).fill(9) }, good.output_1[1]] };
    expect(() => setTfjsWeights(model, transposed)).toThrow("weight 0 (output_1/kernel) of layer 'output_1' has shape [3, 2], got [2, 3] with 6 values");
    expect(weightsFromTfjs(model)).toEqual(good);
    model.dispose();
  });
});
