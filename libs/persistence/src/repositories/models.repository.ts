import { ModelBackend } from '@app/contracts';
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { DataSource, FindOptionsWhere } from 'typeorm';
import { ModelEntity, ModelFormat } from '../entities';
import { isUuid, nextTimestamp, Page, PageQuery } from './repository.utils';

export interface CreateModelInput {
  /** Set when the caller needed the id before the row (e.g. to build the artifact key); a new UUID otherwise. */
  id?: string;
  tenantId: string;
  name: string;
  backend: ModelBackend;
  dsl: string;
  summary: unknown;
  warnings: unknown[];
  artifactKey: string;
  sizeBytes: number;
  contentType: string;
  filename: string;
  jobId?: string | null;
  experimentId?: string | null;
  formats?: Record<string, ModelFormat> | null;
  sweepId?: string | null;
  hyperparameters?: Record<string, unknown> | null;
}

export interface ModelListQuery extends PageQuery {
  backend?: ModelBackend;
  /** Exact model name. */
  name?: string;
}

@Injectable()
export class ModelsRepository {
  constructor(private readonly dataSource: DataSource) {}

  private get repo() {
    return this.dataSource.getRepository(ModelEntity);
  }

  async create(input: CreateModelInput): Promise<ModelEntity> {
    const model = this.repo.create({
      ...input,
      id: input.id ?? randomUUID(),
      jobId: input.jobId ?? null,
      experimentId: input.experimentId ?? null,
      formats: input.formats ?? null,
      sweepId: input.sweepId ?? null,
      hyperparameters: input.hyperparameters ?? null,
      createdAt: nextTimestamp(),
    });
    return this.repo.save(model);
  }

  async findForTenant(tenantId: string, id: string): Promise<ModelEntity | null> {
    return isUuid(id) ? this.repo.findOneBy({ tenantId, id }) : null;
  }

  /** The tenant's models, newest first. */
  async list(tenantId: string, query: ModelListQuery): Promise<Page<ModelEntity>> {
    const where: FindOptionsWhere<ModelEntity> = { tenantId };
    if (query.backend) where.backend = query.backend;
    if (query.name !== undefined) where.name = query.name;
    const [items, total] = await this.repo.findAndCount({
      where,
      order: { createdAt: 'DESC', id: 'DESC' },
      skip: query.skip,
      take: query.limit,
    });
    return { items, total };
  }

  /**
   * Deletes one of the tenant's models and returns the deleted row (its artifact is the caller's to remove), or
   * null when there was nothing to delete; of two concurrent deletes exactly one gets the row.
   */
  async delete(tenantId: string, id: string): Promise<ModelEntity | null> {
    const model = await this.findForTenant(tenantId, id);
    if (!model) return null;
    const result = await this.repo.delete({ tenantId, id });
    return result.affected === 1 ? model : null;
  }
}
