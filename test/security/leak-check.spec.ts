import { matchRoute, routesOf } from './support/inventory';
import { assertNoLeak, Ledger, type LeakContext, type Principal } from './support/ledger';
import type { RawRequest, RawResponse } from './support/raw-http';

const TENANT_A = '11111111-1111-4111-8111-111111111111';
const TENANT_B = '22222222-2222-4222-8222-222222222222';
const A_MODEL = 'aaaaaaaa-0000-4000-8000-000000000001';
const ctx: LeakContext = {
  secrets: [
    { label: 'A key', value: 'nk_secretKeyOfTenantA000000000' },
    { label: 'A webhook secret', value: 'whsec_A', allowed: (req, p) => req.path === '/auth/webhook-secret' && p.tenantId === TENANT_A },
  ],
  tenantData: new Map([
    [TENANT_A, new Set([TENANT_A, A_MODEL, 'secmarkerA'])],
    [TENANT_B, new Set([TENANT_B])],
  ]),
  serverPaths: ['/tmp/neural-gateway-x1'],
  fileMarkers: ['CANARY-123'],
};
const a: Principal = { name: 'A', tenantId: TENANT_A, scopes: ['read'], headers: [] };
const b: Principal = { name: 'B', tenantId: TENANT_B, scopes: ['read'], headers: [] };
const admin: Principal = { name: 'admin', tenantId: 'adm', scopes: ['admin'], headers: [], admin: true };

function response(status: number, body: unknown, headers: Record<string, string> = {}): RawResponse {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const all = { 'x-request-id': 'r1', 'content-type': status >= 400 ? 'application/problem+json' : 'application/json', ...headers };
  const head = [`HTTP/1.1 ${status} X`, ...Object.entries(all).map(([k, v]) => `${k}: ${v}`)].join('\r\n');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status, headers: all, head, body: Buffer.from(text), text, json, raw: Buffer.from(`${head}\r\n\r\n${text}`) };
}
const problem = (status: number, extra: object = {}) => ({ status, code: 'x', title: 'X', detail: 'x', request_id: 'r1', ...extra });
const get = (path: string): RawRequest => ({ method: 'GET', path });

describe('assertNoLeak (the check every attack answer goes through)', () => {
  it('passes a clean answer and a clean problem', () => {
    expect(assertNoLeak(response(200, { models: [{ model_id: A_MODEL }] }), get('/models'), a, ctx)).toEqual([]);
    expect(assertNoLeak(response(404, problem(404)), get('/models/x'), b, ctx)).toEqual([]);
  });

  it('flags a 5xx, a stack frame, a source location and a server path', () => {
    expect(assertNoLeak(response(500, problem(500)), get('/x'), a, ctx)).toEqual([expect.stringMatching(/answered 500/)]);
    expect(assertNoLeak(response(400, problem(400, { detail: 'TypeError: x\n    at Foo.bar (/srv/app/x.js:10:5)' })), get('/x'), a, ctx)).toEqual([expect.stringMatching(/stack trace/)]);
    expect(assertNoLeak(response(422, problem(422, { detail: 'failed in compile.ts:42' })), get('/x'), a, ctx)).toEqual([expect.stringMatching(/source location/)]);
    expect(assertNoLeak(response(422, problem(422, { detail: 'cannot open /tmp/neural-gateway-x1/models/m.py' })), get('/x'), a, ctx)).toEqual([expect.stringMatching(/server path/)]);
    expect(assertNoLeak(response(200, 'see /work/main/node_modules/x'), get('/x'), a, ctx)).toHaveLength(2);
  });

  it("flags a secret, a file's contents and another tenant's data, but not an echo of the request", () => {
    expect(assertNoLeak(response(200, { k: 'nk_secretKeyOfTenantA000000000' }), get('/x'), a, ctx)).toEqual([expect.stringMatching(/secret.*A key/)]);
    expect(assertNoLeak(response(200, { s: 'whsec_A' }), get('/auth/webhook-secret'), a, ctx)).toEqual([]);
    expect(assertNoLeak(response(200, { s: 'whsec_A' }), get('/auth/webhook-secret'), b, ctx)).toEqual([expect.stringMatching(/A webhook secret/)]);
    expect(assertNoLeak(response(200, 'CANARY-123'), get('/x'), a, ctx)).toEqual([expect.stringMatching(/file on disk/)]);
    expect(assertNoLeak(response(200, { models: [{ name: 'Msecmarkera', id: A_MODEL }] }), get('/models'), b, ctx)).toEqual([expect.stringMatching(/another tenant/)]);
    expect(assertNoLeak(response(404, problem(404, { detail: `No model with id "${A_MODEL}" exists.` })), get(`/models/${A_MODEL}`), b, ctx)).toEqual([]);
    expect(assertNoLeak(response(200, { keys: [{ tenant_id: TENANT_A }] }), get('/auth/keys'), admin, ctx, 'GET /auth/keys')).toEqual([]);
    expect(assertNoLeak(response(200, { models: [{ id: A_MODEL }] }), get('/models'), admin, ctx, 'GET /models')).toEqual([expect.stringMatching(/another tenant/)]);
  });

  it('flags injected headers, unsafe request ids, off-site redirects, a smuggled second answer and errors that are not problems', () => {
    expect(assertNoLeak(response(200, {}, { 'x-injected-1': '1' }), get('/x'), a, ctx)).toEqual([expect.stringMatching(/injected/)]);
    expect(assertNoLeak(response(200, {}, { 'set-cookie': 'a=1' }), get('/x'), a, ctx)).toEqual([expect.stringMatching(/injected/)]);
    expect(assertNoLeak(response(200, {}, { 'x-request-id': 'a b%0d' }), get('/x'), a, ctx)).toEqual([expect.stringMatching(/X-Request-Id/)]);
    expect(assertNoLeak(response(301, '', { location: '//evil.example/' }), get('/x'), a, ctx)).toEqual([expect.stringMatching(/off-site/)]);
    const twice = response(200, {});
    twice.raw = Buffer.concat([twice.raw, Buffer.from('\r\n\r\nHTTP/1.1 200 OK\r\n\r\n')]);
    expect(assertNoLeak(twice, get('/x'), a, ctx)).toEqual([expect.stringMatching(/second response/)]);
    expect(assertNoLeak(response(404, 'Not Found', { 'content-type': 'text/html' }), get('/x'), a, ctx)).toEqual([expect.stringMatching(/problem\+json/)]);
    expect(assertNoLeak(response(401, problem(401)), get('/x'), a, ctx)).toEqual(['401 without WWW-Authenticate']);
    expect(assertNoLeak(response(422, { status: 400, code: 'x', title: 'X', detail: 'x', request_id: 'r1' }), get('/x'), a, ctx)).toEqual([expect.stringMatching(/malformed problem/)]);
  });
});

