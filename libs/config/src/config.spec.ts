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
    expect(msg).toContain('DATABASE_URL="mysql://x"');
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
});
