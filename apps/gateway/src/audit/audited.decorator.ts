import { applyDecorators, SetMetadata, UseInterceptors } from '@nestjs/common';
import { AUDITED, AuditInterceptor, type AuditedRoute } from './audit.interceptor';


/**
 * A successful call of the route is recorded in the audit log (deletes, cancellations, scaling). The interceptor is
 * the route's own: a global one would defer every handler, and an @Sse() handler's 404 would come after its 200.
 */
export const Audited = (action: string, targetType: string, param: string): MethodDecorator =>
  applyDecorators(SetMetadata(AUDITED, { action, targetType, param } satisfies AuditedRoute), UseInterceptors(AuditInterceptor));
