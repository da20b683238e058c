import type { AstArg, AstFile, AstItem, AstLayerItem, AstMacro, AstNetwork, AstValue } from './ast';
import { DiagnosticBag, suggest } from './diagnostics';
import type { CallValue, HpoSpec, HpoValue, InputSpec, LayerNode, ModelIR, ModelNode, OptimizerSpec, SourceLoc, TrainingSpec, Value } from './ir';
import { isCall, isHpo, isLayer } from './ir';
import { ACTIVATIONS, CUSTOM_LAYER_PATTERN, DEVICES, LAYER_TYPES, LOSSES, OPTIMIZERS, layerSpec, type LayerSpec, type ParamKind, type ParamSpec } from './layers';
import type { DslLimits } from './limits';
import { tokenize } from './lexer';
import { Parser } from './parser';

const METRICS = [
  'accuracy', 'acc', 'binary_accuracy', 'categorical_accuracy', 'sparse_categorical_accuracy', 'top_k_accuracy',
  'top_k_categorical_accuracy', 'sparse_top_k_categorical_accuracy', 'precision', 'recall', 'auc', 'f1_score', 'mae',
  'mse', 'rmse', 'mean_absolute_error', 'mean_squared_error', 'loss',
];

/** Keras optimizer arguments we accept (validated where they have a range). */
const OPTIMIZER_PARAMS = [
  'learning_rate', 'beta_1', 'beta_2', 'epsilon', 'amsgrad', 'momentum', 'nesterov', 'rho', 'weight_decay',
  'clipnorm', 'clipvalue', 'global_clipnorm', 'initial_accumulator_value', 'centered', 'learning_rate_power',
  'l1_regularization_strength', 'l2_regularization_strength',
];

interface ScheduleSpec {
  positional: string[];
  required: string[];
  aliases?: Record<string, string>;
}

/** Learning-rate schedules (Keras names); `StepDecay` is the staircase form of ExponentialDecay. */
const SCHEDULES: Record<string, ScheduleSpec> = {
  ExponentialDecay: { positional: ['initial_learning_rate', 'decay_steps', 'decay_rate', 'staircase'], required: ['initial_learning_rate', 'decay_steps', 'decay_rate'] },
  StepDecay: { positional: ['initial_learning_rate', 'decay_steps', 'decay_rate'], required: ['initial_learning_rate', 'decay_steps', 'decay_rate'], aliases: { initial_lr: 'initial_learning_rate' } },
  InverseTimeDecay: { positional: ['initial_learning_rate', 'decay_steps', 'decay_rate', 'staircase'], required: ['initial_learning_rate', 'decay_steps', 'decay_rate'] },
  CosineDecay: { positional: ['initial_learning_rate', 'decay_steps', 'alpha'], required: ['initial_learning_rate', 'decay_steps'] },
  PolynomialDecay: { positional: ['initial_learning_rate', 'decay_steps', 'end_learning_rate', 'power'], required: ['initial_learning_rate', 'decay_steps'] },
};

/** Built-in types that may omit their parentheses when they carry a block. */
const PARENS_OPTIONAL = new Set(['ResidualConnection']);

/** Validation of the known `train { }` settings; other keys are kept as written. */
const TRAINING_CHECKS: Record<string, (x: Value) => string | undefined> = {
  epochs: (x) => (typeof x !== 'number' || !Number.isInteger(x) ? `epochs must be an integer, got ${show(x)}` : x <= 0 ? `epochs must be positive, got ${x}` : undefined),
  batch_size: (x) => (typeof x !== 'number' || !Number.isInteger(x) ? `batch_size must be an integer, got ${show(x)}` : x <= 0 ? `batch_size must be positive, got ${x}` : undefined),
  validation_split: (x) => (typeof x !== 'number' || x < 0 || x > 1 ? `validation_split must be between 0 and 1, got ${show(x)}` : undefined),
  search_method: (x) => (typeof x !== 'string' ? `search_method must be a string such as "bayesian", got ${show(x)}` : undefined),
};

/** Values of macro parameters while a macro body is being expanded. */
type Env = Map<string, AstValue>;

class LimitReached {}

/** Lowers the syntax tree to the normalised IR, validating as it goes (DSL.md §3–§7). */
export function lower(ast: AstFile, bag: DiagnosticBag, limits: DslLimits): ModelIR | undefined {
  return new Lowering(bag, limits).run(ast);
}

class Lowering {
  private readonly macros = new Map<string, AstMacro>();
  private readonly counters = new Map<string, number>();
  private readonly hpoPaths = new WeakMap<AstValue, HpoValue>();
  private readonly hpo: HpoValue[] = [];
  private layerCount = 0;
  private readonly expanding: string[] = [];

  constructor(
    private readonly bag: DiagnosticBag,
    private readonly limits: DslLimits,
  ) {}

  run(ast: AstFile): ModelIR | undefined {
    for (const m of ast.macros) this.defineMacro(m);
    const net = ast.network;
    if (!net) {
      if (!this.bag.hasErrors()) this.bag.error('syntax', "No network found: expected 'network'", { line: 1, column: 1 }, 'a file holds one `network Name { ... }`');
      return undefined;
    }
    return this.lowerNetwork(net);
  }

  /** Missing-section errors are usually a consequence of a syntax error, so they are held back after one. */
  private syntaxErrors(): boolean {
    return this.bag.items.some((d) => d.code === 'syntax' || d.code === 'unexpected_eof' || d.code === 'unterminated_string');
  }

  private defineMacro(m: AstMacro): void {
    if (this.macros.has(m.name)) {
      this.bag.error('duplicate_macro', `Macro '${m.name}' is defined twice`, m.loc);
      return;
    }
    if (layerSpec(m.name)) {
      this.bag.error('duplicate_macro', `Macro '${m.name}' has the name of a built-in layer`, m.loc, 'choose another name');
      return;
    }
    if (m.body.length === 0) this.bag.error('empty_macro', `Empty macro definition for ${m.name}`, m.loc);
    const seen = new Set<string>();
    for (const p of m.params ?? []) {
      if (seen.has(p.name)) this.bag.error('duplicate_param', `Macro '${m.name}' declares parameter '${p.name}' twice`, p.loc);
      seen.add(p.name);
    }
    this.macros.set(m.name, m);
  }

