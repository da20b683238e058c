import { ERROR_CODES } from '@app/contracts';
import type { ModelEntity, ModelFormat } from '@app/persistence';
import { ModelsRepository } from '@app/persistence';
import { ArtifactStore } from '@app/storage';
import { Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../common/domain-error';
import type { DownloadFormat, ModelDto, ModelListDto, ModelListItemDto, ModelListQueryDto } from './dto/model.dto';

@Injectable()
export class ModelsService {
  private readonly logger = new Logger(ModelsService.name);

  constructor(
    private readonly models: ModelsRepository,
    private readonly store: ArtifactStore,
  ) {}

  async list(tenantId: string, q: ModelListQueryDto): Promise<ModelListDto> {
    const page = await this.models.list(tenantId, { skip: q.skip, limit: q.limit, backend: q.backend, name: q.name });
    return { models: page.items.map(listItem), total: page.total, skip: q.skip, limit: q.limit };
  }

  async get(tenantId: string, id: string): Promise<ModelDto> {
    const m = await this.find(tenantId, id);
    return {
      ...listItem(m),
      summary: m.summary as ModelDto['summary'],
      warnings: m.warnings as ModelDto['warnings'],
      dsl_code: m.dsl,
      filename: m.filename,
      content_type: m.contentType,
    };
  }

  /** One stored form of the model (its own file by default) with what the download response needs. */
  async download(tenantId: string, id: string, format?: DownloadFormat): Promise<{ stream: NodeJS.ReadableStream; file: ModelFormat }> {
    const model = await this.find(tenantId, id);
    const own: ModelFormat = { key: model.artifactKey, contentType: model.contentType, filename: model.filename, sizeBytes: model.sizeBytes };
    const file = !format || format === 'code' ? (format === 'code' && model.backend === 'onnx' ? undefined : own) : model.formats?.[format];
    if (!file) {
      const offered = formatsOf(model);
      throw new DomainError(ERROR_CODES.notFound, 404, 'Not Found', `Model ${id} has no ${format} form; it offers ${offered.join(', ')}.`);
    }
    if (!(await this.store.exists(file.key))) {
      this.logger.error(`artifact ${file.key} of model ${model.id} is missing from the store`);
      throw DomainError.notFound('file for model', id);
    }
    return { stream: this.store.stream(file.key), file };
  }

  async delete(tenantId: string, id: string): Promise<void> {
    const removed = await this.models.delete(tenantId, id);
    if (!removed) throw DomainError.notFound('model', id);
    const keys = new Set([removed.artifactKey, ...Object.values(removed.formats ?? {}).map((f) => f.key)]);
    await Promise.all([...keys].map((k) => this.store.delete(k)));
  }

  private async find(tenantId: string, id: string): Promise<ModelEntity> {
    const m = await this.models.findForTenant(tenantId, id);
    if (!m) throw DomainError.notFound('model', id);
    return m;
  }
}

function listItem(m: ModelEntity): ModelListItemDto {
  const summary = m.summary as { total_params?: number | null } | null;
  return {
    model_id: m.id,
    name: m.name,
    backend: m.backend,
    size_bytes: m.sizeBytes,
    total_params: summary?.total_params ?? null,
    job_id: m.jobId ?? null,
    trained: m.experimentId !== null && m.experimentId !== undefined,
    experiment_id: m.experimentId ?? null,
    sweep_id: m.sweepId ?? null,
    hyperparameters: m.hyperparameters ?? null,
    formats: formatsOf(m),
    created_at: new Date(m.createdAt).toISOString(),
    download_url: `/models/${m.id}/download`,
  };
}

/** The `?format=` values a model's download takes. */
function formatsOf(m: ModelEntity): string[] {
  return [...(m.backend === 'onnx' ? [] : ['code']), ...Object.keys(m.formats ?? {})];
}
