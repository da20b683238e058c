import { TenantsRepository } from '@app/persistence';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { AuditService } from '../audit/audit.service';
import { ProblemDto } from '../common/dto/problem.dto';
import { IdPipe } from '../common/id.pipe';
import { ApiKeysService } from './api-keys.service';
import { ApiKeyOnly, CurrentTenant, principalOf, RequiresScope, type TenantContext } from './auth.decorators';
import { AuthService } from './auth.service';
import { ApiKeyListDto, ApiKeyListQueryDto, CreateApiKeyDto, CreatedApiKeyDto } from './dto/api-key.dto';
import { WebhookSecretDto } from './dto/webhook-secret.dto';
import { TokenResponseDto } from './dto/token-response.dto';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly keys: ApiKeysService,
    private readonly tenants: TenantsRepository,
    private readonly audit: AuditService,
  ) {}

  @Post('keys')
  @RequiresScope('admin')
  @ApiOperation({
    summary: 'Create an API key (administrators)',
    description: 'The key starts a tenant of its own unless tenant_id names an existing one. The secret `key` is shown only in this answer; only its SHA-256 is stored.',
  })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  createKey(@CurrentTenant() tenant: TenantContext, @Body() body: CreateApiKeyDto, @Req() req: Request): Promise<CreatedApiKeyDto> {
    return this.keys.create(tenant, body, req);
  }

  @Get('keys')
  @RequiresScope('read')
  @ApiOperation({ summary: "List API keys: your tenant's (an administrator sees every tenant's), newest first, revoked ones included" })
  @ApiOkResponse({ type: ApiKeyListDto })
  listKeys(@CurrentTenant() tenant: TenantContext, @Query() query: ApiKeyListQueryDto): Promise<ApiKeyListDto> {
    return this.keys.list(tenant, query);
  }

  @Delete('keys/:key_id')
  @HttpCode(204)
  @RequiresScope('write')
  @ApiOperation({ summary: 'Revoke an API key', description: 'Effective immediately on every gateway, for the key and every token issued for it.' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ProblemDto })
  revokeKey(@CurrentTenant() tenant: TenantContext, @Param('key_id', new IdPipe('API key')) id: string, @Req() req: Request): Promise<void> {
    return this.keys.revoke(tenant, id, req);
  }

  @Post('token')
  @HttpCode(200)
  @RequiresScope('read')
  @ApiKeyOnly()
  @ApiOperation({ summary: 'Exchange an API key for a short-lived bearer token', description: 'Send the API key in the API key header; a bearer token is not accepted here.' })
  @ApiOkResponse({ type: TokenResponseDto })
  token(@Req() req: Request): Promise<TokenResponseDto> {
    return this.auth.issueToken(principalOf(req)!);
  }

  @Get('webhook-secret')
  @RequiresScope('write')
  @ApiOperation({ summary: 'The secret your webhook deliveries are signed with', description: 'Verify X-Neural-Signature (sha256=<hex HMAC-SHA256 of the raw body>) with it.' })
  @ApiOkResponse({ type: WebhookSecretDto })
  async webhookSecret(@CurrentTenant() tenant: TenantContext): Promise<WebhookSecretDto> {
    return { webhook_secret: await this.tenants.webhookSecret(tenant.tenantId) };
  }

  @Post('webhook-secret')
  @HttpCode(200)
  @RequiresScope('write')
  @ApiOperation({ summary: 'Replace the webhook signing secret', description: 'Deliveries made from now on, including retries, are signed with the new one.' })
  @ApiOkResponse({ type: WebhookSecretDto })
  async rotateWebhookSecret(@CurrentTenant() tenant: TenantContext, @Req() req: Request): Promise<WebhookSecretDto> {
    const secret = await this.tenants.rotateWebhookSecret(tenant.tenantId);
    await this.audit.record(req, { action: 'webhook_secret.rotated', targetType: 'tenant', targetId: tenant.tenantId });
    return { webhook_secret: secret };
  }
}
