import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { TiercastError } from '../common/errors.ts';
import type { JobQueue, QueueMessage, ReceiveOptions } from '../common/job-queue.ts';
import { fsyncDir, fsyncFile, writeFileAtomic } from './atomic-file.ts';
import { sleep } from './sleep.ts';

/**
 * A folder queue for the embedded default with the promises SQS makes: one receiver at a time per message,
 * invisible until its lease expires (so a crashed worker's message comes back), visibility changes, receive
 * counts, dead-lettering after `maxReceives`, and high priority before normal.
 *
 * Layout (every state change is one rename(2), atomic on one file system, so it is safe across processes):
 *   tmp/       bodies being written (renamed into ready/ when complete)
 *   ready/     `<p>-<ts>-<rand>.r<count>`              visible; p = 0 high, 1 normal, so a name sort is the order
 *   inflight/  `<p>-<ts>-<rand>.r<count>.<receipt>`    received (or delayed); the file's mtime is the lease deadline
 *   dead/      `<p>-<ts>-<rand>.r<count>`              dead letters
 * The lease lives in the mtime rather than in a side file, so a crash between claim and lease write leaves an
 * old mtime and the message simply becomes visible again.
 */

export interface LocalQueueOptions {
  /** A message received this many times goes to the dead letters on its next receive (SQS maxReceiveCount). */
  readonly maxReceives?: number;
  /** Default invisibility after a receive. */
  readonly visibilityTimeoutSec?: number;
  /** How often an idle long poll looks again. */
  readonly pollIntervalMs?: number;
}

export interface DeadLetter {
  readonly id: string;
  readonly body: string;
  readonly receiveCount: number;
  readonly deadAt: Date;
  /** Why it was dead-lettered when the worker said so (see deadLetter()), else null (too many receives). */
  readonly reason: string | null;
}

export type LocalJobQueue = JobQueue & {
  readonly dir: string;
  deadLetters(): Promise<DeadLetter[]>;
  /** Move a received message to the dead letters at once (a message that can never succeed). */
  deadLetter(message: QueueMessage, reason: string): Promise<void>;
};

/** send() maps priority >= 8 to the high lane, as the SQS adapter does. */
export const HIGH_PRIORITY_MIN = 8;

const READY = 'ready';
const INFLIGHT = 'inflight';
const DEAD = 'dead';
const TMP = 'tmp';
const NAME_RE = /^([01])-(\d{13})-([0-9a-f]{12})\.r(\d+)(?:\.([0-9a-z]+))?$/;

interface ParsedName {
  readonly base: string;
  readonly lane: 'high' | 'normal';
  readonly id: string;
  readonly count: number;
  readonly receipt: string | undefined;
}

function parseName(name: string): ParsedName | null {
  const m = NAME_RE.exec(name);
  if (!m) return null;
  return {
    base: `${m[1]}-${m[2]}-${m[3]}`,
    lane: m[1] === '0' ? 'high' : 'normal',
    id: `${m[2]}-${m[3]}`,
    count: Number(m[4]),
    receipt: m[5],
  };
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

function queueError(message: string, cause?: unknown, details?: Record<string, unknown>): TiercastError {
  return new TiercastError('QUEUE_ERROR', message, { cause, details });
}

/** A body in tmp/ lives for one write; older ones were left by a sender that crashed (README "Local state"). */
export const STALE_TMP_MS = 60 * 60 * 1000;

function sweepTmp(dir: string, now = Date.now()): void {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    try {
      if (now - statSync(p).mtimeMs >= STALE_TMP_MS) rmSync(p, { force: true });
    } catch {
      // gone already (another process swept it)
    }
  }
}

