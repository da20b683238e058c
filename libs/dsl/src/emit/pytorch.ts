/**
 * The PyTorch backend: a checked model becomes a standalone Python module (torch only) holding the network as an
 * `nn.Module` with exactly the Keras semantics of the DSL: it takes and returns channels-last tensors, permutes to
 * channels-first only around runs of conv/pool/norm layers and back before Flatten/Dense/Reshape (so the flatten
 * order is Keras' HWC and Dense kernels transfer between backends), pads 'same' like TensorFlow, and counts exactly
 * the parameters the checker's torch flavour predicts. The training script runs only under `__main__`.
 * Every DSL string reaches the output through `pyStr`/`pyValue`; layer ids through `pyIdent`.
 */
import type { CheckedModel } from '../checked';
import { DiagnosticBag } from '../diagnostics';
import { isCall, isLayer, type CallValue, type LayerNode, type ModelIR, type ModelNode, type Shape, type Value } from '../ir';
import { COMMON_OPTIMIZER_ARGS, KERAS_LOSSES, layerSpec } from '../layers';
import { pyIdent, pyNum, pyStr, pyValue } from './python';
import { reportUnresolvedHpo } from '../hpo';

export interface PytorchOptions {
  /** Dataset the script trains on when run without --data or --dataset: MNIST, FashionMNIST, CIFAR10 or CIFAR100. */
  dataset?: string;
}

/** torchvision datasets by normalised name (lowercase, punctuation dropped). */
const DATASETS: Record<string, string> = { mnist: 'MNIST', fashionmnist: 'FashionMNIST', cifar10: 'CIFAR10', cifar100: 'CIFAR100' };

/** A tensor of the generated `forward()`: its variable, rank with the batch axis, and whether it is channels-first. */
interface Tensor {
  v: string;
  rank: number;
  cf: boolean;
}

/** The shapes a layer sees (batch axis first); wrapped layers get them from their wrapper. */
interface Io {
  in: Shape;
  out: Shape;
}

type Helper = 'pad_same' | 'avg_pool_same' | 'causal_mask' | 'dot_attention' | 'multi_head_attention' | 'keras_dot';

const MERGES = new Set(['Add', 'Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum', 'Dot', 'Concatenate']);
const TRANSFORMERS = new Set(['TransformerEncoder', 'TransformerDecoder', 'Transformer']);
const RNN_MODULES: Record<string, 'LSTM' | 'GRU' | 'RNN'> = {
  LSTM: 'LSTM',
  LSTMCell: 'LSTM',
  GRU: 'GRU',
  GRUCell: 'GRU',
  SimpleRNN: 'RNN',
  SimpleRNNDropoutWrapper: 'RNN',
};

/** Keras activations as torch expressions; `dim` is the channel axis (softmax), `alpha` the Activation layer's. */
const ACTIVATIONS: Record<string, (v: string, dim: number, alpha?: number) => string> = {
  linear: (v) => v,
  relu: (v) => `torch.relu(${v})`,
  sigmoid: (v) => `torch.sigmoid(${v})`,
  tanh: (v) => `torch.tanh(${v})`,
  softmax: (v, dim) => `torch.softmax(${v}, dim=${dim})`,
  softplus: (v) => `F.softplus(${v})`,
  softsign: (v) => `F.softsign(${v})`,
  selu: (v) => `F.selu(${v})`,
  elu: (v, _d, alpha) => (alpha === undefined ? `F.elu(${v})` : `F.elu(${v}, alpha=${pyNum(alpha)})`),
  exponential: (v) => `torch.exp(${v})`,
  // keras.activations.leaky_relu's default slope; keras.ts uses the same for Activation('leaky_relu').
  leaky_relu: (v, _d, alpha) => `F.leaky_relu(${v}, ${pyNum(alpha ?? 0.2)})`,
  swish: (v) => `F.silu(${v})`,
  silu: (v) => `F.silu(${v})`,
  gelu: (v) => `F.gelu(${v})`,
  mish: (v) => `F.mish(${v})`,
  // Keras 3: relu6(x + 3) / 6.
  hard_sigmoid: (v) => `F.hardsigmoid(${v})`,
};

/**
 * Emits the PyTorch module for a checked model whose hyperparameters are resolved. Throws one DslError listing every
 * layer (code `unsupported_layer`), loss, optimizer setting, metric or dataset PyTorch cannot express.
 */
export function emitPytorch(checked: CheckedModel, opts: PytorchOptions = {}): string {
  const bag = new DiagnosticBag();
  reportUnresolvedHpo(checked.model, bag);
  bag.throwIfErrors();
  const net = new NetworkEmitter(checked, bag);
  const forward = net.emit();
  const training = trainingSection(checked, opts, bag);
  bag.throwIfErrors();
  return render(checked, net, forward, training);
}

class NetworkEmitter {
  readonly init: string[] = [];
  readonly helpers = new Set<Helper>();
  private readonly body: string[] = [];
  private readonly attrs = new Set<string>();
  private readonly inputs = new Map<string, Tensor>();
  /** Module names of wrapped layers: Keras keeps a TimeDistributed layer's weights under the wrapper's name. */
  private readonly renamed = new Map<string, string>();
  private temps = 0;

  constructor(
    private readonly checked: CheckedModel,
    private readonly bag: DiagnosticBag,
  ) {}

  /** The forward() signature arguments and body. */
  emit(): { args: string[]; body: string[] } {
    const ins = this.checked.model.inputs;
    const args = ins.length === 1 ? ['x'] : ins.map((_, i) => `x${i}`);
    ins.forEach((spec, i) => this.inputs.set(spec.name, { v: args[i], rank: spec.shape.length, cf: false }));
    let x = this.inputs.get(ins[0].name)!;
    if (ins.length > 1) {
      this.line(`x = ${x.v}`);
      x = { ...x, v: 'x' };
    }
    x = this.toLayout(this.seq(this.checked.model.layers, x), false);
    this.line(`return ${x.v}`);
    return { args, body: this.body };
  }

  /** A layer sequence on tensor `t`, whose variable the sequence keeps reassigning; branches fork off it. */
  private seq(nodes: ModelNode[], t: Tensor): Tensor {
    let pending: Tensor[] = [];
    for (const node of nodes) {
      if (node.kind === 'branch') {
        const start = this.inputs.get(node.name) ?? t;
        const v = this.temp('b');
        this.line(`${v} = ${start.v}`);
        pending.push(this.seq(node.body, { ...start, v }));
        continue;
      }
      if (!node.custom && MERGES.has(node.type)) {
        if (!pending.length) throw new Error(`internal: merge layer '${node.id}' has no branches to merge`);
        // A single branch merges with the tensor it forked from, placed first (as the checker and keras.ts do).
        const parts = pending.length === 1 ? [t, pending[0]] : pending;
        pending = [];
        t = this.merge(node, parts, t.v);
        continue;
      }
      if (pending.length) throw new Error(`internal: layer '${node.id}' follows branches without merging them`);
      t = this.layer(node, t);
    }
    if (pending.length) throw new Error('internal: branches at the end of a layer list are never merged');
    return t;
  }

