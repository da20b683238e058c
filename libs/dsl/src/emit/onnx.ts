import { onnx } from 'onnx-proto';
import type { CheckedModel } from '../checked';
import { DiagnosticBag, DslError, diag, type Diagnostic } from '../diagnostics';
import { isLayer, type Dim, type LayerNode, type ModelNode, type Shape } from '../ir';
import { layerSpec } from '../layers';
import { reportUnresolvedHpo } from '../hpo';
import { initKerasWeights, kerasWeightOwners, transformerParts, TRANSFORMER_TYPES, type KerasWeights, type WeightTensor } from './weights';

export interface OnnxOptions {
  /** Keras-layout weights per layer name (e.g. from `weightsFromTfjs`); default: `initKerasWeights(checked, seed)`. */
  weights?: KerasWeights;
  seed?: number;
}

const FLOAT = 1;
const INT64 = 7;
const AT = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;
const MASK_NEG = -1e9;

/** Activations ONNX's recurrent operators accept, by Keras name. */
const RNN_ACTIVATIONS: Record<string, string> = { tanh: 'Tanh', relu: 'Relu', sigmoid: 'Sigmoid', softsign: 'Softsign', softplus: 'Softplus' };
const RECURRENT = new Set(['LSTM', 'LSTMCell', 'GRU', 'GRUCell', 'SimpleRNN', 'SimpleRNNDropoutWrapper']);
const PASS_THROUGH = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'SpatialDropout3D', 'GaussianNoise']);

/**
 * Translates a checked model into a serialized ONNX ModelProto (IR version 8, opset 13, default domain) with the
 * weights as initializers. Graph inputs are named like the model's inputs and take channels-last float32 tensors with
 * a symbolic batch dimension `N`; the single graph output is `output`. Convolutions run channels-first between
 * Transposes, so Keras kernels and Dense weights after Flatten are used unchanged in meaning.
 * Throws DslError (`unsupported_layer`) for layers ONNX cannot express, (`unresolved_hpo`) for hyperparameters left
 * unresolved, and (`weights`) for weights that do not fit.
 */
export function emitOnnx(checked: CheckedModel, opts: OnnxOptions = {}): Uint8Array {
  const bag = new DiagnosticBag();
  reportUnresolvedHpo(checked.model, bag);
  bag.throwIfErrors();
  findUnsupported(checked, checked.model.layers, bag);
  bag.throwIfErrors();
  const weights = opts.weights ?? initKerasWeights(checked, opts.seed ?? 0);
  checkWeights(checked, weights);
  return new OnnxEmitter(checked, weights).emit();
}

function findUnsupported(checked: CheckedModel, nodes: ModelNode[], bag: DiagnosticBag): void {
  for (const node of nodes) {
    if (node.kind === 'branch') {
      findUnsupported(checked, node.body, bag);
      continue;
    }
    const spec = layerSpec(node.type);
    if (node.custom || !spec) {
      bag.error('unsupported_layer', `Custom layer '${node.type}' cannot be emitted for the onnx backend: it has no defined computation`, node.loc);
      continue;
    }
    if (spec.category === 'opaque') {
      const why = node.type === 'Lambda' ? 'user code is never exported' : 'it has no defined computation';
      bag.error('unsupported_layer', `${node.type} layers cannot be emitted for the onnx backend: ${why}`, node.loc);
      continue;
    }
    if (RECURRENT.has(node.type)) {
      const act = node.params.activation ?? 'tanh';
      if (typeof act !== 'string' || !RNN_ACTIVATIONS[act]) {
        bag.error(
          'unsupported_layer',
          `${node.type} activation '${String(act)}' cannot be emitted for the onnx backend`,
          node.loc,
          `ONNX recurrent operators support ${Object.keys(RNN_ACTIVATIONS).join(', ')}`,
        );
      }
    }
    if (node.type === 'Dot') {
      const rank = checked.info.get(node.id)?.inputShapes[0].length;
      const axes = node.params.axes as number;
      if (rank !== 2 && !(rank === 3 && [1, 2, -1].includes(axes))) {
        bag.error('unsupported_layer', 'Dot can only be emitted for the onnx backend on rank-2 inputs, or rank-3 inputs with axes 1 or 2', node.loc);
      }
    }
    if (node.type === 'Embedding' && node.params.mask_zero === true) {
      bag.error('unsupported_layer', 'Embedding with mask_zero=true cannot be emitted for the onnx backend: ONNX has no masking', node.loc);
    }
    const inner = node.params.layer;
    if (isLayer(inner)) {
      if (node.type === 'Bidirectional' && !RECURRENT.has(inner.type)) {
        bag.error('unsupported_layer', `Bidirectional needs a recurrent layer, got ${inner.type}`, node.loc);
      } else findUnsupported(checked, [inner], bag);
    }
    if (node.type === 'ResidualConnection' || TRANSFORMER_TYPES.has(node.type)) findUnsupported(checked, node.sublayers, bag);
  }
}

