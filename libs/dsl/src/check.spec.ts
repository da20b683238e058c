import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { check, totalParams } from './check';
import type { CheckedModel, CheckOptions } from './checked';
import { DslError, type Diagnostic } from './diagnostics';
import type { LayerNode, ModelIR } from './ir';
import { parseModel } from './parser';

/** Layers start on line 4; each line of `layers` is one layer, written at column 3. */
function model(layers: string, input = '(28, 28, 1)'): ModelIR {
  const body = layers.trim().split('\n').map((l) => `  ${l.trim()}`).join('\n');
  return parseModel(`network T {\ninput: ${input}\nlayers:\n${body}\n}`);
}

function run(layers: string, input?: string, opts?: CheckOptions): CheckedModel {
  return check(model(layers, input), opts);
}

function errors(layers: string, input?: string, opts?: CheckOptions): Diagnostic[] {
  const m = model(layers, input);
  let caught: unknown;
  try {
    check(m, opts);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(DslError);
  return (caught as DslError).diagnostics;
}

function messages(layers: string, input?: string): string[] {
  return errors(layers, input).map((d) => d.message);
}

const out = (c: CheckedModel, id: string) => c.info.get(id)?.outputShape;
const params = (c: CheckedModel, id: string) => {
  const i = c.info.get(id)!;
  return [i.params, i.trainableParams, i.torchParams];
};

describe('check: the mnist example (DSL.md §8)', () => {
  const mnist = `network MNISTClassifier {
    input: (None, 28, 28, 1)
    layers:
      Conv2D(filters=32, kernel_size=(3,3), activation="relu")
      MaxPooling2D(pool_size=(2,2))
      Flatten()
      Dense(units=128, activation="relu")
      Dropout(rate=0.5)
      Output(units=10, activation="softmax")
    loss: "sparse_categorical_crossentropy"
    optimizer: Adam(learning_rate=0.001)
  }`;

  it('propagates shapes and counts 693,962 parameters in both flavours', () => {
    const c = check(parseModel(mnist));
    expect(c.summary).toEqual({
      name: 'MNISTClassifier',
      input_shape: [null, 28, 28, 1],
      output_shape: [null, 10],
      layers: [
        { id: 'conv2d_1', type: 'Conv2D', output_shape: [null, 26, 26, 32], params: 320 },
        { id: 'max_pooling2d_1', type: 'MaxPooling2D', output_shape: [null, 13, 13, 32], params: 0 },
        { id: 'flatten_1', type: 'Flatten', output_shape: [null, 5408], params: 0 },
        { id: 'dense_1', type: 'Dense', output_shape: [null, 128], params: 692352 },
        { id: 'dropout_1', type: 'Dropout', output_shape: [null, 128], params: 0 },
        { id: 'output_1', type: 'Output', output_shape: [null, 10], params: 1290 },
      ],
      total_params: 693962,
      trainable_params: 693962,
    });
    expect(c.outputShape).toEqual([null, 10]);
    expect(totalParams(c, 'keras')).toBe(693962);
    expect(totalParams(c, 'torch')).toBe(693962);
    expect(c.info.get('dense_1')!.inputShapes).toEqual([[null, 5408]]);
    expect(c.warnings).toEqual([]);
  });
});

describe('check: convolutions', () => {
  it('computes valid and same outputs with strides and dilation', () => {
    const c = run(`
      Conv2D(8, (3,3))
      Conv2D(8, (3,3), padding="same", strides=2)
      Conv2D(8, (5,3), strides=(2,1))
      Conv2D(4, (3,3), dilation_rate=2)
    `, '(32, 31, 3)');
    expect(out(c, 'conv2d_1')).toEqual([null, 30, 29, 8]);
    expect(out(c, 'conv2d_2')).toEqual([null, 15, 15, 8]);
    expect(out(c, 'conv2d_3')).toEqual([null, 6, 13, 8]);
    expect(out(c, 'conv2d_4')).toEqual([null, 2, 9, 4]);
    expect(params(c, 'conv2d_1')).toEqual([3 * 3 * 3 * 8 + 8, 224, 224]);
    expect(params(c, 'conv2d_3')).toEqual([5 * 3 * 8 * 8 + 8, 968, 968]);
  });

  it('handles Conv1D and Conv3D, and use_bias=false', () => {
    const c1 = run('Conv1D(16, 5, strides=2)', '(100, 8)');
    expect(out(c1, 'conv1d_1')).toEqual([null, 48, 16]);
    expect(params(c1, 'conv1d_1')).toEqual([5 * 8 * 16 + 16, 656, 656]);
    const c3 = run('Conv3D(4, (3,3,3), padding="same", use_bias=false)', '(8, 9, 10, 2)');
    expect(out(c3, 'conv3d_1')).toEqual([null, 8, 9, 10, 4]);
    expect(params(c3, 'conv3d_1')).toEqual([27 * 2 * 4, 216, 216]);
  });

  it('follows Keras for Conv2DTranspose, including a kernel smaller than the stride', () => {
    const c = run(`
      Conv2DTranspose(8, (3,3), strides=2, padding="same")
      Conv2DTranspose(4, (3,3), strides=2)
      Conv2DTranspose(2, (1,1), strides=2)
    `, '(7, 5, 3)');
    expect(out(c, 'conv2d_transpose_1')).toEqual([null, 14, 10, 8]);
    expect(out(c, 'conv2d_transpose_2')).toEqual([null, 29, 21, 4]);
    expect(out(c, 'conv2d_transpose_3')).toEqual([null, 58, 42, 2]);
    expect(params(c, 'conv2d_transpose_1')).toEqual([9 * 3 * 8 + 8, 224, 224]);
  });

  it('counts SeparableConv2D and DepthwiseConv2D', () => {
    const c = run(`
      SeparableConv2D(16, (3,3), depth_multiplier=2)
      DepthwiseConv2D((3,3), depth_multiplier=3, padding="same")
      DepthwiseConv2D(3, use_bias=false)
    `, '(10, 10, 4)');
    expect(out(c, 'separable_conv2d_1')).toEqual([null, 8, 8, 16]);
    expect(params(c, 'separable_conv2d_1')).toEqual([9 * 4 * 2 + 4 * 2 * 16 + 16, 216, 216]);
    expect(out(c, 'depthwise_conv2d_1')).toEqual([null, 8, 8, 48]);
    expect(params(c, 'depthwise_conv2d_1')).toEqual([9 * 16 * 3 + 16 * 3, 480, 480]);
    expect(out(c, 'depthwise_conv2d_2')).toEqual([null, 6, 6, 48]);
    expect(params(c, 'depthwise_conv2d_2')).toEqual([9 * 48, 432, 432]);
  });

  it('reports a wrong rank, a kernel larger than the input, and strides with dilation', () => {
    expect(messages('Conv2D(8, (3,3))', '(10,)')).toEqual(['Conv2D expects 4D input, got 2D (None, 10)']);
    expect(messages('Conv2D(8, (10,10))', '(8, 8, 1)')).toEqual(['Conv2D kernel size (10, 10) exceeds input dimensions (8, 8)']);
    expect(messages('Conv2D(8, (3,3), dilation_rate=4)', '(8, 8, 1)')).toEqual(['Conv2D kernel size (3, 3) ((9, 9) dilated) exceeds input dimensions (8, 8)']);
    expect(messages('Conv2D(8, (3,3), strides=2, dilation_rate=2)', '(8, 8, 1)')).toEqual([
      'Conv2D cannot combine strides (2, 2) with dilation_rate (2, 2)',
    ]);
    expect(run('Conv2D(8, (10,10), padding="same")', '(8, 8, 1)').outputShape).toEqual([null, 8, 8, 8]);
  });
});

describe('check: pooling', () => {
  it('defaults strides to pool_size and handles same padding', () => {
    const c = run(`
      MaxPooling2D((2,2))
      AveragePooling2D((3,3), strides=(2,2), padding="same")
      MaxPooling2D(2, strides=1)
    `, '(9, 9, 3)');
    expect(out(c, 'max_pooling2d_1')).toEqual([null, 4, 4, 3]);
    expect(out(c, 'average_pooling2d_1')).toEqual([null, 2, 2, 3]);
    expect(out(c, 'max_pooling2d_2')).toEqual([null, 1, 1, 3]);
    expect(params(c, 'max_pooling2d_1')).toEqual([0, 0, 0]);
    expect(run('MaxPooling1D(3)', '(10, 4)').outputShape).toEqual([null, 3, 4]);
    expect(run('AveragePooling3D((2,2,2))', '(4, 6, 8, 2)').outputShape).toEqual([null, 2, 3, 4, 2]);
  });

  it('reduces global pooling to (batch, channels) and checks ranks', () => {
    expect(run('GlobalAveragePooling2D()', '(7, 7, 64)').outputShape).toEqual([null, 64]);
    expect(run('GlobalMaxPooling1D()', '(50, 16)').outputShape).toEqual([null, 16]);
    expect(messages('GlobalAveragePooling2D()', '(50, 16)')).toEqual(['GlobalAveragePooling2D expects 4D input, got 3D (None, 50, 16)']);
  });

  it('reports a pool window larger than the input', () => {
    expect(messages('MaxPooling2D((8,8))', '(4, 4, 1)')).toEqual(['MaxPooling2D pool_size (8, 8) exceeds input dimensions (4, 4)']);
  });
});

describe('check: Dense, Flatten and auto-flatten', () => {
  it('acts on the last axis of a 3D input without a warning', () => {
    const c = run('Dense(16)', '(20, 8)');
    expect(c.outputShape).toEqual([null, 20, 16]);
    expect(params(c, 'dense_1')).toEqual([8 * 16 + 16, 144, 144]);
    expect(c.warnings).toEqual([]);
    expect(params(run('Dense(16, use_bias=false)', '(8,)'), 'dense_1')).toEqual([128, 128, 128]);
  });

  const conv = `
    Conv2D(32, (3,3))
    Dense(10)
  `;

  it('inserts a Flatten before a Dense on a 4D input, with a warning, without mutating the input model', () => {
    const m = model(conv);
    const before = JSON.stringify(m);
    const c = check(m);
    expect(JSON.stringify(m)).toBe(before);
    expect(c.model).not.toBe(m);
    expect(c.model.layers.map((n) => n.id)).toEqual(['conv2d_1', 'flatten_auto_1', 'dense_1']);
    expect(c.model.layers[1]).toEqual({ kind: 'layer', id: 'flatten_auto_1', type: 'Flatten', params: {}, sublayers: [], loc: c.model.layers[2].loc });
    expect(c.info.get('flatten_auto_1')).toMatchObject({ type: 'Flatten', inputShapes: [[null, 26, 26, 32]], outputShape: [null, 21632], params: 0 });
    expect(c.outputShape).toEqual([null, 10]);
    expect(params(c, 'dense_1')).toEqual([21632 * 10 + 10, 216330, 216330]);
    expect(c.warnings).toEqual([
      { severity: 'warning', code: 'auto_flatten', message: 'Dense receives a 4D input (None, 26, 26, 32); a Flatten was inserted before it', line: 5, column: 3 },
    ]);
    expect(c.summary.layers.map((l) => l.type)).toEqual(['Conv2D', 'Flatten', 'Dense']);
  });

  it('applies Dense to the last axis with a warning when auto-flatten is off', () => {
    const c = run(conv, undefined, { autoFlatten: false });
    expect(c.model.layers.map((n) => n.id)).toEqual(['conv2d_1', 'dense_1']);
    expect(c.outputShape).toEqual([null, 26, 26, 10]);
    expect(params(c, 'dense_1')).toEqual([330, 330, 330]);
    expect(c.warnings.map((w) => [w.code, w.message, w.line])).toEqual([
      ['dense_rank', 'Dense receives a 4D input (None, 26, 26, 32) and is applied to its last axis', 5],
    ]);
  });

  it('inserts Flattens inside blocks too, with ids that do not collide', () => {
    const m = model(`
      a: { Conv2D(4, (3,3)) Output(10) }
      b: { Output(10) }
      Concatenate()
    `, '(8, 8, 1)');
    const c = check(m);
    const branch = c.model.layers[0];
    expect(branch.kind === 'branch' && branch.body.map((n) => n.id)).toEqual(['conv2d_1', 'flatten_auto_1', 'output_1']);
    const second = c.model.layers[1];
    expect(second.kind === 'branch' && second.body.map((n) => n.id)).toEqual(['flatten_auto_2', 'output_2']);
    expect(c.model.layers.map((n) => n.id)).toEqual(['branch_a_1', 'branch_b_1', 'concatenate_1']);
    expect(m.layers[0].kind === 'branch' && m.layers[0].body).toHaveLength(2);
    expect(m.layers[1].kind === 'branch' && m.layers[1].body).toHaveLength(1);
    expect(c.outputShape).toEqual([null, 20]);
  });

  it('flattens to None when a dimension is unknown', () => {
    expect(run('Flatten()', '(None, None, 8)').outputShape).toEqual([null, null]);
  });
});

describe('check: recurrent layers and wrappers', () => {
  it('counts LSTM, GRU and SimpleRNN in the Keras and torch conventions', () => {
    const c = run(`
      LSTM(32, return_sequences=true)
      GRU(16, return_sequences=true)
      SimpleRNN(8)
    `, '(50, 10)');
    expect(out(c, 'lstm_1')).toEqual([null, 50, 32]);
    expect(out(c, 'gru_1')).toEqual([null, 50, 16]);
    expect(out(c, 'simple_rnn_1')).toEqual([null, 8]);
    expect(params(c, 'lstm_1')).toEqual([4 * (32 * 42 + 32), 5504, 4 * (32 * 42 + 64)]);
    expect(params(c, 'gru_1')).toEqual([3 * (16 * 48 + 32), 2400, 2400]);
    expect(params(c, 'simple_rnn_1')).toEqual([8 * 24 + 8, 200, 8 * 24 + 16]);
    expect(totalParams(c, 'keras')).toBe(5504 + 2400 + 200);
    expect(totalParams(c, 'torch')).toBe(5632 + 2400 + 208);
  });

  it('treats cells like their layers and drops biases with use_bias=false', () => {
    const c = run(`
      LSTMCell(4)
    `, '(5, 3)');
    expect(c.outputShape).toEqual([null, 4]);
    expect(params(c, 'lstm_cell_1')).toEqual([4 * (4 * 7 + 4), 128, 4 * (4 * 7 + 8)]);
    expect(params(run('GRUCell(4, use_bias=false)', '(5, 3)'), 'gru_cell_1')).toEqual([84, 84, 84]);
    expect(params(run('SimpleRNNDropoutWrapper(4, dropout=0.2)', '(5, 3)'), 'simple_rnn_dropout_wrapper_1')).toEqual([32, 32, 36]);
  });

  it('requires a 3D input', () => {
    const [d] = errors('LSTM(8)', '(10,)');
    expect(d.message).toBe('LSTM expects 3D input (batch, timesteps, features), got 2D (None, 10)');
    expect(d.hint).toMatch(/Embedding/);
  });

  it('doubles Bidirectional parameters and concatenates its outputs', () => {
    const c = run(`
      Bidirectional(LSTM(16, return_sequences=true))
      Bidirectional(GRU(8), merge_mode="sum")
    `, '(20, 4)');
    expect(out(c, 'bidirectional_1')).toEqual([null, 20, 32]);
    expect(out(c, 'lstm_1')).toEqual([null, 20, 16]);
    expect(params(c, 'bidirectional_1')).toEqual([2 * 4 * (16 * 20 + 16), 2688, 2 * 4 * (16 * 20 + 32)]);
    expect(params(c, 'lstm_1')).toEqual([1344, 1344, 1408]);
    expect(out(c, 'bidirectional_2')).toEqual([null, 8]);
    expect(params(c, 'bidirectional_2')).toEqual([2 * 3 * (8 * 40 + 16), 2016, 2016]);
  });

  it('applies the TimeDistributed layer per time step', () => {
    const c = run(`
      TimeDistributed(Conv2D(8, (3,3)))
      TimeDistributed(Flatten())
      TimeDistributed(Dense(4))
    `, '(10, 12, 12, 3)');
    expect(out(c, 'time_distributed_1')).toEqual([null, 10, 10, 10, 8]);
    expect(c.info.get('conv2d_1')).toMatchObject({ inputShapes: [[null, 12, 12, 3]], outputShape: [null, 10, 10, 8] });
    expect(params(c, 'time_distributed_1')).toEqual([224, 224, 224]);
    expect(out(c, 'time_distributed_2')).toEqual([null, 10, 800]);
    expect(out(c, 'time_distributed_3')).toEqual([null, 10, 4]);
    expect(messages('TimeDistributed(Dense(4))', '(10,)')).toEqual(['TimeDistributed expects an input with a time axis (3D or more), got 2D (None, 10)']);
  });
});

describe('check: Embedding, Reshape and shape-preserving layers', () => {
  it('embeds a sequence of token ids', () => {
    const c = run('Embedding(input_dim=1000, output_dim=64)', '(100,)');
    expect(c.outputShape).toEqual([null, 100, 64]);
    expect(params(c, 'embedding_1')).toEqual([64000, 64000, 64000]);
    const [d] = errors('Embedding(input_dim=1000, output_dim=64)', '(100, 300)');
    expect(d.message).toBe('Embedding expects 2D input (batch, sequence of token ids), got 3D (None, 100, 300)');
    expect(d.hint).toBe('its input is a sequence of token ids, e.g. input: (100,)');
  });

  it('reshapes, inferring one -1, and checks the element count', () => {
    expect(run('Reshape((7, 7, 16))', '(784,)').outputShape).toEqual([null, 7, 7, 16]);
    expect(run('Reshape((-1, 4))', '(6, 6, 2)').outputShape).toEqual([null, 18, 4]);
    expect(messages('Reshape((30, 30, 6))', '(5408,)')).toEqual(['Reshape cannot turn (None, 5408) (5408 values) into target_shape (30, 30, 6)']);
    expect(messages('Reshape((-1, 5))', '(12,)')).toEqual(['Reshape cannot turn (None, 12) (12 values) into target_shape (-1, 5)']);
  });

  it('keeps the shape through Dropout, noise, activations and normalisations', () => {
    const c = run(`
      Dropout(0.2)
      SpatialDropout2D(0.1)
      GaussianNoise(0.1)
      Activation("relu")
      BatchNormalization()
      LayerNormalization()
      GroupNormalization(groups=4)
      InstanceNormalization()
    `, '(6, 6, 8)');
    for (const i of c.info.values()) expect(i.outputShape).toEqual([null, 6, 6, 8]);
    expect(c.info.size).toBe(8);
    expect(params(c, 'batch_normalization_1')).toEqual([32, 16, 16]);
    expect(params(c, 'layer_normalization_1')).toEqual([16, 16, 16]);
    expect(params(c, 'group_normalization_1')).toEqual([16, 16, 16]);
    expect(params(c, 'instance_normalization_1')).toEqual([16, 16, 16]);
    expect(c.summary.total_params).toBe(80);
    expect(c.summary.trainable_params).toBe(64);
    expect(totalParams(c, 'torch')).toBe(64);
  });

  it('follows center/scale flags and the BatchNormalization axis', () => {
    expect(params(run('BatchNormalization(center=false)', '(10,)'), 'batch_normalization_1')).toEqual([30, 10, 10]);
    expect(params(run('BatchNormalization(axis=1)', '(5, 3)'), 'batch_normalization_1')).toEqual([20, 10, 10]);
    expect(params(run('LayerNormalization(scale=false, center=false)', '(10,)'), 'layer_normalization_1')).toEqual([0, 0, 0]);
  });

  it('checks ranks and group counts', () => {
    expect(messages('SpatialDropout2D(0.1)', '(5, 3)')).toEqual(['SpatialDropout2D expects 4D input, got 3D (None, 5, 3)']);
    expect(messages('GroupNormalization()', '(4, 4, 16)')).toEqual(['GroupNormalization groups (32) must divide the number of channels (16) of (None, 4, 4, 16)']);
  });
});

describe('check: attention and transformers', () => {
  it('counts Attention and MultiHeadAttention like Keras', () => {
    const c = run(`
      Attention()
      Attention(use_scale=true)
      MultiHeadAttention(num_heads=4, key_dim=16)
    `, '(10, 32)');
    expect(c.outputShape).toEqual([null, 10, 32]);
    expect(params(c, 'attention_1')).toEqual([0, 0, 0]);
    expect(params(c, 'attention_2')).toEqual([1, 1, 1]);
    expect(params(c, 'multi_head_attention_1')).toEqual([3 * (32 * 64 + 64) + (64 * 32 + 32), 8416, 8416]);
    expect(messages('MultiHeadAttention(2, 8)', '(32,)')).toEqual(['MultiHeadAttention expects 3D input (batch, timesteps, features), got 2D (None, 32)']);
  });

  it('counts a post-norm encoder block: attention, two LayerNorms and the feed-forward network', () => {
    const c = run(`
      TransformerEncoder(num_heads=8, ff_dim=2048)
      TransformerDecoder(num_heads=4, ff_dim=64)
      Transformer()
    `, '(100, 512)');
    const d = 512;
    expect(params(c, 'transformer_encoder_1')).toEqual(Array(3).fill(4 * d * d + 4 * d + 4 * d + (d * 2048 + 2048) + (2048 * d + d)));
    expect(params(c, 'transformer_decoder_1')[0]).toBe(4 * d * d + 8 * d + 2 * d * 64 + 64 + d);
    expect(params(c, 'transformer_1')[0]).toBe(4 * d * d + 8 * d + 2 * d * 512 + 512 + d);
    expect(c.outputShape).toEqual([null, 100, 512]);
  });

  it('replaces the feed-forward network with the sublayers and checks they map back to the model width', () => {
    const c = run(`
      TransformerEncoder(num_heads=2) {
        Dense(32, "relu")
        Dense(16)
      }
    `, '(10, 16)');
    expect(out(c, 'dense_1')).toEqual([null, 10, 32]);
    expect(params(c, 'transformer_encoder_1')[0]).toBe(4 * 256 + 8 * 16 + (16 * 32 + 32) + (32 * 16 + 16));
    const [d] = errors(`
      TransformerEncoder(num_heads=2) {
        Dense(32)
      }
    `, '(10, 16)');
    expect(d.message).toBe('TransformerEncoder sublayers must map (None, 10, 16) back to (None, 10, 16), got (None, 10, 32)');
  });

  it('needs the model width divisible by num_heads and a 3D input', () => {
    expect(messages('TransformerEncoder(num_heads=3)', '(10, 16)')).toEqual(['TransformerEncoder needs the model dimension 16 to be divisible by num_heads (3)']);
    expect(messages('TransformerEncoder()', '(8, 8, 16)')).toEqual(['TransformerEncoder expects 3D input (batch, timesteps, features), got 4D (None, 8, 8, 16)']);
  });
});

describe('check: residual blocks, branches and merges', () => {
  it('checks a ResidualConnection block against its input', () => {
    const c = run(`
      Conv2D(16, (3,3), padding="same")
      ResidualConnection {
        Conv2D(16, (3,3), padding="same")
        BatchNormalization()
      }
    `, '(8, 8, 3)');
    expect(out(c, 'residual_connection_1')).toEqual([null, 8, 8, 16]);
    expect(params(c, 'residual_connection_1')).toEqual([2320 + 64, 2320 + 32, 2320 + 32]);
    expect(c.summary.layers.map((l) => l.id)).toEqual(['conv2d_1', 'residual_connection_1']);
    expect(totalParams(c, 'keras')).toBe(448 + 2384);
    const [d] = errors(`
      ResidualConnection {
        Conv2D(16, (3,3))
      }
    `, '(8, 8, 3)');
    expect(d).toMatchObject({ message: 'ResidualConnection block output (None, 6, 6, 16) does not match its input (None, 8, 8, 3)', line: 4, column: 3 });
  });

  it('merges a single branch with the tensor it forked from (a residual)', () => {
    const c = run(`
      Conv2D(8, (3,3), padding="same")
      skip: {
        Conv2D(8, (3,3), padding="same")
      }
      Add()
      Flatten()
    `, '(6, 6, 2)');
    expect(c.info.get('add_1')!.inputShapes).toEqual([[null, 6, 6, 8], [null, 6, 6, 8]]);
    expect(c.info.get('branch_skip_1')).toMatchObject({ type: 'Branch', inputShapes: [[null, 6, 6, 8]], outputShape: [null, 6, 6, 8], params: 584 });
    expect(c.outputShape).toEqual([null, 288]);
    expect(c.summary.total_params).toBe(152 + 584);
  });

  it('concatenates several branches along the last axis', () => {
    const c = run(`
      left: { Dense(8) }
      right: { Dense(4) Dense(2) }
      Concatenate()
      Output(3)
    `, '(5,)');
    expect(c.info.get('concatenate_1')!.inputShapes).toEqual([[null, 8], [null, 2]]);
    expect(out(c, 'concatenate_1')).toEqual([null, 10]);
    expect(c.summary.total_params).toBe(48 + 24 + 10 + 33);
  });

  it('starts branches named after inputs from those inputs', () => {
    const c = run(`
      image: { Conv2D(4, (3,3)) GlobalAveragePooling2D() }
      meta: { Dense(4) }
      Concatenate()
      Output(2)
    `, '{ image: (8, 8, 1), meta: (3,) }');
    expect(c.info.get('branch_meta_1')!.inputShapes).toEqual([[null, 3]]);
    expect(out(c, 'concatenate_1')).toEqual([null, 8]);
    expect(c.summary.input_shape).toEqual([[null, 8, 8, 1], [null, 3]]);
  });

  it('uses the first input as the current tensor and merges it with a named-input branch', () => {
    const c = run(`
      Dense(4)
      meta: { Dense(4) }
      Add()
    `, '{ image: (6,), meta: (3,) }');
    expect(c.info.get('add_1')!.inputShapes).toEqual([[null, 4], [null, 4]]);
  });

  it('reports an input that nothing consumes', () => {
    const ds = errors('Dense(4)', '{ a: (6,), b: (3,) }');
    expect(ds).toEqual([expect.objectContaining({ code: 'unused_input', message: "Input 'b' is never used", line: 2 })]);
  });

  it('computes Dot like Keras', () => {
    const c = run(`
      a: { Dense(8) }
      b: { Dense(8) }
      Dot(axes=1)
    `, '(4,)');
    expect(c.outputShape).toEqual([null, 1]);
    const seq = run(`
      a: { Dense(8) }
      b: { Dense(8) }
      Dot(axes=2)
    `, '(5, 4)');
    expect(seq.outputShape).toEqual([null, 5, 5]);
    expect(messages('a: { Dense(8) } b: { Dense(6) } Dot(axes=1)', '(4,)')).toEqual(['Dot needs equal sizes along axes 1, got (None, 8), (None, 6)']);
  });

  it('reports incompatible merges', () => {
    expect(messages(`
      skip: { Dense(3) }
      Add()
    `, '(5,)')).toEqual(['Add needs tensors of the same shape, got (None, 5), (None, 3)']);
    expect(messages(`
      a: { Conv2D(2, (3,3)) }
      b: { Conv2D(2, (3,3), padding="same") }
      Concatenate()
    `, '(6, 6, 1)')).toEqual(['Concatenate needs shapes that are equal except along axis -1, got (None, 4, 4, 2), (None, 6, 6, 2)']);
    expect(run('a: { Conv2D(1, (3,3), padding="same") } Concatenate(axis=1)', '(6, 6, 1)').outputShape).toEqual([null, 12, 6, 1]);
    expect(messages('a: { Dense(2) } b: { Dense(2) } c: { Dense(2) } Subtract()', '(4,)')).toEqual([
      'Subtract merges exactly 2 tensors, got 3: (None, 2), (None, 2), (None, 2)',
    ]);
  });

  it('reports branch structure errors', () => {
    const ds = errors(`
      Dense(4)
      Add()
      skip: { Dense(4) }
      Dense(2)
    `, '(5,)');
    expect(ds.map((d) => [d.code, d.message, d.line])).toEqual([
      ['branch', 'Add has nothing to merge', 5],
      ['branch', "Dense cannot follow branch 'skip': branches must first be combined by a merge layer", 7],
    ]);
  });

  it('reports branches that are never merged', () => {
    expect(errors('Dense(4) a: { Dense(4) }', '(5,)').map((d) => d.message)).toEqual(["branch 'a' is never merged"]);
  });
});

describe('check: opaque layers, custom layers and HPO', () => {
  it('passes opaque and custom layers through with unknown parameters and a warning', () => {
    const c = run(`
      Dense(8)
      Lambda("x: x * 2")
      MyGatingLayer(size=3)
      Output(2)
    `, '(4,)');
    expect(out(c, 'lambda_1')).toEqual([null, 8]);
    expect(out(c, 'my_gating_layer_1')).toEqual([null, 8]);
    expect(params(c, 'lambda_1')).toEqual([null, null, null]);
    expect(params(c, 'output_1')).toEqual([18, 18, 18]);
    expect(c.summary.total_params).toBeNull();
    expect(totalParams(c, 'torch')).toBeNull();
    expect(c.warnings.map((w) => [w.code, w.line])).toEqual([
      ['opaque_layer', 5],
      ['opaque_layer', 6],
    ]);
    expect(c.warnings[1].message).toBe('Custom layer MyGatingLayer is opaque to the shape checker: its output shape is assumed equal to its input (None, 8) and its parameter count is unknown');
  });

  it('treats sizes that depend on HPO as unknown and becomes concrete again after them', () => {
    const c = run(`
      Conv2D(HPO(choice(16, 32)), (3,3))
      Flatten()
      Dense(HPO(choice(64, 128)))
      Dropout(HPO(range(0.1, 0.5, step=0.1)))
      Output(10)
    `, '(8, 8, 1)');
    expect(out(c, 'conv2d_1')).toEqual([null, 6, 6, null]);
    expect(params(c, 'conv2d_1')).toEqual([null, null, null]);
    expect(out(c, 'flatten_1')).toEqual([null, null]);
    expect(out(c, 'dense_1')).toEqual([null, null]);
    expect(out(c, 'output_1')).toEqual([null, 10]);
    expect(params(c, 'output_1')).toEqual([null, null, null]);
    expect(c.summary.total_params).toBeNull();
  });
});

describe('check: error reporting', () => {
  it('reports every independent error in one pass, at the layer, and skips what depends on an error', () => {
    const ds = errors(`
      a: { Conv2D(4, (9,9)) Dense(3) }
      b: { GroupNormalization(groups=3) LSTM(4) }
      Add()
      Dense(2)
    `, '(8, 8, 4)');
    expect(ds.map((d) => [d.message, d.line, d.column])).toEqual([
      ['Conv2D kernel size (9, 9) exceeds input dimensions (8, 8)', 4, 8],
      ['GroupNormalization groups (3) must divide the number of channels (4) of (None, 8, 8, 4)', 5, 8],
      ['LSTM expects 3D input (batch, timesteps, features), got 4D (None, 8, 8, 4)', 5, 37],
    ]);
    expect(ds.every((d) => d.severity === 'error' && d.code === 'shape')).toBe(true);
  });

  it('keeps checking after an error that leaves the output shape known', () => {
    expect(messages(`
      ResidualConnection { Dense(3) }
      TransformerEncoder(num_heads=3)
      Conv2D(1, (3,3))
    `, '(4, 8)')).toEqual([
      'ResidualConnection block output (None, 4, 3) does not match its input (None, 4, 8)',
      'TransformerEncoder needs the model dimension 8 to be divisible by num_heads (3)',
      'Conv2D expects 4D input, got 3D (None, 4, 8)',
    ]);
  });

  it('reports errors in a named-input branch even when the main path failed first', () => {
    expect(messages(`
      Conv2D(4, (3,3))
      extra: { LSTM(3) }
      Concatenate()
    `, '{ main: (5,), extra: (7,) }')).toEqual([
      'Conv2D expects 4D input, got 2D (None, 5)',
      'LSTM expects 3D input (batch, timesteps, features), got 2D (None, 7)',
    ]);
  });

  it('throws only DslError for hand-built models, with the message of the first error', () => {
    const m = model('Dense(4)', '(5,)');
    const dense = m.layers[0] as LayerNode;
    const bad: ModelIR = { ...m, layers: [{ ...dense, type: 'Conv2D', params: { filters: 2, kernel_size: [3, 3] } }] };
    expect(() => check(bad)).toThrow(new DslError([{ severity: 'error', code: 'shape', message: 'Conv2D expects 4D input, got 2D (None, 5)', line: 4, column: 3 }]));
    expect(() => check({ ...m, inputs: [] })).toThrow(DslError);
  });
});

describe('check: agreement with independent implementations', () => {
  const L = tf.layers;
  // [DSL layers, input shape, the same stack in tfjs-layers (a port of Keras)]; zero recurrent initialisers skip
  // the slow orthogonal one.
  const kerasCases: [string, number[], (inputShape: number[]) => tf.layers.Layer[]][] = [
    ['Conv2D(8, (3,3)) Conv2D(8, (3,3), padding="same", strides=2) Conv2D(8, (5,3), strides=(2,1)) Conv2D(4, (3,3), dilation_rate=2)', [32, 31, 3], (inputShape) => [
      L.conv2d({ inputShape, filters: 8, kernelSize: 3 }),
      L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', strides: 2 }),
      L.conv2d({ filters: 8, kernelSize: [5, 3], strides: [2, 1] }),
      L.conv2d({ filters: 4, kernelSize: 3, dilationRate: 2 }),
    ]],
    ['Conv1D(16, 5, strides=2) Conv1D(4, 3, padding="same", use_bias=false)', [100, 8], (inputShape) => [
      L.conv1d({ inputShape, filters: 16, kernelSize: 5, strides: 2 }),
      L.conv1d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false }),
    ]],
    ['Conv3D(4, (3,3,3), padding="same") Conv3D(2, (2,3,1), strides=2)', [8, 9, 10, 2], (inputShape) => [
      L.conv3d({ inputShape, filters: 4, kernelSize: 3, padding: 'same' }),
      L.conv3d({ filters: 2, kernelSize: [2, 3, 1], strides: 2 }),
    ]],
    ['Conv2DTranspose(8, (3,3), strides=2, padding="same") Conv2DTranspose(4, (3,3), strides=2) Conv2DTranspose(2, (1,1), strides=2)', [7, 5, 3], (inputShape) => [
      L.conv2dTranspose({ inputShape, filters: 8, kernelSize: 3, strides: 2, padding: 'same' }),
      L.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2 }),
      L.conv2dTranspose({ filters: 2, kernelSize: 1, strides: 2 }),
    ]],
    ['SeparableConv2D(16, (3,3), depth_multiplier=2) DepthwiseConv2D((3,3), depth_multiplier=3, padding="same") DepthwiseConv2D(3, use_bias=false)', [10, 10, 4], (inputShape) => [
      L.separableConv2d({ inputShape, filters: 16, kernelSize: 3, depthMultiplier: 2 }),
      L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 3, padding: 'same' }),
      L.depthwiseConv2d({ kernelSize: 3, useBias: false }),
    ]],
    ['MaxPooling2D((2,2)) AveragePooling2D((3,3), strides=(2,2), padding="same") MaxPooling2D(2, strides=1) Flatten()', [9, 9, 3], (inputShape) => [
      L.maxPooling2d({ inputShape, poolSize: 2 }),
      L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
      L.maxPooling2d({ poolSize: 2, strides: 1 }),
      L.flatten(),
    ]],
    ['MaxPooling1D(3) AveragePooling1D(2, padding="same") GlobalMaxPooling1D()', [11, 4], (inputShape) => [
      L.maxPooling1d({ inputShape, poolSize: 3 }),
      L.averagePooling1d({ poolSize: 2, padding: 'same' }),
      L.globalMaxPooling1d({}),
    ]],
    ['MaxPooling3D((2,2,2)) AveragePooling3D((1,3,2), strides=(1,1,2)) Flatten()', [4, 6, 8, 2], (inputShape) => [
      L.maxPooling3d({ inputShape, poolSize: 2 }),
      L.averagePooling3d({ poolSize: [1, 3, 2], strides: [1, 1, 2] }),
      L.flatten(),
    ]],
    ['BatchNormalization() LayerNormalization() Flatten() BatchNormalization(center=false) Dense(7) Dense(3, use_bias=false)', [6, 6, 8], (inputShape) => [
      L.batchNormalization({ inputShape }),
      L.layerNormalization({}),
      L.flatten(),
      L.batchNormalization({ center: false }),
      L.dense({ units: 7 }),
      L.dense({ units: 3, useBias: false }),
    ]],
    ['LSTM(32, return_sequences=true) SimpleRNN(8, return_sequences=true) Dense(5) LSTM(3)', [50, 10], (inputShape) => [
      L.lstm({ inputShape, units: 32, returnSequences: true, recurrentInitializer: 'zeros' }),
      L.simpleRNN({ units: 8, returnSequences: true, recurrentInitializer: 'zeros' }),
      L.dense({ units: 5 }),
      L.lstm({ units: 3, recurrentInitializer: 'zeros' }),
    ]],
    ['Bidirectional(LSTM(16, return_sequences=true)) Bidirectional(SimpleRNN(8), merge_mode="sum")', [20, 4], (inputShape) => [
      L.bidirectional({ inputShape, layer: L.lstm({ units: 16, returnSequences: true, recurrentInitializer: 'zeros' }) as tf.RNN }),
      L.bidirectional({ layer: L.simpleRNN({ units: 8, recurrentInitializer: 'zeros' }) as tf.RNN, mergeMode: 'sum' }),
    ]],
    ['TimeDistributed(Conv2D(8, (3,3))) TimeDistributed(Flatten()) TimeDistributed(Dense(4))', [10, 12, 12, 3], (inputShape) => [
      L.timeDistributed({ inputShape, layer: L.conv2d({ filters: 8, kernelSize: 3 }) }),
      L.timeDistributed({ layer: L.flatten() }),
      L.timeDistributed({ layer: L.dense({ units: 4 }) }),
    ]],
    // tfjs leaves a -1 unresolved where Keras infers it, so the tfjs side spells the size out.
    ['Embedding(input_dim=1000, output_dim=64) Reshape((-1, 32)) Flatten() Reshape((4, 4, 400))', [100], (inputShape) => [
      L.embedding({ inputShape, inputDim: 1000, outputDim: 64 }),
      L.reshape({ targetShape: [200, 32] }),
      L.flatten(),
      L.reshape({ targetShape: [4, 4, 400] }),
    ]],
    ['Dense(16) SpatialDropout1D(0.1) Dropout(0.2) GaussianNoise(0.3) Activation("relu") Dense(4)', [5, 6], (inputShape) => [
      L.dense({ inputShape, units: 16 }),
      L.spatialDropout1d({ rate: 0.1 }),
      L.dropout({ rate: 0.2 }),
      L.gaussianNoise({ stddev: 0.3 }),
      L.activation({ activation: 'relu' }),
      L.dense({ units: 4 }),
    ]],
  ];

  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(kerasCases)('matches tfjs-layers shapes and Keras counts: %s', (layers, inputShape, build) => {
    const c = check(parseModel(`network T { input: (${inputShape.join(', ')},) layers: ${layers} }`));
    const m = tf.sequential({ layers: build(inputShape) });
    const trainable = m.trainableWeights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 0), 1), 0);
    expect([c.outputShape, c.summary.total_params, c.summary.trainable_params]).toEqual([m.outputShape, m.countParams(), trainable]);
    m.dispose();
  });

  // GRU (reset_after), GroupNorm, InstanceNorm and attention have no Keras-compatible tfjs layer: torch checks them.
  const torchCases: [string, string, string][] = [
    ['LSTM(32, return_sequences=true) GRU(16, return_sequences=true) SimpleRNN(8)', '(50, 10)', 'nn.LSTM(10, 32), nn.GRU(32, 16), nn.RNN(16, 8)'],
    ['Bidirectional(LSTM(16, return_sequences=true)) Bidirectional(GRU(8))', '(20, 4)', 'nn.LSTM(4, 16, bidirectional=True), nn.GRU(32, 8, bidirectional=True)'],
    ['BatchNormalization() LayerNormalization() GroupNormalization(groups=4) InstanceNormalization()', '(6, 6, 8)', 'nn.BatchNorm2d(8), nn.LayerNorm(8), nn.GroupNorm(4, 8), nn.InstanceNorm2d(8, affine=True)'],
    ['MultiHeadAttention(num_heads=4, key_dim=8) TransformerEncoder(num_heads=2, ff_dim=64)', '(10, 32)', 'nn.MultiheadAttention(32, 4), nn.TransformerEncoderLayer(32, 2, 64)'],
    ['TransformerEncoder(num_heads=8, ff_dim=2048)', '(100, 512)', 'nn.TransformerEncoderLayer(512, 8, 2048)'],
    ['Embedding(1000, 16) Conv1D(8, 3) Flatten() Dense(5)', '(12,)', 'nn.Embedding(1000, 16), nn.Conv1d(16, 8, 3), nn.Linear(80, 5)'],
    ['SeparableConv2D(16, (3,3), depth_multiplier=2) DepthwiseConv2D((3,3), depth_multiplier=3) Conv2DTranspose(4, (3,3))', '(10, 10, 4)',
      'nn.Conv2d(4, 8, 3, groups=4, bias=False), nn.Conv2d(8, 16, 1), nn.Conv2d(16, 48, 3, groups=16), nn.ConvTranspose2d(48, 4, 3)'],
  ];
  const python = '/usr/bin/python3';
  const hasTorch = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

  (hasTorch ? it : it.skip)('matches the parameter counts of the equivalent PyTorch modules', () => {
    const script = [
      'import json, torch.nn as nn',
      'count = lambda ms: sum(p.numel() for m in ms for p in m.parameters())',
      `print(json.dumps([${torchCases.map(([, , modules]) => `count([${modules}])`).join(', ')}]))`,
    ].join('\n');
    const r = spawnSync(python, ['-c', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    const expected = JSON.parse(r.stdout) as number[];
    const ours = torchCases.map(([layers, input]) => totalParams(run(layers, input), 'torch'));
    expect(ours).toEqual(expected);
  });
});