  private layer(node: LayerNode, t: Tensor, io: Io = this.io(node)): Tensor {
    const spec = node.custom ? undefined : layerSpec(node.type);
    if (!spec || spec.category === 'opaque') {
      const why =
        node.type === 'Lambda'
          ? 'a Lambda would run arbitrary code, which is never generated'
          : node.custom
            ? 'custom layers have no definition the generator could use'
            : 'the layer has no defined semantics';
      return this.unsupported(node, `${node.type} layers cannot be emitted for the pytorch backend: ${why}`, t, io);
    }
    const p = node.params;
    const v = t.v;
    const rank = io.out.length;
    switch (node.type) {
      case 'Dense':
      case 'Output': {
        t = this.toLayout(t, false);
        const bias = p.use_bias === false ? ', bias=False' : '';
        const m = this.module(node.id, `nn.Linear(${this.dim(node, io.in, -1)}, ${int(p.units)}${bias})`);
        // The parser fills Output's default (softmax); null is an explicit linear.
        const act = p.activation === undefined && node.type === 'Output' ? 'softmax' : p.activation;
        this.line(`${v} = ${this.act(node, act, `${m}(${v})`, -1)}`);
        return { ...t, rank };
      }
      case 'Flatten':
        t = this.toLayout(t, false);
        this.line(`${v} = torch.flatten(${v}, 1)`);
        return { ...t, rank: 2 };
      case 'Reshape': {
        t = this.toLayout(t, false);
        const target = nums(p.target_shape);
        this.line(`${v} = ${v}.reshape(${v}.shape[0], ${target.map(pyNum).join(', ')})`);
        return { ...t, rank: target.length + 1 };
      }
      case 'Dropout':
        this.line(`${v} = ${this.module(node.id, `nn.Dropout(${pyNum(num(p.rate))})`)}(${v})`);
        return t;
      case 'SpatialDropout1D':
      case 'SpatialDropout2D':
      case 'SpatialDropout3D':
        // Keras drops whole channels: the channels-first DropoutNd layers do exactly that.
        t = this.toLayout(t, true);
        this.line(`${v} = ${this.module(node.id, `nn.Dropout${spec.spatialRank}d(${pyNum(num(p.rate))})`)}(${v})`);
        return t;
      case 'GaussianNoise':
        this.line('if self.training:');
        this.line(`    ${v} = ${v} + torch.randn_like(${v}) * ${pyNum(num(p.stddev))}`);
        return t;
      case 'Activation': {
        const alpha = typeof p.alpha === 'number' ? p.alpha : undefined;
        this.line(`${v} = ${this.act(node, p.function, v, t.cf && t.rank > 2 ? 1 : -1, alpha)}`);
        return t;
      }
      case 'BatchNormalization':
      case 'LayerNormalization':
      case 'InstanceNormalization':
      case 'GroupNormalization':
        return this.norm(node, t, io);
      case 'Embedding': {
        if (p.mask_zero === true) {
          return this.unsupported(node, 'Embedding with mask_zero=true cannot be emitted for the pytorch backend: Keras masking has no PyTorch equivalent', t, io, 'remove mask_zero=true');
        }
        const m = this.module(node.id, `nn.Embedding(${int(p.input_dim)}, ${int(p.output_dim)})`);
        this.line(`${v} = ${m}(${v}.long())`);
        return { v, rank, cf: false };
      }
      case 'Bidirectional':
      case 'TimeDistributed':
        return this.wrapper(node, t, io);
      case 'ResidualConnection': {
        const saved = this.temp('r');
        this.line(`${saved} = ${v}`);
        const out = this.seq(node.sublayers, t);
        const skip = this.toLayout({ ...t, v: saved }, out.cf);
        this.line(`${out.v} = ${out.v} + ${skip.v}`);
        return out;
      }
      case 'Attention': {
        t = this.toLayout(t, false);
        this.helpers.add('dot_attention');
        const flags = [p.use_scale === true ? 'use_scale=True' : '', p.causal === true ? 'causal=True' : ''].filter(Boolean);
        const m = this.module(node.id, `_DotAttention(${flags.join(', ')})`);
        this.line(`${v} = ${m}(${v})`);
        return t;
      }
      case 'MultiHeadAttention': {
        t = this.toLayout(t, false);
        this.helpers.add('multi_head_attention');
        const d = this.dim(node, io.in, -1);
        const rate = num(p.dropout ?? 0);
        const m = this.module(node.id, `_MultiHeadAttention(${d}, ${int(p.num_heads)}, ${int(p.key_dim)}${rate ? `, dropout=${pyNum(rate)}` : ''})`);
        this.line(`${v} = ${m}(${v})`);
        return t;
      }
    }
    if (TRANSFORMERS.has(node.type)) return this.transformer(node, t, io);
    switch (spec.category) {
      case 'conv':
        return this.conv(node, t, io, spec.spatialRank ?? 2);
      case 'pool':
        return this.pool(node, t, io, spec.spatialRank ?? 2);
      case 'global_pool': {
        const r = spec.spatialRank ?? 2;
        const axes = Array.from({ length: r }, (_, i) => (t.cf ? i + 2 : i + 1));
        const op = node.type.startsWith('GlobalMax') ? 'amax' : 'mean';
        this.line(`${v} = ${v}.${op}(dim=${axes.length === 1 ? axes[0] : pyValue(axes)})`);
        return { v, rank: 2, cf: false };
      }
      case 'recurrent':
        return this.recurrent(node, node, t, io, undefined);
      default:
        return this.unsupported(node, `${node.type} layers cannot be emitted for the pytorch backend`, t, io);
    }
  }

  private conv(node: LayerNode, t: Tensor, io: Io, r: number): Tensor {
    const p = node.params;
    t = this.toLayout(t, true);
    const v = t.v;
    const k = windowOf(p.kernel_size, r);
    const s = windowOf(p.strides ?? 1, r);
    const d = windowOf(p.dilation_rate ?? 1, r);
    const cin = this.dim(node, io.in, -1);
    const bias = p.use_bias === false ? ', bias=False' : '';
    const stride = s.every((x) => x === 1) ? '' : `, stride=${pyValue(s)}`;
    const dilation = d.every((x) => x === 1) ? '' : `, dilation=${pyValue(d)}`;
    let ctor: string;
    let trim = '';
    if (node.type === 'Conv2DTranspose') {
      // Keras output size: 'same' → n·s; 'valid' → n·s + max(k − s, 0). torch gives (n − 1)·s + k − 2·pad + out_pad;
      // TensorFlow crops an odd 'same' overhang at the end, so one more row/column goes there.
      const pad: number[] = [];
      const outPad: number[] = [];
      const trims: boolean[] = [];
      k.forEach((kk, i) => {
        const over = kk - s[i];
        const cropped = p.padding === 'same' && over > 0;
        pad.push(cropped ? Math.floor(over / 2) : 0);
        outPad.push(Math.max(-over, 0));
        trims.push(cropped && over % 2 === 1);
      });
      const padArg = pad.some((x) => x > 0) ? `, padding=${pyValue(pad)}` : '';
      const outPadArg = outPad.some((x) => x > 0) ? `, output_padding=${pyValue(outPad)}` : '';
      ctor = `nn.ConvTranspose${r}d(${cin}, ${int(p.filters)}, ${pyValue(k)}${stride}${padArg}${outPadArg}${bias})`;
      if (trims.some(Boolean)) trim = `[:, :, ${trims.map((x) => (x ? ':-1' : ':')).join(', ')}]`;
    } else {
      const pad = p.padding === 'same' ? this.padSame(t, io, k, s, d, false) : '';
      const dm = int(p.depth_multiplier ?? 1);
      if (node.type === 'SeparableConv2D') {
        const depthwise = `nn.Conv2d(${cin}, ${cin * dm}, ${pyValue(k)}${stride}${pad}${dilation}, groups=${cin}, bias=False)`;
        ctor = `nn.Sequential(${depthwise}, nn.Conv2d(${cin * dm}, ${int(p.filters)}, 1${bias}))`;
      } else if (node.type === 'DepthwiseConv2D') {
        ctor = `nn.Conv2d(${cin}, ${cin * dm}, ${pyValue(k)}${stride}${pad}${dilation}, groups=${cin}${bias})`;
      } else {
        ctor = `nn.Conv${r}d(${cin}, ${int(p.filters)}, ${pyValue(k)}${stride}${pad}${dilation}${bias})`;
      }
    }
    this.line(`${v} = ${this.act(node, p.activation ?? null, `${this.module(node.id, ctor)}(${v})${trim}`, 1)}`);
    return t;
  }

  private pool(node: LayerNode, t: Tensor, io: Io, r: number): Tensor {
    const p = node.params;
    t = this.toLayout(t, true);
    const v = t.v;
    const k = windowOf(p.pool_size, r);
    const s = windowOf(p.strides ?? p.pool_size, r);
    const isMax = node.type.startsWith('Max');
    const cls = `nn.${isMax ? 'MaxPool' : 'AvgPool'}${r}d`;
    const strideArg = same(s, k) ? '' : `, stride=${pyValue(s)}`;
    if (p.padding !== 'same') {
      this.line(`${v} = ${this.module(node.id, `${cls}(${pyValue(k)}${strideArg})`)}(${v})`);
      return t;
    }
    const ones = k.map(() => 1);
    const pads = samePads(io.in.slice(1, -1), k, s, ones);
    if (!isMax && !(pads && symmetric(pads))) {
      // Keras leaves padded cells out of each window's mean; torch can do that only for symmetric padding.
      this.helpers.add('avg_pool_same');
      this.line(`${v} = _avg_pool_same(${v}, ${pyValue(k)}, ${pyValue(s)})`);
      return t;
    }
    const pad = this.padSame(t, io, k, s, ones, isMax);
    const extra = !isMax && pad ? ', count_include_pad=False' : '';
    this.line(`${v} = ${this.module(node.id, `${cls}(${pyValue(k)}${strideArg}${pad}${extra})`)}(${v})`);
    return t;
  }

