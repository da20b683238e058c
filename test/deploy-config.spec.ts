/**
 * Deployment configuration under docker/: the kustomize base and overlays rendered by a small loader and validated
 * against the Kubernetes schemas (kubernetes-models), the compose files linted by dclint (which validates them
 * against the compose schema it bundles) plus our invariants, the Dockerfile checked textually, and the container
 * health check script run for real. No image is built here.
 */
import { QUEUES } from '@app/contracts';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { parse, parseAllDocuments } from 'yaml';

type Obj = Record<string, any>;
type ModelClass = new (data: any) => { validate(): void };

const ROOT = resolve(__dirname, '..');
const DOCKER = join(ROOT, 'docker');
const K8S = join(DOCKER, 'k8s');

// ---------------------------------------------------------------------------------------------------------------------
// A minimal kustomize: resources (files and directories), patches (strategic merge, target taken from the patch),
// images and namespace. Anything else in a kustomization.yaml is an error, so the loader never silently renders
// something kustomize would render differently.

const SUPPORTED_KEYS = new Set(['apiVersion', 'kind', 'resources', 'patches', 'images', 'namespace']);

/** Lists that Kubernetes' strategic merge merges by a key (the fields these manifests use); other lists are replaced. */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  ports: 'containerPort',
  imagePullSecrets: 'name',
};

const isMap = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isBuiltin = (o: Obj) => !String(o.apiVersion).includes('.') || /\.k8s\.io\//.test(String(o.apiVersion));
const idOf = (o: Obj) => `${o.apiVersion}/${o.kind}/${o.metadata?.name}`;

/** Strategic merge patch for the simple cases: maps merge, keyed lists merge by key (built-in kinds only), `null` deletes. */
function strategicMerge(base: unknown, patch: unknown, builtin: boolean, field = ''): unknown {
  if (patch === null) return undefined;
  if (Array.isArray(patch)) {
    const key = builtin ? MERGE_KEYS[field] : undefined;
    if (!key || !Array.isArray(base)) return structuredClone(patch);
    const out = base.map((item) => structuredClone(item));
    for (const item of patch) {
      const at = out.findIndex((b) => isMap(b) && isMap(item) && b[key] === item[key]);
      if (at >= 0) out[at] = strategicMerge(out[at], item, builtin);
      else out.push(structuredClone(item));
    }
    return out;
  }
  if (!isMap(patch) || !isMap(base)) return structuredClone(patch);
  const out: Obj = structuredClone(base);
  for (const [k, v] of Object.entries(patch)) {
    const merged = strategicMerge(out[k], v, builtin, k);
    if (merged === undefined) delete out[k];
    else out[k] = merged;
  }
  return out;
}

function splitImage(image: string): { name: string; tag: string } {
  const at = image.indexOf('@');
  if (at >= 0) return { name: image.slice(0, at), tag: image.slice(at) };
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/') ? { name: image.slice(0, colon), tag: image.slice(colon) } : { name: image, tag: '' };
}

function readYamlDocs(file: string): Obj[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
    return d.toJS() as Obj;
  }).filter((d) => d !== null);
}

/** Renders the kustomization in `dir` like `kustomize build` would for the features listed above. */
function renderKustomization(dir: string): Obj[] {
  const [k] = readYamlDocs(join(dir, 'kustomization.yaml'));
  for (const key of Object.keys(k)) if (!SUPPORTED_KEYS.has(key)) throw new Error(`${dir}: kustomization field "${key}" is not supported by this loader`);
  let objects: Obj[] = [];
  for (const r of (k.resources ?? []) as string[]) {
    const path = join(dir, r);
    objects.push(...(statSync(path).isDirectory() ? renderKustomization(path) : readYamlDocs(path)));
  }
  const ids = objects.map(idOf);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup) throw new Error(`${dir}: ${dup} is defined twice`);
  for (const p of (k.patches ?? []) as Obj[]) {
    if (!p.path || p.target || p.patch) throw new Error(`${dir}: only file patches without target are supported`);
    for (const patch of readYamlDocs(join(dir, p.path))) {
      const at = objects.findIndex((o) => idOf(o) === idOf(patch));
      if (at < 0) throw new Error(`${dir}: patch ${p.path} targets ${idOf(patch)}, which is not among the resources`);
      objects[at] = strategicMerge(objects[at], patch, isBuiltin(patch)) as Obj;
    }
  }
  for (const img of (k.images ?? []) as Obj[]) {
    objects = objects.map((o) => {
      const spec = o.spec?.template?.spec;
      if (!spec) return o;
      for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
        const { name, tag } = splitImage(c.image);
        if (name !== img.name) continue;
        c.image = `${img.newName ?? name}${img.digest ? `@${img.digest}` : img.newTag ? `:${img.newTag}` : tag}`;
      }
      return o;
    });
  }
  if (k.namespace) for (const o of objects) o.metadata = { ...o.metadata, namespace: k.namespace };
  return objects;
}

