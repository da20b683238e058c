import { Injectable } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { BACKENDS, type CompileRequest, type CompileResult, type ModelBackend } from '@app/contracts';
import type { ModelSummary } from '@app/dsl';
import { ModelsRepository } from '@app/persistence';
import { ArtifactStore } from '@app/storage';
import { CompileError, toErrorEntry } from './compile.errors';
import { DslSandbox } from './dsl-sandbox.service';

/** How each backend's artifact is stored and served. */
export const MODEL_ARTIFACTS: Readonly<Record<ModelBackend, { file: string; extension: string; contentType: string }>> = {
  tensorflow: { file: 'model.py', extension: 'py', contentType: 'text/x-python' },
  pytorch: { file: 'model.py', extension: 'py', contentType: 'text/x-python' },
  onnx: { file: 'model.onnx', extension: 'onnx', contentType: 'application/octet-stream' },
};

/** A CompileResult whose `summary` is typed: the DSL library's ModelSummary. */
export type CompiledModel = CompileResult & { summary: ModelSummary };

/** The stored compile request is not one (a row written by something other than the gateway's validated route). */
export class InvalidCompileRequestError extends CompileError {
  readonly code = 'validation_error';

  constructor(detail: string) {
    super(detail);
    this.name = 'InvalidCompileRequestError';
  }
}

/** The artifact key of a model: ids are generated UUIDs, never user text. */
export function modelArtifactKey(tenantId: string, modelId: string, backend: ModelBackend): string {
  return `${tenantId}/${modelId}/${MODEL_ARTIFACTS[backend].file}`;
}

/**
 * Compiles DSL source and registers the result as a model: the one code path behind `POST /compile/sync` and the
 * compile job.
 */
@Injectable()
export class CompileService {
  constructor(
    private readonly sandbox: DslSandbox,
    private readonly store: ArtifactStore,
    private readonly models: ModelsRepository,
  ) {}

  /**
   * Compiles (in a sandboxed thread, under the compile timeout), stores the artifact at
   * `<tenantId>/<modelId>/model.py|model.onnx` and creates the model row. Throws DslCompileError for an invalid
   * source, CompileTimeoutError / CompileResourceError when the compile is stopped, InvalidCompileRequestError for a
   * malformed request.
   */
  async compileAndStore(tenantId: string, request: CompileRequest, jobId: string | null = null): Promise<CompiledModel> {
    assertCompileRequest(request);
    const out = await this.sandbox.compile({
      source: request.dsl_code,
      backend: request.backend,
      dataset: request.dataset,
      autoFlatten: request.auto_flatten_output,
    });
    const artifact = MODEL_ARTIFACTS[request.backend];
    const modelId = randomUUID();
    const key = modelArtifactKey(tenantId, modelId, request.backend);
    const data = out.onnx ? Buffer.from(out.onnx.buffer, out.onnx.byteOffset, out.onnx.byteLength) : (out.code ?? '');
    const warnings = out.warnings.map(toErrorEntry);
    const { size } = await this.store.put(key, data);
    try {
      await this.models.create({
        id: modelId,
        tenantId,
        name: out.summary.name.slice(0, 200),
        backend: request.backend,
        dsl: request.dsl_code,
        summary: out.summary,
        warnings,
        artifactKey: key,
        sizeBytes: size,
        contentType: artifact.contentType,
        filename: `${safeFileStem(out.summary.name)}.${artifact.extension}`,
        jobId,
      });
    } catch (err) {
      await this.store.delete(key).catch(() => undefined);
      throw err;
    }
    return {
      model_id: modelId,
      backend: request.backend,
      status: 'completed',
      compiled_code: out.code ?? null,
      summary: out.summary,
      warnings,
      download_url: `/models/${modelId}/download`,
    };
  }

  /** Removes a model this service registered, row and file (e.g. its job was cancelled while compiling). */
  async discard(tenantId: string, modelId: string): Promise<void> {
    const removed = await this.models.delete(tenantId, modelId);
    if (removed) await this.store.delete(removed.artifactKey);
  }
}

function assertCompileRequest(request: CompileRequest): void {
  if (!request || typeof request !== 'object') throw new InvalidCompileRequestError('the compile request is missing');
  if (typeof request.dsl_code !== 'string' || request.dsl_code.trim() === '') throw new InvalidCompileRequestError('dsl_code must be a non-empty string');
  if (!(BACKENDS as readonly string[]).includes(request.backend)) throw new InvalidCompileRequestError(`backend must be one of ${BACKENDS.join(', ')}`);
}

/** A download filename from the model's name: letters, digits, `.`, `_`, `-` only. */
function safeFileStem(name: string): string {
  const stem = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._-]+/, '').slice(0, 100);
  return stem || 'model';
}
