import { type AppConfig, InjectAppConfig } from '@app/config';
import { QUEUES } from '@app/contracts';
import {
  DeploymentNameTakenError,
  DeploymentsRepository,
  ExperimentsRepository,
  JobsRepository,
  ModelsRepository,
  type DeploymentConfig,
  type DeploymentEntity,
  type ModelEntity,
} from '@app/persistence';
import { QueueDriver, QueueUnavailableError, type DeployJobInput } from '@app/queue';
import { ArtifactStore, DEPLOYMENT_STORE } from '@app/storage';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { DomainError, type FieldError } from '../common/domain-error';
import { iso } from '../common/iso';
import type { OutgoingFile } from '../common/send-file';
import { assertWebhookUrl } from '../common/webhook-url';
import { renderManifests } from './deployment-manifests';
import type { CreateDeploymentDto, DeploymentDto, DeploymentListDto, DeploymentListQueryDto } from './dto/deployment.dto';
import { ServingService } from './serving.service';

/** Environment variables the model server sets itself (see deployment-manifests.ts); a user value would be ignored. */
const RESERVED_ENV = new Set(['MODEL_PATH', 'PORT', 'HOST', 'HEALTH_CHECK_PATH', 'OUTPUT_KIND', 'SERVING_REPLICAS', 'NEURAL_API_KEY']);
const MAX_ENV_ENTRIES = 64;
const MAX_ENV_VALUE = 4096;
/** Name of the Secret (key `api-key`) the generated manifests read the platform API key from. */
export const MANIFEST_API_KEY_SECRET = 'neural-platform-api-key';

@Injectable()
export class DeploymentsService {
  private readonly logger = new Logger(DeploymentsService.name);

  constructor(
    @InjectAppConfig() private readonly config: AppConfig,
    private readonly deployments: DeploymentsRepository,
    private readonly models: ModelsRepository,
    private readonly experiments: ExperimentsRepository,
    private readonly jobs: JobsRepository,
    private readonly queue: QueueDriver,
    private readonly serving: ServingService,
    @Inject(DEPLOYMENT_STORE) private readonly store: ArtifactStore,
  ) {}

  /** Records the deployment as `deploying` and queues its deploy job; 422 for a model that cannot be served. */
  async create(tenantId: string, body: CreateDeploymentDto): Promise<DeploymentDto> {
    const config = this.configOf(body);
    const environment = this.environmentOf(body.environment);
    if (body.webhook_url) await assertWebhookUrl(body.webhook_url, this.config.webhooks.allowPrivate);
    const model = await this.trainedModel(tenantId, body.model_id);
    const id = randomUUID();
    const jobId = randomUUID();
    let row: DeploymentEntity;
    try {
      row = await this.deployments.create({
        id,
        tenantId,
        name: body.deployment_name,
        modelId: model.id,
        experimentId: model.experimentId,
        jobId,
        backend: body.backend ?? 'onnx',
        replicas: config.replicas,
        config,
        environment,
      });
    } catch (e) {
      if (e instanceof DeploymentNameTakenError) throw DomainError.conflict(`A deployment named ${JSON.stringify(body.deployment_name)} already exists; pick another deployment_name or delete that one.`);
      throw e;
    }
    const input: DeployJobInput = { deployment_id: id };
    try {
      await this.jobs.create({ id: jobId, tenantId, type: 'deploy', input, webhookUrl: body.webhook_url ?? null, modelId: model.id });
    } catch (e) {
      await this.deployments.delete(tenantId, id).catch(() => undefined);
      throw e;
    }
    try {
      await this.queue.enqueue(QUEUES.deploy, { jobId, tenantId });
    } catch (e) {
      // The job row is pending: the reconciler enqueues it once the queue is back.
      if (!(e instanceof QueueUnavailableError)) throw e;
      this.logger.warn(`queue unavailable; deploy job ${jobId} stays pending until the reconciler enqueues it`);
    }
    return this.view(row);
  }

