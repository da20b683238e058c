import type { ApiScope } from '@app/contracts';
import { createParamDecorator, type ExecutionContext, SetMetadata, applyDecorators } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import type { Request } from 'express';
import type { AuthPrincipal } from './auth-principal';

export const IS_PUBLIC = 'neural:public';
export const AUTH_STRATEGIES = 'neural:auth-strategies';
export const REQUIRED_SCOPE = 'neural:required-scope';

/** OpenAPI extensions read (and removed) by the document builder: no credentials / API key only. */
export const OPENAPI_PUBLIC_EXTENSION = 'x-neural-public';
export const OPENAPI_API_KEY_ONLY_EXTENSION = 'x-neural-api-key-only';
/** OpenAPI extension kept in the published document: the scope an operation needs. */
export const OPENAPI_SCOPE_EXTENSION = 'x-required-scope';

/** The route (or every route of the controller) needs no credentials. */
export const Public = (): ClassDecorator & MethodDecorator =>
  applyDecorators(SetMetadata(IS_PUBLIC, true), ApiExtension(OPENAPI_PUBLIC_EXTENSION, true));

/** The route accepts an API key only, not a bearer token (so a token can't be traded for a fresh one forever). */
export const ApiKeyOnly = (): ClassDecorator & MethodDecorator =>
  applyDecorators(SetMetadata(AUTH_STRATEGIES, ['api-key']), ApiExtension(OPENAPI_API_KEY_ONLY_EXTENSION, true));

/**
 * The scope the route needs; the guard answers 403 to a key without it. Routes that declare none need `read` when
 * they are GET or HEAD and `write` otherwise (every route of the gateway declares one; a spec checks).
 */
export const RequiresScope = (scope: ApiScope): ClassDecorator & MethodDecorator =>
  applyDecorators(SetMetadata(REQUIRED_SCOPE, scope), ApiExtension(OPENAPI_SCOPE_EXTENSION, scope));

/** Who is calling: the tenant that owns everything the request touches, and the API key that authenticated it. */
export interface TenantContext {
  tenantId: string;
  apiKeyId: string;
  /** Whether the key has the `admin` scope (may act on other tenants' keys and read the audit log). */
  isAdmin: boolean;
}

/** Parameter decorator giving the caller's {@link TenantContext}; only on authenticated routes. */
export const CurrentTenant = createParamDecorator((_data: unknown, ctx: ExecutionContext): TenantContext => {
  const principal = principalOf(ctx.switchToHttp().getRequest<Request>());
  if (!principal) throw new Error('@CurrentTenant() used on a route without authentication');
  return { tenantId: principal.tenantId, apiKeyId: principal.apiKeyId, isAdmin: principal.scopes.includes('admin') };
});

/** The authenticated principal of a request, if any. */
export function principalOf(req: Request): AuthPrincipal | undefined {
  return (req as Request & { user?: AuthPrincipal }).user;
}
