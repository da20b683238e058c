/**
 * The layer catalogue: every built-in layer type, its positional parameters, the named parameters it accepts,
 * their kinds and defaults. The parser uses it to normalise and validate; the checker and emitters rely on the
 * normalised form it guarantees (e.g. Conv2D always has `kernel_size: [kh, kw]`, `strides`, `padding`).
 */

export type ParamKind =
  /** Integer; `min` defaults to 1 (positive). Integral floats (64.0) are accepted. */
  | { kind: 'int'; min?: number }
  | { kind: 'float'; min?: number; max?: number }
  | { kind: 'bool' }
  | { kind: 'string'; oneOf?: readonly string[] }
  | { kind: 'activation' }
  /** An int or a tuple of `rank` ints (rank = the layer's spatial rank); normalised to a tuple. */
  | { kind: 'window'; min?: number }
  /** A tuple of ints of any length (Reshape target, -1 allowed once). */
  | { kind: 'shape' }
  /** A wrapped layer: `TimeDistributed(Dense(8))`. */
  | { kind: 'layer' }
  | { kind: 'any' };

export interface ParamSpec {
  name: string;
  type: ParamKind;
  required?: boolean;
  /** Filled in when the parameter is not given. `undefined` = left absent. */
  default?: unknown;
}

export type LayerCategory =
  | 'core'
  | 'conv'
  | 'pool'
  | 'global_pool'
  | 'norm'
  | 'recurrent'
  | 'wrapper'
  | 'embedding'
  | 'attention'
  | 'merge'
  | 'residual'
  | 'reshape'
  | 'opaque';

export interface LayerSpec {
  type: string;
  category: LayerCategory;
  positional: readonly string[];
  params: readonly ParamSpec[];
  /** Spatial rank of conv/pool layers (1, 2 or 3). */
  spatialRank?: 1 | 2 | 3;
  /** Parameter name aliases accepted from the source (`stride` → `strides`). */
  aliases?: Readonly<Record<string, string>>;
  /** Whether a `{ ... }` block is meaningful for this type. */
  block?: boolean;
  /** Custom message when too many positional arguments are given. */
  tooManyPositional?: string;
}

/** [CANON] activation names (case-insensitive in the source, lowercase in the IR). */
export const ACTIVATIONS = [
  'relu', 'sigmoid', 'tanh', 'softmax', 'softplus', 'softsign', 'selu', 'elu', 'exponential', 'linear',
  'leaky_relu', 'swish', 'gelu', 'silu', 'mish', 'hard_sigmoid',
] as const;

export const PADDINGS = ['valid', 'same'] as const;

const int = (min = 1): ParamKind => ({ kind: 'int', min });
const float = (min?: number, max?: number): ParamKind => ({ kind: 'float', min, max });
const bool: ParamKind = { kind: 'bool' };
const act: ParamKind = { kind: 'activation' };
const window: ParamKind = { kind: 'window' };
const padding: ParamKind = { kind: 'string', oneOf: PADDINGS };

const p = (name: string, type: ParamKind, extra: Partial<ParamSpec> = {}): ParamSpec => ({ name, type, ...extra });

function conv(type: string, rank: 1 | 2 | 3): LayerSpec {
  return {
    type,
    category: 'conv',
    spatialRank: rank,
    positional: ['filters', 'kernel_size', 'activation'],
    params: [
      p('filters', int(), { required: true }),
      p('kernel_size', window, { required: true }),
      p('strides', window, { default: 1 }),
      p('padding', padding, { default: 'valid' }),
      p('dilation_rate', window, { default: 1 }),
      p('activation', act, { default: null }),
      p('use_bias', bool, { default: true }),
    ],
    aliases: { stride: 'strides', dilation: 'dilation_rate' },
  };
}

function pool(type: string, rank: 1 | 2 | 3): LayerSpec {
  return {
    type,
    category: 'pool',
    spatialRank: rank,
    positional: ['pool_size', 'strides', 'padding'],
    params: [
      p('pool_size', window, { required: true }),
      // Filled from pool_size by the parser when absent (Keras: strides default to pool_size).
      p('strides', window),
      p('padding', padding, { default: 'valid' }),
    ],
    aliases: { stride: 'strides' },
  };
}

