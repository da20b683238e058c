/**
 * Keras optimizers (Keras 3 / tf.keras 2.11+ update rules, defaults and epsilon placement), learning-rate schedules,
 * gradient clipping and decoupled weight decay, on tfjs variables. tfjs' own optimizers differ from Keras in small
 * ways (Adam's epsilon, momentum applied to lr·g, Adagrad's fixed epsilon) and lack AdamW, Nadam, Ftrl and AMSGrad,
 * so one implementation covers all nine DSL optimizers with the formulas the TensorFlow emitter's Keras would run.
 */
import type * as Tfjs from '@tensorflow/tfjs';
import type { LrSchedule, TrainingPlan } from './types';

type Tf = typeof Tfjs;
type Tensor = Tfjs.Tensor;
type Variable = Tfjs.Variable;

/** Optimizer state as named tensors, iteration count first (the layout of tfjs' `Optimizer.getWeights`). */
export interface NamedTensor {
  name: string;
  tensor: Tensor;
}

export interface KerasOptimizer {
  readonly type: string;
  /** Optimizer steps taken so far (Keras `optimizer.iterations`). */
  readonly iterations: number;
  /** The learning rate the next step uses (the schedule at `iterations`). */
  learningRate(): number;
  /** One Keras `apply`: clip the gradients, decay the weights, update, count the step. Null gradients are skipped. */
  apply(grads: (Tensor | null | undefined)[]): void;
  getWeights(): NamedTensor[];
  /** Restores `getWeights()` output (slot names and shapes must match); the tensors are copied. */
  setWeights(weights: NamedTensor[]): void;
  dispose(): void;
}

/** Keras' learning rate at optimizer step `step` (0 for the first update) for a plan's schedule, or its constant. */
export function learningRateAt(plan: Pick<TrainingPlan, 'optimizer' | 'schedule'>, step: number): number {
  return plan.schedule ? scheduleAt(plan.schedule, step) : plan.optimizer.learningRate;
}

/** The five DSL schedules with Keras semantics; `StepDecay` is ExponentialDecay with staircase. */
export function scheduleAt(s: LrSchedule, step: number): number {
  const init = s.initialLearningRate;
  const ratio = step / s.decaySteps;
  const p = s.staircase || s.name === 'StepDecay' ? Math.floor(ratio) : ratio;
  switch (s.name) {
    case 'ExponentialDecay':
    case 'StepDecay':
      return init * Math.pow(s.decayRate ?? 1, p);
    case 'InverseTimeDecay':
      return init / (1 + (s.decayRate ?? 0) * p);
    case 'CosineDecay': {
      const alpha = s.alpha ?? 0;
      const done = Math.min(step, s.decaySteps) / s.decaySteps;
      return init * ((1 - alpha) * 0.5 * (1 + Math.cos(Math.PI * done)) + alpha);
    }
    case 'PolynomialDecay': {
      const end = s.endLearningRate ?? 0.0001;
      const done = Math.min(step, s.decaySteps) / s.decaySteps;
      return (init - end) * Math.pow(1 - done, s.power ?? 1) + end;
    }
  }
}

/**
 * The plan's optimizer for `variables` (the model's trainable weights, in order); its slots are created at once so a
 * checkpoint can be restored before the first step.
 */
export function createOptimizer(tf: Tf, plan: TrainingPlan, variables: Variable[]): KerasOptimizer {
  return new Optimizer(tf, plan, variables);
}

interface Rule {
  /** Slot names and initial values per variable. */
  slots: [string, number][];
  /** Updates variable `w` with gradient `g` in place, given its slots, the step's learning rate and t = iterations + 1. */
  update(w: Variable, g: Tensor, slots: Variable[], lr: number, t: number): void;
}

class Optimizer implements KerasOptimizer {
  readonly type: string;
  private step = 0;
  private readonly rule: Rule;
  private readonly slots: Variable[][];

  constructor(
    private readonly tf: Tf,
    private readonly plan: TrainingPlan,
    private readonly variables: Variable[],
  ) {
    this.type = plan.optimizer.type;
    this.rule = makeRule(tf, plan.optimizer.type, plan.optimizer.params);
    this.slots = variables.map((v) => this.rule.slots.map(([, init]) => tf.tidy(() => tf.variable(tf.fill(v.shape, init, 'float32'), false))));
  }

  get iterations(): number {
    return this.step;
  }

  learningRate(): number {
    return learningRateAt(this.plan, this.step);
  }

