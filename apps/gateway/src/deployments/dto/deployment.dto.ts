import { BACKENDS, DEPLOYMENT_STATUSES, OUTPUT_KINDS, type DeploymentStatus, type ModelBackend, type OutputKind } from '@app/contracts';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsIn, IsInt, IsObject, IsOptional, IsString, IsUrl, IsUUID, Matches, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { PaginationQueryDto } from '../../common/dto/pagination.dto';
import { K8S_QUANTITY } from '../deployment-manifests';

export const DEPLOYMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** The seed's deployment `config`. Resources and probes shape the generated Kubernetes manifests. */
export class DeploymentConfigDto {
  @ApiPropertyOptional({ minimum: 0, default: 1, description: 'Serving workers (ONNX Runtime sessions in worker threads) per gateway; 0 pauses serving. At most DEPLOYMENT_MAX_REPLICAS.' })
  @IsOptional()
  @IsInt()
  @Min(0)
  replicas?: number;

  @ApiPropertyOptional({ example: '2Gi', default: '2Gi', description: 'Kubernetes memory quantity (manifests)' })
  @IsOptional()
  @IsString()
  @Matches(K8S_QUANTITY, { message: 'memory_limit must be a Kubernetes quantity such as 512Mi or 2Gi' })
  memory_limit?: string;

  @ApiPropertyOptional({ example: '1000m', default: '1000m', description: 'Kubernetes CPU quantity (manifests)' })
  @IsOptional()
  @IsString()
  @Matches(K8S_QUANTITY, { message: 'cpu_limit must be a Kubernetes quantity such as 500m or 2' })
  cpu_limit?: string;

  @ApiPropertyOptional({ example: 8000, default: 8000, description: 'Port of the model server and its Service (manifests)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(65535)
  port?: number;

  @ApiPropertyOptional({ example: '/health', default: '/health', description: 'Readiness and liveness probe path (manifests)' })
  @IsOptional()
  @IsString()
  @Matches(/^\/[A-Za-z0-9._~\/-]{0,255}$/, { message: 'health_check_path must be a URL path such as /health' })
  health_check_path?: string;

  @ApiPropertyOptional({ description: 'Upper bound of the HorizontalPodAutoscaler (manifests); default twice the replicas' })
  @IsOptional()
  @IsInt()
  @Min(1)
  max_replicas?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 70, description: 'CPU utilisation the autoscaler aims at, in percent (manifests)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  target_cpu_utilization?: number;
}

/** Body of POST /deployments/ (the seed's, plus `webhook_url`). */
export class CreateDeploymentDto {
  @ApiProperty({ format: 'uuid', description: 'A trained model (GET /models/, `trained: true`) or the experiment that trained it' })
  @IsUUID()
  model_id!: string;

  @ApiProperty({ example: 'mnist-classifier', description: 'Unique per tenant: 1 to 63 letters, digits, _, . or -, starting with a letter or digit' })
  @IsString()
  @Matches(DEPLOYMENT_NAME, { message: 'deployment_name must be 1 to 63 letters, digits, _, . or -, starting with a letter or digit' })
  deployment_name!: string;

  @ApiPropertyOptional({ enum: BACKENDS, default: 'onnx', description: 'Recorded with the deployment; serving always runs the model’s ONNX export in ONNX Runtime' })
  @IsOptional()
  @IsIn(BACKENDS)
  backend?: ModelBackend;

  @ApiPropertyOptional({ type: DeploymentConfigDto })
  @IsOptional()
  // ValidateNested alone takes an array (of configs) as well.
  @IsObject({ message: 'config must be an object' })
  @ValidateNested()
  @Type(() => DeploymentConfigDto)
  config?: DeploymentConfigDto;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, example: { LOG_LEVEL: 'info' }, description: 'Environment variables of the model server (manifests); at most 64' })
  @IsOptional()
  @IsObject()
  environment?: Record<string, string>;

  @ApiPropertyOptional({ description: 'Receives signed started/progress/completed/failed notifications of the deploy job' })
  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  @MaxLength(2048)
  webhook_url?: string;
}

export class ScaleDeploymentDto {
  @ApiPropertyOptional({ minimum: 0, example: 2, description: 'New number of serving workers; 0 pauses serving. Also accepted as ?replicas=' })
  @IsOptional()
  @IsInt()
  @Min(0)
  replicas?: number;
}