function globalPool(type: string, rank: 1 | 2 | 3): LayerSpec {
  return { type, category: 'global_pool', spatialRank: rank, positional: [], params: [] };
}

function rnn(type: string): LayerSpec {
  return {
    type,
    category: 'recurrent',
    positional: ['units'],
    params: [
      p('units', int(), { required: true }),
      p('activation', act, { default: 'tanh' }),
      p('return_sequences', bool, { default: false }),
      p('use_bias', bool, { default: true }),
    ],
  };
}

function spatialDropout(type: string, rank: 1 | 2 | 3): LayerSpec {
  return { type, category: 'core', spatialRank: rank, positional: ['rate'], params: [p('rate', float(0, 1), { required: true })] };
}

function merge(type: string): LayerSpec {
  return { type, category: 'merge', positional: [], params: [] };
}

function transformer(type: string): LayerSpec {
  return {
    type,
    category: 'attention',
    positional: [],
    params: [
      p('num_heads', int(), { default: 8 }),
      p('ff_dim', int(), { default: 512 }),
      p('dropout', float(0, 1), { default: 0.1 }),
      p('epsilon', float(0), { default: 1e-6 }),
    ],
    block: true,
  };
}

function opaque(type: string): LayerSpec {
  return { type, category: 'opaque', positional: [], params: [] };
}