describe('Ledger.check', () => {
  it("counts another tenant's id that the tenant itself stored as a name as an echo, and nothing it only probed with", () => {
    const ledger = new Ledger(() => 'http://unused', ctx);
    const none = () => undefined;
    // B probes A's model by path: a later answer showing that id to B is still a leak.
    ledger.check('t', b, get(`/models/${A_MODEL}`), response(404, problem(404)), none);
    ledger.check('t', b, get('/deployments'), response(200, { deployments: [{ model_id: A_MODEL }] }), none);
    expect(ledger.failures.map((f) => f.why)).toEqual([expect.stringMatching(/another tenant's data/)]);
    // B names a deployment after A's id and it is accepted: B's own list echoes B's input.
    ledger.check('t', b, { method: 'POST', path: '/deployments', body: JSON.stringify({ deployment_name: A_MODEL }) }, response(201, { deployment_name: A_MODEL }), none);
    ledger.check('t', b, get('/deployments'), response(200, { deployments: [{ deployment_name: A_MODEL }] }), none);
    expect(ledger.failures).toHaveLength(1);
  });
});

describe('matchRoute (which operation a fuzzed request reaches)', () => {
  const routes = routesOf({
    paths: {
      '/jobs': { get: { security: [] } },
      '/jobs/{job_id}': { get: {}, delete: {} },
      '/jobs/{job_id}/events': { get: {} },
    },
  });

  it('matches templates segment by segment, HEAD as GET, with or without a trailing slash', () => {
    expect(matchRoute(routes, 'GET', '/jobs/?limit=1')?.route.id).toBe('GET /jobs');
    expect(matchRoute(routes, 'HEAD', '/jobs/abc')).toEqual({ route: expect.objectContaining({ id: 'GET /jobs/{job_id}' }), params: { job_id: 'abc' } });
    expect(matchRoute(routes, 'DELETE', '/jobs/a%2Fb')?.params).toEqual({ job_id: 'a%2Fb' });
    expect(matchRoute(routes, 'GET', '/jobs/a/b/events')).toBeUndefined();
    expect(matchRoute(routes, 'PUT', '/jobs/abc')).toBeUndefined();
  });
});
