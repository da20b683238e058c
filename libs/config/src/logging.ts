import type { DynamicModule } from '@nestjs/common';
import { randomUUID } from 'crypto';
import type { IncomingMessage, ServerResponse } from 'http';
import { LoggerModule } from 'nestjs-pino';
import type { AppConfig } from './index';

type LoggedRequest = IncomingMessage & { requestId?: string; user?: { tenantId: string; apiKeyId: string }; route?: { path?: string }; originalUrl?: string };

/**
 * Structured logs (pino): one JSON line per event, pretty-printed when LOG_FORMAT=pretty. Each HTTP request ends with
 * one line carrying its request id, route, status, duration and the caller's tenant and key ids. Headers and bodies
 * are never logged (API keys, tokens and DSL sources travel there); the URL is logged without its query.
 */
export function loggingModule(config: AppConfig): DynamicModule {
  // pino-pretty is a development dependency: an image installed without them logs JSON.
  const pretty = config.log.format === 'pretty' && resolvable('pino-pretty');
  return LoggerModule.forRoot({
    pinoHttp: {
      level: config.log.level,
      transport: pretty ? { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } : undefined,
      genReqId: (req: LoggedRequest) => req.requestId ?? randomUUID(),
      customAttributeKeys: { reqId: 'request_id', responseTime: 'duration_ms' },
      // The request id on every line of the request (top level), the request itself on its last line only.
      quietReqLogger: true,
      serializers: {
        req: (req: { method?: string; url?: string }) => ({ method: req.method, path: req.url?.split('?')[0] }),
        res: (res: { statusCode?: number }) => ({ status: res.statusCode }),
      },
      redact: { paths: ['req.headers', 'res.headers', '*.authorization', `*["${config.auth.apiKeyHeader.toLowerCase()}"]`, '*.password', '*.secret', '*.dsl_code'], censor: '[redacted]' },
      customProps: (req: LoggedRequest) => (req.user ? { tenant_id: req.user.tenantId, api_key_id: req.user.apiKeyId, route: req.route?.path } : {}),
      customLogLevel: (_req: IncomingMessage, res: ServerResponse, err?: Error) => (err || res.statusCode >= 500 ? 'error' : 'info'),
      // Probes every few seconds would drown the rest.
      autoLogging: { ignore: (req: IncomingMessage) => (req.url ?? '').startsWith('/health') },
    },
  });
}

function resolvable(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}
