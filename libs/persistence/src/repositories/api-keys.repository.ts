import { DEFAULT_SCOPES } from '@app/contracts';
import { Injectable } from '@nestjs/common';
import { createHash, randomBytes, randomUUID } from 'crypto';
import { DataSource, IsNull } from 'typeorm';
import { ApiKeyEntity, TenantEntity } from '../entities';
import { isUuid, nextTimestamp, type Page, type PageQuery } from './repository.utils';

/** Scopes a key gets when none are given: everything in its own tenant, no administration. */
export const DEFAULT_API_KEY_SCOPES: readonly string[] = DEFAULT_SCOPES;
/** Name of the tenant that owns the development demo key. */
export const DEMO_TENANT_NAME = 'demo';

/** What authentication needs of an active key. */
export interface ApiKeyIdentity {
  id: string;
  tenantId: string;
  scopes: string[];
}

/** A key chosen by the operator (the demo key, `ADMIN_API_KEY`), made sure of at boot. */
export interface EnsuredKey {
  /** Seeds the stable tenant and key ids, and names the tenant when it is created. */
  tenantName: string;
  keyName: string;
  scopes: readonly string[];
}
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
  async findActiveIdentityByHash(keyHash: string): Promise<ApiKeyIdentity | null> {
    return this.findActiveIdentity('key_hash', keyHash);
  }

  /** The same by key id: a bearer token names its key, and stops working the moment the key is revoked. */
  async findActiveIdentityById(id: string): Promise<ApiKeyIdentity | null> {
    return isUuid(id) ? this.findActiveIdentity('id', id) : null;
  }

  private async findActiveIdentity(column: 'key_hash' | 'id', value: string): Promise<ApiKeyIdentity | null> {
    const placeholder = this.dataSource.options.type === 'postgres' ? '$1' : '?';
    const rows: Array<{ id: string; tenant_id: string; scopes: string[] | string }> = await this.dataSource.query(
      `SELECT "id", "tenant_id", "scopes" FROM "api_keys" WHERE "${column}" = ${placeholder} AND "revoked_at" IS NULL`,
      [value],
    );
    if (!rows.length) return null;
    const { id, tenant_id: tenantId, scopes } = rows[0];
    return { id, tenantId, scopes: typeof scopes === 'string' ? (JSON.parse(scopes) as string[]) : scopes };
  }

  async findById(id: string): Promise<ApiKeyEntity | null> {
    return isUuid(id) ? this.repo.findOneBy({ id }) : null;
  }

  /** The tenant's keys, newest first (revoked ones included). */
  async listForTenant(tenantId: string): Promise<ApiKeyEntity[]> {
    return this.repo.find({ where: { tenantId }, order: { createdAt: 'DESC', id: 'DESC' } });
  }

  /** A page of keys, newest first: one tenant's, or every tenant's when `tenantId` is null (administrators). */
  async list(tenantId: string | null, page: PageQuery): Promise<Page<ApiKeyEntity>> {
    const [items, total] = await this.repo.findAndCount({
      where: tenantId === null ? {} : { tenantId },
      order: { createdAt: 'DESC', id: 'DESC' },
      skip: page.skip,
      take: page.limit,
    });
    return { items, total };
  }

  /**
   * Revokes a key of the tenant (any tenant's when `tenantId` is null); the revoked entity, or null when it does not
   * exist, belongs to another tenant or was already revoked.
   */
  async revoke(tenantId: string | null, id: string): Promise<ApiKeyEntity | null> {
    if (!isUuid(id)) return null;
    const result = await this.repo
      .createQueryBuilder()
      .update(ApiKeyEntity)
      .set({ revokedAt: nextTimestamp() })
      .where({ id, revokedAt: IsNull(), ...(tenantId === null ? {} : { tenantId }) })
      .execute();
    return result.affected === 1 ? this.repo.findOneBy({ id }) : null;
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

  /** Makes sure `plaintext` is the development demo key, with every scope (see {@link ensureKey}). */
  async ensureDemoKey(plaintext: string, scopes: readonly string[]): Promise<ApiKeyEntity> {
    return this.ensureKey(plaintext, { tenantName: DEMO_TENANT_NAME, keyName: 'demo key', scopes });
  }

  /**
   * Makes sure `plaintext` is an active-or-revoked key of its own tenant with `scopes`. Idempotent and safe when
   * several processes boot at once: tenant and key ids are derived from the key, and both inserts ignore conflicts.
   * A key already present keeps its tenant and revocation; only its scopes follow the configuration.
   */
  async ensureKey(plaintext: string, ensured: EnsuredKey): Promise<ApiKeyEntity> {
    const keyHash = hashApiKey(plaintext);
    const existing = await this.repo.findOneBy({ keyHash });
    if (existing) {
      if (sameScopes(existing.scopes, ensured.scopes)) return existing;
      await this.repo.update({ id: existing.id }, { scopes: [...ensured.scopes] });
      return this.repo.findOneByOrFail({ id: existing.id });
    }
    const tenantId = uuidFrom(`${ensured.tenantName}-tenant:${keyHash}`);
    await this.dataSource
      .createQueryBuilder()
      .insert()
      .into(TenantEntity)
      .values({ id: tenantId, name: ensured.tenantName, createdAt: nextTimestamp() })
      .orIgnore()
      .execute();
    await this.repo
      .createQueryBuilder()
      .insert()
      .into(ApiKeyEntity)
      .values(this.build(uuidFrom(`${ensured.tenantName}-key:${keyHash}`), tenantId, ensured.keyName, plaintext, ensured.scopes))
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

function sameScopes(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((s) => b.includes(s));
}

/** A stable UUID-shaped id (version 8, "custom") from a seed string. */
function uuidFrom(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
