/** Base of the serving library's typed errors; `code` is machine-readable and stable. */
export abstract class ServingError extends Error {
  abstract readonly code: string;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The bytes are not an ONNX model this library can serve, or ONNX Runtime cannot load or run it. */
export class OnnxModelError extends ServingError {
  readonly code = 'invalid_model';
}

/** One `{field, message}` per problem found in a request's `instances`; `message` is the first problem. */
export class InstancesError extends ServingError {
  readonly code = 'validation_error';

  constructor(readonly errors: Array<{ field: string; message: string }>) {
    super(errors.length > 1 ? `${errors[0].message} (and ${errors.length - 1} more)` : (errors[0]?.message ?? 'invalid instances'));
  }
}

/** Every ready replica already holds `maxQueuePerReplica` requests. */
export class ServingOverloadedError extends ServingError {
  readonly code = 'serving_overloaded';
}

/** A prediction was not answered within `timeoutMs`. */
export class ServingTimeoutError extends ServingError {
  readonly code = 'serving_timeout';
}

/** The replica thread holding the request died (or was stopped after another request on it timed out). */
export class ReplicaCrashedError extends ServingError {
  readonly code = 'replica_crashed';
}

/** The pool was closed before the request was answered. */
export class ServingClosedError extends ServingError {
  readonly code = 'serving_closed';
}
