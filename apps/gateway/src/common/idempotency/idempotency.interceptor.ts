import { type CallHandler, type ExecutionContext, HttpStatus, Injectable, type NestInterceptor } from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { defer, lastValueFrom, type Observable, throwError } from 'rxjs';
import { principalOf } from '../../auth/auth.decorators';
import { parseIdempotencyKey } from './idempotency.errors';
import { IdempotencyService } from './idempotency.service';
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER } from './idempotency.constants';

/**
 * Runs the routes marked `@Idempotent()` that carry an `Idempotency-Key` under a claim of the key. It runs before the
 * validation pipe, so an invalid body fails under the claim and releases it like any other error.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly idempotency: IdempotencyService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<Request>();
    const raw = req.headers[IDEMPOTENCY_KEY_HEADER.toLowerCase()];
    const principal = principalOf(req);
    if (raw === undefined || !principal) return next.handle();
    let key: string;
    try {
      key = parseIdempotencyKey(raw);
    } catch (err) {
      return throwError(() => err);
    }
    // What Nest will answer: the route's @HttpCode, else its default for the method.
    const status = this.reflector.get<number | undefined>(HTTP_CODE_METADATA, context.getHandler()) ?? (req.method === 'POST' ? HttpStatus.CREATED : HttpStatus.OK);
    const route = `${req.method} ${(req.route as { path?: string } | undefined)?.path ?? req.path}`;
    // A promise, not an operator chain: it still stores or releases the claim when the client hangs up midway.
    return defer(() => this.run(principal.tenantId, key, route, status, req, context.switchToHttp().getResponse<Response>(), next));
  }

  private async run(tenantId: string, key: string, route: string, status: number, req: Request, res: Response, next: CallHandler): Promise<unknown> {
    const start = await this.idempotency.begin(tenantId, key, route, req.body);
    if (start.replay) {
      res.setHeader(IDEMPOTENT_REPLAYED_HEADER, 'true');
      return start.body;
    }
    let body: unknown;
    try {
      body = await lastValueFrom(next.handle());
    } catch (err) {
      await this.idempotency.release(start.claimId);
      throw err;
    }
    await this.idempotency.complete(start.claimId, status, body === undefined ? null : JSON.parse(JSON.stringify(body)));
    return body;
  }
}
