import { type DeploymentStatus, redactServerPaths } from '@app/contracts';
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { DataSource, FindOptionsWhere, In } from 'typeorm';
import { DeploymentEntity } from '../entities';
import { isUuid, nextTimestamp, Page, PageQuery } from './repository.utils';

export type CreateDeploymentInput = Pick<DeploymentEntity, 'tenantId' | 'name' | 'modelId' | 'experimentId' | 'jobId' | 'backend' | 'replicas' | 'config' | 'environment'> & { id?: string };

export interface DeploymentListQuery extends PageQuery {
  status?: DeploymentStatus;
}

/** What the deploy job learned about the model it brought up. */
export type DeploymentServing = Pick<DeploymentEntity, 'modelKey' | 'inputShape' | 'outputShape' | 'outputKind'>;

/** Thrown when the tenant already has a deployment of that name. */
export class DeploymentNameTakenError extends Error {
  constructor(readonly deploymentName: string) {
    super(`a deployment named ${JSON.stringify(deploymentName)} already exists`);
    this.name = 'DeploymentNameTakenError';
  }
}

const SERVING: DeploymentStatus[] = ['deployed', 'paused'];

@Injectable()
export class DeploymentsRepository {
  constructor(private readonly dataSource: DataSource) {}

  private get repo() {
    return this.dataSource.getRepository(DeploymentEntity);
  }

  /** A new `deploying` deployment. Throws DeploymentNameTakenError when the name is taken (also when two creates race). */
  async create(input: CreateDeploymentInput): Promise<DeploymentEntity> {
    if (await this.repo.existsBy({ tenantId: input.tenantId, name: input.name })) throw new DeploymentNameTakenError(input.name);
    const now = nextTimestamp();
    const row = this.repo.create({
      ...input,
      id: input.id ?? randomUUID(),
      status: 'deploying',
      modelKey: null,
      inputShape: null,
      outputShape: null,
      outputKind: null,
      error: null,
      createdAt: now,
      updatedAt: now,
      deployedAt: null,
    });
    try {
      return await this.repo.save(row);
    } catch (err) {
      if (/unique|UNIQUE/.test(String((err as Error).message))) throw new DeploymentNameTakenError(input.name);
      throw err;
    }
  }

  async findForTenant(tenantId: string, id: string): Promise<DeploymentEntity | null> {
    return isUuid(id) ? this.repo.findOneBy({ tenantId, id }) : null;
  }

  /** Across tenants: for the deploy job and the gateways' serving state, which check the tenant themselves. */
  async findByIds(ids: string[]): Promise<DeploymentEntity[]> {
    const valid = ids.filter(isUuid);
    return valid.length ? this.repo.findBy({ id: In(valid) }) : [];
  }

  /** The most recently changed deployments that serve (status `deployed`), across tenants. */
  async findServing(limit: number): Promise<DeploymentEntity[]> {
    return this.repo.find({ where: { status: 'deployed' }, order: { updatedAt: 'DESC', id: 'DESC' }, take: limit });
  }

  /** The tenant's deployments, newest first. */
  async list(tenantId: string, query: DeploymentListQuery): Promise<Page<DeploymentEntity>> {
    const where: FindOptionsWhere<DeploymentEntity> = { tenantId };
    if (query.status) where.status = query.status;
    const [items, total] = await this.repo.findAndCount({ where, order: { createdAt: 'DESC', id: 'DESC' }, skip: query.skip, take: query.limit });
    return { items, total };
  }

  /** deploying → deployed (paused when created with 0 replicas). False when no longer deploying (deleted meanwhile). */
  async markDeployed(id: string, serving: DeploymentServing): Promise<boolean> {
    const now = nextTimestamp();
    const result = await this.repo
      .createQueryBuilder()
      .update(DeploymentEntity)
      .set({ ...serving, status: () => `CASE WHEN "replicas" > 0 THEN 'deployed' ELSE 'paused' END`, error: null, deployedAt: now, updatedAt: now })
      .where({ id, status: 'deploying' })
      .execute();
    return result.affected === 1;
  }

  /** deploying → failed with the reason. False when no longer deploying. */
  async markFailed(id: string, error: { code: string; detail: string }): Promise<boolean> {
    return this.update({ id, status: 'deploying' }, { status: 'failed', error: { ...error, detail: redactServerPaths(error.detail) } });
  }

  /** The desired replicas of a serving deployment (0 pauses it). Null when the deployment is not deployed or paused. */
  async scale(tenantId: string, id: string, replicas: number): Promise<DeploymentEntity | null> {
    if (!isUuid(id)) return null;
    const changed = await this.update({ tenantId, id, status: In(SERVING) }, { replicas, status: replicas > 0 ? 'deployed' : 'paused' });
    return changed ? this.repo.findOneBy({ tenantId, id }) : null;
  }

  async delete(tenantId: string, id: string): Promise<DeploymentEntity | null> {
    const found = await this.findForTenant(tenantId, id);
    if (!found) return null;
    const result = await this.repo.delete({ tenantId, id });
    return result.affected === 1 ? found : null;
  }

  private async update(where: FindOptionsWhere<DeploymentEntity>, set: Partial<DeploymentEntity>): Promise<boolean> {
    const result = await this.repo
      .createQueryBuilder()
      .update(DeploymentEntity)
      .set({ ...set, updatedAt: nextTimestamp() })
      .where(where)
      .execute();
    return result.affected === 1;
  }
}
