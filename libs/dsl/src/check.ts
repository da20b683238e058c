import type { CheckOptions, CheckedModel, LayerInfo, ParamFlavor } from './checked';
import { DiagnosticBag, DslError, diag } from './diagnostics';
import { isHpo, isLayer, type BranchNode, type Dim, type LayerNode, type ModelIR, type ModelNode, type Value } from './ir';
import { layerSpec } from './layers';

// Sizes are numbers inside the checker, NaN standing for "unknown" (the batch axis, or a size that depends on a
// hyperparameter): arithmetic then propagates unknowns and every comparison with one is false, so no rule fires on
// a size it cannot know. They become `null` at the boundary.
type Dims = number[];

interface Counts {
  keras: number;
  trainable: number;
  torch: number;
}

/** A layer's result; no `out` when an error leaves its output shape unknown (later layers are then skipped). */
interface Applied {
  out?: Dims;
  counts: Counts;
  /** Rebuilt sublayers when auto-flatten inserted a Flatten among them. */
  sublayers?: ModelNode[];
}

interface Walk {
  nodes: ModelNode[];
  out?: Dims;
  counts: Counts;
}

/** The running tensor; `input` names the model input it still is, so that reading it marks that input used. */
interface Cur {
  shape?: Dims;
  input?: string;
}

const counts = (keras: number, trainable = keras, torch = keras): Counts => ({ keras, trainable, torch });
const ZERO = counts(0);
const UNKNOWN = counts(NaN);
const add = (a: Counts, b: Counts): Counts => counts(a.keras + b.keras, a.trainable + b.trainable, a.torch + b.torch);

const MERGE_LAYERS = 'Add, Subtract, Multiply, Average, Maximum, Minimum, Dot or Concatenate';
const SPATIAL_AXES = ['', 'steps', 'height, width', 'depth, height, width'];

/**
 * Propagates shapes through the model (Keras channels-last semantics, batch axis first) and counts parameters in
 * the Keras and PyTorch conventions. Reports every independent error at once as a DslError; the input model is
 * never mutated (auto-flatten returns a new layer list in `CheckedModel.model`).
 */
export function check(model: ModelIR, opts: CheckOptions = {}): CheckedModel {
  const [first] = model.inputs;
  if (!first) throw new DslError([diag('input', 'Network must have an input section', model.sectionLocs.layers)]);
  const checker = new Checker(model, opts.autoFlatten ?? true);
  const walk = checker.seq(model.layers, { shape: first.shape.map(num), input: first.name }, checker.autoFlatten);
  checker.reportUnusedInputs(model);
  checker.bag.throwIfErrors();
  if (!walk.out) throw new Error('internal: the model output shape is unknown although no error was reported');

  const checkedModel: ModelIR = { ...model, layers: walk.nodes };
  const info = checker.info;
  const outputShape = shape(walk.out);
  return {
    model: checkedModel,
    info,
    outputShape,
    summary: {
      name: model.name,
      input_shape: model.inputs.length === 1 ? first.shape : model.inputs.map((i) => i.shape),
      output_shape: outputShape,
      layers: walk.nodes.map((n) => {
        const i = info.get(n.id)!;
        return { id: n.id, type: i.type, output_shape: i.outputShape, params: i.params };
      }),
      total_params: sumInfo(walk.nodes, info, 'params'),
      trainable_params: sumInfo(walk.nodes, info, 'trainableParams'),
    },
    warnings: checker.bag.warnings(),
  };
}

/** Total parameters of a checked model in one framework's convention; `null` when some layer's count is unknown. */
export function totalParams(checked: CheckedModel, flavor: ParamFlavor): number | null {
  return sumInfo(checked.model.layers, checked.info, flavor === 'keras' ? 'params' : 'torchParams');
}

