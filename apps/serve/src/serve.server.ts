import { randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { decodeInstances, formatPredictions, InstancesError, ServingError, type ServingPool } from '@app/serving';
import type { ServeConfig } from './serve.config';

const PROBLEM = 'application/problem+json';
const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The problem+json body of every 4xx/5xx (house style), plus extension members. */
interface Problem {
  status: number;
  code: string;
  detail: string;
  errors?: unknown[];
  [extension: string]: unknown;
}

class HttpProblem extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
}

export interface ServeServer {
  server: Server;
  /** Stops accepting, lets in-flight requests finish, then closes the pool. */
  shutdown(): Promise<void>;
}

/** The HTTP face of one ServingPool: `GET <health path>` and `POST /predict`. */
export function createServeServer(pool: ServingPool, config: ServeConfig, log: (line: Record<string, unknown>) => void): ServeServer {
  const instanceShape = pool.signature.inputShape.slice(1) as number[];
  let draining = false;

  const server = createServer((req, res) => {
    const requestId = typeof req.headers['x-request-id'] === 'string' && REQUEST_ID.test(req.headers['x-request-id']) ? req.headers['x-request-id'] : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    handle(req, res).catch((err: unknown) => {
      const problem = err instanceof HttpProblem ? err.problem : problemOf(err);
      if (problem) return sendProblem(res, requestId, problem, draining);
      const errorId = randomUUID();
      log({ level: 'error', msg: 'request failed', error_id: errorId, request_id: requestId, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      sendProblem(res, requestId, { status: 500, code: 'internal_error', detail: `the server failed to answer; error id ${errorId}`, error_id: errorId }, draining);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === config.healthCheckPath) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(req, 'GET, HEAD');
      const ready = pool.readyReplicas;
      if (draining || ready === 0) {
        throw new HttpProblem({ status: 503, code: 'service_unavailable', detail: draining ? 'the server is shutting down' : 'no model replica is warm yet', ready_replicas: ready });
      }
      return sendJson(res, 200, { status: 'ok', ready_replicas: ready }, draining);
    }
    if (path !== '/predict') throw new HttpProblem({ status: 404, code: 'not_found', detail: `no route ${path}; use POST /predict or GET ${config.healthCheckPath}` });
    if (req.method !== 'POST') throw methodNotAllowed(req, 'POST');

    const body = await readJson(req, config.bodyLimitBytes);
    const started = performance.now();
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new InstancesError([{ field: '(body)', message: 'the body must be a JSON object {"instances": [...]}' }]);
    }
    const { data, batch } = decodeInstances((body as { instances?: unknown }).instances, instanceShape, config.maxBatch);
    const { output, dims } = await pool.predict(data, batch);
    const { predictions, classes } = formatPredictions(output, dims, config.outputKind);
    const latency = Math.round((performance.now() - started) * 1000) / 1000;
    sendJson(res, 200, classes ? { predictions, classes, latency_ms: latency } : { predictions, latency_ms: latency }, draining);
  }

  async function shutdown(): Promise<void> {
    if (draining) return;
    draining = true;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await pool.close();
  }

  return { server, shutdown };
}

function methodNotAllowed(req: IncomingMessage, allow: string): HttpProblem {
  return new HttpProblem({ status: 405, code: 'method_not_allowed', detail: `${req.method} is not allowed here; use ${allow}`, allow });
}

function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const tooLarge = () => new HttpProblem({ status: 413, code: 'payload_too_large', detail: `the body is larger than ${limit} bytes; send fewer instances per request` });
  const declared = Number(req.headers['content-length']);
  if (declared > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (failed) return;
      try {
        resolve(JSON.parse(Buffer.concat(chunks, size).toString('utf8')));
      } catch (err) {
        reject(new HttpProblem({ status: 400, code: 'malformed_json', detail: `the body is not valid JSON: ${(err as Error).message}` }));
      }
    });
  });
}

/** `close`: the server is draining; closing the connection moves keep-alive clients to another pod. */
function sendJson(res: ServerResponse, status: number, body: unknown, close: boolean, contentType = 'application/json'): void {
  if (close) res.setHeader('Connection', 'close');
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendProblem(res: ServerResponse, requestId: string, problem: Problem, close: boolean): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { status, code, detail, errors, allow, ...extensions } = problem;
  if (typeof allow === 'string') res.setHeader('Allow', allow);
  if (status === 503) res.setHeader('Retry-After', '1');
  const body = { status, code, title: STATUS_CODES[status] ?? 'Error', detail, ...(errors ? { errors } : {}), ...extensions, request_id: requestId };
  // A request whose body was refused part-way cannot be read further: close rather than drain it.
  sendJson(res, status, body, close || status === 413, PROBLEM);
}

/** Maps the serving library's errors to HTTP; anything else is a 500. */
function problemOf(err: unknown): Problem | undefined {
  if (err instanceof InstancesError) return { status: 422, code: err.code, detail: err.message, errors: err.errors };
  if (err instanceof ServingError && err.code !== 'invalid_model') return { status: 503, code: err.code, detail: err.message };
  return undefined;
}
