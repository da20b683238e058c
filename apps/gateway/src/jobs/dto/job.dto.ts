import { JOB_STATUSES, JOB_TYPES, WEBHOOK_EVENT_NAMES, type JobStatus, type JobType } from '@app/contracts';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUUID } from 'class-validator';
import { PaginationQueryDto } from '../../common/dto/pagination.dto';
import type { JobView } from '../job.view';

export class TrialEntryDto {
  @ApiProperty({ example: 0, description: '0-based place of the trial in the sweep' }) trial!: number;
  @ApiProperty({ format: 'uuid' }) job_id!: string;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) experiment_id!: string | null;
  @ApiProperty({ enum: JOB_STATUSES }) status!: JobStatus;
  @ApiProperty({ type: Object, example: { 'dense_1.units': 128, 'optimizer.learning_rate': 0.003 } }) params!: Record<string, unknown>;
  @ApiProperty({ nullable: true, type: Number, description: 'The sweep metric at the last finished epoch' }) value!: number | null;
  @ApiProperty({ description: 'Epochs finished' }) epochs!: number;
  @ApiProperty({ nullable: true, type: Number, description: 'Pruned trials: the epoch after which early stopping ended it' }) pruned_at_epoch!: number | null;
  @ApiProperty({ nullable: true, type: String }) worker_id!: string | null;
  @ApiProperty({ nullable: true, type: Object, description: '{code, detail}' }) error!: { code: string; detail: string } | null;
}

export class SweepCountsDto {
  @ApiProperty() total!: number;
  @ApiProperty({ description: 'Not started: waiting for a slot or on the queue' }) pending!: number;
  @ApiProperty() running!: number;
  @ApiProperty() completed!: number;
  @ApiProperty() pruned!: number;
  @ApiProperty() failed!: number;
  @ApiProperty() cancelled!: number;
}

export class SweepViewDto {
  @ApiProperty({ enum: ['random', 'grid'] }) strategy!: string;
  @ApiProperty({ example: 'val_accuracy' }) metric!: string;
  @ApiProperty({ enum: ['max', 'min'] }) direction!: 'max' | 'min';
  @ApiProperty() parallelism!: number;
  @ApiProperty({ type: Object, example: { type: 'successive_halving', min_epochs: 1, reduction_factor: 3 } }) early_stopping!: { type: 'successive_halving' | 'none'; min_epochs: number; reduction_factor: number };
  @ApiProperty({ type: 'array', items: { type: 'object' } }) search_space!: unknown[];
  @ApiProperty({ type: SweepCountsDto }) counts!: SweepCountsDto;
  @ApiProperty({ type: [TrialEntryDto], description: 'Completed trials best first, then pruned (most epochs first), running, pending, failed, cancelled' }) leaderboard!: TrialEntryDto[];
  @ApiProperty({ type: TrialEntryDto, nullable: true, description: 'The best completed trial so far' }) best!: TrialEntryDto | null;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'The best trial’s model, registered when the sweep completes' }) model_id!: string | null;
}

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
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'A sweep trial: its sweep’s job id' }) sweep_id!: string | null;
  @ApiProperty({ nullable: true, type: Number, description: 'A sweep trial: its 0-based place in the sweep' }) trial_index!: number | null;
  @ApiProperty({ nullable: true, type: String, description: 'The worker that last started the job' }) worker_id!: string | null;
  @ApiProperty({ nullable: true, type: SweepViewDto, description: 'A sweep (type hpo): counts, leaderboard and best trial' }) sweep!: SweepViewDto | null;
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

  @ApiPropertyOptional({ format: 'uuid', description: 'Only the trials of this sweep' })
  @IsOptional()
  @IsUUID()
  sweep_id?: string;
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
  @ApiProperty({ enum: WEBHOOK_EVENT_NAMES }) event!: string;
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
