import { EntitySchema } from 'typeorm';
import { Dialect, dialectColumns } from './column-types';

/** A customer account; every stored resource belongs to exactly one. */
export class TenantEntity {
  id!: string;
  name!: string;
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
      createdAt: c.timestamp({ name: 'created_at' }),
    },
  });
}