  /**
   * TensorFlow's 'same' padding for a channels-first tensor: a constructor `padding=` argument when symmetric,
   * otherwise an explicit F.pad (the extra cell goes after, as in TensorFlow), computed at run time when a spatial
   * size is unknown. Max pooling pads with -inf so padded cells never win.
   */
  private padSame(t: Tensor, io: Io, k: number[], s: number[], d: number[], negInf: boolean): string {
    const pads = samePads(io.in.slice(1, -1), k, s, d);
    const value = negInf ? `, value=float('-inf')` : '';
    if (!pads) {
      this.helpers.add('pad_same');
      this.line(`${t.v} = _pad_same(${t.v}, ${pyValue(k)}, ${pyValue(s)}, ${pyValue(d)}${value})`);
      return '';
    }
    if (symmetric(pads)) return pads.some(([b]) => b > 0) ? `, padding=${pyValue(pads.map(([b]) => b))}` : '';
    const flat = [...pads].reverse().flatMap(([b, a]) => [b, a]);
    this.line(`${t.v} = F.pad(${t.v}, ${pyValue(flat)}${value})`);
    return '';
  }

  private norm(node: LayerNode, t: Tensor, io: Io): Tensor {
    const p = node.params;
    const r = t.rank;
    const eps = pyNum(num(p.epsilon ?? 1e-3));
    const center = p.center !== false;
    const scale = p.scale !== false;
    const affine = center || scale;
    const axis = node.type === 'BatchNormalization' || node.type === 'LayerNormalization' ? axisOf(p.axis ?? -1, r) : r - 1;
    const c = this.dim(node, io.in, axis);
    let ctor: string;
    switch (node.type) {
      case 'BatchNormalization': {
        if (r > 5) return this.unsupported(node, `BatchNormalization on a ${r}D input cannot be emitted for the pytorch backend`, t, io);
        const momentum = Number((1 - num(p.momentum ?? 0.99)).toPrecision(12));
        ctor = `nn.BatchNorm${r <= 3 ? 1 : r - 2}d(${c}, eps=${eps}, momentum=${pyNum(momentum)}${affine ? '' : ', affine=False'})`;
        break;
      }
      case 'LayerNormalization':
        ctor = `nn.LayerNorm(${c}, eps=${eps}${affine ? '' : ', elementwise_affine=False'})`;
        break;
      default: {
        // InstanceNormalization is GroupNormalization with one group per channel.
        const groups = node.type === 'InstanceNormalization' ? c : int(p.groups ?? 32);
        ctor = `nn.GroupNorm(${groups}, ${c}, eps=${eps}${affine ? '' : ', affine=False'})`;
      }
    }
    const m = this.module(node.id, ctor);
    if (affine && !scale) this.init.push(`${m}.weight = None`);
    if (affine && !center) this.init.push(`${m}.bias = None`);
    const v = t.v;
    if (node.type === 'LayerNormalization') {
      t = this.toLayout(t, false);
      this.line(axis === r - 1 ? `${v} = ${m}(${v})` : `${v} = ${m}(${v}.movedim(${axis}, -1)).movedim(-1, ${axis})`);
    } else if (axis === r - 1 || axis === 1) {
      // torch normalizes axis 1: the channels of a channels-first tensor, or Keras axis 1 itself.
      t = this.toLayout(t, axis === r - 1);
      this.line(`${v} = ${m}(${v})`);
    } else {
      t = this.toLayout(t, false);
      this.line(`${v} = ${m}(${v}.movedim(${axis}, 1)).movedim(1, ${axis})`);
    }
    return t;
  }

  /**
   * LSTM/GRU/SimpleRNN (and the cells, which run over the sequence like their layer) as batch-first torch modules
   * named `attr`; `merge` is the Bidirectional merge mode when wrapped. torch's GRU is Keras' reset_after variant.
   */
  private recurrent(node: LayerNode, owner: LayerNode, t: Tensor, io: Io, merge: string | undefined): Tensor {
    const p = node.params;
    const kind = RNN_MODULES[node.type];
    const activation = p.activation ?? 'tanh';
    if (!kind) return this.unsupported(owner, `Bidirectional(${node.type}) cannot be emitted for the pytorch backend: only recurrent layers can be wrapped`, t, io);
    if (activation !== 'tanh' && !(kind === 'RNN' && activation === 'relu')) {
      return this.unsupported(owner, `${node.type} with activation '${activation}' cannot be emitted for the pytorch backend: torch.nn.${kind} supports ${kind === 'RNN' ? "tanh and relu" : 'tanh only'}`, t, io);
    }
    t = this.toLayout(t, false);
    const v = t.v;
    const units = int(p.units);
    const opts = [`batch_first=True`];
    if (kind === 'RNN' && activation === 'relu') opts.push(`nonlinearity='relu'`);
    if (p.use_bias === false) opts.push('bias=False');
    if (merge) opts.push('bidirectional=True');
    const m = this.module(owner.id, `nn.${kind}(${this.dim(owner, io.in, -1)}, ${units}, ${opts.join(', ')})`);
    const rate = node.type === 'SimpleRNNDropoutWrapper' ? num(p.dropout ?? 0) : 0;
    if (rate > 0) {
      // Keras RNN input dropout keeps one mask per sequence: dropping whole channels of (batch, features, steps).
      this.line(`${v} = F.dropout1d(${v}.transpose(1, 2), ${pyNum(rate)}, self.training).transpose(1, 2)`);
    }
    const sequences = p.return_sequences === true;
    if (!merge) {
      this.line(sequences ? `${v}, _ = ${m}(${v})` : `${v} = ${m}(${v})[0][:, -1]`);
      return { v, rank: sequences ? 3 : 2, cf: false };
    }
    let fwd: string;
    let bwd: string;
    if (sequences) {
      this.line(`${v}, _ = ${m}(${v})`);
      [fwd, bwd] = [`${v}[..., :${units}]`, `${v}[..., ${units}:]`];
    } else {
      // The backward direction's last output is its final state (it read the sequence from the end).
      const h = this.temp('h');
      this.line(kind === 'LSTM' ? `_, (${h}, _) = ${m}(${v})` : `_, ${h} = ${m}(${v})`);
      [fwd, bwd] = [`${h}[-2]`, `${h}[-1]`];
      if (merge === 'concat') this.line(`${v} = torch.cat([${fwd}, ${bwd}], dim=-1)`);
    }
    if (merge === 'sum') this.line(`${v} = ${fwd} + ${bwd}`);
    else if (merge === 'mul') this.line(`${v} = ${fwd} * ${bwd}`);
    else if (merge === 'ave') this.line(`${v} = (${fwd} + ${bwd}) / 2`);
    return { v, rank: sequences ? 3 : 2, cf: false };
  }

  private wrapper(node: LayerNode, t: Tensor, io: Io): Tensor {
    const inner = node.params.layer;
    if (!isLayer(inner)) throw new Error(`internal: ${node.type} '${node.id}' has no wrapped layer`);
    if (node.type === 'Bidirectional') return this.recurrent(inner, node, t, io, typeof node.params.merge_mode === 'string' ? node.params.merge_mode : 'concat');
    // TimeDistributed: fold the time axis into the batch, run the layer, unfold.
    t = this.toLayout(t, false);
    const v = t.v;
    const steps = this.temp('n');
    this.line(`${steps} = ${v}.shape[:2]`);
    this.line(`${v} = ${v}.reshape(-1, *${v}.shape[2:])`);
    this.renamed.set(inner.id, node.id);
    const step = this.toLayout(this.layer(inner, { v, rank: t.rank - 1, cf: false }, { in: [null, ...io.in.slice(2)], out: [null, ...io.out.slice(2)] }), false);
    this.line(`${v} = ${step.v}.reshape(*${steps}, *${step.v}.shape[1:])`);
    return { v, rank: io.out.length, cf: false };
  }

