import { BACKENDS, type ModelBackend, type TrainRequest } from '@app/contracts';
import { DEFAULT_LIMITS } from '@app/dsl';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsPositive,
  IsString,
  IsUrl,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';

/** Overrides of the DSL's training settings; upper limits (TRAINING_MAX_EPOCHS, ...) are checked with the model. */
export class TrainingConfigDto {
  @ApiPropertyOptional({ example: 10, minimum: 1 }) @IsOptional() @IsInt() @Min(1) epochs?: number;
  @ApiPropertyOptional({ example: 32, minimum: 1 }) @IsOptional() @IsInt() @Min(1) batch_size?: number;
  @ApiPropertyOptional({ example: 0.001, description: 'Replaces the DSL learning rate and its schedule' }) @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @IsPositive() learning_rate?: number;
  @ApiPropertyOptional({ example: 0.2, minimum: 0, maximum: 0.99, description: 'Fraction of the training samples held out (the last ones, before shuffling)' })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(0.99)
  validation_split?: number;
  @ApiPropertyOptional({ example: 'adam', description: 'A DSL optimizer name (Adam, SGD, RMSprop, ...)' }) @IsOptional() @IsString() @Matches(/^[A-Za-z]{1,32}$/, { message: 'optimizer must be an optimizer name such as adam or sgd' }) optimizer?: string;
  @ApiPropertyOptional({ example: 'sparse_categorical_crossentropy' }) @IsOptional() @IsString() @Matches(/^[A-Za-z_]{1,64}$/, { message: 'loss must be a loss name such as categorical_crossentropy' }) loss?: string;
  @ApiPropertyOptional({ example: ['accuracy'], type: [String] }) @IsOptional() @IsArray() @ArrayMaxSize(16) @IsString({ each: true }) @Matches(/^[A-Za-z_]{1,64}$/, { each: true, message: 'each metric must be a metric name such as accuracy' }) metrics?: string[];
  @ApiPropertyOptional({ example: 5000, description: 'Train on the first N training samples only' }) @IsOptional() @IsInt() @Min(1) train_samples?: number;
  @ApiPropertyOptional({ example: true, description: 'Shuffle every epoch (default true)' }) @IsOptional() @IsBoolean() shuffle?: boolean;
}

/** Body of POST /jobs/train (the seed's, plus `model_id` and `seed`). */
export class TrainRequestDto implements TrainRequest {
  @ApiPropertyOptional({ description: 'Model source in the Neural DSL (or give model_id)', maxLength: DEFAULT_LIMITS.maxSourceBytes })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(DEFAULT_LIMITS.maxSourceBytes)
  dsl_code?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Train the DSL of a registered model instead of dsl_code' })
  @IsOptional()
  @IsUUID()
  model_id?: string;

  @ApiProperty({ enum: BACKENDS, example: 'tensorflow', description: 'pytorch trains with PyTorch (when the worker has it); tensorflow and onnx train with the tfjs engine' })
  @IsIn(BACKENDS)
  backend!: ModelBackend;

  @ApiProperty({ example: 'MNIST', description: 'A built-in dataset (GET /datasets) or an uploaded dataset’s id or name' })
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, { message: 'dataset must be a dataset name or id (letters, digits, _, ., -; at most 100)' })
  dataset!: string;

  @ApiPropertyOptional({ type: TrainingConfigDto })
  @IsOptional()
  // ValidateNested alone takes an array (of configs) as well.
  @IsObject({ message: 'training_config must be an object' })
  @ValidateNested()
  @Type(() => TrainingConfigDto)
  training_config?: TrainingConfigDto;

  @ApiPropertyOptional({ example: 'my_experiment', description: 'Groups runs; defaults to the model name' })
  @IsOptional()
  @IsString()
  @Matches(/^[\w .:-]{1,200}$/, { message: 'experiment_name must be 1 to 200 letters, digits, spaces, _, ., : or -' })
  experiment_name?: string;

  @ApiPropertyOptional({ description: 'Receives signed started/progress/completed/failed/cancelled notifications (see GET /jobs/{id}/webhooks)' })
  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  @MaxLength(2048)
  webhook_url?: string;

  @ApiPropertyOptional({ example: 42, description: 'Makes the run reproducible: the same seed, data and backend give the same weights' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(2 ** 31 - 1)
  seed?: number;

  @ApiPropertyOptional({ description: 'Insert a Flatten before a Dense/Output that receives an image tensor (default true)' })
  @IsOptional()
  @IsBoolean()
  auto_flatten_output?: boolean;
}

export class TrainAcceptedDto {
  @ApiProperty({ format: 'uuid' }) job_id!: string;
  @ApiProperty({ format: 'uuid' }) experiment_id!: string;
  @ApiProperty({ enum: ['pending'] }) status!: 'pending';
  @ApiProperty() message!: string;
}
