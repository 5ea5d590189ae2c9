import { noGrad } from '../autograd.js';
import { Tensor } from '../tensor.js';

/**
 * One parameter group: its parameters, learning rate and the optimizer's other hyper-parameters
 * (camelCase versions of PyTorch's names). Schedulers add `initialLr` (and OneCycleLR `maxLr`,
 * `minLr`, `maxMomentum`, `baseMomentum`), as PyTorch does.
 */
export interface ParamGroup {
  params: Tensor[];
  lr: number;
  /** SGD/RMSprop momentum (OneCycleLR cycles it). */
  momentum?: number;
  /** Adam/AdamW betas (OneCycleLR cycles beta1). */
  betas?: [number, number];
  /** Set by schedulers: the lr the schedule starts from. */
  initialLr?: number;
  /** Set by OneCycleLR. */
  maxLr?: number;
  minLr?: number;
  maxMomentum?: number;
  baseMomentum?: number;
}

/** A group as passed to a constructor: any hyper-parameter it names overrides the defaults. */
export type ParamGroupInput<G extends ParamGroup = ParamGroup> = { params: Iterable<Tensor> } & Partial<Omit<G, 'params'>>;

/** Per-parameter state: numbers (e.g. the step count) and Float32Array buffers. */
export type ParamState = Record<string, number | Float32Array>;

/** PyTorch's optimizer state_dict layout, with parameters named by their index across groups. */
export interface OptimizerStateDict {
  state: Record<number, ParamState>;
  paramGroups: ({ params: number[] } & Record<string, unknown>)[];
}

function cloneValue(v: unknown): unknown {
  if (v instanceof Float32Array) return v.slice();
  if (Array.isArray(v)) return v.map(cloneValue);
  return v;
}

function cloneState(s: ParamState): ParamState {
  const out: ParamState = {};
  for (const [k, v] of Object.entries(s)) out[k] = v instanceof Float32Array ? v.slice() : v;
  return out;
}

/**
 * Base class of the optimizers (PyTorch's torch.optim.Optimizer). Subclasses implement
 * `update(group)`, which runs under noGrad and writes `p.data` in place for every parameter of
 * the group whose `.grad` is not null.
 */
export abstract class Optimizer<G extends ParamGroup = ParamGroup> {
  readonly paramGroups: G[] = [];
  readonly defaults: Omit<G, 'params'>;
  /** State per parameter (created lazily on the first step that sees a gradient). */
  readonly state = new Map<Tensor, ParamState>();
  /** Number of step() calls (schedulers read it, as PyTorch's _step_count). */
  stepCount = 0;
  protected readonly name: string;
  private readonly validate: (group: G) => void;

  protected constructor(
    name: string,
    params: Iterable<Tensor> | Iterable<ParamGroupInput<G>>,
    defaults: Omit<G, 'params'>,
    validate: (group: G) => void,
  ) {
    this.name = name;
    this.defaults = defaults;
    this.validate = validate;
    if (params instanceof Tensor) {
      throw new TypeError(`${name}: params must be an iterable of Tensors or of parameter groups, got a single Tensor`);
    }
    const list = Array.from(params as Iterable<Tensor | ParamGroupInput<G>>);
    if (list.length === 0) throw new Error(`${name}: optimizer got an empty parameter list`);
    const groups: ParamGroupInput<G>[] =
      list[0] instanceof Tensor ? [{ params: list as Tensor[] } as unknown as ParamGroupInput<G>] : (list as ParamGroupInput<G>[]);
    for (const g of groups) this.addParamGroup(g);
  }

  /** Adds a group (its unset hyper-parameters take the defaults). */
  addParamGroup(input: ParamGroupInput<G>): void {
    if (input === null || typeof input !== 'object' || !('params' in input)) {
      throw new TypeError(`${this.name}: a parameter group must be an object with a params field`);
    }
    const params = input.params instanceof Tensor ? [input.params] : Array.from(input.params);
    for (const p of params) {
      if (!(p instanceof Tensor)) throw new TypeError(`${this.name}: parameters must be Tensors`);
      if (!p.isLeaf) throw new Error(`${this.name}: can't optimize a non-leaf Tensor`);
    }
    if (new Set(params).size !== params.length) {
      throw new Error(`${this.name}: a parameter group contains the same parameter more than once`);
    }
    const existing = new Set(this.paramGroups.flatMap((g) => g.params));
    if (params.some((p) => existing.has(p))) {
      throw new Error(`${this.name}: some parameters appear in more than one parameter group`);
    }
    const group = { ...(cloneValue(this.defaults) as object), ...input, params } as unknown as G;
    if (group.lr === undefined || group.lr === null) throw new Error(`${this.name}: lr is required`);
    this.validate(group);
    this.paramGroups.push(group);
  }

