import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { storeKeys, type JobSpecInput, type JobStatus, type OutputManifest } from '../../shared/common/job.ts';
import type { JobStore } from '../../shared/common/job-store.ts';
import type { JobsService } from '../../shared/common/jobs-service.ts';
import { createJobOutputs } from '../../shared/node/job-outputs.ts';
import type { ObjectStore } from '../../shared/node/object-store.ts';
import { repoRoot } from '../helpers/media.ts';

/** Shared by the agent's slow tests: submit real jobs, check published outputs, run `tiercast agent` as a child. */

export const tinyLadder = {
  name: 'tiny',
  segmentSeconds: 1,
  preset: 'ultrafast' as const,
  rungs: [{ name: '180p', shortEdge: 180, videoBitrate: 200_000, maxrate: 300_000, bufsize: 400_000 }],
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Uploads the input and submits the job on the local tier: what `tiercast submit` does (admission sends the message). */
export async function submitJob(store: ObjectStore, jobs: JobsService, id: string, file: string, extra: Partial<JobSpecInput> = {}, tier: JobStatus['tier'] = 'local'): Promise<void> {
  const key = `${storeKeys.inputPrefix}${id}${path.extname(file)}`;
  await store.putFile(key, file);
  await jobs.submit([
    {
      spec: { schemaVersion: 1, id, createdAt: new Date().toISOString(), input: { key, name: path.basename(file), sizeBytes: statSync(file).size }, ladder: tinyLadder, ...extra },
      route: { tier: tier!, reason: 'test' },
    },
  ]);
}

/** Every file the manifest lists is in the store with its size and sha256; the entry points exist. */
export async function expectIntactOutputs(store: ObjectStore, jobId: string): Promise<OutputManifest> {
  const manifest = await createJobOutputs(store).readManifest(jobId);
  expect(manifest, `manifest of ${jobId}`).not.toBeNull();
  expect(manifest!.files.length).toBeGreaterThan(2);
  for (const f of manifest!.files) {
    const buf = await store.getBuffer(`${storeKeys.outputPrefix(jobId)}${f.path}`);
    expect(buf.length, f.path).toBe(f.sizeBytes);
    expect(createHash('sha256').update(buf).digest('hex'), f.path).toBe(f.sha256);
  }
  const listed = new Set(manifest!.files.map((f) => f.path));
  for (const entry of [manifest!.hls, manifest!.dash]) if (entry) expect(listed.has(entry), entry).toBe(true);
  return manifest!;
}

/** Folders directly under outputs/<id>/: one per publish. */
export async function outputVersions(store: ObjectStore, jobId: string): Promise<string[]> {
  const out: string[] = [];
  for await (const p of store.listPrefixes(storeKeys.outputPrefix(jobId))) out.push(p);
  return out;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

export async function waitForStage(jobStore: JobStore, jobId: string, stages: readonly JobStatus['stage'][], timeoutMs = 60_000): Promise<JobStatus> {
  return waitFor(`${jobId} in ${stages.join('/')}`, async () => {
    const { status: s } = await jobStore.get(jobId);
    return stages.includes(s.stage) ? s : null;
  }, timeoutMs);
}

/**
 * An ffmpeg that sleeps before each transcode (the runs with -progress), so a test can act "in the middle of a job"
 * with a tiny clip. The sleep's stdio is detached, so killing the wrapper closes ffmpeg's pipes at once.
 */
export function slowFfmpeg(dir: string, seconds: number): string {
  const p = path.join(dir, 'slow-ffmpeg.sh');
  writeFileSync(p, `#!/bin/sh\ncase " $* " in *" -progress "*) sleep ${seconds} </dev/null >/dev/null 2>&1 ;; esac\nexec /usr/bin/ffmpeg "$@"\n`);
  chmodSync(p, 0o755);
  return p;
}

export interface AgentChild {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  stdout(): string;
  killGroup(): void;
  /** JSON log lines (stderr) parsed. */
  logs(): Array<Record<string, unknown>>;
}

/** `tiercast agent ...` as a real child process (the installed launcher, through tsx). */
export function spawnAgent(args: readonly string[], env: Record<string, string>): AgentChild {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/tiercast.js'), 'agent', ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TIERCAST_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so killGroup() can also reap an ffmpeg orphaned by a SIGKILLed agent.
    detached: true,
  });
  let err = '';
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    exited,
    killGroup() {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    },
    stderr: () => err,
    stdout: () => out,
    logs: () =>
      err
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return {};
          }
        }),
  };
}