// ---------------------------------------------------------------------------------------------------------------------

const MODELS: Record<string, ModelClass> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'batch/v1/Job': Job,
};

/** KEDA's CRDs have no model in kubernetes-models: checked for the fields KEDA requires and the ones used here. */
function validateKeda(o: Obj): void {
  const fail = (m: string) => {
    throw new Error(`${o.kind} ${o.metadata?.name}: ${m}`);
  };
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o.metadata?.name ?? '')) fail('metadata.name must be a DNS-1123 name');
  const known = o.kind === 'ScaledObject' ? ['scaleTargetRef', 'minReplicaCount', 'maxReplicaCount', 'pollingInterval', 'cooldownPeriod', 'idleReplicaCount', 'advanced', 'fallback', 'triggers'] : ['secretTargetRef', 'env', 'podIdentity'];
  for (const key of Object.keys(o.spec ?? {})) if (!known.includes(key)) fail(`unknown spec field ${key}`);
  if (o.kind === 'ScaledObject') {
    if (typeof o.spec?.scaleTargetRef?.name !== 'string') fail('spec.scaleTargetRef.name is required');
    for (const f of ['minReplicaCount', 'maxReplicaCount', 'pollingInterval', 'cooldownPeriod']) if (o.spec[f] !== undefined && !(Number.isInteger(o.spec[f]) && o.spec[f] >= 0)) fail(`spec.${f} must be a non-negative integer`);
    if (o.spec.minReplicaCount > o.spec.maxReplicaCount) fail('minReplicaCount exceeds maxReplicaCount');
    if (!Array.isArray(o.spec.triggers) || o.spec.triggers.length === 0) fail('spec.triggers must be a non-empty list');
    for (const t of o.spec.triggers) {
      if (typeof t.type !== 'string' || !isMap(t.metadata)) fail('every trigger needs type and metadata');
      // KEDA reads trigger metadata as strings
      for (const [k, v] of Object.entries(t.metadata)) if (typeof v !== 'string') fail(`trigger metadata ${k} must be a string`);
    }
  } else if (o.kind === 'TriggerAuthentication') {
    for (const s of o.spec?.secretTargetRef ?? []) if (!s.parameter || !s.name || !s.key) fail('secretTargetRef entries need parameter, name and key');
  } else fail('unknown KEDA kind');
}

function validateObject(o: Obj): void {
  if (o.apiVersion === 'keda.sh/v1alpha1') return validateKeda(o);
  const Model = MODELS[`${o.apiVersion}/${o.kind}`];
  if (!Model) throw new Error(`no validator for ${o.apiVersion} ${o.kind}`);
  new Model(o).validate();
}

const byKind = (objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind);
const one = (objs: Obj[], kind: string, name: string) => {
  const found = objs.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`${kind} ${name} missing`);
  return found;
};
const selects = (selector: Obj, labels: Obj) => Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels?.[k] === v);

const SECRET_EXAMPLE = readYamlDocs(join(K8S, 'base', 'secret.example.yaml'))[0];

