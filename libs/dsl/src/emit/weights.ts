import type { LayersModel } from '@tensorflow/tfjs';
import { mulberry32, orthogonal, seedFor } from '../random';
import type { CheckedModel } from '../checked';
import { isLayer, type LayerNode, type ModelNode, type Shape, type SourceLoc } from '../ir';

/** One weight tensor in Keras layout (row-major). */
export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}

/** Weights per weight-owning Keras layer name (= IR layer id, or a composite part such as `<id>_mha`), in Keras order. */
export type KerasWeights = Record<string, WeightTensor[]>;

type Init = 'glorot' | 'orthogonal' | 'zeros' | 'ones' | 'uniform';

export interface WeightSpec {
  name: string;
  shape: number[];
  init: Init;
}

/** The Keras layers a DSL layer owns weights through, with their expected weights. */
export interface WeightOwner {
  key: string;
  loc: SourceLoc;
  weights: WeightSpec[];
}

/** Names of the Keras layers a TransformerEncoder/Decoder expands into (shared with the Keras lowering). */
export function transformerParts(id: string) {
  return { mha: `${id}_mha`, ln1: `${id}_ln1`, ffn1: `${id}_ffn1`, ffn2: `${id}_ffn2`, ln2: `${id}_ln2` };
}

export const TRANSFORMER_TYPES = new Set(['TransformerEncoder', 'TransformerDecoder', 'Transformer']);

const RNN_GATES: Record<string, number> = { LSTM: 4, LSTMCell: 4, GRU: 3, GRUCell: 3, SimpleRNN: 1, SimpleRNNDropoutWrapper: 1 };

/** Every weight-owning Keras layer of the model with the weights Keras would create for it. */
export function kerasWeightOwners(checked: CheckedModel): WeightOwner[] {
  const owners: WeightOwner[] = [];
  const inputShape = (node: LayerNode): Shape => {
    const info = checked.info.get(node.id);
    if (!info) throw new Error(`internal: no shape information for layer '${node.id}'`);
    return info.inputShapes[0];
  };
  const visit = (nodes: ModelNode[]): void => {
    for (const node of nodes) {
      if (node.kind === 'branch') {
        visit(node.body);
        continue;
      }
      if (node.type === 'ResidualConnection') {
        visit(node.sublayers);
        continue;
      }
      const shape = inputShape(node);
      if (TRANSFORMER_TYPES.has(node.type)) {
        const d = lastDim(shape);
        const h = num(node.params.num_heads);
        const parts = transformerParts(node.id);
        const ln = [spec('gamma', [d], 'ones'), spec('beta', [d], 'zeros')];
        owners.push({ key: parts.mha, loc: node.loc, weights: mhaSpecs(d, h, d / h) });
        owners.push({ key: parts.ln1, loc: node.loc, weights: ln });
        if (node.sublayers.length) visit(node.sublayers);
        else {
          const ff = num(node.params.ff_dim);
          owners.push({ key: parts.ffn1, loc: node.loc, weights: [spec('kernel', [d, ff], 'glorot'), spec('bias', [ff], 'zeros')] });
          owners.push({ key: parts.ffn2, loc: node.loc, weights: [spec('kernel', [ff, d], 'glorot'), spec('bias', [d], 'zeros')] });
        }
        owners.push({ key: parts.ln2, loc: node.loc, weights: ln });
        continue;
      }
      const weights = layerWeightSpecs(node, shape);
      if (weights.length) owners.push({ key: node.id, loc: node.loc, weights });
    }
  };
  visit(checked.model.layers);
  return owners;
}

