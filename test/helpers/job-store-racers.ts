import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect } from 'vitest';
import type { JobStore } from '../../shared/common/job-store.ts';
import { repoRoot } from './media.ts';

const RACER = path.join(repoRoot, 'test/contract/job-store-racer.ts');

interface Racer {
  readonly ready: Promise<void>;
  readonly done: Promise<{ won: number[]; lost: number }>;
  go(): void;
}

function startRacer(index: number, env: NodeJS.ProcessEnv): Racer {
  const child = spawn(process.execPath, ['--import', 'tsx', RACER], { cwd: repoRoot, env: { ...env, RACER_INDEX: String(index) }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('ready\n')) onReady();
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<{ won: number[]; lost: number }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as { won: number[]; lost: number });
      else reject(new Error(`racer ${index} exited ${code}: ${err.slice(-2000)}`));
    });
  });
  return { ready: Promise.race([ready, done.then(() => undefined)]), done, go: () => child.stdin.end('go\n') };
}

/**
 * Eight processes drive one job from queued to done through the store at once (test/contract/job-store-racer.ts):
 * every version from 2 to the last is won by exactly one of them, the stored version is the number of writes plus
 * one, and each event names the racer that won its version.
 */
export async function raceEightProcesses(store: JobStore, jobId: string, env: NodeJS.ProcessEnv): Promise<void> {
  const racers = Array.from({ length: 8 }, (_, i) => startRacer(i, { ...env, RACER_JOB: jobId }));
  await Promise.all(racers.map((r) => r.ready));
  for (const r of racers) r.go();
  const results = await Promise.all(racers.map((r) => r.done));
  const owner = new Map<number, number>();
  results.forEach((r, i) => {
    for (const v of r.won) {
      expect(owner.has(v), `version ${v} won twice`).toBe(false);
      owner.set(v, i);
    }
  });
  const { status } = await store.get(jobId);
  // queued -> dispatched -> downloading -> analyzing -> encoding, 4 quarter steps, packaging, uploading, finalizing, done.
  expect(status.stage).toBe('done');
  expect(status.version).toBe(13);
  expect([...owner.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 2));
  // The race was real: someone lost at least once.
  expect(results.reduce((n, r) => n + r.lost, 0)).toBeGreaterThan(0);
  const events = await store.events(jobId);
  expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 10, 11, 12, 13]);
  for (const e of events.slice(1)) expect(e.note).toBe(`racer-${owner.get(e.seq)}`);
  expect(status.worker).toBe(`racer-${owner.get(13)}`);
}
