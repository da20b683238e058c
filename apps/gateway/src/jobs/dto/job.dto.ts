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
  @ApiProperty({ nullable: true, type: Object }) metrics!: unknown;
  @ApiProperty({ nullable: true, type: Object, description: 'For a compile job: the same object as POST /compile/sync answers' }) result!: unknown;
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
