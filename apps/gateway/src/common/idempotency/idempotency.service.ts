import { type AppConfig, InjectAppConfig } from '@app/config';
import { IdempotencyKeysRepository } from '@app/persistence';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { idempotencyKeyInUse, idempotencyKeyReused } from './idempotency.errors';
import { requestFingerprint } from './request-fingerprint';

const PRUNE_INTERVAL_MS = 3_600_000;

/** How a request with a key goes on: run it under the claim, or answer what the first request got. */
export type IdempotentStart = { replay: false; claimId: string } | { replay: true; status: number; body: unknown };

/**
 * `Idempotency-Key` on create calls, shared by every gateway through the database: the first request claims the key,
 * its success is stored for IDEMPOTENCY_TTL_HOURS and replayed; a failure releases the key.
 */
@Injectable()
export class IdempotencyService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(IdempotencyService.name);
  private readonly ttlSeconds: number;
  private readonly lockSeconds: number;
  private pruneTimer?: NodeJS.Timeout;

  constructor(
    @InjectAppConfig() config: AppConfig,
    private readonly keys: IdempotencyKeysRepository,
  ) {
    this.ttlSeconds = config.idempotency.ttlHours * 3600;
    this.lockSeconds = config.idempotency.lockSeconds;
  }

  onApplicationBootstrap(): void {
    this.pruneTimer = setInterval(() => void this.prune(), PRUNE_INTERVAL_MS).unref();
    void this.prune();
  }

  onApplicationShutdown(): void {
    clearInterval(this.pruneTimer);
  }

  /**
   * Claims the tenant's key for this request, or answers the stored success of the same request. Throws a 422 when the
   * key belongs to a different request and a 409 while the first one still runs.
   */
  async begin(tenantId: string, key: string, route: string, body: unknown): Promise<IdempotentStart> {
    const requestHash = requestFingerprint(route, body);
    const claim = await this.keys.claim({ tenantId, key, route, requestHash, lockSeconds: this.lockSeconds, ttlSeconds: this.ttlSeconds });
    if (claim.outcome === 'claimed') return { replay: false, claimId: claim.id };
    const { row } = claim;
    if (row.route !== route || row.requestHash !== requestHash) throw idempotencyKeyReused(row.route !== route ? row.route : null);
    if (row.state === 'pending' || row.responseStatus === null) throw idempotencyKeyInUse();
    return { replay: true, status: row.responseStatus, body: row.responseBody };
  }

  /**
   * Stores the success to replay. A failure to store is logged, not thrown: the resource exists and the client should
   * get its answer; a retry then meets the pending claim until IDEMPOTENCY_LOCK_SECONDS pass.
   */
  async complete(claimId: string, status: number, body: unknown): Promise<void> {
    try {
      if (!(await this.keys.complete(claimId, { status, body }, this.ttlSeconds))) {
        this.logger.warn(`idempotency claim ${claimId} was taken over before its request finished (it ran longer than IDEMPOTENCY_LOCK_SECONDS)`);
      }
    } catch (err) {
      this.logger.warn(`could not store the answer of idempotency claim ${claimId}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Frees the key after a failed request so a retry runs afresh. Logged, not thrown: the request's own error matters. */
  async release(claimId: string): Promise<void> {
    try {
      await this.keys.release(claimId);
    } catch (err) {
      this.logger.warn(`could not release idempotency claim ${claimId}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private async prune(): Promise<void> {
    try {
      await this.keys.pruneExpired();
    } catch (err) {
      this.logger.warn(`could not prune expired idempotency keys: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
