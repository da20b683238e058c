import { DEFAULT_SCOPES, grantedScopes } from '@app/contracts';
import { type ApiKeyEntity, ApiKeysRepository, TenantsRepository } from '@app/persistence';
import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { AuditService } from '../audit/audit.service';
import { DomainError } from '../common/domain-error';
import { iso } from '../common/iso';
import type { TenantContext } from './auth.decorators';
import type { ApiKeyDto, ApiKeyListDto, ApiKeyListQueryDto, CreateApiKeyDto, CreatedApiKeyDto } from './dto/api-key.dto';

/** `POST/GET/DELETE /auth/keys`: administrators create keys; every tenant lists and revokes its own. */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly tenants: TenantsRepository,
    private readonly audit: AuditService,
  ) {}

  /** A new key in a tenant of its own, or in `tenant_id`'s. The route is admin-only. */
  async create(caller: TenantContext, body: CreateApiKeyDto, req: Request): Promise<CreatedApiKeyDto> {
    let tenantId = body.tenant_id;
    if (tenantId) {
      if (!(await this.tenants.findById(tenantId))) throw DomainError.validation([{ field: 'tenant_id', message: `no tenant with id ${tenantId} exists` }]);
    } else {
      tenantId = (await this.tenants.create(body.name)).id;
    }
    const { entity, plaintextKey } = await this.keys.create(tenantId, body.name, body.scopes ?? DEFAULT_SCOPES);
    await this.audit.record(req, {
      action: 'api_key.created',
      targetType: 'api_key',
      targetId: entity.id,
      details: { key_tenant_id: tenantId, new_tenant: !body.tenant_id, name: entity.name, prefix: entity.prefix, scopes: entity.scopes, by_tenant_id: caller.tenantId },
    });
    return { ...toApiKeyDto(entity), key: plaintextKey };
  }

  /** The caller's tenant's keys; an administrator's list spans every tenant unless `tenant_id` narrows it. */
  async list(caller: TenantContext, q: ApiKeyListQueryDto): Promise<ApiKeyListDto> {
    const tenantId = caller.isAdmin ? (q.tenant_id ?? null) : caller.tenantId;
    if (!caller.isAdmin && q.tenant_id && q.tenant_id !== caller.tenantId) return { keys: [], total: 0, skip: q.skip, limit: q.limit };
    const page = await this.keys.list(tenantId, q);
    return { keys: page.items.map(toApiKeyDto), total: page.total, skip: q.skip, limit: q.limit };
  }

  /** Revokes at once, on every gateway (authentication reads the key on each request), with the key's tokens. */
  async revoke(caller: TenantContext, id: string, req: Request): Promise<void> {
    if (!caller.isAdmin) {
      const key = await this.keys.findById(id);
      if (key?.tenantId === caller.tenantId && grantedScopes(key.scopes).includes('admin')) throw DomainError.forbidden('Only an administrator key can revoke an administrator key.');
    }
    const revoked = await this.keys.revoke(caller.isAdmin ? null : caller.tenantId, id);
    if (!revoked) throw DomainError.notFound('active API key', id);
    await this.audit.record(req, {
      action: 'api_key.revoked',
      targetType: 'api_key',
      targetId: revoked.id,
      details: { key_tenant_id: revoked.tenantId, name: revoked.name, prefix: revoked.prefix, by_tenant_id: caller.tenantId },
    });
  }
}

function toApiKeyDto(k: ApiKeyEntity): ApiKeyDto {
  return {
    id: k.id,
    prefix: k.prefix,
    name: k.name,
    scopes: k.scopes,
    tenant_id: k.tenantId,
    created_at: iso(k.createdAt)!,
    last_used_at: iso(k.lastUsedAt),
    revoked_at: iso(k.revokedAt),
  };
}
