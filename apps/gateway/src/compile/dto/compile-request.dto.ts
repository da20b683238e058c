import { BACKENDS, type CompileRequest, type ModelBackend } from '@app/contracts';
import { DEFAULT_LIMITS } from '@app/dsl';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsOptional, IsString, IsUrl, Matches, MaxLength, MinLength } from 'class-validator';

const SEED_MODEL = 'Model MyModel {\n  Input(shape=[28, 28, 1])\n  Conv2D(filters=32, kernel_size=3, activation=relu)\n  Dense(units=10, activation=softmax)\n}';

/** Body of POST /compile/ and /compile/sync (the seed's). */
export class CompileRequestDto implements CompileRequest {
  @ApiProperty({ description: 'Model source in the Neural DSL', example: SEED_MODEL, maxLength: DEFAULT_LIMITS.maxSourceBytes })
  @IsString()
  @MinLength(1)
  @MaxLength(DEFAULT_LIMITS.maxSourceBytes)
  dsl_code!: string;

  @ApiProperty({ enum: BACKENDS, example: 'tensorflow' })
  @IsIn(BACKENDS)
  backend!: ModelBackend;

  @ApiPropertyOptional({ description: 'Dataset the generated training script loads by default', example: 'MNIST' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'dataset must be a name of letters, digits, _ or - (at most 64)' })
  dataset?: string;

  @ApiPropertyOptional({ description: 'Insert a Flatten before a Dense/Output that receives an image tensor (default true)' })
  @IsOptional()
  @IsBoolean()
  auto_flatten_output?: boolean;

  @ApiPropertyOptional({ description: "Accepted for the seed's compatibility: HPO(...) sites always compile with their default values (one hpo_default warning each) and are listed in summary.search_space; POST /jobs/hpo searches them" })
  @IsOptional()
  @IsBoolean()
  enable_hpo?: boolean;

  @ApiPropertyOptional({ description: 'POST /compile/ only: receives signed started/completed/failed/cancelled notifications (see GET /jobs/{id}/webhooks)' })
  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  @MaxLength(2048)
  webhook_url?: string;
}
