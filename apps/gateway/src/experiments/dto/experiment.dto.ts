import { BACKENDS, JOB_STATUSES, type JobStatus, type ModelBackend } from '@app/contracts';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { PaginationQueryDto } from '../../common/dto/pagination.dto';

export class ArtifactDto {
  @ApiProperty({ example: 'model.onnx' }) name!: string;
  @ApiProperty({ example: 'application/octet-stream' }) content_type!: string;
  @ApiProperty({ example: 868934 }) size_bytes!: number;
  @ApiProperty({ example: '/experiments/6f1c.../artifacts/model.onnx' }) download_url!: string;
}

export class ExperimentListItemDto {
  @ApiProperty({ format: 'uuid' }) experiment_id!: string;
  @ApiProperty({ example: 'my_experiment' }) name!: string;
  @ApiProperty({ format: 'uuid' }) job_id!: string;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'The trained model under /models/, once completed (for a sweep trial: only the best, once the sweep completes)' }) model_id!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'The sweep (POST /jobs/hpo) this run is a trial of' }) sweep_id!: string | null;
  @ApiProperty({ enum: JOB_STATUSES }) status!: JobStatus;
  @ApiProperty({ enum: BACKENDS }) backend!: ModelBackend;
  @ApiProperty({ enum: ['tfjs', 'pytorch'], description: 'Who trained the weights' }) engine!: string;
  @ApiProperty({ nullable: true, type: String, example: 'wasm', description: 'What the engine ran on: tensorflow, wasm or cpu (tfjs), torch' }) compute_backend!: string | null;
  @ApiProperty({ example: 'MNIST' }) dataset!: string;
  @ApiProperty({ nullable: true, type: Number }) seed!: number | null;
  @ApiProperty({ type: Object, example: { epochs: 10, batch_size: 32, learning_rate: 0.001, optimizer: 'Adam', loss: 'categorical_crossentropy' } }) hyperparameters!: Record<string, unknown>;
  @ApiProperty({ example: 3 }) epochs_completed!: number;
  @ApiProperty({ nullable: true, type: Object, example: { loss: 0.05, accuracy: 0.98, val_loss: 0.06, val_accuracy: 0.98 } }) final_metrics!: Record<string, number> | null;
  @ApiProperty({ nullable: true, type: Object, description: 'Per metric over the epochs: the minimum of losses and errors, the maximum of the others' }) best_metrics!: Record<string, number> | null;
  @ApiProperty({ nullable: true, type: Object, description: 'On the dataset’s test split, after training' }) test_metrics!: Record<string, number> | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) started_at!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) completed_at!: string | null;
}

export class ExperimentDto extends ExperimentListItemDto {
  @ApiProperty({ description: 'The DSL source trained' }) dsl_code!: string;
  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: { type: 'number' } }, description: 'One row per epoch: loss, metrics, val_*, epoch_seconds, samples_per_second, learning_rate' })
  history!: Array<Record<string, number>>;
  @ApiProperty({ type: [ArtifactDto] }) artifacts!: ArtifactDto[];
  @ApiProperty({ nullable: true, type: Object, description: '{code, detail} when the run failed' }) error!: unknown;
  @ApiProperty({ type: Object, description: 'The resolved training plan (engine, shapes, optimizer, schedule, clipping, ...)' }) plan!: Record<string, unknown>;
}

export class ExperimentListDto {
  @ApiProperty({ type: [ExperimentListItemDto] }) experiments!: ExperimentListItemDto[];
  @ApiProperty() total!: number;
  @ApiProperty() skip!: number;
  @ApiProperty() limit!: number;
}

const METRIC = /^[a-z][a-z0-9_]{0,63}$/;

export class ExperimentListQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ description: 'Exact experiment name' }) @IsOptional() @IsString() @MaxLength(200) name?: string;
  @ApiPropertyOptional({ enum: JOB_STATUSES }) @IsOptional() @IsIn(JOB_STATUSES) status?: JobStatus;
  @ApiPropertyOptional({ enum: JOB_STATUSES, description: 'Same as status (the seed’s name)' }) @IsOptional() @IsIn(JOB_STATUSES) status_filter?: JobStatus;
  @ApiPropertyOptional({ example: 'val_accuracy', description: 'created_at (default) or a final metric; experiments without it come last' })
  @IsOptional()
  @Matches(METRIC, { message: 'sort_by must be created_at or a metric name such as val_accuracy' })
  sort_by?: string;
  @ApiPropertyOptional({ enum: ['asc', 'desc'], default: 'desc' }) @IsOptional() @IsIn(['asc', 'desc']) order?: 'asc' | 'desc';
  @ApiPropertyOptional({ format: 'uuid', description: 'Only the trials of this sweep (its job id)' }) @IsOptional() @IsUUID() sweep_id?: string;
}

const ids = ({ value }: { value: unknown }) => (value === undefined ? undefined : (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(',')).map((v) => v.trim()).filter(Boolean));

export class CompareQueryDto {
  @ApiPropertyOptional({ type: [String], description: 'Experiment ids to compare with (repeat the parameter)' })
  @IsOptional()
  @Transform(ids)
  @IsArray()
  @ArrayMaxSize(100)
  @IsUUID('all', { each: true, message: 'each of compare_with must be an experiment id' })
  compare_with?: string[];

  @ApiPropertyOptional({ type: String, example: 'a,b', description: 'Experiment ids to compare with, comma-separated' })
  @IsOptional()
  @Transform(ids)
  @IsArray()
  @ArrayMaxSize(100)
  @IsUUID('all', { each: true, message: 'each of ids must be an experiment id' })
  ids?: string[];

  @ApiPropertyOptional({ format: 'uuid', description: 'Compare with every trial of this sweep (its job id)' })
  @IsOptional()
  @IsUUID()
  sweep_id?: string;
}

export class ComparedExperimentDto {
  @ApiProperty({ format: 'uuid' }) experiment_id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: JOB_STATUSES }) status!: JobStatus;
  @ApiProperty({ type: Object }) hyperparameters!: Record<string, unknown>;
  @ApiProperty({ nullable: true, type: Object }) final_metrics!: Record<string, number> | null;
  @ApiProperty({ nullable: true, type: Object }) best_metrics!: Record<string, number> | null;
  @ApiProperty({ nullable: true, type: Object }) test_metrics!: Record<string, number> | null;
  @ApiProperty({ type: 'array', items: { type: 'object' } }) history!: Array<Record<string, number>>;
}

export class BestExperimentDto {
  @ApiProperty({ format: 'uuid' }) experiment_id!: string;
  @ApiProperty() value!: number;
  @ApiProperty({ enum: ['min', 'max'] }) goal!: 'min' | 'max';
}

export class CompareDto {
  @ApiProperty({ type: [ComparedExperimentDto], description: 'The experiment of the path first, then the others in the order given' }) experiments!: ComparedExperimentDto[];
  @ApiProperty({ type: Object, description: 'Each hyperparameter that differs between them: { name: { experiment_id: value } }', example: { learning_rate: { 'a…': 0.001, 'b…': 0.01 } } })
  hyperparameter_differences!: Record<string, Record<string, unknown>>;
  @ApiProperty({ type: Object, description: 'Final metrics side by side: { metric: { experiment_id: value } }' }) final_metrics!: Record<string, Record<string, number>>;
  @ApiProperty({ type: Object, description: 'Per final metric, the experiment that did best (min for losses and errors, max otherwise)' }) best!: Record<string, BestExperimentDto>;
}
