import { ERROR_CODES } from '@app/contracts';
import type { NextFunction, Request, Response } from 'express';
import { DomainError } from './domain-error';

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  expose?: boolean;
  limit?: number;
  /** The raw body, on parse failures. */
  body?: string;
}

/**
 * Express error middleware placed right after the JSON body parser: turns its failures into domain errors, which
 * Nest's error handler then passes to the global filter (Nest alone would map a bad body to a bare 400).
 */
export function bodyParserErrorsMiddleware(bodyLimit: string) {
  return (err: BodyParserError, _req: Request, _res: Response, next: NextFunction): void => {
    switch (err?.type) {
      case 'entity.parse.failed': {
        // The parser is strict: a bare string, number or null is refused before JSON.parse sees it.
        const structured = /^\s*[[{]/.test(err.body ?? '');
        const detail = structured ? `The request body is not valid JSON: ${err.message}` : 'The request body must be a JSON object.';
        return next(new DomainError(ERROR_CODES.malformedJson, 400, 'Malformed JSON', detail));
      }
      case 'entity.too.large':
        return next(payloadTooLarge(bodyLimit));
      case 'encoding.unsupported':
      case 'charset.unsupported':
        return next(new DomainError(ERROR_CODES.badRequest, 415, 'Unsupported Media Type', err.message));
      default:
        if (err && err.expose && typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
          return next(new DomainError(ERROR_CODES.badRequest, err.status, 'Bad Request', err.message));
        }
        return next(err);
    }
  };
}

const payloadTooLarge = (bodyLimit: string) => new DomainError(ERROR_CODES.payloadTooLarge, 413, 'Payload Too Large', `The request body exceeds the limit of ${bodyLimit}.`);

/** A BODY_LIMIT-style size (`100b`, `64kb`, `1mb`; k = 1024) in bytes. */
export function parseByteSize(limit: string): number {
  const m = /^(\d+)(b|kb|mb)$/i.exec(limit.trim());
  if (!m) throw new Error(`not a byte size: ${limit}`);
  return Number(m[1]) * { b: 1, kb: 1024, mb: 1024 ** 2 }[m[2].toLowerCase() as 'b' | 'kb' | 'mb'];
}

/**
 * Placed before a body parser of `types`: a body whose Content-Length is already over the limit is a 413 at once,
 * and the connection is closed. The parser refuses it too, but only after reading and discarding the whole declared
 * body, so a client declaring 10 GB held the connection and got no answer until it had sent them.
 */
export function declaredBodySizeMiddleware(bodyLimit: string, types: string[]) {
  const max = parseByteSize(bodyLimit);
  return (req: Request, res: Response, next: NextFunction): void => {
    const declared = Number(req.headers['content-length']);
    // Compressed bodies are limited by their inflated size, which only the parser sees; a body already read is done.
    const identity = (req.headers['content-encoding'] ?? 'identity').toLowerCase() === 'identity';
    // A body an earlier parser (the predict route's own, with its larger limit) has read is done with.
    if (!(declared > max) || !identity || req.readableEnded || !req.is(types)) return next();
    res.setHeader('Connection', 'close');
    next(payloadTooLarge(bodyLimit));
  };
}
