/** Settings of the standalone model server, all from the environment. */
export interface ServeConfig {
  modelPath: string;
  port: number;
  host: string;
  healthCheckPath: string;
  replicas: number;
  intraOpThreads: number;
  maxQueuePerReplica: number;
  timeoutMs: number;
  maxBatch: number;
  bodyLimitBytes: number;
  outputKind: 'softmax' | 'sigmoid' | 'raw';
}

/** Every problem found in the environment, one line per variable. */
export class ServeConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ServeConfigError';
  }
}

const OUTPUT_KINDS = ['softmax', 'sigmoid', 'raw'] as const;

/** Reads and validates the environment; throws ServeConfigError naming each bad variable. */
export function loadServeConfig(env: NodeJS.ProcessEnv): ServeConfig {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
      problems.push(`${name}=${raw} must be an integer ${range} (default ${fallback})`);
      return fallback;
    }
    return n;
  };
  const modelPath = env.MODEL_PATH ?? '';
  if (!modelPath) problems.push('MODEL_PATH is required: the path of the .onnx model to serve');
  const healthCheckPath = env.HEALTH_CHECK_PATH || '/health';
  if (!healthCheckPath.startsWith('/') || healthCheckPath === '/predict') {
    problems.push(`HEALTH_CHECK_PATH=${healthCheckPath} must be a path starting with / other than /predict (default /health)`);
  }
  const outputKind = env.OUTPUT_KIND || 'raw';
  if (!(OUTPUT_KINDS as readonly string[]).includes(outputKind)) problems.push(`OUTPUT_KIND=${outputKind} must be one of ${OUTPUT_KINDS.join(', ')} (default raw)`);
  const config: ServeConfig = {
    modelPath,
    port: int('PORT', 8000, 0, 65535),
    host: env.HOST || '0.0.0.0',
    healthCheckPath,
    replicas: int('SERVING_REPLICAS', 1, 1, 64),
    intraOpThreads: int('SERVING_INTRA_OP_THREADS', 1, 1, 64),
    maxQueuePerReplica: int('SERVING_MAX_QUEUE_PER_REPLICA', 64, 1),
    timeoutMs: int('SERVING_TIMEOUT_MS', 10_000, 1),
    maxBatch: int('PREDICT_MAX_BATCH', 256, 1),
    bodyLimitBytes: int('BODY_LIMIT_BYTES', 8 * 1024 * 1024, 1),
    outputKind: outputKind as ServeConfig['outputKind'],
  };
  if (problems.length) throw new ServeConfigError(problems);
  return config;
}
