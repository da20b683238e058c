import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDate, IsOptional, IsUUID, Matches } from 'class-validator';
import { PaginationQueryDto } from '../../common/dto/pagination.dto';

export class AuditQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ description: "Only this tenant's events", format: 'uuid' })
  @IsOptional()
  @IsUUID()
  tenant_id?: string;

  @ApiPropertyOptional({ description: 'Only this action, e.g. api_key.created, auth.failed, experiment.deleted' })
  @IsOptional()
  @Matches(/^[a-z_]{1,32}\.[a-z_]{1,31}$/, { message: 'action must look like api_key.created' })
  action?: string;

  @ApiPropertyOptional({ description: 'Events at or after this time (RFC 3339)', format: 'date-time' })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'since must be an RFC 3339 time' })
  since?: Date;

  @ApiPropertyOptional({ description: 'Events before this time (RFC 3339)', format: 'date-time' })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'until must be an RFC 3339 time' })
  until?: Date;
}

export class AuditEventDto {
  @ApiProperty() id!: string;
  @ApiProperty({ example: 'api_key.revoked' }) action!: string;
  @ApiProperty({ nullable: true, type: String, description: 'The tenant acted on or as; null for a failed authentication' }) tenant_id!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'The API key that acted' }) actor_key_id!: string | null;
  @ApiProperty({ nullable: true, type: String }) target_type!: string | null;
  @ApiProperty({ nullable: true, type: String }) target_id!: string | null;
  @ApiProperty({ nullable: true, type: String }) ip!: string | null;
  @ApiProperty({ nullable: true, type: String }) request_id!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) details!: Record<string, unknown>;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
}

export class AuditEventListDto {
  @ApiProperty({ type: [AuditEventDto] }) events!: AuditEventDto[];
  @ApiProperty() total!: number;
  @ApiProperty() skip!: number;
  @ApiProperty() limit!: number;
}
