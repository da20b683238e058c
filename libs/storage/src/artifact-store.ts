/** Where generated model files live. Keys are relative, slash-separated paths chosen by the platform. */
export abstract class ArtifactStore {
  /** Stores `data` under `key`, replacing any previous content atomically. */
  abstract put(key: string, data: Buffer | string): Promise<{ size: number }>;
  /**
   * Stores a stream under `key` without holding it in memory, atomically. More than `maxBytes` rejects with
   * ArtifactTooLargeError and stores nothing; a failing source rejects with its error and stores nothing.
   */
  abstract putStream(key: string, source: NodeJS.ReadableStream, options?: { maxBytes?: number }): Promise<{ size: number }>;
  /** The whole content; rejects with ArtifactNotFoundError when absent. */
  abstract get(key: string): Promise<Buffer>;
  /** The content as a stream; a missing artifact surfaces as an ArtifactNotFoundError 'error' event. */
  abstract stream(key: string): NodeJS.ReadableStream;
  /** Removes the artifact; removing an absent one is not an error. */
  abstract delete(key: string): Promise<void>;
  abstract exists(key: string): Promise<boolean>;
  /** Size in bytes, or null when absent. */
  abstract size(key: string): Promise<number | null>;
  /** A filesystem path a local process can read the artifact from, or null when the store is not local. */
  abstract localPath(key: string): string | null;
}

/** Matches `<segment>(/<segment>)*` where a segment starts with a letter or digit. */
export const ARTIFACT_KEY_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9._-]*(\/[a-zA-Z0-9][a-zA-Z0-9._-]*)*$/;
export const MAX_ARTIFACT_KEY_LENGTH = 512;
/** Longest segment, the usual filesystem limit for one path component. */
export const MAX_ARTIFACT_KEY_SEGMENT_LENGTH = 255;

/** A key that could address something outside the store (or is just malformed). */
export class InvalidArtifactKeyError extends Error {
  constructor(readonly key: string) {
    super(`invalid artifact key ${JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}…` : key)}`);
    this.name = 'InvalidArtifactKeyError';
  }
}

/** A streamed artifact exceeded the size it was allowed. */
export class ArtifactTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the data exceeds the limit of ${maxBytes} bytes`);
    this.name = 'ArtifactTooLargeError';
  }
}

export class ArtifactNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`artifact not found: ${key}`);
    this.name = 'ArtifactNotFoundError';
  }
}

/** Throws InvalidArtifactKeyError unless `key` matches {@link ARTIFACT_KEY_PATTERN}, has no `..` and fits the limits. */
export function assertValidArtifactKey(key: unknown): asserts key is string {
  if (
    typeof key !== 'string' ||
    key.length > MAX_ARTIFACT_KEY_LENGTH ||
    key.includes('..') ||
    !ARTIFACT_KEY_PATTERN.test(key) ||
    key.split('/').some((segment) => segment.length > MAX_ARTIFACT_KEY_SEGMENT_LENGTH)
  ) {
    throw new InvalidArtifactKeyError(String(key));
  }
}
