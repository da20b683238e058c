import { JobStatus, ModelBackend } from '@app/contracts';
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { DataSource, FindOptionsWhere, In } from 'typeorm';
import { ExperimentEntity } from '../entities';
import { isUuid, nextTimestamp, Page, PageQuery } from './repository.utils';

export interface CreateExperimentInput {
  id?: string;
  tenantId: string;
  name: string;
  jobId: string;
  dsl: string;
  backend: ModelBackend;
  engine: string;
  dataset: string;
  datasetId?: string | null;
  seed?: number | null;
  hyperparameters: Record<string, unknown>;
  plan: Record<string, unknown>;
  /** The sweep this run is a trial of. */
  sweepId?: string | null;
}

/** Metric names usable for sorting: the history's keys (`val_accuracy`, `loss`, ...). */
export const METRIC_NAME = /^[a-z][a-z0-9_]{0,63}$/;

export interface ExperimentListQuery extends PageQuery {
  name?: string;
  status?: JobStatus;
  sweepId?: string;
  /** `created_at` (default) or a metric of `final_metrics`; experiments without that metric sort last. */
  sortBy?: string;
  order?: 'asc' | 'desc';
}

/** What a running experiment may change; the runner holds the whole history and writes it back each epoch. */
export type ExperimentPatch = Partial<
  Pick<
    ExperimentEntity,
    | 'status'
    | 'computeBackend'
    | 'history'
    | 'finalMetrics'
    | 'bestMetrics'
    | 'testMetrics'
    | 'artifacts'
    | 'checkpointKey'
    | 'checkpointEpoch'
    | 'error'
    | 'modelId'
    | 'startedAt'
    | 'completedAt'
  >
>;

@Injectable()
export class ExperimentsRepository {
  constructor(private readonly dataSource: DataSource) {}

  private get repo() {
    return this.dataSource.getRepository(ExperimentEntity);
  }

  /** A new `pending` experiment with an empty history. */
  async create(input: CreateExperimentInput): Promise<ExperimentEntity> {
    const now = nextTimestamp();
    return this.repo.save(
      this.repo.create({
        ...input,
        id: input.id ?? randomUUID(),
        datasetId: input.datasetId ?? null,
        seed: input.seed ?? null,
        sweepId: input.sweepId ?? null,
        modelId: null,
        status: 'pending',
        computeBackend: null,
        history: [],
        finalMetrics: null,
        bestMetrics: null,
        testMetrics: null,
        artifacts: [],
        checkpointKey: null,
        checkpointEpoch: null,
        error: null,
        createdAt: now,
        startedAt: null,
        completedAt: null,
        updatedAt: now,
      }),
    );
  }

  async findForTenant(tenantId: string, id: string): Promise<ExperimentEntity | null> {
    return isUuid(id) ? this.repo.findOneBy({ tenantId, id }) : null;
  }

  /** The tenant's experiments among `ids` (unknown or foreign ids are simply absent). */
  async findManyForTenant(tenantId: string, ids: string[]): Promise<ExperimentEntity[]> {
    const valid = ids.filter(isUuid);
    return valid.length ? this.repo.findBy({ tenantId, id: In(valid) }) : [];
  }

  async findByJob(jobId: string): Promise<ExperimentEntity | null> {
    return isUuid(jobId) ? this.repo.findOneBy({ jobId }) : null;
  }

  /** The experiments of a sweep's trials, any order. */
  async listBySweep(sweepId: string): Promise<ExperimentEntity[]> {
    return isUuid(sweepId) ? this.repo.findBy({ sweepId }) : [];
  }

  /** The tenant's experiments, newest first unless sorted by a metric. */
  async list(tenantId: string, query: ExperimentListQuery): Promise<Page<ExperimentEntity>> {
    const where: FindOptionsWhere<ExperimentEntity> = { tenantId };
    if (query.name !== undefined) where.name = query.name;
    if (query.status) where.status = query.status;
    if (query.sweepId) where.sweepId = query.sweepId;
    const order = query.order === 'asc' ? 'ASC' : 'DESC';
    const qb = this.repo.createQueryBuilder('e').where(where).skip(query.skip).take(query.limit);
    const sortBy = query.sortBy ?? 'created_at';
    if (sortBy !== 'created_at') {
      if (!METRIC_NAME.test(sortBy)) throw new RangeError(`not a metric name: ${sortBy}`);
      const metric =
        this.dataSource.options.type === 'postgres'
          ? `(e.final_metrics ->> '${sortBy}')::double precision`
          : `CAST(json_extract(e.final_metrics, '$.${sortBy}') AS REAL)`;
      qb.addSelect(metric, 'sort_metric').orderBy('sort_metric', order, 'NULLS LAST');
    }
    qb.addOrderBy('e.created_at', order).addOrderBy('e.id', order);
    const [items, total] = await qb.getManyAndCount();
    return { items, total };
  }

  async update(id: string, patch: ExperimentPatch): Promise<void> {
    await this.repo.update({ id }, { ...patch, updatedAt: nextTimestamp() } as Parameters<typeof this.repo.update>[1]);
  }

  /** Deletes one of the tenant's experiments and returns it (its artifacts are the caller's to remove), or null. */
  async delete(tenantId: string, id: string): Promise<ExperimentEntity | null> {
    const found = await this.findForTenant(tenantId, id);
    if (!found) return null;
    const result = await this.repo.delete({ tenantId, id });
    return result.affected === 1 ? found : null;
  }
}
