import { DiagnosticBag } from './diagnostics';

export type TokenKind = 'name' | 'int' | 'float' | 'string' | 'punct' | 'param' | 'eof';

export interface Token {
  kind: TokenKind;
  /** Source text (punctuation, names) or the unquoted string content. */
  text: string;
  /** Numeric value of int/float tokens (0 for the others, so every token has one shape). */
  value: number;
  line: number;
  column: number;
  /** Offset of the token in the source, and of the position just after it. */
  start: number;
  end: number;
}

const PUNCT = new Set(['{', '}', '(', ')', '[', ']', ',', ':', '=', '*', '@', '/', '+']);

/**
 * Splits DSL source into tokens. Lexical errors (unexpected characters, unterminated strings, a bare `1.`-style
 * number is fine) are recorded in `bag` and the offending text is skipped, so later errors are still found.
 * `lineOffset`/`columnOffset` position tokens of a string re-lexed from inside a literal (`optimizer: "Adam(...)"`).
 */
export function tokenize(source: string, bag: DiagnosticBag, line = 1, column = 1): Token[] {
  const tokens: Token[] = [];
  const n = source.length;
  let i = 0;
  // Column of offset i is `i - lineStart + columnBase`; only newlines need bookkeeping.
  let lineStart = 0;
  let columnBase = column;

  const skipTo = (stop: number) => {
    for (let k = i; k < stop; k++) {
      if (source.charCodeAt(k) === 10) {
        line++;
        lineStart = k + 1;
        columnBase = 1;
      }
    }
    i = stop;
  };

  while (i < n) {
    const code = source.charCodeAt(i);
    if (code === 10) {
      line++;
      i++;
      lineStart = i;
      columnBase = 1;
      continue;
    }
    if (code === 32 || code === 9 || code === 13 || code === 12 || code === 11 || code === 0xfeff) {
      i++;
      continue;
    }
    if (code === 35 /* # */) {
      const nl = source.indexOf('\n', i);
      i = nl < 0 ? n : nl;
      continue;
    }
    const start = i;
    const tLine = line;
    const tColumn = i - lineStart + columnBase;
    if (isNameStart(code)) {
      let j = i + 1;
      while (j < n && isNamePart(source.charCodeAt(j))) j++;
      tokens.push({ kind: 'name', text: source.slice(i, j), value: 0, line: tLine, column: tColumn, start, end: j });
      i = j;
      continue;
    }
    const c = source[i];
    if (code === 36 /* $ */) {
      let j = i + 1;
      while (j < n && isNamePart(source.charCodeAt(j))) j++;
      if (j === i + 1 || !isNameStart(source.charCodeAt(i + 1))) {
        bag.error('syntax', `Unexpected character '$' at line ${tLine}, column ${tColumn}`, { line: tLine, column: tColumn }, "'$' must be followed by a macro parameter name, as in $filters");
        i++;
        continue;
      }
      tokens.push({ kind: 'param', text: source.slice(i + 1, j), value: 0, line: tLine, column: tColumn, start, end: j });
      i = j;
      continue;
    }
    if (isDigit(code) || code === 46 || code === 43 || code === 45) {
      const num = matchNumber(source, i);
      if (num > i) {
        const raw = source.slice(i, num);
        const isInt = isIntText(raw);
        tokens.push({ kind: isInt ? 'int' : 'float', text: raw, value: Number(raw), line: tLine, column: tColumn, start, end: num });
        i = num;
        continue;
      }
    }
    if (code === 34 || code === 39) {
      const close = source.indexOf(c, i + 1);
      if (close < 0) {
        bag.error('unterminated_string', `Unterminated string literal at line ${tLine}, column ${tColumn}`, { line: tLine, column: tColumn }, `close the string with ${c}`);
        // Skip to the end of the line so the rest of the file is still checked.
        const nl = source.indexOf('\n', i);
        skipTo(nl < 0 ? n : nl);
        continue;
      }
      tokens.push({ kind: 'string', text: source.slice(i + 1, close), value: 0, line: tLine, column: tColumn, start, end: close + 1 });
      skipTo(close + 1);
      continue;
    }
    if (c === '/' && (source[i + 1] === '/' || source[i + 1] === '*')) {
      bag.error('syntax', `Unexpected character '/' at line ${tLine}, column ${tColumn}`, { line: tLine, column: tColumn }, "comments start with '#'");
      const nl = source.indexOf('\n', i);
      i = nl < 0 ? n : nl;
      continue;
    }
    if (PUNCT.has(c) || c === '-') {
      // A minus not starting a number (`$a - 1`) stays punctuation for expressions.
      tokens.push({ kind: 'punct', text: c, value: 0, line: tLine, column: tColumn, start, end: i + 1 });
      i++;
      continue;
    }
    // Collapse a run of unexpected characters (binary garbage) into one error.
    let j = i + 1;
    while (j < n && isGarbage(source, j)) j++;
    const shown = printable(source.slice(i, i + 1));
    bag.error('syntax', `Unexpected character '${shown}' at line ${tLine}, column ${tColumn}`, { line: tLine, column: tColumn }, hintFor(c));
    skipTo(j);
  }
  tokens.push({ kind: 'eof', text: '', value: 0, line, column: i - lineStart + columnBase, start: n, end: n });
  return tokens;
}

