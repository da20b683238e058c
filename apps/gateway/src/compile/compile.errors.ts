import { CompileError, DslCompileError } from '@app/queue';
import { DomainError } from '../common/domain-error';

const TITLES: Record<string, string> = {
  dsl_syntax_error: 'DSL syntax error',
  dsl_error: 'Invalid DSL model',
  compile_timeout: 'Compile took too long',
  compile_too_large: 'Model too large to compile',
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
  return new DomainError(e.code, 422, TITLES[e.code] ?? 'Cannot compile', e.message);
}
