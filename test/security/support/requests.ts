import { fillPath, type Route } from './inventory';
import type { Fixture, TenantWorld } from './fixture';
import type { RawRequest } from './raw-http';

/** `route` aimed at `world`'s resources with the body its write key would send, with path values overridden by `params`. */
export function requestFor(fx: Fixture, route: Route, world: TenantWorld, params: Record<string, string> = {}, query = ''): RawRequest {
  const values: Record<string, string> = {};
  const own = fx.paramsOf(world);
  for (const p of route.pathParams) values[p] = params[p] ?? encodeURIComponent(own[p]);
  const body = fx.bodyOf(route, world);
  return {
    method: route.method,
    path: fillPath(route, values) + query,
    headers: body ? [['Content-Type', body.contentType]] : [],
    body: body?.body,
  };
}

/** `route` with random ids in its path and a body that fails validation: passes the guard, changes nothing. */
export function harmlessRequestFor(route: Route): RawRequest {
  const values = Object.fromEntries(route.pathParams.map((p) => [p, '5d1a1d3c-0e0e-4c4c-8a8a-000000000000']));
  const json = route.bodyTypes.includes('application/json');
  const multipart = !json && route.bodyTypes.some((t) => t.startsWith('multipart/'));
  return {
    method: route.method,
    path: fillPath(route, values),
    headers: json ? [['Content-Type', 'application/json']] : multipart ? [['Content-Type', 'multipart/form-data; boundary=x']] : [],
    body: json ? '{}' : multipart ? '--x--\r\n' : undefined,
  };
}

/** A problem+json `code` check. */
export function codeIs(res: { status: number; json: any }, status: number, code: string): string | undefined {
  if (res.status !== status) return `expected ${status} ${code}, got ${res.status} ${res.json?.code ?? ''}`.trim();
  if (res.json?.code !== code) return `expected code ${code}, got ${res.json?.code}`;
  return undefined;
}

/** Routes whose legitimate success only creates something new (or nothing): safe to send for real with the owner's key. */
const CONSTRUCTIVE = new Set(['POST /compile/sync', 'POST /compile', 'POST /deployments/{deployment_id}/predict', 'POST /auth/token', 'POST /auth/keys']);

/**
 * `requestFor` when the request may legitimately succeed without harming the fixture (reads, creates, predict);
 * `harmlessRequestFor` (unknown ids, an invalid body) for deletes, scaling, rotation and other changes.
 */
export function safeRequestFor(fx: Fixture, route: Route, world: TenantWorld): RawRequest {
  return !route.mutating || CONSTRUCTIVE.has(route.id) ? requestFor(fx, route, world) : harmlessRequestFor(route);
}
