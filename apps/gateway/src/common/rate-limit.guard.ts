import { type ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerException, ThrottlerGuard, type ThrottlerLimitDetail, type ThrottlerRequest } from '@nestjs/throttler';
import type { Request } from 'express';
import { principalOf } from '../auth/auth.decorators';

/**
 * The throttler guard, run after authentication: one budget per API key across all routes (per IP when anonymous),
 * `X-RateLimit-*` on every limited answer including the 429, and open (with a warning) when the counter store fails.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  private lastStoreWarning = 0;

  protected override async getTracker(req: Record<string, any>): Promise<string> {
    const principal = principalOf(req as Request);
    return principal ? `key:${principal.apiKeyId}` : `ip:${await super.getTracker(req)}`;
  }

  // The default key hashes the controller and handler in, which would give every route its own budget.
  protected override generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    return `${name}:${tracker}`;
  }

  protected override async handleRequest(requestProps: ThrottlerRequest): Promise<boolean> {
    try {
      return await super.handleRequest(requestProps);
    } catch (err) {
      if (err instanceof ThrottlerException) throw err;
      // Limiting is protection, not a dependency: an unreachable counter store must not turn every request into a 500.
      if (Date.now() - this.lastStoreWarning > 10_000) {
        this.lastStoreWarning = Date.now();
        this.logger.warn(`rate limiting skipped, the counter store failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      return true;
    }
  }

  protected override async throwThrottlingException(context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    const { res } = this.getRequestResponse(context);
    this.setResponseHeader(res, `${this.headerPrefix}-Limit`, detail.limit);
    this.setResponseHeader(res, `${this.headerPrefix}-Remaining`, 0);
    this.setResponseHeader(res, `${this.headerPrefix}-Reset`, detail.timeToBlockExpire);
    await super.throwThrottlingException(context, detail);
  }
}
