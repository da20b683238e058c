import { EntitySchema } from 'typeorm';
import { Dialect, dialectColumns, oneOf } from './column-types';

export const IDEMPOTENCY_STATES = ['pending', 'completed'] as const;
export type IdempotencyState = (typeof IDEMPOTENCY_STATES)[number];

/**
 * A create request made with an `Idempotency-Key`: `pending` while the first request runs, then the answer it got,
 * which a retry with the same key (and the same request) receives instead of a second job.
 */
export class IdempotencyKeyEntity {
  id!: string;
  tenantId!: string;
  /** The client's `Idempotency-Key` header. */
  key!: string;
  /** `POST /jobs/train`: a key names one request to one route. */
  route!: string;
  /** Hex SHA-256 of the request body, so the key cannot be reused for a different request. */
  requestHash!: string;
  state!: IdempotencyState;
  responseStatus!: number | null;
  responseBody!: unknown;
  createdAt!: Date;
  /** A `pending` row older than this is an abandoned attempt (its gateway died) and may be taken over. */
  lockedUntil!: Date;
  expiresAt!: Date;
}

export function idempotencyKeySchema(dialect: Dialect): EntitySchema<IdempotencyKeyEntity> {
  const c = dialectColumns(dialect);
  return new EntitySchema<IdempotencyKeyEntity>({
    name: 'IdempotencyKeyEntity',
    target: IdempotencyKeyEntity,
    tableName: 'idempotency_keys',
    columns: {
      id: c.uuid({ primary: true, primaryKeyConstraintName: 'pk_idempotency_keys' }),
      tenantId: c.uuid({ name: 'tenant_id' }),
      key: { type: 'varchar', length: 255, name: 'idempotency_key' },
      route: { type: 'varchar', length: 200 },
      requestHash: { type: 'varchar', length: 64, name: 'request_hash' },
      state: { type: 'varchar', length: 16 },
      responseStatus: { type: 'integer', name: 'response_status', nullable: true },
      responseBody: c.json({ name: 'response_body', nullable: true }),
      createdAt: c.timestamp({ name: 'created_at' }),
      lockedUntil: c.timestamp({ name: 'locked_until' }),
      expiresAt: c.timestamp({ name: 'expires_at' }),
    },
    checks: [{ name: 'chk_idempotency_keys_state', expression: oneOf('state', IDEMPOTENCY_STATES) }],
    indices: [
      { name: 'uq_idempotency_keys_tenant_key', columns: ['tenantId', 'key'], unique: true },
      { name: 'idx_idempotency_keys_expires', columns: ['expiresAt'] },
    ],
  });
}
