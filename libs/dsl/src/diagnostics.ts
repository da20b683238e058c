import type { SourceLoc } from './ir';

export type Severity = 'error' | 'warning';

/** One problem found in a DSL source, positioned at 1-based line and column. */
export interface Diagnostic {
  severity: Severity;
  /** Stable machine-readable code, e.g. `syntax`, `unknown_layer`, `shape`, `unsupported_layer`. */
  code: string;
  /** One line a person can act on. */
  message: string;
  line: number;
  column: number;
  hint?: string;
}

/** The only exception the DSL library throws for bad input: carries every independent error found. */
export class DslError extends Error {
  readonly diagnostics: Diagnostic[];

  constructor(diagnostics: Diagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    const first = errors[0] ?? diagnostics[0];
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    super(first ? `line ${first.line}, column ${first.column}: ${first.message}${more}` : 'invalid DSL source');
    this.name = 'DslError';
    this.diagnostics = diagnostics;
  }
}

export function diag(code: string, message: string, loc: SourceLoc | undefined, hint?: string, severity: Severity = 'error'): Diagnostic {
  const d: Diagnostic = { severity, code, message, line: loc?.line ?? 1, column: loc?.column ?? 1 };
  if (hint) d.hint = hint;
  return d;
}

/** Collects diagnostics during a pass; `throwIfErrors` ends the pass with every error found so far. */
export class DiagnosticBag {
  readonly items: Diagnostic[] = [];

  constructor(private readonly maxErrors = 100) {}

  error(code: string, message: string, loc: SourceLoc | undefined, hint?: string): void {
    // A second error at the very same spot is a consequence of the first.
    if (loc && this.items.some((d) => d.severity === 'error' && d.line === loc.line && d.column === loc.column)) return;
    if (this.errorCount() < this.maxErrors) this.items.push(diag(code, message, loc, hint));
  }

  warn(code: string, message: string, loc: SourceLoc | undefined, hint?: string): void {
    this.items.push(diag(code, message, loc, hint, 'warning'));
  }

  errorCount(): number {
    return this.items.reduce((n, d) => n + (d.severity === 'error' ? 1 : 0), 0);
  }

  hasErrors(): boolean {
    return this.items.some((d) => d.severity === 'error');
  }

  warnings(): Diagnostic[] {
    return this.items.filter((d) => d.severity === 'warning');
  }

  throwIfErrors(): void {
    if (this.hasErrors()) throw new DslError(sortDiagnostics(this.items.filter((d) => d.severity === 'error')));
  }
}

export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => a.line - b.line || a.column - b.column);
}

/**
 * Renders a diagnostic the way compilers do:
 * `model.neural:4:5: error: Dropout rate should be between 0 and 1, got 1.5`, the source line, a caret, a hint.
 */
export function formatDiagnostic(d: Diagnostic, source?: string, file = '<input>'): string {
  const out = [`${file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`];
  const text = source === undefined ? undefined : sourceLine(source, d.line);
  if (text !== undefined) {
    const shown = text.length > 160 ? text.slice(0, 160) : text;
    // Control characters would garble a terminal; one placeholder each keeps the caret aligned.
    out.push(`  ${shown.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === '\t' ? ' ' : '?'))}`);
    out.push(`  ${' '.repeat(Math.max(0, Math.min(d.column - 1, shown.length)))}^`);
  }
  if (d.hint) out.push(`  hint: ${d.hint}`);
  return out.join('\n');
}

/** The text of a 1-based line, without its newline; undefined when out of range. */
export function sourceLine(source: string, line: number): string | undefined {
  let start = 0;
  for (let l = 1; l < line; l++) {
    const nl = source.indexOf('\n', start);
    if (nl < 0) return undefined;
    start = nl + 1;
  }
  const end = source.indexOf('\n', start);
  return source.slice(start, end < 0 ? source.length : end).replace(/\r$/, '');
}

/** Closest candidate by edit distance, for "did you mean ...?" hints; undefined when nothing is close. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestScore = 0;
  for (const c of candidates) {
    const score = similarity(w, c.toLowerCase());
    if (score > bestScore) {
      bestScore = score;
      best = c;
    }
  }
  return bestScore >= 0.6 ? best : undefined;
}

/** Normalised Levenshtein similarity in [0, 1]. */
function similarity(a: string, b: string): number {
  if (a === b) return 1;
  if (!a.length || !b.length || Math.abs(a.length - b.length) > 8) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return 1 - prev[b.length] / Math.max(a.length, b.length);
}
