import type { AppConfig } from '@app/config';
import type { INestApplication, LoggerService, LogLevel, ModuleMetadata } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { json, raw } from 'express';
import { mountDashboard } from './system/dashboard';
import helmet from 'helmet';
import { Logger as PinoLogger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { bodyParserErrorsMiddleware, declaredBodySizeMiddleware } from './common/body-parser-errors.middleware';
import { buildOpenApiDocument } from './common/openapi';
import { GatewayMetrics } from './metrics/gateway-metrics.service';
import { httpMetricsMiddleware } from './metrics/http-metrics.middleware';
import { REQUEST_ID_HEADER, requestIdMiddleware } from './common/request-id.middleware';
import { createValidationPipe } from './common/validation.pipe';

const PREDICT_PATH = /^\/deployments\/[^/]+\/predict\/?$/;

export interface GatewayOptions {
  /** Nest's logger setting; `false` silences it (tests). Default: structured pino logs (LOG_LEVEL, LOG_FORMAT). */
  logger?: LoggerService | LogLevel[] | false;
  /** Redis key prefix of queues, worker heartbeat and rate-limit counters. Default `REDIS_KEY_PREFIX` (`neural`). */
  redisPrefix?: string;
  /** Run the job consumers in this process. Default: in embedded mode only. */
  runWorker?: boolean;
  /** More modules to mount (test-only controllers). */
  imports?: ModuleMetadata['imports'];
}

/**
 * Creates the gateway, fully configured and initialised but not listening: request ids, helmet, CORS, the JSON body
 * limit, the global validation pipe, error filter, auth and rate-limit guards, and the API docs at `/docs`, `/redoc`
 * and `/openapi.json`. `main.ts` listens on it; the e2e tests drive it over HTTP.
 */
export async function createGateway(config: AppConfig, options: GatewayOptions = {}): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot(config, {
      structuredLogs: options.logger === undefined,
      redisPrefix: options.redisPrefix ?? config.redis.prefix,
      runWorker: options.runWorker ?? config.mode === 'embedded',
      imports: options.imports,
    }),
    // Logs written while the app starts wait for the pino logger, which exists once the modules are built.
    { bodyParser: false, logger: options.logger, bufferLogs: options.logger === undefined, abortOnError: false },
  );
  if (options.logger === undefined) app.useLogger(app.get(PinoLogger));
  app.disable('x-powered-by');
  // Decides req.ip, which keys anonymous rate limits and failed-authentication counts: off, X-Forwarded-For is ignored.
  app.set('trust proxy', config.http.trustProxy);
  app.use(requestIdMiddleware);
  app.use(httpMetricsMiddleware(app.get(GatewayMetrics)));
  // TLS is terminated in front of the gateway; upgrading subresources would break /docs served over plain HTTP.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  app.enableCors({
    origin: config.http.corsOrigins.includes('*') ? '*' : config.http.corsOrigins,
    allowedHeaders: ['Content-Type', 'Authorization', config.auth.apiKeyHeader, REQUEST_ID_HEADER, 'Idempotency-Key'],
    exposedHeaders: [REQUEST_ID_HEADER, 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'X-RateLimit-Limit-expensive', 'X-RateLimit-Remaining-expensive', 'X-RateLimit-Reset-expensive', 'Retry-After', 'Retry-After-expensive', 'Content-Disposition', 'WWW-Authenticate', 'Idempotent-Replayed'],
    maxAge: 600,
  });
  const jsonTypes = ['application/json', 'application/*+json'];
  // Predict bodies carry whole batches of instances: their own limit; the general parser then skips them.
  app.use(
    PREDICT_PATH,
    declaredBodySizeMiddleware(config.serving.bodyLimit, [...jsonTypes, 'application/octet-stream']),
    json({ limit: config.serving.bodyLimit, type: jsonTypes }),
    raw({ limit: config.serving.bodyLimit, type: 'application/octet-stream' }),
    bodyParserErrorsMiddleware(config.serving.bodyLimit),
  );
  app.use(declaredBodySizeMiddleware(config.http.bodyLimit, jsonTypes));
  app.useBodyParser('json', { limit: config.http.bodyLimit, type: jsonTypes });
  app.use(bodyParserErrorsMiddleware(config.http.bodyLimit));
  app.useGlobalPipes(createValidationPipe());
  mountDashboard(app, config.http.uiPath);

  const document = buildOpenApiDocument(app, config);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'openapi.json', raw: ['json'], customSiteTitle: 'Neural DSL Platform API' });
  // No ReDoc bundle is installed and a CDN is not an option offline: /redoc serves the same Swagger UI.
  SwaggerModule.setup('redoc', app, document, { raw: false, customSiteTitle: 'Neural DSL Platform API' });

  await app.init();
  return app;
}