  private lowerNetwork(net: AstNetwork): ModelIR {
    const model: ModelIR = { name: net.name, inputs: [], layers: [], hpo: this.hpo, sectionLocs: {} };
    if (net.inputs) {
      model.sectionLocs.input = net.inputs.loc;
      model.inputs = this.lowerInputs(net.inputs.items);
    } else if (!this.syntaxErrors()) {
      this.bag.error('missing_section', 'Network must have an input section', net.loc, net.shorthand ? 'start the model with Input(shape=[...])' : 'add e.g. input: (28, 28, 1)');
    }
    if (net.layers) {
      model.sectionLocs.layers = net.layers.loc;
      try {
        model.layers = this.expandItems(net.layers.items, new Map());
      } catch (e) {
        if (!(e instanceof LimitReached)) throw e;
        model.layers = [];
      }
      if (net.layers.items.length === 0 && !this.syntaxErrors()) this.bag.error('empty_layers', 'Layers section cannot be empty', net.layers.loc);
    } else if (!this.syntaxErrors()) {
      this.bag.error('missing_section', 'Network must have a layers section', net.loc, 'add e.g. layers: Dense(10, "softmax")');
    }
    if (net.loss) {
      model.sectionLocs.loss = net.loss.loc;
      model.loss = this.lowerLoss(net.loss.value);
    }
    if (net.optimizer) {
      model.sectionLocs.optimizer = net.optimizer.loc;
      model.optimizer = this.lowerOptimizer(net.optimizer.value);
    }
    if (net.lrSchedule) {
      model.sectionLocs.lr_schedule = net.lrSchedule.loc;
      const v = this.lowerValue(net.lrSchedule.value, new Map(), 'lr_schedule');
      if (isCall(v) && SCHEDULES[v.name]) model.lrSchedule = this.lowerSchedule(v, net.lrSchedule.value, 'lr_schedule');
      else this.bag.error('invalid_schedule', `lr_schedule must be a learning-rate schedule such as ExponentialDecay(0.1, 1000, 0.96)`, net.lrSchedule.value.loc, `known schedules: ${Object.keys(SCHEDULES).join(', ')}`);
      if (model.lrSchedule && isCall(model.optimizer?.params.learning_rate)) {
        this.bag.error('invalid_schedule', 'The learning rate has a schedule both in the optimizer and in lr_schedule', net.lrSchedule.loc, 'keep one of them');
      }
    }
    if (net.metrics) {
      model.sectionLocs.metrics = net.metrics.loc;
      model.metrics = this.lowerMetrics(net.metrics.value);
    }
    if (net.training) {
      model.sectionLocs.training = net.training.loc;
      model.training = this.lowerTraining(net.training.entries);
    }
    if (net.execution) {
      model.sectionLocs.execution = net.execution.loc;
      model.execution = this.lowerExecution(net.execution.entries);
    }
    return model;
  }

  // ---- inputs ----------------------------------------------------------------------------------------------------

  private lowerInputs(items: { name?: string; shape: { dims: AstValue[]; loc: SourceLoc }; loc: SourceLoc }[]): InputSpec[] {
    const out: InputSpec[] = [];
    const names = new Set<string>();
    items.forEach((item, idx) => {
      const name = item.name ?? (items.length === 1 ? 'input' : `input_${idx + 1}`);
      if (names.has(name)) this.bag.error('duplicate_input', `Input '${name}' is declared twice`, item.loc);
      names.add(name);
      const dims = item.shape.dims;
      if (dims.length === 0) {
        this.bag.error('invalid_input', 'Input shape cannot be empty', item.shape.loc, 'e.g. input: (28, 28, 1)');
        return;
      }
      const shape: (number | null)[] = [];
      let ok = true;
      dims.forEach((d, i) => {
        const v = this.evalConst(d, new Map());
        if (v === null) {
          shape.push(null);
        } else if (typeof v !== 'number') {
          this.bag.error('invalid_input', `Input dimensions must be positive integers or None, got ${show(v)} at position ${i}`, d.loc);
          ok = false;
        } else if (!Number.isInteger(v)) {
          this.bag.error('invalid_input', `Input dimensions must be integers, got ${v} at position ${i}`, d.loc);
          ok = false;
        } else if (v <= 0) {
          this.bag.error('invalid_input', `Input dimensions must be positive, got ${v} at position ${i}`, d.loc);
          ok = false;
        } else if (v > this.limits.maxInt) {
          this.bag.error('invalid_input', `Input dimension ${v} at position ${i} is larger than ${this.limits.maxInt}`, d.loc);
          ok = false;
        } else {
          shape.push(v);
        }
      });
      if (!ok) return;
      // A leading None is the batch axis; otherwise the batch axis is added.
      const withBatch = dims[0].k === 'none' ? shape : [null, ...shape];
      if (withBatch.length < 2) {
        this.bag.error('invalid_input', 'Input shape needs at least one dimension besides the batch axis', item.shape.loc);
        return;
      }
      out.push({ name, shape: withBatch, loc: item.loc });
    });
    return out;
  }

  // ---- layers ----------------------------------------------------------------------------------------------------

  private expandItems(items: AstItem[], env: Env): ModelNode[] {
    const out: ModelNode[] = [];
    for (const item of items) out.push(...this.expandItem(item, env));
    return out;
  }