describe('kustomize loader', () => {
  it('merges containers by name and env by name, replaces other lists, deletes on null', () => {
    const base = { spec: { containers: [{ name: 'a', image: 'x:1', env: [{ name: 'A', value: '1' }], args: ['one'] }, { name: 'b', image: 'y:1' }] } };
    const patch = { spec: { containers: [{ name: 'a', env: [{ name: 'B', value: '2' }], args: ['two'] }], extra: null } };
    expect(strategicMerge(base, patch, true)).toEqual({
      spec: { containers: [{ name: 'a', image: 'x:1', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], args: ['two'] }, { name: 'b', image: 'y:1' }] },
    });
    // a custom resource has no schema: kustomize replaces its lists
    expect(strategicMerge({ triggers: [{ name: 'a', x: 1 }] }, { triggers: [{ name: 'a' }] }, false)).toEqual({ triggers: [{ name: 'a' }] });
  });

  it('rewrites only images of the exact name', () => {
    const dir = join(K8S, 'overlays', 'production');
    const images = byKind(renderKustomization(dir), 'Deployment').map((d) => d.spec.template.spec.containers[0].image);
    expect(images.sort()).toEqual(['registry.example.com/neural-dsl-platform-pytorch:0.1.0', 'registry.example.com/neural-dsl-platform:0.1.0']);
  });

  it('checks what it renders', () => {
    expect(() => validateObject({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { replicas: 'two', selector: {}, template: {} } })).toThrow();
    expect(() => validateObject({ apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: { name: 'x' }, spec: { scaleTargetRef: { name: 'w' }, triggers: [{ type: 'redis', metadata: { listLength: 2 } }] } })).toThrow(/string/);
    expect(() => validateObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } })).toThrow(/no validator/);
  });
});

describe.each([
  ['base', join(K8S, 'base')],
  ['overlays/production', join(K8S, 'overlays', 'production')],
])('docker/k8s/%s', (label, dir) => {
  const objects = renderKustomization(dir);
  const config = one(objects, 'ConfigMap', 'neural-config');

  it('renders objects that are valid against the Kubernetes schemas (KEDA structurally)', () => {
    expect(objects.length).toBeGreaterThanOrEqual(10);
    for (const o of objects) expect(() => validateObject(o)).not.toThrow();
  });

  it('holds no Secret (the template stays out) and references only the Secret template and the ConfigMap', () => {
    expect(byKind(objects, 'Secret')).toEqual([]);
    for (const d of byKind(objects, 'Deployment')) {
      for (const c of d.spec.template.spec.containers) {
        const refs = (c.envFrom ?? []).map((e: Obj) => e.configMapRef?.name ?? e.secretRef?.name);
        expect(refs).toEqual(['neural-config', 'neural-secrets']);
      }
    }
    expect(SECRET_EXAMPLE.metadata.name).toBe('neural-secrets');
  });

  it('runs every pod non-root on a read-only root filesystem with requests, limits, /tmp and the artifact store', () => {
    const pvc = one(objects, 'PersistentVolumeClaim', 'neural-artifacts');
    expect(pvc.spec.accessModes).toEqual(['ReadWriteMany']);
    const deployments = byKind(objects, 'Deployment');
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['neural-gateway', 'neural-worker']);
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      const volumes = Object.fromEntries(pod.volumes.map((v: Obj) => [v.name, v]));
      for (const c of pod.containers) {
        expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
        for (const kind of ['requests', 'limits']) expect(Object.keys(c.resources[kind]).sort()).toEqual(['cpu', 'memory']);
        const mounts = Object.fromEntries(c.volumeMounts.map((m: Obj) => [m.mountPath, m.name]));
        expect(volumes[mounts[config.data.STORAGE_PATH]].persistentVolumeClaim.claimName).toBe('neural-artifacts');
        expect(volumes[mounts['/tmp']].emptyDir).toBeDefined();
      }
      expect(byKind(objects, 'PodDisruptionBudget').filter((p) => selects(p.spec.selector, d.spec.template.metadata.labels))).toHaveLength(1);
      expect(selects(d.spec.selector, d.spec.template.metadata.labels)).toBe(true);
    }
  });

  it('runs the migrations as a Job of the gateway image, non-root, on a read-only root filesystem', () => {
    const job = one(objects, 'Job', 'neural-migrate');
    const c = job.spec.template.spec.containers[0];
    expect(c.args).toEqual(['migrate']);
    expect(c.image).toBe(one(objects, 'Deployment', 'neural-gateway').spec.template.spec.containers[0].image);
    expect(job.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect((c.envFrom ?? []).map((e: Obj) => e.configMapRef?.name ?? e.secretRef?.name)).toEqual(['neural-config', 'neural-secrets']);
    expect(job.spec).toMatchObject({ backoffLimit: expect.any(Number), ttlSecondsAfterFinished: expect.any(Number) });
  });

  it('probes the gateway on /health/ready and /health/live and serves it through the Service, scaled by an HPA on CPU', () => {
    const gw = one(objects, 'Deployment', 'neural-gateway');
    const c = gw.spec.template.spec.containers[0];
    expect(c.args).toEqual(['gateway']);
    const port = c.ports.find((p: Obj) => p.name === 'http');
    expect(String(port.containerPort)).toBe(config.data.API_PORT);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
    // migrations run at boot: the startup probe holds the others back until the process serves
    expect(c.startupProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
    expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBeGreaterThanOrEqual(120);
    const svc = one(objects, 'Service', 'neural-gateway');
    expect(selects({ matchLabels: svc.spec.selector }, gw.spec.template.metadata.labels)).toBe(true);
    expect(svc.spec.ports[0].targetPort).toBe('http');
    const hpa = one(objects, 'HorizontalPodAutoscaler', 'neural-gateway');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'neural-gateway' });
    expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
  });

  it('scales the worker with KEDA on the Bull lists of every queue, with the key prefix of the ConfigMap', () => {
    const so = one(objects, 'ScaledObject', 'neural-worker');
    expect(so.spec.scaleTargetRef.name).toBe('neural-worker');
    const worker = one(objects, 'Deployment', 'neural-worker').spec.template.spec.containers[0];
    expect(worker.args).toEqual(['worker']);
    // liveness of this pod: its metrics server, on the port WORKER_METRICS_PORT asks for
    const metricsPort = worker.ports.find((p: Obj) => p.name === 'metrics').containerPort;
    expect(worker.env.find((e: Obj) => e.name === 'WORKER_METRICS_PORT').value).toBe(String(metricsPort));
    expect(worker.livenessProbe.httpGet).toEqual({ path: '/metrics', port: 'metrics' });
    expect(worker.readinessProbe).toBeUndefined();
    // one autoscaler per Deployment: KEDA makes its own HPA for the worker
    expect(byKind(objects, 'HorizontalPodAutoscaler').map((h) => h.spec.scaleTargetRef.name)).toEqual(['neural-gateway']);
    const prefix = config.data.REDIS_KEY_PREFIX;
    const lists = so.spec.triggers.map((t: Obj) => {
      expect(t.type).toBe('redis');
      expect(Number(t.metadata.listLength)).toBeGreaterThan(0);
      const auth = one(objects, 'TriggerAuthentication', t.authenticationRef.name);
      for (const ref of auth.spec.secretTargetRef) {
        expect(ref.name).toBe('neural-secrets');
        expect(Object.keys(SECRET_EXAMPLE.stringData)).toContain(ref.key);
      }
      return t.metadata.listName;
    });
    for (const list of lists) expect(list).toMatch(new RegExp(`^${prefix}:(${Object.values(QUEUES).join('|')}):(wait|active)$`));
    for (const queue of Object.values(QUEUES)) expect(lists).toContain(`${prefix}:${queue}:wait`);
  });

  if (label === 'overlays/production') {
    it('puts everything in the namespace and applies its patches over the base', () => {
      for (const o of objects) expect(o.metadata.namespace).toBe('neural');
      const gw = one(objects, 'Deployment', 'neural-gateway');
      expect(gw.spec.replicas).toBe(3);
      // the patch replaced resources; probes and mounts of the base survive the merge
      expect(gw.spec.template.spec.containers).toHaveLength(1);
      expect(gw.spec.template.spec.containers[0].readinessProbe.httpGet.path).toBe('/health/ready');
      expect(one(objects, 'ScaledObject', 'neural-worker').spec.triggers.length).toBeGreaterThanOrEqual(Object.keys(QUEUES).length);
      expect(config.data.NODE_ENV).toBe('production');
    });
  }
});

