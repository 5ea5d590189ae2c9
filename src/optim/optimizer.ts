import { noGrad } from '../autograd.js';
import { isRecord } from '../ops/args.js';
import { copyFloat32, sameShape, shapeStr, sizeOf, valueStr } from '../shape.js';
import { Tensor, gradOf, tensorProblem } from '../tensor.js';

/**
 * One parameter group: its parameters, learning rate and the optimizer's other hyper-parameters
 * (camelCase versions of PyTorch's names). Schedulers add `initialLr` (and OneCycleLR `maxLr`,
 * `minLr`, `maxMomentum`, `baseMomentum`), as PyTorch does.
 */
export interface ParamGroup {
  /** The parameters this group updates. */
  params: Tensor[];
  /** Learning rate (schedulers write it). */
  lr: number;
  /** SGD/RMSprop momentum (OneCycleLR cycles it). */
  momentum?: number;
  /** Adam/AdamW betas (OneCycleLR cycles beta1). */
  betas?: [number, number];
  /** Set by schedulers: the lr the schedule starts from. */
  initialLr?: number;
  /** Set by OneCycleLR: the peak lr. */
  maxLr?: number;
  /** Set by OneCycleLR: the final lr. */
  minLr?: number;
  /** Set by OneCycleLR: the momentum at the lr's ends. */
  maxMomentum?: number;
  /** Set by OneCycleLR: the momentum at the lr's peak. */
  baseMomentum?: number;
}

/** A group as passed to a constructor: any hyper-parameter it names overrides the defaults. */
export type ParamGroupInput<G extends ParamGroup = ParamGroup> = {
  /** The parameters of this group (any iterable of tensors, e.g. `layer.parameters()`). */
  params: Iterable<Tensor>;
} & Partial<Omit<G, 'params'>>;

/** Per-parameter state: numbers (e.g. the step count) and Float32Array buffers. */
export type ParamState = Record<string, number | Float32Array>;

/** PyTorch's optimizer state_dict layout, with parameters named by their index across groups. */
export interface OptimizerStateDict {
  /** Parameter index → its state (parameters never stepped have none). */
  state: Record<number, ParamState>;
  /** Each group's hyper-parameters, with its parameters as indices. */
  paramGroups: ({
    /** Indices of the group's parameters, counted across groups in order. */
    params: number[];
  } & Record<string, unknown>)[];
}

/**
 * The per-parameter state an optimizer keeps, as stateDict() writes it: `buffers` are
 * Float32Arrays with one value per element of the parameter, `counters` non-negative integers. A
 * parameter's state is either empty (never stepped) or holds at least the `required` keys, since
 * the update trusts those to exist together.
 */
export interface StateSpec {
  /** Keys holding one float32 value per parameter element (e.g. `expAvg`). */
  readonly buffers: readonly string[];
  /** Keys holding non-negative integers (e.g. `step`). */
  readonly counters: readonly string[];
  /** Keys a non-empty state must have. */
  readonly required: readonly string[];
}

/**
 * Checks every hyper-parameter of a group, throwing `${where}: invalid …`. One per optimizer,
 * run by the constructor, addParamGroup, loadStateDict and step (groups are public and mutable).
 */
// Declared through a method signature so it is bivariant in G: an Adam (validating AdamGroup) stays
// assignable to Optimizer<ParamGroup>, as code that accepts any optimizer needs.
export type GroupValidator<G extends ParamGroup> = {
  /**
   * Throws unless every hyper-parameter of the group is valid.
   * @param group - the group to check
   * @param where - what the error message starts with, e.g. "Adam.step"
   */
  check(group: G, where: string): void;
}['check'];

/** Keys the schedulers add to a group (see ParamGroup). */
const SCHEDULER_KEYS = ['initialLr', 'maxLr', 'minLr', 'maxMomentum', 'baseMomentum'] as const;

function cloneValue(v: unknown): unknown {
  if (v instanceof Float32Array) return copyFloat32(v);
  if (Array.isArray(v)) return v.map(cloneValue);
  return v;
}

