import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import type { ProblemBody } from '../problem';

/** The error body of every 4xx/5xx answer, for `@ApiXxxResponse({ type: ProblemDto })`; served as application/problem+json. */
@ApiSchema({ name: 'Problem', description: 'Every 4xx/5xx answer (application/problem+json).' })
export class ProblemDto implements ProblemBody {
  @ApiProperty({ description: 'The HTTP status', example: 422 })
  status!: number;

  @ApiProperty({ description: 'Machine-readable error code', example: 'validation_error' })
  code!: string;

  @ApiProperty({ example: 'Unprocessable Entity' })
  title!: string;

  @ApiProperty({ description: 'A human sentence', example: 'The request is not valid; see errors for each field.' })
  detail!: string;

  @ApiPropertyOptional({
    description: 'Per-item problems: {field, message} for validation, {line, column, message, hint?} for DSL errors',
    type: 'array',
    items: { type: 'object', additionalProperties: true },
    example: [{ field: 'backend', message: 'backend must be one of the following values: tensorflow, pytorch, onnx' }],
  })
  errors?: unknown[];

  @ApiPropertyOptional({ description: 'Only on a 500: the id the failure was logged under', format: 'uuid' })
  error_id?: string;

  @ApiProperty({ description: 'The X-Request-Id of the request', example: '5b0e1c52-3f2a-4c55-9d0a-8f3e4f1b2c3d' })
  request_id!: string;
}