/** The weights one (non-composite) layer owns, in Keras order, for a given input shape. */
export function layerWeightSpecs(node: LayerNode, input: Shape): WeightSpec[] {
  const p = node.params;
  const bias = (n: number): WeightSpec[] => (p.use_bias === false ? [] : [spec('bias', [n], 'zeros')]);
  const c = () => lastDim(input);
  switch (node.type) {
    case 'Dense':
    case 'Output':
      return [spec('kernel', [c(), num(p.units)], 'glorot'), ...bias(num(p.units))];
    case 'Conv1D':
    case 'Conv2D':
    case 'Conv3D':
      return [spec('kernel', [...nums(p.kernel_size), c(), num(p.filters)], 'glorot'), ...bias(num(p.filters))];
    case 'Conv2DTranspose':
      return [spec('kernel', [...nums(p.kernel_size), num(p.filters), c()], 'glorot'), ...bias(num(p.filters))];
    case 'SeparableConv2D': {
      const dm = num(p.depth_multiplier);
      return [
        spec('depthwise_kernel', [...nums(p.kernel_size), c(), dm], 'glorot'),
        spec('pointwise_kernel', [1, 1, c() * dm, num(p.filters)], 'glorot'),
        ...bias(num(p.filters)),
      ];
    }
    case 'DepthwiseConv2D': {
      const dm = num(p.depth_multiplier);
      return [spec('depthwise_kernel', [...nums(p.kernel_size), c(), dm], 'glorot'), ...bias(c() * dm)];
    }
    case 'BatchNormalization': {
      const axis = num(p.axis);
      const ch = dimOf(input[axis < 0 ? input.length + axis : axis]);
      return [
        ...(p.scale === false ? [] : [spec('gamma', [ch], 'ones')]),
        ...(p.center === false ? [] : [spec('beta', [ch], 'zeros')]),
        spec('moving_mean', [ch], 'zeros'),
        spec('moving_variance', [ch], 'ones'),
      ];
    }
    case 'LayerNormalization': {
      const axis = num(p.axis);
      const ch = dimOf(input[axis < 0 ? input.length + axis : axis]);
      return [...(p.scale === false ? [] : [spec('gamma', [ch], 'ones')]), ...(p.center === false ? [] : [spec('beta', [ch], 'zeros')])];
    }
    case 'GroupNormalization':
    case 'InstanceNormalization':
      return [...(p.scale === false ? [] : [spec('gamma', [c()], 'ones')]), ...(p.center === false ? [] : [spec('beta', [c()], 'zeros')])];
    case 'LSTM':
    case 'LSTMCell':
    case 'GRU':
    case 'GRUCell':
    case 'SimpleRNN':
    case 'SimpleRNNDropoutWrapper': {
      const u = num(p.units);
      const g = RNN_GATES[node.type];
      const isGru = g === 3;
      return [
        spec('kernel', [c(), g * u], 'glorot'),
        spec('recurrent_kernel', [u, g * u], 'orthogonal'),
        ...(p.use_bias === false ? [] : [spec('bias', isGru ? [2, g * u] : [g * u], 'zeros')]),
      ];
    }
    case 'Bidirectional': {
      const inner = p.layer;
      if (!isLayer(inner)) return [];
      const one = layerWeightSpecs(inner, input);
      return [...one, ...one];
    }
    case 'TimeDistributed': {
      const inner = p.layer;
      return isLayer(inner) ? layerWeightSpecs(inner, [input[0], ...input.slice(2)]) : [];
    }
    case 'Embedding':
      return [spec('embeddings', [num(p.input_dim), num(p.output_dim)], 'uniform')];
    case 'MultiHeadAttention':
      return mhaSpecs(c(), num(p.num_heads), num(p.key_dim));
    case 'Attention':
      return p.use_scale === true ? [spec('scale', [], 'ones')] : [];
    default:
      return [];
  }
}

/** Keras MultiHeadAttention weights: query, key, value (kernel [d, h, kd], bias [h, kd]), output (kernel [h, kd, d], bias [d]). */
function mhaSpecs(d: number, h: number, kd: number): WeightSpec[] {
  const proj = (n: string) => [spec(`${n}/kernel`, [d, h, kd], 'glorot'), spec(`${n}/bias`, [h, kd], 'zeros')];
  return [...proj('query'), ...proj('key'), ...proj('value'), spec('attention_output/kernel', [h, kd, d], 'glorot'), spec('attention_output/bias', [d], 'zeros')];
}

/**
 * Deterministic initial weights in Keras layout: Glorot-uniform kernels, orthogonal recurrent kernels, zero biases,
 * BatchNormalization gamma 1 / beta 0 / mean 0 / variance 1, Embedding uniform(-0.05, 0.05). Each tensor is drawn
 * from its own stream seeded by `seed` and the layer name, so editing one layer leaves the others' weights unchanged.
 */
export function initKerasWeights(checked: CheckedModel, seed = 0): KerasWeights {
  const out: KerasWeights = {};
  for (const owner of kerasWeightOwners(checked)) {
    out[owner.key] = owner.weights.map((w, i) => ({ shape: [...w.shape], data: initTensor(w, rng(seed, `${owner.key}/${i}`)) }));
  }
  return out;
}

