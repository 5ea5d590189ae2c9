/**
 * Atomic file replacement: the bytes go to a temporary file in the target's folder, which is
 * flushed to disk and then renamed over the target. rename(2) within one file system is atomic,
 * so a reader (or a crash at any moment) sees either the old file or the complete new one.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  openSync,
  realpathSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { open, realpath, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { valueStr } from '../shape.js';

/** Largest single write: Node refuses writes over 2 GiB, and smaller pieces keep memory flat. */
const CHUNK = 64 * 1024 * 1024;

/**
 * The temporary file a save to `target` writes first: `.<base>.<pid>.<12 hex digits>.tmp` in the
 * same folder (the same file system, so the rename is atomic). A process killed mid-save leaves
 * it behind; nothing deletes it later, because a name alone cannot tell a dead writer's file from
 * a live one's (on a shared or network folder the pid may be another machine's).
 */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * The path argument of a public reader or writer, checked before any fs call: Node's own message
 * for a number or an object ("The \"path\" argument must be of type string") names no caller.
 */
export function checkPath(who: string, path: unknown): string {
  if (typeof path !== 'string' || path === '') throw new Error(`${who}: path must be a non-empty string, got ${valueStr(path)}`);
  return path;
}

/** An fs error re-thrown as one message naming the caller, the file and the action, keeping `code`. */
export function fsError(who: string, target: string, action: 'read' | 'write', err: unknown): Error {
  const inner = err instanceof Error ? err.message : String(err);
  const out = new Error(`${who}: ${target}: cannot ${action}: ${inner}`, { cause: err });
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') (out as Error & { code: string }).code = code;
  return out;
}

/** Writes through a symlink to the file it names; a missing target is written as given. */
function resolveTargetSync(target: string): string {
  try {
    return realpathSync(target);
  } catch {
    return target;
  }
}

async function resolveTarget(target: string): Promise<string> {
  try {
    return await realpath(target);
  } catch {
    return target;
  }
}

function* pieces(chunks: Iterable<Uint8Array>): Generator<Uint8Array> {
  for (const c of chunks) {
    for (let o = 0; o < c.length; o += CHUNK) yield c.subarray(o, Math.min(c.length, o + CHUNK));
  }
}

/** Directory fsync makes the rename itself durable; some platforms refuse it, which is harmless. */
function syncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // best effort
      }
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // best effort
  }
}

/**
 * Replaces `target` with the concatenation of `chunks`, atomically (see the file comment). On any
 * error the temporary file is removed and the error re-thrown as `<who>: <target>: cannot write: …`.
 */
export function writeFileAtomicSync(target: string, chunks: Iterable<Uint8Array>, who: string): void {
  const real = resolveTargetSync(target);
  const tmp = tempPathFor(real);
  let fd: number | undefined;
  try {
    // 'wx': never reuse (and so never clobber) an existing file of the same name.
    fd = openSync(tmp, 'wx');
    for (const piece of pieces(chunks)) {
      let done = 0;
      while (done < piece.length) done += writeSync(fd, piece, done, piece.length - done);
    }
    fsyncSync(fd);
    const toClose = fd;
    fd = undefined;
    closeSync(toClose);
    renameSync(tmp, real);
  } catch (err) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // the original error matters more
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      // never created, or already renamed
    }
    throw fsError(who, target, 'write', err);
  }
  syncDirSync(dirname(real));
}

/** The asynchronous form of {@link writeFileAtomicSync}, with the same guarantees. */
export async function writeFileAtomic(target: string, chunks: Iterable<Uint8Array>, who: string): Promise<void> {
  const real = await resolveTarget(target);
  const tmp = tempPathFor(real);
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(tmp, 'wx');
    for (const piece of pieces(chunks)) {
      let done = 0;
      while (done < piece.length) {
        const { bytesWritten } = await fh.write(piece, done, piece.length - done);
        done += bytesWritten;
      }
    }
    await fh.sync();
    const toClose = fh;
    fh = undefined;
    await toClose.close();
    await rename(tmp, real);
  } catch (err) {
    if (fh !== undefined) {
      try {
        await fh.close();
      } catch {
        // the original error matters more
      }
    }
    try {
      await unlink(tmp);
    } catch {
      // never created, or already renamed
    }
    throw fsError(who, target, 'write', err);
  }
  await syncDir(dirname(real));
}
