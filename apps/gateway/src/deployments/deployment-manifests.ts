import { Document } from 'yaml';

/** What {@link renderManifests} needs to run one deployed model as its own Kubernetes service. */
export interface ManifestInput {
  deploymentId: string;
  /** The user's deployment_name, `/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/`; object names come from {@link toK8sName}. */
  name: string;
  modelId: string;
  /** 0 renders a paused Deployment with no autoscaler. */
  replicas: number;
  config: {
    memory_limit: string;
    cpu_limit: string;
    port: number;
    health_check_path: string;
    max_replicas?: number;
    target_cpu_utilization?: number;
  };
  /** Names already validated as `/^[A-Za-z_][A-Za-z0-9_]*$/`. */
  environment: Record<string, string>;
  /** The image running the model server, e.g. `neural-dsl-platform:0.1.0`. */
  image: string;
  /** Absolute URL the platform serves this deployment's ONNX file from; it needs the API key header. */
  modelUrl: string;
  apiKeyHeader: string;
  /** A Secret the user creates, holding the key under `api-key`; the key itself is never rendered. */
  apiKeySecret: string;
  outputKind: 'softmax' | 'sigmoid' | 'raw';
  /** Per instance; only rendered as an annotation. */
  inputShape: number[];
}

const PART_OF = 'neural-dsl-platform';
const CURL_IMAGE = 'curlimages/curl:8.11.1';
const MODEL_DIR = '/models';
const MODEL_PATH = `${MODEL_DIR}/model.onnx`;
const RUN_AS = 1000;
const DEFAULT_TARGET_CPU = 70;
const DNS1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * A positive Kubernetes resource quantity such as `512Mi`, `2Gi`, `1`, `0.5`, `500m` or `1e3`, at most 32 characters.
 * Follows apimachinery's grammar (suffixes `Ki..Ei`, `n u m k M G T P E`, or a decimal exponent) and, unlike it,
 * refuses signs and zero, which make no sense as a memory or CPU limit.
 */