  private expandItem(item: AstItem, env: Env): ModelNode[] {
    const times = this.multiplier(item.mult);
    const out: ModelNode[] = [];
    for (let i = 0; i < times; i++) {
      if (item.k === 'branch') {
        out.push({ kind: 'branch', id: this.nextId(`branch_${item.name}`), name: item.name, body: this.expandItems(item.body, env), loc: item.loc });
      } else {
        const macro = this.macros.get(item.name);
        if (macro) out.push(...this.expandMacro(macro, item, env));
        else {
          const node = this.lowerLayer(item, env);
          if (node) out.push(node);
        }
      }
    }
    return out;
  }

  private multiplier(mult: AstItem['mult']): number {
    if (!mult) return 1;
    if (!Number.isInteger(mult.value) || mult.value < 1) {
      this.bag.error('invalid_multiplier', `Layer multiplier must be a positive integer, got ${mult.value}`, mult.loc);
      return 1;
    }
    if (mult.value > this.limits.maxLayers) {
      this.bag.error('limit', `Layer multiplier ${mult.value} exceeds the model limit of ${this.limits.maxLayers} layers`, mult.loc);
      return 1;
    }
    return mult.value;
  }

  private expandMacro(macro: AstMacro, item: AstLayerItem, env: Env): ModelNode[] {
    if (this.expanding.includes(macro.name)) {
      this.bag.error('recursive_macro', `Macro '${macro.name}' uses itself (${[...this.expanding, macro.name].join(' -> ')})`, item.loc);
      return [];
    }
    if (item.block) this.bag.error('syntax', `Macro reference '${macro.name}' cannot take a block`, item.loc);
    const args = item.args ?? [];
    const params = macro.params ?? [];
    if (!macro.params && args.length) {
      this.bag.error('macro_args', `Macro '${macro.name}' takes no arguments`, item.loc, `define it as define ${macro.name}(...) { ... } to give it parameters`);
    }
    const inner: Env = new Map();
    let positional = 0;
    for (const a of args) {
      const value = this.substitute(a.value, env);
      if (a.name) {
        if (!params.some((p) => p.name === a.name)) {
          const s = suggest(a.name, params.map((p) => p.name));
          this.bag.error('unknown_param', `Macro '${macro.name}' has no parameter '${a.name}'`, a.nameLoc, s ? `did you mean '${s}'?` : undefined);
        } else inner.set(a.name, value);
      } else if (positional < params.length) {
        inner.set(params[positional++].name, value);
      } else if (macro.params) {
        this.bag.error('macro_args', `Macro '${macro.name}' takes ${params.length} argument(s)`, value.loc);
      }
    }
    for (const p of params) {
      if (!inner.has(p.name)) this.bag.error('missing_param', `Macro '${macro.name}' requires parameter '${p.name}'`, item.loc);
    }
    this.expanding.push(macro.name);
    try {
      const nodes = this.expandItems(macro.body, inner);
      if (item.device) {
        const device = this.lowerDevice(item.device);
        for (const n of nodes) if (n.kind === 'layer' && !n.device && device) n.device = device;
      }
      return nodes;
    } finally {
      this.expanding.pop();
    }
  }

  /** Replaces `$param` references with the caller's values, so macro arguments are evaluated in the caller's scope. */
  private substitute(v: AstValue, env: Env): AstValue {
    switch (v.k) {
      case 'param': {
        const bound = env.get(v.name);
        if (bound) return bound;
        return v;
      }
      case 'tuple':
        return { ...v, items: v.items.map((x) => this.substitute(x, env)) };
      case 'binop':
        return { ...v, left: this.substitute(v.left, env), right: this.substitute(v.right, env) };
      case 'call':
      case 'hpo':
        return { ...v, args: v.args.map((a) => ({ ...a, value: this.substitute(a.value, env) })) };
      default:
        return v;
    }
  }

  private lowerLayer(item: AstLayerItem, env: Env): LayerNode | undefined {
    if (++this.layerCount > this.limits.maxLayers) {
      this.bag.error('limit', `The model has more than ${this.limits.maxLayers} layers after expansion`, item.loc, 'the limit is the maxLayers setting');
      throw new LimitReached();
    }
    const spec = layerSpec(item.name);
    if (!spec && !CUSTOM_LAYER_PATTERN.test(item.name)) {
      const s = suggest(item.name, [...LAYER_TYPES, ...this.macros.keys()]);
      this.bag.error('unknown_layer', `Unknown layer type or undefined macro '${item.name}'`, item.loc, s ? `did you mean ${s}?` : undefined);
      return undefined;
    }
    const type = spec ? spec.type : item.name;
    if (item.args === null && !(spec && PARENS_OPTIONAL.has(spec.type) && item.block)) {
      this.bag.error('syntax', `${type} needs parentheses: ${type}()`, item.loc, 'only macro references and ResidualConnection { ... } may omit them');
    }
    const node: LayerNode = { kind: 'layer', id: this.nextId(snake(type)), type, params: {}, sublayers: [], loc: item.loc };
    if (!spec) node.custom = true;
    if (item.device) {
      const d = this.lowerDevice(item.device);
      if (d) node.device = d;
    }
    const args = item.args ?? [];
    if (spec) this.bindParams(node, spec, args, env);
    else this.bindCustomParams(node, args, env);

    if (item.block) {
      if (spec && spec.type === 'TimeDistributed' && !args.length) {
        const inner = this.expandItems(item.block, env);
        if (inner.length === 1 && inner[0].kind === 'layer') node.params.layer = inner[0];
        else this.bag.error('invalid_block', 'TimeDistributed { ... } must hold exactly one layer', item.loc);
      } else if (!spec || spec.block) {
        node.sublayers = this.expandItems(item.block, env);
        if (spec?.type === 'ResidualConnection' && node.sublayers.length === 0) {
          this.bag.error('invalid_block', 'ResidualConnection needs at least one layer in its block', item.loc);
        }
      } else {
        this.bag.error('invalid_block', `${type} does not take a nested block`, item.loc, 'blocks are meaningful for ResidualConnection and Transformer layers');
      }
    } else if (spec?.type === 'ResidualConnection') {
      this.bag.error('invalid_block', 'ResidualConnection needs a block: ResidualConnection { Conv2D(...) ... }', item.loc);
    }
    if (spec?.type === 'TimeDistributed' && !node.params.layer && !this.bag.hasErrors()) {
      this.bag.error('missing_param', 'TimeDistributed requires a wrapped layer, e.g. TimeDistributed(Dense(8))', item.loc);
    }
    return node;
  }

