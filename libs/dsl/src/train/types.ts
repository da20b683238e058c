/**
 * The training engine's data types. Everything here is plain JSON-safe data (typed arrays aside), so a plan can be
 * stored with a job and an experiment, and sent to a training process.
 */

/** Who runs the optimisation: the in-process tfjs engine, or the generated PyTorch module in a Python subprocess. */
export type TrainingEngine = 'tfjs' | 'pytorch';

/** tfjs backends, best first: native TensorFlow (tfjs-node), WebAssembly (SIMD), plain JavaScript. */
export type TfjsBackendName = 'tensorflow' | 'wasm' | 'cpu';

/**
 * The `training_config` of a train request; every field optional. It overrides the DSL's `train`/`optimizer`/`loss`/
 * `metrics` sections, which override the defaults (epochs 10, batch_size 32, validation_split 0.2, Adam 0.001,
 * categorical_crossentropy, accuracy for classification).
 */
export interface TrainingConfigInput {
  epochs?: number;
  batch_size?: number;
  /** Replaces the DSL learning rate and its schedule (as `--learning-rate` does in the generated scripts). */
  learning_rate?: number;
  validation_split?: number;
  /** A DSL optimizer name, any case (`adam`, `SGD`); keeps the DSL optimizer's other parameters only when the type is the same. */
  optimizer?: string;
  /** A DSL loss name (`sparse_categorical_crossentropy`, `mse`, ...). */
  loss?: string;
  metrics?: string[];
  /** Use only the first N training samples of the dataset (before the validation split). */
  train_samples?: number;
  /** Shuffle the training samples every epoch (default true). */
  shuffle?: boolean;
}

/** A learning-rate schedule, as a function of the optimizer step (Keras semantics). */
export interface LrSchedule {
  name: 'ExponentialDecay' | 'StepDecay' | 'InverseTimeDecay' | 'CosineDecay' | 'PolynomialDecay';
  initialLearningRate: number;
  decaySteps: number;
  decayRate?: number;
  staircase?: boolean;
  alpha?: number;
  endLearningRate?: number;
  power?: number;
}

/** Everything a training run needs, resolved and validated by `planTraining`. JSON-safe. */
export interface TrainingPlan {
  engine: TrainingEngine;
  modelName: string;
  /** The model's (single) input shape without the batch axis, e.g. [28, 28, 1]; -1 marks a free size (a sequence length). */
  inputShape: number[];
  /** The model's output shape without the batch axis, e.g. [10]; -1 marks a free size. */
  outputShape: number[];
  epochs: number;
  batchSize: number;
  /** Fraction of the (sliced) training samples held out, taken from the end before shuffling (Keras semantics). */
  validationSplit: number;
  /** `training_config.train_samples`, or null for every training sample. */
  trainSamples: number | null;
  shuffle: boolean;
  /** Canonical Keras loss name: `sparse_categorical_crossentropy`, `categorical_crossentropy`, `mean_squared_error`, ... */
  loss: string;
  /** The model ends without an activation and the loss is a cross-entropy, so it takes logits. */
  fromLogits: boolean;
  /** Metric keys as they appear in the history (`accuracy`, `mae`, `precision`, ...); `loss` is always reported. */
  metrics: string[];
  /** `params`: the DSL optimizer's other arguments as written (Keras names: beta_1, momentum, ...); Keras defaults apply to the rest. */
  optimizer: { type: string; learningRate: number; params: Record<string, number | boolean> };
  schedule: LrSchedule | null;
  /** Keras clipnorm (per gradient), clipvalue, global_clipnorm. */
  clip: { norm?: number; value?: number; globalNorm?: number };
  /** Keras decoupled weight decay (AdamW, or `weight_decay` on another optimizer); null for none. */
  weightDecay: number | null;
  /** Flat record for the experiment: epochs, batch_size, learning_rate, optimizer, loss, metrics, ..., HPO values. */
  hyperparameters: Record<string, string | number | boolean | null>;
  /** Things the user should know (e.g. a default taken), one sentence each. */
  warnings: string[];
}

/** Samples of one split: `count` samples of `sampleShape` floats, and their labels. */
export interface TensorData {
  /** count × prod(sampleShape) floats, row-major. */
  x: Float32Array;
  /** Class indices (Int32Array, one per sample) or targets (Float32Array, count × prod(labelShape)). */
  y: Int32Array | Float32Array;
  count: number;
  sampleShape: number[];
  /** [] for one class index or scalar target per sample; [k] for a target vector. */
  labelShape: number[];
}

/** The data a run trains on. The engine carves `validation` from `train` when the plan asks and none is given. */
export interface TrainData {
  train: TensorData;
  validation?: TensorData;
  test?: TensorData;
  /** Number of classes for classification datasets (labels are indices 0..n-1), null for regression. */
  numClasses: number | null;
}

/** One row of the metric history, in Keras' naming: loss, <metrics>, val_loss, val_<metrics>, plus timing. */
export interface EpochRow {
  epoch: number;
  loss: number;
  /** Seconds spent in the epoch's training steps (batch assembly, forward, backward, update); validation and callbacks excluded. */
  epoch_seconds: number;
  /** Training samples / epoch_seconds. */
  samples_per_second: number;
  /** The learning rate of the epoch's last optimizer step. */
  learning_rate: number;
  [metric: string]: number;
}

export interface BatchProgress {
  /** 1-based */
  epoch: number;
  /** 1-based, within the epoch */
  batch: number;
  batches: number;
  /** Mean training loss over the epoch's batches so far. */
  loss: number;
}

/** Upper bounds a caller (the API's configuration) puts on a request. */
export interface TrainingLimits {
  maxEpochs: number;
  maxBatchSize: number;
}

/** What `runTraining` tells `onStart` once the data is split and the model built (a type alias: it fits `Record<string, unknown>`). */
export type TrainStartInfo = {
  backend: string;
  /** 1-based epoch this call trains first (2 after resuming a checkpoint written after epoch 1). */
  startEpoch: number;
  epochs: number;
  trainSamples: number;
  validationSamples: number;
  testSamples: number;
  batchesPerEpoch: number;
  /** Keras-counted parameters of the model (trainable and not). */
  parameters: number;
};

/** Options of `runTraining`. */
export interface TrainOptions {
  /** Makes a run reproducible on one backend: initial weights, shuffling and dropout masks derive from it. */
  seed?: number;
  /** Checkpoint bytes from `onEpoch`: the run continues with the epoch after it. */
  resume?: Uint8Array;
  signal?: AbortSignal;
  onStart?(info: TrainStartInfo): void | Promise<void>;
  /** After every batch; the caller throttles. */
  onBatch?(progress: BatchProgress): void;
  /** After every epoch, with its history row and a checkpoint to resume from after it; awaited. */
  onEpoch?(row: EpochRow, checkpoint: Uint8Array): void | Promise<void>;
}
