import { type AppConfig, InjectAppConfig } from '@app/config';
import { type ApiScope, ERROR_CODES } from '@app/contracts';
import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import type { PassportStatic } from 'passport';
import { AuditService } from '../audit/audit.service';
import { AuthFailureLimiter } from '../common/auth-failure-limiter';
import { DomainError } from '../common/domain-error';
import type { AuthPrincipal } from './auth-principal';
import { AUTH_STRATEGIES, IS_PUBLIC, REQUIRED_SCOPE } from './auth.decorators';
import { GATEWAY_PASSPORT, type GatewayStrategy } from './passport.provider';

const ALL_STRATEGIES: GatewayStrategy[] = ['api-key', 'jwt'];
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Global guard: every route needs an API key or a bearer token unless marked `@Public()`, and the scope the route
 * declares (`@RequiresScope`). On success the principal is `req.user`. Otherwise a 401 (the filter adds
 * `WWW-Authenticate`) or a 403; both are audited. An IP past AUTH_FAILURE_LIMIT failures gets 429s for a while.
 */
@Injectable()
export class ApiAuthGuard implements CanActivate {
  private readonly apiKeyHeader: string;

  constructor(
    private readonly reflector: Reflector,
    @Inject(GATEWAY_PASSPORT) private readonly passport: PassportStatic,
    @InjectAppConfig() config: AppConfig,
    private readonly failures: AuthFailureLimiter,
    private readonly audit: AuditService,
  ) {
    this.apiKeyHeader = config.auth.apiKeyHeader;
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const strategies = this.reflector.getAllAndOverride<GatewayStrategy[]>(AUTH_STRATEGIES, targets) ?? ALL_STRATEGIES;
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    const ip = req.ip ?? 'unknown';
    const blockedFor = this.failures.blockedFor(ip);
    if (blockedFor > 0) throw DomainError.rateLimited(`Too many failed authentications from this address; try again in ${blockedFor} s.`, blockedFor);
    const principal = await this.authenticate(strategies, req, http.getResponse<Response>());
    if (!principal) {
      const detail = this.explain(req, strategies);
      const nowBlockedFor = await this.failures.recordFailure(ip);
      await this.audit.record(req, { action: 'auth.failed', details: { route: routeOf(req), reason: detail, ...this.presented(req) } });
      if (nowBlockedFor > 0) throw DomainError.rateLimited(`Too many failed authentications from this address; try again in ${nowBlockedFor} s.`, nowBlockedFor);
      throw DomainError.unauthorized(detail);
    }
    (req as Request & { user?: AuthPrincipal }).user = principal;
    const required = this.reflector.getAllAndOverride<ApiScope>(REQUIRED_SCOPE, targets) ?? (SAFE_METHODS.has(req.method) ? 'read' : 'write');
    if (!principal.scopes.includes(required)) {
      await this.audit.record(req, { action: 'auth.forbidden', details: { route: routeOf(req), required_scope: required, scopes: principal.scopes } });
      throw new DomainError(
        ERROR_CODES.insufficientScope,
        403,
        'Forbidden',
        `This route needs the "${required}" scope; this key has ${principal.scopes.length ? principal.scopes.map((s) => `"${s}"`).join(', ') : 'none'}.`,
      );
    }
    return true;
  }

  private authenticate(strategies: GatewayStrategy[], req: Request, res: Response): Promise<AuthPrincipal | null> {
    return new Promise((resolve, reject) => {
      const middleware = this.passport.authenticate(strategies, { session: false }, (err: unknown, user: AuthPrincipal | false | undefined) =>
        err ? reject(err) : resolve(user || null),
      );
      middleware(req, res, (err?: unknown) => (err ? reject(err) : resolve(null)));
    });
  }

  private explain(req: Request, strategies: GatewayStrategy[]): string {
    const hasKey = Boolean(req.headers[this.apiKeyHeader.toLowerCase()]);
    const hasBearer = /^Bearer\s/i.test(req.headers.authorization ?? '');
    const keyOnly = !strategies.includes('jwt');
    if (keyOnly && !hasKey) return `This route takes an API key in the ${this.apiKeyHeader} header.`;
    if (hasKey && (keyOnly || !hasBearer)) return 'The API key is not valid: it is unknown or has been revoked.';
    if (hasBearer) return 'The bearer token is not valid: it is malformed, has expired, was not issued by this server, or its key was revoked.';
    return `Authentication required: send an API key in the ${this.apiKeyHeader} header or a token as "Authorization: Bearer <token>".`;
  }

  /** What was presented, safe to store: which credential, and a key's visible prefix when it looks like one of ours. */
  private presented(req: Request): Record<string, unknown> {
    const key = req.headers[this.apiKeyHeader.toLowerCase()];
    const prefix = typeof key === 'string' && /^nk_[A-Za-z0-9_-]{5}/.test(key) ? key.slice(0, 8) : undefined;
    return { api_key: typeof key === 'string', key_prefix: prefix, bearer: /^Bearer\s/i.test(req.headers.authorization ?? '') };
  }
}

function routeOf(req: Request): string {
  return `${req.method} ${(req.originalUrl ?? req.url).split('?')[0].slice(0, 200)}`;
}