  private bindCustomParams(node: LayerNode, args: AstArg[], env: Env): void {
    for (const a of args) {
      if (!a.name) {
        this.bag.error('positional_custom', `Custom layer ${node.type} takes named parameters only`, a.value.loc, 'write name=value');
        continue;
      }
      node.params[a.name] = this.lowerValue(a.value, env, `${node.id}.${a.name}`);
    }
  }

  private bindParams(node: LayerNode, spec: LayerSpec, args: AstArg[], env: Env): void {
    const given = new Map<string, { ast: AstValue; loc: SourceLoc }>();
    let positional = 0;
    for (const a of args) {
      if (a.name) {
        const name = spec.aliases?.[a.name] ?? a.name;
        const ps = spec.params.find((p) => p.name === name);
        if (!ps) {
          const names = spec.params.map((p) => p.name);
          const s = suggest(a.name, names);
          this.bag.error('unknown_param', `${spec.type} has no parameter '${a.name}'`, a.nameLoc, s ? `did you mean '${s}'?` : names.length ? `${spec.type} accepts: ${names.join(', ')}` : `${spec.type} takes no parameters`);
          continue;
        }
        given.set(name, { ast: a.value, loc: a.value.loc });
      } else {
        if (positional >= spec.positional.length) {
          const msg = spec.tooManyPositional ?? (spec.positional.length
            ? `${spec.type} takes at most ${spec.positional.length} positional argument(s) (${spec.positional.join(', ')})`
            : `${spec.type} takes no positional arguments`);
          this.bag.error('too_many_args', spec.type === 'Activation' ? `Unexpected extra positional parameter for activation ${show(this.evalConst(a.value, env))}` : msg, a.value.loc);
          positional++;
          continue;
        }
        const name = spec.positional[positional++];
        if (!given.has(name)) given.set(name, { ast: a.value, loc: a.value.loc });
      }
    }
    for (const ps of spec.params) {
      const g = given.get(ps.name);
      if (!g) {
        if (ps.required) this.missingRequired(spec, ps, node.loc);
        else if (ps.default !== undefined) node.params[ps.name] = this.defaultFor(spec, ps);
        continue;
      }
      const v = this.lowerParam(spec, ps, g.ast, env, `${node.id}.${ps.name}`);
      if (v !== undefined) node.params[ps.name] = v;
    }
    this.crossChecks(node, spec);
  }

  private missingRequired(spec: LayerSpec, ps: ParamSpec, at: SourceLoc): void {
    const msg =
      spec.type === 'Dense' || spec.type === 'Output' || spec.type === 'Conv2D' || spec.category === 'conv'
        ? `${spec.type} layer requires '${ps.name}' parameter`
        : spec.category === 'pool'
          ? `Missing required parameter '${ps.name}' for ${spec.type}`
          : spec.type === 'Activation'
            ? 'Activation layer requires a function name'
            : `${spec.type} requires a '${ps.name}' parameter`;
    const example = EXAMPLES[spec.type];
    this.bag.error('missing_param', msg, at, example ? `e.g. ${example}` : undefined);
  }

  private defaultFor(spec: LayerSpec, ps: ParamSpec): Value {
    if (ps.type.kind === 'window') return Array(spec.spatialRank ?? 2).fill(ps.default as number);
    return ps.default as Value;
  }

  private crossChecks(node: LayerNode, spec: LayerSpec): void {
    const p = node.params;
    if (spec.category === 'pool' && p.strides === undefined && p.pool_size !== undefined) p.strides = p.pool_size;
    if (spec.type === 'Activation' && p.alpha !== undefined && p.function !== 'leaky_relu' && !isHpo(p.function)) {
      this.bag.error('too_many_args', `Unexpected extra positional parameter ${show(p.alpha)} for activation ${show(p.function)}`, node.loc, 'alpha applies only to leaky_relu');
    }
    if (spec.type === 'Bidirectional' && isLayer(p.layer)) {
      const inner = layerSpec(p.layer.type);
      if (!inner || inner.category !== 'recurrent') {
        this.bag.error('invalid_param', `Bidirectional wraps a recurrent layer (LSTM, GRU, SimpleRNN), got ${p.layer.type}`, p.layer.loc);
      }
    }
    if (spec.type === 'TimeDistributed' && isLayer(p.layer) && layerSpec(p.layer.type)?.category === 'wrapper') {
      this.bag.error('invalid_param', `TimeDistributed cannot wrap ${p.layer.type}`, p.layer.loc);
    }
  }

  /** Lowers and validates one parameter value against its kind. */
  private lowerParam(spec: LayerSpec, ps: ParamSpec, ast: AstValue, env: Env, path: string): Value | undefined {
    if (ps.type.kind === 'layer') {
      const v = this.lowerValue(ast, env, path);
      if (!isLayer(v)) {
        this.bag.error('invalid_param', `${spec.type} expects a layer, e.g. ${spec.type}(${spec.type === 'Bidirectional' ? 'LSTM(64)' : 'Dense(10)'})`, ast.loc);
        return undefined;
      }
      return v;
    }
    const before = this.bag.errorCount();
    const v = this.lowerValue(ast, env, path);
    // The value itself was bad and already reported: do not pile a type error on top.
    if (this.bag.errorCount() > before) return undefined;
    if (isHpo(v)) {
      const checkOne = (x: Value, at: SourceLoc) => this.checkKind(spec, ps, x, at);
      if (v.spec.type === 'categorical') {
        v.spec.values = v.spec.values.map((x) => (isHpo(x) ? x : (checkOne(x, ast.loc) ?? x)));
      } else if (v.spec.type === 'range') {
        checkOne(v.spec.start, ast.loc);
        checkOne(v.spec.end, ast.loc);
      } else {
        checkOne(v.spec.min, ast.loc);
        checkOne(v.spec.max, ast.loc);
      }
      return v;
    }
    return this.checkKind(spec, ps, v, ast.loc);
  }