export class ScaleQueryDto {
  @ApiPropertyOptional({ minimum: 0, description: 'As in the seed: POST /deployments/{id}/scale?replicas=N' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  replicas?: number;
}

export class PredictRequestDto {
  @ApiProperty({
    oneOf: [{ type: 'array', items: {} }, { type: 'string', format: 'byte' }],
    example: [[[0.1], [0.2]]],
    description:
      'Instances in the model’s input shape (input_shape of the deployment): nested arrays of numbers, or each instance a base64 string of little-endian float32 values, or one base64 string with the whole batch. At most PREDICT_MAX_BATCH instances.',
  })
  @IsDefined()
  instances!: unknown;
}

export class PredictResponseDto {
  @ApiProperty({ type: 'array', items: {}, description: 'Per instance, the model output (nested arrays of its output_shape)' }) predictions!: unknown[];
  @ApiPropertyOptional({ type: [Number], description: 'Per instance, the predicted class: argmax of a softmax output, or p >= 0.5 of a single sigmoid unit' }) classes?: number[];
  @ApiProperty({ format: 'uuid' }) model_id!: string;
  @ApiProperty({ description: 'Time spent in the gateway on this request: decoding, the queue of a serving worker, inference and encoding' }) latency_ms!: number;
}

export class DeploymentConfigViewDto {
  @ApiProperty() replicas!: number;
  @ApiProperty() memory_limit!: string;
  @ApiProperty() cpu_limit!: string;
  @ApiProperty() port!: number;
  @ApiProperty() health_check_path!: string;
  @ApiPropertyOptional() max_replicas?: number;
  @ApiPropertyOptional() target_cpu_utilization?: number;
}

export class DeploymentDto {
  @ApiProperty({ format: 'uuid' }) deployment_id!: string;
  @ApiProperty() deployment_name!: string;
  @ApiProperty({ format: 'uuid' }) model_id!: string;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) experiment_id!: string | null;
  @ApiProperty({ format: 'uuid', description: 'The deploy job (GET /jobs/{id})' }) job_id!: string;
  @ApiProperty({ enum: BACKENDS }) backend!: ModelBackend;
  @ApiProperty({ enum: ['onnxruntime'] }) runtime!: 'onnxruntime';
  @ApiProperty({ enum: DEPLOYMENT_STATUSES, description: 'deploying → deployed (or failed); paused while scaled to 0' }) status!: DeploymentStatus;
  @ApiProperty({ description: 'Desired serving workers per gateway' }) replicas!: number;
  @ApiProperty({ description: 'Serving workers live with a warm session on the gateway that answered' }) ready_replicas!: number;
  @ApiProperty({ type: DeploymentConfigViewDto }) config!: DeploymentConfigViewDto;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) environment!: Record<string, string>;
  @ApiProperty({ example: '/deployments/{id}/predict' }) endpoint!: string;
  @ApiProperty({ nullable: true, type: [Number], description: 'Per instance, without the batch dimension' }) input_shape!: number[] | null;
  @ApiProperty({ nullable: true, type: [Number] }) output_shape!: number[] | null;
  @ApiProperty({ nullable: true, enum: OUTPUT_KINDS }) output_kind!: OutputKind | null;
  @ApiProperty({ description: 'Predict requests with a well-formed body since the deployment was created, on every gateway' }) request_count!: number;
  @ApiProperty({ description: 'Of those, the ones answered with an error (4xx or 5xx)' }) error_count!: number;
  @ApiProperty({ nullable: true, type: Number, description: 'Median predict latency_ms since the deployment was created' }) latency_p50_ms!: number | null;
  @ApiProperty({ nullable: true, type: Number }) latency_p99_ms!: number | null;
  @ApiProperty({ nullable: true, type: Object, description: '`{code, detail}` when failed' }) error!: { code: string; detail: string } | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) deployed_at!: string | null;
}

export class DeploymentListDto {
  @ApiProperty({ type: [DeploymentDto] }) deployments!: DeploymentDto[];
  @ApiProperty() total!: number;
  @ApiProperty() skip!: number;
  @ApiProperty() limit!: number;
}

export class DeploymentListQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ enum: DEPLOYMENT_STATUSES })
  @IsOptional()
  @IsIn(DEPLOYMENT_STATUSES)
  status?: DeploymentStatus;
}
