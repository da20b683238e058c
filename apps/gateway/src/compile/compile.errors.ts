import { CompileError, DatasetMismatchError, DslCompileError, TrainingConfigRejectedError } from '@app/queue';
import { DomainError } from '../common/domain-error';

const TITLES: Record<string, string> = {
  dsl_syntax_error: 'DSL syntax error',
  dsl_error: 'Invalid DSL model',
  compile_timeout: 'Compile took too long',
  compile_too_large: 'Model too large to compile',
  dataset_mismatch: 'Dataset does not fit the model',
};

/**
 * A compile failure as a 422 problem: DSL errors list one entry per problem (line, column, message, hint), the
 * resource stops (time, memory) say which limit the model hit.
 */
export function compileProblem(e: CompileError): DomainError {
  if (e instanceof DslCompileError) {
    const first = e.errors[0];
    const detail = first
      ? `The DSL code has ${e.errors.length} error${e.errors.length > 1 ? 's' : ''}; the first, at line ${first.line}, column ${first.column}: ${first.message}`
      : 'The DSL code is not valid.';
    return new DomainError(e.code, 422, TITLES[e.code], detail, e.errors);
  }
  if (e instanceof TrainingConfigRejectedError) return DomainError.validation(e.errors, 'The training_config is not valid for this model; see errors for each field.');
  if (e instanceof DatasetMismatchError) return new DomainError(e.code, 422, TITLES[e.code], sentence(e.message), [{ field: 'dataset', message: e.message }]);
  return new DomainError(e.code, 422, TITLES[e.code] ?? 'Cannot compile', e.message);
}

/** The text as a sentence: capitalised, with a full stop. */
function sentence(text: string): string {
  const s = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}