  /** The post-norm block of keras.ts: x = LN1(x + Dropout(MHA(x, x))); x = LN2(x + Dropout(FFN(x))). */
  private transformer(node: LayerNode, t: Tensor, io: Io): Tensor {
    const p = node.params;
    t = this.toLayout(t, false);
    const v = t.v;
    const d = this.dim(node, io.in, -1);
    const heads = int(p.num_heads ?? 8);
    const rate = pyNum(num(p.dropout ?? 0.1));
    const eps = pyNum(num(p.epsilon ?? 1e-6));
    const causal = node.type === 'TransformerDecoder' ? ', causal=True' : '';
    this.helpers.add('multi_head_attention');
    const mha = this.module(`${node.id}_mha`, `_MultiHeadAttention(${d}, ${heads}, ${Math.floor(d / heads)}${causal})`);
    const drop1 = this.module(`${node.id}_drop1`, `nn.Dropout(${rate})`);
    const ln1 = this.module(`${node.id}_ln1`, `nn.LayerNorm(${d}, eps=${eps})`);
    this.line(`${v} = ${ln1}(${v} + ${drop1}(${mha}(${v})))`);
    let ffn: string;
    if (node.sublayers.length) {
      const f = this.temp('f');
      this.line(`${f} = ${v}`);
      ffn = this.toLayout(this.seq(node.sublayers, { ...t, v: f }), false).v;
    } else {
      const ff = int(p.ff_dim ?? 512);
      const ffn1 = this.module(`${node.id}_ffn1`, `nn.Linear(${d}, ${ff})`);
      const ffn2 = this.module(`${node.id}_ffn2`, `nn.Linear(${ff}, ${d})`);
      ffn = `${ffn2}(torch.relu(${ffn1}(${v})))`;
    }
    const drop2 = this.module(`${node.id}_drop2`, `nn.Dropout(${rate})`);
    const ln2 = this.module(`${node.id}_ln2`, `nn.LayerNorm(${d}, eps=${eps})`);
    this.line(`${v} = ${ln2}(${v} + ${drop2}(${ffn}))`);
    return t;
  }

  private merge(node: LayerNode, parts: Tensor[], out: string): Tensor {
    const info = this.io(node);
    const rank = parts[0].rank;
    // Stay channels-first when every input already is (e.g. two conv paths feeding a conv).
    const cf = node.type !== 'Dot' && rank > 2 && parts.every((x) => x.cf);
    const vs = parts.map((x) => this.toLayout(x, cf).v);
    let expr: string;
    switch (node.type) {
      case 'Add':
        expr = vs.join(' + ');
        break;
      case 'Subtract':
        expr = `${vs[0]} - ${vs[1]}`;
        break;
      case 'Multiply':
        expr = vs.join(' * ');
        break;
      case 'Average':
        expr = `(${vs.join(' + ')}) / ${vs.length}`;
        break;
      case 'Maximum':
      case 'Minimum': {
        const fn = node.type === 'Maximum' ? 'torch.maximum' : 'torch.minimum';
        expr = vs.slice(1).reduce((acc, x) => `${fn}(${acc}, ${x})`, vs[0]);
        break;
      }
      case 'Concatenate': {
        const axis = axisOf(node.params.axis ?? -1, rank);
        expr = `torch.cat([${vs.join(', ')}], dim=${cf ? cfAxis(axis, rank) : axis})`;
        break;
      }
      default: {
        if (rank > 3 || parts[1].rank !== rank) {
          this.unsupported(node, `Dot on ${rank}D inputs cannot be emitted for the pytorch backend`, parts[0], info);
          return { v: out, rank: info.out.length, cf: false };
        }
        this.helpers.add('keras_dot');
        const axes = parts.map((x) => axisOf(node.params.axes ?? -1, x.rank));
        expr = `_keras_dot(${vs[0]}, ${vs[1]}, ${pyValue(axes)}, ${py(node.params.normalize === true)})`;
      }
    }
    this.line(`${out} = ${expr}`);
    return { v: out, rank: info.out.length, cf };
  }

  /** Converts a tensor between channels-last and channels-first (a no-op for rank 2). */
  private toLayout(t: Tensor, cf: boolean): Tensor {
    if (t.rank <= 2) return { ...t, cf: false };
    if (t.cf === cf) return t;
    const r = t.rank;
    const spatial = Array.from({ length: r - 2 }, (_, i) => i + 1);
    const perm = cf ? [0, r - 1, ...spatial] : [0, ...spatial.map((i) => i + 1), 1];
    this.line(`${t.v} = ${t.v}.permute(${perm.join(', ')})`);
    return { ...t, cf };
  }

  private act(node: LayerNode, name: Value | undefined, expr: string, dim: number, alpha?: number): string {
    const key = name === null || name === undefined ? 'linear' : name;
    const fn = typeof key === 'string' ? ACTIVATIONS[key] : undefined;
    if (!fn) {
      this.bag.error('unsupported_activation', `Activation ${pyStr(String(key))} cannot be emitted for the pytorch backend`, node.loc);
      return expr;
    }
    return fn(expr, dim, alpha);
  }

  /** Registers `self.<name> = ctor` in __init__; returns the attribute expression. */
  private module(name: string, ctor: string): string {
    const attr = pyIdent(this.renamed.get(name) ?? name);
    if (this.attrs.has(attr)) throw new Error(`internal: module attribute '${attr}' is generated twice`);
    this.attrs.add(attr);
    this.init.push(`self.${attr} = ${ctor}`);
    return `self.${attr}`;
  }

  /** A size the module constructor needs; unknown sizes (None) are reported. */
  private dim(node: LayerNode, shape: Shape, axis: number): number {
    const d = shape[axis < 0 ? shape.length + axis : axis];
    if (typeof d === 'number') return d;
    this.bag.error('unknown_dimension', `${node.type} needs a known size along axis ${axis} of its input, got None`, node.loc, 'declare the input with concrete sizes');
    return 1;
  }

  private unsupported(node: LayerNode, message: string, t: Tensor, io: Io, hint = 'replace it with built-in layers'): Tensor {
    this.bag.error('unsupported_layer', message, node.loc, hint);
    return { ...t, rank: io.out.length };
  }

  private io(node: LayerNode): Io {
    const info = this.checked.info.get(node.id);
    if (!info) throw new Error(`internal: no shape information for layer '${node.id}'`);
    return { in: info.inputShapes[0], out: info.outputShape };
  }

  private temp(prefix: string): string {
    return `${prefix}${++this.temps}`;
  }

  private line(s: string): void {
    this.body.push(s);
  }
}

/** Keras 'same' padding as [before, after] per spatial axis; undefined when it depends on an unknown size. */
function samePads(spatial: Shape, k: number[], s: number[], d: number[]): [number, number][] | undefined {
  const pads: [number, number][] = [];
  for (let i = 0; i < k.length; i++) {
    const span = d[i] * (k[i] - 1) + 1;
    const n = spatial[i];
    let total: number;
    if (s[i] === 1) total = span - 1;
    else if (typeof n === 'number') total = Math.max((Math.ceil(n / s[i]) - 1) * s[i] + span - n, 0);
    else return undefined;
    pads.push([Math.floor(total / 2), total - Math.floor(total / 2)]);
  }
  return pads;
}

function symmetric(pads: [number, number][]): boolean {
  return pads.every(([b, a]) => b === a);
}

/** A Keras axis (negative counts from the end) as a non-negative index for rank `r`. */
function axisOf(v: Value, r: number): number {
  const a = int(v);
  return a < 0 ? a + r : a;
}

/** The channels-first position of a channels-last axis. */
function cfAxis(axis: number, r: number): number {
  return axis === 0 ? 0 : axis === r - 1 ? 1 : axis + 1;
}

function windowOf(v: Value | undefined, r: number): number[] {
  if (typeof v === 'number') return Array(r).fill(v);
  const xs = nums(v);
  return xs.length === 1 ? Array(r).fill(xs[0]) : xs;
}

function same(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function num(v: Value | undefined): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`internal: expected a number, got ${JSON.stringify(v)}`);
  return v;
}

function int(v: Value | undefined): number {
  const n = num(v);
  if (!Number.isInteger(n)) throw new Error(`internal: expected an integer, got ${n}`);
  return n;
}

function nums(v: Value | undefined): number[] {
  if (!Array.isArray(v)) throw new Error(`internal: expected a tuple of numbers, got ${JSON.stringify(v)}`);
  return v.map((x) => int(x));
}

function py(b: boolean): string {
  return b ? 'True' : 'False';
}

// ---- the module text --------------------------------------------------------------------------------------------

const PY_BUILTINS = new Set(
  (
    'abs all any ascii bin bool breakpoint bytearray bytes callable chr classmethod compile complex copyright credits ' +
    'delattr dict dir divmod enumerate eval exec exit filter float format frozenset getattr globals hasattr hash help ' +
    'hex id input int isinstance issubclass iter len license list locals map max memoryview min next object oct open ' +
    'ord pow print property quit range repr reversed round set setattr slice sorted staticmethod str sum super tuple ' +
    'type vars zip Ellipsis NotImplemented'
  ).split(' '),
);