function sumInfo(nodes: ModelNode[], info: Map<string, LayerInfo>, key: 'params' | 'trainableParams' | 'torchParams'): number | null {
  let total = 0;
  for (const n of nodes) {
    const v = info.get(n.id)?.[key];
    if (v === null || v === undefined) return null;
    total += v;
  }
  return total;
}

class Checker {
  readonly bag = new DiagnosticBag();
  readonly info = new Map<string, LayerInfo>();
  private readonly inputs = new Map<string, { shape: Dims; used: boolean }>();
  private readonly ids = new Set<string>();
  private flattens = 0;

  constructor(model: ModelIR, readonly autoFlatten: boolean) {
    for (const i of model.inputs) this.inputs.set(i.name, { shape: i.shape.map(num), used: false });
    collectIds(model.layers, this.ids);
  }

  reportUnusedInputs(model: ModelIR): void {
    for (const i of model.inputs) {
      if (this.inputs.get(i.name)?.used) continue;
      this.bag.error('unused_input', `Input '${i.name}' is never used`, i.loc, `start a branch with its name and merge it, e.g. ${i.name}: { Dense(16) } Concatenate()`);
    }
  }

  /** Walks a layer sequence from `start`: branches, merges, auto-flatten, and each layer's rule. */
  seq(nodes: ModelNode[], start: Cur, flatten: boolean): Walk {
    const out: ModelNode[] = [];
    let cur = start;
    let total = ZERO;
    let pending: { node: BranchNode; shape?: Dims }[] = [];
    for (const node of nodes) {
      if (node.kind === 'branch') {
        const input = this.inputs.get(node.name);
        if (input) input.used = true;
        const from = input ? input.shape : this.read(cur);
        const body = this.seq(node.body, { shape: from }, flatten);
        if (from && body.out) {
          this.record(node, 'Branch', [from], body.out, body.counts);
          total = add(total, body.counts);
        }
        out.push(body.nodes === node.body ? node : { ...node, body: body.nodes });
        pending.push({ node, shape: body.out });
        continue;
      }
      const isMerge = !node.custom && layerSpec(node.type)?.category === 'merge';
      if (pending.length && !isMerge) {
        this.bag.error('branch', `${node.type} cannot follow ${branchList(pending)}: branches must first be combined by a merge layer`, node.loc, `put ${MERGE_LAYERS} right after the branches`);
        pending = [];
        cur = {};
      }
      if (isMerge) {
        let parts: (Dims | undefined)[] = [];
        if (!pending.length) {
          this.bag.error('branch', `${node.type} has nothing to merge`, node.loc, 'write the paths to merge as branches right before it, e.g. skip: { Dense(64) } Add()');
        } else {
          // One branch merges with the tensor it forked from, so `skip: { ... } Add()` is a residual connection.
          parts = pending.length === 1 ? [this.read(cur), pending[0].shape] : pending.map((p) => p.shape);
        }
        pending = [];
        const shapes = parts.filter((s): s is Dims => s !== undefined);
        cur = { shape: shapes.length && shapes.length === parts.length ? this.merge(node, shapes) : undefined };
        if (cur.shape) this.record(node, node.type, shapes, cur.shape, ZERO);
        out.push(node);
        continue;
      }
      let x = this.read(cur);
      if (!x) {
        // Skipped: its input is unknown because of an earlier error. Named-input branches inside still count.
        if (node.sublayers.length) this.seq(node.sublayers, {}, flatten);
        out.push(node);
        continue;
      }
      if (flatten && !node.custom && (node.type === 'Dense' || node.type === 'Output') && x.length >= 4) {
        const flat: LayerNode = { kind: 'layer', id: this.flattenId(), type: 'Flatten', params: {}, sublayers: [], loc: node.loc };
        const flatShape = flattened(x);
        this.bag.warn('auto_flatten', `${node.type} receives a ${x.length}D input ${fmt(x)}; a Flatten was inserted before it`, node.loc);
        this.record(flat, 'Flatten', [x], flatShape, ZERO);
        out.push(flat);
        x = flatShape;
      }
      const r = this.apply(node, x, flatten);
      if (r.out) {
        this.record(node, node.type, [x], r.out, r.counts);
        total = add(total, r.counts);
      }
      out.push(r.sublayers && r.sublayers !== node.sublayers ? { ...node, sublayers: r.sublayers } : node);
      cur = { shape: r.out };
    }
    if (pending.length) {
      this.bag.error('branch', `${branchList(pending)} ${pending.length === 1 ? 'is' : 'are'} never merged`, pending[0].node.loc, `follow the branches with ${MERGE_LAYERS}`);
      cur = {};
    }
    const same = out.length === nodes.length && out.every((n, i) => n === nodes[i]);
    return { nodes: same ? nodes : out, out: cur.shape, counts: total };
  }

