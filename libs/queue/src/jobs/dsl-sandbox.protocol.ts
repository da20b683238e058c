import type { Backend, Diagnostic, HpoAssignment, ModelSummary, SearchSite, SweepStrategy } from '@app/dsl';
import type { TrainingConfigInput, TrainingEngine, TrainingPlan } from '@app/dsl/train/types';
import type { DatasetInfo } from '@app/datasets/types';

/** A compile, as DslSandbox sends it to a compile thread. */
export interface SandboxCompileMessage {
  op: 'compile';
  id: number;
  source: string;
  backend: Backend;
  dataset?: string;
  autoFlatten?: boolean;
}

/** A training plan: the model with the request's training_config, checked against the engine and the dataset. */
export interface SandboxPlanMessage {
  op: 'plan';
  id: number;
  source: string;
  engine: TrainingEngine;
  trainingConfig: TrainingConfigInput;
  autoFlatten?: boolean;
  dataset: DatasetInfo;
  limits: { maxEpochs: number; maxBatchSize: number };
  /** Values of HPO sites (a sweep trial's point); the rest take their defaults. */
  hpo?: HpoAssignment;
}

/** A sweep: the search space left after the training_config, its points, and each point's plan. */
export interface SandboxSweepMessage extends Omit<SandboxPlanMessage, 'op' | 'hpo'> {
  op: 'sweep';
  strategy: SweepStrategy;
  trials?: number;
  seed: number;
  maxTrials: number;
}

export type SandboxRequest = SandboxCompileMessage | SandboxPlanMessage | SandboxSweepMessage;

/** Why one point of a sweep cannot train (the rest of the sweep can). */
export interface SweepPointError {
  code: string;
  detail: string;
  errors?: Array<{ line?: number; column?: number; field?: string; message: string }>;
}

export interface SandboxSweepOutput {
  /** The sites searched: the model's, less those the training_config sets. */
  space: SearchSite[];
  /** The DSL's `search_method`, when it names one. */
  searchMethod: string | null;
  points: Array<{ params: HpoAssignment; planned?: SandboxPlanOutput; error?: SweepPointError }>;
  /** The grid has no finite values (continuous or log ranges): one entry per site. */
  spaceErrors?: Array<{ path: string; message: string }>;
}

/** What a plan produced. */
export interface SandboxPlanOutput {
  plan: TrainingPlan;
  summary: ModelSummary;
  warnings: Diagnostic[];
}

/** What a compile produced, reduced to what crosses the thread boundary. */
export interface SandboxOutput {
  code?: string;
  onnx?: Uint8Array;
  summary: ModelSummary;
  warnings: Diagnostic[];
}

export type SandboxReply =
  | { id: number; ok: true; output: SandboxOutput | SandboxPlanOutput | SandboxSweepOutput }
  | { id: number; ok: false; diagnostics: Diagnostic[] }
  | { id: number; ok: false; configErrors: Array<{ field: string; message: string }>; diagnostics?: undefined }
  | { id: number; ok: false; mismatch: { code: string; message: string }; diagnostics?: undefined }
  | { id: number; ok: false; failure: string; diagnostics?: undefined };