export const K8S_QUANTITY = /^(?=.{1,32}$)(?![0.]*(?:[^0-9.]|$))(?:\d+(?:\.\d*)?|\.\d+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/;

/**
 * The deployment name as a Kubernetes object name: lowercase, `_` and `.` become `-`, ends trimmed to alphanumerics,
 * at most 63 characters, `model` when nothing is left. A name starting with a digit gets a `model-` prefix because
 * Service names must be DNS-1035 labels, a stricter form of DNS-1123. Not injective: `a_b` and `a.b` both give `a-b`.
 */
export function toK8sName(name: string): string {
  let s = name
    .toLowerCase()
    .replace(/[_.]/g, '-')
    .replace(/[^a-z0-9-]/g, '')
    .replace(/^-+/, '');
  if (/^[0-9]/.test(s)) s = `model-${s}`;
  s = s.slice(0, 63).replace(/-+$/, '');
  return s || 'model';
}

/** Kubernetes expands `$(VAR)` in env values and args; `$$` keeps every `$` literal. */
function literal(value: string): string {
  return value.replace(/\$/g, () => '$$');
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new RangeError(`Cannot render manifests: ${message}`);
}

/**
 * Renders multi-document YAML for one deployment: a Deployment, a ClusterIP Service, a CPU HorizontalPodAutoscaler
 * (left out at 0 replicas, where it would undo the pause) and a PodDisruptionBudget (only from 2 replicas).
 *
 * An init container fetches the ONNX file from `modelUrl` with the key from the `apiKeySecret` Secret; curl reads it
 * from its environment, so the key is in neither the manifest nor any process's arguments. The platform's own
 * variables (`MODEL_PATH`, `PORT`, `HEALTH_CHECK_PATH`, `OUTPUT_KIND`, `SERVING_REPLICAS`) come after the user's
 * `environment`, so on a name clash the platform's value wins; rejecting such names is the DTO's job. Every env
 * value is literal: `$(VAR)` is not expanded.
 *
 * @throws RangeError on input the DTO should have refused (replicas, port, limits, header, secret or probe path).
 */
export function renderManifests(input: ManifestInput): string {
  const { config } = input;
  check(Number.isInteger(input.replicas) && input.replicas >= 0, `replicas ${input.replicas} is not a whole number >= 0`);
  check(Number.isInteger(config.port) && config.port >= 1 && config.port <= 65535, `port ${config.port} is not in 1..65535`);
  check(K8S_QUANTITY.test(config.memory_limit), `memory_limit "${config.memory_limit}" is not a resource quantity`);
  check(K8S_QUANTITY.test(config.cpu_limit), `cpu_limit "${config.cpu_limit}" is not a resource quantity`);
  check(config.health_check_path.startsWith('/'), `health_check_path "${config.health_check_path}" does not start with /`);
  check(HTTP_TOKEN.test(input.apiKeyHeader), `"${input.apiKeyHeader}" is not an HTTP header name`);
  check(DNS1123_SUBDOMAIN.test(input.apiKeySecret), `"${input.apiKeySecret}" is not a valid Secret name`);

  const name = toK8sName(input.name);
  const labels = {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/part-of': PART_OF,
    'app.kubernetes.io/component': 'model-server',
    'neural-dsl.io/deployment-id': input.deploymentId,
    'neural-dsl.io/model-id': input.modelId,
  };
  // Selectors are immutable, so only labels that never change for this deployment.
  const selector = { 'app.kubernetes.io/name': name, 'neural-dsl.io/deployment-id': input.deploymentId };
  const metadata = { name, labels };
  const resources = {
    limits: { cpu: config.cpu_limit, memory: config.memory_limit },
    requests: { cpu: config.cpu_limit, memory: config.memory_limit },
  };
  const containerSecurity = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };
  const httpGet = { path: config.health_check_path, port: config.port };

  const env = [
    ...Object.entries(input.environment).map(([k, v]) => ({ name: k, value: literal(v) })),
    { name: 'MODEL_PATH', value: MODEL_PATH },
    { name: 'PORT', value: String(config.port) },
    { name: 'HEALTH_CHECK_PATH', value: literal(config.health_check_path) },
    { name: 'OUTPUT_KIND', value: input.outputKind },
    // Kubernetes scales by pods, so each pod serves with one worker.
    { name: 'SERVING_REPLICAS', value: '1' },
  ];

  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      ...metadata,
      annotations: {
        'neural-dsl.io/input-shape': JSON.stringify(input.inputShape),
        'neural-dsl.io/output-kind': input.outputKind,
      },
    },
    spec: {
      replicas: input.replicas,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          // Service links would inject variables for every Service in the namespace, possibly over the user's.
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 30,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: RUN_AS,
            runAsGroup: RUN_AS,
            fsGroup: RUN_AS,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          initContainers: [
            {
              name: 'fetch-model',
              image: CURL_IMAGE,
              command: ['curl'],
              // --variable/--expand-header (curl >= 8.3) keep the key out of argv, which any pod process can read.
              args: [
                '-fsS',
                '--retry', '5',
                '--retry-connrefused',
                '--variable', '%NEURAL_API_KEY',
                '--expand-header', literal(`${input.apiKeyHeader}: {{NEURAL_API_KEY:trim}}`),
                '-o', MODEL_PATH,
                '--url', literal(input.modelUrl),
              ],
              env: [{ name: 'NEURAL_API_KEY', valueFrom: { secretKeyRef: { name: input.apiKeySecret, key: 'api-key' } } }],
              // Same as the server's so the pod keeps Guaranteed QoS, which counts init containers too.
              resources,
              securityContext: containerSecurity,
              volumeMounts: [{ name: 'model', mountPath: MODEL_DIR }],
            },
          ],
          containers: [
            {
              name: 'model-server',
              image: input.image,
              command: ['node', 'dist/apps/serve/src/main.js'],
              env,
              ports: [{ name: 'http', containerPort: config.port, protocol: 'TCP' }],
              resources,
              securityContext: containerSecurity,
              startupProbe: { httpGet, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 60 },
              readinessProbe: { httpGet, initialDelaySeconds: 2, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
              livenessProbe: { httpGet, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
              volumeMounts: [
                { name: 'model', mountPath: MODEL_DIR, readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'model', emptyDir: {} },
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
    },
  };

  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata,
    spec: {
      type: 'ClusterIP',
      selector,
      ports: [{ name: 'http', port: config.port, targetPort: 'http', protocol: 'TCP' }],
    },
  };

  const docs = [deployment, service] as object[];
  let trailer: string | undefined;
  if (input.replicas === 0) {
    trailer = ' No HorizontalPodAutoscaler: replicas is 0 (paused), and an autoscaler would scale it back up.';
  } else {
    const minReplicas = Math.max(1, input.replicas);
    docs.push({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata,
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
        minReplicas,
        maxReplicas: Math.max(config.max_replicas ?? 2 * minReplicas, minReplicas),
        metrics: [
          {
            type: 'Resource',
            resource: {
              name: 'cpu',
              target: { type: 'Utilization', averageUtilization: config.target_cpu_utilization ?? DEFAULT_TARGET_CPU },
            },
          },
        ],
      },
    });
  }
  if (input.replicas >= 2) {
    docs.push({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata,
      spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
    });
  }

  const header = [
    ` Deployment "${input.name}" (${input.deploymentId}) of model ${input.modelId}.`,
    ' The pod downloads the model with an API key from a Secret, so create it first',
    ' (--from-file=api-key=<path> keeps the key out of shell history):',
    `   kubectl create secret generic ${input.apiKeySecret} --from-literal=api-key=<your API key>`,
    '   kubectl apply -f <this file>',
  ].join('\n');

  return docs
    .map((doc, i) => {
      const yaml = new Document(doc, { aliasDuplicateObjects: false });
      if (i === 0) yaml.commentBefore = header;
      if (i === docs.length - 1 && trailer) yaml.comment = trailer;
      return yaml.toString({ lineWidth: 0 });
    })
    .join('---\n');
}
