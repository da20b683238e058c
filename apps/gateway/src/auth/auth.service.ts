import { type AppConfig, DEMO_API_KEY, InjectAppConfig } from '@app/config';
import { ApiKeysRepository, hashApiKey } from '@app/persistence';
import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import type { AccessTokenClaims, AuthPrincipal } from './auth-principal';

/** What `POST /auth/token` answers. */
export interface IssuedToken {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
}

/** Checks API keys and access tokens, issues tokens, and seeds the development demo key at boot. */
@Injectable()
export class AuthService implements OnApplicationBootstrap {
  private readonly logger = new Logger(AuthService.name);

  constructor(
    @InjectAppConfig() private readonly config: AppConfig,
    private readonly apiKeys: ApiKeysRepository,
    private readonly jwt: JwtService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.auth.demoKeyEnabled) await this.apiKeys.ensureDemoKey(DEMO_API_KEY);
  }

  /** The principal of an active key, or null for an unknown, revoked or (in production) demo key. */
  async authenticateApiKey(plaintext: string): Promise<AuthPrincipal | null> {
    if (!plaintext || plaintext.length > 512) return null;
    // A database copied from development may still hold the demo key; production never honours it.
    if (plaintext === DEMO_API_KEY && !this.config.auth.demoKeyEnabled) return null;
    const key = await this.apiKeys.findActiveIdentityByHash(hashApiKey(plaintext));
    if (!key) return null;
    this.apiKeys.touch(key.id).catch((err: unknown) => this.logger.warn(`could not record the use of key ${key.id}: ${String(err)}`));
    return { tenantId: key.tenantId, apiKeyId: key.id, method: 'api_key' };
  }

  /** The principal of a valid, unexpired token issued by this platform, or null. */
  async verifyAccessToken(token: string): Promise<AuthPrincipal | null> {
    let claims: Partial<AccessTokenClaims>;
    try {
      claims = await this.jwt.verifyAsync<AccessTokenClaims>(token);
    } catch {
      return null;
    }
    if (typeof claims.sub !== 'string' || typeof claims.tid !== 'string') return null;
    return { tenantId: claims.tid, apiKeyId: claims.sub, method: 'bearer' };
  }

  /** A short-lived token standing for the API key of `principal`. */
  async issueToken(principal: AuthPrincipal): Promise<IssuedToken> {
    const claims: AccessTokenClaims = { sub: principal.apiKeyId, tid: principal.tenantId };
    const accessToken = await this.jwt.signAsync(claims, { expiresIn: this.config.auth.jwtExpiresIn });
    return { access_token: accessToken, token_type: 'bearer', expires_in: this.config.auth.jwtExpiresIn };
  }
}
