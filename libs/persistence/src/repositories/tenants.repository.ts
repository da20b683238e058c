import { Injectable } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { DataSource } from 'typeorm';
import { TenantEntity } from '../entities';
import { isUuid, nextTimestamp } from './repository.utils';

@Injectable()
export class TenantsRepository {
  constructor(private readonly dataSource: DataSource) {}

  private get repo() {
    return this.dataSource.getRepository(TenantEntity);
  }

  /** Creates a tenant with a new UUID. */
  async create(name: string): Promise<TenantEntity> {
    const tenant = this.repo.create({ id: randomUUID(), name, createdAt: nextTimestamp() });
    return this.repo.save(tenant);
  }

  async findById(id: string): Promise<TenantEntity | null> {
    return isUuid(id) ? this.repo.findOneBy({ id }) : null;
  }
}
