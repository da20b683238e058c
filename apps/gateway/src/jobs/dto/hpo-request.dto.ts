import { SWEEP_DIRECTIONS, type SweepDirection } from '@app/contracts';
import { SWEEP_STRATEGIES, type SweepStrategy } from '@app/dsl';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsObject, IsOptional, IsString, Matches, Max, Min, ValidateNested } from 'class-validator';
import { TrainRequestDto } from './train-request.dto';

export const EARLY_STOPPING_TYPES = ['successive_halving', 'asha', 'none'] as const;

/** Early stopping of weak trials on their epoch metrics. */
export class EarlyStoppingDto {
  @ApiPropertyOptional({ enum: EARLY_STOPPING_TYPES, default: 'successive_halving', description: 'successive_halving (asynchronous, ASHA; `asha` is the same) or none' })
  @IsOptional()
  @IsIn(EARLY_STOPPING_TYPES)
  type?: (typeof EARLY_STOPPING_TYPES)[number];

  @ApiPropertyOptional({ default: 1, minimum: 1, description: 'The first rung: epochs every trial trains before it can be stopped' })
  @IsOptional()
  @IsInt()
  @Min(1)
  min_epochs?: number;

  @ApiPropertyOptional({ default: 3, minimum: 2, maximum: 10, description: 'η: rungs at min_epochs·η^k, and about 1/η of the trials at a rung go on' })
  @IsOptional()
  @IsInt()
  @Min(2)
  @Max(10)
  reduction_factor?: number;
}

/** The `search` of POST /jobs/hpo. */
export class SearchDto {
  @ApiPropertyOptional({ example: 6, minimum: 1, description: 'Trials to run (random: default 10; grid: default and at most the whole grid). At most HPO_MAX_TRIALS.' })
  @IsOptional()
  @IsInt()
  @Min(1)
  trials?: number;

  @ApiPropertyOptional({ example: 'val_accuracy', description: 'The epoch metric trials are ranked by, at their last epoch. Default val_accuracy for classifiers (accuracy without a validation split), else val_loss (loss).' })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z][a-z0-9_]{0,63}$/, { message: 'metric must be a metric name such as val_accuracy or val_loss' })
  metric?: string;

  @ApiPropertyOptional({ enum: SWEEP_DIRECTIONS, description: 'max or min; default min for losses and errors, max otherwise' })
  @IsOptional()
  @IsIn(SWEEP_DIRECTIONS)
  direction?: SweepDirection;

  @ApiPropertyOptional({ enum: SWEEP_STRATEGIES, description: 'random or grid; default the DSL’s search_method when it is one of them, else random' })
  @IsOptional()
  @IsIn(SWEEP_STRATEGIES)
  strategy?: SweepStrategy;

  @ApiPropertyOptional({ example: 2, minimum: 1, default: 4, description: 'Trials unfinished at once (each runs on whichever worker is free). At most HPO_MAX_PARALLELISM.' })
  @IsOptional()
  @IsInt()
  @Min(1)
  parallelism?: number;

  @ApiPropertyOptional({ type: EarlyStoppingDto })
  @IsOptional()
  @IsObject({ message: 'early_stopping must be an object such as {"type": "successive_halving"}' })
  @ValidateNested()
  @Type(() => EarlyStoppingDto)
  early_stopping?: EarlyStoppingDto;

  @ApiPropertyOptional({ example: 7, description: 'Makes the sampled points reproducible; default the request’s seed, else random' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(2 ** 31 - 1)
  seed?: number;
}

/** Body of POST /jobs/hpo: a training request with a search over the model's HPO(...) sites. */
export class HpoRequestDto extends TrainRequestDto {
  @ApiProperty({ type: SearchDto })
  @IsObject({ message: 'search must be an object such as {"trials": 6, "metric": "val_accuracy"}' })
  @ValidateNested()
  @Type(() => SearchDto)
  search!: SearchDto;
}

export class HpoAcceptedDto {
  @ApiProperty({ format: 'uuid' }) job_id!: string;
  @ApiProperty({ enum: ['pending'] }) status!: 'pending';
  @ApiProperty({ example: 6 }) total_trials!: number;
  @ApiProperty({ type: 'array', items: { type: 'object' }, description: 'The sites searched: {path, kind, values | low, high, step, default, line, column}' }) search_space!: unknown[];
  @ApiProperty({ type: [String], description: 'What the sweep does differently from what was asked (a small space, an unavailable search_method, points that cannot train)' }) warnings!: string[];
  @ApiProperty() message!: string;
}
