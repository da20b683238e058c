import { EntitySchema } from 'typeorm';
import { Dialect, dialectColumns } from './column-types';

/** A security-relevant event: a key created or revoked, a failed authentication, a refused scope, a delete. */
export class AuditEventEntity {
  id!: string;
  /** The tenant acted on or as; null for a failed authentication (no tenant is known). */
  tenantId!: string | null;
  /** The API key that acted (directly or through one of its tokens). */
  actorKeyId!: string | null;
  /** Dotted name: `api_key.created`, `auth.failed`, `experiment.deleted`, ... */
  action!: string;
  targetType!: string | null;
  targetId!: string | null;
  ip!: string | null;
  requestId!: string | null;
  /** Non-secret particulars (a key's prefix and scopes, the route refused). */
  details!: Record<string, unknown>;
  createdAt!: Date;
}

export function auditEventSchema(dialect: Dialect): EntitySchema<AuditEventEntity> {
  const c = dialectColumns(dialect);
  return new EntitySchema<AuditEventEntity>({
    name: 'AuditEventEntity',
    target: AuditEventEntity,
    tableName: 'audit_events',
    columns: {
      id: c.uuid({ primary: true, primaryKeyConstraintName: 'pk_audit_events' }),
      tenantId: c.uuid({ name: 'tenant_id', nullable: true }),
      actorKeyId: c.uuid({ name: 'actor_key_id', nullable: true }),
      action: { type: 'varchar', length: 64 },
      targetType: { type: 'varchar', length: 32, name: 'target_type', nullable: true },
      targetId: { type: 'varchar', length: 200, name: 'target_id', nullable: true },
      ip: { type: 'varchar', length: 64, nullable: true },
      requestId: { type: 'varchar', length: 128, name: 'request_id', nullable: true },
      details: c.json(),
      createdAt: c.timestamp({ name: 'created_at' }),
    },
    indices: [
      { name: 'idx_audit_events_created', columns: ['createdAt'] },
      { name: 'idx_audit_events_tenant_created', columns: ['tenantId', 'createdAt'] },
      { name: 'idx_audit_events_action_created', columns: ['action', 'createdAt'] },
    ],
  });
}