export function createLocalQueue(dir: string, options: LocalQueueOptions = {}): LocalJobQueue {
  const maxReceives = options.maxReceives ?? 3;
  const defaultVisibility = options.visibilityTimeoutSec ?? 30;
  const pollIntervalMs = options.pollIntervalMs ?? 200;
  if (!Number.isInteger(maxReceives) || maxReceives < 1) throw new TiercastError('CONFIG_INVALID', `local queue: maxReceives must be an integer >= 1 (got ${maxReceives})`);
  if (!(defaultVisibility >= 0 && defaultVisibility <= 43_200)) throw new TiercastError('CONFIG_INVALID', `local queue: visibilityTimeoutSec must be 0..43200 (got ${defaultVisibility})`);
  const root = path.resolve(dir);
  const sub = (name: string) => path.join(root, name);
  for (const name of [READY, INFLIGHT, DEAD, TMP]) mkdirSync(sub(name), { recursive: true });
  sweepTmp(sub(TMP));

  async function listDir(name: string): Promise<string[]> {
    try {
      return (await fs.readdir(sub(name))).sort();
    } catch (err) {
      if (isMissing(err)) return [];
      throw queueError(`local queue: cannot list ${sub(name)}: ${(err as Error).message}`, err);
    }
  }

  /** Expired leases (crashed or slow receivers, ended delays) go back to ready/. */
  async function releaseExpired(now: number): Promise<void> {
    for (const name of await listDir(INFLIGHT)) {
      const parsed = parseName(name);
      if (!parsed) continue;
      let mtimeMs: number;
      try {
        mtimeMs = (await fs.stat(path.join(sub(INFLIGHT), name))).mtimeMs;
      } catch (err) {
        if (isMissing(err)) continue;
        throw err;
      }
      if (mtimeMs > now) continue;
      try {
        await fs.rename(path.join(sub(INFLIGHT), name), path.join(sub(READY), `${parsed.base}.r${parsed.count}`));
      } catch (err) {
        if (!isMissing(err)) throw err; // someone else released or deleted it first
      }
    }
  }

  /** Claim up to `max` ready messages; a failed rename means another receiver won that one. */
  async function claim(max: number, visibilitySec: number): Promise<QueueMessage[]> {
    const out: QueueMessage[] = [];
    for (const name of await listDir(READY)) {
      if (out.length >= max) break;
      const parsed = parseName(name);
      if (!parsed) continue;
      const from = path.join(sub(READY), name);
      const count = parsed.count + 1;
      if (count > maxReceives) {
        const to = path.join(sub(DEAD), `${parsed.base}.r${parsed.count}`);
        try {
          await fs.rename(from, to);
          const now = new Date();
          await fs.utimes(to, now, now);
        } catch (err) {
          if (!isMissing(err)) throw err;
        }
        continue;
      }
      const receipt = randomBytes(8).toString('hex');
      const inflightName = `${parsed.base}.r${count}.${receipt}`;
      const to = path.join(sub(INFLIGHT), inflightName);
      // The lease (mtime) is set BEFORE the claiming rename: a file arriving in inflight/ with its old mtime would look
      // expired to another process's releaseExpired() and be handed out twice.
      const deadline = new Date(Date.now() + visibilitySec * 1000);
      try {
        await fs.utimes(from, deadline, deadline);
        await fs.rename(from, to);
      } catch (err) {
        if (isMissing(err)) continue;
        throw err;
      }
      let body: string;
      try {
        body = await fs.readFile(to, 'utf8');
      } catch (err) {
        if (isMissing(err)) continue; // a zero-length lease ran out at once and someone else has it now
        throw err;
      }
      out.push({ id: parsed.id, receiptHandle: inflightName, body, receiveCount: count, queue: parsed.lane });
    }
    return out;
  }

  function inflightPath(message: QueueMessage): string {
    const parsed = parseName(message.receiptHandle);
    if (!parsed || !parsed.receipt) throw queueError(`local queue: not a receipt handle: ${message.receiptHandle}`);
    return path.join(sub(INFLIGHT), message.receiptHandle);
  }

  function staleReceipt(message: QueueMessage, cause: unknown): TiercastError {
    return queueError(
      `local queue: message ${message.id} is no longer held by this receipt (its lease expired or it was deleted)`,
      cause,
      { messageId: message.id, stale: true },
    );
  }

  let lastSendMs = 0;
  return {
    dir: root,

    async send(body, sendOptions = {}) {
      const lane = (sendOptions.priority ?? 5) >= HIGH_PRIORITY_MIN ? '0' : '1';
      // Strictly increasing within this process, so messages sent in the same millisecond keep their order.
      lastSendMs = Math.max(Date.now(), lastSendMs + 1);
      const ts = String(lastSendMs).padStart(13, '0');
      const rand = randomBytes(6).toString('hex');
      const base = `${lane}-${ts}-${rand}`;
      const tmp = path.join(sub(TMP), `${base}.${process.pid}`);
      try {
        // Durable before it becomes visible: a crash must not leave an empty message in ready/.
        await fs.writeFile(tmp, body, 'utf8');
        await fsyncFile(tmp);
        const delay = sendOptions.delaySeconds ?? 0;
        if (delay > 0) {
          // A delayed message waits in inflight/ under a pseudo-receipt until its "lease" ends.
          const to = path.join(sub(INFLIGHT), `${base}.r0.delay`);
          const at = new Date(Date.now() + delay * 1000);
          await fs.utimes(tmp, at, at);
          await fs.rename(tmp, to);
          await fsyncDir(sub(INFLIGHT));
        } else {
          await fs.rename(tmp, path.join(sub(READY), `${base}.r0`));
          await fsyncDir(sub(READY));
        }
      } catch (err) {
        await fs.rm(tmp, { force: true }).catch(() => {});
        throw queueError(`local queue: cannot send to ${root}: ${(err as Error).message}`, err);
      }
      return { messageId: `${ts}-${rand}` };
    },

    async receive(receiveOptions) {
      const max = Math.max(1, Math.min(10, Math.floor(receiveOptions.maxMessages)));
      const waitMs = Math.max(0, Math.min(20, receiveOptions.waitSeconds)) * 1000;
      const visibility = receiveOptions.visibilityTimeoutSeconds ?? defaultVisibility;
      const signal = receiveOptions.signal;
      const until = Date.now() + waitMs;
      for (;;) {
        if (signal?.aborted) return [];
        try {
          await releaseExpired(Date.now());
          const got = await claim(max, visibility);
          if (got.length > 0 || Date.now() >= until) return got;
        } catch (err) {
          throw err instanceof TiercastError ? err : queueError(`local queue: receive failed in ${root}: ${(err as Error).message}`, err);
        }
        await sleep(Math.min(pollIntervalMs, Math.max(0, until - Date.now())), signal);
      }
    },

    async changeVisibility(message, timeoutSeconds) {
      const p = inflightPath(message);
      try {
        if (timeoutSeconds <= 0) {
          const parsed = parseName(message.receiptHandle)!;
          await fs.rename(p, path.join(sub(READY), `${parsed.base}.r${parsed.count}`));
        } else {
          const at = new Date(Date.now() + timeoutSeconds * 1000);
          await fs.utimes(p, at, at);
        }
      } catch (err) {
        if (isMissing(err)) throw staleReceipt(message, err);
        throw queueError(`local queue: changeVisibility failed: ${(err as Error).message}`, err);
      }
    },

    async delete(message) {
      try {
        await fs.unlink(inflightPath(message));
      } catch (err) {
        if (isMissing(err)) throw staleReceipt(message, err);
        throw err instanceof TiercastError ? err : queueError(`local queue: delete failed: ${(err as Error).message}`, err);
      }
    },

    async depth() {
      const [ready, inflight] = await Promise.all([listDir(READY), listDir(INFLIGHT)]);
      return { visible: ready.filter((n) => parseName(n)).length, inFlight: inflight.filter((n) => parseName(n)).length };
    },

    async deadLetters() {
      const out: DeadLetter[] = [];
      for (const name of await listDir(DEAD)) {
        const parsed = parseName(name.replace(/\.reason$/, ''));
        if (!parsed || name.endsWith('.reason')) continue;
        const file = path.join(sub(DEAD), name);
        try {
          const [body, st] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file)]);
          const reason = await fs.readFile(`${file}.reason`, 'utf8').catch(() => null);
          out.push({ id: parsed.id, body, receiveCount: parsed.count, deadAt: st.mtime, reason });
        } catch (err) {
          if (!isMissing(err)) throw err;
        }
      }
      return out;
    },

    async deadLetter(message, reason) {
      const parsed = parseName(message.receiptHandle);
      const p = inflightPath(message);
      const to = path.join(sub(DEAD), `${parsed!.base}.r${parsed!.count}`);
      // The reason goes first, so a reader never sees a dead letter without it.
      await writeFileAtomic(`${to}.reason`, reason);
      try {
        await fs.rename(p, to);
        const now = new Date();
        await fs.utimes(to, now, now);
      } catch (err) {
        await fs.rm(`${to}.reason`, { force: true }).catch(() => {});
        if (isMissing(err)) throw staleReceipt(message, err);
        throw queueError(`local queue: dead-letter failed: ${(err as Error).message}`, err);
      }
    },
  };
}
