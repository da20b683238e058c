import { JOB_STATUSES, JOB_TYPES, type JobStatus, type JobType } from '@app/contracts';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { PaginationQueryDto } from '../../common/dto/pagination.dto';
import type { JobView } from '../job.view';

export class JobDto implements JobView {
  @ApiProperty({ format: 'uuid' }) job_id!: string;
  @ApiProperty({ enum: JOB_TYPES }) type!: JobType;
  @ApiProperty({ enum: JOB_STATUSES }) status!: JobStatus;
  @ApiProperty({ minimum: 0, maximum: 100 }) progress!: number;
  @ApiProperty({ nullable: true, type: Number }) current_epoch!: number | null;
  @ApiProperty({ nullable: true, type: Number }) total_epochs!: number | null;
  @ApiProperty({ nullable: true, type: Object, description: 'A train job: the metrics of its last finished epoch (loss, accuracy, val_loss, ...)' }) metrics!: unknown;
  @ApiProperty({ nullable: true, type: Object, description: 'For a compile job: the same object as POST /compile/sync answers; for a train job: experiment_id, model_id, final_metrics, best_metrics, test_metrics, artifacts, download_url' }) result!: unknown;
  @ApiProperty({ nullable: true, type: Object, description: '{code, detail, errors?}' }) error!: unknown;
  @ApiProperty({ nullable: true, type: String }) experiment_id!: string | null;
  @ApiProperty({ nullable: true, type: String }) model_id!: string | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) started_at!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) completed_at!: string | null;
}

export class JobListDto {
  @ApiProperty({ type: [JobDto] }) jobs!: JobDto[];
  @ApiProperty() total!: number;
  @ApiProperty() skip!: number;
  @ApiProperty() limit!: number;
}

export class JobListQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ enum: JOB_STATUSES })
  @IsOptional()
  @IsIn(JOB_STATUSES)
  status?: JobStatus;

  @ApiPropertyOptional({ enum: JOB_TYPES })
  @IsOptional()
  @IsIn(JOB_TYPES)
  type?: JobType;
}

export class WebhookAttemptDto {
  @ApiProperty({ example: 1 }) attempt!: number;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ nullable: true, type: Number, example: 200 }) status_code!: number | null;
  @ApiProperty({ nullable: true, type: String }) error!: string | null;
  @ApiProperty({ example: 12 }) duration_ms!: number;
}

export class WebhookDeliveryDto {
  @ApiProperty({ format: 'uuid', description: 'Sent as X-Neural-Delivery' }) delivery_id!: string;
  @ApiProperty({ enum: ['started', 'progress', 'completed', 'failed', 'cancelled'] }) event!: string;
  @ApiProperty() url!: string;
  @ApiProperty({ enum: ['pending', 'delivered', 'failed'] }) status!: string;
  @ApiProperty() attempts!: number;
  @ApiProperty() max_attempts!: number;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) next_attempt_at!: string | null;
  @ApiProperty({ nullable: true, type: Number }) last_status_code!: number | null;
  @ApiProperty({ nullable: true, type: String }) last_error!: string | null;
  @ApiProperty({ type: Object, description: 'The body sent: {job_id, event, status, data, timestamp}' }) payload!: Record<string, unknown>;
  @ApiProperty({ type: [WebhookAttemptDto] }) attempt_log!: WebhookAttemptDto[];
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) delivered_at!: string | null;
}

export class WebhookDeliveryListDto {
  @ApiProperty({ type: [WebhookDeliveryDto] }) deliveries!: WebhookDeliveryDto[];
}
