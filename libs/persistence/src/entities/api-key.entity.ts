import { EntitySchema } from 'typeorm';
import { Dialect, dialectColumns } from './column-types';

/** An API key. Only the SHA-256 of the plaintext is stored; the plaintext is shown once, at creation. */
export class ApiKeyEntity {
  id!: string;
  tenantId!: string;
  name!: string;
  /** The first 8 characters of the plaintext, to tell keys apart in listings. */
  prefix!: string;
  /** Lowercase hex SHA-256 of the plaintext key. */
  keyHash!: string;
  scopes!: string[];
  createdAt!: Date;
  lastUsedAt!: Date | null;
  revokedAt!: Date | null;
}

export function apiKeySchema(dialect: Dialect): EntitySchema<ApiKeyEntity> {
  const c = dialectColumns(dialect);
  return new EntitySchema<ApiKeyEntity>({
    name: 'ApiKeyEntity',
    target: ApiKeyEntity,
    tableName: 'api_keys',
    columns: {
      id: c.uuid({ primary: true, primaryKeyConstraintName: 'pk_api_keys' }),
      tenantId: c.uuid({
        name: 'tenant_id',
        foreignKey: { target: 'tenants', name: 'fk_api_keys_tenant_id', onDelete: 'CASCADE' },
      }),
      name: { type: 'varchar', length: 200 },
      prefix: { type: 'varchar', length: 16 },
      keyHash: { type: 'varchar', length: 64, name: 'key_hash' },
      scopes: c.json(),
      createdAt: c.timestamp({ name: 'created_at' }),
      lastUsedAt: c.timestamp({ name: 'last_used_at', nullable: true }),
      revokedAt: c.timestamp({ name: 'revoked_at', nullable: true }),
    },
    indices: [
      { name: 'uq_api_keys_key_hash', columns: ['keyHash'], unique: true },
      { name: 'idx_api_keys_tenant_id', columns: ['tenantId'] },
    ],
  });
}
