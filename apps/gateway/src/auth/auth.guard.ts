import { type AppConfig, InjectAppConfig } from '@app/config';
import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import type { PassportStatic } from 'passport';
import { DomainError } from '../common/domain-error';
import type { AuthPrincipal } from './auth-principal';
import { AUTH_STRATEGIES, IS_PUBLIC } from './auth.decorators';
import { GATEWAY_PASSPORT, type GatewayStrategy } from './passport.provider';

const ALL_STRATEGIES: GatewayStrategy[] = ['api-key', 'jwt'];

/**
 * Global guard: every route needs an API key or a bearer token unless marked `@Public()`. On success the principal is
 * `req.user`; otherwise a 401 (the filter adds `WWW-Authenticate`).
 */
@Injectable()
export class ApiAuthGuard implements CanActivate {
  private readonly apiKeyHeader: string;

  constructor(
    private readonly reflector: Reflector,
    @Inject(GATEWAY_PASSPORT) private readonly passport: PassportStatic,
    @InjectAppConfig() config: AppConfig,
  ) {
    this.apiKeyHeader = config.auth.apiKeyHeader;
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const strategies = this.reflector.getAllAndOverride<GatewayStrategy[]>(AUTH_STRATEGIES, targets) ?? ALL_STRATEGIES;
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    const principal = await this.authenticate(strategies, req, http.getResponse<Response>());
    if (!principal) throw DomainError.unauthorized(this.explain(req, strategies));
    (req as Request & { user?: AuthPrincipal }).user = principal;
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
    if (hasBearer) return 'The bearer token is not valid: it is malformed, has expired or was not issued by this server.';
    return `Authentication required: send an API key in the ${this.apiKeyHeader} header or a token as "Authorization: Bearer <token>".`;
  }
}
