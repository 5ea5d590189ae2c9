/**
 * A GEMM worker of the TypeScript backend (started by gemm-threads.ts as
 * dist/esm/backend/js/gemm-worker.js): waits for a job, computes its block of C in the shared
 * buffer, counts itself done, and waits again. It never returns to its event loop; the calling
 * thread stops it by changing its incarnation word.
 */
import { type MessagePort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { CTL_DONE, CTL_FAILED, incWord, jobSlot, readJob, readyWord, runBlock, wakeWord } from './gemm-job.js';

interface WorkerData {
  ctl: SharedArrayBuffer;
  port: MessagePort;
  id: number;
  /** This worker's incarnation (gemm-job.ts's incWord). */
  inc: number;
}

/** Messages on the port: a new shared data buffer and its generation. */
interface DataMessage {
  gen: number;
  data: SharedArrayBuffer;
}

function run({ ctl, port, id, inc }: WorkerData): void {
  const ctlI = new Int32Array(ctl);
  const slot = jobSlot(ctl, id);
  const wake = wakeWord(id);
  let gen = 0;
  let f: Float32Array = new Float32Array(0);
  let seen = Atomics.load(ctlI, wake);
  // Stopped while it loaded (the calling thread bumps the incarnation before the wake word).
  if (Atomics.load(ctlI, incWord(id)) !== inc) {
    port.close();
    return;
  }
  // Raised, never lowered: a stopped worker of an earlier incarnation that gets here late must not
  // undo the ready word of the one that replaced it.
  for (let cur = Atomics.load(ctlI, readyWord(id)); cur < inc + 1; cur = Atomics.load(ctlI, readyWord(id))) {
    if (Atomics.compareExchange(ctlI, readyWord(id), cur, inc + 1) === cur) break;
  }
  for (;;) {
    spin(ctlI, wake, seen);
    Atomics.wait(ctlI, wake, seen);
    if (Atomics.load(ctlI, incWord(id)) !== inc) break;
    const now = Atomics.load(ctlI, wake);
    if (now === seen) continue;
    seen = now;
    const j = readJob(slot);
    try {
      // The buffer is posted before the job is handed over, so it is already queued on the port.
      while (gen !== j.gen) {
        const m = receiveMessageOnPort(port) as { message: DataMessage } | undefined;
        if (m === undefined) throw new Error(`gemm worker ${id}: data buffer ${j.gen} was not sent`);
        gen = m.message.gen;
        f = new Float32Array(m.message.data);
      }
      runBlock(j, f);
    } catch (e) {
      port.postMessage({ error: e instanceof Error ? e.message : String(e) });
      Atomics.store(ctlI, CTL_FAILED, 1);
    }
    Atomics.add(ctlI, CTL_DONE, 1);
    Atomics.notify(ctlI, CTL_DONE);
  }
  port.close();
}

/**
 * How long a worker keeps polling for its next job before it sleeps in Atomics.wait: the products
 * of a training step come a few hundred microseconds apart, and a worker woken from Atomics.wait
 * starts tens of microseconds late. With the polling (and the calling thread's, in
 * gemm-threads.ts), a 32×256×512 product on 2 threads of the Intel VM took 0.79 ms instead of
 * 0.93 (1.35 on one thread), and the TS backend's batch-32 training step 12.6 instead of 13.3 ms.
 * An idle worker stops polling after this long, so an idle process burns no CPU.
 */
const SPIN_MS = 0.5;

/** Polls the wake word until it changes or SPIN_MS has passed. */
function spin(ctlI: Int32Array, wake: number, seen: number): void {
  const end = performance.now() + SPIN_MS;
  for (let i = 0; Atomics.load(ctlI, wake) === seen; i++) {
    if ((i & 63) === 63 && performance.now() > end) return;
  }
}

const wd = workerData as WorkerData | null;
if (wd !== null && typeof wd === 'object' && wd.ctl instanceof SharedArrayBuffer) run(wd);
