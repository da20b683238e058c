/**
 * Builds an in-process tfjs model from the Keras lowering in `keras.ts`: same layers, same names, same parameter
 * counts as the Keras model the TensorFlow emitter writes. Keras layers tfjs lacks (MultiHeadAttention, Attention,
 * GroupNormalization, GRU with reset_after, Subtract, SpatialDropout2D/3D, 3D global pooling, the `exponential` and
 * `leaky_relu` activations) are implemented here with the Keras weight layout. tfjs is passed in, not imported, so the
 * library does not load it unless a caller does.
 */
import { mulberry32, orthogonal } from '../random';
import type * as Tfjs from '@tensorflow/tfjs';
import type { CheckedModel } from '../checked';
import { lowerToKeras, LEAKY_RELU_ALPHA, type KerasArg, type KerasLayer, type KerasNode } from './keras';

type Tf = typeof Tfjs;
type Tensor = Tfjs.Tensor;
type TfShape = Tfjs.Shape;
type TfLayer = Tfjs.layers.Layer;
type Kwargs = Record<string, unknown>;
type Initializer = ReturnType<Tf['initializers']['glorotUniform']>;

export interface TfjsOptions {
  /** Seed for every weight initializer (each gets its own stream); random initial weights when absent. */
  seed?: number;
}

/**
 * The tfjs equivalent of the Keras model for a checked model (HPO resolved). Layer names are the lowering's names,
 * so weights can be matched by name across backends; `countParams()` equals the checker's Keras-flavour total.
 */
export function buildTfjsModel(checked: CheckedModel, tf: Tf, opts: TfjsOptions = {}): Tfjs.LayersModel {
  const graph = lowerToKeras(checked, 'tfjs');
  const factory = new LayerFactory(tf, opts.seed);
  const tensors = new Map<string, Tfjs.SymbolicTensor>();
  const inputs = graph.inputs.map((i) => {
    const t = tf.input({ shape: i.shape, name: i.name });
    tensors.set(i.name, t);
    return t;
  });
  for (const node of graph.nodes) {
    const rank = node.outputShape.length;
    const bnAxis = node.className === 'BatchNormalization' ? ((node.config.axis as number) + rank) % rank : rank - 1;
    if (bnAxis !== rank - 1) {
      // tfjs BatchNormalization broadcasts its statistics along the last axis whatever `axis` says: move the axis last.
      const toLast = Array.from({ length: rank - 1 }, (_, i) => i + 1).filter((d) => d !== bnAxis).concat(bnAxis);
      const back = toLast.map((_, i) => toLast.indexOf(i + 1) + 1);
      const x = tf.layers.permute({ dims: toLast, name: `${node.name}_permute_in` }).apply(tensors.get(node.inputs[0])!);
      const y = factory.make({ ...node, config: { ...node.config, axis: -1 } }).apply(x);
      tensors.set(node.name, tf.layers.permute({ dims: back, name: `${node.name}_permute_out` }).apply(y) as Tfjs.SymbolicTensor);
      continue;
    }
    // tfjs counts a tensor's consumers once per layer but releases it once per use, so a tensor passed twice to the
    // same layer (self-attention, an empty residual block) would be freed too early: repeat uses go through an identity.
    const ins = node.inputs.map((n, i) =>
      node.inputs.indexOf(n) === i ? tensors.get(n)! : (tf.layers.activation({ activation: 'linear', name: `${node.name}_input${i}` }).apply(tensors.get(n)!) as Tfjs.SymbolicTensor),
    );
    const layer = factory.make(node, node.callKwargs.use_causal_mask === true);
    tensors.set(node.name, layer.apply(node.call === 'single' ? ins[0] : ins) as Tfjs.SymbolicTensor);
  }
  const name = /^[A-Za-z_][A-Za-z0-9_]*$/.test(graph.name) ? graph.name : 'neural_model';
  return tf.model({ inputs, outputs: tensors.get(graph.output)!, name });
}

