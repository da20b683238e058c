/**
 * The Keras lowering shared by the TensorFlow emitter and the tfjs builder: a checked model becomes a Keras
 * functional graph — plain layers with Keras class names and snake_case constructor arguments, wired by tensor name.
 * Composite DSL layers expand here, once, into ordinary Keras layers:
 *
 * - `Output` → `Dense` (activation default softmax); `LSTMCell`/`GRUCell` → `LSTM`/`GRU`;
 *   `SimpleRNNDropoutWrapper` → `SimpleRNN(dropout=)`; `InstanceNormalization` → `GroupNormalization(groups=-1)`;
 *   `Activation(leaky_relu, alpha)` → `LeakyReLU(alpha)` (alpha 0.2 when absent, as `keras.activations.leaky_relu`).
 * - `ResidualConnection { ... }` → its sublayers, then `Add` named after the block: `Add()([block_out, block_in])`.
 * - `TransformerEncoder`/`Transformer`/`TransformerDecoder` with model dim d, h heads (post-norm):
 *   `<id>_mha` = MultiHeadAttention(h, key_dim=d/h)(x, x) (the decoder passes `use_causal_mask=True`),
 *   `<id>_drop1` Dropout, `<id>_add1` Add([x, attn]), `<id>_ln1` LayerNormalization(epsilon),
 *   FFN = `<id>_ffn1` Dense(ff_dim, relu) → `<id>_ffn2` Dense(d), or the layer's sublayers instead,
 *   `<id>_drop2` Dropout, `<id>_add2` Add([ln1, ffn]), `<id>_ln2` LayerNormalization.
 * - Branches: a branch named after an input starts from it, otherwise from the current tensor; the merge layer after
 *   one or more branches combines their outputs in order (a single branch is merged with the tensor it forked from,
 *   placed first).
 *
 * Weights, in Keras `get_weights()` order, for the classes the tfjs builder implements itself: MultiHeadAttention
 * query/kernel [d,h,kd], query/bias [h,kd], key/…, value/…, attention_output/kernel [h,kd,d], attention_output/bias [d];
 * GRU (reset_after) kernel [in,3u], recurrent_kernel [u,3u], bias [2,3u] (gates z, r, h); GroupNormalization gamma [C],
 * beta [C]; Attention(use_scale) scale [].
 */
import type { CheckedModel } from '../checked';
import { DiagnosticBag } from '../diagnostics';
import { isLayer, type Dim, type LayerNode, type ModelNode, type Shape, type SourceLoc, type Value } from '../ir';
import { layerSpec } from '../layers';
import { TRANSFORMER_TYPES, transformerParts } from './weights';
import { reportUnresolvedHpo } from '../hpo';

/** A Keras constructor argument: a literal, a tuple (array) or a nested layer (`TimeDistributed(layer=...)`). */
export type KerasArg = number | string | boolean | null | KerasArg[] | KerasLayer;

/** One Keras layer instance before it is called. */
export interface KerasLayer {
  /** Keras class name in `keras.layers` (`Conv2D`, `MultiHeadAttention`, `LeakyReLU`, ...). */
  className: string;
  /** Unique layer name: the IR id, or `<id>_<part>` for the parts of a composite layer. */
  name: string;
  /**
   * Constructor keyword arguments, snake_case, complete (defaults included). Activations are lowercase DSL names
   * (`linear` for none); the emitters translate the ones a backend spells differently.
   */
  config: Record<string, KerasArg>;
}

/** How a layer is called on its input tensors. */
export type KerasCall =
  /** `layer(x)` */
  | 'single'
  /** `layer([a, b, ...])`: merge layers and `Attention` */
  | 'list'
  /** `layer(query, value)`: `MultiHeadAttention` */
  | 'query_value';

/** A layer called in the functional graph; its output tensor is named like the layer. */
export interface KerasNode extends KerasLayer {
  /** Input tensors: graph input names or names of earlier nodes. */
  inputs: string[];
  call: KerasCall;
  /** Keyword arguments of the call (`use_causal_mask`). */
  callKwargs: Record<string, boolean>;
  /** Output shape, batch axis first. */
  outputShape: Shape;
  /** The DSL layer this node implements (a composite layer expands into several nodes). */
  source: { id: string; type: string; loc: SourceLoc };
}

export interface KerasInput {
  name: string;
  /** Shape without the batch axis, as `keras.Input(shape=...)` takes it. */
  shape: Dim[];
  loc: SourceLoc;
}

/** A Keras functional model: inputs, nodes in topological order, one output tensor. */
export interface KerasGraph {
  /** The DSL network name. */
  name: string;
  inputs: KerasInput[];
  nodes: KerasNode[];
  /** Name of the output tensor (an input name only for a model without layers). */
  output: string;
  outputShape: Shape;
}