  private read(cur: Cur): Dims | undefined {
    const input = cur.input === undefined ? undefined : this.inputs.get(cur.input);
    if (input) input.used = true;
    return cur.shape;
  }

  private record(node: ModelNode, type: string, inputs: Dims[], out: Dims, c: Counts): void {
    this.info.set(node.id, {
      id: node.id,
      type,
      inputShapes: inputs.map(shape),
      outputShape: shape(out),
      params: count(c.keras),
      trainableParams: count(c.trainable),
      torchParams: count(c.torch),
      loc: node.loc,
    });
  }

  private flattenId(): string {
    let id: string;
    do id = `flatten_auto_${++this.flattens}`;
    while (this.ids.has(id));
    this.ids.add(id);
    return id;
  }

  private merge(node: LayerNode, parts: Dims[]): Dims | undefined {
    const type = node.type;
    const shapes = parts.map(fmt).join(', ');
    const fail = (message: string, hint?: string): undefined => void this.bag.error('shape', message, node.loc, hint);
    if (type === 'Dot') {
      if (parts.length !== 2) return fail(`Dot merges exactly 2 tensors, got ${parts.length}: ${shapes}`);
      const [a, b] = parts;
      const axes = val(node.params.axes, -1);
      const ia = axes < 0 ? a.length + axes : axes;
      const ib = axes < 0 ? b.length + axes : axes;
      if (!(ia >= 1 && ia < a.length && ib >= 1 && ib < b.length)) return fail(`Dot axes ${axes} is out of range for ${shapes}`);
      if (a[ia] !== b[ib] && !Number.isNaN(a[ia] + b[ib])) return fail(`Dot needs equal sizes along axes ${axes}, got ${shapes}`);
      const out = [...a.filter((_, i) => i !== ia), ...b.filter((_, i) => i !== 0 && i !== ib)];
      return out.length === 1 ? [...out, 1] : out;
    }
    if (type === 'Concatenate') {
      const axis = val(node.params.axis, -1);
      const rank = parts[0].length;
      const ax = axis < 0 ? rank + axis : axis;
      if (!(ax >= 1 && ax < rank)) return fail(`Concatenate axis ${axis} is out of range for ${shapes}`);
      const ok = parts.every((s) => s.length === rank && s.every((d, i) => i === ax || compatible(d, parts[0][i])));
      if (!ok) return fail(`Concatenate needs shapes that are equal except along axis ${axis}, got ${shapes}`);
      return parts[0].map((_, i) => (i === ax ? parts.reduce((n, s) => n + s[i], 0) : known(parts.map((s) => s[i]))));
    }
    if (type === 'Subtract' && parts.length !== 2) return fail(`Subtract merges exactly 2 tensors, got ${parts.length}: ${shapes}`);
    const rank = parts[0].length;
    if (!parts.every((s) => s.length === rank && s.every((d, i) => compatible(d, parts[0][i])))) {
      return fail(`${type} needs tensors of the same shape, got ${shapes}`, 'make the merged paths end in the same shape, or use Concatenate');
    }
    return parts[0].map((_, i) => known(parts.map((s) => s[i])));
  }