/** Module-level names of the generated file (the class must not shadow them). */
const RESERVED = new Set([
  'torch', 'nn', 'F', 'math', 'MODEL_NAME', 'INPUT_SHAPE', 'INPUT_SHAPES', 'INPUT_NAMES', 'OUTPUT_SHAPE',
  'NUM_CLASSES', 'LOSS', 'EPOCHS', 'BATCH_SIZE', 'LEARNING_RATE', 'VALIDATION_SPLIT', 'SAVE_PATH', 'DEFAULT_DATASET',
  'DATASETS', 'METRICS', 'EPSILON', 'build_model', 'make_optimizer', 'make_scheduler', 'before_step', 'compute_loss',
  'run_epoch', 'input_shapes', 'fit_input', 'prepare_labels', 'load_npz', 'load_dataset', 'parse_args', 'main',
  'class_targets', 'dense_targets', 'accuracy', 'binary_accuracy', 'top_k_accuracy', 'squared_error', 'absolute_error',
  'precision', 'recall', 'auc', 'roc_auc', 'ratio', 'root_ratio',
]);

const PY_KEYWORD = /^(False|None|True|and|as|assert|async|await|break|class|continue|def|del|elif|else|except|finally|for|from|global|if|import|in|is|lambda|nonlocal|not|or|pass|raise|return|try|while|with|yield|match|case)$/;

/** The model's class name: its DSL name when that is a safe, non-clashing identifier. */
function className(name: string): string {
  const ok =
    /^[A-Za-z][A-Za-z0-9_]{0,99}$/.test(name) &&
    !PY_KEYWORD.test(name) &&
    !PY_BUILTINS.has(name) &&
    !RESERVED.has(name) &&
    !/(Error|Exception|Warning|Exit|Interrupt|Iteration)$/.test(name);
  return ok ? name : 'NeuralModel';
}

function render(checked: CheckedModel, net: NetworkEmitter, forward: { args: string[]; body: string[] }, training: string): string {
  const m = checked.model;
  const cls = className(m.name);
  const shapes = m.inputs.map((i) => `${pyStr(i.name)}: ${pyValue(i.shape.slice(1))}`);
  const out: string[] = [
    '# Generated by the Neural DSL compiler: a PyTorch model with Keras (channels-last) semantics and its training',
    '# script. Import it for build_model(), or run it: python this_file.py --data train.npz --epochs 5',
    'import math',
    '',
    'import torch',
    'import torch.nn as nn',
    'import torch.nn.functional as F',
    '',
    `MODEL_NAME = ${pyStr(m.name)}`,
    `INPUT_SHAPE = ${pyValue(m.inputs[0].shape.slice(1))}`,
  ];
  if (m.inputs.length > 1) out.push(`INPUT_SHAPES = {${shapes.join(', ')}}`);
  out.push(`INPUT_NAMES = [${m.inputs.map((i) => pyStr(i.name)).join(', ')}]`, `OUTPUT_SHAPE = ${pyValue(checked.outputShape.slice(1))}`);
  const helpers = new Set(net.helpers);
  if (helpers.has('avg_pool_same')) helpers.add('pad_same');
  if (helpers.has('dot_attention') || helpers.has('multi_head_attention')) helpers.add('causal_mask');
  for (const h of HELPER_ORDER) if (helpers.has(h)) out.push('', '', HELPERS[h]);
  const indent = (lines: string[], n: number): string[] => lines.map((l) => ' '.repeat(n) + l);
  out.push(
    '',
    '',
    `class ${cls}(nn.Module):`,
    '    """Takes and returns channels-last tensors, like the Keras model of the same DSL source."""',
    '',
    '    def __init__(self):',
    '        super().__init__()',
    ...indent(net.init, 8),
    '',
    `    def forward(self, ${forward.args.join(', ')}):`,
    ...indent(forward.body, 8),
    '',
    '',
    'def build_model():',
    '    """A fresh, untrained instance of the network."""',
    `    return ${cls}()`,
    '',
    '',
    training,
  );
  return out.join('\n') + '\n';
}

const HELPER_ORDER: Helper[] = ['pad_same', 'avg_pool_same', 'causal_mask', 'dot_attention', 'multi_head_attention', 'keras_dot'];

const HELPERS: Record<Helper, string> = {
  pad_same: `def _pad_same(x, kernel, strides, dilation, value=0.0):
    """TensorFlow 'same' padding of a channels-first tensor; an odd overhang goes after."""
    pads = []
    for size, k, s, d in reversed(list(zip(x.shape[2:], kernel, strides, dilation))):
        total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value)`,
  avg_pool_same: `def _avg_pool_same(x, kernel, strides):
    """Keras 'same' average pooling: padded cells are left out of each window's mean."""
    pool = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[len(kernel) - 1]
    ones = (1,) * len(kernel)
    total = pool(_pad_same(x, kernel, strides, ones), kernel, strides)
    count = pool(_pad_same(torch.ones_like(x[:1, :1]), kernel, strides, ones), kernel, strides)
    return total / count`,
  causal_mask: `def _causal_mask(x):
    """True above the diagonal: step i must not attend to later steps."""
    steps = x.shape[1]
    return torch.ones(steps, steps, dtype=torch.bool, device=x.device).triu(1)`,
  dot_attention: `class _DotAttention(nn.Module):
    """keras.layers.Attention()([x, x]): dot-product self-attention, optionally with a learned scale."""

    def __init__(self, use_scale=False, causal=False):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(())) if use_scale else None
        self.causal = causal

    def forward(self, x):
        scores = x @ x.transpose(1, 2)
        if self.scale is not None:
            scores = scores * self.scale
        if self.causal:
            scores = scores.masked_fill(_causal_mask(x), float('-inf'))
        return torch.softmax(scores, dim=-1) @ x`,
  multi_head_attention: `class _MultiHeadAttention(nn.Module):
    """keras.layers.MultiHeadAttention(num_heads, key_dim)(x, x): query/key/value/output projections with biases."""

    def __init__(self, dim, num_heads, key_dim, dropout=0.0, causal=False):
        super().__init__()
        self.num_heads, self.key_dim, self.causal = num_heads, key_dim, causal
        self.query = nn.Linear(dim, num_heads * key_dim)
        self.key = nn.Linear(dim, num_heads * key_dim)
        self.value = nn.Linear(dim, num_heads * key_dim)
        self.output = nn.Linear(num_heads * key_dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        batch, steps = x.shape[0], x.shape[1]

        def heads(t):
            return t.reshape(batch, steps, self.num_heads, self.key_dim).transpose(1, 2)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        scores = (q / math.sqrt(self.key_dim)) @ k.transpose(2, 3)
        if self.causal:
            scores = scores.masked_fill(_causal_mask(x), float('-inf'))
        weights = self.dropout(torch.softmax(scores, dim=-1))
        return self.output((weights @ v).transpose(1, 2).reshape(batch, steps, self.num_heads * self.key_dim))`,
  keras_dot: `def _keras_dot(a, b, axes, normalize):
    """keras.layers.Dot: a batched dot product over the given axis of each (batch, n) or (batch, steps, n) input."""
    if normalize:
        a, b = F.normalize(a, dim=axes[0]), F.normalize(b, dim=axes[1])
    if a.dim() == 2:
        return (a * b).sum(dim=1, keepdim=True)
    return torch.bmm(a.movedim(axes[0], 2), b.movedim(axes[1], 1))`,
};

// ---- the training script ----------------------------------------------------------------------------------------

/** Body of `compute_loss(output, target)` per Keras loss: Keras' formula, clipping and reduction. */
const LOSS_BODIES: Record<string, (logits: boolean) => string[]> = {
  sparse_categorical_crossentropy: (logits) =>
    logits
      ? ['return F.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1).long())']
      : [
          'probs = (output / output.sum(dim=-1, keepdim=True)).clamp(EPSILON, 1.0 - EPSILON)',
          'return F.nll_loss(torch.log(probs).reshape(-1, output.shape[-1]), target.reshape(-1).long())',
        ],
  categorical_crossentropy: (logits) =>
    logits
      ? ['return -(target * F.log_softmax(output, dim=-1)).sum(dim=-1).mean()']
      : ['probs = (output / output.sum(dim=-1, keepdim=True)).clamp(EPSILON, 1.0 - EPSILON)', 'return -(target * torch.log(probs)).sum(dim=-1).mean()'],
  binary_crossentropy: (logits) =>
    logits
      ? ['return F.binary_cross_entropy_with_logits(output, target.reshape(output.shape).float())']
      : [
          'target = target.reshape(output.shape).float()',
          'probs = output.clamp(EPSILON, 1.0 - EPSILON)',
          'return -(target * torch.log(probs) + (1 - target) * torch.log(1 - probs)).mean()',
        ],
  mean_squared_error: () => ['return F.mse_loss(output, target.reshape(output.shape).float())'],
  mean_absolute_error: () => ['return F.l1_loss(output, target.reshape(output.shape).float())'],
  huber: () => ['return F.huber_loss(output, target.reshape(output.shape).float(), delta=1.0)'],
  hinge: () => [
    'target = target.reshape(output.shape).float()',
    'if bool(((target == 0) | (target == 1)).all()):',
    '    target = 2 * target - 1  # Keras turns 0/1 labels into -1/1',
    'return torch.clamp(1 - target * output, min=0).mean()',
  ],
  kl_divergence: () => [
    'target = target.reshape(output.shape).float().clamp(EPSILON, 1)',
    'return (target * torch.log(target / output.clamp(EPSILON, 1))).sum(dim=-1).mean()',
  ],
  poisson: () => ['return (output - target.reshape(output.shape).float() * torch.log(output + EPSILON)).mean()'],
  cosine_similarity: () => ['return -F.cosine_similarity(output, target.reshape(output.shape).float(), dim=-1).mean()'],
  log_cosh: () => ['diff = output - target.reshape(output.shape).float()', 'return (diff + F.softplus(-2.0 * diff) - math.log(2.0)).mean()'],
};