const MERGES = new Set(['Add', 'Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum', 'Dot', 'Concatenate']);

const RENAMED: Record<string, string> = { LSTMCell: 'LSTM', GRUCell: 'GRU', SimpleRNNDropoutWrapper: 'SimpleRNN' };

const RECURRENT = new Set(['LSTM', 'GRU', 'SimpleRNN', 'LSTMCell', 'GRUCell', 'SimpleRNNDropoutWrapper']);

/** Default negative slope of `leaky_relu` when the DSL gives none (`keras.activations.leaky_relu`, `tf.nn.leaky_relu`). */
export const LEAKY_RELU_ALPHA = 0.2;

/**
 * Lowers a checked model to a Keras functional graph. Layers Keras cannot express (Lambda, opaque and custom layers)
 * and unresolved HPO values raise one DslError listing all of them; `backend` names the target in those messages.
 */
export function lowerToKeras(checked: CheckedModel, backend = 'tensorflow'): KerasGraph {
  return new Lowering(checked, backend).run();
}

class Lowering {
  private readonly nodes: KerasNode[] = [];
  private readonly names = new Set<string>();
  private readonly bag = new DiagnosticBag();
  private readonly inputNames: Set<string>;

  constructor(
    private readonly checked: CheckedModel,
    private readonly backend: string,
  ) {
    this.inputNames = new Set(checked.model.inputs.map((i) => i.name));
  }

  run(): KerasGraph {
    const model = this.checked.model;
    reportUnresolvedHpo(this.checked.model, this.bag);
    this.bag.throwIfErrors();
    for (const input of model.inputs) this.claim(input.name, input.loc);
    const inputs: KerasInput[] = model.inputs.map((i) => ({ name: i.name, shape: i.shape.slice(1), loc: i.loc }));
    const output = this.sequence(model.layers, { name: inputs[0].name, shape: model.inputs[0].shape });
    this.bag.throwIfErrors();
    return { name: model.name, inputs, nodes: this.nodes, output: output.name, outputShape: output.shape };
  }

  /** Lowers a layer list starting from `start`; returns the resulting tensor. */
  private sequence(items: ModelNode[], start: Tensor): Tensor {
    let cur = start;
    let pending: { from: Tensor; out: Tensor }[] = [];
    for (const item of items) {
      if (item.kind === 'branch') {
        const from = this.inputNames.has(item.name) ? this.inputTensor(item.name) : cur;
        pending.push({ from, out: this.sequence(item.body, from) });
        continue;
      }
      if (MERGES.has(item.type)) {
        if (!pending.length) throw new Error(`internal: merge layer '${item.id}' has no branches to merge`);
        const ins = pending.length === 1 ? [pending[0].from, pending[0].out] : pending.map((p) => p.out);
        pending = [];
        cur = this.add(item, item.type, item.id, this.mergeConfig(item), ins, 'list', this.shapeOf(item));
        continue;
      }
      if (pending.length) throw new Error(`internal: layer '${item.id}' follows branches without merging them`);
      cur = this.layer(item, cur);
    }
    if (pending.length) throw new Error('internal: branches at the end of a layer list are never merged');
    return cur;
  }

  private layer(node: LayerNode, x: Tensor): Tensor {
    if (TRANSFORMER_TYPES.has(node.type)) return this.transformer(node, x);
    if (node.type === 'ResidualConnection') {
      const out = this.sequence(node.sublayers, x);
      return this.add(node, 'Add', node.id, {}, [out, x], 'list', this.shapeOf(node));
    }
    if (node.type === 'Attention') {
      const kwargs: Record<string, boolean> = node.params.causal === true ? { use_causal_mask: true } : {};
      return this.add(node, 'Attention', node.id, { use_scale: node.params.use_scale === true }, [x, x], 'list', this.shapeOf(node), kwargs);
    }
    if (node.type === 'MultiHeadAttention') {
      const p = node.params;
      const config = { num_heads: num(p.num_heads), key_dim: num(p.key_dim), dropout: num(p.dropout ?? 0) };
      return this.add(node, 'MultiHeadAttention', node.id, config, [x, x], 'query_value', this.shapeOf(node));
    }
    const single = this.single(node);
    if (!single) return x;
    return this.add(node, single.className, single.name, single.config, [x], 'single', this.shapeOf(node));
  }

