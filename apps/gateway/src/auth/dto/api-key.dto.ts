import { API_SCOPES, type ApiScope } from '@app/contracts';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsIn, IsOptional, IsString, IsUUID, Matches } from 'class-validator';
import { PaginationQueryDto } from '../../common/dto/pagination.dto';

/** Names of keys (and of the tenants they start): letters, digits, space and `._-`, 1 to 100 characters. */
export const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$/;

export class CreateApiKeyDto {
  @ApiProperty({ example: 'ci-pipeline', description: 'Letters, digits, space and ._-, 1 to 100 characters' })
  @IsString()
  @Matches(KEY_NAME, { message: 'name must be 1 to 100 letters, digits, spaces or ._- and start with a letter or digit' })
  name!: string;

  @ApiPropertyOptional({ enum: API_SCOPES, isArray: true, default: ['read', 'write'], description: 'write implies read and predict; admin implies everything' })
  @IsOptional()
  @ArrayMinSize(1)
  @ArrayMaxSize(API_SCOPES.length)
  @ArrayUnique()
  @IsIn(API_SCOPES, { each: true, message: `each scope must be one of ${API_SCOPES.join(', ')}` })
  scopes?: ApiScope[];

  @ApiPropertyOptional({ format: 'uuid', description: 'Administrators only: add the key to this existing tenant instead of starting a new one' })
  @IsOptional()
  @IsUUID()
  tenant_id?: string;
}

export class ApiKeyDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'nk_Q2xv', description: 'The first characters of the key, to tell keys apart' }) prefix!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: API_SCOPES, isArray: true }) scopes!: string[];
  @ApiProperty({ format: 'uuid' }) tenant_id!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'Updated at most once a minute' }) last_used_at!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) revoked_at!: string | null;
}

/** The answer of `POST /auth/keys`: the only time the secret is shown. */
export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({ description: 'The secret key; shown only in this answer', example: 'nk_Q2xvdWQgY29tcHV0aW5nIGlzIGp1c3QgYW5vdGhlciBjb21wdXRlcg' })
  key!: string;
}

export class ApiKeyListQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: "Administrators: only this tenant's keys (default: every tenant's)" })
  @IsOptional()
  @IsUUID()
  tenant_id?: string;
}

export class ApiKeyListDto {
  @ApiProperty({ type: [ApiKeyDto] }) keys!: ApiKeyDto[];
  @ApiProperty() total!: number;
  @ApiProperty() skip!: number;
  @ApiProperty() limit!: number;
}
