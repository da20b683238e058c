/**
 * The intermediate representation every later stage works on: the parser lowers source text to a `ModelIR`
 * (macros expanded, `* N` repeated, positional arguments named, defaults filled, names canonical), the checker
 * annotates it with shapes and parameter counts, and the emitters translate it. The IR is plain JSON-safe data.
 */

/** 1-based source position. */
export interface SourceLoc {
  line: number;
  column: number;
}

/** A dimension: a positive integer, or `null` when unknown (the batch axis, or a size that depends on HPO). */
export type Dim = number | null;
/** A tensor shape including the batch axis first (Keras channels-last layout). */
export type Shape = Dim[];

export type HpoSpec =
  | { type: 'categorical'; values: Value[] }
  | { type: 'range'; start: number; end: number; step?: number }
  | { type: 'log_range'; min: number; max: number };

/** A hyperparameter to search, standing where a concrete value may stand. */
export interface HpoValue {
  kind: 'hpo';
  /** Stable key of this parameter, e.g. `dense_1.units`, `optimizer.learning_rate`, `training.batch_size`. */
  path: string;
  spec: HpoSpec;
  loc: SourceLoc;
}

/** `Name(args)` as a value: a learning-rate schedule (`ExponentialDecay(...)`) or another named call. */
export interface CallValue {
  kind: 'call';
  name: string;
  args: Value[];
  kwargs: Record<string, Value>;
  loc: SourceLoc;
}

/** Tuples and lists are both arrays: the DSL treats them as interchangeable. */
export type Value = number | string | boolean | null | Value[] | HpoValue | CallValue | LayerNode;

export interface LayerNode {
  kind: 'layer';
  /** Unique, identifier-safe name inside the model (`conv2d_1`); used for generated attributes and weight names. */
  id: string;
  /** Canonical type (`Conv2D`), or the user's name for a custom layer. */
  type: string;
  /** True for user-defined layer types the DSL passes through without semantics. */
  custom?: boolean;
  /** Named parameters, positional ones resolved and defaults filled in. */
  params: Record<string, Value>;
  /** Nested block (`ResidualConnection { ... }`, `TransformerEncoder { ... }`). */
  sublayers: ModelNode[];
  /** `@ "cuda:0"` placement. */
  device?: string;
  loc: SourceLoc;
}

/** `name: { ... }`: a parallel path; named after a named input, it starts from that input. */
export interface BranchNode {
  kind: 'branch';
  id: string;
  name: string;
  body: ModelNode[];
  loc: SourceLoc;
}

export type ModelNode = LayerNode | BranchNode;

export interface InputSpec {
  /** `input` for a single input, the declared name for named inputs, `input_<i>` for `input: (a), (b)`. */
  name: string;
  /** Shape with the batch axis first (`null`). */
  shape: Shape;
  loc: SourceLoc;
}

export interface OptimizerSpec {
  /** Canonical spelling: Adam, SGD, RMSprop, Adagrad, Adadelta, Adamax, Nadam, AdamW, Ftrl. */
  type: string;
  params: Record<string, Value>;
  loc: SourceLoc;
}

export interface TrainingSpec {
  epochs?: number | HpoValue;
  batch_size?: number | HpoValue;
  validation_split?: number | HpoValue;
  search_method?: string;
  /** Any further keys (`gradient_clip`, `mixed_precision`, `save_path`, ...) are kept as written. */
  [key: string]: Value | undefined;
}

export interface ModelIR {
  name: string;
  inputs: InputSpec[];
  layers: ModelNode[];
  /** Canonical lowercase loss name, e.g. `sparse_categorical_crossentropy`. */
  loss?: string;
  optimizer?: OptimizerSpec;
  /** Top-level `lr_schedule:` section, when given. */
  lrSchedule?: CallValue;
  metrics?: string[];
  training?: TrainingSpec;
  execution?: Record<string, Value>;
  /** Every HPO expression in the model, in source order. */
  hpo: HpoValue[];
  /** Source location of each section keyword, for diagnostics raised later. */
  sectionLocs: Partial<Record<'input' | 'layers' | 'loss' | 'optimizer' | 'metrics' | 'training' | 'execution' | 'lr_schedule', SourceLoc>>;
}

export function isHpo(v: unknown): v is HpoValue {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && (v as HpoValue).kind === 'hpo';
}

export function isCall(v: unknown): v is CallValue {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && (v as CallValue).kind === 'call';
}

export function isLayer(v: unknown): v is LayerNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && (v as LayerNode).kind === 'layer';
}
