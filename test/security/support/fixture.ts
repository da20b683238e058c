import { type ApiScope, grantedScopes } from '@app/contracts';
import { createTenantSession, startGateway, type TestGateway, waitUntil } from '@app/testing';
import { createHash, randomBytes, randomUUID } from 'crypto';
import { mkdirSync, realpathSync, rmSync, writeFileSync } from 'fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'http';
import type { AddressInfo } from 'net';
import { dirname, join } from 'path';
import request from 'supertest';
import { exampleOf, routesOf, type Route } from './inventory';
import type { LeakContext, Principal, Secret } from './ledger';
import type { RawRequest } from './raw-http';

type Json = Record<string, any>;

export const BODY_LIMIT_BYTES = 64 * 1024;
export const PREDICT_BODY_LIMIT_BYTES = 256 * 1024;
export const DATASET_MAX_UPLOAD_BYTES = 64 * 1024;

/** A key as POST /auth/keys answered it. */
export interface IssuedKey {
  id: string;
  key: string;
  prefix: string;
  scopes: string[];
}

/** One tenant with one of every resource, and keys of every scope. */
export interface TenantWorld {
  label: string;
  tenantId: string;
  /** Random, in every name the tenant chose: finding it in another tenant's answer is a leak. */
  marker: string;
  dsl: string;
  keys: { write: IssuedKey; read: IssuedKey; predict: IssuedKey; victim: IssuedKey; revoked: IssuedKey };
  write: Principal;
  read: Principal;
  predict: Principal;
  writeBearer: Principal;
  readBearer: Principal;
  tokens: { write: string; read: string };
  /** Issued for `keys.revoked` before it was revoked. */
  revokedToken: string;
  ids: {
    compiledModel: string;
    trainedModel: string;
    trainJob: string;
    compileJob: string;
    deployJob: string;
    experiment: string;
    dataset: string;
    deployment: string;
  };
  names: { model: string; experiment: string; dataset: string; deployment: string };
  artifacts: string[];
  webhookSecret: string;
}

export interface WebhookReceiver {
  url: string;
  received: Array<{ headers: IncomingHttpHeaders; body: string; path: string }>;
  close(): Promise<void>;
}

export interface Fixture {
  gw: TestGateway;
  /** A second gateway with WEBHOOK_ALLOW_PRIVATE=false. */
  ssrf: TestGateway;
  ssrfWriter: Principal;
  doc: Json;
  routes: Route[];
  A: TenantWorld;
  B: TenantWorld;
  admin: Principal;
  adminBearer: Principal;
  adminTenantId: string;
  anonymous: Principal;
  receiver: WebhookReceiver;
  secretKey: string;
  apiKeyHeader: string;
  ctx: LeakContext;
  canaryFiles: string[];
  /** Path parameters no fixture id is known for (a route added later): attacked with random ids. */
  unknownParams: Set<string>;
  /** Primary value of every path parameter for `world`'s own resources. */
  paramsOf(world: TenantWorld): Record<string, string>;
  /** Every value of every path parameter of `world` (every job, both models, every artifact). */
  paramAlternatives(world: TenantWorld): Record<string, string[]>;
  /** A body `route` accepts from `world`'s write key (multipart for uploads); undefined when it takes none. */
  bodyOf(route: Route, world: TenantWorld): { contentType: string; body: Buffer } | undefined;
  /** Whether `principal` holds the scope `route` declares. */
  allowed(route: Route, principal: Principal): boolean;
  /** Re-reads both tenants' webhook secrets (after a legitimate rotation) into the worlds and the leak context. */
  refreshWebhookSecrets(): Promise<void>;
  close(): Promise<void>;
}

export const IRIS_SAMPLE = [5.1, 3.5, 1.4, 0.2];

/** Environment values that would add a Kubernetes object to the manifests if they were pasted into the YAML. */
export const MANIFEST_INJECTION: Record<string, string> = {
  LOG_LEVEL: 'info\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: injected\n',
  NOTE: '"\': &anchor *anchor {{ .Values.secret }} # not a comment',
};

