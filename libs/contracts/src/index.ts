/** Names and payloads shared by the gateway (producer) and the worker (consumer). Defined once, here. */

import type { TrainingConfigInput } from '@app/dsl/train/types';

export const QUEUES = {
  compile: 'compile',
  train: 'train',
  deploy: 'deploy',
  /** Sweep coordinators: each sweep job launches its trials (train jobs) and follows them to the end. */
  hpo: 'hpo',
  /** Webhook deliveries: the payload's `jobId` is the delivery's id. */
  webhook: 'webhook',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const JOB_TYPES = ['compile', 'train', 'deploy', 'hpo'] as const;
export type JobType = (typeof JOB_TYPES)[number];

/** `pruned`: a sweep trial stopped early by the sweep's early stopping (its metric trailed the others'). */
export const JOB_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled', 'pruned'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const FINISHED_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled', 'pruned'];

/**
 * What travels through a queue: only the job's identity. Everything else (the request, progress, result) lives in
 * the database row, which is the source of truth; the transport only carries execution.
 */
export interface JobPayload {
  jobId: string;
  tenantId: string;
}

export const BACKENDS = ['tensorflow', 'pytorch', 'onnx'] as const;
export type ModelBackend = (typeof BACKENDS)[number];

/** The request a compile job was created from (stored as the job's `input`). */
export interface CompileRequest {
  dsl_code: string;
  backend: ModelBackend;
  dataset?: string;
  auto_flatten_output?: boolean;
  enable_hpo?: boolean;
  webhook_url?: string;
}

export interface DslErrorEntry {
  line: number;
  column: number;
  message: string;
  hint?: string;
}

/** The body of a successful compile (the sync answer, and the finished job's `result`). */
export interface CompileResult {
  model_id: string;
  backend: ModelBackend;
  status: 'completed';
  compiled_code: string | null;
  summary: unknown;
  warnings: DslErrorEntry[];
  download_url: string;
}

/** The body of `POST /jobs/train` (the seed's, plus `seed` and `model_id`). */
export interface TrainRequest {
  dsl_code?: string;
  /** Train a registered model's DSL instead of `dsl_code`. */
  model_id?: string;
  backend: ModelBackend;
  /** A built-in dataset name or an uploaded dataset's id or name. */
  dataset: string;
  training_config?: TrainingConfigInput;
  experiment_name?: string;
  webhook_url?: string;
  seed?: number;
  auto_flatten_output?: boolean;
}

/** Which data a train job reads. */
export type DatasetRef = { kind: 'builtin'; name: string } | { kind: 'upload'; id: string; name: string; dataKey: string };

/** What a train job row stores as its `input`: the request and everything resolved at submit. */
export interface TrainJobInput {
  request: TrainRequest;
  /** The DSL source trained (the request's, or the registered model's). */
  dsl: string;
  engine: 'tfjs' | 'pytorch';
  dataset: DatasetRef;
  /** The resolved TrainingPlan of libs/dsl/train. */
  plan: Record<string, unknown>;
  /** The model's summary (as a compile answers it), for the trained model's registration. */
  summary: unknown;
  warnings: DslErrorEntry[];
  /** Values of the model's HPO sites this run trains with (a sweep trial's point); the others take their defaults. */
  hpo?: Record<string, unknown>;
  /** Set on a sweep's trial. */
  trial?: TrialInfo;
}

export const SWEEP_DIRECTIONS = ['max', 'min'] as const;
export type SweepDirection = (typeof SWEEP_DIRECTIONS)[number];

/** What a trial knows of its sweep: enough to decide at each rung whether to go on. */
export interface TrialInfo {
  sweep_id: string;
  index: number;
  metric: string;
  direction: SweepDirection;
  /** Successive halving: the epochs after which the trial is compared with the others that got there; null: never pruned. */
  pruning: { rungs: number[]; reduction_factor: number } | null;
}

/** The `search` of `POST /jobs/hpo`, as resolved at submit. */
export interface SweepSettings {
  strategy: 'random' | 'grid';
  metric: string;
  direction: SweepDirection;
  parallelism: number;
  seed: number;
  early_stopping: { type: 'successive_halving' | 'none'; min_epochs: number; reduction_factor: number };
}

/** One point of a sweep, planned at submit: what its trial is created with, or why it cannot train. */
export interface SweepPoint {
  params: Record<string, unknown>;
  plan?: Record<string, unknown>;
  summary?: unknown;
  warnings?: DslErrorEntry[];
  error?: { code: string; detail: string; errors?: unknown[] };
}

/** What a sweep job row stores as its `input`. */
export interface HpoJobInput {
  request: TrainRequest;
  dsl: string;
  engine: 'tfjs' | 'pytorch';
  dataset: DatasetRef;
  search: SweepSettings;
  /** The search space searched (libs/dsl SearchSite[]). */
  space: unknown[];
  points: SweepPoint[];
  warnings: DslErrorEntry[];
}

