import type { AppConfig } from '@app/config';
import { type ExecutionContext, Injectable } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import {
  normalizeIp,
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerOptions,
  type ThrottlerRequest,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { Request } from 'express';
import { principalOf } from '../auth/auth.decorators';
import { DomainError } from './domain-error';
import { EXPENSIVE_ROUTE } from './rate-limit.decorator';

/** Name of the throttler of the `@ExpensiveRoute()` routes; its headers are suffixed with it (`X-RateLimit-Limit-expensive`). */
export const EXPENSIVE_THROTTLER = 'expensive';

const anonymous = (req: Record<string, any>): string => `ip:${normalizeIp(req.ip)}`;

/**
 * The throttlers: `default`, every route per API key (the guard's tracker), and `expensive`, only the routes marked
 * `@ExpensiveRoute()`, per tenant so that minting more keys buys no more compute.
 */
export function rateLimitOptions(config: AppConfig, reflector: Reflector, storage: ThrottlerStorage): ThrottlerModuleOptions {
  const expensive: ThrottlerOptions = {
    name: EXPENSIVE_THROTTLER,
    limit: config.rateLimit.expensiveLimit,
    ttl: config.rateLimit.expensivePeriodSeconds * 1000,
    skipIf: (context) => !reflector.getAllAndOverride<boolean>(EXPENSIVE_ROUTE, [context.getHandler(), context.getClass()]),
    getTracker: (req) => {
      const principal = principalOf(req as Request);
      return principal ? `tenant:${principal.tenantId}` : anonymous(req);
    },
  };
  return {
    throttlers: [{ name: 'default', limit: config.rateLimit.limit, ttl: config.rateLimit.periodSeconds * 1000 }, expensive],
    storage,
  };
}

/** Thrown by throwThrottlingException and caught in handleRequest, where the throttler that refused is known. */
class BudgetExceeded extends Error {
  constructor(readonly detail: ThrottlerLimitDetail) {
    super('rate limit exceeded');
  }
}

/**
 * The throttler guard, run after authentication: a budget per API key across all routes (per IP when anonymous) and
 * the per-tenant `expensive` budget, `X-RateLimit-*` on every limited answer including the 429 (which says which
 * budget it exhausted), and open (with a warning) when the counter store fails.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  private lastStoreWarning = 0;

  protected override async getTracker(req: Record<string, any>): Promise<string> {
    const principal = principalOf(req as Request);
    return principal ? `key:${principal.apiKeyId}` : anonymous(req);
  }

  // The default key hashes the controller and handler in, which would give every route its own budget.
  protected override generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    return `${name}:${tracker}`;
  }

  protected override async handleRequest(requestProps: ThrottlerRequest): Promise<boolean> {
    try {
      return await super.handleRequest(requestProps);
    } catch (err) {
      if (err instanceof BudgetExceeded) throw this.exceeded(requestProps, err.detail);
      // Limiting is protection, not a dependency: an unreachable counter store must not turn every request into a 500.
      if (Date.now() - this.lastStoreWarning > 10_000) {
        this.lastStoreWarning = Date.now();
        this.logger.warn(`rate limiting skipped, the counter store failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      return true;
    }
  }

  protected override async throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    throw new BudgetExceeded(detail);
  }

  private exceeded({ context, throttler }: ThrottlerRequest, detail: ThrottlerLimitDetail): DomainError {
    const { res } = this.getRequestResponse(context);
    const suffix = throttler.name === 'default' ? '' : `-${throttler.name}`;
    const retryAfter = Math.max(1, detail.timeToBlockExpire);
    this.setResponseHeader(res, `${this.headerPrefix}-Limit${suffix}`, detail.limit);
    this.setResponseHeader(res, `${this.headerPrefix}-Remaining${suffix}`, 0);
    this.setResponseHeader(res, `${this.headerPrefix}-Reset${suffix}`, retryAfter);
    const window = `${detail.limit} per ${Math.round(detail.ttl / 1000)} s`;
    const budget =
      throttler.name === EXPENSIVE_THROTTLER
        ? `the expensive-route budget (compile, train, predict) of this tenant, ${window} shared by all of its API keys, is used up`
        : `the request budget of this ${detail.tracker.startsWith('key:') ? 'API key' : 'address'}, ${window}, is used up`;
    return DomainError.rateLimited(`Too many requests: ${budget}; retry after ${retryAfter} seconds.`, retryAfter);
  }
}