/** Reads the weights of a tfjs model per layer name (tfjs layer names are the Keras layer names of the lowering). */
export function weightsFromTfjs(model: LayersModel): KerasWeights {
  const out: KerasWeights = {};
  for (const layer of model.layers) {
    const ws = layer.getWeights();
    if (ws.length) out[layer.name] = ws.map((t) => ({ shape: [...t.shape], data: Float32Array.from(t.dataSync()) }));
  }
  return out;
}

function initTensor(w: WeightSpec, next: () => number): Float32Array {
  const n = w.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  switch (w.init) {
    case 'ones':
      return data.fill(1);
    case 'zeros':
      return data;
    case 'uniform':
      for (let i = 0; i < n; i++) data[i] = (next() * 2 - 1) * 0.05;
      return data;
    case 'glorot': {
      const [fanIn, fanOut] = fans(w.shape);
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < n; i++) data[i] = (next() * 2 - 1) * limit;
      return data;
    }
    case 'orthogonal':
      return orthogonal(w.shape[0], n / w.shape[0], next);
  }
}

/** Keras `compute_fans`. */
function fans(shape: number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  if (shape.length === 1) return [shape[0], shape[0]];
  if (shape.length === 2) return [shape[0], shape[1]];
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return [shape[shape.length - 2] * receptive, shape[shape.length - 1] * receptive];
}

/** mulberry32 seeded by the model seed and the tensor's name. */
function rng(seed: number, name: string): () => number {
  return mulberry32(seedFor(seed, name));
}

function spec(name: string, shape: number[], init: Init): WeightSpec {
  return { name, shape, init };
}

function lastDim(shape: Shape): number {
  return dimOf(shape[shape.length - 1]);
}

function dimOf(d: number | null | undefined): number {
  if (typeof d !== 'number') throw new Error('internal: weight shapes need known channel dimensions');
  return d;
}

function num(v: unknown): number {
  if (typeof v !== 'number') throw new Error(`internal: expected a resolved number, got ${JSON.stringify(v)}`);
  return v;
}

function nums(v: unknown): number[] {
  if (!Array.isArray(v)) throw new Error(`internal: expected a window tuple, got ${JSON.stringify(v)}`);
  return v.map(num);
}

/**
 * Puts Keras-layout weights into a tfjs model: the inverse of `weightsFromTfjs` (same keys, same order). Every layer
 * with weights needs an entry with exactly its tensors' shapes, and every entry must name such a layer; otherwise it
 * throws, before changing any weight. tfjs is required here only to make tensors; the model's caller has loaded it.
 */
export function setTfjsWeights(model: LayersModel, weights: KerasWeights): void {
  const owners = model.layers.filter((l) => l.weights.length > 0);
  const names = new Set(owners.map((l) => l.name));
  for (const key of Object.keys(weights)) {
    if (!names.has(key)) throw new Error(`setTfjsWeights: the model has no layer '${key}' with weights`);
  }
  for (const layer of owners) {
    const given = weights[layer.name];
    if (!given) throw new Error(`setTfjsWeights: no weights given for layer '${layer.name}'`);
    if (given.length !== layer.weights.length) {
      throw new Error(`setTfjsWeights: layer '${layer.name}' has ${layer.weights.length} weights, got ${given.length}`);
    }
    layer.weights.forEach((w, i) => {
      const want = w.shape as number[];
      const got = given[i];
      const size = want.reduce((a, b) => a * b, 1);
      if (want.length !== got.shape.length || want.some((d, j) => d !== got.shape[j]) || got.data.length !== size) {
        throw new Error(`setTfjsWeights: weight ${i} (${w.originalName}) of layer '${layer.name}' has shape [${want.join(', ')}], got [${got.shape.join(', ')}] with ${got.data.length} values`);
      }
    });
  }
  // Already in the module cache (the model came from it); importing it at the top would load tfjs for every user.
  const tf = require('@tensorflow/tfjs') as typeof import('@tensorflow/tfjs');
  for (const layer of owners) {
    const tensors = weights[layer.name].map((t) => tf.tensor(t.data, t.shape, 'float32'));
    layer.setWeights(tensors);
    tf.dispose(tensors);
  }
}
