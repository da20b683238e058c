import { badCredentials } from './attacks-auth';
import { integrity } from './attacks-tenants';
import { IRIS_SAMPLE, multipart, type Fixture, type TenantWorld } from './fixture';
import { fillPath, matchRoute, type Route } from './inventory';
import type { Ledger, Principal } from './ledger';
import { pool, rawRequest, type RawRequest, type RawResponse } from './raw-http';
import { pathPayloads } from './attacks-input';
import { mulberry32 } from '../../../libs/dsl/src/random';

type Json = Record<string, any>;

function decode(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** Percent-encodes the UTF-8 bytes of `v` (a lone surrogate too, which encodeURIComponent refuses). */
function pct(v: string): string {
  return [...Buffer.from(v, 'utf8')].map((b) => (/[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0').toUpperCase()}`)).join('');
}

export interface FuzzOptions {
  seed: number;
  count: number;
  concurrency: number;
}

/** Fields whose value names a resource or a tenant: a foreign id there must never succeed. */
const REFERENCE_FIELD = /(^|_)(id|ids)$|^compare_with$/;
/** `dataset` names an uploaded dataset only when training (compile takes it as a label for the generated script). */
const referenceField = (routeId: string, key: string) => REFERENCE_FIELD.test(key) || (key === 'dataset' && (routeId === 'POST /jobs/train' || routeId === 'POST /jobs/hpo'));
/** Where an administrator legitimately names other tenants (keys, the audit log, deployment ids in the metrics). */
const ADMIN_CROSS_TENANT = new Set(['DELETE /auth/keys/{key_id}', 'POST /auth/keys', 'GET /auth/keys', 'GET /audit', 'GET /metrics']);

/**
 * A seeded fuzzing pass over the live route inventory: random methods, routes, path and query values, principals and
 * headers; valid bodies mutated (type flips, extreme numbers, deep nesting, long strings, foreign ids, random bytes)
 * and random ones under random content types. Every answer goes through assertNoLeak, and a success is a failure
 * when the principal lacks the scope, is not authenticated, or names another tenant's resource.
 */
export async function fuzzAttacks(fx: Fixture, ledger: Ledger, opts: FuzzOptions): Promise<void> {
  const cls = 'fuzz';
  const { A, B } = fx;
  // Seeded, so a failing run can be replayed with its seed.
  const rand = mulberry32(opts.seed);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const chance = (p: number) => rand() < p;
  // Ids from the PRNG too, so a seed replays the same requests.
  const uuid = () => {
    const hex = Array.from({ length: 32 }, () => int(16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${'89ab'[int(4)]}${hex.slice(17, 20)}-${hex.slice(20)}`;
  };

  const ownerOf = new Map<string, string>();
  for (const w of [A, B]) {
    for (const id of [...Object.values(w.ids), ...Object.values(w.keys).map((k) => k.id), w.tenantId]) ownerOf.set(id, w.tenantId);
    ownerOf.set(w.names.dataset, w.tenantId);
  }
  const junk = pathPayloads('secprobe-fuzz.txt');
  const idsOf = (w: TenantWorld) => [...Object.values(w.ids), w.keys.victim.id, w.tenantId];
  const idPool = [...idsOf(A), ...idsOf(B), A.ids.trainedModel.toUpperCase(), '00000000-0000-4000-8000-000000000000'];
  const stringPool = [...idPool, A.names.dataset, B.names.dataset, 'Iris', 'MNIST', '', ' ', 'null', 'x'.repeat(10_000), '\u0000', '../../etc/passwd', '%00', '*', 'ünï', '\ud800', '\r\nX-Injected: 1', 'http://127.0.0.1/x', 'file:///etc/passwd'];
  const unauthenticated: Principal[] = [fx.anonymous, ...badCredentials(fx).filter((_, i) => i % 4 === 1)];
  const authenticated: Principal[] = [A.read, A.readBearer, A.predict, B.write, B.write, B.writeBearer, B.read, fx.admin];
  const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
  const contentTypes = ['application/json', 'application/json', 'application/json', 'text/plain', 'application/octet-stream', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=zz', 'application/json; charset=utf-16', 'application/vnd.api+json', ''];

  const paramValue = (route: Route, name: string): { value: string; raw: string } => {
    const r = rand();
    if (r < 0.55) {
      const world = chance(0.5) ? A : B;
      const alt = fx.paramAlternatives(world)[name] ?? [uuid()];
      // B's own deployment is never scaled by the fuzzer (a paused deployment answers predict with a documented 503).
      if (route.id === 'POST /deployments/{deployment_id}/scale' && world === B) {
        const v = uuid();
        return { value: v, raw: v };
      }
      const v = pick(alt);
      return { value: v, raw: pct(v) };
    }
    if (r < 0.7) {
      const v = uuid();
      return { value: v, raw: v };
    }
    if (r < 0.9) {
      const v = pick(junk);
      return { value: v, raw: v };
    }
    const bytes = Array.from({ length: 1 + int(40) }, () => int(256));
    const raw = bytes.map((b) => (b > 0x20 && b < 0x7f && !'/?#%'.includes(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`)).join('');
    return { value: raw, raw };
  };

  const randomJson = (depth = 0): unknown => {
    const r = rand();
    if (depth > 4 || r < 0.3) return pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53, true, false, null, '', 'x', pick(stringPool)]);
    if (r < 0.65) return Object.fromEntries(Array.from({ length: int(5) }, () => [pick(['name', 'model_id', 'dataset', 'backend', 'replicas', 'instances', '__proto__', 'constructor', 'x', 'training_config', 'webhook_url', 'scopes']), randomJson(depth + 1)]));
    return Array.from({ length: int(5) }, () => randomJson(depth + 1));
  };

  /** The paths (key lists) of every value inside `v`. */
  const pathsOf = (v: unknown, prefix: string[] = [], out: string[][] = []): string[][] => {
    if (v && typeof v === 'object' && out.length < 200) {
      for (const k of Object.keys(v)) {
        out.push([...prefix, k]);
        pathsOf((v as Json)[k], [...prefix, k], out);
      }
    }
    return out;
  };
  const mutate = (body: Json): string => {
    const copy: Json = structuredClone(body);
    let infinity = false;
    for (let n = 1 + int(3); n > 0; n--) {
      const paths = pathsOf(copy);
      const path = paths.length ? pick(paths) : ['x'];
      const parent = path.slice(0, -1).reduce((o: Json, k) => (o && typeof o === 'object' ? o[k] : undefined), copy);
      if (!parent || typeof parent !== 'object') continue;
      const key = path[path.length - 1];
      const old = parent[key];
      switch (int(12)) {
        case 0:
          delete parent[key];
          break;
        case 1:
          parent[key] = typeof old === 'string' ? int(1000) : typeof old === 'number' ? String(old) : typeof old === 'boolean' ? 'true' : Array.isArray(old) ? { 0: old[0] } : [old];
          break;
        case 2:
          parent[key] = pick([0, -1, -0.5, 0.5, 1e308, -1e308, 2 ** 31, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER]);
          break;
        case 3:
          parent[key] = '__INF__';
          infinity = true;
          break;
        case 4:
          parent[key] = 'x'.repeat(pick([256, 5000, 60_000]));
          break;
        case 5: {
          const depth = 1 + int(60);
          parent[key] = JSON.parse(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
          break;
        }
        case 6:
          parent[key] = pick(stringPool);
          break;
        case 7:
          parent[key] = pick(idPool);
          break;
        case 8:
          parent[key] = null;
          break;
        case 9:
          // An own property even for __proto__ (an assignment would set the prototype and vanish from the JSON).
          Object.defineProperty(parent, pick(['__proto__', 'constructor', 'prototype', 'extra', 'toString', 'hasOwnProperty']), { value: randomJson(2), enumerable: true, writable: true, configurable: true });
          break;
        case 10:
          parent[key] = randomJson(1);
          break;
        default:
          parent[key] = Array.from({ length: pick([0, 1, 100, 5000]) }, () => old);
      }
    }
    return infinity ? JSON.stringify(copy).replace(/"__INF__"/g, pick(['1e999', '-1e999'])) : JSON.stringify(copy);
  };

  /** B's own version of a route's valid body (the fuzzer's writers are B's keys and the administrator, who gets it without B's marker). */
  const validBody = (route: Route, principal: Principal): Json | undefined => {
    const req = fx.bodyOf(route, B);
    if (!req || !req.contentType.startsWith('application/json')) return undefined;
    const text = req.body.toString('utf8');
    const body = JSON.parse(principal.tenantId === B.tenantId ? text : text.split(B.marker).join('fuzzadmin')) as Json;
    if (route.id === 'POST /jobs/train' || route.id === 'POST /jobs/hpo') body.training_config = { epochs: 1, train_samples: 20 };
    if (route.id === 'POST /deployments/{deployment_id}/predict') body.instances = [IRIS_SAMPLE];
    return body;
  };

  const bodyFor = (route: Route, method: string, principal: Principal): { headers: Array<[string, string]>; body?: Buffer | string } => {
    const type = chance(0.8) ? 'application/json' : pick(contentTypes);
    const headers: Array<[string, string]> = type ? [['Content-Type', type]] : [];
    if (route.bodyTypes.some((t) => t.startsWith('multipart/')) && chance(0.7)) {
      const fields: Record<string, string> = { name: chance(0.7) ? `fz_${int(1e9)}` : pick(stringPool.filter((x) => !x.includes(B.marker) && !x.includes(A.marker))).slice(0, 2000) };
      if (chance(0.3)) fields[pick(['label_column', 'format', 'test_split', 'evil'])] = pick(stringPool).slice(0, 300);
      const rows = Array.from({ length: int(30) }, () => `${rand()},${pick(['1', 'x', '', 'NaN', '1e999'])},${pick(['a', 'b'])}`);
      const content = chance(0.8) ? `x1,x2,label\n${rows.join('\n')}` : Buffer.from(Array.from({ length: int(3000) }, () => int(256)));
      const form = multipart(fields, chance(0.9) ? { filename: pick(['d.csv', 'd.json', '../../x.csv', 'x'.repeat(300), 'd']), content } : undefined);
      return { headers: [['Content-Type', form.contentType]], body: form.body };
    }
    const valid = validBody(route, principal);
    const r = rand();
    if (route.id === 'POST /deployments/{deployment_id}/predict' && r < 0.2) {
      const n = int(8) * 4 + int(2) * 2;
      return { headers: [['Content-Type', 'application/octet-stream']], body: Buffer.from(Array.from({ length: n }, () => int(256))) };
    }
    if (valid && r < 0.7) return { headers, body: mutate(valid) };
    if (r < 0.8 || (!valid && method !== 'GET' && r < 0.9)) return { headers, body: JSON.stringify(randomJson()) };
    if (r < 0.88) return { headers, body: Buffer.from(Array.from({ length: int(2000) }, () => int(256))) };
    if (r < 0.92) return { headers, body: `${'['.repeat(int(5000))}` };
    return { headers: [] };
  };

  /** Values of reference fields anywhere in a JSON body. */
  const referencedIds = (routeId: string, text: string | Buffer | undefined): string[] => {
    if (text === undefined) return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(String(text));
    } catch {
      return [];
    }
    const out: string[] = [];
    const walk = (v: unknown, key = '') => {
      if (typeof v === 'string' && referenceField(routeId, key)) out.push(v.toLowerCase(), v);
      else if (Array.isArray(v)) v.forEach((x) => walk(x, key));
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
    };
    walk(parsed);
    return out;
  };

  interface Case {
    principal: Principal;
    req: RawRequest;
  }
  const cases: Case[] = [];
  const routes = fx.routes;
  for (let i = 0; i < opts.count; i++) {
    const principal = chance(0.2) ? pick(unauthenticated) : pick(authenticated);
    if (chance(0.06)) {
      const segments = Array.from({ length: 1 + int(4) }, () => (chance(0.5) ? pick(junk) : pick(['jobs', 'models', 'auth', 'keys', 'audit', 'docs', '..', 'deployments', 'predict'])));
      cases.push({ principal, req: { method: pick(methods), path: `/${segments.join('/')}`, ...bodyFor(routes[0], 'POST', principal) } });
      continue;
    }
    const route = pick(routes);
    const method = chance(0.85) ? route.method : pick(methods);
    const params = Object.fromEntries(route.pathParams.map((p) => [p, paramValue(route, p).raw]));
    const query: string[] = [];
    if (chance(0.5)) {
      for (const q of route.queryParams) {
        if (!chance(0.5)) continue;
        const enumValue = Array.isArray(q.schema.enum) ? pick(q.schema.enum as string[]) : undefined;
        const v = chance(0.4) && enumValue !== undefined ? enumValue : pick([...stringPool.slice(0, 20), '0', '1', '-1', '1000', '1001', '1e308', 'NaN', pick(junk)]);
        query.push(`${q.name}=${pct(v)}`);
      }
      if (chance(0.1)) query.push(`${pick(['x', '__proto__[a]', 'skip[]', 'limit'])}=${pct(pick(stringPool).slice(0, 100))}`);
    }
    const { headers, body } = route.bodyTypes.length || chance(0.15) ? bodyFor(route, method, principal) : { headers: [] as Array<[string, string]>, body: undefined };
    if (chance(0.1)) headers.push(pick([['X-Request-Id', pick(stringPool).slice(0, 300).replace(/[\r\n\0]/g, '')], ['Idempotency-Key', `fz-${int(20)}`], ['Origin', pick(['http://allowed.example', 'http://evil.example', 'null'])], ['Accept', pick(['*/*', 'text/html', 'application/xml'])]] as Array<[string, string]>));
    cases.push({ principal, req: { method, path: fillPath(route, params) + (query.length ? `?${query.join('&')}` : ''), headers, body, timeoutMs: 20_000 } });
  }

  /** Why a success of `c` (reaching `route`) should have been refused, if it should. */
  const refusalReason = (c: Case, route: Route, params: Record<string, string>): string | undefined => {
    if (route.isPublic) return undefined;
    if (!c.principal.tenantId) return 'an unauthenticated request succeeded';
    if (!fx.allowed(route, c.principal)) return `a key without the "${route.scope}" scope succeeded`;
    if (c.principal.admin && ADMIN_CROSS_TENANT.has(route.id)) return undefined;
    const refs = Object.values(params).map(decode);
    // A list filtered by a foreign id answers 200 with nothing of it (assertNoLeak checks the content).
    if (!route.listKey) for (const [k, v] of new URLSearchParams(c.req.path.split('?')[1] ?? '')) if (referenceField(route.id, k)) refs.push(...v.split(','));
    if (route.bodyTypes.length) refs.push(...referencedIds(route.id, c.req.body));
    const foreign = refs.find((v) => {
      const owner = ownerOf.get(v) ?? ownerOf.get(v.toLowerCase());
      return owner !== undefined && owner !== c.principal.tenantId;
    });
    return foreign ? `a request naming another tenant's resource (${foreign}) succeeded` : undefined;
  };

  await pool(cases, opts.concurrency, async (c) => {
    const hit = /[?#]/.test(c.req.path.split('?')[0]) ? undefined : matchRoute(routes, c.req.method, c.req.path);
    const res = await ledger.attack(cls, c.principal, c.req, (r) => (hit && r.status >= 200 && r.status < 300 ? refusalReason(c, hit.route, hit.params) : undefined), { route: hit?.route.id });
    await undo(fx, c, res);
  });
  await integrity(fx, ledger, A, cls);
  if (({} as Json).polluted !== undefined || ({} as Json).a !== undefined) ledger.fail(cls, 'POST', '(any)', '(any)', 0, 'Object.prototype was polluted');
}

/** Undoes what a successful fuzz request set going: a deployment, a dataset, a queued training. */
async function undo(fx: Fixture, c: { principal: Principal; req: RawRequest }, res: RawResponse): Promise<void> {
  if (res.status !== 201 && res.status !== 202) return;
  const j = res.json ?? {};
  const path = j.deployment_id && c.req.method === 'POST' && c.req.path.startsWith('/deployments') ? `/deployments/${j.deployment_id}` : j.dataset_id ? `/datasets/${j.dataset_id}` : j.job_id && j.experiment_id ? `/jobs/${j.job_id}` : undefined;
  if (path) await rawRequest(fx.gw.url, { method: 'DELETE', path, headers: c.principal.headers });
}