function checkWeights(checked: CheckedModel, weights: KerasWeights): void {
  const errors: Diagnostic[] = [];
  for (const owner of kerasWeightOwners(checked)) {
    const given = weights[owner.key];
    const fits =
      given?.length === owner.weights.length &&
      owner.weights.every((w, i) => {
        const shape = given[i].shape;
        if (given[i].data.length !== size(shape)) return false;
        // A GRU trained with reset_after=false (the native tfjs GRU) has a single [3u] bias.
        const gruBias = w.name === 'bias' && w.shape.length === 2 && shape.length === 1 && shape[0] === w.shape[1];
        return gruBias || (shape.length === w.shape.length && shape.every((d, j) => d === w.shape[j]));
      });
    if (!fits) {
      const want = owner.weights.map((w) => `${w.name} [${w.shape.join(', ')}]`).join(', ');
      const got = given ? given.map((w) => `[${w.shape.join(', ')}]`).join(', ') : 'nothing';
      errors.push(diag('weights', `Weights for layer '${owner.key}' do not fit: expected ${want}, got ${got}`, owner.loc));
    }
  }
  if (errors.length) throw new DslError(errors);
}

/** A tensor of the graph: its Keras shape, and whether it is stored channels-first (ONNX axes [0, r-1, 1..r-2]). */
interface Tensor {
  name: string;
  shape: Shape;
  cf: boolean;
}

type Attr = onnx.IAttributeProto;
const attr = {
  i: (i: number): Attr => ({ type: AT.INT, i }),
  f: (f: number): Attr => ({ type: AT.FLOAT, f }),
  ints: (ints: number[]): Attr => ({ type: AT.INTS, ints }),
  s: (s: string): Attr => ({ type: AT.STRING, s: new TextEncoder().encode(s) }),
  strs: (a: string[]): Attr => ({ type: AT.STRINGS, strings: a.map((s) => new TextEncoder().encode(s)) }),
};

class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private readonly used = new Set<string>();
  private readonly consts = new Map<string, string>();

  constructor(reserved: string[]) {
    for (const r of reserved) this.used.add(r);
  }

  fresh(hint: string): string {
    let name = hint;
    for (let i = 1; this.used.has(name); i++) name = `${hint}_${i}`;
    this.used.add(name);
    return name;
  }

  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}, hint = type.toLowerCase(), outputs = 1): string[] {
    const name = this.fresh(hint);
    const out = outputs === 1 ? [name] : Array.from({ length: outputs }, (_, i) => this.fresh(`${name}_${i}`));
    const attribute = Object.entries(attrs).map(([n, a]) => ({ ...a, name: n }));
    this.nodes.push({ opType: type, name, input: inputs, output: out, attribute });
    return out;
  }

  op1(type: string, inputs: string[], attrs: Record<string, Attr> = {}, hint?: string): string {
    return this.op(type, inputs, attrs, hint)[0];
  }

  f32(hint: string, dims: number[], data: Float32Array): string {
    const name = this.fresh(hint);
    const raw = new Uint8Array(data.byteLength);
    new Float32Array(raw.buffer).set(data);
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: raw });
    return name;
  }

  scalar(v: number): string {
    return this.cached(`f:${v}`, () => this.f32('const', [], Float32Array.of(v)));
  }

  i64(values: number[], dims: number[] = [values.length]): string {
    return this.cached(`i:${dims.join('x')}:${values.join(',')}`, () => {
      const name = this.fresh('const');
      const raw = new Uint8Array(values.length * 8);
      new BigInt64Array(raw.buffer).set(values.map((v) => BigInt(v)));
      this.initializers.push({ name, dims, dataType: INT64, rawData: raw });
      return name;
    });
  }

  private cached(key: string, make: () => string): string {
    let name = this.consts.get(key);
    if (!name) this.consts.set(key, (name = make()));
    return name;
  }
}

class OnnxEmitter {
  private readonly g: GraphBuilder;
  private readonly inputs: Tensor[];
  private readonly layouts = new Map<string, Tensor>();

  constructor(
    private readonly checked: CheckedModel,
    private readonly weights: KerasWeights,
  ) {
    this.inputs = checked.model.inputs.map((i) => ({ name: i.name, shape: i.shape, cf: false }));
    this.g = new GraphBuilder(['output', ...this.inputs.map((t) => t.name)]);
  }

