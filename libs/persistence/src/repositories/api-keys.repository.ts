import { Injectable } from '@nestjs/common';
import { createHash, randomBytes, randomUUID } from 'crypto';
import { DataSource, IsNull } from 'typeorm';
import { ApiKeyEntity, TenantEntity } from '../entities';
import { isUuid, nextTimestamp } from './repository.utils';

/** Scopes a key gets when none are given: everything its tenant may do. */
export const DEFAULT_API_KEY_SCOPES: readonly string[] = ['*'];
/** Name of the tenant that owns the development demo key. */
export const DEMO_TENANT_NAME = 'demo';
/** `last_used_at` is written at most this often per key, so authenticating is not a write per request. */
export const TOUCH_INTERVAL_MS = 60_000;
const PREFIX_LENGTH = 8;

/** Lowercase hex SHA-256 of a plaintext key: what `key_hash` stores and what lookups use. */
export function hashApiKey(plaintext: string): string {
  return createHash('sha256').update(plaintext, 'utf8').digest('hex');
}

/** A new plaintext key: `nk_` + 32 random bytes in base64url. */
export function generateApiKey(): string {
  return `nk_${randomBytes(32).toString('base64url')}`;
}

/** The plaintext is returned once, here; only its hash is stored. */
export interface CreatedApiKey {
  entity: ApiKeyEntity;
  plaintextKey: string;
}

@Injectable()
export class ApiKeysRepository {
  private readonly touchedAt = new Map<string, number>();

  constructor(private readonly dataSource: DataSource) {}

  private get repo() {
    return this.dataSource.getRepository(ApiKeyEntity);
  }

  /** Issues a new random key for the tenant. */
  async create(tenantId: string, name: string, scopes: readonly string[] = DEFAULT_API_KEY_SCOPES): Promise<CreatedApiKey> {
    const plaintextKey = generateApiKey();
    return { entity: await this.createWithKey(tenantId, name, plaintextKey, scopes), plaintextKey };
  }

  /** Stores a key whose plaintext the caller chose (the development demo key). */
  async createWithKey(tenantId: string, name: string, plaintext: string, scopes: readonly string[] = DEFAULT_API_KEY_SCOPES): Promise<ApiKeyEntity> {
    return this.repo.save(this.build(randomUUID(), tenantId, name, plaintext, scopes));
  }

  /** The key with this hash unless it was revoked. */
  async findActiveByHash(keyHash: string): Promise<ApiKeyEntity | null> {
    return this.repo.findOneBy({ keyHash, revokedAt: IsNull() });
  }

  /**
   * What authentication needs of an active key, on every request: one prepared-style query instead of the entity
   * query builder, which costs more than the lookup itself (a third of an authenticated request's CPU on SQLite).
   */
  async findActiveIdentityByHash(keyHash: string): Promise<{ id: string; tenantId: string } | null> {
    const placeholder = this.dataSource.options.type === 'postgres' ? '$1' : '?';
    const rows: Array<{ id: string; tenant_id: string }> = await this.dataSource.query(`SELECT "id", "tenant_id" FROM "api_keys" WHERE "key_hash" = ${placeholder} AND "revoked_at" IS NULL`, [keyHash]);
    return rows.length ? { id: rows[0].id, tenantId: rows[0].tenant_id } : null;
  }

  /** The tenant's keys, newest first (revoked ones included). */
  async listForTenant(tenantId: string): Promise<ApiKeyEntity[]> {
    return this.repo.find({ where: { tenantId }, order: { createdAt: 'DESC', id: 'DESC' } });
  }

  /** Revokes one of the tenant's keys; false when it does not exist, belongs to another tenant or was revoked. */
  async revoke(tenantId: string, id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const result = await this.repo
      .createQueryBuilder()
      .update(ApiKeyEntity)
      .set({ revokedAt: nextTimestamp() })
      .where({ id, tenantId, revokedAt: IsNull() })
      .execute();
    return result.affected === 1;
  }

  /**
   * Records that the key was used. Writes at most once per {@link TOUCH_INTERVAL_MS} per key across processes
   * (the condition is in the UPDATE), and this process sends no query at all within that interval of its last
   * attempt; `last_used_at` is therefore at most two intervals behind. Returns whether a write happened.
   */
  async touch(id: string, now: Date = new Date()): Promise<boolean> {
    const recent = this.touchedAt.get(id);
    if (recent !== undefined && now.getTime() - recent < TOUCH_INTERVAL_MS) return false;
    if (this.touchedAt.size > 10_000) this.touchedAt.clear();
    this.touchedAt.set(id, now.getTime());
    const result = await this.repo
      .createQueryBuilder()
      .update(ApiKeyEntity)
      .set({ lastUsedAt: now })
      .where('id = :id', { id })
      .andWhere('(last_used_at IS NULL OR last_used_at <= :threshold)', { threshold: new Date(now.getTime() - TOUCH_INTERVAL_MS) })
      .execute();
    return result.affected === 1;
  }

  /**
   * Makes sure `plaintext` is a key of the demo tenant. Idempotent and safe when several processes boot at once:
   * tenant and key ids are derived from the key, and both inserts ignore conflicts. A key already present (even
   * revoked) is left as it is.
   */
  async ensureDemoKey(plaintext: string): Promise<ApiKeyEntity> {
    const keyHash = hashApiKey(plaintext);
    const existing = await this.repo.findOneBy({ keyHash });
    if (existing) return existing;
    const tenantId = uuidFrom(`demo-tenant:${keyHash}`);
    await this.dataSource
      .createQueryBuilder()
      .insert()
      .into(TenantEntity)
      .values({ id: tenantId, name: DEMO_TENANT_NAME, createdAt: nextTimestamp() })
      .orIgnore()
      .execute();
    await this.repo
      .createQueryBuilder()
      .insert()
      .into(ApiKeyEntity)
      .values(this.build(uuidFrom(`demo-key:${keyHash}`), tenantId, 'demo key', plaintext, DEFAULT_API_KEY_SCOPES))
      .orIgnore()
      .execute();
    return this.repo.findOneByOrFail({ keyHash });
  }

  private build(id: string, tenantId: string, name: string, plaintext: string, scopes: readonly string[]): ApiKeyEntity {
    return this.repo.create({
      id,
      tenantId,
      name,
      prefix: plaintext.slice(0, PREFIX_LENGTH),
      keyHash: hashApiKey(plaintext),
      scopes: [...scopes],
      createdAt: nextTimestamp(),
      lastUsedAt: null,
      revokedAt: null,
    });
  }
}

/** A stable UUID-shaped id (version 8, "custom") from a seed string. */
function uuidFrom(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
