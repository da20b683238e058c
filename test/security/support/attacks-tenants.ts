import { randomBytes, randomUUID } from 'crypto';
import request from 'supertest';
import { MANIFEST_INJECTION, type Fixture, type TenantWorld } from './fixture';
import { parseAllDocuments } from 'yaml';
import { fillPath, type Route } from './inventory';
import type { Ledger, Principal } from './ledger';
import { pool, type RawRequest, type RawResponse } from './raw-http';
import { codeIs, requestFor } from './requests';

type Json = Record<string, any>;

/** Every combination of `owner`'s ids for the route's path parameters. */
function pathCombos(fx: Fixture, route: Route, owner: TenantWorld): Array<Record<string, string>> {
  const alternatives = fx.paramAlternatives(owner);
  let combos: Array<Record<string, string>> = [{}];
  for (const p of route.pathParams) {
    const values = alternatives[p] ?? [fx.paramsOf(owner)[p]];
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [p]: encodeURIComponent(v) })));
  }
  return combos;
}

/** Ids of `world` that its own lists must show, by list route. */
function ownListed(w: TenantWorld): Record<string, string[]> {
  return {
    'GET /jobs': [w.ids.trainJob, w.ids.compileJob, w.ids.deployJob],
    'GET /models': [w.ids.compiledModel, w.ids.trainedModel],
    'GET /experiments': [w.ids.experiment],
    'GET /datasets': [w.ids.dataset],
    'GET /deployments': [w.ids.deployment],
    'GET /auth/keys': [w.keys.write.id, w.keys.victim.id],
  };
}

/** Query strings for a list route: none, the widest page, each enum value, and the other tenant's names and tenant id. */
function listQueries(route: Route, owner: TenantWorld): string[] {
  const out = ['', '?skip=0&limit=1000'];
  for (const q of route.queryParams) {
    if (q.name === 'name') out.push(...[owner.names.model, owner.names.experiment, owner.names.dataset].map((n) => `?name=${n}`));
    else if (q.name === 'tenant_id') out.push(`?tenant_id=${owner.tenantId}`);
    else if (Array.isArray(q.schema.enum)) out.push(...q.schema.enum.slice(0, 6).map((v: string) => `?${q.name}=${encodeURIComponent(v)}`));
  }
  return out;
}

const isList = (r: Route) => !r.isPublic && r.listKey !== undefined;

/**
 * Two tenants, every route: each sees all of its own models, jobs, experiments, artifacts, datasets, deployments,
 * webhook logs and event streams; the other tenant (and an administrator, who owns no resources of theirs) gets a
 * 404 on every one of them, never a 403, and never finds them in a list; nothing it tries changes them.
 */