  /** Clears gradients: sets `.grad` to null (default), or fills it with zeros. */
  zeroGrad(setToNone = true): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (p.grad === null) continue;
        if (setToNone) p.grad = null;
        else p.grad.data.fill(0);
      }
    }
  }

  /**
   * One update of every parameter that has a gradient. With a closure (which should clear the
   * gradients, compute the loss and call backward), the closure runs first, with grad mode on,
   * and its result is returned.
   */
  step<T = undefined>(closure?: () => T): T | undefined {
    const loss = closure ? closure() : undefined;
    noGrad(() => {
      for (const g of this.paramGroups) this.update(g);
    });
    this.stepCount++;
    return loss;
  }

  protected abstract update(group: G): void;

  /** The state of p, created empty on first use. */
  protected stateOf(p: Tensor): ParamState {
    let s = this.state.get(p);
    if (s === undefined) {
      s = {};
      this.state.set(p, s);
    }
    return s;
  }

  /** A copy of the optimizer's state in PyTorch's layout (buffers cloned). */
  stateDict(): OptimizerStateDict {
    const index = new Map<Tensor, number>();
    const paramGroups = this.paramGroups.map((g) => {
      const out: { params: number[] } & Record<string, unknown> = { params: [] };
      for (const [k, v] of Object.entries(g as object)) if (k !== 'params') out[k] = cloneValue(v);
      for (const p of g.params) {
        if (!index.has(p)) index.set(p, index.size);
        out.params.push(index.get(p)!);
      }
      return out;
    });
    const state: Record<number, ParamState> = {};
    for (const [p, i] of index) {
      const s = this.state.get(p);
      if (s !== undefined) state[i] = cloneState(s);
    }
    return { state, paramGroups };
  }

  /** Restores a stateDict() (hyper-parameters and per-parameter state; the parameters stay). */
  loadStateDict(sd: OptimizerStateDict): void {
    if (sd === null || typeof sd !== 'object' || !Array.isArray(sd.paramGroups) || typeof sd.state !== 'object') {
      throw new Error(`${this.name}.loadStateDict: expected an object with state and paramGroups`);
    }
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new Error(
        `${this.name}.loadStateDict: loaded state dict has ${sd.paramGroups.length} parameter groups, the optimizer has ${this.paramGroups.length}`,
      );
    }
    const idToParam = new Map<number, Tensor>();
    sd.paramGroups.forEach((saved, gi) => {
      const group = this.paramGroups[gi]!;
      if (!Array.isArray(saved.params) || saved.params.length !== group.params.length) {
        throw new Error(
          `${this.name}.loadStateDict: parameter group ${gi} has ${saved.params?.length} parameters in the state dict, ${group.params.length} in the optimizer`,
        );
      }
      saved.params.forEach((id, j) => idToParam.set(id, group.params[j]!));
    });
    const newState = new Map<Tensor, ParamState>();
    for (const [key, s] of Object.entries(sd.state)) {
      const p = idToParam.get(Number(key));
      if (p === undefined) throw new Error(`${this.name}.loadStateDict: state for parameter ${key}, which no group lists`);
      for (const [k, v] of Object.entries(s)) {
        if (v instanceof Float32Array && v.length !== p.size) {
          throw new Error(
            `${this.name}.loadStateDict: state '${k}' of parameter ${key} has ${v.length} elements, the parameter has ${p.size}`,
          );
        }
      }
      newState.set(p, cloneState(s));
    }
    sd.paramGroups.forEach((saved, gi) => {
      const group = this.paramGroups[gi]!;
      for (const [k, v] of Object.entries(saved)) if (k !== 'params') (group as Record<string, unknown>)[k] = cloneValue(v);
    });
    this.state.clear();
    for (const [p, s] of newState) this.state.set(p, s);
  }
}

/** Throws `${name}: invalid ${what} ${value}, must be ${rule}` unless ok. */
export function check(ok: boolean, name: string, what: string, value: unknown, rule: string): void {
  if (!ok) throw new Error(`${name}: invalid ${what} ${String(value)}, must be ${rule}`);
}

export function isNum(v: unknown): v is number {
  return typeof v === 'number' && !Number.isNaN(v);
}
