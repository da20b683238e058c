import { BACKENDS, type ModelBackend } from '@app/contracts';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { PaginationQueryDto } from '../../common/dto/pagination.dto';
import { DslDiagnosticDto, ModelSummaryDto } from '../../compile/dto/compile-result.dto';

export class ModelListItemDto {
  @ApiProperty({ format: 'uuid' }) model_id!: string;
  @ApiProperty({ example: 'MyModel' }) name!: string;
  @ApiProperty({ enum: BACKENDS }) backend!: ModelBackend;
  @ApiProperty({ example: 868934 }) size_bytes!: number;
  @ApiProperty({ nullable: true, type: Number }) total_params!: number | null;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) job_id!: string | null;
  @ApiProperty({ description: 'True for a model produced by a training job (it has trained weights)' }) trained!: boolean;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'The experiment that trained it' }) experiment_id!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'The sweep that chose it as its best trial' }) sweep_id!: string | null;
  @ApiProperty({ nullable: true, type: Object, example: { 'dense_1.units': 128, 'optimizer.learning_rate': 0.001 }, description: 'The HPO values the sweep chose (also written into its dsl)' }) hyperparameters!: Record<string, unknown> | null;
  @ApiProperty({ type: [String], example: ['code', 'onnx', 'tfjs', 'tensorflow', 'pytorch'], description: 'Values of ?format= the download takes' }) formats!: string[];
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty() download_url!: string;
}

export class ModelDto extends ModelListItemDto {
  @ApiProperty({ type: ModelSummaryDto }) summary!: ModelSummaryDto;
  @ApiProperty({ type: [DslDiagnosticDto] }) warnings!: DslDiagnosticDto[];
  @ApiProperty({ description: 'The DSL source the model was compiled from' }) dsl_code!: string;
  @ApiProperty({ example: 'MyModel.py' }) filename!: string;
  @ApiProperty({ example: 'text/x-python' }) content_type!: string;
}

export class ModelListDto {
  @ApiProperty({ type: [ModelListItemDto] }) models!: ModelListItemDto[];
  @ApiProperty() total!: number;
  @ApiProperty() skip!: number;
  @ApiProperty() limit!: number;
}

export class ModelListQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ enum: BACKENDS })
  @IsOptional()
  @IsIn(BACKENDS)
  backend?: ModelBackend;

  @ApiPropertyOptional({ description: 'Exact model name' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  name?: string;
}

export const DOWNLOAD_FORMATS = ['code', 'onnx', 'tfjs', 'tensorflow', 'pytorch', 'pytorch_weights'] as const;
export type DownloadFormat = (typeof DOWNLOAD_FORMATS)[number];

export class ModelDownloadQueryDto {
  @ApiPropertyOptional({
    enum: DOWNLOAD_FORMATS,
    description: 'Default: the model’s own file (.py for tensorflow/pytorch, .onnx for onnx). Trained models also offer onnx (trained weights), tfjs (model.json + weights.bin zipped), tensorflow and pytorch code, and pytorch_weights for PyTorch-trained ones.',
  })
  @IsOptional()
  @IsIn(DOWNLOAD_FORMATS)
  format?: DownloadFormat;
}
