import { JobStatus, JobType, redactServerPaths } from '@app/contracts';
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { Brackets, DataSource, FindOptionsWhere, In } from 'typeorm';
import { JobEntity, JobError } from '../entities';
import { isUuid, nextTimestamp, Page, PageQuery } from './repository.utils';

export interface CreateJobInput {
  /** Set when the caller needed the id before the row (a train job's experiment is created first); a new UUID otherwise. */
  id?: string;
  tenantId: string;
  type: JobType;
  /** The request the job runs (a CompileRequest for compile jobs). */
  input: unknown;
  webhookUrl?: string | null;
  totalEpochs?: number | null;
  experimentId?: string | null;
  modelId?: string | null;
  /** A sweep's trial: the sweep's job id and the trial's index in it (unique together). */
  sweepId?: string | null;
  trialIndex?: number | null;
}

export interface JobListQuery extends PageQuery {
  status?: JobStatus;
  type?: JobType;
  sweepId?: string;
}

export interface JobProgress {
  /** 0..100 */
  progress: number;
  currentEpoch?: number | null;
  metrics?: Record<string, unknown> | null;
}

export interface JobCompletion {
  result: unknown;
  modelId?: string | null;
}

export interface StaleJobsQuery {
  /** `pending` jobs whose `updated_at` is older than this. */
  pendingOlderThan: Date;
  /** `running` jobs whose `updated_at` is older than this. */
  runningOlderThan: Date;
  /** At most this many, oldest first (default 100). */
  limit?: number;
}

const ACTIVE: JobStatus[] = ['pending', 'running'];

/**
 * Job rows and their state machine: pending → running → completed | failed, pending|running → cancelled | failed,
 * running → pending (requeue). Every transition is one conditional UPDATE that also bumps `updated_at`, and reports
 * whether it applied, so concurrent workers, the reconciler and a cancelling client cannot overwrite each other.
 */
@Injectable()
export class JobsRepository {
  constructor(private readonly dataSource: DataSource) {}

  private get repo() {
    return this.dataSource.getRepository(JobEntity);
  }

  /** A new `pending` job. */
  async create(input: CreateJobInput): Promise<JobEntity> {
    const now = nextTimestamp();
    const job = this.repo.create({
      id: input.id ?? randomUUID(),
      tenantId: input.tenantId,
      type: input.type,
      status: 'pending',
      progress: 0,
      currentEpoch: null,
      totalEpochs: input.totalEpochs ?? null,
      input: input.input,
      result: null,
      error: null,
      metrics: null,
      experimentId: input.experimentId ?? null,
      modelId: input.modelId ?? null,
      webhookUrl: input.webhookUrl ?? null,
      attempts: 0,
      sweepId: input.sweepId ?? null,
      trialIndex: input.trialIndex ?? null,
      workerId: null,
      createdAt: now,
      startedAt: null,
      completedAt: null,
      updatedAt: now,
    });
    return this.repo.save(job);
  }

  async findForTenant(tenantId: string, id: string): Promise<JobEntity | null> {
    return isUuid(id) ? this.repo.findOneBy({ tenantId, id }) : null;
  }

  /** The tenant's jobs, newest first. */
  async list(tenantId: string, query: JobListQuery): Promise<Page<JobEntity>> {
    const where: FindOptionsWhere<JobEntity> = { tenantId };
    if (query.status) where.status = query.status;
    if (query.type) where.type = query.type;
    if (query.sweepId) where.sweepId = query.sweepId;
    const [items, total] = await this.repo.findAndCount({
      where,
      order: { createdAt: 'DESC', id: 'DESC' },
      skip: query.skip,
      take: query.limit,
    });
    return { items, total };
  }

  /** The trials of a sweep, in trial order. */
  async listTrials(sweepId: string): Promise<JobEntity[]> {
    return isUuid(sweepId) ? this.repo.find({ where: { sweepId }, order: { trialIndex: 'ASC' } }) : [];
  }

  /** pending → running; sets `started_at`, the worker, and counts the attempt. False when the job was not pending. */
  async markRunning(id: string, workerId?: string): Promise<boolean> {
    const now = nextTimestamp();
    const set: Record<string, unknown> = { status: 'running', startedAt: now, attempts: () => 'attempts + 1' };
    if (workerId) set.workerId = workerId.slice(0, 128);
    return this.transition(id, ['pending'], set, now);
  }