export async function crossTenantAttacks(fx: Fixture, ledger: Ledger): Promise<void> {
  const { A, B } = fx;
  const cls = 'cross-tenant';
  const directions: Array<{ owner: TenantWorld; attackers: Principal[]; self: TenantWorld }> = [
    { owner: A, attackers: [B.write, B.writeBearer, B.read, fx.admin], self: B },
    { owner: B, attackers: [A.write, A.readBearer], self: A },
  ];
  for (const { owner, attackers, self } of directions) {
    // The owner: every read route answers, with its own data.
    for (const route of fx.routes.filter((r) => !r.isPublic && r.scope !== 'admin' && (r.method === 'GET' || r.id === 'POST /deployments/{deployment_id}/predict'))) {
      for (const params of route.pathParams.length ? pathCombos(fx, route, owner) : [{}]) {
        const who = route.scope === 'predict' ? owner.predict : route.scope === 'read' ? owner.read : owner.write;
        await ledger.attack(cls, who, requestFor(fx, route, owner, params), (res) => ownerExpectation(route, res, owner, params), { route: route.id });
      }
    }
    // The attackers: every route with the owner's ids in its path is a 404.
    const tasks = fx.routes
      .filter((r) => !r.isPublic && r.pathParams.length > 0)
      .flatMap((route) => pathCombos(fx, route, owner).flatMap((params) => attackers.map((principal) => ({ route, params, principal }))))
      .filter(({ route, principal }) => !(principal.admin && route.pathParams.includes('key_id')))
      .filter(({ route, principal }) => fx.allowed(route, principal));
    await pool(tasks, 6, async ({ route, params, principal }) => {
      // compare with some other id, so the base experiment is looked up (without one the answer is a 422 for anybody).
      const query = route.queryParams.some((q) => q.name === 'compare_with') ? `?compare_with=${randomUUID()}` : '';
      const req = requestFor(fx, route, owner, params, query);
      if (route.id === 'POST /deployments/{deployment_id}/scale') req.body = JSON.stringify({ replicas: 0 });
      await ledger.attack(cls, principal, req, (res) => codeIs(res, 404, 'not_found'), { route: route.id });
    });
    // Lists: the other tenant's ids never appear (assertNoLeak), one's own always do.
    for (const route of fx.routes.filter(isList)) {
      for (const principal of attackers.filter((p) => fx.allowed(route, p) && !(p.admin && /\/auth\/keys|\/audit/.test(route.template)))) {
        for (const query of listQueries(route, owner)) {
          await ledger.attack(cls, principal, { method: 'GET', path: route.template + query }, (res) => listExpectation(route, res, principal === fx.admin ? undefined : self, query), { route: route.id });
        }
      }
    }
    // Bodies and queries that name the owner's resources.
    const attacker = attackers[0];
    const json = (method: string, path: string, body: unknown): RawRequest => ({ method, path, headers: [['Content-Type', 'application/json']], body: JSON.stringify(body) });
    const refusals: Array<[RawRequest, number[]]> = [
      [json('POST', '/jobs/train', { model_id: owner.ids.compiledModel, backend: 'tensorflow', dataset: 'Iris' }), [422]],
      [json('POST', '/jobs/train', { model_id: owner.ids.trainedModel, backend: 'tensorflow', dataset: 'Iris' }), [422]],
      [json('POST', '/jobs/train', { dsl_code: self.dsl, backend: 'tensorflow', dataset: owner.ids.dataset }), [422]],
      [json('POST', '/jobs/train', { dsl_code: self.dsl, backend: 'tensorflow', dataset: owner.names.dataset }), [422]],
      [json('POST', '/deployments', { model_id: owner.ids.trainedModel, deployment_name: `steal-${randomBytes(3).toString('hex')}` }), [422]],
      [json('POST', '/deployments', { model_id: owner.ids.experiment, deployment_name: `steal-${randomBytes(3).toString('hex')}` }), [422]],
      [{ method: 'GET', path: `/experiments/${self.ids.experiment}/compare?compare_with=${owner.ids.experiment}` }, [404]],
      [{ method: 'GET', path: `/experiments/${self.ids.experiment}/compare?ids=${self.ids.experiment},${owner.ids.experiment}` }, [404]],
      [json('POST', '/auth/keys', { name: 'intruder', tenant_id: owner.tenantId }), [403]],
      [{ method: 'GET', path: `/audit?tenant_id=${owner.tenantId}` }, [403]],
    ];
    for (const [req, statuses] of refusals) {
      await ledger.attack(cls, attacker, req, (res) => (statuses.includes(res.status) ? undefined : `expected ${statuses.join('/')}, got ${res.status} ${res.json?.code ?? ''}`), { route: `${req.method} ${req.path.split('?')[0]}` });
    }
    await integrity(fx, ledger, owner);
  }
  // Webhook deliveries carry only their own tenant's data (and nothing internal): each is an answer to that tenant.
  for (const delivery of fx.receiver.received) {
    const world = /^\/hook\/A\//.test(delivery.path) ? A : /^\/hook\/B\//.test(delivery.path) ? B : undefined;
    if (!world) continue;
    const head = `HTTP/1.1 200 OK\r\n${Object.entries(delivery.headers).map(([k, v]) => `${k}: ${String(v)}`).join('\r\n')}`;
    const res: RawResponse = { status: 200, headers: {}, head, body: Buffer.from(delivery.body), text: delivery.body, json: undefined, raw: Buffer.from(head) };
    ledger.check(cls, { ...world.write, name: `${world.label} (webhook delivery)` }, { method: 'POST', path: delivery.path }, res, () => undefined);
  }
}

