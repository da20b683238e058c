import type { TensorData } from '@app/dsl/train/types';

/** What a dataset is, without loading it: enough to list it and to check a model against it. */
export interface DatasetInfo {
  /** `MNIST`, `FashionMNIST`, `Iris`, or an upload's id. */
  name: string;
  kind: 'builtin' | 'upload';
  task: 'classification' | 'regression';
  /** One sample's shape, e.g. [28, 28, 1] or [4]. */
  sampleShape: number[];
  /** [] for one class index or scalar target per sample, [k] for a target vector. */
  labelShape: number[];
  numClasses: number | null;
  classNames?: string[];
  trainSamples: number;
  testSamples: number;
  /** False when the data is not installed here (e.g. Debian's dataset-fashion-mnist is missing). */
  available: boolean;
  unavailableReason?: string;
  description: string;
  /** Where the data comes from (package, file, licence). */
  source: string;
}

/** A dataset in memory: the standard train/test split, normalised (images to [0, 1]). */
export interface LoadedDataset {
  info: DatasetInfo;
  train: TensorData;
  test: TensorData | null;
  /** Per-feature mean and standard deviation already applied to `x` ((v - mean) / std), for scaling new inputs alike. */
  standardisation?: { mean: number[]; std: number[] };
}
