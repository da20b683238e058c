import type { DslErrorEntry } from '@app/contracts';
import type { Diagnostic } from '@app/dsl';

/** Diagnostic codes that mean the text could not be parsed at all (as opposed to a well-formed but invalid model). */
const SYNTAX_CODES = new Set(['syntax', 'unexpected_eof', 'unterminated_string']);

/** Base of the compile pipeline's typed errors; `code` is the machine-readable code served to clients. */
export abstract class CompileError extends Error {
  abstract readonly code: string;
}

/** The DSL source is invalid: carries every diagnostic of libs/dsl. */
export class DslCompileError extends CompileError {
  /** `dsl_syntax_error` when the source does not parse, `dsl_error` when it parses but is not a valid model. */
  readonly code: 'dsl_syntax_error' | 'dsl_error';
  readonly errors: DslErrorEntry[];

  constructor(readonly diagnostics: Diagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    const shown = errors.length ? errors : diagnostics;
    const first = shown[0];
    const more = shown.length > 1 ? ` (and ${shown.length - 1} more)` : '';
    super(first ? `line ${first.line}, column ${first.column}: ${first.message}${more}` : 'invalid DSL source');
    this.name = 'DslCompileError';
    this.code = shown.some((d) => SYNTAX_CODES.has(d.code)) ? 'dsl_syntax_error' : 'dsl_error';
    this.errors = shown.map(toErrorEntry);
  }
}

/** The compile ran longer than `config.queue.compileTimeoutMs` and was stopped. */
export class CompileTimeoutError extends CompileError {
  readonly code = 'compile_timeout';

  constructor(readonly timeoutMs: number) {
    super(`compiling took longer than ${timeoutMs} ms and was stopped; make the model smaller`);
    this.name = 'CompileTimeoutError';
  }
}

/** The compile needed more memory than a compile may use (e.g. ONNX weights of a gigantic layer) and was stopped. */
export class CompileResourceError extends CompileError {
  readonly code = 'compile_too_large';

  constructor(readonly limitMb: number) {
    super(`compiling needed more than ${limitMb} MB of memory and was stopped; make the model smaller`);
    this.name = 'CompileResourceError';
  }
}

/** The request's training_config cannot be used: one `{field, message}` per problem. */
export class TrainingConfigRejectedError extends CompileError {
  readonly code = 'validation_error';
  constructor(readonly errors: Array<{ field: string; message: string }>) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
    this.name = 'TrainingConfigRejectedError';
  }
}

/** The dataset's samples or labels do not fit the model; the message names both shapes. */
export class DatasetMismatchError extends CompileError {
  readonly code = 'dataset_mismatch';
  constructor(message: string) {
    super(message);
    this.name = 'DatasetMismatchError';
  }
}

/** A diagnostic as served in `errors` (and in `warnings` of a result). */
export function toErrorEntry(d: Diagnostic): DslErrorEntry {
  const entry: DslErrorEntry = { line: d.line, column: d.column, message: d.message };
  if (d.hint) entry.hint = d.hint;
  return entry;
}