  /** The rule of one (non-merge) layer on input `x`. */
  private apply(node: LayerNode, x: Dims, flatten: boolean): Applied {
    const { type, params: p } = node;
    const spec = node.custom ? undefined : layerSpec(type);
    const rank = x.length;
    const last = x[rank - 1];
    const fail = (message: string, hint?: string): Applied => {
      this.bag.error('shape', message, node.loc, hint);
      return { counts: UNKNOWN };
    };
    if (!spec || spec.category === 'opaque') {
      const what = node.custom ? `Custom layer ${type}` : type;
      this.bag.warn('opaque_layer', `${what} is opaque to the shape checker: its output shape is assumed equal to its input ${fmt(x)} and its parameter count is unknown`, node.loc);
      return { out: x, counts: UNKNOWN };
    }
    switch (type) {
      case 'Dense':
      case 'Output': {
        if (rank >= 4) {
          const hint = this.autoFlatten ? 'insert Flatten() before it' : 'insert Flatten() before it, or enable auto_flatten_output';
          this.bag.warn('dense_rank', `${type} receives a ${rank}D input ${fmt(x)} and is applied to its last axis`, node.loc, hint);
        }
        const units = val(p.units);
        return { out: [...x.slice(0, -1), units], counts: counts(last * units + val(p.use_bias, 1) * units) };
      }
      case 'Flatten':
        return { out: flattened(x), counts: ZERO };
      case 'Reshape':
        return this.reshape(node, x, fail);
      case 'Embedding': {
        if (rank !== 2) return fail(`Embedding expects 2D input (batch, sequence of token ids), got ${rank}D ${fmt(x)}`, 'its input is a sequence of token ids, e.g. input: (100,)');
        const dim = val(p.output_dim);
        return { out: [x[0], x[1], dim], counts: counts(val(p.input_dim) * dim) };
      }
      case 'BatchNormalization':
      case 'LayerNormalization': {
        const axis = val(p.axis, -1);
        const ax = axis < 0 ? rank + axis : axis;
        if (!Number.isNaN(axis) && !(ax >= 1 && ax < rank)) return fail(`${type} axis ${axis} is out of range for input ${fmt(x)}`);
        const c = x[ax] ?? NaN;
        const affine = (val(p.center, 1) + val(p.scale, 1)) * c;
        // Keras counts BatchNorm's moving mean and variance as (non-trainable) weights; torch keeps them as buffers.
        return { out: x, counts: type === 'BatchNormalization' ? counts(affine + 2 * c, affine, affine) : counts(affine) };
      }
      case 'GroupNormalization':
      case 'InstanceNormalization': {
        const groups = val(p.groups, 1);
        if (last % groups > 0) {
          this.bag.error('shape', `GroupNormalization groups (${groups}) must divide the number of channels (${last}) of ${fmt(x)}`, node.loc, `use a divisor of ${last}`);
        }
        return { out: x, counts: counts((val(p.center, 1) + val(p.scale, 1)) * last) };
      }
      case 'Bidirectional': {
        const inner = p.layer;
        if (!isLayer(inner)) return fail('Bidirectional needs a wrapped layer, e.g. Bidirectional(LSTM(64))');
        const r = this.wrapped(inner, x);
        if (!r.out) return { counts: UNKNOWN };
        const mode = p.merge_mode ?? 'concat';
        const out = [...r.out];
        out[out.length - 1] *= mode === 'concat' ? 2 : typeof mode === 'string' ? 1 : NaN;
        return { out, counts: counts(2 * r.counts.keras, 2 * r.counts.trainable, 2 * r.counts.torch) };
      }
      case 'TimeDistributed': {
        const inner = p.layer;
        if (!isLayer(inner)) return fail('TimeDistributed needs a wrapped layer, e.g. TimeDistributed(Dense(8))');
        if (rank < 3) return fail(`TimeDistributed expects an input with a time axis (3D or more), got ${rank}D ${fmt(x)}`);
        const step = [x[0], ...x.slice(2)];
        const r = this.wrapped(inner, step);
        return r.out ? { out: [x[0], x[1], ...r.out.slice(1)], counts: r.counts } : r;
      }
      case 'ResidualConnection': {
        const body = this.seq(node.sublayers, { shape: x }, flatten);
        if (body.out && !sameShape(body.out, x)) {
          this.bag.error('shape', `ResidualConnection block output ${fmt(body.out)} does not match its input ${fmt(x)}`, node.loc, 'the block is added to its input, so it must keep the shape (e.g. padding="same", as many filters as input channels)');
        }
        return { out: x, counts: body.counts, sublayers: body.nodes };
      }
      case 'Attention':
      case 'MultiHeadAttention':
      case 'TransformerEncoder':
      case 'TransformerDecoder':
      case 'Transformer': {
        if (rank !== 3) return fail(`${type} expects 3D input (batch, timesteps, features), got ${rank}D ${fmt(x)}`, sequenceHint(rank));
        if (type === 'Attention') return { out: x, counts: counts(val(p.use_scale, 0)) };
        if (type === 'MultiHeadAttention') {
          const width = val(p.num_heads) * val(p.key_dim);
          return { out: x, counts: counts(3 * (last * width + width) + width * last + last) };
        }
        return this.transformer(node, x, flatten);
      }
    }
    switch (spec.category) {
      case 'conv':
        return this.conv(node, spec.spatialRank ?? 2, x, fail);
      case 'pool':
      case 'global_pool': {
        const r = spec.spatialRank ?? 2;
        if (rank !== r + 2) return fail(`${type} expects ${r + 2}D input, got ${rank}D ${fmt(x)}`, `${type} takes (batch, ${SPATIAL_AXES[r]}, channels) tensors`);
        if (spec.category === 'global_pool') return { out: [x[0], last], counts: ZERO };
        const size = win(p.pool_size, r);
        const strides = win(p.strides ?? p.pool_size, r);
        const pad = padding(p.padding);
        const spatial = x.slice(1, -1);
        if (pad === 'valid' && spatial.some((d, i) => d < size[i])) {
          return fail(`${type} pool_size ${fmt(size)} exceeds input dimensions ${fmt(spatial)}`, 'use a smaller pool_size or padding="same"');
        }
        return { out: [x[0], ...spatial.map((d, i) => windowOut(d, size[i], strides[i], pad)), last], counts: ZERO };
      }
      case 'recurrent': {
        if (rank !== 3) return fail(`${type} expects 3D input (batch, timesteps, features), got ${rank}D ${fmt(x)}`, sequenceHint(rank));
        if (isHpo(p.return_sequences)) return fail(`${type} return_sequences cannot be a hyperparameter: it changes the output rank`);
        const u = val(p.units);
        const bias = val(p.use_bias, 1) * u;
        const gates = type.startsWith('LSTM') ? 4 : type.startsWith('GRU') ? 3 : 1;
        const weights = u * (last + u);
        // Keras GRU (reset_after) and every torch RNN keep two bias vectors per gate; Keras LSTM/SimpleRNN keep one.
        const keras = gates * (weights + (gates === 3 ? 2 : 1) * bias);
        return { out: p.return_sequences === true ? [x[0], x[1], u] : [x[0], u], counts: counts(keras, keras, gates * (weights + 2 * bias)) };
      }
      case 'merge':
        return fail(`${type} merges branches and cannot be wrapped`);
    }
    // Dropout, SpatialDropout, Activation, GaussianNoise keep the shape.
    const r = spec.spatialRank;
    if (r && rank !== r + 2) return fail(`${type} expects ${r + 2}D input, got ${rank}D ${fmt(x)}`, `${type} takes (batch, ${SPATIAL_AXES[r]}, channels) tensors`);
    return { out: x, counts: ZERO };
  }

