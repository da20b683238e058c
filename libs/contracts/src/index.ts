/** Names and payloads shared by the gateway (producer) and the worker (consumer). Defined once, here. */

export const QUEUES = {
  compile: 'compile',
  train: 'train',
  deploy: 'deploy',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const JOB_TYPES = ['compile', 'train', 'deploy'] as const;
export type JobType = (typeof JOB_TYPES)[number];

export const JOB_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const FINISHED_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

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

/** Machine-readable error codes of the problem+json bodies. */
export const ERROR_CODES = {
  badRequest: 'bad_request',
  malformedJson: 'malformed_json',
  validation: 'validation_error',
  dslSyntax: 'dsl_syntax_error',
  dslInvalid: 'dsl_error',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  notFound: 'not_found',
  conflict: 'conflict',
  payloadTooLarge: 'payload_too_large',
  rateLimited: 'rate_limited',
  unavailable: 'service_unavailable',
  internal: 'internal_error',
} as const;
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];