  emit(): Uint8Array {
    const model = this.checked.model;
    this.nameOutput(this.toCl(this.seq(model.layers, this.inputs[0])));
    const proto = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      producerName: 'neural-dsl',
      graph: {
        name: model.name,
        node: this.g.nodes,
        initializer: this.g.initializers,
        input: this.inputs.map((t) => valueInfo(t.name, t.shape)),
        output: [valueInfo('output', this.checked.outputShape)],
      },
    });
    return onnx.ModelProto.encode(proto).finish();
  }

  private nameOutput(t: Tensor): void {
    const producer = this.g.nodes.find((n) => n.output?.includes(t.name));
    const consumed = this.g.nodes.some((n) => n.input?.includes(t.name));
    if (producer && !consumed) {
      producer.output = producer.output!.map((o) => (o === t.name ? 'output' : o));
    } else {
      this.g.nodes.push({ opType: 'Identity', name: this.g.fresh('identity'), input: [t.name], output: ['output'] });
    }
  }

  /** A layer sequence with the checker's branch semantics: pending branches are combined by the next merge layer. */
  private seq(nodes: ModelNode[], start: Tensor): Tensor {
    let cur = start;
    let pending: Tensor[] = [];
    for (const node of nodes) {
      if (node.kind === 'branch') {
        const from = this.inputs.find((t) => t.name === node.name) ?? cur;
        pending.push(this.seq(node.body, from));
        continue;
      }
      if (pending.length) {
        cur = this.merge(node, pending.length === 1 ? [cur, pending[0]] : pending);
        pending = [];
        continue;
      }
      cur = this.layer(node, cur, node.id, this.outShape(node));
    }
    if (pending.length) throw new Error('internal: branches without a merge layer');
    return cur;
  }

  private outShape(node: LayerNode): Shape {
    const info = this.checked.info.get(node.id);
    if (!info) throw new Error(`internal: no shape information for layer '${node.id}'`);
    return info.outputShape;
  }

  private w(key: string): WeightTensor[] {
    const w = this.weights[key];
    if (!w) throw new Error(`internal: no weights for '${key}'`);
    return w;
  }

  private layer(node: LayerNode, x: Tensor, key: string, out: Shape): Tensor {
    const p = node.params;
    const t = node.type;
    if (PASS_THROUGH.has(t)) return x;
    if (t === 'Dense' || t === 'Output') {
      const [kernel, bias] = this.w(key);
      return this.activate(this.dense(x, kernel, bias, key), p.activation);
    }
    if (t === 'Activation') return this.activate(x, p.function, p.alpha);
    if (t === 'Flatten') return this.make(this.g.op1('Flatten', [this.toCl(x).name], { axis: attr.i(1) }, key), out, false);
    if (t === 'Reshape') {
      const target = this.g.i64([0, ...(p.target_shape as number[])]);
      return this.make(this.g.op1('Reshape', [this.toCl(x).name, target], {}, key), out, false);
    }
    if (['Conv1D', 'Conv2D', 'Conv3D', 'Conv2DTranspose', 'SeparableConv2D', 'DepthwiseConv2D'].includes(t)) return this.conv(node, x, key, out);
    if (/^(Max|Average)Pooling[123]D$/.test(t)) return this.pool(node, x, key, out);
    if (/^Global(Max|Average)Pooling[123]D$/.test(t)) {
      const max = t.startsWith('GlobalMax');
      if (x.cf) {
        const pooled = this.g.op1(max ? 'GlobalMaxPool' : 'GlobalAveragePool', [x.name], {}, key);
        return this.make(this.g.op1('Flatten', [pooled], { axis: attr.i(1) }), out, false);
      }
      const axes = x.shape.slice(1, -1).map((_, i) => i + 1);
      return this.make(this.g.op1(max ? 'ReduceMax' : 'ReduceMean', [x.name], { axes: attr.ints(axes), keepdims: attr.i(0) }, key), out, false);
    }
    if (t === 'BatchNormalization') return this.batchNorm(node, x, key);
    if (t === 'LayerNormalization') {
      const axis = this.onnxAxis(x, p.axis as number);
      const ws = this.w(key);
      const gamma = p.scale === false ? undefined : ws[0];
      const beta = p.center === false ? undefined : ws[p.scale === false ? 0 : 1];
      return this.layerNorm(x, axis, gamma, beta, p.epsilon as number, key);
    }
    if (t === 'GroupNormalization' || t === 'InstanceNormalization') return this.groupNorm(node, x, key);
    if (t === 'Embedding') {
      const [table] = this.w(key);
      const ids = this.g.op1('Cast', [this.toCl(x).name], { to: attr.i(INT64) });
      const W = this.g.f32(`${key}/embeddings`, table.shape, table.data);
      return this.make(this.g.op1('Gather', [W, ids], { axis: attr.i(0) }, key), out, false);
    }
    if (RECURRENT.has(t)) return this.recurrent(node, x, this.w(key), 'forward', 'concat', key, out);
    if (t === 'Bidirectional') {
      const inner = p.layer as LayerNode;
      return this.recurrent(inner, x, this.w(key), 'bidirectional', p.merge_mode as string, key, out);
    }
    if (t === 'TimeDistributed') return this.timeDistributed(p.layer as LayerNode, x, key, out);
    if (t === 'ResidualConnection') {
      const y = this.seq(node.sublayers, x);
      return this.merge({ ...node, type: 'Add' }, [x, y]);
    }
    if (t === 'MultiHeadAttention') return this.mha(this.toCl(x), this.w(key), p.num_heads as number, p.key_dim as number, false, key);
    if (t === 'Attention') return this.attention(node, x, key);
    if (TRANSFORMER_TYPES.has(t)) return this.transformer(node, x);
    if (layerSpec(t)?.category === 'merge') throw new Error(`internal: ${t} '${node.id}' has nothing to merge`);
    throw new Error(`internal: no ONNX lowering for ${t}`);
  }

  private make(name: string, shape: Shape, cf: boolean): Tensor {
    return { name, shape, cf: cf && shape.length >= 3 };
  }

  private onnxAxis(x: Tensor, kerasAxis: number): number {
    const r = x.shape.length;
    const a = kerasAxis < 0 ? r + kerasAxis : kerasAxis;
    if (!x.cf || a === 0) return a;
    return a === r - 1 ? 1 : a + 1;
  }

  private toCf(x: Tensor): Tensor {
    const r = x.shape.length;
    if (x.cf || r < 3) return x;
    return this.relayout(x, true, [0, r - 1, ...range(1, r - 1)]);
  }

  private toCl(x: Tensor): Tensor {
    const r = x.shape.length;
    if (!x.cf) return x;
    return this.relayout(x, false, [0, ...range(2, r), 1]);
  }

  private relayout(x: Tensor, cf: boolean, perm: number[]): Tensor {
    const key = `${x.name}:${cf}`;
    let t = this.layouts.get(key);
    if (!t) {
      t = { name: this.g.op1('Transpose', [x.name], { perm: attr.ints(perm) }, `${x.name}_${cf ? 'nchw' : 'nhwc'}`), shape: x.shape, cf };
      this.layouts.set(key, t);
      this.layouts.set(`${t.name}:${!cf}`, x);
    }
    return t;
  }

  private activate(x: Tensor, act: unknown, alpha?: unknown): Tensor {
    if (act === null || act === undefined || act === 'linear') return x;
    if (typeof act !== 'string') throw new Error(`internal: activation ${JSON.stringify(act)}`);
    const g = this.g;
    const one = (op: string, attrs: Record<string, Attr> = {}) => g.op1(op, [x.name], attrs);
    let y: string;
    switch (act) {
      case 'relu':
      case 'sigmoid':
      case 'tanh':
      case 'softplus':
      case 'softsign':
      case 'selu':
        y = one(act[0].toUpperCase() + act.slice(1));
        break;
      case 'softmax':
        y = one('Softmax', { axis: attr.i(this.onnxAxis(x, -1)) });
        break;
      case 'elu':
        y = one('Elu', { alpha: attr.f(typeof alpha === 'number' ? alpha : 1) });
        break;
      case 'exponential':
        y = one('Exp');
        break;
      case 'leaky_relu':
        y = one('LeakyRelu', { alpha: attr.f(typeof alpha === 'number' ? alpha : 0.2) });
        break;
      case 'hard_sigmoid':
        // Keras 3: relu6(x + 3) / 6.
        y = one('HardSigmoid', { alpha: attr.f(1 / 6), beta: attr.f(0.5) });
        break;
      case 'gelu': {
        const erf = g.op1('Erf', [g.op1('Div', [x.name, g.scalar(Math.SQRT2)])]);
        y = g.op1('Mul', [x.name, g.op1('Mul', [g.scalar(0.5), g.op1('Add', [erf, g.scalar(1)])])]);
        break;
      }
      case 'swish':
      case 'silu':
        y = g.op1('Mul', [x.name, one('Sigmoid')]);
        break;
      case 'mish':
        y = g.op1('Mul', [x.name, g.op1('Tanh', [one('Softplus')])]);
        break;
      default:
        throw new Error(`internal: unknown activation ${String(act)}`);
    }
    return { ...x, name: y };
  }

  /** Keras Dense on the last axis: Gemm on rank 2, MatMul + Add above. */
  private dense(x: Tensor, kernel: WeightTensor, bias: WeightTensor | undefined, key: string): Tensor {
    x = this.toCl(x);
    const units = kernel.shape[1];
    const W = this.g.f32(`${key}/kernel`, kernel.shape, kernel.data);
    const B = bias && this.g.f32(`${key}/bias`, [units], bias.data);
    const shape = [...x.shape.slice(0, -1), units];
    if (x.shape.length === 2) return this.make(this.g.op1('Gemm', B ? [x.name, W, B] : [x.name, W], {}, key), shape, false);
    const y = this.g.op1('MatMul', [x.name, W], {}, B ? `${key}_matmul` : key);
    return this.make(B ? this.g.op1('Add', [y, B], {}, key) : y, shape, false);
  }

  private conv(node: LayerNode, x: Tensor, key: string, out: Shape): Tensor {
    const p = node.params;
    const t = node.type;
    x = this.toCf(x);
    const ws = this.w(key);
    const k = p.kernel_size as number[];
    const strides = p.strides as number[];
    const dil = (p.dilation_rate as number[] | undefined) ?? k.map(() => 1);
    const cin = x.shape[x.shape.length - 1] as number;
    const spatial = x.shape.slice(1, -1);
    const padding = p.padding as string;
    const bias = p.use_bias === false ? undefined : ws[ws.length - 1];
    let y: string;
    if (t === 'Conv2DTranspose') {
      const f = p.filters as number;
      const W = this.g.f32(`${key}/kernel`, [cin, f, ...k], permute(ws[0].data, ws[0].shape, [3, 2, 0, 1]));
      const B = bias && this.g.f32(`${key}/bias`, [f], bias.data);
      // Keras output length: d*s for 'same', d*s + max(k - s, 0) for 'valid'.
      const total = k.map((kk, i) => (padding === 'same' ? Math.max(kk - strides[i], 0) : 0));
      const begin = total.map((tt) => Math.floor(tt / 2));
      const attrs = {
        kernel_shape: attr.ints(k),
        strides: attr.ints(strides),
        pads: attr.ints([...begin, ...total.map((tt, i) => tt - begin[i])]),
        output_padding: attr.ints(k.map((kk, i) => Math.max(strides[i] - kk, 0))),
      };
      y = this.g.op1('ConvTranspose', B ? [x.name, W, B] : [x.name, W], attrs, key);
      return this.activate(this.make(y, out, true), p.activation);
    }
    const convAttrs = (kernel: number[], group: number): Record<string, Attr> => ({
      kernel_shape: attr.ints(kernel),
      strides: attr.ints(strides),
      dilations: attr.ints(dil),
      group: attr.i(group),
      ...padAttrs(padding, spatial, kernel, strides, dil),
    });
    if (t === 'SeparableConv2D' || t === 'DepthwiseConv2D') {
      const [kh, kw, , dm] = ws[0].shape;
      const dw = this.g.f32(`${key}/depthwise_kernel`, [cin * dm, 1, kh, kw], permute(ws[0].data, [kh, kw, cin * dm], [2, 0, 1]));
      if (t === 'DepthwiseConv2D') {
        const B = bias && this.g.f32(`${key}/bias`, [cin * dm], bias.data);
        y = this.g.op1('Conv', B ? [x.name, dw, B] : [x.name, dw], convAttrs(k, cin), key);
      } else {
        const f = p.filters as number;
        const mid = this.g.op1('Conv', [x.name, dw], convAttrs(k, cin), `${key}_depthwise`);
        const pw = this.g.f32(`${key}/pointwise_kernel`, [f, cin * dm, 1, 1], permute(ws[1].data, ws[1].shape, [3, 2, 0, 1]));
        const B = bias && this.g.f32(`${key}/bias`, [f], bias.data);
        const attrs = { kernel_shape: attr.ints([1, 1]), strides: attr.ints([1, 1]), pads: attr.ints([0, 0, 0, 0]) };
        y = this.g.op1('Conv', B ? [mid, pw, B] : [mid, pw], attrs, key);
      }
    } else {
      const f = p.filters as number;
      const r = k.length;
      const W = this.g.f32(`${key}/kernel`, [f, cin, ...k], permute(ws[0].data, ws[0].shape, [r + 1, r, ...range(0, r)]));
      const B = bias && this.g.f32(`${key}/bias`, [f], bias.data);
      y = this.g.op1('Conv', B ? [x.name, W, B] : [x.name, W], convAttrs(k, 1), key);
    }
    return this.activate(this.make(y, out, true), p.activation);
  }

  private pool(node: LayerNode, x: Tensor, key: string, out: Shape): Tensor {
    const p = node.params;
    x = this.toCf(x);
    const size = p.pool_size as number[];
    const strides = (p.strides as number[] | undefined) ?? size;
    const attrs: Record<string, Attr> = {
      kernel_shape: attr.ints(size),
      strides: attr.ints(strides),
      ...padAttrs(p.padding as string, x.shape.slice(1, -1), size, strides, size.map(() => 1)),
    };
    const max = node.type.startsWith('Max');
    if (!max) attrs.count_include_pad = attr.i(0);
    return this.make(this.g.op1(max ? 'MaxPool' : 'AveragePool', [x.name], attrs, key), out, true);
  }

  private batchNorm(node: LayerNode, x: Tensor, key: string): Tensor {
    const p = node.params;
    const ws = [...this.w(key)];
    const r = x.shape.length;
    const axis = (p.axis as number) < 0 ? r + (p.axis as number) : (p.axis as number);
    const c = x.shape[axis] as number;
    const gamma = p.scale === false ? new Float32Array(c).fill(1) : ws.shift()!.data;
    const beta = p.center === false ? new Float32Array(c) : ws.shift()!.data;
    const [mean, variance] = ws.map((w) => w.data);
    const eps = p.epsilon as number;
    if (axis === r - 1) {
      x = this.toCf(x);
      const ins = [x.name, ...[gamma, beta, mean, variance].map((d, i) => this.g.f32(`${key}/${['gamma', 'beta', 'moving_mean', 'moving_variance'][i]}`, [c], d))];
      return { ...x, name: this.g.op1('BatchNormalization', ins, { epsilon: attr.f(eps) }, key) };
    }
    // Normalising another axis: fold the statistics into one multiply-add broadcast along that axis.
    const scale = new Float32Array(c);
    const shift = new Float32Array(c);
    for (let i = 0; i < c; i++) {
      scale[i] = gamma[i] / Math.sqrt(variance[i] + eps);
      shift[i] = beta[i] - mean[i] * scale[i];
    }
    const dims = broadcastDims(r, this.onnxAxis(x, axis), c);
    const y = this.g.op1('Mul', [x.name, this.g.f32(`${key}/scale`, dims, scale)]);
    return { ...x, name: this.g.op1('Add', [y, this.g.f32(`${key}/shift`, dims, shift)], {}, key) };
  }

  /** (x - mean) / sqrt(var + eps) over one ONNX axis, then gamma/beta broadcast along it. */
  private layerNorm(x: Tensor, axis: number, gamma: WeightTensor | undefined, beta: WeightTensor | undefined, eps: number, key: string): Tensor {
    const g = this.g;
    const axes = { axes: attr.ints([axis]), keepdims: attr.i(1) };
    const centered = g.op1('Sub', [x.name, g.op1('ReduceMean', [x.name], axes)]);
    const variance = g.op1('ReduceMean', [g.op1('Mul', [centered, centered])], axes);
    let y = g.op1('Div', [centered, g.op1('Sqrt', [g.op1('Add', [variance, g.scalar(eps)])])]);
    y = this.affine(y, x, axis, gamma, beta, key);
    return { ...x, name: y };
  }

  private groupNorm(node: LayerNode, x: Tensor, key: string): Tensor {
    const p = node.params;
    const g = this.g;
    x = this.toCf(x);
    const c = x.shape[x.shape.length - 1] as number;
    const groups = node.type === 'InstanceNormalization' || (p.groups as number) === -1 ? c : (p.groups as number);
    const ws = [...this.w(key)];
    const gamma = p.scale === false ? undefined : ws.shift();
    const beta = p.center === false ? undefined : ws.shift();
    const grouped = g.op1('Reshape', [x.name, g.i64([0, groups, -1])]);
    const axes = { axes: attr.ints([2]), keepdims: attr.i(1) };
    const centered = g.op1('Sub', [grouped, g.op1('ReduceMean', [grouped], axes)]);
    const variance = g.op1('ReduceMean', [g.op1('Mul', [centered, centered])], axes);
    const normed = g.op1('Div', [centered, g.op1('Sqrt', [g.op1('Add', [variance, g.scalar(p.epsilon as number)])])]);
    const y = g.op1('Reshape', [normed, g.op1('Shape', [x.name])]);
    return { ...x, name: this.affine(y, x, 1, gamma, beta, key) };
  }

  private affine(y: string, x: Tensor, axis: number, gamma: WeightTensor | undefined, beta: WeightTensor | undefined, key: string): string {
    const r = x.shape.length;
    if (gamma) y = this.g.op1('Mul', [y, this.g.f32(`${key}/gamma`, broadcastDims(r, axis, gamma.data.length), gamma.data)]);
    if (beta) y = this.g.op1('Add', [y, this.g.f32(`${key}/beta`, broadcastDims(r, axis, beta.data.length), beta.data)], {}, key);
    return y;
  }

  /** LSTM/GRU/SimpleRNN (and their cells) via the ONNX recurrent ops, one or both directions. */
  private recurrent(node: LayerNode, x: Tensor, ws: WeightTensor[], direction: 'forward' | 'bidirectional', mergeMode: string, key: string, out: Shape): Tensor {
    const g = this.g;
    const p = node.params;
    const u = p.units as number;
    const dirs = direction === 'bidirectional' ? 2 : 1;
    const per = ws.length / dirs;
    const kind = node.type.startsWith('LSTM') ? 'LSTM' : node.type.startsWith('GRU') ? 'GRU' : 'RNN';
    const gates = kind === 'LSTM' ? 4 : kind === 'GRU' ? 3 : 1;
    // Keras LSTM gates are i,f,c,o; ONNX wants i,o,f,c. GRU z,r,h and the single RNN gate already agree.
    const order = kind === 'LSTM' ? [0, 3, 1, 2] : range(0, gates);
    const seq = this.g.op1('Transpose', [this.toCl(x).name], { perm: attr.ints([1, 0, 2]) });
    const input = x.shape[2] as number;
    const W: Float32Array[] = [];
    const R: Float32Array[] = [];
    const B: Float32Array[] = [];
    let resetAfter = true;
    for (let d = 0; d < dirs; d++) {
      const [kernel, recurrent, bias] = ws.slice(d * per, (d + 1) * per);
      W.push(gateRows(permute(kernel.data, [input, gates * u], [1, 0]), order, u * input));
      R.push(gateRows(permute(recurrent.data, [u, gates * u], [1, 0]), order, u * u));
      const b = new Float32Array(2 * gates * u);
      if (bias) {
        if (kind === 'GRU' && bias.data.length === 2 * gates * u) b.set(bias.data);
        else {
          b.set(gateRows(bias.data, order, u));
          if (kind === 'GRU') resetAfter = false;
        }
      }
      B.push(b);
    }
    const act = RNN_ACTIVATIONS[(p.activation as string | undefined) ?? 'tanh'];
    const acts = kind === 'LSTM' ? ['Sigmoid', act, act] : kind === 'GRU' ? ['Sigmoid', act] : [act];
    const attrs: Record<string, Attr> = {
      hidden_size: attr.i(u),
      direction: attr.s(direction),
      activations: attr.strs(Array.from({ length: dirs }, () => acts).flat()),
    };
    if (kind === 'GRU') attrs.linear_before_reset = attr.i(resetAfter ? 1 : 0);
    const inputs = [
      seq,
      g.f32(`${key}/W`, [dirs, gates * u, input], concat(W)),
      g.f32(`${key}/R`, [dirs, gates * u, u], concat(R)),
      g.f32(`${key}/B`, [dirs, 2 * gates * u], concat(B)),
    ];
    const [Y, Yh] = g.op(kind, inputs, attrs, key, 2);
    const sequences = p.return_sequences === true;
    // Y is [t, dirs, b, u], Y_h is [dirs, b, u]: move the batch first, then combine the directions.
    const moved = sequences ? g.op1('Transpose', [Y], { perm: attr.ints([2, 0, 1, 3]) }) : g.op1('Transpose', [Yh], { perm: attr.ints([1, 0, 2]) });
    const dirAxis = sequences ? 2 : 1;
    let y: string;
    if (mergeMode === 'concat' || dirs === 1) y = g.op1('Reshape', [moved, g.i64(sequences ? [0, 0, -1] : [0, -1])]);
    else if (mergeMode === 'sum') y = g.op1('ReduceSum', [moved, g.i64([dirAxis])], { keepdims: attr.i(0) });
    else y = g.op1(mergeMode === 'mul' ? 'ReduceProd' : 'ReduceMean', [moved], { axes: attr.ints([dirAxis]), keepdims: attr.i(0) });
    return this.make(y, out, false);
  }

  /** Applies the inner layer to every time step by folding time into the batch. */
  private timeDistributed(inner: LayerNode, x: Tensor, key: string, out: Shape): Tensor {
    const g = this.g;
    x = this.toCl(x);
    const rest = x.shape.slice(2);
    if (rest.some((d) => d === null)) throw new Error('internal: TimeDistributed needs known per-step dimensions');
    const folded = this.make(g.op1('Reshape', [x.name, g.i64([-1, ...(rest as number[])])]), [null, ...rest], false);
    const outRest = out.slice(2) as number[];
    const y = this.toCl(this.layer(inner, folded, key, [null, ...outRest]));
    let shape: string;
    if (typeof x.shape[1] === 'number') shape = g.i64([-1, x.shape[1], ...outRest]);
    else {
      const batchTime = g.op1('Slice', [g.op1('Shape', [x.name]), g.i64([0]), g.i64([2])]);
      shape = g.op1('Concat', [batchTime, g.i64(outRest)], { axis: attr.i(0) });
    }
    return this.make(g.op1('Reshape', [y.name, shape], {}, key), out, false);
  }

  private merge(node: LayerNode, ins: Tensor[]): Tensor {
    const g = this.g;
    const key = node.id;
    const out = this.outShapeOr(node, ins[0].shape);
    const xs = ins.every((t) => t.cf) ? ins : ins.map((t) => this.toCl(t));
    const names = xs.map((t) => t.name);
    const cf = xs[0].cf;
    const chain = (op: string) => names.slice(1).reduce((acc, n, i) => g.op1(op, [acc, n], {}, i === names.length - 2 ? key : undefined), names[0]);
    switch (node.type) {
      case 'Add':
        return this.make(g.op1('Sum', names, {}, key), out, cf);
      case 'Subtract':
        return this.make(g.op1('Sub', names, {}, key), out, cf);
      case 'Multiply':
        return this.make(chain('Mul'), out, cf);
      case 'Average':
        return this.make(g.op1('Mean', names, {}, key), out, cf);
      case 'Maximum':
        return this.make(g.op1('Max', names, {}, key), out, cf);
      case 'Minimum':
        return this.make(g.op1('Min', names, {}, key), out, cf);
      case 'Concatenate':
        return this.make(g.op1('Concat', names, { axis: attr.i(this.onnxAxis(xs[0], node.params.axis as number)) }, key), out, cf);
      case 'Dot':
        return this.dot(node, xs, out);
      default:
        throw new Error(`internal: ${node.type} '${node.id}' is not a merge layer`);
    }
  }

  private outShapeOr(node: LayerNode, fallback: Shape): Shape {
    return this.checked.info.get(node.id)?.outputShape ?? fallback;
  }

  /** Keras Dot (batch_dot) on rank-2 or rank-3 inputs. */
  private dot(node: LayerNode, xs: Tensor[], out: Shape): Tensor {
    const g = this.g;
    const r = xs[0].shape.length;
    const axesParam = node.params.axes as number;
    const axis = axesParam < 0 ? r + axesParam : axesParam;
    let [a, b] = xs.map((t) => t.name);
    if (node.params.normalize === true) {
      const l2 = (n: string) => {
        const ss = g.op1('ReduceSum', [g.op1('Mul', [n, n]), g.i64([axis])], { keepdims: attr.i(1) });
        return g.op1('Mul', [n, g.op1('Reciprocal', [g.op1('Sqrt', [g.op1('Max', [ss, g.scalar(1e-12)])])])]);
      };
      a = l2(a);
      b = l2(b);
    }
    if (r === 2) return this.make(g.op1('ReduceSum', [g.op1('Mul', [a, b]), g.i64([1])], { keepdims: attr.i(1) }, node.id), out, false);
    const tr = (n: string) => g.op1('Transpose', [n], { perm: attr.ints([0, 2, 1]) });
    const y = axis === 2 ? g.op1('MatMul', [a, tr(b)], {}, node.id) : g.op1('MatMul', [tr(a), b], {}, node.id);
    return this.make(y, out, false);
  }

  /** Keras MultiHeadAttention self-attention, `mha(x, x)`, with q/k/v/output projections. */
  private mha(x: Tensor, ws: WeightTensor[], h: number, kd: number, causal: boolean, key: string): Tensor {
    const g = this.g;
    const d = x.shape[2] as number;
    const heads = (i: number, name: string, perm: number[]) => {
      const W = g.f32(`${key}/${name}/kernel`, [d, h * kd], ws[i].data);
      const B = g.f32(`${key}/${name}/bias`, [h * kd], ws[i + 1].data);
      const y = g.op1('Add', [g.op1('MatMul', [x.name, W]), B]);
      return g.op1('Transpose', [g.op1('Reshape', [y, g.i64([0, 0, h, kd])])], { perm: attr.ints(perm) });
    };
    const q = g.op1('Mul', [heads(0, 'query', [0, 2, 1, 3]), g.scalar(1 / Math.sqrt(kd))]);
    const k = heads(2, 'key', [0, 2, 3, 1]);
    const v = heads(4, 'value', [0, 2, 1, 3]);
    let scores = g.op1('MatMul', [q, k]);
    if (causal) scores = g.op1('Add', [scores, this.causalMask(x)]);
    const attn = g.op1('MatMul', [g.op1('Softmax', [scores], { axis: attr.i(-1) }), v]);
    const merged = g.op1('Reshape', [g.op1('Transpose', [attn], { perm: attr.ints([0, 2, 1, 3]) }), g.i64([0, 0, h * kd])]);
    const Wo = g.f32(`${key}/attention_output/kernel`, [h * kd, d], ws[6].data);
    const Bo = g.f32(`${key}/attention_output/bias`, [d], ws[7].data);
    return this.make(g.op1('Add', [g.op1('MatMul', [merged, Wo]), Bo], {}, key), x.shape, false);
  }

  /** Keras dot-product Attention()([x, x]), optionally scaled and causal. */
  private attention(node: LayerNode, x: Tensor, key: string): Tensor {
    const g = this.g;
    x = this.toCl(x);
    let scores = g.op1('MatMul', [x.name, g.op1('Transpose', [x.name], { perm: attr.ints([0, 2, 1]) })]);
    if (node.params.use_scale === true) {
      const [scale] = this.w(key);
      scores = g.op1('Mul', [scores, g.f32(`${key}/scale`, [], scale.data)]);
    }
    if (node.params.causal === true) scores = g.op1('Add', [scores, this.causalMask(x)]);
    const y = g.op1('MatMul', [g.op1('Softmax', [scores], { axis: attr.i(-1) }), x.name], {}, key);
    return this.make(y, x.shape, false);
  }

  /** [t, t] additive mask: 0 on and below the diagonal, -1e9 above (like Keras' masked softmax). */
  private causalMask(x: Tensor): string {
    const g = this.g;
    const t = g.op1('Gather', [g.op1('Shape', [x.name]), g.i64([1], [])], { axis: attr.i(0) });
    const steps = g.op1('Range', [g.i64([0], []), t, g.i64([1], [])]);
    const rows = g.op1('Unsqueeze', [steps, g.i64([1])]);
    const cols = g.op1('Unsqueeze', [steps, g.i64([0])]);
    const future = g.op1('Cast', [g.op1('Greater', [cols, rows])], { to: attr.i(FLOAT) });
    return g.op1('Mul', [future, g.scalar(MASK_NEG)]);
  }

  /** Post-norm encoder block: x = LN(x + MHA(x, x)); x = LN(x + FFN(x)). The decoder adds a causal mask. */
  private transformer(node: LayerNode, x: Tensor): Tensor {
    const g = this.g;
    const p = node.params;
    const parts = transformerParts(node.id);
    x = this.toCl(x);
    const d = x.shape[2] as number;
    const h = p.num_heads as number;
    const eps = p.epsilon as number;
    const norm = (t: Tensor, key: string) => {
      const [gamma, beta] = this.w(key);
      return this.layerNorm(t, 2, gamma, beta, eps, key);
    };
    const attn = this.mha(x, this.w(parts.mha), h, d / h, node.type === 'TransformerDecoder', parts.mha);
    const x1 = norm(this.make(g.op1('Add', [x.name, attn.name]), x.shape, false), parts.ln1);
    let ff: Tensor;
    if (node.sublayers.length) ff = this.toCl(this.seq(node.sublayers, x1));
    else {
      const [k1, b1] = this.w(parts.ffn1);
      const [k2, b2] = this.w(parts.ffn2);
      ff = this.dense(this.activate(this.dense(x1, k1, b1, parts.ffn1), 'relu'), k2, b2, parts.ffn2);
    }
    return norm(this.make(g.op1('Add', [x1.name, ff.name]), x.shape, false), parts.ln2);
  }
}

