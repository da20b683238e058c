import { WEBHOOK_EVENT_NAMES, type WebhookEventName } from '@app/contracts';
import { EntitySchema } from 'typeorm';
import { Dialect, dialectColumns, oneOf } from './column-types';

export const WEBHOOK_EVENTS = WEBHOOK_EVENT_NAMES;
export type WebhookEvent = WebhookEventName;
export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** One try at delivering a webhook. */
export interface DeliveryAttempt {
  attempt: number;
  at: string;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/** A webhook notification of a job event, with every delivery attempt; the body is fixed when the event happens. */
export class WebhookDeliveryEntity {
  id!: string;
  tenantId!: string;
  jobId!: string;
  event!: WebhookEvent;
  url!: string;
  /** The exact JSON body sent (and signed) on every attempt. */
  payload!: string;
  status!: DeliveryStatus;
  attempts!: number;
  maxAttempts!: number;
  nextAttemptAt!: Date | null;
  lastStatusCode!: number | null;
  lastError!: string | null;
  attemptLog!: DeliveryAttempt[];
  createdAt!: Date;
  updatedAt!: Date;
  deliveredAt!: Date | null;
}

export function webhookDeliverySchema(dialect: Dialect): EntitySchema<WebhookDeliveryEntity> {
  const c = dialectColumns(dialect);
  return new EntitySchema<WebhookDeliveryEntity>({
    name: 'WebhookDeliveryEntity',
    target: WebhookDeliveryEntity,
    tableName: 'webhook_deliveries',
    columns: {
      id: c.uuid({ primary: true, primaryKeyConstraintName: 'pk_webhook_deliveries' }),
      tenantId: c.uuid({ name: 'tenant_id' }),
      jobId: c.uuid({ name: 'job_id' }),
      event: { type: 'varchar', length: 16 },
      url: { type: 'varchar', length: 2048 },
      payload: { type: 'text' },
      status: { type: 'varchar', length: 16 },
      attempts: { type: 'integer', default: 0 },
      maxAttempts: { type: 'integer', name: 'max_attempts' },
      nextAttemptAt: c.timestamp({ name: 'next_attempt_at', nullable: true }),
      lastStatusCode: { type: 'integer', name: 'last_status_code', nullable: true },
      lastError: { type: 'varchar', length: 500, name: 'last_error', nullable: true },
      attemptLog: c.json({ name: 'attempt_log' }),
      createdAt: c.timestamp({ name: 'created_at' }),
      updatedAt: c.timestamp({ name: 'updated_at' }),
      deliveredAt: c.timestamp({ name: 'delivered_at', nullable: true }),
    },
    indices: [
      { name: 'idx_webhook_deliveries_tenant_job', columns: ['tenantId', 'jobId', 'createdAt'] },
      { name: 'idx_webhook_deliveries_status_next', columns: ['status', 'nextAttemptAt'] },
    ],
    checks: [
      { name: 'chk_webhook_deliveries_event', expression: oneOf('event', WEBHOOK_EVENTS) },
      { name: 'chk_webhook_deliveries_status', expression: oneOf('status', DELIVERY_STATUSES) },
    ],
  });
}
