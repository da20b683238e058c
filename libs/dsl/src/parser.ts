import type { AstArg, AstFile, AstInput, AstItem, AstMacro, AstNetwork, AstShape, AstValue } from './ast';
import { DiagnosticBag, DslError, suggest } from './diagnostics';
import type { ModelIR, SourceLoc } from './ir';
import { LAYER_TYPES } from './layers';
import { tokenize, type Token } from './lexer';
import { lower } from './lower';
import { DEFAULT_LIMITS, type DslLimits } from './limits';

const SECTIONS = new Set(['input', 'layers', 'loss', 'optimizer', 'metrics', 'train', 'training', 'execute', 'execution', 'lr_schedule']);
const BLOCK_SECTIONS = new Set(['train', 'training', 'execute', 'execution']);
const SECTION_LIST = 'input, layers, loss, optimizer, metrics, train, execute';

/** Raised inside the parser to unwind to the nearest recovery point; never escapes this module. */
class Bail {
  constructor(readonly fatal = false) {}
}

/**
 * Recursive-descent parser for the canonical grammar (DSL.md §2.3) plus the `Model X { Input(...) ... }` shorthand,
 * parameterised macros (`define Block(filters) { Conv2D($filters) }`), `layers: [a, b]` lists and `input: shape(...)`.
 * It recovers at item and section boundaries so that one pass reports every independent syntax error.
 */
