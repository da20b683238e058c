import { API_SCOPES } from '@app/contracts';
import { createTenantSession, startGateway } from '@app/testing';
import { JwtService } from '@nestjs/jwt';
import { createHash, randomUUID } from 'crypto';
import type { Fixture } from './fixture';
import type { Ledger, Principal } from './ledger';
import { pool, type RawResponse } from './raw-http';
import { codeIs, harmlessRequestFor, requestFor } from './requests';

const ISSUER = 'neural-dsl-platform';
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Every way to present credentials that must not authenticate. */
export function badCredentials(fx: Fixture): Principal[] {
  const { A, B } = fx;
  const h = fx.apiKeyHeader;
  const now = Math.floor(Date.now() / 1000);
  const real = new JwtService({ secret: fx.secretKey });
  const claims = { sub: A.keys.write.id, tid: A.tenantId, scp: ['read', 'write'] };
  const sign = (payload: object, opts: object = {}) => real.sign(payload, { issuer: ISSUER, ...opts });
  const [head, , sig] = A.tokens.read.split('.');
  const anon = (name: string, headers: Array<[string, string]>): Principal => ({ name, tenantId: null, scopes: [], headers });
  const bearer = (name: string, token: string) => anon(name, [['Authorization', `Bearer ${token}`]]);
  const key = A.keys.write.key;
  return [
    anon('no credentials', []),
    anon('unknown key', [[h, 'nk_thisIsNotAKeyThisIsNotAKeyThisIsNotAKey00']]),
    anon('empty key', [[h, '']]),
    anon("a key's prefix", [[h, A.keys.write.prefix]]),
    anon('a key with one character changed', [[h, key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A')]]),
    anon('a key with a suffix', [[h, `${key}x`]]),
    anon("a key's SHA-256", [[h, createHash('sha256').update(key).digest('hex')]]),
    anon("a key's id", [[h, A.keys.write.id]]),
    anon('an oversized key', [[h, 'k'.repeat(4000)]]),
    anon('a revoked key', [[h, A.keys.revoked.key]]),
    bearer("a revoked key's token issued before revocation", A.revokedToken),
    bearer("a fresh token for the revoked key's id", sign({ sub: A.keys.revoked.id, tid: A.tenantId, scp: ['read', 'write'] }, { expiresIn: 600 })),
    bearer('an expired token', sign({ ...claims, iat: now - 1000, exp: now - 500 })),
    bearer('a token not yet valid', sign({ ...claims, nbf: now + 3600 }, { expiresIn: 7200 })),
    bearer('a token signed with another secret', new JwtService({ secret: 'some-other-secret-0123456789abcdef' }).sign(claims, { issuer: ISSUER, expiresIn: 600 })),
    bearer('alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, iss: ISSUER, iat: now, exp: now + 600 })}.`),
    bearer('alg None with a signature', `${b64({ alg: 'None', typ: 'JWT' })}.${b64({ ...claims, iss: ISSUER, iat: now, exp: now + 600 })}.${sig}`),
    bearer('tampered payload: more scopes', `${head}.${b64({ sub: A.keys.read.id, tid: A.tenantId, scp: [...API_SCOPES], iss: ISSUER, iat: now, exp: now + 600 })}.${sig}`),
    bearer('tampered payload: other tenant', `${head}.${b64({ sub: A.keys.read.id, tid: B.tenantId, scp: ['read'], iss: ISSUER, iat: now, exp: now + 600 })}.${sig}`),
    bearer('tampered payload: other key', `${head}.${b64({ sub: B.keys.write.id, tid: B.tenantId, scp: ['read', 'write'], iss: ISSUER, iat: now, exp: now + 600 })}.${sig}`),
    bearer('a token for an unknown key', sign({ sub: randomUUID(), tid: A.tenantId, scp: ['admin'] }, { expiresIn: 600 })),
    bearer("a key id with another tenant's id", sign({ sub: A.keys.write.id, tid: B.tenantId, scp: ['read', 'write'] }, { expiresIn: 600 })),
    bearer('a token from another issuer', sign(claims, { issuer: 'someone-else', expiresIn: 600 })),
    bearer('a token without claims', real.sign({ hello: 'world' }, { expiresIn: 600 })),
    bearer('not a JWT', 'not.a.jwt'),
    anon('an empty bearer', [['Authorization', 'Bearer ']]),
    bearer('an API key as a bearer token', key),
    anon('Basic auth with the key', [['Authorization', `Basic ${Buffer.from(`${key}:`).toString('base64')}`]]),
    anon('another scheme with the key', [['Authorization', `ApiKey ${key}`]]),
    anon('the key under another header', [['Api-Key', key], ['X-Auth-Token', key]]),
    anon('the key in a cookie', [['Cookie', `api_key=${key}; X-API-Key=${key}; token=${A.tokens.write}`]]),
    anon('the key twice (two headers)', [[h, key], [h, B.keys.write.key]]),
  ];
}

/** Credentials × every non-public route: 401 with WWW-Authenticate; the key in the query string is not a credential either. */
export async function credentialAttacks(fx: Fixture, ledger: Ledger): Promise<void> {
  const routes = fx.routes.filter((r) => !r.isPublic);
  const tasks = routes.flatMap((route) => [
    ...badCredentials(fx).map((principal) => ({ route, principal, query: '' })),
    { route, principal: { name: 'the key in the query string', tenantId: null, scopes: [], headers: [] } as Principal, query: `?api_key=${encodeURIComponent(fx.A.keys.write.key)}&access_token=${fx.A.tokens.write}` },
  ]);
  await pool(tasks, 8, async ({ route, principal, query }) => {
    const req = requestFor(fx, route, fx.A, {}, query);
    await ledger.attack('credentials', principal, req, (res) => codeIs(res, 401, 'unauthorized'), { route: route.id });
  });
  // Every refusal is in the audit log (written in the background), and no presented key or token is.
  await new Promise((r) => setTimeout(r, 300));
  const audit = await ledger.attack('credentials', fx.admin, { method: 'GET', path: '/audit?action=auth.failed&limit=1000' }, (res) =>
    res.status === 200 && res.json?.total >= tasks.length ? undefined : `the audit log holds ${res.json?.total} failed authentications of ${tasks.length}`,
  { route: 'GET /audit' });
  for (const secret of [fx.A.keys.revoked.key, fx.A.revokedToken, fx.A.keys.write.key, fx.A.tokens.write, fx.A.tokens.read]) {
    if (audit.text.includes(secret)) ledger.fail('credentials', 'GET', '/audit', 'admin', audit.status, 'the audit log stores a presented credential');
  }
  // Public routes stay public (and never fail) whatever credentials come with them.
  for (const route of fx.routes.filter((r) => r.isPublic)) {
    for (const principal of badCredentials(fx).slice(0, 12)) {
      await ledger.attack('credentials', principal, requestFor(fx, route, fx.A), (res) => (res.status < 400 ? undefined : `a public route answered ${res.status}`), { route: route.id });
    }
  }
}

/**
 * Scopes × every non-public route: read keys on mutating routes, predict keys on everything but predict, non-admin
 * keys on admin routes are 403 insufficient_scope (with keys and with their tokens, and with a token claiming more
 * scopes than its key has); a key holding the scope passes the guard.
 */
export async function scopeAttacks(fx: Fixture, ledger: Ledger): Promise<void> {
  const { A, B } = fx;
  const real = new JwtService({ secret: fx.secretKey });
  const inflated: Principal = {
    ...A.read,
    name: 'A-read (signed token claiming admin)',
    headers: [['Authorization', `Bearer ${real.sign({ sub: A.keys.read.id, tid: A.tenantId, scp: [...API_SCOPES] }, { issuer: ISSUER, expiresIn: 600 })}`]],
  };
  const holders = [A.read, A.readBearer, A.predict, A.write, A.writeBearer, fx.admin, fx.adminBearer, inflated];
  const sameRoleInB = (p: Principal): Principal => {
    if (p.admin) return p;
    const role = p.scopes.includes('write') ? 'write' : p.scopes.includes('read') ? 'read' : 'predict';
    const bearer = { write: B.writeBearer, read: B.readBearer, predict: B.predict };
    return p.name.includes('bearer') ? bearer[role] : B[role];
  };
  const tasks = fx.routes.filter((r) => !r.isPublic).flatMap((route) => holders.map((principal) => ({ route, principal })));
  await pool(tasks, 8, async ({ route, principal }) => {
    if (route.apiKeyOnly && principal.headers.some(([k]) => k === 'Authorization')) {
      await ledger.attack('scope', principal, requestFor(fx, route, A), (res) => codeIs(res, 401, 'unauthorized'), { route: route.id });
      return;
    }
    if (!fx.allowed(route, principal)) {
      await ledger.attack('scope', principal, requestFor(fx, route, A), (res) => codeIs(res, 403, 'insufficient_scope'), { route: route.id });
      return;
    }
    // Allowed: prove the guard lets it through without changing anything of A's.
    const predict = route.id === 'POST /deployments/{deployment_id}/predict';
    const harmless = route.mutating && !predict && route.id !== 'POST /auth/token';
    const who = harmless ? sameRoleInB(principal) : principal;
    const req = harmless ? harmlessRequestFor(route) : requestFor(fx, route, A);
    await ledger.attack(
      'scope',
      who,
      req,
      (res) => {
        if (res.status === 401 || res.status === 403) return `a key with the "${route.scope}" scope was refused: ${res.status} ${res.json?.code}`;
        if (predict && who.tenantId === A.tenantId && res.status !== 200) return `predict on its own deployment with a predict-scoped key answered ${res.status}`;
        return undefined;
      },
      { route: route.id },
    );
  });
  // The write-key control of POST /auth/webhook-secret rotated B's secret, as it may.
  await fx.refreshWebhookSecrets();
}

/**
 * Guessing keys and flooding: past AUTH_FAILURE_LIMIT failures an address gets 429s with Retry-After (a valid key
 * included, and X-Forwarded-For does not make it someone else); past the rate limit a key gets 429s with the
 * X-RateLimit headers; never a 5xx. On a gateway of its own with low limits, from other loopback addresses.
 */
export async function bruteForceAttacks(fx: Fixture, ledger: Ledger): Promise<void> {
  const cls = 'brute-force';
  const gw = await startGateway({ env: { SECRET_KEY: fx.secretKey, AUTH_FAILURE_LIMIT: '5', AUTH_FAILURE_PERIOD: '60', RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_REQUESTS: '20', RATE_LIMIT_PERIOD: '60' } });
  try {
    const session = await createTenantSession(gw, 'brute');
    const valid: Principal = { name: 'brute-force tenant', tenantId: session.tenantId, scopes: ['read', 'write', 'predict'], headers: [[fx.apiKeyHeader, session.apiKey]] };
    const guesser = '127.0.0.2';
    const send = (principal: Principal, headers: Array<[string, string]>, expect: (res: RawResponse) => string | undefined, localAddress: string) =>
      ledger.attack(cls, principal, { method: 'GET', path: '/jobs', headers, localAddress }, expect, { url: gw.url, route: 'GET /jobs' });
    for (let i = 0; i < 5; i++) {
      await send(fx.anonymous, [[fx.apiKeyHeader, `nk_guess${i}${randomUUID()}`]], (res) => codeIs(res, 401, 'unauthorized'), guesser);
    }
    const blocked = (res: RawResponse) => codeIs(res, 429, 'rate_limited') ?? (Number(res.headers['retry-after']) > 0 ? undefined : 'a 429 without Retry-After');
    for (let i = 0; i < 5; i++) await send(fx.anonymous, [[fx.apiKeyHeader, `nk_guess${i}${randomUUID()}`]], blocked, guesser);
    for (const xff of ['10.9.8.7', '127.0.0.9', `${randomUUID()}`, '::1']) await send(fx.anonymous, [[fx.apiKeyHeader, 'nk_guess'], ['X-Forwarded-For', xff], ['X-Real-IP', xff]], blocked, guesser);
    await send(valid, [], blocked, guesser);
    // Another address is not blocked; its key is limited by the rate limit instead.
    const flooder = '127.0.0.3';
    let limited = 0;
    for (let i = 0; i < 30; i++) {
      const res = await send(valid, [], (r) => (r.status === 200 || r.status === 429 ? (r.headers['x-ratelimit-limit'] === undefined ? `no X-RateLimit-Limit on ${r.status}` : undefined) : `answered ${r.status}`), flooder);
      if (res.status === 429) limited++;
    }
    if (limited !== 10) ledger.fail(cls, 'GET', '/jobs', valid.name, 0, `${limited} of 30 requests over a limit of 20 were refused, not 10`);
  } finally {
    await gw.close();
  }
}
