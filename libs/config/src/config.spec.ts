import { ConfigError, DEFAULT_SECRET_KEY, loadConfig } from './index';

const load = (env: Record<string, string>) => loadConfig(env as NodeJS.ProcessEnv);
const problem = (env: Record<string, string>): string => {
  try {
    load(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig', () => {
  it('defaults to the embedded mode with the seed defaults', () => {
    const c = load({});
    expect(c).toMatchObject({
      env: 'development',
      mode: 'embedded',
      http: { host: '0.0.0.0', port: 8000, workers: 1, corsOrigins: ['http://localhost:3000', 'http://localhost:8000'] },
      auth: { secretKey: DEFAULT_SECRET_KEY, apiKeyHeader: 'X-API-Key', demoKeyEnabled: true },
      rateLimit: { enabled: true, limit: 100, periodSeconds: 60 },
    });
    expect(c.database.sqlitePath).toMatch(/neural_storage\/neural\.db$/);
  });

  it('goes distributed with both URLs, and accepts the seed names for Redis', () => {
    expect(load({ DATABASE_URL: 'postgres://u@h/db', REDIS_URL: 'redis://h:6379/1' })).toMatchObject({ mode: 'distributed', redis: { url: 'redis://h:6379/1' } });
    expect(load({ DATABASE_URL: 'postgres://u@h/db', CELERY_BROKER_URL: 'redis://b:6379/0' }).redis.url).toBe('redis://b:6379/0');
    expect(load({ DATABASE_URL: 'postgres://u@h/db', REDIS_HOST: 'r', REDIS_PORT: '6380' }).redis.url).toBe('redis://r:6380');
  });

  it('treats empty variables as unset', () => {
    expect(load({ DATABASE_URL: '', REDIS_URL: '', API_PORT: '' })).toMatchObject({ mode: 'embedded', http: { port: 8000 } });
  });

  it('names every bad variable', () => {
    const msg = problem({ API_PORT: 'eighty', RATE_LIMIT_ENABLED: 'maybe', DATABASE_URL: 'mysql://x' });
    expect(msg).toContain('API_PORT="eighty"');
    expect(msg).toContain('RATE_LIMIT_ENABLED="maybe"');
    expect(msg).toContain('DATABASE_URL=(hidden)');
  });

  it('never echoes a secret in its errors', () => {
    let msg = '';
    try {
      loadConfig({ SECRET_KEY: 'short-secret', ADMIN_API_KEY: 'tiny admin key', DATABASE_URL: 'mysql://user:hunter2@db/x' });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/SECRET_KEY=\(hidden\)/);
    expect(msg).toMatch(/ADMIN_API_KEY=\(hidden\): ADMIN_API_KEY must be 32 to 512 printable characters/);
    for (const secret of ['short-secret', 'tiny admin key', 'hunter2']) expect(msg).not.toContain(secret);
  });

  it('refuses half a distributed setup, several embedded gateways and the default secret in production', () => {
    expect(problem({ DATABASE_URL: 'postgres://u@h/db' })).toContain('REDIS_URL');
    expect(problem({ REDIS_URL: 'redis://h' })).toContain('DATABASE_URL');
    expect(problem({ API_WORKERS: '2' })).toContain('API_WORKERS');
    expect(problem({ NODE_ENV: 'production' })).toContain('SECRET_KEY');
    expect(load({ NODE_ENV: 'production', SECRET_KEY: 'a-long-enough-production-secret' }).auth.demoKeyEnabled).toBe(false);
  });

  it('reads CORS_ORIGINS as a JSON array or a comma list', () => {
    expect(load({ CORS_ORIGINS: '["https://a.example","https://b.example"]' }).http.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(load({ CORS_ORIGINS: 'https://a.example, https://b.example' }).http.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(problem({ CORS_ORIGINS: '["https://a.example"' })).toContain('CORS_ORIGINS');
  });

  it('reads the training, dataset, webhook and experiment settings, with defaults', () => {
    const c = load({});
    expect(c.training).toMatchObject({ backend: 'auto', maxEpochs: 1000, maxBatchSize: 4096, timeoutSeconds: 86_400, maxHeapMb: 4096 });
    expect(c.training.concurrency).toBeGreaterThanOrEqual(1);
    expect(c.training.pythonBin).toBeUndefined();
    expect(c.datasets).toMatchObject({ fashionMnistPath: '/usr/share/datasets/fashion-mnist', maxUploadBytes: 100 * 1024 * 1024, maxSamples: 1_000_000, maxFeatures: 65_536 });
    expect(c.storage.datasetsPath).toMatch(/neural_storage\/datasets$/);
    expect(c.webhooks).toEqual({ allowPrivate: true, maxAttempts: 6, backoffMs: 1000, timeoutMs: 5000 });
    expect(c.experiments.compareMax).toBe(20);
    expect(c.redis.prefix).toBe('neural');
    const set = load({ WORKER_TRAINING_CONCURRENCY: '3', TRAINING_BACKEND: 'cpu', PYTHON_BIN: '/opt/py/bin/python', WEBHOOK_MAX_ATTEMPTS: '8', REDIS_KEY_PREFIX: 'staging' });
    expect(set.training).toMatchObject({ concurrency: 3, backend: 'cpu', pythonBin: '/opt/py/bin/python' });
    expect(set.webhooks.maxAttempts).toBe(8);
    expect(set.redis.prefix).toBe('staging');
  });

  it('reads the serving settings, with defaults, and names bad ones', () => {
    const c = load({});
    expect(c.serving).toEqual({
      maxReplicas: 8,
      maxBatch: 256,
      bodyLimit: '8mb',
      timeoutMs: 10_000,
      queuePerReplica: 64,
      threadsPerReplica: 1,
      maxModels: 16,
      syncIntervalMs: 1000,
      image: 'neural-dsl-platform:0.1.0',
      publicUrl: 'http://localhost:8000',
    });
    expect(c.storage.deploymentsPath).toMatch(/neural_storage\/deployments$/);
    const set = load({ DEPLOYMENT_MAX_REPLICAS: '2', PREDICT_MAX_BATCH: '64', PUBLIC_URL: 'https://ml.example.com/', SERVING_IMAGE: 'registry.example.com/neural:1.2', DEPLOYMENTS_PATH: '/srv/deployments' });
    expect(set.serving).toMatchObject({ maxReplicas: 2, maxBatch: 64, publicUrl: 'https://ml.example.com', image: 'registry.example.com/neural:1.2' });
    expect(set.storage.deploymentsPath).toBe('/srv/deployments');
    const bads: Array<Record<string, string>> = [{ DEPLOYMENT_MAX_REPLICAS: '0' }, { PREDICT_MAX_BATCH: 'many' }, { PUBLIC_URL: 'ftp://x' }, { SERVING_SYNC_INTERVAL_MS: '5' }, { PREDICT_BODY_LIMIT: '8 gigs' }];
    for (const bad of bads) {
      expect(problem(bad)).toContain(Object.keys(bad)[0]);
    }
  });

  it('reads the idempotency settings, with defaults, and names bad ones', () => {
    expect(load({}).idempotency).toEqual({ ttlHours: 24, lockSeconds: 60 });
    expect(load({ IDEMPOTENCY_TTL_HOURS: '48', IDEMPOTENCY_LOCK_SECONDS: '5' }).idempotency).toEqual({ ttlHours: 48, lockSeconds: 5 });
    const bads: Array<Record<string, string>> = [{ IDEMPOTENCY_TTL_HOURS: '0' }, { IDEMPOTENCY_LOCK_SECONDS: 'soon' }, { IDEMPOTENCY_LOCK_SECONDS: '3601' }];
    for (const bad of bads) {
      expect(problem(bad)).toContain(Object.keys(bad)[0]);
    }
  });

  it('refuses private webhook targets by default in production only, and names bad training settings', () => {
    expect(load({ NODE_ENV: 'production', SECRET_KEY: 'a-long-enough-production-secret' }).webhooks.allowPrivate).toBe(false);
    expect(load({ NODE_ENV: 'production', SECRET_KEY: 'a-long-enough-production-secret', WEBHOOK_ALLOW_PRIVATE: 'true' }).webhooks.allowPrivate).toBe(true);
    const msg = problem({ TRAINING_BACKEND: 'gpu', WEBHOOK_MAX_ATTEMPTS: '2', WORKER_TRAINING_CONCURRENCY: '0', REDIS_KEY_PREFIX: 'a b' });
    for (const name of ['TRAINING_BACKEND', 'WEBHOOK_MAX_ATTEMPTS', 'WORKER_TRAINING_CONCURRENCY', 'REDIS_KEY_PREFIX']) expect(msg).toContain(name);
  });
});

describe('loadConfig: rate limits and proxies', () => {
  it('reads the expensive budget, with defaults 20 per 60 s', () => {
    expect(load({}).rateLimit).toMatchObject({ expensiveLimit: 20, expensivePeriodSeconds: 60, maxTrackedClients: 100_000 });
    expect(load({ RATE_LIMIT_EXPENSIVE_REQUESTS: '5', RATE_LIMIT_EXPENSIVE_PERIOD: '10' }).rateLimit).toMatchObject({ expensiveLimit: 5, expensivePeriodSeconds: 10 });
    expect(problem({ RATE_LIMIT_EXPENSIVE_REQUESTS: '0', RATE_LIMIT_EXPENSIVE_PERIOD: 'a minute' })).toMatch(/RATE_LIMIT_EXPENSIVE_REQUESTS[\s\S]*RATE_LIMIT_EXPENSIVE_PERIOD/);
  });

  it('reads TRUST_PROXY as Express takes it: off by default, a boolean, a hop count or a list', () => {
    const trust = (value?: string) => load(value === undefined ? {} : { TRUST_PROXY: value }).http.trustProxy;
    expect(trust()).toBe(false);
    expect(trust('false')).toBe(false);
    expect(trust('0')).toBe(false);
    expect(trust('true')).toBe(true);
    expect(trust('2')).toBe(2);
    expect(trust('loopback, 10.0.0.0/8 ,uniquelocal,fd00::/8,192.0.2.1')).toEqual(['loopback', '10.0.0.0/8', 'uniquelocal', 'fd00::/8', '192.0.2.1']);
    for (const bad of ['everyone', '10.0.0.0/33', 'loopback,10.0.0.300', '::1/129', ',']) expect(problem({ TRUST_PROXY: bad })).toContain('TRUST_PROXY');
  });
});
