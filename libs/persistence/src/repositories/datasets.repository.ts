import { Injectable } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { DataSource } from 'typeorm';
import { DatasetEntity } from '../entities';
import { isUuid, nextTimestamp, Page, PageQuery } from './repository.utils';

export type CreateDatasetInput = Omit<DatasetEntity, 'id' | 'createdAt'> & { id?: string };

/** Thrown when the tenant already has a dataset of that name. */
export class DatasetNameTakenError extends Error {
  constructor(readonly datasetName: string) {
    super(`a dataset named ${JSON.stringify(datasetName)} already exists`);
    this.name = 'DatasetNameTakenError';
  }
}

@Injectable()
export class DatasetsRepository {
  constructor(private readonly dataSource: DataSource) {}

  private get repo() {
    return this.dataSource.getRepository(DatasetEntity);
  }

  /** Throws DatasetNameTakenError when the name is taken (also when two uploads race for it). */
  async create(input: CreateDatasetInput): Promise<DatasetEntity> {
    if (await this.repo.existsBy({ tenantId: input.tenantId, name: input.name })) throw new DatasetNameTakenError(input.name);
    try {
      return await this.repo.save(this.repo.create({ ...input, id: input.id ?? randomUUID(), createdAt: nextTimestamp() }));
    } catch (err) {
      if (/unique|UNIQUE/.test(String((err as Error).message))) throw new DatasetNameTakenError(input.name);
      throw err;
    }
  }

  async findForTenant(tenantId: string, id: string): Promise<DatasetEntity | null> {
    return isUuid(id) ? this.repo.findOneBy({ tenantId, id }) : null;
  }

  /** By id, else by name. */
  async findByIdOrName(tenantId: string, ref: string): Promise<DatasetEntity | null> {
    return (await this.findForTenant(tenantId, ref)) ?? (ref.length <= 100 ? this.repo.findOneBy({ tenantId, name: ref }) : null);
  }

  async list(tenantId: string, query: PageQuery): Promise<Page<DatasetEntity>> {
    const [items, total] = await this.repo.findAndCount({ where: { tenantId }, order: { createdAt: 'DESC', id: 'DESC' }, skip: query.skip, take: query.limit });
    return { items, total };
  }

  async delete(tenantId: string, id: string): Promise<DatasetEntity | null> {
    const found = await this.findForTenant(tenantId, id);
    if (!found) return null;
    const result = await this.repo.delete({ tenantId, id });
    return result.affected === 1 ? found : null;
  }
}
