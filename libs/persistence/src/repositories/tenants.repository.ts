import { Injectable } from '@nestjs/common';
import { randomBytes, randomUUID } from 'crypto';
import { DataSource, IsNull } from 'typeorm';
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
    const tenant = this.repo.create({ id: randomUUID(), name, webhookSecret: null, createdAt: nextTimestamp() });
    return this.repo.save(tenant);
  }

  async findById(id: string): Promise<TenantEntity | null> {
    return isUuid(id) ? this.repo.findOneBy({ id }) : null;
  }

  /** The tenant's webhook signing secret, created on first use (concurrent first uses agree on one). */
  async webhookSecret(tenantId: string): Promise<string> {
    const tenant = await this.findById(tenantId);
    if (!tenant) throw new Error(`no tenant ${tenantId}`);
    if (tenant.webhookSecret) return tenant.webhookSecret;
    await this.repo.update({ id: tenantId, webhookSecret: IsNull() }, { webhookSecret: newWebhookSecret() });
    return (await this.repo.findOneByOrFail({ id: tenantId })).webhookSecret!;
  }

  /** Replaces the webhook secret; deliveries signed from now on use the new one. */
  async rotateWebhookSecret(tenantId: string): Promise<string> {
    const secret = newWebhookSecret();
    await this.repo.update({ id: tenantId }, { webhookSecret: secret });
    return secret;
  }
}

/** `whsec_` + 32 random bytes, base64url. */
function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}
