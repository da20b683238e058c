import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { mergeMap, type Observable } from 'rxjs';
import { AuditService } from './audit.service';

export const AUDITED = 'neural:audited';

/** What `@Audited()` declares: the action recorded and where the target's id comes from. */
export interface AuditedRoute {
  action: string;
  targetType: string;
  /** The route parameter holding the target's id. */
  param: string;
}

/** Records a route marked `@Audited()` once it succeeded. */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly audit: AuditService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const route = this.reflector.get<AuditedRoute>(AUDITED, context.getHandler());
    const req = context.switchToHttp().getRequest<Request>();
    return next.handle().pipe(
      // Recorded before the answer leaves: once a client sees its delete succeed, the log shows it.
      mergeMap(async (value) => {
        const raw = req.params[route.param];
        const targetId = Array.isArray(raw) ? raw.join('/') : raw;
        await this.audit.record(req, { action: route.action, targetType: route.targetType, targetId, details: { route: `${req.method} ${req.route?.path ?? req.path}` } });
        return value;
      }),
    );
  }
}
