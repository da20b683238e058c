import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { GatewayMetrics } from './gateway-metrics.service';

/** Label of requests that matched no route: one series for every unknown URL, whatever it was. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Times every request and counts it by method, route template and status once the response is sent. The template is
 * Express's matched route (`/jobs/:job_id`), read when the response finishes; unmatched URLs share one label.
 */
export function httpMetricsMiddleware(metrics: GatewayMetrics): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.observeRequest(req.method, routeTemplate(req), res.statusCode, seconds);
    });
    next();
  };
}

function routeTemplate(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof path !== 'string') return UNMATCHED_ROUTE;
  const template = `${req.baseUrl ?? ''}${path}`;
  return template === '' ? '/' : template;
}
