import { ERROR_CODES } from '@app/contracts';

/** One entry of a 422's `errors`: a request field that failed validation. */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * A failure the client can act on, thrown by services and mapped by the global filter to an
 * `application/problem+json` body `{status, code, title, detail, errors?, request_id}`.
 */
export class DomainError extends Error {
  constructor(
    /** Machine-readable code (see ERROR_CODES in @app/contracts, or a feature's own). */
    readonly code: string,
    /** HTTP status. */
    readonly status: number,
    /** Short, stable summary of the kind of problem. */
    readonly title: string,
    /** A human sentence about this occurrence. */
    readonly detail: string,
    /** Per-item problems (fields of a 422, DSL diagnostics). */
    readonly errors?: readonly unknown[],
    /** Sent as `Retry-After` (seconds): the request may succeed when repeated after it. */
    readonly retryAfterSeconds?: number,
  ) {
    super(detail);
    this.name = new.target.name;
  }

  static badRequest(detail: string, code: string = ERROR_CODES.badRequest): DomainError {
    return new DomainError(code, 400, 'Bad Request', detail);
  }

  static unauthorized(detail: string): DomainError {
    return new DomainError(ERROR_CODES.unauthorized, 401, 'Unauthorized', detail);
  }

  static forbidden(detail: string): DomainError {
    return new DomainError(ERROR_CODES.forbidden, 403, 'Forbidden', detail);
  }

  /** `notFound('model', id)` → 404 "No model with id ... exists." */
  static notFound(resource: string, id?: string): DomainError {
    const detail = id === undefined ? `No such ${resource}.` : `No ${resource} with id ${JSON.stringify(id)} exists.`;
    return new DomainError(ERROR_CODES.notFound, 404, 'Not Found', detail);
  }

  static conflict(detail: string): DomainError {
    return new DomainError(ERROR_CODES.conflict, 409, 'Conflict', detail);
  }

  static validation(errors: FieldError[], detail = 'The request is not valid; see errors for each field.'): DomainError {
    return new DomainError(ERROR_CODES.validation, 422, 'Unprocessable Entity', detail, errors);
  }

  static rateLimited(detail: string, retryAfterSeconds: number): DomainError {
    return new DomainError(ERROR_CODES.rateLimited, 429, 'Too Many Requests', detail, undefined, retryAfterSeconds);
  }

  static unavailable(detail: string, retryAfterSeconds?: number): DomainError {
    return new DomainError(ERROR_CODES.unavailable, 503, 'Service Unavailable', detail, undefined, retryAfterSeconds);
  }
}
