import { type AppConfig, InjectAppConfig } from '@app/config';
import { ERROR_CODES } from '@app/contracts';
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import { randomUUID } from 'crypto';
import type { Request, Response } from 'express';
import { DomainError } from './domain-error';
import { PROBLEM_CONTENT_TYPE, type ProblemBody, statusTitle } from './problem';
import { requestIdOf } from './request-id.middleware';

const CODE_BY_STATUS: Record<number, string> = {
  400: ERROR_CODES.badRequest,
  401: ERROR_CODES.unauthorized,
  403: ERROR_CODES.forbidden,
  404: ERROR_CODES.notFound,
  409: ERROR_CODES.conflict,
  413: ERROR_CODES.payloadTooLarge,
  422: ERROR_CODES.validation,
  429: ERROR_CODES.rateLimited,
  503: ERROR_CODES.unavailable,
};

/**
 * The one place errors become HTTP: every exception (domain errors, Nest's HTTP exceptions, body-parser failures,
 * unknown routes, bugs) is answered as `application/problem+json`. A 500 reveals only an error id; the log has the rest.
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');
  private readonly challenge: string;

  constructor(@InjectAppConfig() config: AppConfig) {
    this.challenge = `ApiKey header="${config.auth.apiKeyHeader}", Bearer realm="neural-dsl"`;
  }

  catch(thrown: unknown, host: ArgumentsHost): void {
    // The database or Redis being down is an outage the client can wait out, not a bug: a 503 with Retry-After.
    const exception = isOutage(thrown) ? DomainError.unavailable('A service the platform depends on (the database or Redis) is not reachable right now; retry shortly. GET /health shows which.', 5) : thrown;
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const problem = this.toProblem(exception, req);
    if (res.headersSent) {
      res.end();
      return;
    }
    if (problem.status === 401) res.setHeader('WWW-Authenticate', this.challenge);
    if (exception instanceof DomainError && exception.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(exception.retryAfterSeconds));
    res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
  }

  private toProblem(exception: unknown, req: Request): ProblemBody {
    const request_id = requestIdOf(req);
    if (exception instanceof DomainError) {
      const { status, code, title, detail, errors } = exception;
      return errors === undefined ? { status, code, title, detail, request_id } : { status, code, title, detail, errors, request_id };
    }
    if (exception instanceof HttpException && exception.getStatus() !== 500) {
      const status = exception.getStatus();
      return { status, code: codeFor(status), title: statusTitle(status), detail: detailOf(exception, req), request_id };
    }
    const errorId = randomUUID();
    const stack = exception instanceof Error ? exception.stack : String(exception);
    this.logger.error(`error_id=${errorId} request_id=${request_id} ${req.method} ${req.originalUrl}`, stack);
    return {
      status: 500,
      code: ERROR_CODES.internal,
      title: statusTitle(500),
      detail: `An unexpected error occurred. Quote error id ${errorId} when reporting it.`,
      error_id: errorId,
      request_id,
    };
  }
}

/** Connection failures of PostgreSQL (node-postgres, TypeORM), SQLite's busy database, and Redis (ioredis, the queue). */
const OUTAGE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', 'SQLITE_BUSY']);
const OUTAGE_MESSAGES = /Connection terminated|terminating connection|the database system is (starting up|shutting down)|Connection is closed|connect ECONNREFUSED|Stream isn't writeable|MaxRetriesPerRequest|timeout exceeded when trying to connect|Client has encountered a connection error|read ECONNRESET/i;

export function isOutage(e: unknown): boolean {
  for (let x = e as { code?: unknown; driverError?: unknown; cause?: unknown; message?: unknown; name?: string } | undefined, depth = 0; x && depth < 4; depth++) {
    if (x.code === 'queue_unavailable') return true;
    if (typeof x.code === 'string' && OUTAGE_CODES.has(x.code)) return true;
    if (typeof x.message === 'string' && OUTAGE_MESSAGES.test(x.message)) return true;
    x = (x.driverError ?? x.cause) as typeof x;
  }
  return false;
}

function codeFor(status: number): string {
  return CODE_BY_STATUS[status] ?? (status < 500 ? ERROR_CODES.badRequest : ERROR_CODES.internal);
}

function detailOf(exception: HttpException, req: Request): string {
  const status = exception.getStatus();
  if (exception instanceof ThrottlerException) {
    const retry = req.res?.getHeader('Retry-After');
    return retry === undefined ? 'Too many requests; slow down.' : `Too many requests; retry after ${String(retry)} seconds.`;
  }
  const body = exception.getResponse();
  const message = typeof body === 'string' ? body : (body as { message?: unknown }).message;
  const text = Array.isArray(message) ? message.join('; ') : typeof message === 'string' ? message : exception.message;
  // Nest's router answers unknown routes with "Cannot GET /path".
  const unknownRoute = status === 404 && /^Cannot [A-Z]+ /.test(text);
  if (unknownRoute) return `No route matches ${req.method} ${truncate(req.path, 200)}.`;
  return text || statusTitle(status);
}

const truncate = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max)}…` : s);