  private wrapped(inner: LayerNode, x: Dims): Applied {
    const r = this.apply(inner, x, false);
    if (r.out) this.record(inner, inner.type, [x], r.out, r.counts);
    return r;
  }

  private conv(node: LayerNode, r: number, x: Dims, fail: (message: string, hint?: string) => Applied): Applied {
    const { type, params: p } = node;
    if (x.length !== r + 2) return fail(`${type} expects ${r + 2}D input, got ${x.length}D ${fmt(x)}`, `${type} takes (batch, ${SPATIAL_AXES[r]}, channels) tensors`);
    const k = win(p.kernel_size, r);
    const strides = win(p.strides, r, 1);
    const dilation = win(p.dilation_rate, r, 1);
    if (Math.max(...strides) > 1 && Math.max(...dilation) > 1) {
      return fail(`${type} cannot combine strides ${fmt(strides)} with dilation_rate ${fmt(dilation)}`, 'Keras supports strides > 1 or dilation_rate > 1, not both');
    }
    const pad = padding(p.padding);
    const spatial = x.slice(1, -1);
    let outSpatial: number[];
    if (type === 'Conv2DTranspose') {
      outSpatial = spatial.map((d, i) => (pad === 'same' ? d * strides[i] : pad === 'valid' ? d * strides[i] + Math.max(k[i] - strides[i], 0) : NaN));
    } else {
      const span = k.map((n, i) => dilation[i] * (n - 1) + 1);
      if (pad === 'valid' && spatial.some((d, i) => d < span[i])) {
        const dilated = span.some((n, i) => n !== k[i]) ? ` (${fmt(span)} dilated)` : '';
        return fail(`${type} kernel size ${fmt(k)}${dilated} exceeds input dimensions ${fmt(spatial)}`, 'use a smaller kernel or padding="same"');
      }
      outSpatial = spatial.map((d, i) => windowOut(d, span[i], strides[i], pad));
    }
    const cin = x[x.length - 1];
    const kernel = product(k);
    const bias = val(p.use_bias, 1);
    const filters = val(p.filters);
    const dm = val(p.depth_multiplier, 1);
    if (type === 'DepthwiseConv2D') return { out: [x[0], ...outSpatial, cin * dm], counts: counts(kernel * cin * dm + bias * cin * dm) };
    const weights = type === 'SeparableConv2D' ? kernel * cin * dm + cin * dm * filters : kernel * cin * filters;
    return { out: [x[0], ...outSpatial, filters], counts: counts(weights + bias * filters) };
  }

