import { type AppConfig, loadConfig } from '@app/config';
import { ApiKeysRepository, TenantsRepository } from '@app/persistence';
import type { INestApplication, INestApplicationContext, LoggerService, LogLevel, ModuleMetadata } from '@nestjs/common';
import { randomBytes } from 'crypto';
import Redis from 'ioredis';
import { type AddressInfo, createServer, Socket } from 'net';
import { createGateway } from '../../../apps/gateway/src/bootstrap';
import { createWorker } from '../../../apps/worker/src/bootstrap';
import { createTempDir, createThrowawayPostgres, testRedisUrl, type TempDir, type ThrowawayPostgres } from './database';

/**
 * What a distributed-mode gateway runs on: a throw-away PostgreSQL database and a fresh Redis key prefix. Several
 * gateways (and workers) started with the same environment share the database, the queues and the rate-limit budget.
 */
export interface DistributedEnv {
  databaseUrl: string;
  redisUrl: string;
  /** Every Redis key of this environment starts with `${redisPrefix}:`. */
  redisPrefix: string;
  /** Drops the database and deletes the prefix's Redis keys. */
  dispose(): Promise<void>;
}

export async function createDistributedEnv(): Promise<DistributedEnv> {
  const database: ThrowawayPostgres = await createThrowawayPostgres();
  const redisPrefix = `neural_test_${randomBytes(5).toString('hex')}`;
  const redisUrl = testRedisUrl();
  return {
    databaseUrl: database.url,
    redisUrl,
    redisPrefix,
    dispose: async () => {
      await deleteRedisKeys(redisUrl, `${redisPrefix}:`);
      await database.drop();
    },
  };
}

export interface StartGatewayOptions {
  /** Extra environment variables (RATE_LIMIT_REQUESTS, BODY_LIMIT, ...) on top of NODE_ENV=test and a temp STORAGE_PATH. */
  env?: Record<string, string>;
  /** Run in distributed mode on this environment; embedded (SQLite in the temp STORAGE_PATH) when absent. */
  distributed?: DistributedEnv;
  /** Reuse this STORAGE_PATH (it is then not removed by `close()`), e.g. to restart on the same SQLite file. */
  storagePath?: string;
  /** More modules (test-only controllers). */
  imports?: ModuleMetadata['imports'];
  /** Nest logger; default errors and warnings only. */
  logger?: LoggerService | LogLevel[] | false;
}

/** A gateway listening on an ephemeral loopback port. */
export interface TestGateway {
  app: INestApplication;
  config: AppConfig;
  /** `http://127.0.0.1:<port>`, for supertest's `request(url)`. */
  url: string;
  storagePath: string;
  /** A provider of the running app (repositories, services). */
  get<T>(token: abstract new (...args: any[]) => T): T;
  close(): Promise<void>;
}

/** Starts the real gateway (createGateway) in embedded mode, or distributed mode when `distributed` is given. */
export async function startGateway(options: StartGatewayOptions = {}): Promise<TestGateway> {
  const dir: TempDir | undefined = options.storagePath ? undefined : await createTempDir('neural-gateway-');
  const storagePath = options.storagePath ?? dir!.path;
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    STORAGE_PATH: storagePath,
    // Suites send many bad credentials on purpose from one address; the limiter's own test sets a low limit.
    AUTH_FAILURE_LIMIT: '100000',
    ...(options.distributed ? { DATABASE_URL: options.distributed.databaseUrl, REDIS_URL: options.distributed.redisUrl } : {}),
    ...options.env,
  };
  let app: INestApplication | undefined;
  try {
    const config = loadConfig(env);
    app = await createGateway(config, {
      logger: options.logger ?? ['error', 'warn'],
      redisPrefix: options.distributed?.redisPrefix ?? `neural_test_${randomBytes(5).toString('hex')}`,
      imports: options.imports,
    });
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    const started = app;
    return {
      app: started,
      config,
      url: `http://127.0.0.1:${port}`,
      storagePath,
      get: (token) => started.get(token, { strict: false }),
      close: async () => {
        await started.close();
        await dir?.remove();
      },
    };
  } catch (err) {
    await app?.close().catch(() => undefined);
    await dir?.remove();
    throw err;
  }
}