  /** A completed job's result and model, when its model is registered afterwards (a sweep's best trial). */
  async attachModel(id: string, modelId: string, result: unknown): Promise<boolean> {
    return this.transition(id, ['completed'], { modelId, result });
  }

  /** running → pruned: a sweep's early stopping ended the trial; `result` says where and why. False when not running. */
  async markPruned(id: string, result: unknown): Promise<boolean> {
    const now = nextTimestamp();
    return this.transition(id, ['running'], { status: 'pruned', result, completedAt: now }, now);
  }

  /** Progress of a sweep (any state but finished): its metrics and result are the live leaderboard. */
  async markSweepProgress(id: string, progress: { progress: number; metrics: Record<string, unknown> | null; result: unknown }): Promise<boolean> {
    return this.transition(id, ACTIVE, { progress: clampProgress(progress.progress), metrics: progress.metrics, result: progress.result });
  }

  /** Progress of a running job (also its liveness signal for the reconciler). False when the job is not running. */
  async markProgress(id: string, progress: JobProgress): Promise<boolean> {
    const set: Record<string, unknown> = { progress: clampProgress(progress.progress) };
    if (progress.currentEpoch !== undefined) set.currentEpoch = progress.currentEpoch;
    if (progress.metrics !== undefined) set.metrics = progress.metrics;
    return this.transition(id, ['running'], set);
  }

  /** running → completed with the result. False when the job was not running (e.g. cancelled meanwhile). */
  async markCompleted(id: string, completion: JobCompletion): Promise<boolean> {
    const now = nextTimestamp();
    const set: Record<string, unknown> = { status: 'completed', progress: 100, result: completion.result, error: null, completedAt: now };
    if (completion.modelId !== undefined) set.modelId = completion.modelId;
    return this.transition(id, ['running'], set, now);
  }

  /** pending|running → failed with the reason. False when the job had already finished. */
  async markFailed(id: string, error: JobError): Promise<boolean> {
    const now = nextTimestamp();
    const shown: JobError = { ...error, detail: redactServerPaths(error.detail) };
    return this.transition(id, ACTIVE, { status: 'failed', error: shown, completedAt: now }, now);
  }

  /** pending|running → cancelled, for the tenant that owns the job. False when not found or already finished. */
  async markCancelled(tenantId: string, id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const now = nextTimestamp();
    return this.transition(id, ACTIVE, { status: 'cancelled', completedAt: now }, now, tenantId);
  }

  /** running → pending, to run again (its worker was lost). Progress starts over. False when not running. */
  async requeue(id: string): Promise<boolean> {
    return this.transition(id, ['running'], { status: 'pending', progress: 0, currentEpoch: null, startedAt: null });
  }

  /**
   * running → pending because its worker is stopping gracefully: unlike a lost worker this does not use up an attempt.
   * Progress stays, the next worker resumes from the checkpoint. False when not running (cancelled meanwhile).
   */
  async handBack(id: string): Promise<boolean> {
    return this.transition(id, ['running'], { status: 'pending', startedAt: null, attempts: () => 'CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END' });
  }

  /**
   * Jobs the reconciler must look at: `pending` or `running` with an `updated_at` older than the given bounds,
   * across all tenants, least recently updated first.
   */
  async findStale(query: StaleJobsQuery): Promise<JobEntity[]> {
    return this.repo
      .createQueryBuilder('job')
      .where(
        new Brackets((qb) =>
          qb
            .where('(job.status = :pending AND job.updated_at < :pendingOlderThan)', { pending: 'pending', pendingOlderThan: query.pendingOlderThan })
            .orWhere('(job.status = :running AND job.updated_at < :runningOlderThan)', { running: 'running', runningOlderThan: query.runningOlderThan }),
        ),
      )
      .orderBy('job.updated_at', 'ASC')
      .addOrderBy('job.id', 'ASC')
      .take(query.limit ?? 100)
      .getMany();
  }

  private async transition(id: string, from: JobStatus[], set: Record<string, unknown>, now = nextTimestamp(), tenantId?: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const where: FindOptionsWhere<JobEntity> = { id, status: In(from) };
    if (tenantId !== undefined) where.tenantId = tenantId;
    const result = await this.repo
      .createQueryBuilder()
      .update(JobEntity)
      .set({ ...set, updatedAt: now })
      .where(where)
      .execute();
    return result.affected === 1;
  }
}

function clampProgress(progress: number): number {
  return Math.min(100, Math.max(0, Math.round(progress)));
}