describe('docker/k8s/base/secret.example.yaml', () => {
  it('is a valid Secret with no value in it', () => {
    expect(() => validateObject(SECRET_EXAMPLE)).not.toThrow();
    expect(Object.keys(SECRET_EXAMPLE.stringData)).toEqual(expect.arrayContaining(['SECRET_KEY', 'DATABASE_URL', 'REDIS_URL']));
    for (const v of Object.values(SECRET_EXAMPLE.stringData)) expect(v).toBe('');
    expect(SECRET_EXAMPLE.data).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------------------------------

const COMPOSE = join(DOCKER, 'compose.yml');
const COMPOSE_PROD = join(DOCKER, 'compose.prod.yml');
const SECRETISH = /SECRET|PASSWORD|API_KEY|TOKEN|DATABASE_URL|REDIS_URL/;
const readCompose = (file: string): Obj => parse(readFileSync(file, 'utf8'), { merge: true });

/** `docker compose -f a -f b config` for the parts checked here: maps merge, scalars and lists are replaced. */
function mergeCompose(base: Obj, override: Obj): Obj {
  return strategicMerge(base, override, false) as Obj;
}

/** Each `${VAR…}` of a secret-ish variable must be required (`:?`) or default to nothing, never to a literal. */
function plaintextSecrets(services: Obj): string[] {
  const found: string[] = [];
  for (const [name, svc] of Object.entries(services)) {
    for (const [key, raw] of Object.entries((svc.environment ?? {}) as Obj)) {
      const value = String(raw ?? '');
      const refs = [...value.matchAll(/\$\{([A-Z0-9_]+)(:?[?-])?([^}]*)\}/g)];
      if (SECRETISH.test(key) && value !== '' && refs.length === 0) found.push(`${name}.${key}`);
      for (const [, v, op, rest] of refs) if (SECRETISH.test(v) && op !== ':?' && op !== '?' && rest !== '') found.push(`${name}.${key} (${v})`);
    }
  }
  return found;
}

describe('docker/compose.yml and compose.prod.yml', () => {
  const { DCLinter } = require('dclint') as typeof import('dclint');
  const base = readCompose(COMPOSE);
  const prod = mergeCompose(base, readCompose(COMPOSE_PROD));

  it('pass dclint (compose schema and every rule at its default level)', () => {
    const linter = new DCLinter({ rules: {}, quiet: true, debug: false, exclude: [] });
    const results = linter.lintFiles([COMPOSE, COMPOSE_PROD], false);
    expect(results.map((r) => r.filePath).sort()).toEqual([COMPOSE, COMPOSE_PROD].sort());
    for (const r of results) expect({ file: r.filePath, messages: r.messages.map((m) => `${m.rule}: ${m.message}`) }).toEqual({ file: r.filePath, messages: [] });
  });

  it('makes dclint report a schema error and a rule error (the linter really runs)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dclint-'));
    try {
      const file = join(dir, 'compose.yml');
      writeFileSync(file, 'name: x\nservices:\n  web:\n    image: nginx:1.27\n    ports: 8080\n');
      const linter = new DCLinter({ rules: {}, quiet: true, debug: false, exclude: [] });
      expect(linter.lintFiles([file], false)[0].messages.map((m) => m.rule)).toEqual(['invalid-schema']);
      writeFileSync(file, 'name: x\nservices:\n  web:\n    image: nginx\n');
      expect(linter.lintFiles([file], false)[0].messages.map((m) => m.rule)).toContain('service-image-require-explicit-tag');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['compose.yml', base],
    ['compose.yml + compose.prod.yml', prod],
  ])('%s: only the gateway publishes a port, the worker scales, every service has a healthcheck, no plaintext secret', (_label, c) => {
    const services = c.services as Obj;
    expect(Object.keys(services).sort()).toEqual(['gateway', 'postgres', 'redis', 'worker']);
    expect(Object.entries(services).filter(([, s]) => s.ports?.length).map(([n]) => n)).toEqual(['gateway']);
    expect(services.gateway.ports).toEqual([expect.stringMatching(/^127\.0\.0\.1:\$\{GATEWAY_PORT:-8000\}:8000$/)]);
    for (const s of Object.values(services)) expect(s.container_name).toBeUndefined();
    for (const [name, s] of Object.entries(services)) {
      expect([name, s.healthcheck?.test?.length > 0]).toEqual([name, true]);
      for (const [dep, cond] of Object.entries((s.depends_on ?? {}) as Obj)) {
        expect(cond.condition).toBe('service_healthy');
        expect(services[dep].healthcheck).toBeDefined();
      }
    }
    expect(services.gateway.depends_on).toEqual({ postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
    expect(services.gateway.healthcheck.test).toEqual(['CMD', 'node', '/app/docker/healthcheck.js', 'gateway']);
    expect(services.worker.healthcheck.test).toEqual(['CMD', 'node', '/app/docker/healthcheck.js', 'worker']);
    expect(services.worker.image).toMatch(/pytorch/);
    expect(services.worker.environment.WORKER_METRICS_PORT).toBeDefined();
    expect(plaintextSecrets(services)).toEqual([]);
    expect(services.gateway.environment.SECRET_KEY).toMatch(/^\$\{SECRET_KEY:\?/);
    expect(services.redis.command.join(' ')).toMatch(/--appendonly yes/);
    expect(services.redis.volumes).toEqual(['redisdata:/data']);
    expect(services.postgres.volumes).toEqual(['pgdata:/var/lib/postgresql/data']);
    expect(services.gateway.volumes).toEqual(services.worker.volumes);
  });

  it('finds a plaintext secret when there is one', () => {
    expect(plaintextSecrets({ a: { environment: { SECRET_KEY: 'hunter2hunter2hunter2', REDIS_URL: 'redis://:${REDIS_PASSWORD:-devpass}@r:6379' } } })).toEqual(['a.SECRET_KEY', 'a.REDIS_URL (REDIS_PASSWORD)']);
  });

  it('compose.prod.yml: production, restart policies, limits, worker replicas, no development default left', () => {
    for (const [name, s] of Object.entries(prod.services as Obj)) {
      expect([name, s.restart]).toEqual([name, 'unless-stopped']);
      expect(s.deploy.resources.limits).toEqual({ cpus: expect.any(String), memory: expect.any(String) });
    }
    for (const name of ['gateway', 'worker']) {
      const env = prod.services[name].environment;
      expect(env.NODE_ENV).toBe('production');
      for (const key of ['PUBLIC_URL', 'CORS_ORIGINS']) expect(env[key]).toMatch(new RegExp(`^\\$\\{${key}:\\?`));
      expect(Object.values(env).join(' ')).not.toMatch(/development/);
    }
    expect(prod.services.worker.deploy.replicas).toBeDefined();
  });
});

// ---------------------------------------------------------------------------------------------------------------------

interface Stage {
  name: string;
  from: string;
  lines: string[];
}

/** FROM … AS … stages with their instructions (continuation lines joined, comments dropped). */
function dockerStages(text: string): Stage[] {
  const stages: Stage[] = [];
  const joined = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const line of joined) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) stages.push({ name: from[2] ?? String(stages.length), from: from[1], lines: [] });
    else if (stages.length) stages[stages.length - 1].lines.push(line);
  }
  return stages;
}

/** The instructions a stage inherits (from the stages it is built FROM) followed by its own. */
function effective(stages: Stage[], name: string): string[] {
  const s = stages.find((x) => x.name === name);
  if (!s) return [];
  return [...effective(stages, s.from), ...s.lines];
}

describe('docker/Dockerfile', () => {
  const text = readFileSync(join(DOCKER, 'Dockerfile'), 'utf8');
  const stages = dockerStages(text);
  const last = stages[stages.length - 1];
  const finals = [last.name, 'worker-pytorch'];

  it('is multi-stage: build and production dependencies apart from the runtime', () => {
    expect(stages.map((s) => s.name)).toEqual(['toolchain', 'build', 'prod-deps', 'runtime-base', 'worker-pytorch', 'runtime']);
    expect(stages.find((s) => s.name === 'build')!.lines).toEqual(expect.arrayContaining([expect.stringMatching(/^RUN npm ci\b/), 'RUN npm run build']));
    expect(stages.find((s) => s.name === 'prod-deps')!.lines.join('\n')).toMatch(/npm ci --omit=dev/);
    const runtime = stages.find((s) => s.name === 'runtime-base')!;
    expect(runtime.from).toBe('${NODE_IMAGE}');
    expect(runtime.lines).toEqual(expect.arrayContaining([expect.stringMatching(/^COPY --from=prod-deps .*node_modules/), expect.stringMatching(/^COPY --from=build .*dist/)]));
    expect(text).toMatch(/ONNXRUNTIME_NODE_INSTALL=skip/);
  });

  it.each(['runtime', 'worker-pytorch'])('%s: runs as a non-root user with a node HEALTHCHECK and no curl', (name) => {
    expect(finals).toContain(name);
    const lines = effective(stages, name);
    const users = lines.filter((l) => /^USER\s/i.test(l));
    expect(users.length).toBeGreaterThan(0);
    expect(users[users.length - 1]).toMatch(/^USER\s+(node|1000)\b/);
    const health = lines.filter((l) => /^HEALTHCHECK\s/i.test(l));
    expect(health).toHaveLength(1);
    expect(health[0]).toMatch(/CMD \["node", "\/app\/docker\/healthcheck\.js"\]/);
    expect(lines.join('\n')).not.toMatch(/\b(curl|wget)\b/);
    expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^ENTRYPOINT \["\/usr\/bin\/tini", "--", "\/app\/docker\/entrypoint\.sh"\]$/)]));
  });

  it('worker-pytorch carries Debian PyTorch at /usr/bin/python3', () => {
    const lines = stages.find((s) => s.name === 'worker-pytorch')!.lines.join('\n');
    expect(lines).toMatch(/apt-get install[^\n]*python3-torch/);
    expect(lines).toMatch(/PYTHON_BIN=\/usr\/bin\/python3/);
    expect(lines).toMatch(/CMD \["worker"\]/);
  });

  it('the entrypoint runs the built apps whose sources exist, and the copied files exist', () => {
    const entry = readFileSync(join(DOCKER, 'entrypoint.sh'), 'utf8');
    const targets = [...entry.matchAll(/^\s+([a-z-]+)\) shift; exec node \/app\/dist\/(\S+)\.js/gm)].map(([, role, path]) => [role, path]);
    expect(targets.map(([role]) => role)).toEqual(['gateway', 'worker', 'serve', 'migrate', 'create-key']);
    for (const [, path] of targets) expect(existsSync(join(ROOT, `${path}.ts`))).toBe(true);
    for (const [, src] of text.matchAll(/^COPY\s+(?!--from)(?:--\S+\s+)*(.+)\s+\S+$/gm)) for (const f of src.split(/\s+/)) expect([f, existsSync(join(ROOT, f))]).toEqual([f, true]);
    expect(existsSync(join(ROOT, 'libs/training/python/torch_train.py'))).toBe(true);
  });

  it('.dockerignore keeps secrets, git and host node_modules out of the context', () => {
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignore).toEqual(expect.arrayContaining(['.git', '**/node_modules', '.env', 'dist']));
  });
});

