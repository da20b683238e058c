import { plainToInstance, Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, MinLength, validateSync } from 'class-validator';
import { isIP } from 'net';
import { availableParallelism } from 'os';
import { resolve } from 'path';

/** The development-only key of the seed's examples; refused in production. */
export const DEMO_API_KEY = 'demo_api_key_12345';
/** The seed's placeholder secret; the process refuses to start in production with it. */
export const DEFAULT_SECRET_KEY = 'your-secret-key-here';

/** Never echoed in a configuration error (it goes to the log). */
const SECRET_VARS = new Set(['SECRET_KEY', 'ADMIN_API_KEY', 'DATABASE_URL', 'REDIS_URL', 'CELERY_BROKER_URL', 'CELERY_RESULT_BACKEND']);

const bool = () => Transform(({ value }) => (value === undefined || value === '' ? undefined : ['1', 'true', 'yes', 'on'].includes(String(value).toLowerCase()) ? true : ['0', 'false', 'no', 'off'].includes(String(value).toLowerCase()) ? false : value));
const int = () => Transform(({ value }) => (value === undefined || value === '' ? undefined : /^-?\d+$/.test(String(value)) ? Number(value) : value));

/** Environment variables as read (strings converted and checked); see `.env.example` for each one's meaning. */
class EnvVars {
  @IsOptional() @IsIn(['development', 'test', 'production']) NODE_ENV?: string;
  @IsOptional() @bool() @IsBoolean() DEBUG?: boolean;
  @IsOptional() @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) LOG_LEVEL?: string;
  @IsOptional() @IsIn(['json', 'pretty']) LOG_FORMAT?: string;
  @IsOptional() @IsString() API_HOST?: string;
  @IsOptional() @int() @IsInt() @Min(0) @Max(65535) API_PORT?: number;
  @IsOptional() @int() @IsInt() @Min(1) @Max(64) API_WORKERS?: number;
  @IsOptional() @int() @IsInt() @Min(0) GATEWAY_SHUTDOWN_TIMEOUT_MS?: number;

  @IsOptional() @IsString() @MinLength(16) SECRET_KEY?: string;
  @IsOptional() @Matches(/^[\x21-\x7e]{32,512}$/, { message: 'ADMIN_API_KEY must be 32 to 512 printable characters without spaces' }) ADMIN_API_KEY?: string;
  @IsOptional() @Matches(/^[A-Za-z0-9-]{1,64}$/) API_KEY_HEADER?: string;
  @IsOptional() @int() @IsInt() @Min(60) @Max(86400) JWT_EXPIRES_IN?: number;

  @IsOptional() @bool() @IsBoolean() RATE_LIMIT_ENABLED?: boolean;
  @IsOptional() @int() @IsInt() @Min(1) RATE_LIMIT_REQUESTS?: number;
  @IsOptional() @int() @IsInt() @Min(1) RATE_LIMIT_PERIOD?: number;
  @IsOptional() @int() @IsInt() @Min(1) RATE_LIMIT_EXPENSIVE_REQUESTS?: number;
  @IsOptional() @int() @IsInt() @Min(1) RATE_LIMIT_EXPENSIVE_PERIOD?: number;
  @IsOptional() @int() @IsInt() @Min(1) @Max(100_000) AUTH_FAILURE_LIMIT?: number;
  @IsOptional() @int() @IsInt() @Min(1) @Max(86_400) AUTH_FAILURE_PERIOD?: number;
  @IsOptional() @int() @IsInt() @Min(100) @Max(10_000_000) RATE_LIMIT_MAX_TRACKED?: number;
  // Parsed by parseTrustProxy (boolean, hop count or address list).
  @IsOptional() @IsString() TRUST_PROXY?: string;

  @IsOptional() @Matches(/^postgres(ql)?:\/\//) DATABASE_URL?: string;
  @IsOptional() @Matches(/^rediss?:\/\//) REDIS_URL?: string;
  @IsOptional() @IsString() REDIS_HOST?: string;
  @IsOptional() @int() @IsInt() @Min(1) @Max(65535) REDIS_PORT?: number;
  @IsOptional() @Matches(/^rediss?:\/\//) CELERY_BROKER_URL?: string;
  @IsOptional() @Matches(/^rediss?:\/\//) CELERY_RESULT_BACKEND?: string;
  @IsOptional() @Matches(/^[A-Za-z0-9_.-]{1,64}$/) REDIS_KEY_PREFIX?: string;
  @IsOptional() @int() @IsInt() @Min(100) @Max(60_000) REDIS_COMMAND_TIMEOUT_MS?: number;

  @IsOptional() @IsString() STORAGE_PATH?: string;
  @IsOptional() @IsString() EXPERIMENTS_PATH?: string;
  @IsOptional() @IsString() MODELS_PATH?: string;

  @IsOptional() @IsString() CORS_ORIGINS?: string;
  @IsOptional() @IsString() UI_PATH?: string;
  @IsOptional() @Matches(/^\d+(b|kb|mb)$/i) BODY_LIMIT?: string;

  @IsOptional() @int() @IsInt() @Min(1) @Max(64) WORKER_CONCURRENCY?: number;
  @IsOptional() @int() @IsInt() @Min(1) JOB_STALL_TIMEOUT?: number;
  @IsOptional() @int() @IsInt() @Min(1) RECONCILE_INTERVAL?: number;
  @IsOptional() @int() @IsInt() @Min(0) @Max(100) JOB_MAX_ATTEMPTS?: number;
  @IsOptional() @int() @IsInt() @Min(1) COMPILE_TIMEOUT_MS?: number;
  @IsOptional() @int() @IsInt() @Min(0) WORKER_SHUTDOWN_TIMEOUT_MS?: number;
  @IsOptional() @int() @IsInt() @Min(0) @Max(65535) WORKER_METRICS_PORT?: number;

  @IsOptional() @int() @IsInt() @Min(1) @Max(64) WORKER_TRAINING_CONCURRENCY?: number;
  @IsOptional() @IsIn(['auto', 'tensorflow', 'wasm', 'cpu']) TRAINING_BACKEND?: string;
  @IsOptional() @IsString() PYTHON_BIN?: string;
  @IsOptional() @int() @IsInt() @Min(1) @Max(100_000) TRAINING_MAX_EPOCHS?: number;
  @IsOptional() @int() @IsInt() @Min(1) @Max(1_000_000) TRAINING_MAX_BATCH_SIZE?: number;
  // Node timers overflow past 2^31 - 1 ms (about 24.8 days).
  @IsOptional() @int() @IsInt() @Min(1) @Max(2_000_000) TRAINING_TIMEOUT_SECONDS?: number;
  @IsOptional() @int() @IsInt() @Min(256) @Max(65_536) TRAINING_MAX_HEAP_MB?: number;

  @IsOptional() @int() @IsInt() @Min(1) @Max(10_000) HPO_MAX_TRIALS?: number;
  @IsOptional() @int() @IsInt() @Min(1) @Max(1_000) HPO_MAX_PARALLELISM?: number;
  @IsOptional() @int() @IsInt() @Min(1) @Max(1_000) HPO_WORKER_SWEEPS?: number;
  @IsOptional() @int() @IsInt() @Min(100) @Max(60_000) HPO_POLL_MS?: number;

  @IsOptional() @IsString() DATASETS_PATH?: string;
  @IsOptional() @IsString() FASHION_MNIST_PATH?: string;
  @IsOptional() @int() @IsInt() @Min(1024) DATASET_MAX_UPLOAD_BYTES?: number;
  @IsOptional() @int() @IsInt() @Min(2) DATASET_MAX_SAMPLES?: number;
  @IsOptional() @int() @IsInt() @Min(1) DATASET_MAX_FEATURES?: number;

  @IsOptional() @bool() @IsBoolean() WEBHOOK_ALLOW_PRIVATE?: boolean;
  @IsOptional() @int() @IsInt() @Min(5) @Max(20) WEBHOOK_MAX_ATTEMPTS?: number;
  @IsOptional() @int() @IsInt() @Min(10) WEBHOOK_BACKOFF_MS?: number;
  @IsOptional() @int() @IsInt() @Min(100) @Max(60_000) WEBHOOK_TIMEOUT_MS?: number;

  @IsOptional() @int() @IsInt() @Min(2) @Max(100) COMPARE_MAX_EXPERIMENTS?: number;

  @IsOptional() @int() @IsInt() @Min(1) @Max(3650) AUDIT_RETENTION_DAYS?: number;

  @IsOptional() @int() @IsInt() @Min(1) @Max(8760) IDEMPOTENCY_TTL_HOURS?: number;
  @IsOptional() @int() @IsInt() @Min(1) @Max(3600) IDEMPOTENCY_LOCK_SECONDS?: number;

  @IsOptional() @IsString() DEPLOYMENTS_PATH?: string;
  @IsOptional() @int() @IsInt() @Min(1) @Max(64) DEPLOYMENT_MAX_REPLICAS?: number;
  @IsOptional() @int() @IsInt() @Min(1) @Max(100_000) PREDICT_MAX_BATCH?: number;
  @IsOptional() @Matches(/^\d+(b|kb|mb)$/i) PREDICT_BODY_LIMIT?: string;
  @IsOptional() @int() @IsInt() @Min(10) @Max(600_000) PREDICT_TIMEOUT_MS?: number;
  @IsOptional() @int() @IsInt() @Min(1) @Max(10_000) SERVING_QUEUE_PER_REPLICA?: number;
  @IsOptional() @int() @IsInt() @Min(1) @Max(64) SERVING_THREADS_PER_REPLICA?: number;
  @IsOptional() @int() @IsInt() @Min(1) @Max(1000) SERVING_MAX_MODELS?: number;
  @IsOptional() @int() @IsInt() @Min(100) @Max(60_000) SERVING_SYNC_INTERVAL_MS?: number;
  @IsOptional() @Matches(/^[a-z0-9][a-z0-9._\/:@-]{0,254}$/) SERVING_IMAGE?: string;
  @IsOptional() @Matches(/^https?:\/\/[^\s]+$/) PUBLIC_URL?: string;
}

export interface AppConfig {
  env: 'development' | 'test' | 'production';
  debug: boolean;
  /** pino's level and output: JSON lines, or human-readable (development). */
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'; format: 'json' | 'pretty' };
  /** `embedded`: SQLite + in-process queue, gateway and worker in one process; `distributed`: PostgreSQL + Redis. */
  mode: 'embedded' | 'distributed';
  http: {
    host: string;
    port: number;
    workers: number;
    /** On SIGTERM, how long in-flight requests may take before the process exits anyway. */
    shutdownTimeoutMs: number;
    corsOrigins: string[];
    bodyLimit: string;
    /** Express's `trust proxy`: which hops' X-Forwarded-For to believe (false: none, the socket address is the client). */
    trustProxy: boolean | number | string[];
    /** The dashboard's static build (`npm run build:ui`), served at /ui. */
    uiPath: string;
  };
  auth: {
    secretKey: string;
    apiKeyHeader: string;
    jwtExpiresIn: number;
    demoKeyEnabled: boolean;
    /** An administrator key made sure of at boot (its tenant is `admin`). */
    adminApiKey?: string;
  };
  rateLimit: {
    enabled: boolean;
    limit: number;
    periodSeconds: number;
    /** The budget of the routes marked `@ExpensiveRoute()` (compile, train, predict), per tenant. */
    expensiveLimit: number;
    expensivePeriodSeconds: number;
    /** Failed authentications per client address (IPv6: per /64) per period before it is refused with 429s. */
    authFailureLimit: number;
    authFailurePeriodSeconds: number;
    /** Clients (keys, tenants, addresses) whose counters a gateway keeps in memory at most; the oldest go first. */
    maxTrackedClients: number;
  };
  database: { url?: string; sqlitePath: string };
  /**
   * `prefix` starts every key of the queues, events, heartbeat and rate limits: deployments sharing a Redis keep apart.
   * `commandTimeoutMs`: how long a queue call waits for a Redis that is connected but slow.
   */
  redis: { url?: string; prefix: string; commandTimeoutMs: number };
  storage: { root: string; experimentsPath: string; modelsPath: string; datasetsPath: string; deploymentsPath: string };
  queue: { concurrency: number; stallTimeoutSeconds: number; reconcileIntervalSeconds: number; maxAttempts: number; compileTimeoutMs: number; shutdownTimeoutMs: number; metricsPort: number | null };
  training: {
    /** Trainings a worker runs at once, each in its own process (one per core by default). */
    concurrency: number;
    backend: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
    /** Python with PyTorch for `backend: pytorch` jobs; found automatically when unset. */
    pythonBin?: string;
    maxEpochs: number;
    maxBatchSize: number;
    timeoutSeconds: number;
    /** V8 heap limit of a training process. */
    maxHeapMb: number;
  };
  /**
   * Sweeps: at most `maxTrials` trials and `maxParallelism` at once per sweep; a worker coordinates up to
   * `workerSweeps` sweeps at once (cheap: waiting, not training) and re-reads each every `pollMs`.
   */
  hpo: { maxTrials: number; maxParallelism: number; workerSweeps: number; pollMs: number };
  datasets: { fashionMnistPath: string; maxUploadBytes: number; maxSamples: number; maxFeatures: number };
  webhooks: { allowPrivate: boolean; maxAttempts: number; backoffMs: number; timeoutMs: number };
  experiments: { compareMax: number };
  /** Audit events older than this are deleted (hourly). */
  audit: { retentionDays: number };
  /**
   * `Idempotency-Key` on create calls: how long an answer is replayed, and how long a request may hold its key before
   * another may take it over (its gateway is presumed dead).
   */
  idempotency: { ttlHours: number; lockSeconds: number };
  serving: {
    maxReplicas: number;
    /** Instances per predict request. */
    maxBatch: number;
    /** JSON body limit of the predict route (the other routes keep BODY_LIMIT). */
    bodyLimit: string;
    timeoutMs: number;
    /** Requests waiting or running per serving worker before predict answers 503. */
    queuePerReplica: number;
    /** ONNX Runtime intra-op threads of each serving worker. */
    threadsPerReplica: number;
    /** Deployments a gateway keeps loaded at once; the least recently used beyond it are unloaded. */
    maxModels: number;
    /** How often a gateway re-reads the deployments it serves (scale and delete on other gateways reach it then). */
    syncIntervalMs: number;
    /** The model-server image of generated Kubernetes manifests. */
    image: string;
    /** This platform's base URL as the manifests' model download reaches it. */
    publicUrl: string;
  };
}

/** A configuration problem, naming the variable; the process prints it and exits before anything starts. */
export class ConfigError extends Error {}

/** Reads and validates the environment. Throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  // An empty variable (`DATABASE_URL=` in a compose file) means unset.
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const vars = plainToInstance(EnvVars, set, { excludeExtraneousValues: false });
  const errors = validateSync(vars, { skipMissingProperties: false, whitelist: false });
  if (errors.length) {
    const lines = errors.map((e) => `${e.property}=${SECRET_VARS.has(e.property) ? '(hidden)' : JSON.stringify(env[e.property])}: ${Object.values(e.constraints ?? {}).join('; ')}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const nodeEnv = (vars.NODE_ENV ?? 'development') as AppConfig['env'];
  const secretKey = vars.SECRET_KEY ?? DEFAULT_SECRET_KEY;
  if (nodeEnv === 'production' && secretKey === DEFAULT_SECRET_KEY) {
    throw new ConfigError('invalid configuration:\n  SECRET_KEY: must be set to a strong secret (16+ characters) in production');
  }
  const redisUrl = vars.REDIS_URL ?? vars.CELERY_BROKER_URL ?? (set.REDIS_HOST || set.REDIS_PORT ? `redis://${vars.REDIS_HOST ?? 'localhost'}:${vars.REDIS_PORT ?? 6379}` : undefined);
  const databaseUrl = vars.DATABASE_URL;
  if (Boolean(redisUrl) !== Boolean(databaseUrl)) {
    throw new ConfigError(
      `invalid configuration:\n  ${databaseUrl ? 'REDIS_URL' : 'DATABASE_URL'}: distributed mode needs both DATABASE_URL and REDIS_URL (set neither for the embedded mode)`,
    );
  }
  if (!databaseUrl && (vars.API_WORKERS ?? 1) > 1) {
    throw new ConfigError('invalid configuration:\n  API_WORKERS: more than one gateway process needs the distributed mode (DATABASE_URL and REDIS_URL); the embedded database and queue live in one process');
  }
  const root = resolve(vars.STORAGE_PATH ?? './neural_storage');
  return {
    env: nodeEnv,
    debug: vars.DEBUG ?? false,
    log: {
      level: (vars.LOG_LEVEL ?? (vars.DEBUG ? 'debug' : 'info')) as AppConfig['log']['level'],
      format: (vars.LOG_FORMAT ?? (nodeEnv === 'development' && process.stdout.isTTY ? 'pretty' : 'json')) as AppConfig['log']['format'],
    },
    mode: databaseUrl ? 'distributed' : 'embedded',
    http: {
      host: vars.API_HOST ?? '0.0.0.0',
      port: vars.API_PORT ?? 8000,
      workers: vars.API_WORKERS ?? 1,
      shutdownTimeoutMs: vars.GATEWAY_SHUTDOWN_TIMEOUT_MS ?? 10_000,
      corsOrigins: parseOrigins(vars.CORS_ORIGINS),
      bodyLimit: vars.BODY_LIMIT ?? '1mb',
      trustProxy: parseTrustProxy(vars.TRUST_PROXY),
      uiPath: resolve(vars.UI_PATH ?? 'dist/ui'),
    },
    auth: {
      secretKey,
      apiKeyHeader: vars.API_KEY_HEADER ?? 'X-API-Key',
      jwtExpiresIn: vars.JWT_EXPIRES_IN ?? 3600,
      demoKeyEnabled: nodeEnv !== 'production',
      adminApiKey: vars.ADMIN_API_KEY,
    },
    rateLimit: {
      enabled: vars.RATE_LIMIT_ENABLED ?? true,
      limit: vars.RATE_LIMIT_REQUESTS ?? 100,
      periodSeconds: vars.RATE_LIMIT_PERIOD ?? 60,
      expensiveLimit: vars.RATE_LIMIT_EXPENSIVE_REQUESTS ?? 20,
      expensivePeriodSeconds: vars.RATE_LIMIT_EXPENSIVE_PERIOD ?? 60,
      authFailureLimit: vars.AUTH_FAILURE_LIMIT ?? 20,
      authFailurePeriodSeconds: vars.AUTH_FAILURE_PERIOD ?? 300,
      maxTrackedClients: vars.RATE_LIMIT_MAX_TRACKED ?? 100_000,
    },
    database: { url: databaseUrl, sqlitePath: resolve(root, 'neural.db') },
    redis: { url: redisUrl, prefix: vars.REDIS_KEY_PREFIX ?? 'neural', commandTimeoutMs: vars.REDIS_COMMAND_TIMEOUT_MS ?? 5000 },
    storage: {
      root,
      experimentsPath: resolve(vars.EXPERIMENTS_PATH ?? resolve(root, 'experiments')),
      modelsPath: resolve(vars.MODELS_PATH ?? resolve(root, 'models')),
      datasetsPath: resolve(vars.DATASETS_PATH ?? resolve(root, 'datasets')),
      deploymentsPath: resolve(vars.DEPLOYMENTS_PATH ?? resolve(root, 'deployments')),
    },
    queue: {
      concurrency: vars.WORKER_CONCURRENCY ?? 2,
      stallTimeoutSeconds: vars.JOB_STALL_TIMEOUT ?? 120,
      reconcileIntervalSeconds: vars.RECONCILE_INTERVAL ?? 30,
      maxAttempts: vars.JOB_MAX_ATTEMPTS ?? 3,
      compileTimeoutMs: vars.COMPILE_TIMEOUT_MS ?? 10_000,
      shutdownTimeoutMs: vars.WORKER_SHUTDOWN_TIMEOUT_MS ?? 30_000,
      metricsPort: vars.WORKER_METRICS_PORT || null,
    },
    training: {
      concurrency: vars.WORKER_TRAINING_CONCURRENCY ?? availableParallelism(),
      backend: (vars.TRAINING_BACKEND ?? 'auto') as AppConfig['training']['backend'],
      pythonBin: vars.PYTHON_BIN,
      maxEpochs: vars.TRAINING_MAX_EPOCHS ?? 1000,
      maxBatchSize: vars.TRAINING_MAX_BATCH_SIZE ?? 4096,
      timeoutSeconds: vars.TRAINING_TIMEOUT_SECONDS ?? 86_400,
      maxHeapMb: vars.TRAINING_MAX_HEAP_MB ?? 4096,
    },
    hpo: {
      maxTrials: vars.HPO_MAX_TRIALS ?? 100,
      maxParallelism: vars.HPO_MAX_PARALLELISM ?? 16,
      workerSweeps: vars.HPO_WORKER_SWEEPS ?? 16,
      pollMs: vars.HPO_POLL_MS ?? 1000,
    },
    datasets: {
      fashionMnistPath: resolve(vars.FASHION_MNIST_PATH ?? '/usr/share/datasets/fashion-mnist'),
      maxUploadBytes: vars.DATASET_MAX_UPLOAD_BYTES ?? 100 * 1024 * 1024,
      maxSamples: vars.DATASET_MAX_SAMPLES ?? 1_000_000,
      maxFeatures: vars.DATASET_MAX_FEATURES ?? 65_536,
    },
    webhooks: {
      // Private targets are how one tests webhooks locally; in production they are how one attacks the network behind us.
      allowPrivate: vars.WEBHOOK_ALLOW_PRIVATE ?? nodeEnv !== 'production',
      maxAttempts: vars.WEBHOOK_MAX_ATTEMPTS ?? 6,
      backoffMs: vars.WEBHOOK_BACKOFF_MS ?? 1000,
      timeoutMs: vars.WEBHOOK_TIMEOUT_MS ?? 5000,
    },
    experiments: { compareMax: vars.COMPARE_MAX_EXPERIMENTS ?? 20 },
    audit: { retentionDays: vars.AUDIT_RETENTION_DAYS ?? 90 },
    idempotency: { ttlHours: vars.IDEMPOTENCY_TTL_HOURS ?? 24, lockSeconds: vars.IDEMPOTENCY_LOCK_SECONDS ?? 60 },
    serving: {
      maxReplicas: vars.DEPLOYMENT_MAX_REPLICAS ?? 8,
      maxBatch: vars.PREDICT_MAX_BATCH ?? 256,
      bodyLimit: vars.PREDICT_BODY_LIMIT ?? '8mb',
      timeoutMs: vars.PREDICT_TIMEOUT_MS ?? 10_000,
      queuePerReplica: vars.SERVING_QUEUE_PER_REPLICA ?? 64,
      threadsPerReplica: vars.SERVING_THREADS_PER_REPLICA ?? 1,
      maxModels: vars.SERVING_MAX_MODELS ?? 16,
      syncIntervalMs: vars.SERVING_SYNC_INTERVAL_MS ?? 1000,
      image: vars.SERVING_IMAGE ?? 'neural-dsl-platform:0.1.0',
      publicUrl: (vars.PUBLIC_URL ?? `http://localhost:${vars.API_PORT ?? 8000}`).replace(/\/+$/, ''),
    },
  };
}

/** For a process's entry point: the configuration, or the ConfigError printed and exit code 1. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): AppConfig {
  try {
    return loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
}

/** `CORS_ORIGINS` as a JSON array (the seed's form) or a comma-separated list. */
function parseOrigins(raw: string | undefined): string[] {
  if (!raw) return ['http://localhost:3000', 'http://localhost:8000'];
  const text = raw.trim();
  if (text.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ConfigError(`invalid configuration:\n  CORS_ORIGINS=${JSON.stringify(raw)}: not valid JSON; use ["https://a", "https://b"] or a comma list`);
    }
    if (!Array.isArray(parsed) || !parsed.every((o) => typeof o === 'string')) {
      throw new ConfigError(`invalid configuration:\n  CORS_ORIGINS=${JSON.stringify(raw)}: must be an array of origin strings`);
    }
    return parsed;
  }
  return text.split(',').map((o) => o.trim()).filter(Boolean);
}
export * from './app-config.module';

const TRUST_PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** `TRUST_PROXY` as Express's `trust proxy` takes it: true/false, a hop count, or a comma list of addresses, CIDRs and names. */
function parseTrustProxy(raw: string | undefined): boolean | number | string[] {
  const text = raw?.trim().toLowerCase();
  if (!text || ['0', 'false', 'no', 'off'].includes(text)) return false;
  if (['true', 'yes', 'on'].includes(text)) return true;
  if (/^\d+$/.test(text)) return Number(text);
  const entries = text.split(',').map((e) => e.trim()).filter(Boolean);
  const bad = entries.filter((e) => !TRUST_PROXY_NAMES.has(e) && !isAddressOrCidr(e));
  if (bad.length || !entries.length) {
    throw new ConfigError(
      `invalid configuration:\n  TRUST_PROXY=${JSON.stringify(raw)}: expected true, false, a hop count, or a comma list of addresses, CIDRs, loopback, linklocal, uniquelocal${bad.length ? ` (not understood: ${bad.join(', ')})` : ''}`,
    );
  }
  return entries;
}

function isAddressOrCidr(entry: string): boolean {
  const [address, bits, ...rest] = entry.split('/');
  const version = isIP(address);
  if (!version || rest.length) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128);
}