  private checkKind(spec: LayerSpec, ps: ParamSpec, v: Value, at: SourceLoc): Value | undefined {
    const kind: ParamKind = ps.type;
    const label = `${spec.type} ${ps.name}`;
    switch (kind.kind) {
      case 'int': {
        if (typeof v !== 'number') {
          this.bag.error('invalid_param', `${label} must be a number, got ${show(v)}`, at);
          return undefined;
        }
        if (!Number.isInteger(v)) {
          this.bag.error('invalid_param', `${label} must be an integer, got ${v}`, at);
          return undefined;
        }
        const min = kind.min ?? 1;
        if (v < min) {
          this.bag.error('invalid_param', min === 1 ? `${label} must be a positive integer, got ${v}` : `${label} must be at least ${min}, got ${v}`, at);
          return undefined;
        }
        if (v > this.limits.maxInt) {
          this.bag.error('invalid_param', `${label} must be at most ${this.limits.maxInt}, got ${v}`, at);
          return undefined;
        }
        return v;
      }
      case 'float': {
        if (typeof v !== 'number') {
          this.bag.error('invalid_param', `${label} must be a number, got ${show(v)}`, at);
          return undefined;
        }
        const { min, max } = kind;
        if (min !== undefined && max !== undefined && (v < min || v > max)) {
          this.bag.error('invalid_param', `${label} should be between ${min} and ${max}, got ${v}`, at);
          return undefined;
        }
        if (min !== undefined && v < min) {
          this.bag.error('invalid_param', `${label} must be at least ${min}, got ${v}`, at);
          return undefined;
        }
        return v;
      }
      case 'bool':
        if (typeof v !== 'boolean') {
          this.bag.error('invalid_param', `${label} must be true or false, got ${show(v)}`, at);
          return undefined;
        }
        return v;
      case 'string': {
        if (typeof v !== 'string') {
          this.bag.error('invalid_param', `${label} must be a string, got ${show(v)}`, at);
          return undefined;
        }
        if (kind.oneOf) {
          const lowerV = v.toLowerCase();
          if (!kind.oneOf.includes(lowerV)) {
            const s = suggest(v, kind.oneOf);
            this.bag.error('invalid_param', `${label} must be one of ${kind.oneOf.map((x) => `'${x}'`).join(', ')}, got '${v}'`, at, s ? `did you mean '${s}'?` : undefined);
            return undefined;
          }
          return lowerV;
        }
        return v;
      }
      case 'activation': {
        if (v === null) return null;
        if (typeof v !== 'string') {
          this.bag.error('invalid_param', `${label} must be an activation name, got ${show(v)}`, at);
          return undefined;
        }
        const a = v.toLowerCase();
        if (!(ACTIVATIONS as readonly string[]).includes(a)) {
          const s = suggest(v, ACTIVATIONS);
          this.bag.error('invalid_activation', `Invalid activation function '${v}'`, at, s ? `did you mean '${s}'?` : `valid: ${ACTIVATIONS.join(', ')}`);
          return undefined;
        }
        return a === 'linear' ? null : a;
      }
      case 'window': {
        const rank = spec.spatialRank ?? 2;
        const arr = typeof v === 'number' ? Array(rank).fill(v) : Array.isArray(v) ? v : undefined;
        if (!arr) {
          this.bag.error('invalid_param', `${label} must be an integer or a tuple of ${rank} integers, got ${show(v)}`, at);
          return undefined;
        }
        if (arr.length !== rank) {
          this.bag.error('invalid_param', `${label} must have ${rank} value${rank > 1 ? 's' : ''} for ${spec.type}, got ${arr.length}`, at);
          return undefined;
        }
        if (!arr.every((x) => typeof x === 'number' && Number.isInteger(x))) {
          this.bag.error('invalid_param', `${label} must be integers, got ${show(v)}`, at);
          return undefined;
        }
        if (!arr.every((x) => (x as number) > 0 && (x as number) <= this.limits.maxInt)) {
          this.bag.error('invalid_param', `${label} should be positive integers, got ${show(arr)}`, at);
          return undefined;
        }
        return arr;
      }
      case 'shape': {
        const arr = typeof v === 'number' ? [v] : Array.isArray(v) ? v : undefined;
        if (!arr || !arr.every((x) => typeof x === 'number' && Number.isInteger(x))) {
          this.bag.error('invalid_param', `${label} must be a tuple of integers, got ${show(v)}`, at);
          return undefined;
        }
        const minusOnes = arr.filter((x) => x === -1).length;
        const allowMinus = spec.type === 'Reshape';
        if (arr.some((x) => (x as number) < (allowMinus ? -1 : 0) || (x as number) === 0 && allowMinus) || minusOnes > (allowMinus ? 1 : 0) || arr.some((x) => (x as number) > this.limits.maxInt)) {
          this.bag.error('invalid_param', allowMinus ? `${label} must hold positive integers and at most one -1, got ${show(arr)}` : `${label} dimensions must be non-negative, got ${show(arr)}`, at);
          return undefined;
        }
        return arr;
      }
      default:
        return v;
    }
  }

  // ---- values ----------------------------------------------------------------------------------------------------

