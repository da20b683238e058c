import { Injectable } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { DataSource, LessThan } from 'typeorm';
import { DeliveryAttempt, WebhookDeliveryEntity, WebhookEvent } from '../entities';
import { isUuid, nextTimestamp } from './repository.utils';

export interface CreateDeliveryInput {
  tenantId: string;
  jobId: string;
  event: WebhookEvent;
  url: string;
  payload: string;
  maxAttempts: number;
}

/** What one attempt came to: delivered, to be tried again at `retryAt`, or given up. */
export type AttemptOutcome = { result: 'delivered' } | { result: 'retry'; retryAt: Date } | { result: 'failed' };

@Injectable()
export class WebhookDeliveriesRepository {
  constructor(private readonly dataSource: DataSource) {}

  private get repo() {
    return this.dataSource.getRepository(WebhookDeliveryEntity);
  }

  /** A `pending` delivery due now. */
  async create(input: CreateDeliveryInput): Promise<WebhookDeliveryEntity> {
    const now = nextTimestamp();
    return this.repo.save(
      this.repo.create({
        ...input,
        id: randomUUID(),
        status: 'pending',
        attempts: 0,
        nextAttemptAt: now,
        lastStatusCode: null,
        lastError: null,
        attemptLog: [],
        createdAt: now,
        updatedAt: now,
        deliveredAt: null,
      }),
    );
  }

  async findById(id: string): Promise<WebhookDeliveryEntity | null> {
    return isUuid(id) ? this.repo.findOneBy({ id }) : null;
  }

  /** The job's deliveries, oldest first. */
  async listForJob(tenantId: string, jobId: string): Promise<WebhookDeliveryEntity[]> {
    return isUuid(jobId) ? this.repo.find({ where: { tenantId, jobId }, order: { createdAt: 'ASC', id: 'ASC' } }) : [];
  }

  /**
   * Records an attempt of a pending delivery made by the caller as attempt number `attempt.attempt`. False when the
   * delivery is no longer pending or another worker already recorded that attempt, so a duplicate run changes nothing.
   */
  async recordAttempt(id: string, attempt: DeliveryAttempt, outcome: AttemptOutcome): Promise<boolean> {
    const current = await this.findById(id);
    if (!current || current.status !== 'pending' || current.attempts !== attempt.attempt - 1) return false;
    const now = nextTimestamp();
    const result = await this.repo
      .createQueryBuilder()
      .update(WebhookDeliveryEntity)
      .set({
        attempts: attempt.attempt,
        attemptLog: [...current.attemptLog, attempt],
        lastStatusCode: attempt.statusCode,
        lastError: attempt.error?.slice(0, 500) ?? null,
        status: outcome.result === 'retry' ? 'pending' : outcome.result,
        nextAttemptAt: outcome.result === 'retry' ? outcome.retryAt : null,
        deliveredAt: outcome.result === 'delivered' ? now : null,
        updatedAt: now,
      })
      .where({ id, status: 'pending', attempts: attempt.attempt - 1 })
      .execute();
    return result.affected === 1;
  }

  /** Pending deliveries that should have been attempted before `before` (their queue entry may be lost). */
  async findOverdue(before: Date, limit = 100): Promise<WebhookDeliveryEntity[]> {
    return this.repo.find({ where: { status: 'pending', nextAttemptAt: LessThan(before) }, order: { nextAttemptAt: 'ASC', id: 'ASC' }, take: limit });
  }
}
