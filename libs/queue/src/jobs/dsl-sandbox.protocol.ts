import type { Backend, Diagnostic, ModelSummary } from '@app/dsl';
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
}

export type SandboxRequest = SandboxCompileMessage | SandboxPlanMessage;

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
  | { id: number; ok: true; output: SandboxOutput | SandboxPlanOutput }
  | { id: number; ok: false; diagnostics: Diagnostic[] }
  | { id: number; ok: false; configErrors: Array<{ field: string; message: string }>; diagnostics?: undefined }
  | { id: number; ok: false; mismatch: { code: string; message: string }; diagnostics?: undefined }
  | { id: number; ok: false; failure: string; diagnostics?: undefined };
