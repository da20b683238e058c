import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PaginationQueryDto } from '../../common/dto/pagination.dto';

export class DatasetDto {
  @ApiPropertyOptional({ format: 'uuid', nullable: true, type: String, description: 'Uploads only; usable as `dataset` in POST /jobs/train' }) dataset_id!: string | null;
  @ApiProperty({ example: 'MNIST' }) name!: string;
  @ApiProperty({ enum: ['builtin', 'upload'] }) kind!: 'builtin' | 'upload';
  @ApiProperty({ enum: ['classification', 'regression'] }) task!: 'classification' | 'regression';
  @ApiProperty({ type: [Number], example: [28, 28, 1] }) sample_shape!: number[];
  @ApiProperty({ type: [Number], example: [] }) label_shape!: number[];
  @ApiProperty({ nullable: true, type: Number, example: 10 }) num_classes!: number | null;
  @ApiPropertyOptional({ type: [String], nullable: true }) class_names!: string[] | null;
  @ApiProperty({ example: 60000 }) train_samples!: number;
  @ApiProperty({ example: 10000 }) test_samples!: number;
  @ApiProperty({ description: 'False when its files are not installed on this server' }) available!: boolean;
  @ApiPropertyOptional({ nullable: true, type: String }) unavailable_reason!: string | null;
  @ApiProperty() description!: string;
  @ApiProperty() source!: string;
  @ApiPropertyOptional({ nullable: true, type: String, enum: ['csv', 'json'] }) format!: string | null;
  @ApiPropertyOptional({ nullable: true, type: Number, description: 'Bytes uploaded' }) size_bytes!: number | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) created_at!: string | null;
}

export class DatasetListDto {
  @ApiProperty({ type: [DatasetDto], description: 'The built-in datasets first, then the tenant’s uploads, newest first' }) datasets!: DatasetDto[];
  @ApiProperty() total!: number;
  @ApiProperty() skip!: number;
  @ApiProperty() limit!: number;
}

export class DatasetListQueryDto extends PaginationQueryDto {}

/** The multipart form of POST /datasets, for the OpenAPI document (the route parses the stream itself). */
export class DatasetUploadDto {
  @ApiProperty({ type: 'string', format: 'binary', description: 'A CSV file with a header row and a label column, or JSON {"x": [...], "y": [...]}' }) file!: unknown;
  @ApiProperty({ example: 'iris_measurements', description: 'Unique among the tenant’s datasets; letters, digits, _, ., -' }) name!: string;
  @ApiPropertyOptional({ enum: ['csv', 'json'], description: 'Default: from the file name’s extension' }) format?: string;
  @ApiPropertyOptional({ example: 'species', description: 'CSV: the label column (default: label, target, class or y, else the last column)' }) label_column?: string;
  @ApiPropertyOptional({ example: 0.2, description: 'Fraction kept as the test split (0 ≤ x < 1, default 0)' }) test_split?: number;
}
