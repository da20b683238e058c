import { Controller, HttpCode, Post, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { ApiKeyOnly, principalOf } from './auth.decorators';
import { AuthService } from './auth.service';
import { TokenResponseDto } from './dto/token-response.dto';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Post('token')
  @HttpCode(200)
  @ApiKeyOnly()
  @ApiOperation({ summary: 'Exchange an API key for a short-lived bearer token', description: 'Send the API key in the API key header; a bearer token is not accepted here.' })
  @ApiOkResponse({ type: TokenResponseDto })
  token(@Req() req: Request): Promise<TokenResponseDto> {
    return this.auth.issueToken(principalOf(req)!);
  }
}
