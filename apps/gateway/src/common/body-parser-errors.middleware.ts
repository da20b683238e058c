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
        return next(new DomainError(ERROR_CODES.payloadTooLarge, 413, 'Payload Too Large', `The request body exceeds the limit of ${bodyLimit}.`));
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