const SPECS: LayerSpec[] = [
  {
    type: 'Dense',
    category: 'core',
    positional: ['units', 'activation'],
    params: [p('units', int(), { required: true }), p('activation', act, { default: null }), p('use_bias', bool, { default: true })],
    tooManyPositional: 'Dense with more than two positional parameters is not supported',
  },
  {
    type: 'Output',
    category: 'core',
    positional: ['units', 'activation'],
    params: [p('units', int(), { required: true }), p('activation', act, { default: 'softmax' }), p('use_bias', bool, { default: true })],
    tooManyPositional: 'Output layer accepts at most two positional arguments (units, activation)',
  },
  { type: 'Flatten', category: 'reshape', positional: [], params: [] },
  { type: 'Dropout', category: 'core', positional: ['rate'], params: [p('rate', float(0, 1), { required: true })] },
  spatialDropout('SpatialDropout1D', 1),
  spatialDropout('SpatialDropout2D', 2),
  spatialDropout('SpatialDropout3D', 3),
  {
    type: 'Activation',
    category: 'core',
    positional: ['function', 'alpha'],
    params: [p('function', act, { required: true }), p('alpha', float(0))],
    aliases: { activation: 'function' },
  },
  { type: 'GaussianNoise', category: 'core', positional: ['stddev'], params: [p('stddev', float(0), { required: true })] },
  { type: 'Reshape', category: 'reshape', positional: ['target_shape'], params: [p('target_shape', { kind: 'shape' }, { required: true })] },

  conv('Conv1D', 1),
  conv('Conv2D', 2),
  conv('Conv3D', 3),
  {
    ...conv('Conv2DTranspose', 2),
    params: conv('Conv2DTranspose', 2).params.filter((s) => s.name !== 'dilation_rate'),
    aliases: { stride: 'strides' },
  },
  {
    ...conv('SeparableConv2D', 2),
    params: [...conv('SeparableConv2D', 2).params, p('depth_multiplier', int(), { default: 1 })],
  },
  {
    type: 'DepthwiseConv2D',
    category: 'conv',
    spatialRank: 2,
    positional: ['kernel_size'],
    params: [
      p('kernel_size', window, { required: true }),
      p('strides', window, { default: 1 }),
      p('padding', padding, { default: 'valid' }),
      p('dilation_rate', window, { default: 1 }),
      p('depth_multiplier', int(), { default: 1 }),
      p('activation', act, { default: null }),
      p('use_bias', bool, { default: true }),
    ],
    aliases: { stride: 'strides' },
  },

  pool('MaxPooling1D', 1),
  pool('MaxPooling2D', 2),
  pool('MaxPooling3D', 3),
  pool('AveragePooling1D', 1),
  pool('AveragePooling2D', 2),
  pool('AveragePooling3D', 3),
  globalPool('GlobalAveragePooling1D', 1),
  globalPool('GlobalAveragePooling2D', 2),
  globalPool('GlobalAveragePooling3D', 3),
  globalPool('GlobalMaxPooling1D', 1),
  globalPool('GlobalMaxPooling2D', 2),
  globalPool('GlobalMaxPooling3D', 3),

  {
    type: 'BatchNormalization',
    category: 'norm',
    positional: [],
    params: [
      p('momentum', float(0, 1), { default: 0.99 }),
      p('epsilon', float(0), { default: 1e-3 }),
      p('axis', int(-8), { default: -1 }),
      p('center', bool, { default: true }),
      p('scale', bool, { default: true }),
    ],
  },
  {
    type: 'LayerNormalization',
    category: 'norm',
    positional: [],
    params: [p('epsilon', float(0), { default: 1e-3 }), p('axis', int(-8), { default: -1 }), p('center', bool, { default: true }), p('scale', bool, { default: true })],
  },
  {
    type: 'InstanceNormalization',
    category: 'norm',
    positional: [],
    params: [p('epsilon', float(0), { default: 1e-3 }), p('center', bool, { default: true }), p('scale', bool, { default: true })],
  },
  {
    type: 'GroupNormalization',
    category: 'norm',
    positional: ['groups'],
    params: [p('groups', int(), { default: 32 }), p('epsilon', float(0), { default: 1e-3 }), p('center', bool, { default: true }), p('scale', bool, { default: true })],
  },

  rnn('LSTM'),
  rnn('GRU'),
  rnn('SimpleRNN'),
  // A cell placed directly in a layer stack runs over the sequence like its recurrent layer (Keras `RNN(cell)`).
  { ...rnn('LSTMCell'), params: rnn('LSTMCell').params.filter((s) => s.name !== 'return_sequences') },
  { ...rnn('GRUCell'), params: rnn('GRUCell').params.filter((s) => s.name !== 'return_sequences') },
  {
    type: 'SimpleRNNDropoutWrapper',
    category: 'recurrent',
    positional: ['units'],
    params: [p('units', int(), { required: true }), p('dropout', float(0, 1), { default: 0 })],
  },
  {
    type: 'Bidirectional',
    category: 'wrapper',
    positional: ['layer'],
    params: [p('layer', { kind: 'layer' }, { required: true }), p('merge_mode', { kind: 'string', oneOf: ['concat', 'sum', 'mul', 'ave'] }, { default: 'concat' })],
  },
  {
    type: 'TimeDistributed',
    category: 'wrapper',
    positional: ['layer'],
    params: [p('layer', { kind: 'layer' }, { required: true })],
  },
  {
    type: 'Embedding',
    category: 'embedding',
    positional: ['input_dim', 'output_dim'],
    params: [p('input_dim', int(), { required: true }), p('output_dim', int(), { required: true }), p('input_length', int()), p('mask_zero', bool, { default: false })],
  },

  transformer('TransformerEncoder'),
  transformer('TransformerDecoder'),
  transformer('Transformer'),
  { type: 'Attention', category: 'attention', positional: [], params: [p('use_scale', bool, { default: false }), p('causal', bool, { default: false })] },
  {
    type: 'MultiHeadAttention',
    category: 'attention',
    positional: ['num_heads', 'key_dim'],
    params: [p('num_heads', int(), { required: true }), p('key_dim', int(), { required: true }), p('dropout', float(0, 1), { default: 0 })],
  },

  merge('Add'),
  merge('Subtract'),
  merge('Multiply'),
  merge('Average'),
  merge('Maximum'),
  merge('Minimum'),
  { type: 'Dot', category: 'merge', positional: ['axes'], params: [p('axes', int(-8), { default: -1 }), p('normalize', bool, { default: false })] },
  { type: 'Concatenate', category: 'merge', positional: ['axis'], params: [p('axis', int(-8), { default: -1 })] },
  { type: 'ResidualConnection', category: 'residual', positional: [], params: [], block: true },

  { type: 'Lambda', category: 'opaque', positional: ['function'], params: [p('function', { kind: 'string' }, { required: true })] },
  {
    type: 'CustomShape',
    category: 'opaque',
    positional: ['layer', 'custom_dims'],
    params: [p('layer', { kind: 'string' }, { required: true }), p('custom_dims', { kind: 'shape' }, { required: true })],
  },
  opaque('Inception'),
  opaque('CapsuleLayer'),
  opaque('SqueezeExcitation'),
  opaque('GraphConv'),
  opaque('GraphAttention'),
  opaque('QuantumLayer'),
  opaque('DynamicLayer'),
];

