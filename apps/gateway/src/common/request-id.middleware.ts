import { randomUUID } from 'crypto';
import type { NextFunction, Request, Response } from 'express';
import { performance } from 'perf_hooks';

export const REQUEST_ID_HEADER = 'X-Request-Id';

/** A client's id is echoed only when it is a short plain token, so it can't inject anything into logs or headers. */
const SANE_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** The request id given by {@link requestIdMiddleware} (a new uuid when the middleware did not run). */
export function requestIdOf(req: Request): string {
  const holder = req as Request & { requestId?: string };
  return (holder.requestId ??= randomUUID());
}

/** When the gateway received the request (`performance.now()`); now when the middleware did not run. */
export function receivedAtOf(req: Request): number {
  return (req as Request & { receivedAt?: number }).receivedAt ?? performance.now();
}

/** First middleware: gives every request an id and sends it back as `X-Request-Id` on every response. */
export function requestIdMiddleware(req: Request, res: Response, next: NextFunction): void {
  (req as Request & { receivedAt?: number }).receivedAt = performance.now();
  const sent = req.headers['x-request-id'];
  const id = typeof sent === 'string' && SANE_ID.test(sent) ? sent : randomUUID();
  (req as Request & { requestId?: string }).requestId = id;
  res.setHeader(REQUEST_ID_HEADER, id);
  next();
}
