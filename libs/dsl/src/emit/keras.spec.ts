import { checkedModel } from '../../test/keras-models';
import { DslError } from '../diagnostics';
import { lowerToKeras, type KerasGraph, type KerasNode } from './keras';

const lower = (layers: string, input = '(10, 16)'): KerasGraph => lowerToKeras(checkedModel(`network L { input: ${input} layers: ${layers} }`));

/** [name, class, inputs] per node: the wiring of a graph at a glance. */
const wiring = (g: KerasGraph) => g.nodes.map((n) => [n.name, n.className, n.inputs]);
const node = (g: KerasGraph, name: string): KerasNode => g.nodes.find((n) => n.name === name)!;

function dslError(fn: () => unknown): DslError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DslError) return e;
    throw e;
  }
  throw new Error('expected a DslError');
}

describe('lowerToKeras', () => {
  it('maps plain layers one to one, named by IR id, with complete snake_case configs', () => {
    const g = lower('Conv2D(8, 3, "relu") MaxPooling2D(2) Flatten() Dense(4) Output(3)', '(12, 12, 1)');
    expect(g.inputs).toEqual([{ name: 'input', shape: [12, 12, 1], loc: expect.anything() }]);
    expect(wiring(g)).toEqual([
      ['conv2d_1', 'Conv2D', ['input']],
      ['max_pooling2d_1', 'MaxPooling2D', ['conv2d_1']],
      ['flatten_1', 'Flatten', ['max_pooling2d_1']],
      ['dense_1', 'Dense', ['flatten_1']],
      ['output_1', 'Dense', ['dense_1']],
    ]);
    expect(node(g, 'conv2d_1').config).toEqual({ filters: 8, kernel_size: [3, 3], strides: [1, 1], padding: 'valid', dilation_rate: [1, 1], activation: 'relu', use_bias: true });
    expect(node(g, 'max_pooling2d_1').config).toEqual({ pool_size: [2, 2], strides: [2, 2], padding: 'valid' });
    expect(node(g, 'dense_1').config).toEqual({ units: 4, activation: 'linear', use_bias: true });
    expect(node(g, 'output_1').config).toEqual({ units: 3, activation: 'softmax', use_bias: true });
    expect(g.output).toBe('output_1');
    expect(g.outputShape).toEqual([null, 3]);
    expect(node(g, 'conv2d_1').outputShape).toEqual([null, 10, 10, 8]);
    expect(node(g, 'conv2d_1').source).toEqual({ id: 'conv2d_1', type: 'Conv2D', loc: { line: 1, column: 40 } });
  });

  it('renames DSL-only layers to their Keras equivalents', () => {
    const g = lower(
      'LSTMCell(8, activation=None) Reshape((8, 1)) GRUCell(4) Reshape((4, 1)) SimpleRNNDropoutWrapper(3, dropout=0.25) Reshape((3, 1, 1)) InstanceNormalization(epsilon=0.01) Activation("leaky_relu") Activation("leaky_relu", 0.1) Activation("swish")',
    );
    expect(g.nodes.map((n) => [n.className, n.config])).toEqual([
      ['LSTM', { units: 8, activation: 'linear', use_bias: true, return_sequences: false }],
      ['Reshape', { target_shape: [8, 1] }],
      ['GRU', { units: 4, activation: 'tanh', use_bias: true, return_sequences: false }],
      ['Reshape', { target_shape: [4, 1] }],
      ['SimpleRNN', { units: 3, activation: 'tanh', use_bias: true, dropout: 0.25, return_sequences: false }],
      ['Reshape', { target_shape: [3, 1, 1] }],
      ['GroupNormalization', { groups: -1, epsilon: 0.01, center: true, scale: true }],
      ['LeakyReLU', { alpha: 0.2 }],
      ['LeakyReLU', { alpha: 0.1 }],
      ['Activation', { activation: 'swish' }],
    ]);
  });

  it('wraps the inner layer of TimeDistributed and Bidirectional as a nested Keras layer', () => {
    const g = lower('TimeDistributed(Dense(8, "relu")) Bidirectional(LSTMCell(4), merge_mode="ave")');
    expect(node(g, 'time_distributed_1').config).toEqual({ layer: { className: 'Dense', name: 'dense_1', config: { units: 8, activation: 'relu', use_bias: true } } });
    expect(node(g, 'bidirectional_1').config).toEqual({
      layer: { className: 'LSTM', name: 'lstm_cell_1', config: { units: 4, activation: 'tanh', use_bias: true, return_sequences: false } },
      merge_mode: 'ave',
    });
  });

  it('expands a TransformerEncoder into a post-norm Keras block with key_dim = d / heads', () => {
    const g = lower('TransformerEncoder(num_heads=4, ff_dim=32, dropout=0.2, epsilon=0.001)');
    const id = 'transformer_encoder_1';
    expect(wiring(g)).toEqual([
      [`${id}_mha`, 'MultiHeadAttention', ['input', 'input']],
      [`${id}_drop1`, 'Dropout', [`${id}_mha`]],
      [`${id}_add1`, 'Add', ['input', `${id}_drop1`]],
      [`${id}_ln1`, 'LayerNormalization', [`${id}_add1`]],
      [`${id}_ffn1`, 'Dense', [`${id}_ln1`]],
      [`${id}_ffn2`, 'Dense', [`${id}_ffn1`]],
      [`${id}_drop2`, 'Dropout', [`${id}_ffn2`]],
      [`${id}_add2`, 'Add', [`${id}_ln1`, `${id}_drop2`]],
      [`${id}_ln2`, 'LayerNormalization', [`${id}_add2`]],
    ]);
    expect(node(g, `${id}_mha`)).toMatchObject({ call: 'query_value', callKwargs: {}, config: { num_heads: 4, key_dim: 4, dropout: 0 } });
    expect(node(g, `${id}_drop1`).config).toEqual({ rate: 0.2 });
    expect(node(g, `${id}_ln1`).config).toEqual({ axis: -1, epsilon: 0.001, center: true, scale: true });
    expect(node(g, `${id}_ffn1`)).toMatchObject({ config: { units: 32, activation: 'relu' }, outputShape: [null, 10, 32] });
    expect(node(g, `${id}_ffn2`)).toMatchObject({ config: { units: 16, activation: 'linear' }, outputShape: [null, 10, 16] });
    expect(g.nodes.every((n) => n.source.id === id)).toBe(true);
    expect(g.output).toBe(`${id}_ln2`);
  });

  it('masks a TransformerDecoder causally and lets sublayers replace the feed-forward part', () => {
    const g = lower('TransformerDecoder(num_heads=2) { Dense(32, "relu") Dense(16) }');
    const id = 'transformer_decoder_1';
    expect(node(g, `${id}_mha`).callKwargs).toEqual({ use_causal_mask: true });
    expect(wiring(g).slice(4, 7)).toEqual([
      ['dense_1', 'Dense', [`${id}_ln1`]],
      ['dense_2', 'Dense', ['dense_1']],
      [`${id}_drop2`, 'Dropout', ['dense_2']],
    ]);
    expect(g.nodes.some((n) => n.name.endsWith('_ffn1'))).toBe(false);
  });

  it('calls attention layers on the tensor as query and value', () => {
    const g = lower('MultiHeadAttention(2, 8, dropout=0.1) Attention(use_scale=true, causal=true) Attention()');
    expect(g.nodes.map((n) => [n.className, n.call, n.inputs, n.callKwargs, n.config])).toEqual([
      ['MultiHeadAttention', 'query_value', ['input', 'input'], {}, { num_heads: 2, key_dim: 8, dropout: 0.1 }],
      ['Attention', 'list', ['multi_head_attention_1', 'multi_head_attention_1'], { use_causal_mask: true }, { use_scale: true }],
      ['Attention', 'list', ['attention_1', 'attention_1'], {}, { use_scale: false }],
    ]);
  });

  it('ends a ResidualConnection with an Add named after the block', () => {
    const g = lower('Dense(16) ResidualConnection { Dense(8, "relu") Dense(16) } Output(2)', '(16,)');
    expect(wiring(g)).toEqual([
      ['dense_1', 'Dense', ['input']],
      ['dense_2', 'Dense', ['dense_1']],
      ['dense_3', 'Dense', ['dense_2']],
      ['residual_connection_1', 'Add', ['dense_3', 'dense_1']],
      ['output_1', 'Dense', ['residual_connection_1']],
    ]);
  });

  it('merges branches in order, a single branch with the tensor it forked from', () => {
    const g = lowerToKeras(
      checkedModel(`network B {
  input: { a: (8,), b: (4,) }
  layers:
    a: { Dense(6) }
    b: { Dense(6) }
    Concatenate()
    skip: { Dense(12) }
    Add()
    x: { Dense(12) }
    y: { Dense(12) }
    Subtract()
}`),
    );
    expect(g.inputs.map((i) => i.name)).toEqual(['a', 'b']);
    expect(wiring(g)).toEqual([
      ['dense_1', 'Dense', ['a']],
      ['dense_2', 'Dense', ['b']],
      ['concatenate_1', 'Concatenate', ['dense_1', 'dense_2']],
      ['dense_3', 'Dense', ['concatenate_1']],
      ['add_1', 'Add', ['concatenate_1', 'dense_3']],
      ['dense_4', 'Dense', ['add_1']],
      ['dense_5', 'Dense', ['add_1']],
      ['subtract_1', 'Subtract', ['dense_4', 'dense_5']],
    ]);
    expect(node(g, 'concatenate_1').config).toEqual({ axis: -1 });
    expect(g.nodes.filter((n) => n.call === 'list').map((n) => n.name)).toEqual(['concatenate_1', 'add_1', 'subtract_1']);
  });

  it('reports every layer it cannot lower, with the backend name, in one error', () => {
    const checked = checkedModel('network U {\n  input: (4,)\n  layers:\n    Lambda("x: x")\n    QuantumLayer()\n    MyDecoder()\n    Output(2)\n}\n');
    const err = dslError(() => lowerToKeras(checked, 'onnx'));
    expect(err.diagnostics.map((d) => [d.code, d.line, d.column, d.message])).toEqual([
      ['unsupported_layer', 4, 5, 'Lambda layers cannot be emitted for the onnx backend: a Lambda would run arbitrary code'],
      ['unsupported_layer', 5, 5, 'QuantumLayer layers cannot be emitted for the onnx backend: the layer has no defined semantics'],
      ['unsupported_layer', 6, 5, 'MyDecoder layers cannot be emitted for the onnx backend: custom layers have no definition the generator could use'],
    ]);
  });

  it('reports a generated name that collides with an input name', () => {
    const checked = checkedModel('network N { input: { dense_1: (4,), b: (4,) } layers: dense_1: { Dense(4) } b: { Dense(4) } Add() }');
    expect(dslError(() => lowerToKeras(checked)).diagnostics).toEqual([expect.objectContaining({ code: 'name_conflict', message: "The name 'dense_1' is used twice in the generated Keras model" })]);
  });
});