/**
 * Metric functions: each returns statistics of one batch that are summed over the epoch; the epoch value is
 * `finish(*sums)` (sum / count by default), so metrics stream over the whole epoch as in Keras.
 */
const METRIC_FUNCTIONS: Record<string, string> = {
  accuracy: `def accuracy(output, target):
    correct = output.argmax(dim=-1) == class_targets(output, target)
    return correct.sum(), correct.numel()`,
  binary_accuracy: `def binary_accuracy(output, target):
    correct = (output > 0.5) == (target.reshape(output.shape) > 0.5)
    return correct.sum(), correct.numel()`,
  top_k_accuracy: `def top_k_accuracy(output, target, k=5):
    top = output.topk(min(k, output.shape[-1]), dim=-1).indices
    hit = (top == class_targets(output, target).unsqueeze(-1)).any(dim=-1)
    return hit.sum(), hit.numel()`,
  squared_error: `def squared_error(output, target):
    error = (output - target.reshape(output.shape).float()) ** 2
    return error.sum(), error.numel()`,
  absolute_error: `def absolute_error(output, target):
    error = (output - target.reshape(output.shape).float()).abs()
    return error.sum(), error.numel()`,
  precision: `def precision(output, target):
    predicted, actual = output > 0.5, dense_targets(output, target) > 0.5
    return (predicted & actual).sum(), predicted.sum()`,
  recall: `def recall(output, target):
    predicted, actual = output > 0.5, dense_targets(output, target) > 0.5
    return (predicted & actual).sum(), actual.sum()`,
  auc: `def auc(output, target):
    """Keras AUC: confusion counts at 200 thresholds (finished by roc_auc)."""
    inner = torch.arange(1, 199, device=output.device) / 199.0
    thresholds = torch.cat([inner.new_tensor([-EPSILON]), inner, inner.new_tensor([1.0 + EPSILON])])
    predicted = output.reshape(-1, 1) > thresholds
    actual = (dense_targets(output, target) > 0.5).reshape(-1, 1)
    return (predicted & actual).sum(0), (predicted & ~actual).sum(0), (~predicted & ~actual).sum(0), (~predicted & actual).sum(0)


def roc_auc(tp, fp, tn, fn):
    """Area under the ROC curve by the trapezoidal rule, as Keras' AUC(summation_method="interpolation")."""
    tpr, fpr = torch.nan_to_num(tp / (tp + fn)), torch.nan_to_num(fp / (fp + tn))
    return ((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2).sum()`,
};

/** DSL metric → [Keras history key, metric function, finishing function]. */
function metricEntry(name: string, loss: string, outDim: number | null): [string, string, string?] | undefined {
  const sparse = loss === 'sparse_categorical_crossentropy';
  switch (name) {
    case 'accuracy':
    case 'acc':
      return ['accuracy', loss === 'binary_crossentropy' || outDim === 1 ? 'binary_accuracy' : 'accuracy'];
    case 'binary_accuracy':
      return ['binary_accuracy', 'binary_accuracy'];
    case 'categorical_accuracy':
    case 'sparse_categorical_accuracy':
      return [name, 'accuracy'];
    case 'top_k_accuracy':
      return [sparse ? 'sparse_top_k_categorical_accuracy' : 'top_k_categorical_accuracy', 'top_k_accuracy'];
    case 'top_k_categorical_accuracy':
    case 'sparse_top_k_categorical_accuracy':
      return [name, 'top_k_accuracy'];
    case 'mae':
    case 'mean_absolute_error':
      return ['mae', 'absolute_error'];
    case 'mse':
    case 'mean_squared_error':
      return ['mse', 'squared_error'];
    case 'rmse':
      return ['rmse', 'squared_error', 'root_ratio'];
    case 'precision':
    case 'recall':
      return [name, name];
    case 'auc':
      return ['auc', 'auc', 'roc_auc'];
    default:
      return undefined;
  }
}

const OPTIMIZERS: Record<string, { cls: string; lr: number; args: string[] }> = {
  Adam: { cls: 'Adam', lr: 0.001, args: ['beta_1', 'beta_2', 'epsilon', 'amsgrad'] },
  AdamW: { cls: 'AdamW', lr: 0.001, args: ['beta_1', 'beta_2', 'epsilon', 'amsgrad'] },
  Adamax: { cls: 'Adamax', lr: 0.001, args: ['beta_1', 'beta_2', 'epsilon'] },
  Nadam: { cls: 'NAdam', lr: 0.001, args: ['beta_1', 'beta_2', 'epsilon'] },
  SGD: { cls: 'SGD', lr: 0.01, args: ['momentum', 'nesterov'] },
  RMSprop: { cls: 'RMSprop', lr: 0.001, args: ['rho', 'momentum', 'epsilon', 'centered'] },
  Adagrad: { cls: 'Adagrad', lr: 0.001, args: ['initial_accumulator_value', 'epsilon'] },
  Adadelta: { cls: 'Adadelta', lr: 0.001, args: ['rho', 'epsilon'] },
};


interface Optimizer {
  /** The torch.optim constructor call after `parameters, lr=lr`. */
  ctor: string;
  learningRate: number;
  /** LambdaLR multiplier per optimizer step (Keras schedules count optimizer iterations). */
  schedule?: { name: string; factor: string };
  /** Lines of `before_step(model, optimizer)`: Keras' gradient clipping and decoupled weight decay. */
  beforeStep: string[];
}