function cloneState(s: ParamState): ParamState {
  const out: ParamState = {};
  for (const [k, v] of Object.entries(s)) out[k] = v instanceof Float32Array ? copyFloat32(v) : v;
  return out;
}

// The kernels compute in float32: a hyper-parameter beyond its range would become Infinity in the
// native step but stay finite in the TypeScript one, and the two backends would disagree.
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Throws `${where}: invalid ${what} …` unless v is a finite number for which ok(v) holds; `rule`
 * says what ok demands (">= 0", "in [0, 1)").
 */
export function checkNumber(where: string, what: string, v: unknown, rule: string, ok: (x: number) => boolean): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: invalid ${what} ${valueStr(v)}, must be a finite number${rule ? ` ${rule}` : ''}`);
  if (Math.abs(v) > FLOAT32_MAX) throw new Error(`${where}: invalid ${what} ${v}, must be within float32's range (|x| <= 3.4e38)`);
  if (!ok(v)) throw new Error(`${where}: invalid ${what} ${v}, must be ${rule}`);
}

export function checkNonNegative(where: string, what: string, v: unknown): void {
  checkNumber(where, what, v, '>= 0', (x) => x >= 0);
}

export function checkBoolean(where: string, what: string, v: unknown): void {
  if (typeof v !== 'boolean') throw new Error(`${where}: invalid ${what} ${valueStr(v)}, must be a boolean`);
}


/**
 * Base class of the optimizers (PyTorch's torch.optim.Optimizer). Subclasses implement
 * `update(group)`, which runs under noGrad and writes `p.data` in place for every parameter of
 * the group whose `.grad` is not null; step() has checked every gradient first.
 */
export abstract class Optimizer<G extends ParamGroup = ParamGroup> {
  /** The parameter groups; their hyper-parameters may be changed between steps (schedulers do). */
  readonly paramGroups: G[] = [];
  /** Hyper-parameters a group takes when it does not name them. */
  readonly defaults: Omit<G, 'params'>;
  /** State per parameter (created lazily on the first step that sees a gradient). */
  readonly state = new Map<Tensor, ParamState>();
  /** Number of step() calls (schedulers read it, as PyTorch's _step_count). */
  stepCount = 0;
  /** The class name, for error messages ("Adam.step: …"). */
  protected readonly name: string;
  private readonly validate: GroupValidator<G>;
  private readonly stateSpec: StateSpec | undefined;

  /**
   * @param name - the optimizer's name in errors
   * @param params - the tensors to optimize, or parameter groups
   * @param defaults - hyper-parameters for groups that do not set them
   * @param validate - checks a group's hyper-parameters
   * @param stateSpec - the per-parameter state's layout
   */
  protected constructor(
    name: string,
    params: Iterable<Tensor> | Iterable<ParamGroupInput<G>>,
    defaults: Omit<G, 'params'>,
    validate: GroupValidator<G>,
    /**
     * The state's layout, which loadStateDict holds a dict to. Without one (an optimizer written
     * outside this library), any key is accepted whose value is a buffer of the parameter's size
     * or a finite number.
     */
    stateSpec?: StateSpec,
  ) {
    this.name = name;
    this.defaults = defaults;
    this.validate = validate;
    this.stateSpec = stateSpec;
    if (params instanceof Tensor) {
      throw new TypeError(`${name}: params must be an iterable of Tensors or of parameter groups, got a single Tensor`);
    }
    if (params === null || typeof params !== 'object' || typeof (params as Partial<Iterable<unknown>>)[Symbol.iterator] !== 'function') {
      throw new TypeError(`${name}: params must be an iterable of Tensors or of parameter groups, got ${valueStr(params)}`);
    }
    const list = Array.from(params as Iterable<Tensor | ParamGroupInput<G>>);
    if (list.length === 0) throw new Error(`${name}: optimizer got an empty parameter list`);
    const groups: ParamGroupInput<G>[] =
      list[0] instanceof Tensor ? [{ params: list as Tensor[] } as unknown as ParamGroupInput<G>] : (list as ParamGroupInput<G>[]);
    for (const g of groups) this.addParamGroup(g);
  }

