import { type AppConfig, DEMO_API_KEY, InjectAppConfig } from '@app/config';
import { grantedScopes } from '@app/contracts';
import { type ApiKeyIdentity, ApiKeysRepository, hashApiKey } from '@app/persistence';
import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import type { AccessTokenClaims, AuthPrincipal } from './auth-principal';

/** What `POST /auth/token` answers. */
export interface IssuedToken {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  scopes: string[];
}

/** Name of the tenant `ADMIN_API_KEY` belongs to. */
export const ADMIN_TENANT_NAME = 'admin';

/** Checks API keys and access tokens, issues tokens, and seeds the demo key (development) and `ADMIN_API_KEY` at boot. */
@Injectable()
export class AuthService implements OnApplicationBootstrap {
  private readonly logger = new Logger(AuthService.name);

  constructor(
    @InjectAppConfig() private readonly config: AppConfig,
    private readonly apiKeys: ApiKeysRepository,
    private readonly jwt: JwtService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // The demo key is the seed's examples' key: in development it may do anything, including creating keys.
    if (this.config.auth.demoKeyEnabled) await this.apiKeys.ensureDemoKey(DEMO_API_KEY, ['admin']);
    if (this.config.auth.adminApiKey) {
      const key = await this.apiKeys.ensureKey(this.config.auth.adminApiKey, { tenantName: ADMIN_TENANT_NAME, keyName: 'ADMIN_API_KEY', scopes: ['admin'] });
      this.logger.log(`administrator key from ADMIN_API_KEY: id ${key.id}${key.revokedAt ? ' (revoked: it is not accepted)' : ''}`);
    }
  }

  /** The principal of an active key, or null for an unknown, revoked or (in production) demo key. */
  async authenticateApiKey(plaintext: string): Promise<AuthPrincipal | null> {
    if (!plaintext || plaintext.length > 512) return null;
    // A database copied from development may still hold the demo key; production never honours it.
    if (plaintext === DEMO_API_KEY && !this.config.auth.demoKeyEnabled) return null;
    const key = await this.apiKeys.findActiveIdentityByHash(hashApiKey(plaintext));
    return key ? this.principal(key, 'api_key') : null;
  }

  /**
   * The principal of a valid, unexpired token issued by this platform for a key that is still active, or null. The
   * key is read on every request, so revoking it ends its tokens at once, on every gateway.
   */
  async verifyAccessToken(token: string): Promise<AuthPrincipal | null> {
    let claims: Partial<AccessTokenClaims>;
    try {
      claims = await this.jwt.verifyAsync<AccessTokenClaims>(token);
    } catch {
      return null;
    }
    if (typeof claims.sub !== 'string' || typeof claims.tid !== 'string') return null;
    const key = await this.apiKeys.findActiveIdentityById(claims.sub);
    return key && key.tenantId === claims.tid ? this.principal(key, 'bearer') : null;
  }

  private principal(key: ApiKeyIdentity, method: AuthPrincipal['method']): AuthPrincipal {
    this.apiKeys.touch(key.id).catch((err: unknown) => this.logger.warn(`could not record the use of key ${key.id}: ${String(err)}`));
    return { tenantId: key.tenantId, apiKeyId: key.id, scopes: grantedScopes(key.scopes), method };
  }

  /** A short-lived token standing for the API key of `principal`. */
  async issueToken(principal: AuthPrincipal): Promise<IssuedToken> {
    const claims: AccessTokenClaims = { sub: principal.apiKeyId, tid: principal.tenantId, scp: principal.scopes };
    const accessToken = await this.jwt.signAsync(claims, { expiresIn: this.config.auth.jwtExpiresIn });
    return { access_token: accessToken, token_type: 'bearer', expires_in: this.config.auth.jwtExpiresIn, scopes: principal.scopes };
  }
}