  /** The one Keras layer a non-composite DSL layer becomes; undefined (after a diagnostic) when there is none. */
  private single(node: LayerNode): KerasLayer | undefined {
    const p = node.params;
    const spec = layerSpec(node.type);
    if (node.custom || !spec || spec.category === 'opaque') {
      const why =
        node.type === 'Lambda'
          ? 'a Lambda would run arbitrary code'
          : node.custom
            ? 'custom layers have no definition the generator could use'
            : 'the layer has no defined semantics';
      this.bag.error('unsupported_layer', `${node.type} layers cannot be emitted for the ${this.backend} backend: ${why}`, node.loc, 'replace it with built-in layers');
      return undefined;
    }
    const named = (className: string, config: Record<string, KerasArg>): KerasLayer => ({ className, name: node.id, config });
    const act = (v: Value | undefined): string => (typeof v === 'string' ? v : 'linear');
    switch (spec.category) {
      case 'conv': {
        const config: Record<string, KerasArg> = {};
        if (p.filters !== undefined) config.filters = num(p.filters);
        config.kernel_size = nums(p.kernel_size);
        config.strides = nums(p.strides);
        config.padding = str(p.padding);
        if (p.dilation_rate !== undefined) config.dilation_rate = nums(p.dilation_rate);
        if (p.depth_multiplier !== undefined) config.depth_multiplier = num(p.depth_multiplier);
        config.activation = act(p.activation);
        config.use_bias = p.use_bias !== false;
        return named(node.type, config);
      }
      case 'pool':
        return named(node.type, { pool_size: nums(p.pool_size), strides: nums(p.strides ?? p.pool_size), padding: str(p.padding) });
      case 'global_pool':
        return named(node.type, {});
      case 'recurrent': {
        const className = RENAMED[node.type] ?? node.type;
        const config: Record<string, KerasArg> = { units: num(p.units), activation: p.activation === undefined ? 'tanh' : act(p.activation), use_bias: p.use_bias !== false };
        if (node.type === 'SimpleRNNDropoutWrapper') config.dropout = num(p.dropout ?? 0);
        config.return_sequences = p.return_sequences === true;
        return named(className, config);
      }
      case 'wrapper': {
        const inner = p.layer;
        if (!isLayer(inner)) throw new Error(`internal: ${node.type} '${node.id}' has no wrapped layer`);
        if (node.type === 'Bidirectional' && !RECURRENT.has(inner.type)) {
          this.bag.error('unsupported_layer', `Bidirectional can only wrap a recurrent layer for the ${this.backend} backend, got ${inner.type}`, inner.loc);
          return undefined;
        }
        if (TRANSFORMER_TYPES.has(inner.type) || MERGES.has(inner.type) || ['ResidualConnection', 'Attention', 'MultiHeadAttention'].includes(inner.type)) {
          this.bag.error('unsupported_layer', `${node.type} cannot wrap ${inner.type} for the ${this.backend} backend`, inner.loc);
          return undefined;
        }
        const layer = this.single(inner);
        if (!layer) return undefined;
        this.claim(layer.name, inner.loc);
        return named(node.type, node.type === 'Bidirectional' ? { layer, merge_mode: str(p.merge_mode ?? 'concat') } : { layer });
      }
      default:
        break;
    }
    switch (node.type) {
      case 'Dense':
      case 'Output':
        return named('Dense', { units: num(p.units), activation: act(p.activation), use_bias: p.use_bias !== false });
      case 'Flatten':
        return named('Flatten', {});
      case 'Dropout':
      case 'SpatialDropout1D':
      case 'SpatialDropout2D':
      case 'SpatialDropout3D':
        return named(node.type, { rate: num(p.rate) });
      case 'GaussianNoise':
        return named('GaussianNoise', { stddev: num(p.stddev) });
      case 'Reshape':
        return named('Reshape', { target_shape: nums(p.target_shape) });
      case 'Activation': {
        const fn = act(p.function);
        if (fn === 'leaky_relu') return named('LeakyReLU', { alpha: typeof p.alpha === 'number' ? p.alpha : LEAKY_RELU_ALPHA });
        return named('Activation', { activation: fn });
      }
      case 'BatchNormalization':
        return named('BatchNormalization', { axis: num(p.axis ?? -1), momentum: num(p.momentum ?? 0.99), epsilon: num(p.epsilon ?? 1e-3), center: p.center !== false, scale: p.scale !== false });
      case 'LayerNormalization':
        return named('LayerNormalization', { axis: num(p.axis ?? -1), epsilon: num(p.epsilon ?? 1e-3), center: p.center !== false, scale: p.scale !== false });
      case 'GroupNormalization':
      case 'InstanceNormalization':
        return named('GroupNormalization', {
          groups: node.type === 'InstanceNormalization' ? -1 : num(p.groups ?? 32),
          epsilon: num(p.epsilon ?? 1e-3),
          center: p.center !== false,
          scale: p.scale !== false,
        });
      case 'Embedding':
        return named('Embedding', { input_dim: num(p.input_dim), output_dim: num(p.output_dim), mask_zero: p.mask_zero === true });
      default:
        this.bag.error('unsupported_layer', `${node.type} layers cannot be emitted for the ${this.backend} backend`, node.loc);
        return undefined;
    }
  }