export class Parser {
  private pos = 0;
  private depth = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly bag: DiagnosticBag,
    private readonly limits: DslLimits,
  ) {}

  parseFile(): AstFile {
    const file: AstFile = { macros: [] };
    try {
      if (this.peek().kind === 'eof') {
        this.fail(this.peek(), "expected 'network'");
      }
      while (this.peek().kind !== 'eof') {
        const t = this.peek();
        try {
          if (t.kind === 'name' && t.text === 'define') {
            file.macros.push(this.parseMacro());
          } else if (t.kind === 'name' && (t.text === 'network' || t.text === 'Model')) {
            const net = this.parseNetwork();
            if (file.network) this.bag.error('syntax', 'A file must contain exactly one network; found a second one', net.loc, 'move the second network to its own file');
            else file.network = net;
          } else {
            const hint = t.kind === 'name' && t.text.toLowerCase() === 'network' ? "keywords are lowercase: write 'network'" : undefined;
            this.fail(t, "expected 'network'", hint);
          }
        } catch (e) {
          if (!(e instanceof Bail) || e.fatal) throw e;
          this.skipToTopLevel();
        }
      }
    } catch (e) {
      if (!(e instanceof Bail)) throw e;
    }
    return file;
  }

  // ---- top level -------------------------------------------------------------------------------------------------

  private parseMacro(): AstMacro {
    this.next(); // define
    const nameTok = this.expectName('a macro name after define');
    let params: AstMacro['params'] = null;
    if (this.isPunct('(')) {
      this.open();
      params = [];
      while (!this.isPunct(')')) {
        const p = this.expectName('a parameter name');
        params.push({ name: p.text, loc: loc(p) });
        if (!this.isPunct(')')) this.expectPunct(',', "',' or ')'");
      }
      this.close(')');
    }
    this.expectOpen('{', `'{' to start the body of macro '${nameTok.text}'`);
    const body = this.parseItems('}');
    this.close('}');
    return { name: nameTok.text, loc: loc(nameTok), params, body };
  }

  private parseNetwork(): AstNetwork {
    const kw = this.next();
    const shorthand = kw.text === 'Model';
    const nameTok = this.expectName(`a network name after '${kw.text}'`);
    const net: AstNetwork = { name: nameTok.text, loc: loc(nameTok), shorthand };
    this.expectOpen('{', `'{' after the network name`);
    const bodyDepth = this.depth;
    while (!this.isPunct('}')) {
      const t = this.peek();
      if (t.kind === 'eof') this.fail(t, "expected '}' to close the network", `the network '${net.name}' is missing its closing '}'`);
      try {
        if (this.isSectionStart()) {
          this.parseSection(net);
        } else if (shorthand && t.kind === 'name' && t.text === 'Input' && this.peekAt(1).text === '(') {
          this.parseShorthandInput(net);
        } else if (shorthand && t.kind === 'name') {
          const items = this.parseItems('}');
          if (net.layers) net.layers.items.push(...items);
          else net.layers = { items, loc: loc(t) };
        } else if (t.kind === 'name' && SECTIONS.has(t.text)) {
          this.fail(this.peekAt(1), `expected ${BLOCK_SECTIONS.has(t.text) ? "'{'" : "':'"} after '${t.text}'`);
        } else {
          const lower = t.kind === 'name' ? t.text.toLowerCase() : '';
          const hint = SECTIONS.has(lower) ? `section keywords are lowercase: write '${lower}'` : `a network body holds sections: ${SECTION_LIST}`;
          this.fail(t, `expected a section (${SECTION_LIST})`, hint);
        }
      } catch (e) {
        if (!(e instanceof Bail) || e.fatal) throw e;
        this.skipToSection(bodyDepth);
      }
    }
    this.close('}');
    return net;
  }

  private isSectionStart(): boolean {
    const t = this.peek();
    if (t.kind !== 'name' || !SECTIONS.has(t.text)) return false;
    const n = this.peekAt(1);
    return n.text === ':' || (BLOCK_SECTIONS.has(t.text) && n.text === '{');
  }

  private parseSection(net: AstNetwork): void {
    const kw = this.next();
    const key = kw.text;
    const at = loc(kw);
    const dupe = (present: unknown, what: string) => {
      if (present) this.bag.error('duplicate_section', `Duplicate ${what} section`, at, `a network has at most one ${what} section`);
    };
    switch (key) {
      case 'input': {
        this.expectPunct(':', "':' after 'input'");
        const items = this.parseInputSpec();
        dupe(net.inputs, 'input');
        if (!net.inputs) net.inputs = { items, loc: at };
        return;
      }
      case 'layers': {
        this.expectPunct(':', "':' after 'layers'");
        let items: AstItem[];
        if (this.isPunct('[')) {
          this.open();
          items = this.parseItems(']', true);
          this.close(']');
        } else {
          items = this.parseItems('}');
        }
        dupe(net.layers, 'layers');
        if (!net.layers) net.layers = { items, loc: at };
        return;
      }
      case 'loss':
      case 'optimizer':
      case 'metrics':
      case 'lr_schedule': {
        this.expectPunct(':', `':' after '${key}'`);
        const value = this.parseValue();
        const slot = key === 'lr_schedule' ? 'lrSchedule' : key;
        dupe(net[slot], key);
        if (!net[slot]) net[slot] = { value, loc: at };
        return;
      }
      default: {
        if (this.isPunct(':')) this.next();
        const entries = this.parseEntries(key);
        const slot = key === 'train' || key === 'training' ? 'training' : 'execution';
        dupe(net[slot], slot === 'training' ? 'train' : 'execute');
        if (!net[slot]) net[slot] = { entries, loc: at };
      }
    }
  }

  /** `{ key: value [,] ... }` of train/execute; `batch_size: 16, 32` makes a list of the values. */
  private parseEntries(section: string): AstArg[] {
    this.expectOpen('{', `'{' after '${section}'`);
    const entries: AstArg[] = [];
    while (!this.isPunct('}')) {
      const keyTok = this.peek();
      if (keyTok.kind !== 'name') this.fail(keyTok, `expected a setting name in '${section}' (e.g. epochs: 10)`);
      this.next();
      this.expectPunct(':', `':' after '${keyTok.text}'`);
      const values = [this.parseValue()];
      while (this.isPunct(',')) {
        this.next();
        const t = this.peek();
        if (t.kind === 'name' && this.peekAt(1).text === ':') break;
        if (this.isPunct('}')) break;
        values.push(this.parseValue());
      }
      const value: AstValue = values.length === 1 ? values[0] : { k: 'tuple', items: values, loc: values[0].loc };
      entries.push({ name: keyTok.text, nameLoc: loc(keyTok), value });
    }
    this.close('}');
    return entries;
  }

  private parseInputSpec(): AstInput[] {
    if (this.isPunct('{')) {
      this.open();
      const items: AstInput[] = [];
      while (!this.isPunct('}')) {
        const nameTok = this.expectName('an input name');
        this.expectPunct(':', `':' after input name '${nameTok.text}'`);
        items.push({ name: nameTok.text, shape: this.parseShape(), loc: loc(nameTok) });
        if (!this.isPunct('}')) this.expectPunct(',', "',' or '}'");
      }
      this.close('}');
      return items;
    }
    const items: AstInput[] = [];
    do {
      if (items.length) this.next();
      const shape = this.parseShape();
      items.push({ shape, loc: shape.loc });
    } while (this.isPunct(','));
    return items;
  }

  private parseShape(): AstShape {
    const t = this.peek();
    if (t.kind === 'name' && t.text === 'shape' && this.peekAt(1).text === '(') this.next();
    const open = this.peek();
    if (!this.isPunct('(') && !this.isPunct('[')) this.fail(open, 'expected a shape such as (28, 28, 1)');
    const value = this.parseValue();
    const dims = value.k === 'tuple' ? value.items : [value];
    return { dims, loc: loc(open) };
  }

  private parseShorthandInput(net: AstNetwork): void {
    const t = this.next();
    const at = loc(t);
    this.open();
    const args = this.parseArgs();
    this.close(')');
    const shapeArg = args.find((a) => a.name === 'shape') ?? args.find((a) => !a.name);
    if (!shapeArg) {
      this.bag.error('syntax', "Input(...) needs a shape, e.g. Input(shape=[28, 28, 1])", at);
      return;
    }
    const nameArg = args.find((a) => a.name === 'name');
    const dims = shapeArg.value.k === 'tuple' ? shapeArg.value.items : [shapeArg.value];
    const input: AstInput = { shape: { dims, loc: shapeArg.value.loc }, loc: at };
    if (nameArg && (nameArg.value.k === 'str' || nameArg.value.k === 'name')) input.name = nameArg.value.v;
    if (net.inputs) net.inputs.items.push(input);
    else net.inputs = { items: [input], loc: at };
  }

  // ---- layer items -----------------------------------------------------------------------------------------------

  /**
   * Items up to `close` (not consumed) or the next section keyword. With `commas`, items are comma-separated
   * (`layers: [a, b]`).
   */
  private parseItems(close: '}' | ']', commas = false): AstItem[] {
    const items: AstItem[] = [];
    const itemDepth = this.depth;
    while (!this.isPunct(close)) {
      const t = this.peek();
      if (t.kind === 'eof') this.fail(t, `expected '${close}'`, close === '}' ? "a block is missing its closing '}'" : undefined);
      if (close === '}' && this.isSectionStart()) break;
      // A foreign closer ends the list; the caller reports the mismatch.
      if (isCloser(t)) break;
      try {
        items.push(this.parseItem());
        if (commas && !this.isPunct(close)) this.expectPunct(',', `',' or '${close}'`);
      } catch (e) {
        if (!(e instanceof Bail) || e.fatal) throw e;
        this.skipToItem(itemDepth);
      }
    }
    return items;
  }

  private parseItem(): AstItem {
    const t = this.peek();
    if (t.kind !== 'name') {
      this.fail(t, 'expected a layer', t.kind === 'punct' && t.text === '*' ? "a multiplier follows a layer: Dense(64) * 3" : undefined);
    }
    this.next();
    if (this.isPunct(':') && this.peekAt(1).text === '{') {
      this.next();
      this.open();
      const body = this.parseItems('}');
      this.close('}');
      return { k: 'branch', name: t.text, loc: loc(t), body, mult: this.parseMultiplier() };
    }
    const item: AstItem = { k: 'layer', name: t.text, loc: loc(t), args: null, block: null };
    if (this.isPunct('(')) {
      this.open();
      item.args = this.parseArgs();
      this.close(')');
    }
    if (this.isPunct('@')) {
      this.next();
      const d = this.peek();
      if (d.kind !== 'string') this.fail(d, 'expected a device string after \'@\', e.g. @ "cuda:0"');
      this.next();
      item.device = { value: d.text, loc: loc(d) };
    }
    if (this.isPunct('{')) {
      this.open();
      item.block = this.parseItems('}');
      this.close('}');
    }
    item.mult = this.parseMultiplier();
    if (item.args === null && item.block === null && this.isPunct('@')) {
      this.fail(this.peek(), "a device placement follows the layer's arguments: Dense(5) @ \"cuda:0\" * 2");
    }
    if (this.isPunct('@')) this.fail(this.peek(), "the device goes before the multiplier: Dense(5) @ \"cuda:0\" * 2");
    return item;
  }

  private parseMultiplier(): { value: number; loc: SourceLoc } | undefined {
    if (!this.isPunct('*')) return undefined;
    this.next();
    const n = this.peek();
    if (n.kind !== 'int' && n.kind !== 'float') this.fail(n, "expected a repeat count after '*', e.g. * 3");
    this.next();
    return { value: n.value!, loc: loc(n) };
  }

  // ---- values ----------------------------------------------------------------------------------------------------

  /** Arguments up to (not including) ')'. Positional arguments must come before named ones. */
  private parseArgs(): AstArg[] {
    const args: AstArg[] = [];
    while (!this.isPunct(')')) {
      const t = this.peek();
      let arg: AstArg;
      if (t.kind === 'name' && (this.peekAt(1).text === '=' || (this.peekAt(1).text === ':' && this.peekAt(2).text !== '{'))) {
        this.next();
        this.next();
        arg = { name: t.text, nameLoc: loc(t), value: this.parseExpr() };
      } else {
        arg = { value: this.parseExpr() };
        if (args.some((a) => a.name)) {
          this.bag.error('syntax', 'Positional argument follows a named argument', arg.value.loc, 'put positional arguments first');
        }
      }
      args.push(arg);
      if (!this.isPunct(')')) this.expectPunct(',', "',' or ')'");
    }
    return args;
  }

  private parseExpr(): AstValue {
    let left = this.parseTerm();
    for (;;) {
      const t = this.peek();
      if (t.kind === 'punct' && (t.text === '+' || t.text === '-')) {
        this.next();
        const right = this.parseTerm();
        left = { k: 'binop', op: t.text, left, right, loc: left.loc };
      } else if ((t.kind === 'int' || t.kind === 'float') && /^[+-]/.test(t.text) && isArithmetic(left)) {
        // `$a-1` lexes as `$a` followed by the number `-1`.
        this.next();
        const right: AstValue = { k: 'num', v: Math.abs(t.value!), isInt: t.kind === 'int', loc: loc(t) };
        left = { k: 'binop', op: t.text[0] as '+' | '-', left, right, loc: left.loc };
      } else {
        return left;
      }
    }
  }

  private parseTerm(): AstValue {
    let left = this.parseValue();
    while (this.isPunct('*') || this.isPunct('/')) {
      const op = this.next().text as '*' | '/';
      const right = this.parseValue();
      left = { k: 'binop', op, left, right, loc: left.loc };
    }
    return left;
  }

  parseValue(): AstValue {
    const t = this.peek();
    const at = loc(t);
    switch (t.kind) {
      case 'int':
      case 'float':
        this.next();
        return { k: 'num', v: t.value!, isInt: t.kind === 'int', loc: at };
      case 'string':
        this.next();
        return { k: 'str', v: t.text, loc: at };
      case 'param':
        this.next();
        return { k: 'param', name: t.text, loc: at };
      case 'name': {
        this.next();
        const lowerText = t.text.toLowerCase();
        if (lowerText === 'true' || lowerText === 'false') return { k: 'bool', v: lowerText === 'true', loc: at };
        if (lowerText === 'none') return { k: 'none', loc: at };
        if (t.text === 'HPO') return this.parseHpo(t);
        if (this.isPunct('(')) {
          this.open();
          const args = this.parseArgs();
          this.close(')');
          return { k: 'call', name: t.text, args, loc: at };
        }
        return { k: 'name', v: t.text, loc: at };
      }
      case 'punct':
        if (t.text === '(' || t.text === '[') {
          const close = t.text === '(' ? ')' : ']';
          this.open();
          const items: AstValue[] = [];
          while (!this.isPunct(close)) {
            items.push(this.parseExpr());
            if (!this.isPunct(close)) this.expectPunct(',', `',' or '${close}'`);
          }
          this.close(close);
          return { k: 'tuple', items, loc: at };
        }
        break;
    }
    return this.fail(t, 'expected a value (number, string, tuple, list, true/false, None or HPO(...))');
  }

  private parseHpo(hpoTok: Token): AstValue {
    this.expectOpen('(', "'(' after HPO");
    const fnTok = this.peek();
    if (fnTok.kind !== 'name' || !['choice', 'range', 'log_range'].includes(fnTok.text)) {
      const s = fnTok.kind === 'name' ? suggest(fnTok.text, ['choice', 'range', 'log_range']) : undefined;
      this.fail(fnTok, 'expected choice, range or log_range inside HPO(...)', s ? `did you mean ${s}?` : 'HPO(choice(a, b)), HPO(range(lo, hi, step=s)), HPO(log_range(lo, hi))');
    }
    this.next();
    this.expectOpen('(', `'(' after ${fnTok.text}`);
    const args = this.parseArgs();
    this.close(')');
    this.close(')');
    return { k: 'hpo', fn: fnTok.text as 'choice' | 'range' | 'log_range', args, loc: loc(hpoTok) };
  }

  // ---- token helpers ---------------------------------------------------------------------------------------------

  /** The token at the cursor (for callers that parse a fragment and check that nothing follows). */
  current(): Token {
    return this.peek();
  }

  private peek(): Token {
    return this.tokens[this.pos];
  }

  private peekAt(k: number): Token {
    return this.tokens[Math.min(this.pos + k, this.tokens.length - 1)];
  }

  private next(): Token {
    const t = this.tokens[this.pos];
    if (t.kind !== 'eof') this.pos++;
    return t;
  }

  private isPunct(text: string): boolean {
    const t = this.tokens[this.pos];
    return t.kind === 'punct' && t.text === text;
  }

  private open(): void {
    this.next();
    this.depth++;
    if (this.depth > this.limits.maxNestingDepth) {
      this.bag.error('limit', `maximum nesting depth exceeded (${this.limits.maxNestingDepth})`, loc(this.tokens[this.pos - 1]), 'flatten the structure or use macros');
      throw new Bail(true);
    }
  }

  private close(text: ')' | ']' | '}'): void {
    if (!this.isPunct(text)) {
      const t = this.peek();
      const hint = t.kind === 'eof' ? `add the missing '${text}'` : undefined;
      this.fail(t, `expected '${text}'`, hint);
    }
    this.next();
    this.depth--;
  }

  private expectOpen(text: '(' | '{', what: string): void {
    if (!this.isPunct(text)) this.fail(this.peek(), `expected ${what}`);
    this.open();
  }

  private expectPunct(text: string, what: string): void {
    if (!this.isPunct(text)) this.fail(this.peek(), `expected ${what}`);
    this.next();
  }

  private expectName(what: string): Token {
    const t = this.peek();
    if (t.kind !== 'name') this.fail(t, `expected ${what}`);
    return this.next();
  }

  private fail(t: Token, expected: string, hint?: string): never {
    const at = loc(t);
    if (t.kind === 'eof') {
      // One end-of-input error is enough, and none after an unterminated string swallowed the rest.
      if (this.bag.items.some((d) => d.code === 'unterminated_string' || d.code === 'unexpected_eof')) throw new Bail(true);
      this.bag.error('unexpected_eof', `Unexpected end of input at line ${at.line}, column ${at.column}: ${expected}`, at, hint ?? "a '}' or ')' may be missing");
    } else {
      const shown = t.kind === 'string' ? `"${t.text.slice(0, 40)}"` : t.kind === 'param' ? `$${t.text}` : t.text.slice(0, 40);
      let h = hint;
      const prev = this.tokens[this.pos - 1];
      if (!h && /'\)'/.test(expected) && prev && prev.line < t.line) h = `is a ')' missing at the end of line ${prev.line}?`;
      if (!h && t.kind === 'name') {
        const s = suggest(t.text, LAYER_TYPES);
        if (s && s !== t.text) h = `did you mean ${s}?`;
      }
      this.bag.error('syntax', `Unexpected token '${shown}' at line ${at.line}, column ${at.column}: ${expected}`, at, h);
    }
    if (this.bag.errorCount() >= this.limits.maxErrors) throw new Bail(true);
    throw new Bail();
  }

  /** After an error inside an item: skip to the next item at `itemDepth`, or the block's end. */
  private skipToItem(itemDepth: number): void {
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') return;
      // A name at item depth starts the next item (parseItem always consumes the name it starts with).
      if (this.depth <= itemDepth && (t.kind === 'name' || isCloser(t))) return;
      // An unclosed bracket would swallow the rest of the file: a `Name(` opening a new line starts the next item.
      if (this.depth > itemDepth && t.kind === 'name' && this.peekAt(1).text === '(' && this.tokens[this.pos - 1].line < t.line) {
        this.depth = itemDepth;
        return;
      }
      this.skipOne(itemDepth);
    }
  }

  /** After an error in a section: skip to the next section keyword or the network's closing brace. */
  private skipToSection(bodyDepth: number): void {
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') return;
      if (this.depth <= bodyDepth && (this.isPunct('}') || this.isSectionStart())) return;
      this.skipOne(bodyDepth);
    }
  }

  private skipToTopLevel(): void {
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') return;
      if (this.depth <= 0 && t.kind === 'name' && (t.text === 'network' || t.text === 'define' || t.text === 'Model')) return;
      this.skipOne(0);
    }
  }

  private skipOne(floor: number): void {
    const t = this.next();
    if (t.kind !== 'punct') return;
    if (t.text === '(' || t.text === '[' || t.text === '{') this.depth++;
    else if ((t.text === ')' || t.text === ']' || t.text === '}') && this.depth > floor) this.depth--;
  }
}