  async list(tenantId: string, q: DeploymentListQueryDto): Promise<DeploymentListDto> {
    const page = await this.deployments.list(tenantId, { skip: q.skip, limit: q.limit, status: q.status });
    return { deployments: await Promise.all(page.items.map((d) => this.view(d))), total: page.total, skip: q.skip, limit: q.limit };
  }

  async get(tenantId: string, id: string): Promise<DeploymentDto> {
    return this.view(await this.find(tenantId, id));
  }

  /** Stops serving here at once (elsewhere within a sync interval), removes the row, the served file and the stats. */
  async delete(tenantId: string, id: string): Promise<void> {
    const removed = await this.deployments.delete(tenantId, id);
    if (!removed) throw DomainError.notFound('deployment', id);
    await this.serving.forget(id);
    if (removed.modelKey) await this.store.delete(removed.modelKey);
  }

  /** The desired replicas; this gateway's serving workers match it before the answer, the others within a sync interval. */
  async scale(tenantId: string, id: string, replicas: number | undefined): Promise<DeploymentDto> {
    if (replicas === undefined) throw DomainError.validation([{ field: 'replicas', message: 'replicas is required, in the body ({"replicas": 2}) or as ?replicas=2' }]);
    this.assertReplicas(replicas, 'replicas');
    const scaled = await this.deployments.scale(tenantId, id, replicas);
    if (!scaled) {
      const row = await this.find(tenantId, id);
      throw DomainError.conflict(`Deployment ${id} is ${row.status}; only a deployed or paused deployment can be scaled.`);
    }
    try {
      await this.serving.apply(id, scaled);
    } catch (err) {
      // The desired state is recorded; the next sync tries again.
      this.logger.warn(`could not scale deployment ${id} here yet: ${String(err)}`);
    }
    return this.view(scaled);
  }

  /** Kubernetes YAML running the deployed model as its own service. */
  async manifests(tenantId: string, id: string): Promise<string> {
    const row = await this.servable(tenantId, id);
    return renderManifests({
      deploymentId: row.id,
      name: row.name,
      modelId: row.modelId,
      replicas: row.replicas,
      config: row.config,
      environment: row.environment,
      image: this.config.serving.image,
      modelUrl: `${this.config.serving.publicUrl}/deployments/${row.id}/model`,
      apiKeyHeader: this.config.auth.apiKeyHeader,
      apiKeySecret: MANIFEST_API_KEY_SECRET,
      outputKind: row.outputKind ?? 'raw',
      inputShape: row.inputShape ?? [],
    });
  }

  /** The ONNX file the deployment serves (what the manifests' init container downloads). */
  async model(tenantId: string, id: string): Promise<OutgoingFile> {
    const row = await this.servable(tenantId, id);
    const size = await this.store.size(row.modelKey!);
    if (size === null) {
      this.logger.error(`the served file ${row.modelKey} of deployment ${id} is missing from the deployment store`);
      throw DomainError.notFound('model file for deployment', id);
    }
    return { stream: this.store.stream(row.modelKey!), sizeBytes: size, filename: `${row.name}.onnx`, contentType: 'application/octet-stream' };
  }

  private async servable(tenantId: string, id: string): Promise<DeploymentEntity> {
    const row = await this.find(tenantId, id);
    if (!row.modelKey || (row.status !== 'deployed' && row.status !== 'paused')) {
      throw DomainError.conflict(`Deployment ${id} is ${row.status}; it has no served model until its deploy job (GET /jobs/${row.jobId}) completes.`);
    }
    return row;
  }

  private async find(tenantId: string, id: string): Promise<DeploymentEntity> {
    const row = await this.deployments.findForTenant(tenantId, id);
    if (!row) throw DomainError.notFound('deployment', id);
    return row;
  }