  /** Lowers a value; `path` names the place it stands, for HPO bookkeeping. */
  private lowerValue(v: AstValue, env: Env, path: string): Value {
    switch (v.k) {
      case 'num':
        return v.v;
      case 'str':
        return v.v;
      case 'bool':
        return v.v;
      case 'none':
        return null;
      case 'name':
        return v.v;
      case 'tuple':
        return v.items.map((x, i) => this.lowerValue(x, env, `${path}[${i}]`));
      case 'param': {
        const bound = env.get(v.name);
        if (!bound) {
          this.bag.error('unknown_param', this.expanding.length ? `Unknown macro parameter $${v.name}` : `$${v.name} is only meaningful inside a parameterised macro`, v.loc);
          return null;
        }
        return this.lowerValue(bound, new Map(), path);
      }
      case 'binop': {
        const r = this.evalConst(v, env);
        return r;
      }
      case 'hpo':
        return this.lowerHpo(v, env, path);
      case 'call':
        return this.lowerCall(v, env, path);
    }
  }

  private lowerCall(v: Extract<AstValue, { k: 'call' }>, env: Env, path: string): Value {
    const spec = layerSpec(v.name);
    if (spec || CUSTOM_LAYER_PATTERN.test(v.name)) {
      const node = this.lowerLayer({ k: 'layer', name: v.name, loc: v.loc, args: v.args, block: null }, env);
      return node ?? null;
    }
    if (v.name.toLowerCase() === 'hpo') {
      this.bag.error('syntax', `Unknown function '${v.name}'`, v.loc, 'write HPO in capitals: HPO(choice(...))');
      return null;
    }
    const call: CallValue = { kind: 'call', name: v.name, args: [], kwargs: {}, loc: v.loc };
    v.args.forEach((a, i) => {
      if (a.name) call.kwargs[a.name] = this.lowerValue(a.value, env, `${path}.${a.name}`);
      else call.args.push(this.lowerValue(a.value, env, `${path}.${i}`));
    });
    return call;
  }

  private lowerHpo(v: Extract<AstValue, { k: 'hpo' }>, env: Env, path: string): Value {
    const shared = this.hpoPaths.get(v);
    if (shared) return shared;
    const nums = () => v.args.filter((a) => !a.name).map((a) => this.evalConst(a.value, env));
    let spec: HpoSpec | undefined;
    if (v.fn === 'choice') {
      if (!v.args.length) {
        this.bag.error('invalid_hpo', 'HPO choice() needs at least one value', v.loc);
        return null;
      }
      const values = v.args.map((a, i) => this.lowerValue(a.value, env, `${path}.choice${i}`));
      const kinds = new Set(values.filter((x) => !isHpo(x)).map((x) => (Array.isArray(x) ? 'tuple' : x === null ? 'none' : typeof x)));
      if (kinds.size > 1) {
        this.bag.error('invalid_hpo', `Mixed types in choice are not allowed, found: ${[...kinds].join(', ')}`, v.loc);
        return null;
      }
      spec = { type: 'categorical', values };
    } else if (v.fn === 'range') {
      const [start, end] = nums();
      const stepArg = v.args.find((a) => a.name === 'step');
      const step = stepArg ? this.evalConst(stepArg.value, env) : undefined;
      if (typeof start !== 'number' || typeof end !== 'number' || v.args.filter((a) => !a.name).length !== 2) {
        this.bag.error('invalid_hpo', 'HPO range needs two numbers: range(low, high[, step=s])', v.loc);
        return null;
      }
      if (end <= start) {
        this.bag.error('invalid_hpo', `Range end value must be greater than start value, got start=${start}, end=${end}`, v.loc);
        return null;
      }
      if (step !== undefined && (typeof step !== 'number' || step <= 0)) {
        this.bag.error('invalid_hpo', `Range step value must be positive, got step=${show(step)}`, stepArg!.value.loc);
        return null;
      }
      spec = step === undefined ? { type: 'range', start, end } : { type: 'range', start, end, step };
    } else {
      const [min, max] = nums();
      if (typeof min !== 'number' || typeof max !== 'number' || v.args.length !== 2) {
        this.bag.error('invalid_hpo', 'HPO log_range needs two numbers: log_range(low, high)', v.loc);
        return null;
      }
      if (min <= 0) {
        this.bag.error('invalid_hpo', `Log range min value must be positive, got min=${min}`, v.loc);
        return null;
      }
      if (max <= min) {
        this.bag.error('invalid_hpo', `Log range max value must be greater than min value, got min=${min}, max=${max}`, v.loc);
        return null;
      }
      spec = { type: 'log_range', min, max };
    }
    const hpo: HpoValue = { kind: 'hpo', path, spec, loc: v.loc };
    this.hpoPaths.set(v, hpo);
    this.hpo.push(hpo);
    return hpo;
  }

  /** Evaluates a constant value (numbers, arithmetic on macro parameters); other values lower as usual. */
  private evalConst(v: AstValue, env: Env): Value {
    if (v.k === 'param') {
      const bound = env.get(v.name);
      if (!bound) {
        this.bag.error('unknown_param', this.expanding.length ? `Unknown macro parameter $${v.name}` : `$${v.name} is only meaningful inside a parameterised macro`, v.loc);
        return null;
      }
      return this.evalConst(bound, new Map());
    }
    if (v.k !== 'binop') return this.lowerValue(v, env, 'const');
    const l = this.evalConst(v.left, env);
    const r = this.evalConst(v.right, env);
    if (typeof l !== 'number' || typeof r !== 'number') {
      this.bag.error('invalid_expression', `Arithmetic needs numbers, got ${show(l)} ${v.op} ${show(r)}`, v.loc);
      return null;
    }
    if (v.op === '/' && r === 0) {
      this.bag.error('invalid_expression', 'Division by zero', v.loc);
      return null;
    }
    return v.op === '+' ? l + r : v.op === '-' ? l - r : v.op === '*' ? l * r : l / r;
  }

  // ---- network-level sections ------------------------------------------------------------------------------------

  private lowerLoss(v: AstValue): string | undefined {
    if (v.k !== 'name' && v.k !== 'str') {
      this.bag.error('invalid_loss', 'loss must be a name such as "sparse_categorical_crossentropy"', v.loc);
      return undefined;
    }
    const name = v.v.toLowerCase();
    if (!(LOSSES as readonly string[]).includes(name)) {
      const s = suggest(name, LOSSES);
      this.bag.error('invalid_loss', `Invalid loss function: ${v.v}`, v.loc, s ? `did you mean '${s}'?` : `valid: ${LOSSES.join(', ')}`);
      return undefined;
    }
    return name;
  }

