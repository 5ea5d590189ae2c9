import { Module } from '../nn/module.js';
import { manualSeed } from '../random.js';
import { valueStr } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { evaluate, type EvaluateOptions, type EvaluateResult } from './evaluate.js';
import { isRecord } from '../ops/args.js';
import { fit, type FitOptions, type History } from './fit.js';

/**
 * N models whose predictions are averaged as probabilities. As a Module its forward returns
 * log of the mean of the members' softmax outputs, so crossEntropy/nllLoss, argmax and
 * evaluate() all work on it unchanged (softmax of log-probabilities gives them back). Its state
 * dict prefixes each member's keys with its index ("0.0.weight", "1.0.weight", …).
 */
export class Ensemble extends Module {
  /** The member models. */
  readonly members: Module[];

  /** @param members - at least one model, each mapping the same input to logits over the same classes */
  constructor(members: readonly Module[]) {
    super();
    if (!Array.isArray(members)) throw new Error(`Ensemble: members must be an array of Modules, got ${valueStr(members)}`);
    if (members.length === 0) throw new Error('Ensemble: needs at least one member');
    members.forEach((m: unknown, i) => {
      if (!(m instanceof Module)) throw new Error(`Ensemble: member ${i} is not a Module, got ${valueStr(m)}`);
    });
    this.members = members.slice();
  }

  override *namedChildren(): Generator<[string, Module]> {
    for (let i = 0; i < this.members.length; i++) yield [String(i), this.members[i]!];
  }

  /** @internal namedChildren() without the names (see Module._eachChild). */
  override _eachChild(fn: (m: Module) => void): void {
    for (let i = 0; i < this.members.length; i++) fn(this.members[i]!);
  }

  /**
   * log(mean_i softmax(member_i(x))): log-probabilities [batch, classes].
   * @param x - input batch
   */
  forward(x: Tensor): Tensor {
    return this.predictProba(x).log();
  }

  /**
   * The mean of the members' class probabilities [batch, classes].
   * @param x - input batch
   */
  predictProba(x: Tensor): Tensor {
    let sum: Tensor | null = null;
    for (const m of this.members) {
      const p = m.forward(x).softmax(-1);
      sum = sum === null ? p : sum.add(p);
    }
    return sum!.div(this.members.length);
  }

  /**
   * Trains `count` members, member i after `manualSeed(seed + i)`, so each starts from different
   * weights and sees a different shuffle. `create(i)` builds a fresh model; the fit options are
   * shared (give the optimizer and scheduler as factories so each member gets its own).
   * @param count - number of members
   * @param create - builds member i's model
   * @param options - fit()'s options, plus `seed` and `onMemberEnd`
   * @example
   * ```ts
   * const { ensemble } = await Ensemble.train(5, () => mlp(spec), { train: [x, y], epochs: 10 });
   * ```
   */
  static async train(
    count: number,
    create: (index: number) => Module,
    options: FitOptions & {
      /** Member i is trained after manualSeed(seed + i) (default 0). */
      seed?: number;
      /** Called after each member is trained. */
      onMemberEnd?: (index: number, history: History) => void | Promise<void>;
    },
  ): Promise<{
    /** The trained ensemble. */
    ensemble: Ensemble;
    /** Each member's fit() history. */
    histories: History[];
  }> {
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) throw new Error(`Ensemble.train: count must be a positive integer, got ${valueStr(count)}`);
    if (typeof create !== 'function') throw new Error(`Ensemble.train: create must be a function (index) => Module, got ${valueStr(create)}`);
    if (!isRecord(options)) throw new Error(`Ensemble.train: options must be an object (fit's options, plus seed and onMemberEnd), got ${valueStr(options)}`);
    const { seed: seedOption, onMemberEnd, ...fitOptions } = options;
    if (seedOption !== undefined && (typeof seedOption !== 'number' || !Number.isSafeInteger(seedOption))) {
      throw new Error(`Ensemble.train: seed must be an integer, got ${valueStr(seedOption)}`);
    }
    if (onMemberEnd !== undefined && typeof onMemberEnd !== 'function') throw new Error(`Ensemble.train: onMemberEnd must be a function, got ${valueStr(onMemberEnd)}`);
    if (options.optimizer !== undefined && typeof options.optimizer !== 'function') {
      throw new Error('Ensemble.train: pass the optimizer as a factory ((model) => optimizer), so each member gets its own');
    }
    if (options.scheduler !== undefined && typeof options.scheduler !== 'function') {
      throw new Error('Ensemble.train: pass the scheduler as a factory ((optimizer) => scheduler), so each member gets its own');
    }
    const seed = seedOption ?? 0;
    const members: Module[] = [];
    const histories: History[] = [];
    for (let i = 0; i < count; i++) {
      manualSeed(seed + i);
      const model: unknown = create(i);
      if (!(model instanceof Module)) throw new Error(`Ensemble.train: create(${i}) must return a Module, got ${valueStr(model)}`);
      const h = await fit(model, fitOptions);
      members.push(model);
      histories.push(h);
      await onMemberEnd?.(i, h);
    }
    return { ensemble: new Ensemble(members), histories };
  }

  /**
   * The ensemble's loss and metrics next to each member's, on the same data.
   * @param data - as evaluate() takes it
   * @param options - as evaluate() takes them
   */
  async evaluate(
    data: Parameters<typeof evaluate>[1],
    options: EvaluateOptions = {},
  ): Promise<
    EvaluateResult & {
      /** Each member's own result, in order. */
      members: EvaluateResult[];
    }
  > {
    if (options !== undefined && !isRecord(options)) throw new Error(`Ensemble.evaluate: options must be an object, got ${valueStr(options)}`);
    // Members are scored on their own logits; the ensemble on its log-probabilities.
    const members: EvaluateResult[] = [];
    for (const m of this.members) members.push(await evaluate(m, data, { ...options, confusionMatrix: false }));
    const own = await evaluate(this, data, options);
    return { ...own, members };
  }
}

