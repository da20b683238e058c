import type { ModelEntity } from '@app/persistence';
import { ModelsRepository } from '@app/persistence';
import { ArtifactStore } from '@app/storage';
import { Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../common/domain-error';
import type { ModelDto, ModelListDto, ModelListItemDto, ModelListQueryDto } from './dto/model.dto';

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

  /** The stored file with what the download response needs. */
  async download(tenantId: string, id: string): Promise<{ stream: NodeJS.ReadableStream; model: ModelEntity }> {
    const model = await this.find(tenantId, id);
    if (!(await this.store.exists(model.artifactKey))) {
      this.logger.error(`artifact ${model.artifactKey} of model ${model.id} is missing from the store`);
      throw DomainError.notFound('file for model', id);
    }
    return { stream: this.store.stream(model.artifactKey), model };
  }

  async delete(tenantId: string, id: string): Promise<void> {
    const removed = await this.models.delete(tenantId, id);
    if (!removed) throw DomainError.notFound('model', id);
    await this.store.delete(removed.artifactKey);
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
    created_at: new Date(m.createdAt).toISOString(),
    download_url: `/models/${m.id}/download`,
  };
}
