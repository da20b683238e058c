import { Injectable } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { Brackets, DataSource } from 'typeorm';
import { IdempotencyKeyEntity } from '../entities';

/** A request made with an `Idempotency-Key`, as the repository needs it. */
export interface IdempotencyClaimInput {
  tenantId: string;
  key: string;
  route: string;
  requestHash: string;
  /** A pending claim older than this is abandoned and may be taken over. */
  lockSeconds: number;
  /** The row (pending or completed) is ignored and pruned after this. */
  ttlSeconds: number;
  now?: Date;
}

/**
 * `claimed`: this caller owns the key now and must `complete` or `release` the row by its `id` (the id changes at each
 * claim, so a caller whose claim was taken over cannot touch the new owner's row). `existing`: a live row of another
 * request with this key, pending or completed, for the caller to compare and answer.
 */
export type IdempotencyClaim = { outcome: 'claimed'; id: string } | { outcome: 'existing'; row: IdempotencyKeyEntity };

const CLAIM_ATTEMPTS = 3;

@Injectable()
export class IdempotencyKeysRepository {
  constructor(private readonly dataSource: DataSource) {}

  private get repo() {
    return this.dataSource.getRepository(IdempotencyKeyEntity);
  }

  /**
   * Claims the tenant's key for a request: inserts a pending row, or takes over the row already there when it expired
   * or is an abandoned pending one. Safe under concurrent claims across processes: the unique (tenant, key) index and
   * conditional updates let exactly one win.
   */
  async claim(input: IdempotencyClaimInput): Promise<IdempotencyClaim> {
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const now = input.now ?? new Date();
      const id = randomUUID();
      // Record, not the entity type: TypeORM's partial-entity type refuses null for the json column.
      const fresh: Record<string, unknown> = {
        id,
        route: input.route,
        requestHash: input.requestHash,
        state: 'pending',
        responseStatus: null,
        responseBody: null,
        createdAt: now,
        lockedUntil: new Date(now.getTime() + input.lockSeconds * 1000),
        expiresAt: new Date(now.getTime() + input.ttlSeconds * 1000),
      };
      await this.repo
        .createQueryBuilder()
        .insert()
        .into(IdempotencyKeyEntity)
        .values({ ...fresh, tenantId: input.tenantId, key: input.key })
        .orIgnore()
        .execute();
      const row = await this.find(input.tenantId, input.key);
      if (row?.id === id) return { outcome: 'claimed', id };
      if (row && !isReclaimable(row, now)) return { outcome: 'existing', row };
      if (row) {
        const taken = await this.repo
          .createQueryBuilder()
          .update(IdempotencyKeyEntity)
          .set(fresh)
          .where('id = :old', { old: row.id })
          .andWhere(new Brackets((qb) => qb.where('expires_at <= :now', { now }).orWhere("(state = 'pending' AND locked_until <= :now)", { now })))
          .execute();
        if (taken.affected === 1) return { outcome: 'claimed', id };
      }
      // Released, or taken over by another request, between our statements: look again.
    }
    throw new Error(`could not claim idempotency key after ${CLAIM_ATTEMPTS} attempts`);
  }

  /** The row of the tenant's key, live or not. */
  async find(tenantId: string, key: string): Promise<IdempotencyKeyEntity | null> {
    return this.repo.findOneBy({ tenantId, key });
  }

  /** pending → completed with the answer to replay, kept for `ttlSeconds` from now. False when the claim was lost. */
  async complete(id: string, response: { status: number; body: unknown }, ttlSeconds: number, now = new Date()): Promise<boolean> {
    const result = await this.repo
      .createQueryBuilder()
      .update(IdempotencyKeyEntity)
      .set({ state: 'completed', responseStatus: response.status, responseBody: response.body as object, expiresAt: new Date(now.getTime() + ttlSeconds * 1000) })
      .where({ id, state: 'pending' })
      .execute();
    return result.affected === 1;
  }

  /** Deletes a pending claim (its request failed), so the key can be used again. False when the claim was lost. */
  async release(id: string): Promise<boolean> {
    const result = await this.repo.delete({ id, state: 'pending' });
    return result.affected === 1;
  }

  /** Deletes the rows whose `expires_at` has passed; how many. */
  async pruneExpired(now = new Date()): Promise<number> {
    const result = await this.repo.createQueryBuilder().delete().from(IdempotencyKeyEntity).where('expires_at <= :now', { now }).execute();
    return result.affected ?? 0;
  }
}

function isReclaimable(row: IdempotencyKeyEntity, now: Date): boolean {
  return row.expiresAt <= now || (row.state === 'pending' && row.lockedUntil <= now);
}