function padAttrs(padding: string, spatial: Dim[], k: number[], s: number[], dil: number[]): Record<string, Attr> {
  if (padding !== 'same') return { pads: attr.ints(k.flatMap(() => [0, 0])) };
  if (spatial.some((d) => d === null)) return { auto_pad: attr.s('SAME_UPPER') };
  // TensorFlow 'same': the odd pixel of padding goes at the end.
  const begin: number[] = [];
  const end: number[] = [];
  spatial.forEach((d, i) => {
    const n = d as number;
    const total = Math.max((Math.ceil(n / s[i]) - 1) * s[i] + (k[i] - 1) * dil[i] + 1 - n, 0);
    begin.push(Math.floor(total / 2));
    end.push(total - Math.floor(total / 2));
  });
  return { pads: attr.ints([...begin, ...end]) };
}

function valueInfo(name: string, shape: Shape): onnx.IValueInfoProto {
  const dim = shape.map((d, i) => (i === 0 ? { dimParam: 'N' } : d === null ? {} : { dimValue: d }));
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim } } } };
}

/** Row-major transpose of `data` with the given shape. */
function permute(data: Float32Array, shape: number[], perm: number[]): Float32Array {
  const r = shape.length;
  const stride = new Array<number>(r);
  for (let i = r - 1, s = 1; i >= 0; s *= shape[i], i--) stride[i] = s;
  const outShape = perm.map((q) => shape[q]);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(r).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let k = 0; k < r; k++) src += idx[k] * stride[perm[k]];
    out[o] = data[src];
    for (let k = r - 1; k >= 0; k--) {
      if (++idx[k] < outShape[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

/** Reorders equal blocks of `data`: block j of the result is block order[j] of the input. */
function gateRows(data: Float32Array, order: number[], block: number): Float32Array {
  const out = new Float32Array(data.length);
  order.forEach((from, to) => out.set(data.subarray(from * block, (from + 1) * block), to * block));
  return out;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of parts) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

/** Dims of a per-channel constant that broadcasts along `axis` of a rank-`rank` tensor (batch axis excluded). */
function broadcastDims(rank: number, axis: number, n: number): number[] {
  return Array.from({ length: rank - axis }, (_, i) => (i === 0 ? n : 1));
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
