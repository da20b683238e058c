import type { BatchProgress, EpochRow, TfjsBackendName, TrainingConfigInput, TrainingEngine } from '@app/dsl/train/types';

/** Where a training process finds its data: a built-in dataset, or an ingested upload on a local path. */
export type TaskDataset = { kind: 'builtin'; name: string; fashionMnistDir: string } | { kind: 'upload'; name: string; path: string };

/** One training run, as sent to a training process. */
export interface TrainTask {
  jobId: string;
  engine: TrainingEngine;
  /** DSL source; the process parses it, takes the `hpo` values (defaults for the rest), applies `trainingConfig` and plans, as the gateway did. */
  dsl: string;
  /** Values of the model's HPO(...) sites, keyed by path: a sweep trial's point. */
  hpo?: Record<string, unknown>;
  autoFlatten?: boolean;
  trainingConfig: TrainingConfigInput;
  limits: { maxEpochs: number; maxBatchSize: number };
  dataset: TaskDataset;
  /** For the code the generated scripts load by default (`MNIST`, ...); absent for uploads. */
  datasetName?: string;
  seed?: number;
  /** Checkpoint bytes of an earlier attempt's last finished epoch. */
  resume?: Uint8Array;
  /** The interpreter for the pytorch engine. */
  python?: string;
}

export interface TaskStarted {
  backend: string;
  /** 1-based first epoch of this attempt (after a resumed checkpoint's). */
  startEpoch: number;
  epochs: number;
  stepsPerEpoch: number;
  trainSamples: number;
  validationSamples: number;
  testSamples: number;
}

/** What a finished (or cancelled) run hands back: its outcome and the trained model in every form. */
export interface TaskResult {
  status: 'completed' | 'cancelled';
  history: EpochRow[];
  test: Record<string, number> | null;
  backend: string;
  /** Absent for a cancelled run. */
  artifacts?: {
    /** tfjs format: model.json (its manifest names `weights.bin`) and the weights. */
    modelJson: string;
    weightsBin: Uint8Array;
    onnx: Uint8Array;
    tensorflowCode: string | null;
    pytorchCode: string | null;
    /** torch.save(state_dict) of a PyTorch-trained model. */
    stateDict: Uint8Array | null;
  };
  warnings: string[];
}

/** A failure the user can act on (code + one sentence), never a stack or a path. */
export interface TaskFailure {
  code: string;
  message: string;
}

export type ParentMessage = { type: 'train'; task: TrainTask } | { type: 'cancel'; jobId: string };

export type ChildMessage =
  | { type: 'ready'; backend: TfjsBackendName; fallbackReason?: string }
  | { type: 'started'; jobId: string; info: TaskStarted }
  | { type: 'batch'; jobId: string; progress: BatchProgress }
  | { type: 'epoch'; jobId: string; row: EpochRow; checkpoint: Uint8Array }
  | { type: 'log'; jobId: string; line: string }
  | { type: 'done'; jobId: string; result: TaskResult }
  | { type: 'failed'; jobId: string; failure: TaskFailure };
