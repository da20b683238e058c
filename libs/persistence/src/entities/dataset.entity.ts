import { EntitySchema } from 'typeorm';
import { Dialect, dialectColumns, oneOf } from './column-types';

export const DATASET_FORMATS = ['csv', 'json'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

/** A dataset a tenant uploaded: the raw file and its parsed, training-ready form in the dataset store. */
export class DatasetEntity {
  id!: string;
  tenantId!: string;
  /** Unique per tenant; usable as `dataset` in a train request, as is the id. */
  name!: string;
  format!: DatasetFormat;
  task!: 'classification' | 'regression';
  sampleShape!: number[];
  labelShape!: number[];
  numClasses!: number | null;
  classNames!: string[] | null;
  trainSamples!: number;
  testSamples!: number;
  /** Bytes of the upload as received. */
  sizeBytes!: number;
  /** The upload as received. */
  rawKey!: string;
  /** The parsed samples and labels (the format libs/datasets reads). */
  dataKey!: string;
  createdAt!: Date;
}

export function datasetSchema(dialect: Dialect): EntitySchema<DatasetEntity> {
  const c = dialectColumns(dialect);
  return new EntitySchema<DatasetEntity>({
    name: 'DatasetEntity',
    target: DatasetEntity,
    tableName: 'datasets',
    columns: {
      id: c.uuid({ primary: true, primaryKeyConstraintName: 'pk_datasets' }),
      tenantId: c.uuid({ name: 'tenant_id' }),
      name: { type: 'varchar', length: 100 },
      format: { type: 'varchar', length: 8 },
      task: { type: 'varchar', length: 16 },
      sampleShape: c.json({ name: 'sample_shape' }),
      labelShape: c.json({ name: 'label_shape' }),
      numClasses: { type: 'integer', name: 'num_classes', nullable: true },
      classNames: c.json({ name: 'class_names', nullable: true }),
      trainSamples: { type: 'integer', name: 'train_samples' },
      testSamples: { type: 'integer', name: 'test_samples' },
      sizeBytes: { type: 'integer', name: 'size_bytes' },
      rawKey: { type: 'varchar', length: 512, name: 'raw_key' },
      dataKey: { type: 'varchar', length: 512, name: 'data_key' },
      createdAt: c.timestamp({ name: 'created_at' }),
    },
    indices: [
      { name: 'uq_datasets_tenant_name', columns: ['tenantId', 'name'], unique: true },
      { name: 'idx_datasets_tenant_created', columns: ['tenantId', 'createdAt'] },
    ],
    checks: [
      { name: 'chk_datasets_format', expression: oneOf('format', DATASET_FORMATS) },
      { name: 'chk_datasets_task', expression: oneOf('task', ['classification', 'regression']) },
    ],
  });
}
