import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobStore } from '../../../shared/common/job-store.ts';
import { homePaths } from '../../../shared/node/data-home.ts';
import { createLocalStore } from '../../../shared/node/local-store.ts';
import type { ObjectStore } from '../../../shared/node/object-store.ts';
import { openSqliteJobStore } from '../../../shared/node/sqlite-job-store.ts';
import { newJob as storedJob, testSpec } from '../../helpers/jobs.ts';
import { makeClip } from '../../helpers/clips.ts';
import { repoRoot } from '../../helpers/media.ts';

const home = mkdtempSync(path.join(os.tmpdir(), 'tiercast-fargate-'));
let store: ObjectStore;
/** The data home's job store (jobs.db), which the entry opens too. */
let jobStore: JobStore;
afterAll(async () => {
  await jobStore?.close();
  rmSync(home, { recursive: true, force: true });
});

const small = { name: '180p', shortEdge: 180, videoBitrate: 300_000, maxrate: 400_000, bufsize: 600_000 };

async function newJob(id: string, clip: string, rungs: object[], preset: string, tier: 'fargate' | 'fargate-spot' | null = null): Promise<void> {
  const key = `inputs/${id}/clip.mp4`;
  await store.putFile(key, clip);
  const spec = testSpec({ id, input: { key, name: 'clip.mp4', sizeBytes: statSync(clip).size }, ladder: { name: 'test', preset, segmentSeconds: 2, rungs } as never, formats: ['hls'] });
  await jobStore.insert([storedJob(spec, { tier, tierReason: tier ? 'test dispatch' : null })]);
}
const statusOf = async (id: string) => (await jobStore.get(id)).status;
const hasManifest = async (id: string) => (await store.head(`outputs/${id}/manifest.json`)) !== null;

interface Run {
  readonly child: ReturnType<typeof spawn>;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

function startEntry(env: Record<string, string | undefined>): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'cloud/fargate/main.ts')], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TIERCAST_HOME: home, TIERCAST_STORE: 'local', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-20_000)));
  child.stdout!.resume();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exit, stderr: () => err };
}

async function waitForStage(id: string, stages: string[], run: Run): Promise<void> {
  for (;;) {
    const s = await statusOf(id);
    if (stages.includes(s.stage)) return;
    if (run.child.exitCode !== null) throw new Error(`entry exited (${run.child.exitCode}) before ${stages.join('/')}: ${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(() => {
  store = createLocalStore(homePaths(home).store);
  jobStore = openSqliteJobStore(homePaths(home).jobsDb);
});

describe('Fargate entry (child process, local store, real ffmpeg)', () => {
  it('runs the job named by TIERCAST_JOB_ID to done and exits 0', async () => {
    await newJob('fg-ok', makeClip({ durationSec: 2, width: 320, height: 180 }), [small], 'ultrafast');
    const run = startEntry({ TIERCAST_JOB_ID: 'fg-ok', TIERCAST_TIER: 'fargate-spot' });
    const { code } = await run.exit;
    expect(code, run.stderr()).toBe(0);
    const status = await statusOf('fg-ok');
    expect(status).toMatchObject({ stage: 'done', tier: 'fargate-spot', attempts: 1 });
    expect(status.costUsd).toBeGreaterThan(0);
    expect(await hasManifest('fg-ok')).toBe(true);
  });

  it('on SIGTERM mid-encode: aborts ffmpeg, requeues the job as INTERRUPTED for on-demand Fargate, exits 143 with no manifest', async () => {
    const clip = makeClip({ durationSec: 20, width: 1280, height: 720 });
    // Dispatched to Spot: the tier comes from the job's status (no TIERCAST_TIER).
    await newJob('fg-spot', clip, [{ name: '720p', shortEdge: 720, videoBitrate: 2_500_000, maxrate: 3_000_000, bufsize: 5_000_000 }, small], 'veryslow', 'fargate-spot');
    const run = startEntry({ TIERCAST_JOB_ID: 'fg-spot' });
    await waitForStage('fg-spot', ['encoding'], run);
    run.child.kill('SIGTERM');
    const { code, signal } = await run.exit;
    expect({ code, signal }, run.stderr()).toEqual({ code: 143, signal: null });

    const status = await statusOf('fg-spot');
    expect(status.stage).toBe('queued');
    expect(status.error?.code).toBe('INTERRUPTED');
    expect(status.attempts).toBe(0); // an interruption gives the attempt back
    expect(status.tier).toBe('fargate'); // requeued on on-demand: no adapter in this environment, so it waits there
    expect(status.lease).toBeNull();
    expect((await jobStore.events('fg-spot')).at(-1)).toMatchObject({ stage: 'queued', from: 'encoding', tier: 'fargate', note: 'INTERRUPTED: back to the queue' });
    expect(await hasManifest('fg-spot')).toBe(false);
    const outputs: string[] = [];
    for await (const o of store.list('outputs/fg-spot/')) outputs.push(o.key);
    expect(outputs).toEqual([]);
    // ffmpeg is gone and the job's scratch folder removed.
    expect(readdirSync(homePaths(home).work)).toEqual([]);
    const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    expect(ps.split('\n').filter((l) => l.includes('ffmpeg') && l.includes(home))).toEqual([]);
    expect(run.stderr()).toContain('stop requested');
  });

  it('exits 2 without a job id or with a tier it does not serve', async () => {
    const none = startEntry({});
    expect((await none.exit).code).toBe(2);
    expect(none.stderr()).toContain('TIERCAST_JOB_ID');
    const wrongTier = startEntry({ TIERCAST_JOB_ID: 'fg-ok', TIERCAST_TIER: 'lambda' });
    expect((await wrongTier.exit).code).toBe(2);
    expect(wrongTier.stderr()).toContain('TIERCAST_TIER=lambda');
  });
});