  private lowerOptimizer(v: AstValue): OptimizerSpec | undefined {
    let value = v;
    if (v.k === 'str' && v.v.includes('(')) {
      // `optimizer: "Adam(learning_rate=1e-4)"`: parse the string's content, positioned inside the literal.
      const inner = new DiagnosticBag(this.limits.maxErrors);
      const tokens = tokenize(v.v, inner, v.loc.line, v.loc.column + 1);
      const parser = new Parser(tokens, inner, this.limits);
      let parsed: AstValue | undefined;
      try {
        parsed = parser.parseValue();
        const rest = parser.current();
        if (!inner.hasErrors() && rest.kind !== 'eof') inner.error('syntax', `Unexpected '${rest.text}' after the optimizer in the string`, rest);
      } catch {
        // Parse errors were recorded in `inner`.
      }
      for (const d of inner.items) this.bag.items.push(d);
      if (!parsed || inner.hasErrors()) return undefined;
      value = parsed;
    }
    let typeName: string;
    let args: AstArg[] = [];
    if (value.k === 'name' || value.k === 'str') typeName = value.v;
    else if (value.k === 'call') {
      typeName = value.name;
      args = value.args;
    } else {
      this.bag.error('invalid_optimizer', 'optimizer must be a name such as Adam or Adam(learning_rate=0.001)', v.loc);
      return undefined;
    }
    const canonical = OPTIMIZERS.find((o) => o.toLowerCase() === typeName.toLowerCase());
    if (!canonical) {
      const s = suggest(typeName, OPTIMIZERS);
      this.bag.error('invalid_optimizer', `Invalid optimizer: ${typeName}`, value.loc, s ? `did you mean ${s}?` : `valid: ${OPTIMIZERS.join(', ')}`);
      return undefined;
    }
    const opt: OptimizerSpec = { type: canonical, params: {}, loc: value.loc };
    args.forEach((a, i) => {
      const name = a.name ?? (i === 0 ? 'learning_rate' : undefined);
      if (!name) {
        this.bag.error('invalid_optimizer', `${canonical} takes learning_rate as its only positional argument`, a.value.loc, 'name the other arguments, e.g. momentum=0.9');
        return;
      }
      if (!OPTIMIZER_PARAMS.includes(name)) {
        const s = suggest(name, OPTIMIZER_PARAMS);
        this.bag.error('unknown_param', `${canonical} has no parameter '${name}'`, a.nameLoc ?? a.value.loc, s ? `did you mean '${s}'?` : undefined);
        return;
      }
      const lowered = this.lowerValue(a.value, new Map(), `optimizer.${name}`);
      if (isCall(lowered)) {
        if (name !== 'learning_rate' || !SCHEDULES[lowered.name]) {
          this.bag.error('invalid_schedule', `Unknown learning-rate schedule '${lowered.name}'`, lowered.loc, `known schedules: ${Object.keys(SCHEDULES).join(', ')}`);
          return;
        }
        const sched = this.lowerSchedule(lowered, a.value, `optimizer.learning_rate`);
        if (sched) opt.params[name] = sched;
        return;
      }
      this.checkOptimizerParam(name, lowered, a.value.loc);
      opt.params[name] = lowered;
    });
    return opt;
  }

  private checkOptimizerParam(name: string, v: Value, at: SourceLoc): void {
    const values = isHpo(v) ? hpoBounds(v) : [v];
    for (const x of values) {
      if (name === 'learning_rate' && (typeof x !== 'number' || x <= 0)) {
        this.bag.error('invalid_optimizer', `learning_rate must be positive, got ${show(x)}`, at);
        return;
      }
      if (name === 'momentum' && (typeof x !== 'number' || x < 0 || x > 1)) {
        this.bag.error('invalid_optimizer', `momentum should be between 0 and 1, got ${show(x)}`, at);
        return;
      }
      if ((name === 'beta_1' || name === 'beta_2' || name === 'rho') && (typeof x !== 'number' || x < 0 || x >= 1)) {
        this.bag.error('invalid_optimizer', `${name} should be in [0, 1), got ${show(x)}`, at);
        return;
      }
      if (['epsilon', 'weight_decay', 'clipnorm', 'clipvalue', 'global_clipnorm'].includes(name) && (typeof x !== 'number' || x < 0)) {
        this.bag.error('invalid_optimizer', `${name} must be a non-negative number, got ${show(x)}`, at);
        return;
      }
      if ((name === 'nesterov' || name === 'amsgrad' || name === 'centered') && typeof x !== 'boolean') {
        this.bag.error('invalid_optimizer', `${name} must be true or false, got ${show(x)}`, at);
        return;
      }
    }
  }