const BY_LOWER = new Map(SPECS.map((s) => [s.type.toLowerCase(), s]));

/** Every canonical built-in layer type. */
export const LAYER_TYPES: readonly string[] = SPECS.map((s) => s.type);

/** The spec of a built-in layer, looked up case-insensitively (`conv2d` → Conv2D). */
export function layerSpec(name: string): LayerSpec | undefined {
  return BY_LOWER.get(name.toLowerCase());
}

/** User-defined layer names the DSL passes through: `MyAttentionLayer`, `CustomRNN`, `PositionalEncoder`, ... */
export const CUSTOM_LAYER_PATTERN = /^[A-Z][A-Za-z0-9_]*(Layers?|RNNs?|Transformers?|Encoders?|Decoders?|Regularizers?|Initializers?|Constraints?)$/;

/**
 * Loss names accepted by `loss:` (lowercase) and the Keras loss each one means. `cross_entropy` and `nll` take class
 * indices, like PyTorch's losses of those names.
 */
export const KERAS_LOSSES: Readonly<Record<string, string>> = {
  mse: 'mean_squared_error',
  mean_squared_error: 'mean_squared_error',
  mae: 'mean_absolute_error',
  mean_absolute_error: 'mean_absolute_error',
  categorical_crossentropy: 'categorical_crossentropy',
  categorical_cross_entropy: 'categorical_crossentropy',
  sparse_categorical_crossentropy: 'sparse_categorical_crossentropy',
  sparse_categorical_cross_entropy: 'sparse_categorical_crossentropy',
  cross_entropy: 'sparse_categorical_crossentropy',
  nll: 'sparse_categorical_crossentropy',
  binary_crossentropy: 'binary_crossentropy',
  binary_cross_entropy: 'binary_crossentropy',
  huber: 'huber',
  hinge: 'hinge',
  kl_divergence: 'kl_divergence',
  poisson: 'poisson',
  cosine_similarity: 'cosine_similarity',
  log_cosh: 'log_cosh',
};

export const LOSSES: readonly string[] = Object.keys(KERAS_LOSSES);

/** Canonical optimizer spellings; the source may use any case. */
export const OPTIMIZERS = ['Adam', 'SGD', 'RMSprop', 'Adagrad', 'Adadelta', 'Adamax', 'Nadam', 'AdamW', 'Ftrl'] as const;

/** Keyword arguments every Keras optimizer accepts. */
export const COMMON_OPTIMIZER_ARGS: readonly string[] = ['learning_rate', 'weight_decay', 'clipnorm', 'clipvalue', 'global_clipnorm'];

/** Keyword arguments each Keras optimizer accepts besides COMMON_OPTIMIZER_ARGS (Keras 2.11+ and Keras 3). */
export const OPTIMIZER_ARGS: Readonly<Record<string, readonly string[]>> = {
  Adam: ['beta_1', 'beta_2', 'epsilon', 'amsgrad'],
  AdamW: ['beta_1', 'beta_2', 'epsilon', 'amsgrad'],
  SGD: ['momentum', 'nesterov'],
  RMSprop: ['rho', 'momentum', 'epsilon', 'centered'],
  Adagrad: ['initial_accumulator_value', 'epsilon'],
  Adadelta: ['rho', 'epsilon'],
  Adamax: ['beta_1', 'beta_2', 'epsilon'],
  Nadam: ['beta_1', 'beta_2', 'epsilon'],
  Ftrl: ['learning_rate_power', 'initial_accumulator_value', 'l1_regularization_strength', 'l2_regularization_strength'],
};

/** Keras' default learning rates that are not 0.001: what a model gets when the DSL gives none. */
export const DEFAULT_LEARNING_RATE: Readonly<Record<string, number>> = { SGD: 0.01 };

/** Device prefixes accepted by `@ "device"` (case-sensitive). */
export const DEVICES = ['cpu', 'cuda', 'gpu', 'tpu', 'xla'] as const;
