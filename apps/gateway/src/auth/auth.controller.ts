import { TenantsRepository } from '@app/persistence';
import { Controller, Get, HttpCode, Post, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { ApiKeyOnly, CurrentTenant, principalOf, type TenantContext } from './auth.decorators';
import { AuthService } from './auth.service';
import { WebhookSecretDto } from './dto/webhook-secret.dto';
import { TokenResponseDto } from './dto/token-response.dto';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly tenants: TenantsRepository,
  ) {}

  @Post('token')
  @HttpCode(200)
  @ApiKeyOnly()
  @ApiOperation({ summary: 'Exchange an API key for a short-lived bearer token', description: 'Send the API key in the API key header; a bearer token is not accepted here.' })
  @ApiOkResponse({ type: TokenResponseDto })
  token(@Req() req: Request): Promise<TokenResponseDto> {
    return this.auth.issueToken(principalOf(req)!);
  }

  @Get('webhook-secret')
  @ApiOperation({ summary: 'The secret your webhook deliveries are signed with', description: 'Verify X-Neural-Signature (sha256=<hex HMAC-SHA256 of the raw body>) with it.' })
  @ApiOkResponse({ type: WebhookSecretDto })
  async webhookSecret(@CurrentTenant() tenant: TenantContext): Promise<WebhookSecretDto> {
    return { webhook_secret: await this.tenants.webhookSecret(tenant.tenantId) };
  }

  @Post('webhook-secret')
  @HttpCode(200)
  @ApiOperation({ summary: 'Replace the webhook signing secret', description: 'Deliveries made from now on, including retries, are signed with the new one.' })
  @ApiOkResponse({ type: WebhookSecretDto })
  async rotateWebhookSecret(@CurrentTenant() tenant: TenantContext): Promise<WebhookSecretDto> {
    return { webhook_secret: await this.tenants.rotateWebhookSecret(tenant.tenantId) };
  }
}