function irisModel(name: string): string {
  return `network ${name} {\n  input: (4,)\n  layers:\n    Dense(units=8, activation="relu")\n    Output(units=3, activation="softmax")\n  loss: "sparse_categorical_crossentropy"\n  optimizer: Adam(learning_rate=0.05)\n}`;
}

function csvDataset(marker: string): string {
  const rows = ['x1,x2,label'];
  for (let i = 0; i < 40; i++) rows.push(`${(i % 7) / 7},${(i % 5) / 5},${i % 2 ? `odd_${marker}` : `even_${marker}`}`);
  return rows.join('\n');
}

/** A multipart/form-data body with text fields and one file part. */
export function multipart(fields: Record<string, string>, file?: { name?: string; filename: string; content: Buffer | string; type?: string }): { contentType: string; body: Buffer } {
  const boundary = `----secprobe${randomBytes(8).toString('hex')}`;
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  if (file) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${file.name ?? 'file'}"; filename="${file.filename}"\r\nContent-Type: ${file.type ?? 'text/csv'}\r\n\r\n`));
    parts.push(Buffer.isBuffer(file.content) ? file.content : Buffer.from(file.content));
    parts.push(Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat(parts) };
}

async function startReceiver(): Promise<WebhookReceiver> {
  const received: WebhookReceiver['received'] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push({ headers: req.headers, body, path: req.url ?? '' });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, close: () => new Promise((r) => server.close(() => r())) };
}


