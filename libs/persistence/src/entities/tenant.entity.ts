import { EntitySchema } from 'typeorm';
import { Dialect, dialectColumns } from './column-types';

/** A customer account; every stored resource belongs to exactly one. */
export class TenantEntity {
  id!: string;
  name!: string;
  /** Signs the tenant's webhook deliveries (HMAC-SHA256); created on first use. */
  webhookSecret!: string | null;
  createdAt!: Date;
}

export function tenantSchema(dialect: Dialect): EntitySchema<TenantEntity> {
  const c = dialectColumns(dialect);
  return new EntitySchema<TenantEntity>({
    name: 'TenantEntity',
    target: TenantEntity,
    tableName: 'tenants',
    columns: {
      id: c.uuid({ primary: true, primaryKeyConstraintName: 'pk_tenants' }),
      name: { type: 'varchar', length: 200 },
      webhookSecret: { type: 'varchar', length: 128, name: 'webhook_secret', nullable: true },
      createdAt: c.timestamp({ name: 'created_at' }),
    },
  });
}
