import { Injectable } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { Between, DataSource, type FindOptionsWhere, LessThan, MoreThanOrEqual } from 'typeorm';
import { AuditEventEntity } from '../entities';
import { nextTimestamp, type Page, type PageQuery } from './repository.utils';

/** An event to record; everything but the action is optional. */
export interface AuditEventInput {
  action: string;
  tenantId?: string | null;
  actorKeyId?: string | null;
  targetType?: string | null;
  targetId?: string | null;
  ip?: string | null;
  requestId?: string | null;
  details?: Record<string, unknown>;
}

/** Filters of the audit log; all optional, combined with AND. */
export interface AuditQuery extends PageQuery {
  tenantId?: string;
  action?: string;
  since?: Date;
  until?: Date;
}

@Injectable()
export class AuditEventsRepository {
  constructor(private readonly dataSource: DataSource) {}

  private get repo() {
    return this.dataSource.getRepository(AuditEventEntity);
  }

  async record(event: AuditEventInput): Promise<AuditEventEntity> {
    return this.repo.save(
      this.repo.create({
        id: randomUUID(),
        tenantId: event.tenantId ?? null,
        actorKeyId: event.actorKeyId ?? null,
        action: event.action,
        targetType: event.targetType ?? null,
        targetId: event.targetId?.slice(0, 200) ?? null,
        ip: event.ip?.slice(0, 64) ?? null,
        requestId: event.requestId ?? null,
        details: event.details ?? {},
        createdAt: nextTimestamp(),
      }),
    );
  }

  /** A page of events, newest first. */
  async list(q: AuditQuery): Promise<Page<AuditEventEntity>> {
    const where: FindOptionsWhere<AuditEventEntity> = {};
    if (q.tenantId) where.tenantId = q.tenantId;
    if (q.action) where.action = q.action;
    if (q.since && q.until) where.createdAt = Between(q.since, q.until);
    else if (q.since) where.createdAt = MoreThanOrEqual(q.since);
    else if (q.until) where.createdAt = LessThan(q.until);
    const [items, total] = await this.repo.findAndCount({ where, order: { createdAt: 'DESC', id: 'DESC' }, skip: q.skip, take: q.limit });
    return { items, total };
  }

  /** Deletes events older than `before`; how many. */
  async pruneBefore(before: Date): Promise<number> {
    const result = await this.repo.createQueryBuilder().delete().from(AuditEventEntity).where('created_at < :before', { before }).execute();
    return result.affected ?? 0;
  }
}