  apply(grads: (Tensor | null | undefined)[]): void {
    const tf = this.tf;
    const lr = this.learningRate();
    const t = this.step + 1;
    tf.tidy(() => {
      const used = grads.flatMap((g, i) => (g ? [i] : []));
      const clipped = clip(tf, this.plan.clip, used.map((i) => grads[i]!));
      const decay = this.plan.weightDecay;
      used.forEach((i, k) => {
        const w = this.variables[i];
        if (decay) w.assign(tf.sub(w, tf.mul(w, decay * lr)));
        this.rule.update(w, clipped[k], this.slots[i], lr, t);
      });
    });
    this.step = t;
  }

  getWeights(): NamedTensor[] {
    const tf = this.tf;
    const out: NamedTensor[] = [{ name: 'iterations', tensor: tf.scalar(this.step, 'float32') }];
    this.rule.slots.forEach(([slot], s) => {
      this.variables.forEach((v, i) => out.push({ name: `${v.name}/${slot}`, tensor: tf.clone(this.slots[i][s]) }));
    });
    return out;
  }

  setWeights(weights: NamedTensor[]): void {
    const expected = 1 + this.rule.slots.length * this.variables.length;
    if (weights.length !== expected || weights[0].name !== 'iterations') {
      throw new Error(`${this.type} optimizer state has ${weights.length} tensors, expected ${expected} (iterations first)`);
    }
    let k = 1;
    for (let s = 0; s < this.rule.slots.length; s++) {
      for (let i = 0; i < this.variables.length; i++, k++) {
        const t = weights[k].tensor;
        const slot = this.slots[i][s];
        if (t.shape.join() !== slot.shape.join()) throw new Error(`optimizer slot ${weights[k].name} has shape [${t.shape}], expected [${slot.shape}]`);
        slot.assign(t);
      }
    }
    this.step = Math.round(weights[0].tensor.dataSync()[0]);
  }

  dispose(): void {
    for (const vs of this.slots) for (const v of vs) v.dispose();
  }
}

/** Keras `_clip_gradients`: clipnorm per gradient, else global_clipnorm, else clipvalue (Keras accepts only one). */
function clip(tf: Tf, c: TrainingPlan['clip'], grads: Tensor[]): Tensor[] {
  if (c.norm && c.norm > 0) {
    const norm = c.norm;
    return grads.map((g) => tf.div(tf.mul(g, norm), tf.maximum(tf.norm(g), norm)));
  }
  if (c.globalNorm && c.globalNorm > 0) {
    const total = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g)))));
    const scale = tf.div(c.globalNorm, tf.maximum(total, c.globalNorm));
    return grads.map((g) => tf.mul(g, scale));
  }
  if (c.value && c.value > 0) {
    const v = c.value;
    return grads.map((g) => tf.clipByValue(g, -v, v));
  }
  return grads;
}

