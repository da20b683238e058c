import type { Backend, Diagnostic, ModelSummary } from '@app/dsl';

/** What DslSandbox sends to a compile thread. */
export interface SandboxRequest {
  id: number;
  source: string;
  backend: Backend;
  dataset?: string;
  autoFlatten?: boolean;
}

/** What a compile produced, reduced to what crosses the thread boundary. */
export interface SandboxOutput {
  code?: string;
  onnx?: Uint8Array;
  summary: ModelSummary;
  warnings: Diagnostic[];
}

export type SandboxReply =
  | { id: number; ok: true; output: SandboxOutput }
  | { id: number; ok: false; diagnostics: Diagnostic[] }
  | { id: number; ok: false; failure: string; diagnostics?: undefined };