  private transformer(node: LayerNode, x: Tensor): Tensor {
    const p = node.params;
    const shape = this.shapeOf(node);
    const d = x.shape[x.shape.length - 1];
    const h = num(p.num_heads);
    if (typeof d !== 'number' || d % h !== 0) throw new Error(`internal: ${node.type} '${node.id}' model dimension ${d} is not a multiple of ${h} heads`);
    const parts = transformerParts(node.id);
    const rate = num(p.dropout ?? 0.1);
    const eps = num(p.epsilon ?? 1e-6);
    const ln = { axis: -1, epsilon: eps, center: true, scale: true };
    const causal: Record<string, boolean> = node.type === 'TransformerDecoder' ? { use_causal_mask: true } : {};
    const attn = this.add(node, 'MultiHeadAttention', parts.mha, { num_heads: h, key_dim: d / h, dropout: 0 }, [x, x], 'query_value', shape, causal);
    const drop1 = this.add(node, 'Dropout', `${node.id}_drop1`, { rate }, [attn], 'single', shape);
    const add1 = this.add(node, 'Add', `${node.id}_add1`, {}, [x, drop1], 'list', shape);
    const ln1 = this.add(node, 'LayerNormalization', parts.ln1, ln, [add1], 'single', shape);
    let ffn: Tensor;
    if (node.sublayers.length) {
      ffn = this.sequence(node.sublayers, ln1);
    } else {
      const ff = num(p.ff_dim);
      const hidden = this.add(node, 'Dense', parts.ffn1, { units: ff, activation: 'relu', use_bias: true }, [ln1], 'single', [...shape.slice(0, -1), ff]);
      ffn = this.add(node, 'Dense', parts.ffn2, { units: d, activation: 'linear', use_bias: true }, [hidden], 'single', shape);
    }
    const drop2 = this.add(node, 'Dropout', `${node.id}_drop2`, { rate }, [ffn], 'single', shape);
    const add2 = this.add(node, 'Add', `${node.id}_add2`, {}, [ln1, drop2], 'list', shape);
    return this.add(node, 'LayerNormalization', parts.ln2, ln, [add2], 'single', shape);
  }

  private mergeConfig(node: LayerNode): Record<string, KerasArg> {
    if (node.type === 'Dot') return { axes: num(node.params.axes ?? -1), normalize: node.params.normalize === true };
    if (node.type === 'Concatenate') return { axis: num(node.params.axis ?? -1) };
    return {};
  }

  private add(
    source: LayerNode,
    className: string,
    name: string,
    config: Record<string, KerasArg>,
    inputs: Tensor[],
    call: KerasCall,
    outputShape: Shape,
    callKwargs: Record<string, boolean> = {},
  ): Tensor {
    this.claim(name, source.loc);
    this.nodes.push({
      className,
      name,
      config,
      inputs: inputs.map((t) => t.name),
      call,
      callKwargs,
      outputShape,
      source: { id: source.id, type: source.type, loc: source.loc },
    });
    return { name, shape: outputShape };
  }

  private claim(name: string, loc: SourceLoc): void {
    if (this.names.has(name)) this.bag.error('name_conflict', `The name '${name}' is used twice in the generated Keras model`, loc, 'rename the input or layer');
    this.names.add(name);
  }

  private inputTensor(name: string): Tensor {
    const spec = this.checked.model.inputs.find((i) => i.name === name)!;
    return { name, shape: spec.shape };
  }

  private shapeOf(node: LayerNode): Shape {
    const info = this.checked.info.get(node.id);
    if (!info) throw new Error(`internal: no shape information for layer '${node.id}'`);
    return info.outputShape;
  }
}

interface Tensor {
  name: string;
  shape: Shape;
}

function num(v: Value | undefined): number {
  if (typeof v !== 'number') throw new Error(`internal: expected a number, got ${JSON.stringify(v)}`);
  return v;
}

function nums(v: Value | undefined): number[] {
  if (typeof v === 'number') return [v];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) throw new Error(`internal: expected a tuple of numbers, got ${JSON.stringify(v)}`);
  return v as number[];
}

function str(v: Value | undefined): string {
  if (typeof v !== 'string') throw new Error(`internal: expected a string, got ${JSON.stringify(v)}`);
  return v;
}