  /**
   * Adds a group (its unset hyper-parameters take the defaults).
   * PyTorch: `Optimizer.add_param_group`.
   * @param input - `{ params, ...hyperParameters }`; its parameters must be in no other group
   */
  addParamGroup(input: ParamGroupInput<G>): void {
    if (!isRecord(input) || !('params' in input)) {
      throw new TypeError(`${this.name}: a parameter group must be an object with a params field, got ${valueStr(input)}`);
    }
    const raw: unknown = input.params;
    if (!(raw instanceof Tensor) && (raw === null || typeof raw !== 'object' || typeof (raw as Partial<Iterable<unknown>>)[Symbol.iterator] !== 'function')) {
      throw new TypeError(`${this.name}: a parameter group's params must be a Tensor or an iterable of Tensors, got ${valueStr(raw)}`);
    }
    const params: unknown[] = raw instanceof Tensor ? [raw] : Array.from(raw as Iterable<unknown>);
    params.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new TypeError(`${this.name}: parameters must be Tensors, got ${valueStr(p)} at index ${i}`);
      if (!p.isLeaf) throw new Error(`${this.name}: can't optimize a non-leaf Tensor`);
    });
    const tensors = params as Tensor[];
    if (new Set(tensors).size !== tensors.length) {
      throw new Error(`${this.name}: a parameter group contains the same parameter more than once`);
    }
    const existing = new Set(this.paramGroups.flatMap((g) => g.params));
    if (tensors.some((p) => existing.has(p))) {
      throw new Error(`${this.name}: some parameters appear in more than one parameter group`);
    }
    // A key given as undefined means "not given": it takes the default, as an absent one does.
    const given = Object.fromEntries(Object.entries(input).filter(([k, v]) => k !== 'params' && v !== undefined));
    const group = { ...(cloneValue(this.defaults) as object), ...(cloneValue(given) as object), params: tensors } as unknown as G;
    if (group.lr === undefined || group.lr === null) throw new Error(`${this.name}: lr is required`);
    this.checkGroup(group, this.name);
    this.paramGroups.push(group);
  }

  /** The optimizer's own checks plus those of the keys schedulers add. */
  private checkGroup(group: G, where: string): void {
    this.validate(group, where);
    const g = group as unknown as Record<string, unknown>;
    for (const k of SCHEDULER_KEYS) {
      if (g[k] === undefined) continue;
      if (k === 'maxMomentum' || k === 'baseMomentum') checkNumber(where, k, g[k], '', () => true);
      else checkNonNegative(where, k, g[k]);
    }
  }

  /**
   * Clears gradients: sets `.grad` to null (default), or fills it with zeros.
   * PyTorch: `Optimizer.zero_grad`.
   * @param setToNone - null the gradients (default true) instead of zeroing them
   */
  zeroGrad(setToNone = true): void {
    if (typeof setToNone !== 'boolean') throw new TypeError(`${this.name}.zeroGrad: setToNone must be a boolean, got ${valueStr(setToNone)}`);
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        const grad = gradOf(p);
        if (grad === null) continue;
        if (setToNone) {
          // An own `grad` property (not the accessor's gradient) is cleared like any assignment.
          if (grad === p._grad) p._releaseGrad();
          else p.grad = null;
        } else grad._write('zeroGrad').fill(0);
      }
    }
  }

  /**
   * One update of every parameter that has a gradient. With a closure (which should clear the
   * gradients, compute the loss and call backward), the closure runs first, with grad mode on,
   * and its result is returned. Every group and gradient is checked before any parameter
   * changes, so a bad one leaves all of them as they were.
   * PyTorch: `Optimizer.step`.
   * @param closure - optional: recomputes the loss (clear grads, forward, backward) and returns it
   * @returns the closure's result, or undefined without one
   */
  step<T = undefined>(closure?: () => T): T | undefined {
    if (closure !== undefined && typeof closure !== 'function') {
      throw new TypeError(`${this.name}.step: closure must be a function, got ${valueStr(closure)}`);
    }
    const loss = closure ? closure() : undefined;
    this.checkStep();
    noGrad(() => {
      for (const g of this.paramGroups) this.update(g);
    });
    this.stepCount++;
    return loss;
  }

  /**
   * Every group's hyper-parameters (they are public, so they may have changed since construction),
   * every parameter and every gradient: a Tensor of its parameter's shape whose data is intact.
   * Without this a short gradient gives NaN in the tail of its parameter.
   */
  private checkStep(): void {
    const where = `${this.name}.step`;
    this.paramGroups.forEach((group, gi) => {
      this.checkGroup(group, this.paramGroups.length > 1 ? `${where}: parameter group ${gi}` : where);
      if (!Array.isArray(group.params)) throw new Error(`${where}: params of group ${gi} must be an array of Tensors, got ${valueStr(group.params)}`);
      group.params.forEach((p, j) => {
        const bad = tensorProblem(p);
        if (bad !== null) throw new Error(`${where}: parameter ${j} of group ${gi}: ${bad}`);
        const grad: unknown = gradOf(p);
        if (grad === null) return;
        if (!(grad instanceof Tensor)) {
          throw new Error(`${where}: the gradient of parameter ${j} of group ${gi} must be a Tensor or null, got ${valueStr(grad)}`);
        }
        const gBad = tensorProblem(grad);
        if (gBad !== null) throw new Error(`${where}: the gradient of parameter ${j} of group ${gi}: ${gBad}`);
        if (!sameShape(grad.shape, p.shape)) {
          throw new Error(
            `${where}: the gradient of parameter ${j} of group ${gi} has shape ${shapeStr(grad.shape)}, but the parameter has shape ${shapeStr(p.shape)}`,
          );
        }
      });
    });
  }

  /**
   * Updates every parameter of `group` that has a gradient, in place (runs under noGrad; the
   * gradients have been checked).
   * @param group - one of paramGroups
   */
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

  /** A copy of the optimizer's state in PyTorch's layout (buffers cloned). PyTorch: `Optimizer.state_dict`. */
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

  /**
   * Restores a stateDict() (hyper-parameters and per-parameter state; the parameters stay).
   * Everything is checked first — each group as the constructor checks it, each state entry
   * against the format stateDict() writes (buffers of the parameter's size, integer counters, no
   * unknown keys) — and nothing changes unless all of it is valid. Buffers may also be given as
   * Tensors (PyTorch's state dicts hold tensors); they are copied.
   * PyTorch: `Optimizer.load_state_dict`.
   * @param sd - what stateDict() returned (for an optimizer over the same parameters)
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const where = `${this.name}.loadStateDict`;
    if (!isRecord(sd)) throw new Error(`${where}: expected an object with state and paramGroups, got ${valueStr(sd)}`);
    for (const k of Object.keys(sd)) {
      if (k !== 'state' && k !== 'paramGroups') throw new Error(`${where}: unknown key '${k}' (a state dict has state and paramGroups)`);
    }
    if (!Array.isArray(sd.paramGroups)) throw new Error(`${where}: paramGroups must be an array, got ${valueStr(sd.paramGroups)}`);
    if (!isRecord(sd.state)) throw new Error(`${where}: state must be an object mapping parameter ids to states, got ${valueStr(sd.state)}`);
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new Error(
        `${where}: loaded state dict has ${sd.paramGroups.length} parameter groups, the optimizer has ${this.paramGroups.length}`,
      );
    }
    const idToParam = new Map<number, Tensor>();
    const newGroups = sd.paramGroups.map((saved: unknown, gi) => {
      const group = this.paramGroups[gi]!;
      if (!isRecord(saved)) throw new Error(`${where}: parameter group ${gi} must be an object, got ${valueStr(saved)}`);
      const ids: unknown = saved['params'];
      if (!Array.isArray(ids) || ids.length !== group.params.length) {
        throw new Error(
          `${where}: parameter group ${gi} has ${Array.isArray(ids) ? ids.length : valueStr(ids)} parameters in the state dict, ${group.params.length} in the optimizer`,
        );
      }
      ids.forEach((id: unknown, j) => {
        if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
          throw new Error(`${where}: parameter group ${gi} lists ${valueStr(id)} as a parameter id, expected a non-negative integer`);
        }
        if (idToParam.has(id)) throw new Error(`${where}: parameter id ${id} is listed more than once`);
        idToParam.set(id, group.params[j]!);
      });
      const known = new Set([...Object.keys(this.defaults), ...SCHEDULER_KEYS, ...Object.keys(group)]);
      const candidate = { ...group } as Record<string, unknown>;
      for (const [k, v] of Object.entries(saved)) {
        if (k === 'params') continue;
        if (!known.has(k)) throw new Error(`${where}: parameter group ${gi} has unknown key '${k}'`);
        candidate[k] = cloneValue(v);
      }
      this.checkGroup(candidate as unknown as G, `${where}: parameter group ${gi}`);
      return candidate;
    });
    const newState = new Map<Tensor, ParamState>();
    for (const [key, s] of Object.entries(sd.state)) {
      const p = /^(0|[1-9]\d*)$/.test(key) ? idToParam.get(Number(key)) : undefined;
      if (p === undefined) throw new Error(`${where}: state for parameter ${key}, which no group lists`);
      newState.set(p, this.parseState(s, p, `${where}: state of parameter ${key}`));
    }
    this.paramGroups.forEach((group, gi) => Object.assign(group, newGroups[gi]));
    this.state.clear();
    for (const [p, s] of newState) this.state.set(p, s);
  }

  /** A loaded parameter state checked against this optimizer's StateSpec, with its buffers copied. */
  private parseState(s: unknown, p: Tensor, where: string): ParamState {
    const spec = this.stateSpec;
    if (!isRecord(s)) throw new Error(`${where}: expected an object, got ${valueStr(s)}`);
    const n = sizeOf(p.shape);
    const out: ParamState = {};
    for (const [k, v] of Object.entries(s)) {
      const isBuffer = spec ? spec.buffers.includes(k) : typeof v !== 'number';
      if (isBuffer) {
        const data = v instanceof Tensor && tensorProblem(v) === null ? v._data : v;
        if (!(data instanceof Float32Array) || data.length !== n) {
          const got = v instanceof Tensor ? (tensorProblem(v) ?? `a Tensor of ${v.size} elements`) : v instanceof Float32Array ? `a Float32Array of ${v.length} elements` : valueStr(v);
          throw new Error(`${where}: '${k}' must be a Float32Array or Tensor of ${n} elements (the parameter's size), got ${got}`);
        }
        out[k] = copyFloat32(data);
      } else if (spec === undefined) {
        if (!Number.isFinite(v)) throw new Error(`${where}: '${k}' must be a finite number or a buffer, got ${valueStr(v)}`);
        out[k] = v as number;
      } else if (spec.counters.includes(k)) {
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
          throw new Error(`${where}: '${k}' must be a non-negative integer, got ${valueStr(v)}`);
        }
        out[k] = v;
      } else {
        throw new Error(`${where}: unknown key '${k}' (${this.name} keeps ${[...spec.counters, ...spec.buffers].join(', ')})`);
      }
    }
    if (spec !== undefined && Object.keys(out).length > 0) {
      for (const k of spec.required) {
        if (!(k in out)) throw new Error(`${where}: '${k}' is missing (a non-empty ${this.name} state holds ${spec.required.join(', ')})`);
      }
    }
    return out;
  }
}