/** Gateways sharing one throw-away database and Redis prefix (distributed mode), as replicas behind a load balancer. */
export interface GatewayCluster {
  gateways: TestGateway[];
  distributed: DistributedEnv;
  close(): Promise<void>;
}

export async function startGateways(count: number, env: Record<string, string> = {}): Promise<GatewayCluster> {
  const distributed = await createDistributedEnv();
  const gateways: TestGateway[] = [];
  const close = async () => {
    for (const gw of gateways) await gw.close();
    await distributed.dispose();
  };
  try {
    for (let i = 0; i < count; i++) gateways.push(await startGateway({ distributed, env }));
    return { gateways, distributed, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The platform as a client sees it: a gateway, and in distributed mode a worker beside it on the same database and Redis. */
export interface TestPlatform {
  gw: TestGateway;
  /** The shared database and Redis prefix (distributed mode): more gateways or workers can join it. */
  distributed?: DistributedEnv;
  close(): Promise<void>;
}

/**
 * Starts the platform in either mode with the same settings: embedded (the gateway runs the jobs), or distributed
 * (a throw-away PostgreSQL database and Redis prefix, the gateway, and a worker in this process).
 */
export async function startPlatform(mode: 'embedded' | 'distributed', env: Record<string, string> = {}): Promise<TestPlatform> {
  if (mode === 'embedded') {
    const gw = await startGateway({ env });
    return { gw, close: () => gw.close() };
  }
  const distributed = await createDistributedEnv();
  let gw: TestGateway | undefined;
  let worker: INestApplicationContext | undefined;
  const close = async () => {
    await worker?.close();
    await gw?.close();
    await distributed.dispose();
  };
  try {
    gw = await startGateway({ distributed, env });
    const config = loadConfig({ NODE_ENV: 'test', STORAGE_PATH: gw.storagePath, DATABASE_URL: distributed.databaseUrl, REDIS_URL: distributed.redisUrl, ...env });
    worker = await createWorker(config, { queuePrefix: distributed.redisPrefix, logger: ['error'] });
    return { gw, distributed, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** A tenant of its own with one API key, as a test's session. */
export interface TenantSession {
  tenantId: string;
  apiKeyId: string;
  apiKey: string;
  /** `{ [API key header]: apiKey }`, to spread into supertest's `.set()`. */
  headers: Record<string, string>;
}

/** Creates a tenant and an API key for it (scopes read and write unless given) through the running gateway's repositories. */
export async function createTenantSession(gateway: TestGateway, name = `tenant-${randomBytes(3).toString('hex')}`, scopes?: readonly string[]): Promise<TenantSession> {
  const tenant = await gateway.get(TenantsRepository).create(name);
  const { entity, plaintextKey } = await gateway.get(ApiKeysRepository).create(tenant.id, `${name} key`, scopes);
  return { tenantId: tenant.id, apiKeyId: entity.id, apiKey: plaintextKey, headers: { [gateway.config.auth.apiKeyHeader]: plaintextKey } };
}

/** Deletes every key starting with `prefix` (SCAN, not KEYS). */
export async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** A TCP forwarder to `target`, to cut a dependency off while a gateway is running (`close()` drops every connection). */
export interface TcpProxy {
  port: number;
  /** A URL like `target` with host and port replaced by the proxy's. */
  url: string;
  close(): Promise<void>;
}

export async function startTcpProxy(targetUrl: string): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  const targetPort = Number(target.port || (target.protocol.startsWith('redis') ? 6379 : 5432));
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = new Socket();
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    upstream.connect(targetPort, target.hostname, () => {
      client.pipe(upstream);
      upstream.pipe(client);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    port,
    url: url.toString(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