  private lowerSchedule(call: CallValue, ast: AstValue, path: string): CallValue | undefined {
    const spec = SCHEDULES[call.name];
    const kwargs: Record<string, Value> = {};
    call.args.forEach((v, i) => {
      if (i < spec.positional.length) {
        kwargs[spec.positional[i]] = v;
        if (isHpo(v) && v.path.endsWith(`.${i}`)) v.path = `${path}.${spec.positional[i]}`;
      }
      else this.bag.error('invalid_schedule', `${call.name} takes at most ${spec.positional.length} positional arguments`, call.loc);
    });
    for (const [k, v] of Object.entries(call.kwargs)) {
      const name = spec.aliases?.[k] ?? k;
      if (!spec.positional.includes(name)) {
        this.bag.error('unknown_param', `${call.name} has no parameter '${k}'`, call.loc, `${call.name} accepts: ${spec.positional.join(', ')}`);
        continue;
      }
      kwargs[name] = v;
    }
    let ok = true;
    for (const r of spec.required) {
      if (kwargs[r] === undefined) {
        this.bag.error('invalid_schedule', `${call.name} requires '${r}' parameter`, call.loc);
        ok = false;
      }
    }
    for (const [k, v] of Object.entries(kwargs)) {
      for (const x of isHpo(v) ? hpoBounds(v) : [v]) {
        const bad =
          (k === 'decay_steps' && !(typeof x === 'number' && Number.isInteger(x) && x >= 1)) ||
          ((k === 'initial_learning_rate' || k === 'end_learning_rate') && !(typeof x === 'number' && x > 0)) ||
          ((k === 'decay_rate' || k === 'alpha' || k === 'power') && !(typeof x === 'number' && x >= 0)) ||
          (k === 'staircase' && typeof x !== 'boolean');
        if (bad) {
          const want = k === 'decay_steps' ? 'an integer >= 1' : k === 'staircase' ? 'true or false' : k.endsWith('learning_rate') ? 'positive' : 'non-negative';
          this.bag.error('invalid_schedule', `${call.name} ${k} must be ${want}, got ${show(x)}`, ast.loc);
          ok = false;
          break;
        }
      }
    }
    return ok ? { kind: 'call', name: call.name, args: [], kwargs, loc: call.loc } : undefined;
  }

  private lowerMetrics(v: AstValue): string[] {
    const items = v.k === 'tuple' ? v.items : [v];
    const out: string[] = [];
    for (const item of items) {
      if (item.k !== 'str' && item.k !== 'name') {
        this.bag.error('invalid_metric', 'metrics must be names such as ["accuracy"]', item.loc);
        continue;
      }
      const m = item.v.toLowerCase();
      if (!METRICS.includes(m)) {
        const s = suggest(m, METRICS);
        this.bag.error('invalid_metric', `Unknown metric '${item.v}'`, item.loc, s ? `did you mean '${s}'?` : `known metrics: ${METRICS.join(', ')}`);
        continue;
      }
      if (!out.includes(m)) out.push(m);
    }
    return out;
  }

  private lowerTraining(entries: AstArg[]): TrainingSpec {
    const t: TrainingSpec = {};
    const seen = new Set<string>();
    for (const e of entries) {
      const key = e.name!;
      if (seen.has(key)) {
        this.bag.error('duplicate_setting', `'${key}' is set twice in train`, e.nameLoc);
        continue;
      }
      seen.add(key);
      let v = this.lowerValue(e.value, new Map(), `training.${key}`);
      const at = e.value.loc;
      if (key === 'batch_size' && Array.isArray(v)) {
        const values = v;
        const hpo: HpoValue = { kind: 'hpo', path: 'training.batch_size', spec: { type: 'categorical', values }, loc: at };
        this.hpo.push(hpo);
        v = hpo;
      }
      const check = TRAINING_CHECKS[key];
      if (check) {
        const values = isHpo(v) ? hpoBounds(v) : [v];
        const problem = values.map(check).find((m) => m);
        if (problem) {
          this.bag.error('invalid_training', problem, at);
          continue;
        }
      }
      t[key] = v;
    }
    return t;
  }

  private lowerExecution(entries: AstArg[]): Record<string, Value> {
    const out: Record<string, Value> = {};
    for (const e of entries) {
      const v = this.lowerValue(e.value, new Map(), `execution.${e.name}`);
      if (e.name === 'device') {
        if (typeof v !== 'string' || (v !== 'auto' && !validDevice(v))) {
          this.bag.error('invalid_device', `Invalid device specification: ${show(v)}. Valid devices are: auto, ${DEVICES.join(', ')}`, e.value.loc);
          continue;
        }
      }
      out[e.name!] = v;
    }
    return out;
  }

  private lowerDevice(d: { value: string; loc: SourceLoc }): string | undefined {
    if (!validDevice(d.value)) {
      this.bag.error('invalid_device', `Invalid device specification: '${d.value}'. Valid devices are: ${DEVICES.join(', ')}`, d.loc);
      return undefined;
    }
    return d.value;
  }

  private nextId(base: string): string {
    const n = (this.counters.get(base) ?? 0) + 1;
    this.counters.set(base, n);
    return `${base}_${n}`;
  }
}

const EXAMPLES: Record<string, string> = {
  Dense: 'Dense(128, "relu")',
  Output: 'Output(10, "softmax")',
  Conv2D: 'Conv2D(32, (3, 3), "relu")',
  Dropout: 'Dropout(0.5)',
  MaxPooling2D: 'MaxPooling2D((2, 2))',
  Embedding: 'Embedding(input_dim=10000, output_dim=128)',
  LSTM: 'LSTM(64)',
};

function validDevice(d: string): boolean {
  return /^(cpu|cuda|gpu|tpu|xla)(:[0-9]{1,4})?$/.test(d);
}

/** The values a validation should check for an HPO: every choice, or the range's ends. */
function hpoBounds(h: HpoValue): Value[] {
  const s = h.spec;
  if (s.type === 'categorical') return s.values.flatMap((v) => (isHpo(v) ? hpoBounds(v) : [v]));
  if (s.type === 'range') return [s.start, s.end];
  return [s.min, s.max];
}

/** Keras's `to_snake_case`: Conv2D → conv2d, MaxPooling2D → max_pooling2d, MyLayer → my_layer. */
const SNAKE = new Map<string, string>();

export function snake(name: string): string {
  let s = SNAKE.get(name);
  if (s === undefined) {
    s = toSnake(name);
    if (SNAKE.size < 1000) SNAKE.set(name, s);
  }
  return s;
}

function toSnake(name: string): string {
  return name
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** Short human rendering of a value for messages. */
export function show(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'string') return `'${v.length > 40 ? v.slice(0, 40) + '…' : v}'`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `(${v.map(show).join(', ')})`;
  if (isHpo(v)) return 'HPO(...)';
  if (isCall(v)) return `${v.name}(...)`;
  if (isLayer(v)) return `${v.type}(...)`;
  return String(v);
}
