import { DEMO_API_KEY } from '@app/config';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Service } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { K8S_QUANTITY, type ManifestInput, renderManifests, toK8sName } from './deployment-manifests';

type Obj = Record<string, any>;
type ModelClass = new (data: any) => { validate(): void };

const MODELS: Record<string, ModelClass> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** Throws like kubernetes-models does; the model class is picked from the doc itself, since the constructor would fill in a missing apiVersion/kind. */
function validateDoc(doc: Obj): void {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) throw new Error(`no validator for ${doc.apiVersion} ${doc.kind}`);
  new Model(doc).validate();
}

/** Rules the API server enforces that the bundled OpenAPI schemas do not (they accept port 70000 and any name). */
function apiServerProblems(doc: Obj): string[] {
  const problems: string[] = [];
  const nameRule = doc.kind === 'Service' ? DNS1035_LABEL : DNS1123_LABEL;
  if (!nameRule.test(doc.metadata?.name ?? '')) problems.push(`bad name ${doc.metadata?.name}`);
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}/${i}`));
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (['port', 'containerPort', 'targetPort'].includes(k) && typeof v === 'number' && !(Number.isInteger(v) && v >= 1 && v <= 65535)) {
        problems.push(`${path}/${k} out of range: ${v}`);
      }
      if (k === 'labels' || k === 'matchLabels') {
        for (const [lk, lv] of Object.entries(v as Obj)) {
          if (!LABEL_KEY.test(lk) || typeof lv !== 'string' || !LABEL_VALUE.test(lv)) problems.push(`${path}/${k} bad label ${lk}=${lv}`);
        }
      }
      walk(v, `${path}/${k}`);
    }
  };
  walk(doc, '');
  if (doc.kind === 'HorizontalPodAutoscaler') {
    for (const m of doc.spec.metrics ?? []) if (m.type !== 'Resource' || !m.resource) problems.push('metric is not a Resource metric');
  }
  return problems;
}

function parse(yaml: string): Obj[] {
  return parseAllDocuments(yaml).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as Obj;
  });
}

function input(over: Partial<ManifestInput> = {}, config: Partial<ManifestInput['config']> = {}): ManifestInput {
  return {
    deploymentId: '3b7e1c2a-9f44-4c1e-8a55-0d6f2b9e7c10',
    name: 'Iris_Classifier.v2',
    modelId: '8f0c7a52-0d7e-4d4e-9d0e-0a4b8b0f6a11',
    replicas: 3,
    config: { memory_limit: '512Mi', cpu_limit: '500m', port: 8080, health_check_path: '/health', ...config },
    environment: { LOG_LEVEL: 'debug', THRESHOLD: '0.5' },
    image: 'neural-dsl-platform:0.1.0',
    modelUrl: 'https://neural.example.com/deployments/3b7e1c2a-9f44-4c1e-8a55-0d6f2b9e7c10/model.onnx',
    apiKeyHeader: 'X-API-Key',
    apiKeySecret: 'neural-api-key',
    outputKind: 'softmax',
    inputShape: [4],
    ...over,
  };
}

function render(over: Partial<ManifestInput> = {}, config: Partial<ManifestInput['config']> = {}) {
  const yaml = renderManifests(input(over, config));
  const docs = parse(yaml);
  const byKind = (kind: string) => docs.filter((d) => d.kind === kind);
  const dep = byKind('Deployment')[0];
  return {
    yaml,
    docs,
    byKind,
    dep,
    pod: dep.spec.template.spec,
    server: dep.spec.template.spec.containers[0],
    init: dep.spec.template.spec.initContainers[0],
  };
}

const envMap = (env: Obj[]) => new Map(env.map((e) => [e.name, e.value]));

describe('renderManifests', () => {
  it.each([0, 1, 2, 5])('renders documents that pass the Kubernetes schemas and API server rules at %i replicas', (replicas) => {
    const { docs } = render({ replicas });
    expect(docs.length).toBeGreaterThanOrEqual(2);
    for (const doc of docs) {
      expect(() => validateDoc(doc)).not.toThrow();
      expect(apiServerProblems(doc)).toEqual([]);
    }
  });

  it('refuses to treat a kind it has no schema for as valid', () => {
    expect(() => validateDoc({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } })).toThrow(/no validator/);
  });

  it('renders documents the validator rejects once they are broken', () => {
    const { dep, docs } = render();
    const clone = () => JSON.parse(JSON.stringify(dep)) as Obj;

    const words = clone();
    words.spec.replicas = 'two';
    expect(() => validateDoc(words)).toThrow(/replicas must be integer/);

    const noContainers = clone();
    delete noContainers.spec.template.spec.containers;
    expect(() => validateDoc(noContainers)).toThrow(/containers/);

    const hugePort = clone();
    hugePort.spec.template.spec.containers[0].readinessProbe.httpGet.port = 2 ** 31;
    expect(() => validateDoc(hugePort)).toThrow(/readinessProbe\/httpGet\/port/);

    // The schema only says int32, so an out-of-range TCP port needs the local rule.
    const badPort = clone();
    badPort.spec.template.spec.containers[0].livenessProbe.httpGet.port = 70000;
    expect(() => validateDoc(badPort)).not.toThrow();
    expect(apiServerProblems(badPort)).toEqual([expect.stringMatching(/livenessProbe\/httpGet\/port out of range/)]);

    const quantity = clone();
    quantity.spec.template.spec.containers[0].resources.limits.memory = '512MB';
    expect(() => validateDoc(quantity)).toThrow(/limits\/memory/);

    const hpa = JSON.parse(JSON.stringify(docs.find((d) => d.kind === 'HorizontalPodAutoscaler'))) as Obj;
    delete hpa.spec.maxReplicas;
    expect(() => validateDoc(hpa)).toThrow(/maxReplicas/);
  });

  it('renders the Deployment with replicas, Guaranteed resources, probes and a locked-down pod', () => {
    const { dep, pod, server } = render();
    expect(dep.metadata.name).toBe('iris-classifier-v2');
    expect(dep.spec.replicas).toBe(3);
    expect(dep.metadata.annotations).toEqual({ 'neural-dsl.io/input-shape': '[4]', 'neural-dsl.io/output-kind': 'softmax' });
    expect(server.image).toBe('neural-dsl-platform:0.1.0');
    expect(server.command).toEqual(['node', 'dist/apps/serve/src/main.js']);
    expect(server.resources).toEqual({ limits: { cpu: '500m', memory: '512Mi' }, requests: { cpu: '500m', memory: '512Mi' } });
    expect(server.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      expect(server[probe].httpGet).toEqual({ path: '/health', port: 8080 });
    }
    expect(server.readinessProbe).toMatchObject({ initialDelaySeconds: 2, periodSeconds: 5 });
    expect(server.livenessProbe).toMatchObject({ initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3 });
    expect(pod.terminationGracePeriodSeconds).toBe(30);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    for (const c of [...pod.containers, ...pod.initContainers]) {
      expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(c.resources.limits).toEqual(c.resources.requests);
    }
    expect(server.volumeMounts).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'tmp', mountPath: '/tmp' })]));
    expect(pod.volumes).toEqual([
      { name: 'model', emptyDir: {} },
      { name: 'tmp', emptyDir: {} },
    ]);
  });

  it('passes the platform variables after the user environment so they win a clash', () => {
    const { server } = render({ environment: { LOG_LEVEL: 'debug', PORT: '1', RAW: '$(HOME)/x' } }, { port: 9000 });
    const env = envMap(server.env);
    expect(env.get('LOG_LEVEL')).toBe('debug');
    expect(env.get('MODEL_PATH')).toBe('/models/model.onnx');
    expect(env.get('PORT')).toBe('9000');
    expect(env.get('HEALTH_CHECK_PATH')).toBe('/health');
    expect(env.get('OUTPUT_KIND')).toBe('softmax');
    expect(env.get('SERVING_REPLICAS')).toBe('1');
    // `$$` is Kubernetes' escape, so the container sees `$(HOME)/x` unexpanded.
    expect(env.get('RAW')).toBe('$$(HOME)/x');
    expect(server.env.map((e: Obj) => e.name).indexOf('LOG_LEVEL')).toBeLessThan(server.env.map((e: Obj) => e.name).indexOf('MODEL_PATH'));
  });

  it('downloads the model in an init container with the key from the Secret, never in argv', () => {
    const { init, server, pod } = render();
    expect(init.image).toBe('curlimages/curl:8.11.1');
    expect(init.command).toEqual(['curl']);
    expect(init.args).toEqual(expect.arrayContaining(['-fsS', '--retry', '5', '-o', '/models/model.onnx']));
    expect(init.args.slice(-2)).toEqual(['--url', input().modelUrl]);
    expect(init.args).toContain('X-API-Key: {{NEURAL_API_KEY:trim}}');
    expect(init.args[init.args.indexOf('--variable') + 1]).toBe('%NEURAL_API_KEY');
    expect(init.env).toEqual([{ name: 'NEURAL_API_KEY', valueFrom: { secretKeyRef: { name: 'neural-api-key', key: 'api-key' } } }]);
    expect(init.volumeMounts).toEqual([{ name: 'model', mountPath: '/models' }]);
    expect(server.volumeMounts).toContainEqual({ name: 'model', mountPath: '/models', readOnly: true });
    expect(server.env.some((e: Obj) => e.valueFrom)).toBe(false);
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it('renders nothing that looks like an API key', () => {
    const { yaml, docs } = render({ environment: {} });
    expect(yaml).not.toContain(DEMO_API_KEY);
    expect(yaml).not.toMatch(/nk_[A-Za-z0-9_-]{16,}/);
    expect(yaml).not.toMatch(/\$\(NEURAL_API_KEY\)/);
    const values: string[] = [];
    const collect = (n: unknown): void => {
      if (typeof n === 'string') values.push(n);
      else if (n && typeof n === 'object') Object.values(n).forEach(collect);
    };
    docs.forEach(collect);
    // Base64 or hex runs of key length would be a leaked secret; ids and paths are shorter or dashed.
    expect(values.filter((v) => /[A-Za-z0-9+/_=]{32,}/.test(v))).toEqual([]);
  });

  it('starts with how to create the Secret and apply the file', () => {
    const { yaml } = render();
    const header = yaml.slice(0, yaml.indexOf('apiVersion'));
    expect(header).toMatch(/^# /);
    expect(header).toContain('kubectl create secret generic neural-api-key --from-literal=api-key=');
    expect(header).toContain('kubectl apply -f');
  });

  it('renders a ClusterIP Service on the port, targeting the named container port', () => {
    const [svc] = render().byKind('Service');
    expect(svc.spec.type).toBe('ClusterIP');
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }]);
  });

  it('labels every object and selects only its own pods', () => {
    const { docs, dep } = render();
    const labels = {
      'app.kubernetes.io/name': 'iris-classifier-v2',
      'app.kubernetes.io/part-of': 'neural-dsl-platform',
      'app.kubernetes.io/component': 'model-server',
      'neural-dsl.io/deployment-id': input().deploymentId,
      'neural-dsl.io/model-id': input().modelId,
    };
    for (const doc of docs) expect(doc.metadata.labels).toEqual(labels);
    expect(dep.spec.template.metadata.labels).toEqual(labels);
    const selector = { 'app.kubernetes.io/name': 'iris-classifier-v2', 'neural-dsl.io/deployment-id': input().deploymentId };
    expect(dep.spec.selector.matchLabels).toEqual(selector);
    expect(docs.find((d) => d.kind === 'Service')!.spec.selector).toEqual(selector);
  });

  it.each([
    [3, {}, 3, 6, 70],
    [1, {}, 1, 2, 70],
    [2, { max_replicas: 10, target_cpu_utilization: 50 }, 2, 10, 50],
    [4, { max_replicas: 2 }, 4, 4, 70],
  ])('autoscales %i replicas with %j between min %i and max %i at %i%% CPU', (replicas, config, min, max, cpu) => {
    const hpas = render({ replicas }, config).byKind('HorizontalPodAutoscaler');
    expect(hpas).toHaveLength(1);
    expect(hpas[0].spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'iris-classifier-v2' },
      minReplicas: min,
      maxReplicas: max,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: cpu } } }],
    });
  });

  it('leaves the autoscaler out of a paused deployment and says why', () => {
    const { yaml, byKind, dep } = render({ replicas: 0 });
    expect(dep.spec.replicas).toBe(0);
    expect(byKind('HorizontalPodAutoscaler')).toEqual([]);
    expect(byKind('PodDisruptionBudget')).toEqual([]);
    expect(yaml).toMatch(/^# No HorizontalPodAutoscaler: replicas is 0/m);
  });

  it.each([
    [0, 0],
    [1, 0],
    [2, 1],
    [7, 1],
  ])('renders a PodDisruptionBudget at %i replicas: %i', (replicas, count) => {
    const pdbs = render({ replicas }).byKind('PodDisruptionBudget');
    expect(pdbs).toHaveLength(count);
    if (count) expect(pdbs[0].spec).toEqual({ maxUnavailable: 1, selector: render().dep.spec.selector });
  });

  it.each<[string, Partial<ManifestInput>, Partial<ManifestInput['config']>]>([
    ['fractional replicas', { replicas: 1.5 }, {}],
    ['port 0', {}, { port: 0 }],
    ['an unparseable limit', {}, { memory_limit: '512MB' }],
    ['a relative probe path', {}, { health_check_path: 'health' }],
    ['a header with a colon', { apiKeyHeader: 'X-API-Key: x' }, {}],
    ['a Secret name spanning lines', { apiKeySecret: 'key\nkind: Secret' }, {}],
  ])('refuses %s', (_, over, config) => {
    expect(() => renderManifests(input(over, config))).toThrow(RangeError);
  });
});

describe('toK8sName', () => {
  it.each([
    ['my-model', 'my-model'],
    ['Iris_Classifier.v2', 'iris-classifier-v2'],
    ['model_', 'model'],
    ['a..b__c', 'a--b--c'],
    ['9lives', 'model-9lives'],
    ['___', 'model'],
    ['', 'model'],
    ['A'.repeat(63), 'a'.repeat(63)],
    [`x${'_'.repeat(61)}y`, `x${'-'.repeat(61)}y`],
    [`abc${'-'.repeat(58)}-_z`, 'abc'],
    ['7'.repeat(63), `model-${'7'.repeat(57)}`],
    ['Ünïcode ok', 'ncodeok'],
  ])('%j -> %j', (name, expected) => {
    const out = toK8sName(name);
    expect(out).toBe(expected);
    expect(out).toMatch(DNS1035_LABEL);
  });
});

describe('K8S_QUANTITY', () => {
  it.each(['512Mi', '2Gi', '1', '0.5', '.5', '500m', '1e3', '1E3', '1.5e-3', '1E', '100k', '250n', '10u', '1Ei', '5.', '01'])(
    'accepts %s',
    (q) => expect(q).toMatch(K8S_QUANTITY),
  );

  it.each(['', '0', '0.0', '0m', '0Gi', '-1', '+1', '512MB', '1K', '1ki', '1Y', '5d', '1e', '1e1.5', 'Mi', '1 Gi', ' 1', '1Gi\n', '.', '1..2', `${'1'.repeat(33)}`])(
    'rejects %j',
    (q) => expect(q).not.toMatch(K8S_QUANTITY),
  );
});