/** The `result` of a completed train job. */
export interface TrainResult {
  experiment_id: string;
  /** Null for a sweep's trial: the sweep registers its best trial's model when it completes. */
  model_id: string | null;
  final_metrics: Record<string, number>;
  best_metrics: Record<string, number>;
  test_metrics: Record<string, number> | null;
  artifacts: string[];
  download_url: string | null;
}

/** `deploying` until the deploy job finishes; `paused` while scaled to 0 replicas. */
export const DEPLOYMENT_STATUSES = ['deploying', 'deployed', 'paused', 'failed'] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

/** How predictions are read: `classes` are argmax (softmax) or p >= 0.5 (a single sigmoid unit); none for raw. */
export const OUTPUT_KINDS = ['softmax', 'sigmoid', 'raw'] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];

/** The `result` of a completed deploy job. */
export interface DeployResult {
  deployment_id: string;
  model_id: string;
  status: DeploymentStatus;
  endpoint: string;
  input_shape: number[];
  output_shape: number[];
}

/** Live updates of a job, published by whoever changes it and streamed by `GET /jobs/{id}/events`. */
export type JobEvent =
  | { type: 'status'; job_id: string; status: JobStatus; at: string }
  | { type: 'progress'; job_id: string; progress: number; epoch: number; total_epochs: number; batch: number; batches: number; loss: number; at: string }
  | { type: 'epoch'; job_id: string; progress: number; epoch: number; total_epochs: number; metrics: Record<string, number>; at: string }
  /** On a sweep's stream: one of its trials finished (completed, pruned, failed or cancelled). */
  | { type: 'trial'; job_id: string; trial: Record<string, unknown>; at: string };

/** `trial_finished`: a sweep's trial ended (sent to the sweep's webhook). */
export const WEBHOOK_EVENT_NAMES = ['started', 'progress', 'completed', 'failed', 'cancelled', 'trial_finished'] as const;
export type WebhookEventName = (typeof WEBHOOK_EVENT_NAMES)[number];

/** The seed's webhook body. */
export interface WebhookPayload {
  job_id: string;
  event: WebhookEventName;
  status: JobStatus;
  data: Record<string, unknown>;
  timestamp: string;
}

/** Machine-readable error codes of the problem+json bodies. */
export const ERROR_CODES = {
  badRequest: 'bad_request',
  malformedJson: 'malformed_json',
  validation: 'validation_error',
  dslSyntax: 'dsl_syntax_error',
  dslInvalid: 'dsl_error',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  insufficientScope: 'insufficient_scope',
  idempotencyInProgress: 'idempotency_key_in_use',
  idempotencyMismatch: 'idempotency_key_reused',
  notFound: 'not_found',
  conflict: 'conflict',
  payloadTooLarge: 'payload_too_large',
  rateLimited: 'rate_limited',
  unavailable: 'service_unavailable',
  internal: 'internal_error',
  unknownDataset: 'unknown_dataset',
  datasetMismatch: 'dataset_mismatch',
  datasetFormat: 'dataset_format_error',
  engineUnavailable: 'engine_unavailable',
  webhookRefused: 'webhook_url_refused',
  storageFull: 'storage_full',
} as const;
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/**
 * What an API key may do. `read`: every GET and `POST /auth/token`; `predict`: calling deployments; `write`: every
 * other change to the tenant's own resources (implies `read` and `predict`); `admin`: managing keys of any tenant and
 * reading the audit log (implies the rest).
 */
export const API_SCOPES = ['read', 'write', 'predict', 'admin'] as const;
export type ApiScope = (typeof API_SCOPES)[number];
/** Scopes of a key created without any. */
export const DEFAULT_SCOPES: readonly ApiScope[] = ['read', 'write'];

const IMPLIED_SCOPES: Record<ApiScope, readonly ApiScope[]> = {
  read: ['read'],
  predict: ['predict'],
  write: ['write', 'read', 'predict'],
  admin: ['admin', 'write', 'read', 'predict'],
};

/** Every scope the stored `scopes` grant, implied ones included, in API_SCOPES order; unknown names grant nothing. */
export function grantedScopes(scopes: readonly string[]): ApiScope[] {
  const granted = new Set<ApiScope>();
  for (const s of scopes) if (Object.hasOwn(IMPLIED_SCOPES, s)) for (const g of IMPLIED_SCOPES[s as ApiScope]) granted.add(g);
  return API_SCOPES.filter((s) => granted.has(s));
}

const SERVER_PATH = /(?:file:\/\/)?(?:\/(?:[\w.@+-]+\/)+|[A-Za-z]:\\(?:[\w.@+ -]+\\)+)([\w.@+-]*)/g;

/**
 * `text` with every absolute file path cut to its last segment: messages of libraries (ONNX Runtime, the file system,
 * Python) name server paths that a client must not see. A lone `/name` (a route, a probe path) is kept.
 */
export function redactServerPaths(text: string): string {
  return text.replace(SERVER_PATH, (_whole, last: string) => last || '…');
}
