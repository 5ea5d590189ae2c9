// A model factory module for trainInWorker's tests: it builds its layers from the library it is
// given, so the model belongs to whichever copy of tensorgrad runs it (the worker's dist build,
// or the sources under vitest on the calling thread).
export default function tanhNet(args, lib) {
  return new lib.Sequential(new lib.Linear(args.inputs, args.hidden), new lib.Tanh(), new lib.Linear(args.hidden, args.outputs));
}

export function notAModel() {
  return { forward: (x) => x };
}

export const notAFunction = 42;

// A model whose forward pass blocks its thread for a minute: a worker running it never reaches
// the per-step cancel check, so only trainInWorker's terminate() fallback can stop it. It sets
// args.started[0] (an Int32Array over a SharedArrayBuffer, when given) as it starts blocking.
export function stuckNet(args, lib) {
  class Stuck extends lib.Module {
    constructor() {
      super();
      this.inner = tanhNet(args, lib);
    }
    forward(x) {
      if (args.started) Atomics.store(args.started, 0, 1);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
      return this.inner.forward(x);
    }
  }
  return new Stuck();
}
