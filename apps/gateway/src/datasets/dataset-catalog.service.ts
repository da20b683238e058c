import { type AppConfig, InjectAppConfig } from '@app/config';
import type { DatasetRef } from '@app/contracts';
import { findBuiltinDataset, listBuiltinDatasets, type DatasetInfo } from '@app/datasets';
import { DatasetsRepository, type DatasetEntity } from '@app/persistence';
import { Injectable } from '@nestjs/common';
import { DomainError } from '../common/domain-error';

/** A dataset a train request may name, found. */
export interface ResolvedDataset {
  info: DatasetInfo;
  ref: DatasetRef;
}

/** The datasets a tenant can train on: the built-ins installed here and its own uploads. */
@Injectable()
export class DatasetCatalog {
  constructor(
    @InjectAppConfig() private readonly config: AppConfig,
    private readonly datasets: DatasetsRepository,
  ) {}

  builtins(): DatasetInfo[] {
    return listBuiltinDatasets({ fashionMnistDir: this.config.datasets.fashionMnistPath });
  }

  /** A built-in name (any case) or one of the tenant's uploads by id or name; 422 naming what is available otherwise. */
  async resolve(tenantId: string, name: string): Promise<ResolvedDataset> {
    const builtin = findBuiltinDataset(name, { fashionMnistDir: this.config.datasets.fashionMnistPath });
    if (builtin) {
      if (!builtin.available) {
        throw new DomainError('dataset_unavailable', 422, 'Dataset not available', `${builtin.name} is not installed on this server: ${builtin.unavailableReason ?? 'its files are missing'}.`, [
          { field: 'dataset', message: `${builtin.name} is not installed here` },
        ]);
      }
      return { info: builtin, ref: { kind: 'builtin', name: builtin.name } };
    }
    const upload = await this.datasets.findByIdOrName(tenantId, name);
    if (upload) return { info: uploadInfo(upload), ref: { kind: 'upload', id: upload.id, name: upload.name, dataKey: upload.dataKey } };
    const available = [...this.builtins().filter((d) => d.available).map((d) => d.name), ...(await this.datasets.list(tenantId, { skip: 0, limit: 50 })).items.map((d) => d.name)];
    throw new DomainError('unknown_dataset', 422, 'Unknown dataset', `There is no dataset ${JSON.stringify(name)}. Available: ${available.join(', ')}.`, [
      { field: 'dataset', message: `unknown dataset; available: ${available.join(', ')}` },
    ]);
  }
}

/** An upload's row as the DatasetInfo the planner checks models against. */
export function uploadInfo(d: DatasetEntity): DatasetInfo {
  return {
    name: d.name,
    kind: 'upload',
    task: d.task,
    sampleShape: d.sampleShape,
    labelShape: d.labelShape,
    numClasses: d.numClasses,
    classNames: d.classNames ?? undefined,
    trainSamples: d.trainSamples,
    testSamples: d.testSamples,
    available: true,
    description: `uploaded ${d.format.toUpperCase()} dataset`,
    source: 'upload',
  };
}
