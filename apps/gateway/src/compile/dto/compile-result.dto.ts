import { BACKENDS, type CompileResult, type ModelBackend } from '@app/contracts';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** A dimension of a shape; null is the batch (or another unknown) dimension. */
const NULLABLE_DIM = { type: 'number', nullable: true } as const;
const SHAPE = { type: 'array', items: NULLABLE_DIM } as const;

export class DslDiagnosticDto {
  @ApiProperty({ example: 4 }) line!: number;
  @ApiProperty({ example: 13 }) column!: number;
  @ApiProperty({ example: 'Dropout rate should be between 0 and 1, got 1.5' }) message!: string;
  @ApiPropertyOptional({ example: 'did you mean Dense?' }) hint?: string;
}

export class LayerSummaryDto {
  @ApiProperty({ example: 'conv2d_1' }) id!: string;
  @ApiProperty({ example: 'Conv2D' }) type!: string;
  @ApiProperty({ type: 'array', items: NULLABLE_DIM, example: [null, 26, 26, 32] }) output_shape!: (number | null)[];
  @ApiProperty({ type: Number, nullable: true, example: 320 }) params!: number | null;
}

export class ModelSummaryDto {
  @ApiProperty({ example: 'MyModel' }) name!: string;
  @ApiProperty({ oneOf: [SHAPE, { type: 'array', items: SHAPE }], example: [null, 28, 28, 1], description: 'One shape, or one per input' }) input_shape!: unknown;
  @ApiProperty({ type: 'array', items: NULLABLE_DIM, example: [null, 10] }) output_shape!: (number | null)[];
  @ApiProperty({ type: [LayerSummaryDto] }) layers!: LayerSummaryDto[];
  @ApiProperty({ type: Number, nullable: true, example: 216650 }) total_params!: number | null;
  @ApiProperty({ type: Number, nullable: true, example: 216650 }) trainable_params!: number | null;
  @ApiPropertyOptional({
    type: 'array',
    items: { type: 'object' },
    example: [{ path: 'dense_1.units', kind: 'choice', values: [64, 128], default: 64, line: 4, column: 11 }],
    description: 'Every HPO(...) site: path (<layer id>.<parameter>, optimizer.learning_rate, training.batch_size), kind (choice, range, log_range), values or low/high/step, the default compile and plain training use, and its position',
  })
  search_space?: unknown[];
}

export class CompileResultDto implements CompileResult {
  @ApiProperty({ format: 'uuid' }) model_id!: string;
  @ApiProperty({ enum: BACKENDS }) backend!: ModelBackend;
  @ApiProperty({ enum: ['completed'] }) status!: 'completed';
  @ApiProperty({ type: String, nullable: true, description: 'Generated Python (null for onnx: download the file)' }) compiled_code!: string | null;
  @ApiProperty({ type: ModelSummaryDto }) summary!: ModelSummaryDto;
  @ApiProperty({ type: [DslDiagnosticDto] }) warnings!: DslDiagnosticDto[];
  @ApiProperty({ example: '/models/6f1c.../download' }) download_url!: string;
}

export class CompileAcceptedDto {
  @ApiProperty({ format: 'uuid' }) job_id!: string;
  @ApiProperty({ enum: ['pending'] }) status!: 'pending';
  @ApiProperty() message!: string;
}