function ownerExpectation(route: Route, res: RawResponse, owner: TenantWorld, params: Record<string, string>): string | undefined {
  if (route.id === 'GET /experiments/{experiment_id}/compare') return res.status === 422 ? undefined : `compare without others: expected 422, got ${res.status}`;
  if (res.status !== 200) return `the owner got ${res.status} ${res.json?.code ?? ''} on its own resource`.trim();
  if (route.id === 'GET /jobs/{job_id}/events') {
    if (!/^text\/event-stream/.test(res.headers['content-type'] ?? '')) return `events stream is ${res.headers['content-type']}`;
    if (!res.text.includes(decodeURIComponent(params.job_id))) return 'the job is not in its own event stream';
  }
  if (route.id === 'GET /jobs/{job_id}/webhooks' && !(res.json?.deliveries?.length > 0)) return `no webhook deliveries listed for ${params.job_id}`;
  if (route.id === 'GET /deployments/{deployment_id}/manifests') {
    // The environment values try to add a Secret: they must stay values.
    const docs = parseAllDocuments(res.text).map((d) => d.toJS());
    const kinds = docs.map((d) => d?.kind);
    if (!kinds.every((k) => ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget'].includes(k))) return `the manifests hold ${JSON.stringify(kinds)}`;
    const env = docs[0]?.spec?.template?.spec?.containers?.[0]?.env as Array<{ name: string; value: string }> | undefined;
    for (const [name, value] of Object.entries(MANIFEST_INJECTION)) if (env?.find((e) => e.name === name)?.value !== value) return `environment ${name} did not come back verbatim in the manifests`;
  }
  const own = ownListed(owner)[route.id];
  if (own) for (const id of own) if (!res.text.includes(id)) return `its own ${id} is missing from its list`;
  return undefined;
}

function listExpectation(route: Route, res: RawResponse, self: TenantWorld | undefined, query: string): string | undefined {
  if (res.status === 422 && query) return undefined;
  if (res.status !== 200) return `list answered ${res.status}`;
  const items = res.json?.[route.listKey!] as Json[] | undefined;
  if (!items) return 'a list answer without items';
  if (/[?&]name=/.test(query) && items.some((i) => i.kind !== 'builtin')) return `a name filter for the other tenant's name matched ${items.length} item(s)`;
  if (/[?&]tenant_id=/.test(query) && items.length) return `a tenant_id filter for the other tenant returned ${items.length} item(s)`;
  const own = self && query === '?skip=0&limit=1000' ? ownListed(self)[route.id] : undefined;
  if (own) for (const id of own) if (!res.text.includes(id)) return `its own ${id} is missing from its list`;
  return undefined;
}

/** After the other tenant's attempts, every resource of `owner` is still there and unchanged. */
export async function integrity(fx: Fixture, ledger: Ledger, owner: TenantWorld, cls = 'cross-tenant'): Promise<void> {
  const h = { [fx.apiKeyHeader]: owner.keys.write.key };
  const get = async (path: string) => request(fx.gw.url).get(path).set(h);
  const fail = (path: string, status: number, why: string) => ledger.fail(cls, 'GET', path, `${owner.label}-write (integrity)`, status, why);
  for (const path of [
    `/models/${owner.ids.compiledModel}`,
    `/models/${owner.ids.trainedModel}`,
    `/experiments/${owner.ids.experiment}`,
    `/datasets/${owner.ids.dataset}`,
    ...[owner.ids.trainJob, owner.ids.compileJob, owner.ids.deployJob].map((id) => `/jobs/${id}`),
  ]) {
    const res = await get(path);
    if (res.status !== 200) fail(path, res.status, 'a resource of the owner is gone after the other tenant attacked it');
    else if (path.startsWith('/jobs/') && res.body.status !== 'completed') fail(path, res.status, `a job of the owner is now ${res.body.status}`);
  }
  const dep = await get(`/deployments/${owner.ids.deployment}`);
  if (dep.status !== 200 || dep.body.status !== 'deployed' || dep.body.replicas !== 1) fail(`/deployments/${owner.ids.deployment}`, dep.status, `the owner's deployment is now ${dep.body.status} with ${dep.body.replicas} replicas`);
  const secret = await get('/auth/webhook-secret');
  if (secret.body.webhook_secret !== owner.webhookSecret) fail('/auth/webhook-secret', secret.status, "the owner's webhook secret changed");
  const keys = (await get('/auth/keys?limit=1000')).body.keys as Json[];
  // The victim key is there for an administrator to revoke (the fuzzer's may); nobody else may.
  for (const k of [owner.keys.write, owner.keys.read, owner.keys.predict, ...(cls === 'fuzz' ? [] : [owner.keys.victim])]) {
    if (keys.find((x) => x.id === k.id)?.revoked_at !== null) fail('/auth/keys', 200, `the owner's key ${k.id} was revoked`);
  }
}