// ---------------------------------------------------------------------------------------------------------------------

function runHealthcheck(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(DOCKER, 'healthcheck.js'), ...args], { env: { PATH: process.env.PATH, ...env }, cwd: dirname(DOCKER) });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => done({ code, stderr }));
  });
}

describe('docker/healthcheck.js', () => {
  let server: Server;
  let status = 200;
  let port = 0;
  const paths: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(status).end('{}');
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  it('gateway: healthy on a 2xx of GET /health/ready, unhealthy on 503 or when nothing listens', async () => {
    status = 200;
    expect((await runHealthcheck(['gateway'], { API_PORT: String(port) })).code).toBe(0);
    expect(paths.at(-1)).toBe('/health/ready');
    status = 503;
    const down = await runHealthcheck(['gateway'], { API_PORT: String(port) });
    expect(down).toEqual({ code: 1, stderr: expect.stringContaining('503') });
    status = 204;
    expect((await runHealthcheck([], { API_PORT: String(port), NEURAL_ROLE: 'gateway' })).code).toBe(0);
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise<void>((ok) => closed.close(() => ok()));
    expect((await runHealthcheck(['gateway'], { API_PORT: String(freePort) })).code).toBe(1);
  });

  it('worker with WORKER_METRICS_PORT: healthy on a 2xx of its GET /metrics', async () => {
    status = 200;
    expect((await runHealthcheck(['worker'], { WORKER_METRICS_PORT: String(port) })).code).toBe(0);
    expect(paths.at(-1)).toBe('/metrics');
    status = 500;
    expect((await runHealthcheck(['worker'], { WORKER_METRICS_PORT: String(port) })).code).toBe(1);
  });

  it('worker without WORKER_METRICS_PORT: healthy only while a worker heartbeat younger than 15 s is in Redis', async () => {
    const url = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
    const prefix = `hc-${randomBytes(4).toString('hex')}`;
    const redis = new Redis(url);
    try {
      const env = { REDIS_URL: url, REDIS_KEY_PREFIX: prefix };
      expect(await runHealthcheck(['worker'], env)).toEqual({ code: 1, stderr: expect.stringContaining('no worker heartbeat') });
      await redis.set(`${prefix}:worker:heartbeat`, String(Date.now()), 'EX', 60);
      expect((await runHealthcheck(['worker'], env)).code).toBe(0);
      await redis.set(`${prefix}:worker:heartbeat`, String(Date.now() - 30_000), 'EX', 60);
      expect(await runHealthcheck(['worker'], env)).toEqual({ code: 1, stderr: expect.stringContaining('30 s ago') });
      expect((await runHealthcheck(['worker'], {})).code).toBe(1);
    } finally {
      await redis.del(`${prefix}:worker:heartbeat`);
      redis.disconnect();
    }
  });
});