/**
 * DSL activation names tfjs spells differently; `exponential`, `leaky_relu` and `hard_sigmoid` (Keras 3's
 * relu6(x + 3) / 6, where tfjs has Keras 2's 0.2x + 0.5) are registered by `customClasses`.
 */
const ACTIVATIONS: Record<string, string> = { silu: 'swish' };

class LayerFactory {
  private readonly custom: CustomClasses;
  private nextSeed: number | undefined;

  constructor(
    private readonly tf: Tf,
    seed: number | undefined,
  ) {
    this.custom = customClasses(tf);
    this.nextSeed = seed;
  }

  make(layer: KerasLayer, causal = false): TfLayer {
    const tf = this.tf;
    const args = this.args(layer);
    const L = tf.layers;
    switch (layer.className) {
      case 'Dense':
        return L.dense({ ...args, kernelInitializer: this.glorot() } as never);
      case 'Conv1D':
        return L.conv1d({ ...args, kernelInitializer: this.glorot() } as never);
      case 'Conv2D':
        return L.conv2d({ ...args, kernelInitializer: this.glorot() } as never);
      case 'Conv3D':
        return L.conv3d({ ...args, kernelInitializer: this.glorot() } as never);
      case 'Conv2DTranspose':
        return L.conv2dTranspose({ ...args, kernelInitializer: this.glorot() } as never);
      case 'SeparableConv2D':
        return L.separableConv2d({ ...args, depthwiseInitializer: this.glorot(), pointwiseInitializer: this.glorot() } as never);
      case 'DepthwiseConv2D':
        return L.depthwiseConv2d({ ...args, depthwiseInitializer: this.glorot() } as never);
      case 'MaxPooling1D':
        return L.maxPooling1d(args as never);
      case 'MaxPooling2D':
        return L.maxPooling2d(args as never);
      case 'MaxPooling3D':
        return L.maxPooling3d(args as never);
      case 'AveragePooling1D':
        return L.averagePooling1d(args as never);
      case 'AveragePooling2D':
        return L.averagePooling2d(args as never);
      case 'AveragePooling3D':
        return L.averagePooling3d(args as never);
      case 'GlobalAveragePooling1D':
        return L.globalAveragePooling1d(args as never);
      case 'GlobalAveragePooling2D':
        return L.globalAveragePooling2d(args as never);
      case 'GlobalMaxPooling1D':
        return L.globalMaxPooling1d(args as never);
      case 'GlobalMaxPooling2D':
        return L.globalMaxPooling2d(args as never);
      case 'GlobalAveragePooling3D':
      case 'GlobalMaxPooling3D':
        return new this.custom.GlobalPooling3D({ ...args, max: layer.className === 'GlobalMaxPooling3D' });
      case 'Flatten':
        return L.flatten(args as never);
      case 'Dropout':
        return L.dropout(args as never);
      case 'SpatialDropout1D':
        return L.spatialDropout1d(args as never);
      case 'SpatialDropout2D':
      case 'SpatialDropout3D':
        return new this.custom.SpatialDropout(args);
      case 'GaussianNoise':
        return L.gaussianNoise(args as never);
      case 'Activation':
        return L.activation(args as never);
      case 'LeakyReLU':
        return L.leakyReLU(args as never);
      case 'Reshape': {
        // tfjs leaves a -1 in the symbolic shape (it counts the batch axis as unknown): use the checker's shape.
        const shape = 'outputShape' in layer ? (layer as KerasNode).outputShape.slice(1) : [];
        return L.reshape({ ...args, ...(shape.length && shape.every((d) => d !== null) ? { targetShape: shape } : {}) } as never);
      }
      case 'BatchNormalization':
        return L.batchNormalization(args as never);
      case 'LayerNormalization':
        return L.layerNormalization(args as never);
      case 'GroupNormalization':
        return new this.custom.GroupNormalization(args);
      case 'LSTM':
        // tfjs defaults differ from Keras: hard_sigmoid gates, glorot_normal kernels, no unit forget bias.
        return L.lstm({ ...args, recurrentActivation: 'sigmoid', unitForgetBias: true, kernelInitializer: this.glorot(), recurrentInitializer: this.orthogonal() } as never);
      case 'SimpleRNN':
        return L.simpleRNN({ ...args, kernelInitializer: this.glorot(), recurrentInitializer: this.orthogonal() } as never);
      case 'GRU':
        return new this.custom.KerasGRU({ ...args, kernelSeed: this.seed(), recurrentSeed: this.seed() });
      case 'Embedding':
        return L.embedding({ ...args, embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: this.seed() }) } as never);
      case 'Bidirectional':
        return L.bidirectional({ ...args, layer: this.make(layer.config.layer as KerasLayer) } as never);
      case 'TimeDistributed':
        return L.timeDistributed({ ...args, layer: this.make(layer.config.layer as KerasLayer) } as never);
      case 'Attention':
        return new this.custom.DotProductAttention({ ...args, causal });
      case 'MultiHeadAttention':
        return new this.custom.MultiHeadAttention({ ...args, causal, seeds: [this.seed(), this.seed(), this.seed(), this.seed()] });
      case 'Add':
        return L.add(args as never);
      case 'Subtract':
        return new this.custom.Subtract(args);
      case 'Multiply':
        return L.multiply(args as never);
      case 'Average':
        return L.average(args as never);
      case 'Maximum':
        return L.maximum(args as never);
      case 'Minimum':
        return L.minimum(args as never);
      case 'Dot':
        return L.dot(args as never);
      case 'Concatenate':
        return L.concatenate(args as never);
      default:
        throw new Error(`internal: no tfjs layer for Keras class ${layer.className}`);
    }
  }

  /** camelCase constructor arguments with tfjs activation names; nested layers are built by the caller. */
  private args(layer: KerasLayer): Kwargs {
    const out: Kwargs = { name: layer.name };
    for (const [key, value] of Object.entries(layer.config)) {
      if (key === 'layer') continue;
      out[key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = key === 'activation' ? tfjsActivation(value) : value;
    }
    return out;
  }

  private seed(): number | undefined {
    if (this.nextSeed === undefined) return undefined;
    return this.nextSeed++;
  }

  private glorot(): Initializer {
    return this.tf.initializers.glorotUniform({ seed: this.seed() });
  }

  private orthogonal(): Initializer {
    return new this.custom.Orthogonal({ seed: this.seed() });
  }
}

