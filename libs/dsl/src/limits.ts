/** Hard limits that keep hostile input bounded in time and memory. Every one is a named, overridable setting. */
export interface DslLimits {
  /** Largest accepted source, in UTF-8 bytes. */
  maxSourceBytes: number;
  /** Deepest nesting of brackets and blocks. */
  maxNestingDepth: number;
  /** Most layers a model may have after macros and `* N` are expanded. */
  maxLayers: number;
  /** Errors collected before the parser stops looking for more. */
  maxErrors: number;
  /** Largest integer parameter value (2^31 - 1). */
  maxInt: number;
}

export const DEFAULT_LIMITS: Readonly<DslLimits> = Object.freeze({
  maxSourceBytes: 1024 * 1024,
  maxNestingDepth: 64,
  maxLayers: 10_000,
  maxErrors: 100,
  maxInt: 2 ** 31 - 1,
});