function optimizer(model: ModelIR, bag: DiagnosticBag): Optimizer {
  const opt = model.optimizer ?? { type: 'Adam', params: {}, loc: model.sectionLocs.optimizer ?? { line: 1, column: 1 } };
  const spec = OPTIMIZERS[opt.type];
  const result: Optimizer = { ctor: '', learningRate: 0.001, beforeStep: [] };
  if (!spec) {
    bag.error('unsupported_optimizer', `Optimizer '${opt.type}' cannot be emitted for the pytorch backend: torch.optim has no equivalent`, opt.loc, `use one of ${Object.keys(OPTIMIZERS).join(', ')}`);
    return result;
  }
  const p = opt.params;
  for (const key of Object.keys(p)) {
    if (!COMMON_OPTIMIZER_ARGS.includes(key) && !spec.args.includes(key)) {
      bag.error('unsupported_parameter', `${opt.type} has no parameter '${key}' in Keras`, opt.loc, `${opt.type} accepts: ${[...COMMON_OPTIMIZER_ARGS, ...spec.args].join(', ')}`);
    }
  }
  const val = (key: string, dflt: number): string => pyNum(typeof p[key] === 'number' ? (p[key] as number) : dflt);
  // Keras' epsilon default (1e-7) differs from torch's, so it is always passed.
  const args: string[] = [];
  switch (spec.cls) {
    case 'SGD':
      if (typeof p.momentum === 'number' && p.momentum > 0) args.push(`momentum=${val('momentum', 0)}`, `nesterov=${py(p.nesterov === true)}`);
      break;
    case 'RMSprop':
      args.push(`alpha=${val('rho', 0.9)}`, `eps=${val('epsilon', 1e-7)}`, `momentum=${val('momentum', 0)}`, `centered=${py(p.centered === true)}`);
      break;
    case 'Adagrad':
      args.push(`initial_accumulator_value=${val('initial_accumulator_value', 0.1)}`, `eps=${val('epsilon', 1e-7)}`);
      break;
    case 'Adadelta':
      args.push(`rho=${val('rho', 0.95)}`, `eps=${val('epsilon', 1e-7)}`);
      break;
    default:
      args.push(`betas=(${val('beta_1', 0.9)}, ${val('beta_2', 0.999)})`, `eps=${val('epsilon', 1e-7)}`);
      if (p.amsgrad === true) args.push('amsgrad=True');
      if (spec.cls === 'AdamW') args.push(`weight_decay=${val('weight_decay', 0.004)}`);
  }
  result.ctor = `torch.optim.${spec.cls}(parameters, lr=lr${args.map((a) => `, ${a}`).join('')})`;

  const lr = p.learning_rate ?? model.lrSchedule ?? spec.lr;
  if (isCall(lr)) {
    result.schedule = schedule(lr, bag);
    result.learningRate = typeof lr.kwargs.initial_learning_rate === 'number' ? lr.kwargs.initial_learning_rate : spec.lr;
  } else result.learningRate = num(lr);

  const clipnorm = p.clipnorm ?? (typeof model.training?.gradient_clip === 'number' ? model.training.gradient_clip : undefined);
  const before: string[] = [];
  if (typeof clipnorm === 'number' && clipnorm > 0) {
    before.push('for p in parameters:  # clipnorm: each gradient on its own', `    torch.nn.utils.clip_grad_norm_(p, ${pyNum(clipnorm)})`);
  }
  if (typeof p.global_clipnorm === 'number' && p.global_clipnorm > 0) before.push(`torch.nn.utils.clip_grad_norm_(parameters, ${pyNum(p.global_clipnorm)})`);
  if (typeof p.clipvalue === 'number' && p.clipvalue > 0) before.push(`torch.nn.utils.clip_grad_value_(parameters, ${pyNum(p.clipvalue)})`);
  if (spec.cls !== 'AdamW' && typeof p.weight_decay === 'number' && p.weight_decay > 0) {
    before.push(
      'with torch.no_grad():  # Keras weight_decay: decoupled, variable -= variable * weight_decay * lr',
      '    for group in optimizer.param_groups:',
      '        for p in group["params"]:',
      `            p.mul_(1.0 - group["lr"] * ${pyNum(p.weight_decay)})`,
    );
  }
  if (before.length) result.beforeStep = ['parameters = [p for p in model.parameters() if p.grad is not None]', ...before];
  return result;
}

/** A Keras learning-rate schedule as a multiplier of the initial rate per optimizer step. */
function schedule(call: CallValue, bag: DiagnosticBag): Optimizer['schedule'] {
  const k = call.kwargs;
  const n = (key: string, dflt?: number): string => pyNum(typeof k[key] === 'number' ? (k[key] as number) : num(dflt));
  const div = k.staircase === true ? '//' : '/';
  switch (call.args.length ? '' : call.name) {
    case 'ExponentialDecay':
      return { name: call.name, factor: `${n('decay_rate')} ** (step ${div} ${n('decay_steps')})` };
    case 'StepDecay':
      return { name: call.name, factor: `${n('decay_rate')} ** (step // ${n('decay_steps')})` };
    case 'InverseTimeDecay':
      return { name: call.name, factor: `1.0 / (1.0 + ${n('decay_rate')} * (step ${div} ${n('decay_steps')}))` };
    case 'CosineDecay': {
      const alpha = n('alpha', 0);
      return { name: call.name, factor: `(1 - ${alpha}) * 0.5 * (1 + math.cos(math.pi * min(step, ${n('decay_steps')}) / ${n('decay_steps')})) + ${alpha}` };
    }
    case 'PolynomialDecay': {
      const [init, end] = [n('initial_learning_rate'), n('end_learning_rate', 0.0001)];
      return { name: call.name, factor: `((${init} - ${end}) * (1 - min(step, ${n('decay_steps')}) / ${n('decay_steps')}) ** ${n('power', 1)} + ${end}) / ${init}` };
    }
    default:
      bag.error('unsupported_schedule', `Learning-rate schedule '${call.name}' cannot be emitted for the pytorch backend`, call.loc);
      return undefined;
  }
}

/** True when the model ends in a linear Dense/Output/Activation, so cross-entropies take logits (as in tensorflow.ts). */
function outputsLogits(model: ModelIR): boolean {
  const last = model.layers[model.layers.length - 1];
  if (!last || last.kind !== 'layer' || last.custom) return false;
  if (last.type === 'Dense') return (last.params.activation ?? 'linear') === 'linear';
  if (last.type === 'Output') return last.params.activation === 'linear' || last.params.activation === null;
  return last.type === 'Activation' && last.params.function === 'linear';
}

function trainNumber(v: Value | undefined, fallback: number): number {
  return v === undefined ? fallback : num(v);
}

function trainingSection(checked: CheckedModel, opts: PytorchOptions, bag: DiagnosticBag): string {
  const m = checked.model;
  const loss = KERAS_LOSSES[m.loss ?? 'categorical_crossentropy'];
  if (!loss) bag.error('unsupported_loss', `Loss '${m.loss}' cannot be emitted for the pytorch backend`, m.sectionLocs.loss);
  const logits = outputsLogits(m);
  const outDim = checked.outputShape[checked.outputShape.length - 1];

  const metrics: [string, string, string?][] = [];
  for (const name of m.metrics ?? []) {
    if (name === 'loss') continue;
    const entry = metricEntry(name, loss, outDim);
    if (!entry) bag.error('unsupported_metric', `Metric '${name}' cannot be emitted for the pytorch backend`, m.sectionLocs.metrics, 'supported: accuracy, top-k accuracy, mae, mse, rmse, precision, recall, auc');
    else if (!metrics.some(([key]) => key === entry[0])) metrics.push(entry);
  }

  const dataset = opts.dataset === undefined ? null : (DATASETS[opts.dataset.toLowerCase().replace(/[^a-z0-9]/g, '')] ?? null);
  if (opts.dataset !== undefined && !dataset) {
    bag.error('unknown_dataset', `Unknown dataset '${opts.dataset}' for the pytorch backend`, undefined, `known datasets: ${Object.values(DATASETS).join(', ')}`);
  }
  const t = m.training ?? {};
  const o = optimizer(m, bag);
  if (!loss || bag.hasErrors()) return '';

  const fns = new Set(metrics.map(([, fn]) => fn));
  const out: string[] = [
    `LOSS = ${pyStr(loss)}`,
    `NUM_CLASSES = ${pyValue(outDim)}`,
    `EPOCHS = ${pyNum(trainNumber(t.epochs, 10))}`,
    `BATCH_SIZE = ${pyNum(trainNumber(t.batch_size, 32))}`,
    `LEARNING_RATE = ${pyNum(o.learningRate)}`,
    `VALIDATION_SPLIT = ${pyNum(trainNumber(t.validation_split, 0.2))}`,
    `SAVE_PATH = ${pyValue(typeof t.save_path === 'string' ? t.save_path : null)}`,
    `DEFAULT_DATASET = ${pyValue(dataset)}`,
    `DATASETS = (${Object.values(DATASETS).map(pyStr).join(', ')})`,
    '# Keras clips probabilities to [EPSILON, 1 - EPSILON] before taking logs.',
    'EPSILON = 1e-7',
    '',
    '',
    'def make_optimizer(parameters, learning_rate=None):',
    `    """Keras ${m.optimizer?.type ?? 'Adam'} as a torch optimizer; a given learning_rate replaces the DSL one and its schedule."""`,
    '    lr = LEARNING_RATE if learning_rate is None else learning_rate',
    `    return ${o.ctor}`,
  ];
  if (o.schedule) {
    out.push(
      '',
      '',
      'def make_scheduler(optimizer):',
      `    """Keras ${o.schedule.name}: the learning rate changes after every optimizer step."""`,
      `    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: ${o.schedule.factor})`,
    );
  }
  if (o.beforeStep.length) {
    out.push('', '', 'def before_step(model, optimizer):', '    """What Keras does to the gradients and weights before each update."""', ...o.beforeStep.map((l) => `    ${l}`));
  }
  const lossDoc = loss.endsWith('crossentropy') ? ` on ${logits ? 'logits (the model ends without an activation)' : 'probabilities'}` : '';
  out.push(
    '',
    '',
    'def compute_loss(output, target):',
    `    """Keras ${loss}${lossDoc}, averaged over the batch."""`,
    ...LOSS_BODIES[loss](logits).map((l) => `    ${l}`),
  );
  if (fns.has('accuracy') || fns.has('top_k_accuracy')) {
    out.push(
      '',
      '',
      'def class_targets(output, target):',
      '    """Class indices from sparse or one-hot targets."""',
      '    if target.dim() == output.dim() and target.shape[-1] == output.shape[-1] and output.shape[-1] > 1:',
      '        return target.argmax(dim=-1)',
      '    return target.reshape(output.shape[:-1]).long()',
    );
  }
  if (fns.has('precision') || fns.has('recall') || fns.has('auc')) {
    out.push(
      '',
      '',
      'def dense_targets(output, target):',
      '    """Targets shaped like the output; class indices become one-hot rows."""',
      '    if target.dim() < output.dim() or (target.shape[-1] == 1 and output.shape[-1] > 1):',
      '        return F.one_hot(target.reshape(output.shape[:-1]).long(), output.shape[-1])',
      '    return target.reshape(output.shape)',
    );
  }
  for (const fn of Object.keys(METRIC_FUNCTIONS)) if (fns.has(fn)) out.push('', '', METRIC_FUNCTIONS[fn]);
  const metricRows = metrics.map(([key, fn, finish]) => `(${pyStr(key)}, ${fn}, ${finish ?? 'ratio'})`);
  out.push(
    '',
    '',
    'def ratio(total, count):',
    '    return total / count if count else 0.0',
  );
  if (metrics.some(([, , finish]) => finish === 'root_ratio')) out.push('', '', 'def root_ratio(total, count):', '    return math.sqrt(ratio(total, count))');
  out.push(
    '',
    '',
    '# (Keras history key, function giving a batch\'s statistics, function turning their epoch sums into the value)',
    `METRICS = [${metricRows.join(', ')}]`,
    '',
    '',
    RUN_EPOCH.replace('BEFORE_STEP\n', o.beforeStep.length ? '                before_step(model, optimizer)\n' : ''),
    '',
    '',
    DATA_CODE,
    '',
    '',
    MAIN_CODE.replace('SCHEDULER', o.schedule ? 'make_scheduler(optimizer) if args.learning_rate is None else None' : 'None'),
  );
  return out.join('\n');
}