const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function decodeJwt(token: string): Json {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

/** The gateways, three tenants (two with every resource, one administrator), every kind of credential, and the leak context. */
export async function startFixture(): Promise<Fixture> {
  const secretKey = `sec-${randomBytes(24).toString('hex')}`;
  const adminKey = `adm_${randomBytes(24).toString('base64url')}`;
  const common = { RATE_LIMIT_ENABLED: 'false', SECRET_KEY: secretKey, JWT_EXPIRES_IN: '600' };
  const gw = await startGateway({
    env: {
      ...common,
      ADMIN_API_KEY: adminKey,
      BODY_LIMIT: `${BODY_LIMIT_BYTES / 1024}kb`,
      PREDICT_BODY_LIMIT: `${PREDICT_BODY_LIMIT_BYTES / 1024}kb`,
      DATASET_MAX_UPLOAD_BYTES: String(DATASET_MAX_UPLOAD_BYTES),
      CORS_ORIGINS: 'http://allowed.example',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_BACKOFF_MS: '50',
      // Whatever the fuzzer manages to submit stays small.
      TRAINING_MAX_EPOCHS: '2',
      TRAINING_MAX_BATCH_SIZE: '256',
      WORKER_TRAINING_CONCURRENCY: '2',
      DEPLOYMENT_MAX_REPLICAS: '2',
      COMPILE_TIMEOUT_MS: '5000',
    },
  });
  const closers: Array<() => Promise<unknown>> = [() => gw.close()];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const ssrf = await startGateway({ env: { ...common, WEBHOOK_ALLOW_PRIVATE: 'false' } });
    closers.push(() => ssrf.close());
    const receiver = await startReceiver();
    closers.push(() => receiver.close());
    const header = gw.config.auth.apiKeyHeader;
    const keyPrincipal = (name: string, key: string, tenantId: string | null, scopes: readonly string[]): Principal => ({
      name,
      tenantId,
      scopes: grantedScopes(scopes),
      headers: [[header, key]],
      admin: grantedScopes(scopes).includes('admin'),
    });
    const bearerPrincipal = (p: Principal, token: string): Principal => ({ ...p, name: `${p.name} (bearer)`, headers: [['Authorization', `Bearer ${token}`]] });
    const api = () => request(gw.url);

    const adminTokenRes = await api().post('/auth/token').set(header, adminKey).expect(200);
    const adminTenantId = decodeJwt(adminTokenRes.body.access_token).tid as string;
    const admin = keyPrincipal('admin', adminKey, adminTenantId, ['admin']);
    const adminBearer = bearerPrincipal(admin, adminTokenRes.body.access_token);

    const issueKey = async (name: string, scopes: ApiScope[], tenantId?: string): Promise<IssuedKey & { tenant_id: string }> =>
      (await api().post('/auth/keys').set(header, adminKey).send({ name, scopes, ...(tenantId ? { tenant_id: tenantId } : {}) }).expect(201)).body;
    const tokenFor = async (key: string): Promise<string> => (await api().post('/auth/token').set(header, key).expect(200)).body.access_token;

    const buildWorld = async (label: string): Promise<TenantWorld> => {
      const marker = `sec${randomBytes(5).toString('hex')}`;
      const writeKey = await issueKey(`tenant ${marker}`, ['read', 'write']);
      const tenantId = writeKey.tenant_id;
      const [readKey, predictKey, victimKey, revokedKey] = await Promise.all([
        issueKey(`read ${marker}`, ['read'], tenantId),
        issueKey(`predict ${marker}`, ['predict'], tenantId),
        issueKey(`victim ${marker}`, ['read', 'write'], tenantId),
        issueKey(`revoked ${marker}`, ['read', 'write'], tenantId),
      ]);
      // A predict-only key cannot take a token (POST /auth/token needs read): it calls predict with the key itself.
      const [writeToken, readToken, revokedToken] = await Promise.all([writeKey, readKey, revokedKey].map((k) => tokenFor(k.key)));
      await api().delete(`/auth/keys/${revokedKey.id}`).set(header, writeKey.key).expect(204);
      const write = keyPrincipal(`${label}-write`, writeKey.key, tenantId, writeKey.scopes);
      const read = keyPrincipal(`${label}-read`, readKey.key, tenantId, readKey.scopes);
      const predict = keyPrincipal(`${label}-predict`, predictKey.key, tenantId, predictKey.scopes);
      const h = { [header]: writeKey.key };

      const names = { model: `M${marker}`, experiment: `exp_${marker}`, dataset: `ds_${marker}`, deployment: `dep-${marker}` };
      const dsl = irisModel(names.model);
      const compiled = (await api().post('/compile/sync').set(h).send({ dsl_code: dsl, backend: 'tensorflow' }).expect(200)).body;
      const dataset = (await api().post('/datasets').set(h).field('name', names.dataset).attach('file', Buffer.from(csvDataset(marker)), 'data.csv').expect(201)).body;
      const compileJob = (await api().post('/compile/').set(h).send({ dsl_code: dsl, backend: 'pytorch', webhook_url: `${receiver.url}/${label}/compile` }).expect(202)).body;
      const train = (
        await api()
          .post('/jobs/train')
          .set(h)
          .send({ dsl_code: dsl, backend: 'tensorflow', dataset: 'Iris', experiment_name: names.experiment, training_config: { epochs: 1, batch_size: 32 }, seed: 1, webhook_url: `${receiver.url}/${label}/train` })
          .expect(202)
      ).body;
      const job = async (id: string) => (await api().get(`/jobs/${id}`).set(h).expect(200)).body;
      const finished = (j: Json) => ['completed', 'failed', 'cancelled'].includes(j.status);
      const [trained, compiledAsync] = await Promise.all([waitUntil(() => job(train.job_id), finished, 90_000, `fixture: ${label} training`), waitUntil(() => job(compileJob.job_id), finished, 90_000, `fixture: ${label} async compile`)]);
      if (trained.status !== 'completed' || compiledAsync.status !== 'completed') throw new Error(`fixture: ${label} jobs ended ${trained.status} / ${compiledAsync.status}: ${JSON.stringify(trained.error ?? compiledAsync.error)}`);
      const deployment = (
        await api()
          .post('/deployments/')
          .set(h)
          .send({ model_id: trained.model_id, deployment_name: names.deployment, config: { replicas: 1 }, environment: MANIFEST_INJECTION, webhook_url: `${receiver.url}/${label}/deploy` })
          .expect(201)
      ).body;
      await waitUntil(async () => (await api().get(`/deployments/${deployment.deployment_id}`).set(h).expect(200)).body, (d) => d.status === 'deployed' && d.ready_replicas === 1, 90_000, `fixture: ${label} deployment`);
      for (const id of [train.job_id, compileJob.job_id, deployment.job_id]) {
        await waitUntil(async () => (await api().get(`/jobs/${id}/webhooks`).set(h).expect(200)).body.deliveries as Json[], (ds) => ds.length > 0 && ds.every((d) => d.status !== 'pending'), 90_000, `fixture: ${label} webhooks of ${id}`);
      }
      const experiment = (await api().get(`/experiments/${train.experiment_id}`).set(h).expect(200)).body;
      const webhookSecret = (await api().get('/auth/webhook-secret').set(h).expect(200)).body.webhook_secret;
      return {
        label,
        tenantId,
        marker,
        dsl,
        keys: { write: writeKey, read: readKey, predict: predictKey, victim: victimKey, revoked: revokedKey },
        write,
        read,
        predict,
        writeBearer: bearerPrincipal(write, writeToken),
        readBearer: bearerPrincipal(read, readToken),
        tokens: { write: writeToken, read: readToken },
        revokedToken,
        ids: {
          compiledModel: compiled.model_id,
          trainedModel: trained.model_id,
          trainJob: train.job_id,
          compileJob: compileJob.job_id,
          deployJob: deployment.job_id,
          experiment: train.experiment_id,
          dataset: dataset.dataset_id,
          deployment: deployment.deployment_id,
        },
        names,
        artifacts: experiment.artifacts.map((a: Json) => a.name),
        webhookSecret,
      };
    };
    const [A, B] = await Promise.all([buildWorld('A'), buildWorld('B')]);

    const doc = (await api().get('/openapi.json').expect(200)).body;
    const routes = routesOf(doc);
    const ssrfSession = await createTenantSession(ssrf, 'ssrf');
    const ssrfWriter: Principal = { name: 'ssrf-write', tenantId: ssrfSession.tenantId, scopes: grantedScopes(['read', 'write']), headers: [[header, ssrfSession.apiKey]] };

    // Canary files in and around the storage directory: no request may ever serve their contents.
    const canary = `CANARY-${randomBytes(12).toString('hex')}`;
    const canaryName = `secprobe-canary-${randomBytes(4).toString('hex')}.txt`;
    const canaryFiles = [join(gw.storagePath, canaryName), join(gw.storagePath, 'experiments', canaryName), join(dirname(gw.storagePath), canaryName)];
    for (const f of canaryFiles) {
      mkdirSync(dirname(f), { recursive: true });
      writeFileSync(f, canary);
    }
    closers.push(async () => canaryFiles.forEach((f) => rmSync(f, { force: true })));

    const tenantData = new Map<string, Set<string>>();
    for (const w of [A, B]) {
      tenantData.set(w.tenantId, new Set([w.tenantId, w.marker, ...Object.values(w.ids), ...Object.values(w.keys).flatMap((k) => [k.id, k.prefix])]));
    }
    tenantData.set(adminTenantId, new Set([adminTenantId]));
    tenantData.set(ssrfSession.tenantId, new Set([ssrfSession.tenantId, ssrfSession.apiKeyId]));
    const secrets: Secret[] = [
      { label: 'SECRET_KEY', value: secretKey },
      { label: 'ADMIN_API_KEY', value: adminKey },
      { label: 'ADMIN_API_KEY hash', value: sha256(adminKey) },
      { label: 'ssrf tenant key', value: ssrfSession.apiKey },
    ];
    for (const w of [A, B]) {
      for (const [role, k] of Object.entries(w.keys)) {
        secrets.push({ label: `${w.label} ${role} key`, value: k.key }, { label: `${w.label} ${role} key hash`, value: sha256(k.key) });
      }
      const issuing = (req: RawRequest, p: Principal) => req.path.startsWith('/auth/token') && p.tenantId === w.tenantId;
      for (const [role, t] of Object.entries(w.tokens)) secrets.push({ label: `${w.label} ${role} token`, value: t, allowed: issuing });
      secrets.push({ label: `${w.label} revoked key's token`, value: w.revokedToken });
      secrets.push({ label: `${w.label} webhook secret`, value: w.webhookSecret, allowed: (req, p) => req.path.startsWith('/auth/webhook-secret') && p.tenantId === w.tenantId });
    }
    const serverPaths = [...new Set([gw.storagePath, realpathSync(gw.storagePath), ssrf.storagePath, `${process.cwd()}/`, '/tmp/neural-'])];
    const ctx: LeakContext = { secrets, tenantData, serverPaths, fileMarkers: [canary, 'root:x:0:0:', 'SQLite format 3', '"devDependencies"'] };

    const unknownParams = new Set<string>();
    const paramAlternatives = (w: TenantWorld): Record<string, string[]> => ({
      job_id: [w.ids.trainJob, w.ids.compileJob, w.ids.deployJob],
      experiment_id: [w.ids.experiment],
      model_id: [w.ids.trainedModel, w.ids.compiledModel],
      dataset_id: [w.ids.dataset],
      deployment_id: [w.ids.deployment],
      key_id: [w.keys.victim.id],
      artifact_name: w.artifacts,
    });
    const paramsOf = (w: TenantWorld): Record<string, string> => {
      const alt = paramAlternatives(w);
      return new Proxy({} as Record<string, string>, {
        get: (_, name: string) => {
          if (alt[name]) return alt[name][0];
          unknownParams.add(name);
          return randomUUID();
        },
      });
    };
    const bodyOf = (route: Route, w: TenantWorld): { contentType: string; body: Buffer } | undefined => {
      const json = (v: unknown) => ({ contentType: 'application/json', body: Buffer.from(JSON.stringify(v)) });
      switch (route.id) {
        case 'POST /auth/keys':
          return json({ name: `probe ${w.marker}`, scopes: ['read'] });
        case 'POST /compile':
          return json({ dsl_code: w.dsl, backend: 'tensorflow', webhook_url: `${receiver.url}/${w.label}/probe` });
        case 'POST /compile/sync':
          return json({ dsl_code: w.dsl, backend: 'tensorflow' });
        case 'POST /datasets':
          return multipart({ name: `up_${w.marker}_${randomBytes(3).toString('hex')}` }, { filename: 'probe.csv', content: csvDataset(w.marker) });
        case 'POST /deployments':
          return json({ model_id: w.ids.trainedModel, deployment_name: `probe-${w.marker}` });
        case 'POST /deployments/{deployment_id}/predict':
          return json({ instances: [IRIS_SAMPLE] });
        case 'POST /deployments/{deployment_id}/scale':
          return json({ replicas: 1 });
        case 'POST /jobs/train':
          return json({ dsl_code: w.dsl, backend: 'tensorflow', dataset: 'Iris', training_config: { epochs: 1 } });
        case 'POST /jobs/hpo':
          return json({
            dsl_code: w.dsl.replace('Dense(units=8, activation="relu")', 'Dense(HPO(choice(4, 8)), activation="relu")'),
            backend: 'tensorflow',
            dataset: 'Iris',
            training_config: { epochs: 1, train_samples: 20 },
            search: { trials: 2, parallelism: 1 },
            webhook_url: `${receiver.url}/${w.label}/probe`,
          });
        default:
          if (route.bodySchema) return json(exampleOf(route.bodySchema));
          if (route.bodyTypes.some((t) => t.startsWith('multipart/'))) return multipart({ name: 'probe' }, { filename: 'probe.bin', content: 'x' });
          return undefined;
      }
    };
    const refreshWebhookSecrets = async () => {
      for (const w of [A, B]) {
        w.webhookSecret = (await api().get('/auth/webhook-secret').set(header, w.keys.write.key).expect(200)).body.webhook_secret;
        secrets.find((s) => s.label === `${w.label} webhook secret`)!.value = w.webhookSecret;
      }
    };
    const allowed = (route: Route, p: Principal) => route.isPublic || (route.scope !== undefined && p.scopes.includes(route.scope));

    return {
      gw,
      ssrf,
      ssrfWriter,
      doc,
      routes,
      A,
      B,
      admin,
      adminBearer,
      adminTenantId,
      anonymous: { name: 'anonymous', tenantId: null, scopes: [], headers: [] },
      receiver,
      secretKey,
      apiKeyHeader: header,
      ctx,
      canaryFiles,
      unknownParams,
      paramsOf,
      paramAlternatives,
      bodyOf,
      allowed,
      refreshWebhookSecrets,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