function makeRule(tf: Tf, type: string, params: Record<string, number | boolean>): Rule {
  const num = (key: string, dflt: number): number => (typeof params[key] === 'number' ? (params[key] as number) : dflt);
  const { add, sub, mul, div, sqrt, square, maximum, abs } = tf;
  switch (type) {
    case 'SGD': {
      const momentum = num('momentum', 0);
      const nesterov = params.nesterov === true;
      if (momentum === 0) return { slots: [], update: (w, g, _s, lr) => w.assign(sub(w, mul(g, lr))) };
      return {
        slots: [['momentum', 0]],
        update(w, g, [m], lr) {
          m.assign(add(mul(g, -lr), mul(m, momentum)));
          w.assign(add(w, nesterov ? add(mul(g, -lr), mul(m, momentum)) : m));
        },
      };
    }
    case 'Adam':
    case 'AdamW': {
      const [b1, b2, eps] = [num('beta_1', 0.9), num('beta_2', 0.999), num('epsilon', 1e-7)];
      const amsgrad = params.amsgrad === true;
      return {
        slots: amsgrad ? [['m', 0], ['v', 0], ['vhat', 0]] : [['m', 0], ['v', 0]],
        update(w, g, [m, v, vhat], lr, t) {
          const alpha = (lr * Math.sqrt(1 - Math.pow(b2, t))) / (1 - Math.pow(b1, t));
          m.assign(add(m, mul(sub(g, m), 1 - b1)));
          v.assign(add(v, mul(sub(square(g), v), 1 - b2)));
          let denom: Tensor = v;
          if (vhat) {
            vhat.assign(maximum(vhat, v));
            denom = vhat;
          }
          w.assign(sub(w, div(mul(m, alpha), add(sqrt(denom), eps))));
        },
      };
    }
    case 'Adamax': {
      const [b1, b2, eps] = [num('beta_1', 0.9), num('beta_2', 0.999), num('epsilon', 1e-7)];
      return {
        slots: [['m', 0], ['u', 0]],
        update(w, g, [m, u], lr, t) {
          m.assign(add(m, mul(sub(g, m), 1 - b1)));
          u.assign(maximum(mul(u, b2), abs(g)));
          w.assign(sub(w, div(mul(m, lr), mul(add(u, eps), 1 - Math.pow(b1, t)))));
        },
      };
    }
    case 'Nadam': {
      const [b1, b2, eps] = [num('beta_1', 0.9), num('beta_2', 0.999), num('epsilon', 1e-7)];
      // Keras' momentum schedule u_t = beta_1 (1 - 0.5 * 0.96^t) and its running product, from the step count.
      const u = (t: number) => b1 * (1 - 0.5 * Math.pow(0.96, t));
      const product = (t: number) => Array.from({ length: t }, (_, i) => u(i + 1)).reduce((a, x) => a * x, 1);
      let cached: [number, number] = [0, 1];
      return {
        slots: [['m', 0], ['v', 0]],
        update(w, g, [m, v], lr, t) {
          if (cached[0] !== t) cached = [t, cached[0] === t - 1 ? cached[1] * u(t) : product(t)];
          const uProduct = cached[1];
          const uNextProduct = uProduct * u(t + 1);
          m.assign(add(m, mul(sub(g, m), 1 - b1)));
          v.assign(add(v, mul(sub(square(g), v), 1 - b2)));
          const mHat = add(mul(m, u(t + 1) / (1 - uNextProduct)), mul(g, (1 - u(t)) / (1 - uProduct)));
          const vHat = div(v, 1 - Math.pow(b2, t));
          w.assign(sub(w, div(mul(mHat, lr), add(sqrt(vHat), eps))));
        },
      };
    }
    case 'RMSprop': {
      const [rho, momentum, eps] = [num('rho', 0.9), num('momentum', 0), num('epsilon', 1e-7)];
      const centered = params.centered === true;
      const slots: [string, number][] = [['velocity', 0]];
      if (momentum > 0) slots.push(['momentum', 0]);
      if (centered) slots.push(['average_gradient', 0]);
      return {
        slots,
        update(w, g, s, lr) {
          const [vel] = s;
          const mom = momentum > 0 ? s[1] : undefined;
          const avg = centered ? s[s.length - 1] : undefined;
          vel.assign(add(mul(vel, rho), mul(square(g), 1 - rho)));
          let denom = add(vel, eps);
          if (avg) {
            avg.assign(add(mul(avg, rho), mul(g, 1 - rho)));
            denom = add(sub(vel, square(avg)), eps);
          }
          const increment = mul(mul(g, lr), tf.rsqrt(denom));
          if (mom) {
            mom.assign(add(mul(mom, momentum), increment));
            w.assign(sub(w, mom));
          } else w.assign(sub(w, increment));
        },
      };
    }
    case 'Adagrad': {
      const eps = num('epsilon', 1e-7);
      return {
        slots: [['accumulator', num('initial_accumulator_value', 0.1)]],
        update(w, g, [acc], lr) {
          acc.assign(add(acc, square(g)));
          w.assign(sub(w, div(mul(g, lr), sqrt(add(acc, eps)))));
        },
      };
    }
    case 'Adadelta': {
      const [rho, eps] = [num('rho', 0.95), num('epsilon', 1e-7)];
      return {
        slots: [['accumulated_grad', 0], ['accumulated_delta_var', 0]],
        update(w, g, [ag, ad], lr) {
          ag.assign(add(mul(ag, rho), mul(square(g), 1 - rho)));
          const delta = div(mul(tf.neg(sqrt(add(ad, eps))), g), sqrt(add(ag, eps)));
          ad.assign(add(mul(ad, rho), mul(square(delta), 1 - rho)));
          w.assign(add(w, mul(delta, lr)));
        },
      };
    }
    case 'Ftrl': {
      const power = num('learning_rate_power', -0.5);
      const [l1, l2] = [num('l1_regularization_strength', 0), num('l2_regularization_strength', 0)];
      // Keras' l2_shrinkage_regularization_strength and beta: the DSL has no syntax for them, so they stay 0 there.
      const [shrinkage, beta] = [num('l2_shrinkage_regularization_strength', 0), num('beta', 0)];
      return {
        slots: [['accumulator', num('initial_accumulator_value', 0.1)], ['linear', 0]],
        update(w, g, [acc, linear], lr) {
          const next = add(acc, square(g));
          const shrunk = shrinkage ? add(g, mul(w, 2 * shrinkage)) : g;
          const grow = div(sub(tf.pow(next, -power), tf.pow(acc, -power)), lr);
          linear.assign(add(linear, sub(shrunk, mul(grow, w))));
          const quadratic = add(div(tf.pow(next, -power), lr), 2 * (l2 + beta / (2 * lr)));
          w.assign(div(sub(tf.clipByValue(linear, -l1, l1), linear), quadratic));
          acc.assign(next);
        },
      };
    }
    default:
      throw new Error(`Unsupported optimizer '${type}'`);
  }
}