  /** A model with trained weights in ONNX form, by its id or by the id of the experiment that trained it. */
  private async trainedModel(tenantId: string, ref: string): Promise<ModelEntity> {
    const refuse = (message: string) => DomainError.validation([{ field: 'model_id', message }], `Model ${ref} cannot be deployed: ${message}.`);
    let model = await this.models.findForTenant(tenantId, ref);
    if (!model) {
      const experiment = await this.experiments.findForTenant(tenantId, ref);
      if (!experiment) throw refuse('no model or experiment with this id exists');
      if (!experiment.modelId) throw refuse(`experiment ${ref} has no trained model (it is ${experiment.status})`);
      model = await this.models.findForTenant(tenantId, experiment.modelId);
      if (!model) throw refuse(`the model experiment ${ref} trained (${experiment.modelId}) was deleted`);
    }
    if (!model.formats?.onnx) {
      throw refuse(model.experimentId ? 'it has no ONNX form' : 'it was compiled but never trained; train it (POST /jobs/train with model_id) and deploy the model that job registers');
    }
    return model;
  }

  private configOf(body: CreateDeploymentDto): DeploymentConfig {
    const c = body.config ?? {};
    const config: DeploymentConfig = {
      replicas: c.replicas ?? 1,
      memory_limit: c.memory_limit ?? '2Gi',
      cpu_limit: c.cpu_limit ?? '1000m',
      port: c.port ?? 8000,
      health_check_path: c.health_check_path ?? '/health',
    };
    if (c.max_replicas !== undefined) config.max_replicas = c.max_replicas;
    if (c.target_cpu_utilization !== undefined) config.target_cpu_utilization = c.target_cpu_utilization;
    this.assertReplicas(config.replicas, 'config.replicas');
    if (config.max_replicas !== undefined && config.max_replicas < config.replicas) {
      throw DomainError.validation([{ field: 'config.max_replicas', message: `max_replicas (${config.max_replicas}) must be at least replicas (${config.replicas})` }]);
    }
    return config;
  }

  private assertReplicas(replicas: number, field: string): void {
    const max = this.config.serving.maxReplicas;
    if (replicas > max) throw DomainError.validation([{ field, message: `${field} must be at most ${max} (DEPLOYMENT_MAX_REPLICAS)` }]);
  }

  private environmentOf(env: Record<string, unknown> | undefined): Record<string, string> {
    if (env === undefined) return {};
    const errors: FieldError[] = [];
    const entries = Object.entries(env);
    if (entries.length > MAX_ENV_ENTRIES) errors.push({ field: 'environment', message: `at most ${MAX_ENV_ENTRIES} variables` });
    for (const [name, value] of entries.slice(0, MAX_ENV_ENTRIES + 1)) {
      const field = `environment.${name.slice(0, 64)}`;
      if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(name)) errors.push({ field, message: 'a variable name is letters, digits and _, not starting with a digit' });
      else if (RESERVED_ENV.has(name)) errors.push({ field, message: `${name} is set by the model server itself` });
      if (typeof value !== 'string') errors.push({ field, message: 'the value must be a string' });
      else if (value.length > MAX_ENV_VALUE) errors.push({ field, message: `the value must be at most ${MAX_ENV_VALUE} characters` });
    }
    if (errors.length) throw DomainError.validation(errors);
    return env as Record<string, string>;
  }

  private async view(row: DeploymentEntity): Promise<DeploymentDto> {
    const stats = await this.serving.stats.get(row.id);
    return {
      deployment_id: row.id,
      deployment_name: row.name,
      model_id: row.modelId,
      experiment_id: row.experimentId ?? null,
      job_id: row.jobId,
      backend: row.backend,
      runtime: 'onnxruntime',
      status: row.status,
      replicas: row.replicas,
      ready_replicas: this.serving.readyReplicas(row.id),
      config: row.config,
      environment: row.environment,
      endpoint: `/deployments/${row.id}/predict`,
      input_shape: row.inputShape ?? null,
      output_shape: row.outputShape ?? null,
      output_kind: row.outputKind ?? null,
      ...stats,
      error: row.error ?? null,
      created_at: iso(row.createdAt)!,
      updated_at: iso(row.updatedAt)!,
      deployed_at: iso(row.deployedAt),
    };
  }
}