  private transformer(node: LayerNode, x: Dims, flatten: boolean): Applied {
    const { type, params: p } = node;
    const d = x[2];
    const heads = val(p.num_heads, 8);
    if (d % heads > 0) {
      this.bag.error('shape', `${type} needs the model dimension ${d} to be divisible by num_heads (${heads})`, node.loc, `each head gets ${d} / num_heads features; choose num_heads among the divisors of ${d}`);
    }
    // Self-attention with key_dim = d / num_heads (4d² + 4d whatever the head count) and two LayerNorms (4d).
    const fixed = counts(4 * d * d + 8 * d);
    if (node.sublayers.length) {
      const body = this.seq(node.sublayers, { shape: x }, flatten);
      if (body.out && !sameShape(body.out, x)) {
        this.bag.error('shape', `${type} sublayers must map ${fmt(x)} back to ${fmt(x)}, got ${fmt(body.out)}`, node.loc, `they replace the feed-forward network, so they must end with ${d} features`);
      }
      return { out: x, counts: add(fixed, body.counts), sublayers: body.nodes };
    }
    const ff = val(p.ff_dim, 512);
    return { out: x, counts: add(fixed, counts(2 * d * ff + ff + d)) };
  }

  private reshape(node: LayerNode, x: Dims, fail: (message: string, hint?: string) => Applied): Applied {
    const t = node.params.target_shape;
    if (!Array.isArray(t)) return fail('Reshape needs a target_shape tuple, e.g. Reshape((7, 7, 64))');
    const target = t.map((v) => val(v));
    const free = target.filter((v) => v === -1).length;
    if (free > 1) return fail(`Reshape target_shape ${fmt(target)} can contain -1 only once`);
    const size = product(x.slice(1));
    const fixed = product(target.filter((v) => v !== -1));
    const resolved = free ? size / fixed : fixed;
    if (!Number.isNaN(size + fixed) && (free ? !Number.isInteger(resolved) : size !== fixed)) {
      return fail(`Reshape cannot turn ${fmt(x)} (${size} values) into target_shape ${fmt(target)}`, 'the target must hold the same number of values; -1 lets Reshape infer one dimension');
    }
    return { out: [x[0], ...target.map((v) => (v === -1 ? resolved : v))], counts: ZERO };
  }
}