function isIntText(raw: string): boolean {
  for (let k = raw.charCodeAt(0) === 43 || raw.charCodeAt(0) === 45 ? 1 : 0; k < raw.length; k++) {
    if (!isDigit(raw.charCodeAt(k))) return false;
  }
  return true;
}

function hintFor(c: string): string | undefined {
  if (c === '/') return "comments start with '#'";
  if (c === '.') return 'a layer list cannot contain "..."; write the layers out';
  if (c === ';') return 'statements are separated by whitespace, no semicolons needed';
  return undefined;
}

function isNameStart(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;
}

function isNamePart(code: number): boolean {
  return isNameStart(code) || (code >= 48 && code <= 57);
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isGarbage(source: string, j: number): boolean {
  const c = source[j];
  const code = source.charCodeAt(j);
  return !(isNamePart(code) || PUNCT.has(c) || c === '-' || c === '"' || c === "'" || c === '#' || c === '$' || /\s/.test(c));
}

function printable(s: string): string {
  const code = s.charCodeAt(0);
  if (code < 0x20 || code === 0x7f || (code >= 0xd800 && code <= 0xdfff)) return `\\x${code.toString(16).padStart(2, '0')}`;
  return s;
}

/**
 * Matches INT `[+-]?[0-9]+`, FLOAT `[+-]?[0-9]*\.[0-9]+([eE][+-]?[0-9]+)?`, `[+-]?[0-9]+[eE][+-]?[0-9]+`, and
 * (a [CANON] addition) `1.` — returning the end offset, or `i` when there is no number here.
 */
function matchNumber(s: string, i: number): number {
  let j = i;
  if (s[j] === '+' || s[j] === '-') j++;
  const digitsStart = j;
  while (j < s.length && isDigit(s.charCodeAt(j))) j++;
  const intDigits = j - digitsStart;
  let fracDigits = 0;
  let hasDot = false;
  if (s[j] === '.' && !(s[j + 1] === '.')) {
    let k = j + 1;
    while (k < s.length && isDigit(s.charCodeAt(k))) k++;
    fracDigits = k - j - 1;
    if (intDigits > 0 || fracDigits > 0) {
      hasDot = true;
      j = k;
    }
  }
  if (intDigits === 0 && !hasDot) return i;
  if (s[j] === 'e' || s[j] === 'E') {
    let k = j + 1;
    if (s[k] === '+' || s[k] === '-') k++;
    const expStart = k;
    while (k < s.length && isDigit(s.charCodeAt(k))) k++;
    if (k > expStart) j = k;
  }
  // `12abc` is not a number followed by a name: leave it to the error path via the name check below.
  return j;
}
