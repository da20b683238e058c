import { APP_CONFIG, type AppConfig } from '@app/config';
import { ERROR_CODES, QUEUES, type DeployResult, type JobPayload, type OutputKind } from '@app/contracts';
import { DeploymentsRepository, JobsRepository, ModelsRepository, type JobEntity } from '@app/persistence';
import { OnnxModelError, ServingPool, readOnnxSignature } from '@app/serving';
import { ArtifactStore, DEPLOYMENT_STORE } from '@app/storage';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { onnx } from 'onnx-proto';
import { JobEventBus } from '../events/job-event-bus';
import { claimJob } from '../jobs/claim-job';
import { JobHandlerRegistry } from '../jobs/job-handler.registry';
import { WebhookNotifier } from '../webhooks/webhook-notifier.service';

/** What a deploy job row stores as its `input`. */
export interface DeployJobInput {
  deployment_id: string;
}

/** The deployment a deploy job brings up; undefined for other jobs. */
export function deploymentIdOf(job: Pick<JobEntity, 'type' | 'input'>): string | undefined {
  return job.type === 'deploy' ? (job.input as DeployJobInput).deployment_id : undefined;
}

/** The deployment's own copy of the served model, in the deployment store. */
export function deploymentModelKey(tenantId: string, deploymentId: string): string {
  return `${tenantId}/${deploymentId}/model.onnx`;
}

/** A reason the model cannot be deployed, with what to do about it. */
class DeployError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Brings a deployment up: copies the trained model's ONNX file into the deployment store (so deleting the model does
 * not stop the deployment), proves it loads and runs in ONNX Runtime at the model's input shape, and records the
 * signature gateways serve it with. Progress and outcome go to the job row, its stream and its webhooks.
 */
@Injectable()
export class DeployJobService implements OnModuleInit {
  private readonly logger = new Logger(DeployJobService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jobs: JobsRepository,
    private readonly deployments: DeploymentsRepository,
    private readonly models: ModelsRepository,
    private readonly modelStore: ArtifactStore,
    @Inject(DEPLOYMENT_STORE) private readonly store: ArtifactStore,
    private readonly registry: JobHandlerRegistry,
    private readonly notifier: WebhookNotifier,
    private readonly bus: JobEventBus,
  ) {}

  onModuleInit(): void {
    this.registry.register(QUEUES.deploy, (payload) => this.run(payload));
  }

  async run(payload: JobPayload): Promise<void> {
    const job = await claimJob({ jobs: this.jobs, bus: this.bus, notifier: this.notifier }, payload);
    if (!job) return;
    const jobId = job.id;
    const deploymentId = deploymentIdOf(job)!;
    try {
      const result = await this.deploy(job, deploymentId);
      if (!result) return;
      if (!(await this.jobs.markCompleted(jobId, { result, modelId: result.model_id }))) return;
      await this.bus.publishStatus(jobId, 'completed');
      await this.notifier.notify(job, 'completed', { ...result });
    } catch (err) {
      const failure = this.failure(jobId, err);
      await this.deployments.markFailed(deploymentId, failure);
      if (!(await this.jobs.markFailed(jobId, failure))) return;
      await this.bus.publishStatus(jobId, 'failed');
      await this.notifier.notify(job, 'failed', { deployment_id: deploymentId, error: { code: failure.code, message: failure.detail } });
    }
  }

