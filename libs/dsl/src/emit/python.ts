/**
 * Python literal rendering for the code emitters. Every string a DSL author controls reaches generated code only
 * through `pyStr` (a fully escaped literal) or `pyIdent` (checked against a strict identifier pattern), so no DSL
 * input can inject code.
 */

const PY_KEYWORDS = new Set([
  'False', 'None', 'True', 'and', 'as', 'assert', 'async', 'await', 'break', 'class', 'continue', 'def', 'del', 'elif',
  'else', 'except', 'finally', 'for', 'from', 'global', 'if', 'import', 'in', 'is', 'lambda', 'nonlocal', 'not', 'or',
  'pass', 'raise', 'return', 'try', 'while', 'with', 'yield', 'match', 'case',
]);

/** A Python string literal for any JS string: ASCII-only output, every special character escaped. */
export function pyStr(s: string): string {
  let out = "'";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'") out += "\\'";
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (c <= 0xff) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c <= 0xffff) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += `\\U${c.toString(16).padStart(8, '0')}`;
  }
  return out + "'";
}

/** An identifier safe to use as a Python name; throws on anything else (callers pass validated model ids). */
export function pyIdent(s: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(s) || PY_KEYWORDS.has(s)) {
    throw new Error(`internal: '${s}' is not a safe Python identifier`);
  }
  return s;
}

/** A Python float/int literal; refuses NaN and infinities, which have no literal. */
export function pyNum(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`internal: non-finite number ${n}`);
  if (Number.isInteger(n)) return String(n);
  const s = String(n);
  return s.includes('e') || s.includes('.') ? s : `${s}.0`;
}

/** Renders plain JSON-like values (numbers, strings, booleans, null, arrays as tuples) as Python literals. */
export function pyValue(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return pyNum(v);
  if (typeof v === 'string') return pyStr(v);
  if (Array.isArray(v)) return v.length === 1 ? `(${pyValue(v[0])},)` : `(${v.map(pyValue).join(', ')})`;
  throw new Error(`internal: cannot render ${typeof v} as a Python literal`);
}
