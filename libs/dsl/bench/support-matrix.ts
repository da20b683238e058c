/**
 * `npx tsx libs/dsl/bench/support-matrix.ts`: prints the layer support matrix of libs/dsl/README.md by compiling a
 * small model around every built-in layer type for every backend.
 */
import * as tf from '@tensorflow/tfjs';
import { DslError, LAYER_TYPES, analyze, buildTfjsModel, compile, type Backend } from '../src/index';

const USE: Record<string, [string, string]> = {
  Dense: ['(8,)', 'Dense(4)'], Output: ['(8,)', 'Output(4)'], Flatten: ['(4, 4, 2)', 'Flatten()'], Dropout: ['(8,)', 'Dropout(0.5)'],
  SpatialDropout1D: ['(6, 4)', 'SpatialDropout1D(0.2)'], SpatialDropout2D: ['(6, 6, 4)', 'SpatialDropout2D(0.2)'], SpatialDropout3D: ['(4, 4, 4, 2)', 'SpatialDropout3D(0.2)'],
  Activation: ['(8,)', 'Activation("relu")'], GaussianNoise: ['(8,)', 'GaussianNoise(0.1)'], Reshape: ['(8,)', 'Reshape((2, 4))'],
  Conv1D: ['(10, 3)', 'Conv1D(4, 3)'], Conv2D: ['(8, 8, 3)', 'Conv2D(4, 3)'], Conv3D: ['(6, 6, 6, 2)', 'Conv3D(4, 3)'],
  Conv2DTranspose: ['(8, 8, 3)', 'Conv2DTranspose(4, 3, strides=2)'], SeparableConv2D: ['(8, 8, 3)', 'SeparableConv2D(4, 3)'], DepthwiseConv2D: ['(8, 8, 3)', 'DepthwiseConv2D(3)'],
  MaxPooling1D: ['(10, 3)', 'MaxPooling1D(2)'], MaxPooling2D: ['(8, 8, 3)', 'MaxPooling2D(2)'], MaxPooling3D: ['(6, 6, 6, 2)', 'MaxPooling3D(2)'],
  AveragePooling1D: ['(10, 3)', 'AveragePooling1D(2)'], AveragePooling2D: ['(8, 8, 3)', 'AveragePooling2D(2)'], AveragePooling3D: ['(6, 6, 6, 2)', 'AveragePooling3D(2)'],
  GlobalAveragePooling1D: ['(10, 3)', 'GlobalAveragePooling1D()'], GlobalAveragePooling2D: ['(8, 8, 3)', 'GlobalAveragePooling2D()'], GlobalAveragePooling3D: ['(6, 6, 6, 2)', 'GlobalAveragePooling3D()'],
  GlobalMaxPooling1D: ['(10, 3)', 'GlobalMaxPooling1D()'], GlobalMaxPooling2D: ['(8, 8, 3)', 'GlobalMaxPooling2D()'], GlobalMaxPooling3D: ['(6, 6, 6, 2)', 'GlobalMaxPooling3D()'],
  BatchNormalization: ['(8, 8, 3)', 'BatchNormalization()'], LayerNormalization: ['(6, 4)', 'LayerNormalization()'], InstanceNormalization: ['(8, 8, 4)', 'InstanceNormalization()'],
  GroupNormalization: ['(8, 8, 4)', 'GroupNormalization(2)'], LSTM: ['(6, 4)', 'LSTM(8)'], GRU: ['(6, 4)', 'GRU(8)'], SimpleRNN: ['(6, 4)', 'SimpleRNN(8)'],
  LSTMCell: ['(6, 4)', 'LSTMCell(8)'], GRUCell: ['(6, 4)', 'GRUCell(8)'], SimpleRNNDropoutWrapper: ['(6, 4)', 'SimpleRNNDropoutWrapper(8, dropout=0.1)'],
  Bidirectional: ['(6, 4)', 'Bidirectional(LSTM(8))'], TimeDistributed: ['(6, 4)', 'TimeDistributed(Dense(8))'], Embedding: ['(6,)', 'Embedding(100, 8)'],
  TransformerEncoder: ['(6, 8)', 'TransformerEncoder(num_heads=2, ff_dim=16)'], TransformerDecoder: ['(6, 8)', 'TransformerDecoder(num_heads=2, ff_dim=16)'], Transformer: ['(6, 8)', 'Transformer(num_heads=2, ff_dim=16)'],
  Attention: ['(6, 8)', 'Attention()'], MultiHeadAttention: ['(6, 8)', 'MultiHeadAttention(2, 4)'],
  Add: ['(8,)', 'a: { Dense(4) } b: { Dense(4) } Add()'], Subtract: ['(8,)', 'a: { Dense(4) } b: { Dense(4) } Subtract()'], Multiply: ['(8,)', 'a: { Dense(4) } b: { Dense(4) } Multiply()'],
  Average: ['(8,)', 'a: { Dense(4) } b: { Dense(4) } Average()'], Maximum: ['(8,)', 'a: { Dense(4) } b: { Dense(4) } Maximum()'], Minimum: ['(8,)', 'a: { Dense(4) } b: { Dense(4) } Minimum()'],
  Dot: ['(8,)', 'a: { Dense(4) } b: { Dense(4) } Dot()'], Concatenate: ['(8,)', 'a: { Dense(4) } b: { Dense(4) } Concatenate()'], ResidualConnection: ['(8,)', 'ResidualConnection { Dense(8) }'],
  Lambda: ['(8,)', 'Lambda("x: x * 2")'], CustomShape: ['(8,)', 'CustomShape(MyLayer, (2, 4))'],
};

const cell = (f: () => unknown): string => {
  try {
    f();
    return '✓';
  } catch (e) {
    if (e instanceof DslError) return '—';
    return `crash: ${(e as Error).message}`;
  }
};

void (async () => {
  await tf.setBackend('cpu');
  console.log('| layer | shape checked | tensorflow | pytorch | onnx | tfjs |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const type of LAYER_TYPES) {
    const [shape, layer] = USE[type] ?? ['(8,)', `${type}()`];
    const src = `network M { input: ${shape} layers: ${layer} }`;
    const checked = cell(() => analyze(src));
    const row = (['tensorflow', 'pytorch', 'onnx'] as Backend[]).map((backend) => cell(() => compile(src, { backend })));
    const tfjs = cell(() => buildTfjsModel(analyze(src).checked, tf).dispose());
    console.log(`| ${type} | ${checked} | ${row.join(' | ')} | ${tfjs} |`);
  }
})();