function collectIds(nodes: ModelNode[], ids: Set<string>): void {
  for (const n of nodes) {
    ids.add(n.id);
    if (n.kind === 'branch') collectIds(n.body, ids);
    else collectIds(isLayer(n.params.layer) ? [...n.sublayers, n.params.layer] : n.sublayers, ids);
  }
}

function branchList(pending: { node: BranchNode }[]): string {
  const names = pending.map((p) => `'${p.node.name}'`).join(', ');
  return pending.length === 1 ? `branch ${names}` : `branches ${names}`;
}

function sequenceHint(rank: number): string {
  return rank === 2
    ? 'it needs a time axis: put an Embedding before it, or declare the input as (timesteps, features)'
    : 'use Reshape or TimeDistributed to get (batch, timesteps, features)';
}

/** A number-valued parameter; NaN when it is a hyperparameter (or another non-number), `dflt` when absent. */
function val(v: Value | undefined, dflt = NaN): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return NaN;
}

/** A window parameter (`kernel_size`, `strides`, ...) as `rank` sizes. */
function win(v: Value | undefined, rank: number, dflt = NaN): number[] {
  const items = Array.isArray(v) ? v : Array<Value | undefined>(rank).fill(v);
  return Array.from({ length: rank }, (_, i) => val(items[i], dflt));
}

function padding(v: Value | undefined): 'valid' | 'same' | undefined {
  return v === undefined || v === null || v === 'valid' ? 'valid' : v === 'same' ? 'same' : undefined;
}

/** Output size along one axis of a conv/pool window of (dilated) size `k`. */
function windowOut(d: number, k: number, stride: number, pad: 'valid' | 'same' | undefined): number {
  if (pad === 'same') return Math.ceil(d / stride);
  return pad === 'valid' ? Math.floor((d - k) / stride) + 1 : NaN;
}

function product(ns: number[]): number {
  return ns.reduce((a, b) => a * b, 1);
}

function flattened(x: Dims): Dims {
  return [x[0], product(x.slice(1))];
}

function compatible(a: number, b: number): boolean {
  return a === b || Number.isNaN(a) || Number.isNaN(b);
}

function sameShape(a: Dims, b: Dims): boolean {
  return a.length === b.length && a.every((d, i) => compatible(d, b[i]));
}

/** The first known size among compatible ones. */
function known(ns: number[]): number {
  return ns.find((n) => !Number.isNaN(n)) ?? NaN;
}

function num(d: Dim): number {
  return d ?? NaN;
}

function shape(x: Dims): Dim[] {
  return x.map((d) => (Number.isNaN(d) ? null : d));
}

function count(n: number): number | null {
  return Number.isNaN(n) ? null : n;
}

/** Python tuple notation, the way Keras prints shapes: `(None, 26, 26, 32)`. */
function fmt(x: Dims): string {
  const items = x.map((d) => (Number.isNaN(d) ? 'None' : String(d)));
  return `(${items.join(', ')}${items.length === 1 ? ',' : ''})`;
}