  /** The deploy result, or null when the deployment or the job went away meanwhile (the job then says why). */
  private async deploy(job: JobEntity, deploymentId: string): Promise<DeployResult | null> {
    const [deployment] = await this.deployments.findByIds([deploymentId]);
    if (!deployment || deployment.tenantId !== job.tenantId || deployment.status !== 'deploying') {
      await this.jobs.markCancelled(job.tenantId, job.id);
      await this.bus.publishStatus(job.id, 'cancelled');
      return null;
    }
    const model = await this.models.findForTenant(job.tenantId, deployment.modelId);
    const file = model?.formats?.onnx;
    if (!model || !file) throw new DeployError('model_unavailable', `Model ${deployment.modelId} was deleted or has no ONNX form, so there is nothing to serve.`);
    if (!(await this.modelStore.exists(file.key))) throw new DeployError('model_unavailable', `The ONNX file of model ${model.id} is missing from the artifact store.`);
    const bytes = await this.modelStore.get(file.key);
    await this.progress(job.id, 25);

    const signature = readOnnxSignature(bytes);
    const inputShape = signature.inputShape.slice(1);
    const outputShape = signature.outputShape.slice(1);
    if (![...inputShape, ...outputShape].every((d) => typeof d === 'number' && d > 0)) {
      throw new DeployError('model_not_servable', `The model's input ${JSON.stringify(inputShape)} and output ${JSON.stringify(outputShape)} must have fixed sizes beyond the batch dimension.`);
    }
    // Loading and warming one session proves the file runs here before any gateway is told it can serve it.
    const pool = await ServingPool.start({ model: bytes, replicas: 1, intraOpThreads: 1, timeoutMs: this.config.serving.timeoutMs });
    try {
      const probe = await pool.predict(new Float32Array((inputShape as number[]).reduce((a, b) => a * b, 1)), 1);
      if (probe.output.length !== (outputShape as number[]).reduce((a, b) => a * b, 1)) {
        throw new DeployError('model_not_servable', `The model answered ${probe.output.length} values per instance where its signature promises ${JSON.stringify(outputShape)}.`);
      }
    } finally {
      await pool.close();
    }
    await this.progress(job.id, 70);

    const key = deploymentModelKey(job.tenantId, deploymentId);
    await this.store.put(key, bytes);
    const serving = { modelKey: key, inputShape: inputShape as number[], outputShape: outputShape as number[], outputKind: outputKindOf(bytes, outputShape as number[]) };
    if (!(await this.deployments.markDeployed(deploymentId, serving))) {
      // Deleted or cancelled while coming up: nothing may keep its file.
      await this.store.delete(key);
      return null;
    }
    return {
      deployment_id: deploymentId,
      model_id: model.id,
      status: deployment.replicas > 0 ? 'deployed' : 'paused',
      endpoint: `/deployments/${deploymentId}/predict`,
      input_shape: serving.inputShape,
      output_shape: serving.outputShape,
    };
  }

  /** On the row only: the bus's progress events are per training batch, and a deploy takes about a second. */
  private async progress(jobId: string, progress: number): Promise<void> {
    await this.jobs.markProgress(jobId, { progress });
  }

  private failure(jobId: string, err: unknown): { code: string; detail: string } {
    if (err instanceof DeployError) return { code: err.code, detail: err.message };
    if (err instanceof OnnxModelError) return { code: 'model_not_servable', detail: `ONNX Runtime cannot serve the model: ${err.message}` };
    const errorId = randomUUID();
    this.logger.error(`deploy job ${jobId} failed (error id ${errorId}): ${err instanceof Error ? err.message : String(err)}`, err instanceof Error ? err.stack : undefined);
    return { code: ERROR_CODES.internal, detail: `the deployment failed unexpectedly (error id ${errorId})` };
  }
}

/** Softmax or a single sigmoid unit at the end of the graph makes `classes` meaningful; anything else is raw. */
export function outputKindOf(bytes: Uint8Array, outputShape: number[]): OutputKind {
  const graph = onnx.ModelProto.decode(bytes).graph;
  const output = graph?.output?.[0]?.name;
  const producer = (name: string | null | undefined) => graph?.node?.find((n) => n.output?.includes(name ?? ''));
  let node = producer(output);
  while (node?.opType === 'Identity') node = producer(node.input?.[0]);
  if (outputShape.length !== 1) return 'raw';
  if (node?.opType === 'Softmax' && outputShape[0] > 1) return 'softmax';
  if (node?.opType === 'Sigmoid' && outputShape[0] === 1) return 'sigmoid';
  return 'raw';
}