function isCloser(t: Token): boolean {
  return t.kind === 'punct' && (t.text === ')' || t.text === ']' || t.text === '}');
}

function isArithmetic(v: AstValue): boolean {
  return v.k === 'param' || v.k === 'binop' || v.k === 'num';
}

function loc(t: Token): SourceLoc {
  return { line: t.line, column: t.column };
}

/** Tokenises and parses, collecting syntax errors into `bag`. */
export function parseAst(source: string, bag: DiagnosticBag, limits: DslLimits = DEFAULT_LIMITS): AstFile {
  const tokens = tokenize(source, bag);
  return new Parser(tokens, bag, limits).parseFile();
}

export interface ParseResult {
  model: ModelIR;
  /** Warnings found while parsing and lowering. */
  warnings: import('./diagnostics').Diagnostic[];
}

/**
 * Parses DSL source into the normalised IR. Throws `DslError` carrying every independent error found; never throws
 * anything else for any input.
 */
export function parse(source: string, limits: DslLimits = DEFAULT_LIMITS): ParseResult {
  const bag = new DiagnosticBag(limits.maxErrors);
  if (typeof source !== 'string') {
    bag.error('input', 'DSL source must be a string', undefined);
    bag.throwIfErrors();
  }
  if (Buffer.byteLength(source, 'utf8') > limits.maxSourceBytes) {
    bag.error('limit', `DSL source too large: ${Buffer.byteLength(source, 'utf8')} bytes, the limit is ${limits.maxSourceBytes}`, { line: 1, column: 1 });
    bag.throwIfErrors();
  }
  const ast = parseAst(source, bag, limits);
  // Lower even after syntax errors: semantic errors in the parts that parsed are independent and worth reporting.
  const model = lower(ast, bag, limits);
  bag.throwIfErrors();
  if (!model) throw new DslError([{ severity: 'error', code: 'syntax', message: "expected 'network'", line: 1, column: 1 }]);
  return { model, warnings: bag.warnings() };
}

/** Parses DSL source into the normalised IR (see `parse`). */
export function parseModel(source: string, limits: DslLimits = DEFAULT_LIMITS): ModelIR {
  return parse(source, limits).model;
}