const RUN_EPOCH = `def run_epoch(model, inputs, labels, batch_size, device, optimizer=None, scheduler=None):
    """One pass over the data, training when an optimizer is given. Returns the loss and metrics the way Keras
    reports them: totals over every sample of the epoch, not averages of batch averages."""
    training = optimizer is not None
    model.train(training)
    count = len(labels)
    order = torch.randperm(count) if training else torch.arange(count)
    sums = {}
    with torch.set_grad_enabled(training):
        for start in range(0, count, batch_size):
            index = order[start:start + batch_size]
            output = model(*[x[index].to(device) for x in inputs])
            target = labels[index].to(device)
            loss = compute_loss(output, target)
            if training:
                optimizer.zero_grad()
                loss.backward()
BEFORE_STEP
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
            rows = [("loss", (loss.detach() * len(index), len(index)))]
            rows += [(name, fn(output.detach(), target)) for name, fn, _ in METRICS]
            for name, stats in rows:
                stats = [torch.as_tensor(s, dtype=torch.float64).cpu() for s in stats]
                sums[name] = [a + b for a, b in zip(sums[name], stats)] if name in sums else stats
    finish = dict([("loss", ratio)] + [(name, f) for name, _, f in METRICS])
    return {name: float(finish[name](*stats)) for name, stats in sums.items()}`;

const DATA_CODE = `def input_shapes():
    return [INPUT_SHAPE] if len(INPUT_NAMES) == 1 else [INPUT_SHAPES[name] for name in INPUT_NAMES]


def fit_input(x, shape):
    """float32 samples, reshaped to the input shape when only the layout differs, e.g. (28, 28) -> (28, 28, 1)."""
    import numpy as np

    x = np.asarray(x, dtype=np.float32)
    if None not in shape and tuple(x.shape[1:]) != tuple(shape):
        if int(np.prod(x.shape[1:])) != int(np.prod(shape)):
            raise SystemExit("training samples have shape %s but the model expects %s" % (tuple(x.shape[1:]), tuple(shape)))
        x = x.reshape((-1,) + tuple(shape))
    return torch.from_numpy(x)


def prepare_labels(y):
    """Labels as a tensor: (n, 1) class indices flattened, one-hot encoded for categorical_crossentropy."""
    import numpy as np

    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1 and NUM_CLASSES != 1:
        y = y.reshape(-1)
    if LOSS == "categorical_crossentropy" and y.ndim == 1 and NUM_CLASSES:
        y = np.eye(NUM_CLASSES, dtype=np.float32)[y.astype(np.int64)]
    return torch.from_numpy(y.astype(np.int64 if np.issubdtype(y.dtype, np.integer) else np.float32))


def load_npz(path):
    """x_train, y_train and optional x_test, y_test (x_train_<input> etc. for several inputs) from an .npz file."""
    import numpy as np

    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}

    def inputs(prefix):
        keys = [prefix] if len(INPUT_NAMES) == 1 else [prefix + "_" + name for name in INPUT_NAMES]
        if not all(key in arrays for key in keys):
            return None
        return [fit_input(arrays[key], shape) for key, shape in zip(keys, input_shapes())]

    x_train, x_test = inputs("x_train"), inputs("x_test")
    if x_train is None or "y_train" not in arrays:
        raise SystemExit("%s must contain x_train and y_train arrays" % path)
    return x_train, arrays["y_train"], x_test, arrays.get("y_test")


def load_dataset(name, root):
    """A torchvision dataset (downloaded into root), scaled to [0, 1]."""
    import numpy as np

    if len(INPUT_NAMES) != 1:
        raise SystemExit("--dataset needs a single-input model; use --data for several inputs")
    try:
        import torchvision
    except ImportError:
        raise SystemExit("--dataset %s needs torchvision, which is not installed (pip install torchvision); or pass --data PATH.npz" % name)

    def split(train):
        data = getattr(torchvision.datasets, name)(root, train=train, download=True)
        return [fit_input(np.asarray(data.data, dtype=np.float32) / 255.0, INPUT_SHAPE)], np.asarray(data.targets)

    (x_train, y_train), (x_test, y_test) = split(True), split(False)
    return x_train, y_train, x_test, y_test`;

const MAIN_CODE = `def parse_args(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description="Train the %s model generated by the Neural DSL compiler." % MODEL_NAME)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--learning-rate", type=float, default=None, help="replaces the DSL learning rate and schedule")
    parser.add_argument("--validation-split", type=float, default=VALIDATION_SPLIT)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--data", default=None, help=".npz file with x_train, y_train and optionally x_test, y_test")
    parser.add_argument("--dataset", choices=DATASETS, default=None, help="a torchvision dataset (needs torchvision)")
    parser.add_argument("--data-dir", default="data", help="where --dataset downloads to")
    parser.add_argument("--save", default=SAVE_PATH, help="where to save the trained state_dict")
    return parser.parse_args(argv)


def main(argv=None):
    import json
    import random

    import numpy as np

    args = parse_args(argv)
    if args.seed is not None:
        random.seed(args.seed)
        np.random.seed(args.seed)
        torch.manual_seed(args.seed)
    if args.data:
        x_train, y_train, x_test, y_test = load_npz(args.data)
    elif args.dataset or DEFAULT_DATASET:
        x_train, y_train, x_test, y_test = load_dataset(args.dataset or DEFAULT_DATASET, args.data_dir)
    else:
        raise SystemExit("no training data: pass --data PATH.npz or --dataset NAME")
    inputs, labels = x_train, prepare_labels(y_train)
    validation = None
    if args.validation_split > 0:
        # Like Keras: the last samples, before shuffling.
        split = int(math.floor(len(labels) * (1.0 - args.validation_split)))
        if not 0 < split < len(labels):
            raise SystemExit("--validation-split %s leaves no training or no validation samples" % args.validation_split)
        validation = [x[split:] for x in inputs], labels[split:]
        inputs, labels = [x[:split] for x in inputs], labels[:split]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = build_model().to(device)
    optimizer = make_optimizer(model.parameters(), args.learning_rate)
    scheduler = SCHEDULER
    for epoch in range(1, args.epochs + 1):
        row = {"epoch": epoch}
        row.update(run_epoch(model, inputs, labels, args.batch_size, device, optimizer, scheduler))
        if validation is not None:
            logs = run_epoch(model, validation[0], validation[1], args.batch_size, device)
            row.update(("val_" + key, value) for key, value in logs.items())
        print(json.dumps(row), flush=True)
    if x_test is not None and y_test is not None:
        logs = run_epoch(model, x_test, prepare_labels(y_test), args.batch_size, device)
        print(json.dumps({"test_" + key: value for key, value in logs.items()}), flush=True)
    if args.save:
        torch.save(model.state_dict(), args.save)


if __name__ == "__main__":
    main()`;
