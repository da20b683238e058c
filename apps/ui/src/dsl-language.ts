import { HighlightStyle, StreamLanguage, syntaxHighlighting, type StreamParser } from '@codemirror/language';
import { tags as t } from '@lezer/highlight';
import type { Extension } from '@codemirror/state';

/** Words of the Neural DSL's structure and of its hyperparameter search syntax. */
export const KEYWORDS = new Set(['network', 'input', 'layers', 'loss', 'optimizer', 'train', 'execute', 'define', 'HPO', 'choice', 'range', 'log_range']);

const ATOMS = new Set(['None', 'True', 'False', 'true', 'false', 'null']);

/**
 * A line-based tokenizer for the Neural DSL: keywords, layer names (a capitalised identifier followed by `(`),
 * numbers, strings, and `#` / `//` comments. Strings do not span lines in the DSL, so the parser keeps no state.
 */
export const neuralParser: StreamParser<Record<string, never>> = {
  name: 'neural',
  startState: () => ({}),
  token(stream) {
    if (stream.eatSpace()) return null;
    if (stream.match('#') || stream.match('//')) {
      stream.skipToEnd();
      return 'comment';
    }
    const ch = stream.peek();
    if (ch === '"' || ch === "'") {
      stream.next();
      let escaped = false;
      for (let c = stream.next(); c != null; c = stream.next()) {
        if (c === ch && !escaped) break;
        escaped = !escaped && c === '\\';
      }
      return 'string';
    }
    if (stream.match(/^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/)) return 'number';
    if (stream.match(/^[A-Za-z_]\w*/)) {
      const word = stream.current();
      if (KEYWORDS.has(word)) return 'keyword';
      if (ATOMS.has(word)) return 'atom';
      if (/^[A-Z]/.test(word) && stream.match(/^\s*\(/, false)) return 'typeName';
      if (stream.match(/^\s*[:=]/, false)) return 'propertyName';
      return 'variableName';
    }
    if (stream.match(/^[{}()[\]]/)) return 'bracket';
    if (stream.match(/^[:=,]/)) return 'punctuation';
    stream.next();
    return null;
  },
  languageData: { commentTokens: { line: '#' } },
};

export const neuralLanguage = StreamLanguage.define(neuralParser);

/** Colours with at least 4.5:1 contrast on white. */
export const neuralHighlightStyle = HighlightStyle.define([
  { tag: t.keyword, color: '#7c3aed', fontWeight: '600' },
  { tag: t.typeName, color: '#0f766e', fontWeight: '600' },
  { tag: t.number, color: '#1d4ed8' },
  { tag: t.string, color: '#b91c1c' },
  { tag: t.comment, color: '#6b7280', fontStyle: 'italic' },
  { tag: t.atom, color: '#9333ea' },
  { tag: t.propertyName, color: '#92400e' },
  { tag: t.bracket, color: '#374151' },
]);

/** The Neural DSL language with its highlighting, for an editor's extensions. */
export function neural(): Extension {
  return [neuralLanguage, syntaxHighlighting(neuralHighlightStyle)];
}