function tfjsActivation(v: KerasArg): string {
  const name = typeof v === 'string' ? v : 'linear';
  return ACTIVATIONS[name] ?? name;
}

/**
 * Registers the custom layer and initializer classes with `tf`'s serialization, so a saved model that uses them loads
 * (`tf.loadLayersModel`) in a process that has not built one; `buildTfjsModel` does this itself.
 */
export function registerTfjsCustomClasses(tf: Tf): void {
  customClasses(tf);
}

type CustomClasses = ReturnType<typeof defineCustomClasses>;

const CUSTOM = new WeakMap<Tf, CustomClasses>();

/** The custom layer classes for one tfjs instance (they must extend that instance's Layer), registered once. */
function customClasses(tf: Tf): CustomClasses {
  let classes = CUSTOM.get(tf);
  if (!classes) {
    classes = defineCustomClasses(tf);
    CUSTOM.set(tf, classes);
  }
  return classes;
}

function defineCustomClasses(tf: Tf) {
  const Layer = tf.layers.Layer;
  type LayerArgs = ConstructorParameters<typeof Layer>[0] & Kwargs;
  type LayerVariable = Tfjs.LayerVariable;
  const firstShape = (s: TfShape | TfShape[]): TfShape => (Array.isArray(s[0]) ? (s as TfShape[])[0] : (s as TfShape));
  const lastDim = (s: TfShape): number => {
    const d = s[s.length - 1];
    if (d === null) throw new Error('internal: the last dimension must be known');
    return d;
  };
  const glorot = (seed: unknown) => tf.initializers.glorotUniform({ seed: seed as number | undefined });
  const one = (inputs: Tensor | Tensor[]): Tensor => (Array.isArray(inputs) ? inputs[0] : inputs);
  /** Lower-triangular mask added to attention scores: position i attends to j <= i, like Keras `use_causal_mask`. */
  const causalBias = (tq: number, tk: number): Tensor => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([tq, tk]), -1, 0)), -1e9);

  // tfjs does not export its Initializer base class; layers accept only its instances.
  const InitializerBase = Object.getPrototypeOf(tf.initializers.zeros().constructor) as new () => Initializer;

  /**
   * Keras `Orthogonal` (Q of the QR of a normal matrix, sign-fixed so R has a positive diagonal), by Gram-Schmidt in
   * plain JS: tfjs' own QR takes seconds for a 128x512 recurrent kernel.
   */
  class Orthogonal extends InitializerBase {
    static className = 'NeuralOrthogonal';
    readonly seed?: number;
    constructor(args: { seed?: number } = {}) {
      super();
      this.seed = args.seed;
    }
    override apply(shape: number[]): Tensor {
      const cols = shape[shape.length - 1];
      const rows = shape.reduce((x, y) => x * y, 1) / cols;
      // Unseeded initialisation is random by design, as in Keras.
      return tf.tensor(orthogonal(rows, cols, mulberry32(this.seed ?? Math.floor(Math.random() * 2 ** 32))), shape);
    }
    override getConfig(): Tfjs.serialization.ConfigDict {
      return this.seed === undefined ? {} : { seed: this.seed };
    }
  }

  class Exponential extends tf.serialization.Serializable {
    static className = 'exponential';
    apply(x: Tensor): Tensor {
      return tf.exp(x);
    }
    getConfig() {
      return {};
    }
  }

  class HardSigmoid extends tf.serialization.Serializable {
    static className = 'hard_sigmoid';
    apply(x: Tensor): Tensor {
      return tf.tidy(() => tf.div(tf.relu6(tf.add(x, 3)), 6));
    }
    getConfig() {
      return {};
    }
  }

  class LeakyRelu extends tf.serialization.Serializable {
    static className = 'leaky_relu';
    apply(x: Tensor): Tensor {
      return tf.leakyRelu(x, LEAKY_RELU_ALPHA);
    }
    getConfig() {
      return {};
    }
  }

  class Subtract extends Layer {
    static className = 'NeuralSubtract';
    constructor(args: LayerArgs) {
      super(args);
      this.supportsMasking = true;
    }
    override computeOutputShape(s: TfShape | TfShape[]): TfShape {
      return firstShape(s);
    }
    override call(inputs: Tensor | Tensor[]): Tensor {
      return tf.tidy(() => tf.sub((inputs as Tensor[])[0], (inputs as Tensor[])[1]));
    }
  }

  class GlobalPooling3D extends Layer {
    static className = 'NeuralGlobalPooling3D';
    private readonly max: boolean;
    constructor(args: LayerArgs) {
      super(args);
      this.max = args.max === true;
    }
    override computeOutputShape(s: TfShape | TfShape[]): TfShape {
      const shape = firstShape(s);
      return [shape[0], shape[4]];
    }
    override call(inputs: Tensor | Tensor[]): Tensor {
      return tf.tidy(() => (this.max ? tf.max(one(inputs), [1, 2, 3]) : tf.mean(one(inputs), [1, 2, 3])));
    }
    override getConfig() {
      return { ...super.getConfig(), max: this.max };
    }
  }

  /** Keras SpatialDropout2D/3D: drops whole channels while training. */
  class SpatialDropout extends Layer {
    static className = 'NeuralSpatialDropout';
    private readonly rate: number;
    constructor(args: LayerArgs) {
      super(args);
      this.rate = args.rate as number;
      this.supportsMasking = true;
    }
    override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor {
      return tf.tidy(() => {
        const x = one(inputs);
        if (kwargs.training !== true || this.rate <= 0) return tf.clone(x);
        const noise = x.shape.map((d, i) => (i === 0 || i === x.rank - 1 ? d : 1));
        return tf.dropout(x, this.rate, noise);
      });
    }
    override getConfig() {
      return { ...super.getConfig(), rate: this.rate };
    }
  }

  /** Keras GroupNormalization (groups -1 = one group per channel, i.e. instance normalization); gamma, beta [C]. */
  class GroupNormalization extends Layer {
    static className = 'NeuralGroupNormalization';
    private readonly groups: number;
    private readonly epsilon: number;
    private readonly center: boolean;
    private readonly scale: boolean;
    private gamma?: LayerVariable;
    private beta?: LayerVariable;
    constructor(args: LayerArgs) {
      super(args);
      this.groups = args.groups as number;
      this.epsilon = args.epsilon as number;
      this.center = args.center !== false;
      this.scale = args.scale !== false;
      this.supportsMasking = true;
    }
    override build(s: TfShape | TfShape[]): void {
      const c = lastDim(firstShape(s));
      if (this.scale) this.gamma = this.addWeight('gamma', [c], 'float32', tf.initializers.ones());
      if (this.center) this.beta = this.addWeight('beta', [c], 'float32', tf.initializers.zeros());
      this.built = true;
    }
    override call(inputs: Tensor | Tensor[]): Tensor {
      return tf.tidy(() => {
        const x = one(inputs);
        const c = x.shape[x.rank - 1];
        const g = this.groups === -1 ? c : this.groups;
        const grouped = tf.reshape(x, [...x.shape.slice(0, -1), g, c / g]);
        const axes = [...Array.from({ length: x.rank - 2 }, (_, i) => i + 1), x.rank];
        const { mean, variance } = tf.moments(grouped, axes, true);
        let y = tf.reshape(tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, this.epsilon))), x.shape);
        if (this.gamma) y = tf.mul(y, this.gamma.read());
        if (this.beta) y = tf.add(y, this.beta.read());
        return y;
      });
    }
    override getConfig() {
      return { ...super.getConfig(), groups: this.groups, epsilon: this.epsilon, center: this.center, scale: this.scale };
    }
  }

  /** Keras `Attention` (dot-product) called as `([query, value])`, key = value; `use_scale` adds a scalar weight. */
  class DotProductAttention extends Layer {
    static className = 'NeuralDotProductAttention';
    private readonly useScale: boolean;
    private readonly causal: boolean;
    private scaleWeight?: LayerVariable;
    constructor(args: LayerArgs) {
      super(args);
      this.useScale = args.useScale === true;
      this.causal = args.causal === true;
      this.supportsMasking = true;
    }
    override build(): void {
      if (this.useScale) this.scaleWeight = this.addWeight('scale', [], 'float32', tf.initializers.ones());
      this.built = true;
    }
    override computeOutputShape(s: TfShape | TfShape[]): TfShape {
      return firstShape(s);
    }
    override call(inputs: Tensor | Tensor[]): Tensor {
      return tf.tidy(() => {
        const [q, v] = inputs as Tensor[];
        let scores = tf.matMul(q, v, false, true);
        if (this.scaleWeight) scores = tf.mul(scores, this.scaleWeight.read());
        if (this.causal) scores = tf.add(scores, causalBias(q.shape[1]!, v.shape[1]!));
        return tf.matMul(tf.softmax(scores), v);
      });
    }
    override getConfig() {
      return { ...super.getConfig(), useScale: this.useScale, causal: this.causal };
    }
  }

  /**
   * Keras MultiHeadAttention called as `(query, value)`, key = value. Weights in Keras order and shapes:
   * query/key/value kernel [d, h, kd] and bias [h, kd], output kernel [h, kd, d] and bias [d].
   */
  class MultiHeadAttention extends Layer {
    static className = 'NeuralMultiHeadAttention';
    private readonly numHeads: number;
    private readonly keyDim: number;
    private readonly rate: number;
    private readonly causal: boolean;
    private readonly seeds: (number | undefined)[];
    private w: LayerVariable[] = [];
    constructor(args: LayerArgs) {
      super(args);
      this.numHeads = args.numHeads as number;
      this.keyDim = args.keyDim as number;
      this.rate = (args.dropout as number | undefined) ?? 0;
      this.causal = args.causal === true;
      this.seeds = (args.seeds as (number | undefined)[] | undefined) ?? [];
      this.supportsMasking = true;
    }
    override build(s: TfShape | TfShape[]): void {
      const shapes = s as TfShape[];
      const d = lastDim(shapes[0]);
      const dv = lastDim(shapes[1] ?? shapes[0]);
      const [h, kd] = [this.numHeads, this.keyDim];
      const zeros = tf.initializers.zeros();
      this.w = [
        this.addWeight('query_kernel', [d, h, kd], 'float32', glorot(this.seeds[0])),
        this.addWeight('query_bias', [h, kd], 'float32', zeros),
        this.addWeight('key_kernel', [dv, h, kd], 'float32', glorot(this.seeds[1])),
        this.addWeight('key_bias', [h, kd], 'float32', zeros),
        this.addWeight('value_kernel', [dv, h, kd], 'float32', glorot(this.seeds[2])),
        this.addWeight('value_bias', [h, kd], 'float32', zeros),
        this.addWeight('attention_output_kernel', [h, kd, d], 'float32', glorot(this.seeds[3])),
        this.addWeight('attention_output_bias', [d], 'float32', zeros),
      ];
      this.built = true;
    }
    override computeOutputShape(s: TfShape | TfShape[]): TfShape {
      return firstShape(s);
    }
    override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor {
      return tf.tidy(() => {
        const [q, v] = inputs as Tensor[];
        const [h, kd] = [this.numHeads, this.keyDim];
        const [wq, bq, wk, bk, wv, bv, wo, bo] = this.w.map((w) => w.read());
        // [b, t, d] → [b, h, t, kd]
        const project = (x: Tensor, kernel: Tensor, bias: Tensor): Tensor => {
          const din = x.shape[x.rank - 1];
          const y = tf.add(tf.matMul(tf.reshape(x, [-1, din]), tf.reshape(kernel, [din, h * kd])), tf.reshape(bias, [h * kd]));
          return tf.transpose(tf.reshape(y, [-1, x.shape[1] as number, h, kd]), [0, 2, 1, 3]);
        };
        const query = tf.mul(project(q, wq, bq), 1 / Math.sqrt(kd));
        const key = project(v, wk, bk);
        const value = project(v, wv, bv);
        let scores = tf.matMul(query, key, false, true);
        if (this.causal) scores = tf.add(scores, causalBias(q.shape[1]!, v.shape[1]!));
        let attn = tf.softmax(scores);
        if (kwargs.training === true && this.rate > 0) attn = tf.dropout(attn, this.rate);
        const heads = tf.reshape(tf.transpose(tf.matMul(attn, value), [0, 2, 1, 3]), [-1, h * kd]);
        const d = bo.shape[0];
        return tf.reshape(tf.add(tf.matMul(heads, tf.reshape(wo, [h * kd, d])), bo), [-1, q.shape[1] as number, d]);
      });
    }
    override getConfig() {
      return { ...super.getConfig(), numHeads: this.numHeads, keyDim: this.keyDim, dropout: this.rate, causal: this.causal };
    }
  }

  /**
   * Keras GRUCell with reset_after=True (the Keras default, which tfjs lacks): kernel [in, 3u], recurrent_kernel
   * [u, 3u], bias [2, 3u] (input and recurrent biases), gates z, r, h; the reset gate applies after the recurrent matmul.
   */
  class KerasGRUCell extends tf.layers.RNNCell {
    static className = 'NeuralKerasGRUCell';
    readonly stateSize: number;
    private readonly units: number;
    private readonly useBias: boolean;
    private readonly activationName: string;
    private readonly kernelSeed?: number;
    private readonly recurrentSeed?: number;
    private readonly act: TfLayer;
    private kernel!: LayerVariable;
    private recurrentKernel!: LayerVariable;
    private bias?: LayerVariable;
    constructor(args: LayerArgs) {
      super(args);
      this.units = args.units as number;
      this.stateSize = this.units;
      this.useBias = args.useBias !== false;
      this.activationName = (args.activation as string | undefined) ?? 'tanh';
      this.kernelSeed = args.kernelSeed as number | undefined;
      this.recurrentSeed = args.recurrentSeed as number | undefined;
      this.act = tf.layers.activation({ activation: this.activationName as never });
    }
    override build(s: TfShape | TfShape[]): void {
      const input = lastDim(firstShape(s));
      const u = this.units;
      this.kernel = this.addWeight('kernel', [input, 3 * u], 'float32', glorot(this.kernelSeed));
      this.recurrentKernel = this.addWeight('recurrent_kernel', [u, 3 * u], 'float32', new Orthogonal({ seed: this.recurrentSeed }));
      if (this.useBias) this.bias = this.addWeight('bias', [2, 3 * u], 'float32', tf.initializers.zeros());
      this.built = true;
    }
    override call(inputs: Tensor | Tensor[]): Tensor[] {
      return tf.tidy(() => {
        const [x, hPrev] = inputs as Tensor[];
        let mx = tf.matMul(x, this.kernel.read());
        let mh = tf.matMul(hPrev, this.recurrentKernel.read());
        if (this.bias) {
          const [bx, bh] = tf.unstack(this.bias.read());
          mx = tf.add(mx, bx);
          mh = tf.add(mh, bh);
        }
        const [xz, xr, xh] = tf.split(mx, 3, -1);
        const [hz, hr, hh] = tf.split(mh, 3, -1);
        const z = tf.sigmoid(tf.add(xz, hz));
        const r = tf.sigmoid(tf.add(xr, hr));
        const candidate = this.act.apply(tf.add(xh, tf.mul(r, hh))) as Tensor;
        const h = tf.add(tf.mul(z, hPrev), tf.mul(tf.sub(1, z), candidate));
        return [h, h];
      });
    }
    override getConfig() {
      return {
        ...super.getConfig(),
        units: this.units,
        useBias: this.useBias,
        activation: this.activationName,
        ...(this.kernelSeed === undefined ? {} : { kernelSeed: this.kernelSeed }),
        ...(this.recurrentSeed === undefined ? {} : { recurrentSeed: this.recurrentSeed }),
      };
    }
  }

  /** A GRU layer over KerasGRUCell; its own class because Bidirectional clones layers through their config. */
  class KerasGRU extends tf.layers.RNN {
    static override className = 'NeuralKerasGRU';
    constructor(args: LayerArgs) {
      super({ ...args, cell: new KerasGRUCell(args) } as never);
    }
    static override fromConfig<T extends Tfjs.serialization.Serializable>(cls: Tfjs.serialization.SerializableConstructor<T>, config: Tfjs.serialization.ConfigDict): T {
      return new cls(config);
    }
  }

  for (const cls of [Orthogonal, Exponential, HardSigmoid, LeakyRelu, Subtract, GlobalPooling3D, SpatialDropout, GroupNormalization, DotProductAttention, MultiHeadAttention, KerasGRUCell, KerasGRU]) {
    tf.serialization.registerClass(cls as never);
  }
  return { Orthogonal, Subtract, GlobalPooling3D, SpatialDropout, GroupNormalization, DotProductAttention, MultiHeadAttention, KerasGRU };
}

/** Standard normal samples: mulberry32 + Box-Muller from a seed, Math.random without one. */
