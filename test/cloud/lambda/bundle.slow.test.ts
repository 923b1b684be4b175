import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { createDynamoJobStore, createJobTable } from '../../../cloud/dynamo-job-store.ts';
import { homePaths } from '../../../shared/node/data-home.ts';
import { createLocalStore } from '../../../shared/node/local-store.ts';
import { startDynalite } from '../../helpers/dynalite.ts';
import { makeClip } from '../../helpers/clips.ts';
import { newJob, testSpec } from '../../helpers/jobs.ts';
import { repoRoot } from '../../helpers/media.ts';

/**
 * The Dockerfiles cannot be built here, but their bundling step can: this runs the exact esbuild command each
 * Dockerfile runs and then uses the bundle, so a dependency esbuild cannot follow breaks a test, not a deploy.
 * (The bundle sits inside the repository so the one run-time dependency, m3u8-parser, resolves from node_modules as
 * it does from the image's node_modules folder.)
 */
const outRoot = path.join(repoRoot, '.tiercast-test');
mkdirSync(outRoot, { recursive: true });
const out = mkdtempSync(path.join(outRoot, 'bundle-'));
const home = mkdtempSync(path.join(os.tmpdir(), 'tiercast-bundle-home-'));
afterAll(() => {
  rmSync(out, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
});

/** The arguments of the Dockerfile's `RUN npx esbuild ...` (a small shell-word splitter: quotes and line joins). */
function esbuildArgs(dockerfile: string): string[] {
  const text = readFileSync(path.join(repoRoot, dockerfile), 'utf8').replace(/\\\n/g, ' ');
  const line = text.split('\n').find((l) => l.startsWith('RUN npx esbuild '));
  if (!line) throw new Error(`${dockerfile}: no esbuild step`);
  const words: string[] = [];
  for (const m of line.slice('RUN npx esbuild '.length).matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)) words.push(m[1] ?? m[2] ?? m[3]!);
  return words;
}

function bundle(dockerfile: string): string {
  const args = esbuildArgs(dockerfile);
  const outfile = args.find((a) => a.startsWith('--outfile='))!.slice('--outfile='.length);
  const target = path.join(out, path.basename(outfile));
  const patched = args.map((a) => (a.startsWith('--outfile=') ? `--outfile=${target}` : a));
  execFileSync(path.join(repoRoot, 'node_modules/.bin/esbuild'), [...patched, '--log-level=error'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
  return target;
}

describe('Dockerfile bundles', () => {
  it('cloud/lambda/Dockerfile: the bundled handler runs a job to done', async () => {
    const file = bundle('cloud/lambda/Dockerfile');
    expect(path.basename(file)).toBe('handler.mjs');
    expect(readFileSync(path.join(repoRoot, 'cloud/lambda/Dockerfile'), 'utf8')).toMatch(/CMD \["handler\.handler"\]/);

    // The data home's object store, and the job table the stack gives the functions (TIERCAST_JOB_STORE=dynamodb) on
    // dynalite: the bundle must carry the DynamoDB job store (SQLite is never opened on Lambda).
    const store = createLocalStore(homePaths(home).store);
    const dynalite = await startDynalite();
    onTestFinished(() => dynalite.close());
    const doc = DynamoDBDocumentClient.from(dynalite.client());
    await createJobTable(doc, 'tiercast-jobs');
    const jobStore = createDynamoJobStore({ client: doc, tableName: 'tiercast-jobs' });
    const jobEnv = { ...dynalite.env, TIERCAST_JOB_STORE: 'dynamodb', TIERCAST_JOB_TABLE: 'tiercast-jobs', TIERCAST_DYNAMODB_ENDPOINT: dynalite.endpoint };
    const clip = makeClip({ durationSec: 2, width: 320, height: 180 });
    await store.putFile('inputs/bundled/clip.mp4', clip);
    const spec = testSpec({
      id: 'bundled',
      input: { key: 'inputs/bundled/clip.mp4', name: 'clip.mp4', sizeBytes: statSync(clip).size },
      ladder: { name: 't', preset: 'ultrafast', rungs: [{ name: '180p', shortEdge: 180, videoBitrate: 300_000, maxrate: 400_000, bufsize: 600_000 }] },
      formats: ['hls'],
    });
    await jobStore.insert([newJob(spec, { tier: 'lambda', tierReason: 'test dispatch' })]);
    const savedEnv = { ...process.env };
    const saved = { write: process.stdout.write };
    Object.assign(process.env, jobEnv, { TIERCAST_HOME: home, TIERCAST_TIER: 'lambda' });
    const lines: string[] = [];
    // The bundle's EMF goes to stdout, as on Lambda.
    process.stdout.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stdout.write;
    try {
      const mod = (await import(pathToFileURL(file).href)) as {
        handler: (e: unknown, c: unknown) => Promise<{ ok: boolean; stage: string }>;
        escalation: (e: unknown) => Promise<unknown>;
      };
      const res = await mod.handler({ jobId: 'bundled' }, { getRemainingTimeInMillis: () => 120_000, awsRequestId: 'b' });
      expect(res).toMatchObject({ ok: true, stage: 'done' });
      // The escalation function's command (`handler.escalation`) is the same bundle: a sweep finds nothing to do.
      expect(await mod.escalation({ sweep: true })).toEqual({ kind: 'sweep', retried: 0, reclaimed: 0, redispatched: 0, admitted: 0 });
    } finally {
      process.stdout.write = saved.write;
      process.env = savedEnv;
    }
    expect((await jobStore.get('bundled')).status).toMatchObject({ stage: 'done', tier: 'lambda', attempts: 1 });
    await jobStore.close();
    expect(lines.some((l) => l.includes('"JobsSucceeded":1'))).toBe(true);
  });

  it('cloud/fargate/Dockerfile: the bundled entry starts and exits 2 without a job id', () => {
    const file = bundle('cloud/fargate/Dockerfile');
    expect(readFileSync(path.join(repoRoot, 'cloud/fargate/Dockerfile'), 'utf8')).toContain(`CMD ["node", "/app/${path.basename(file)}"]`);
    const r = spawnSync(process.execPath, [file], { env: { PATH: process.env.PATH, TIERCAST_HOME: home }, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('TIERCAST_JOB_ID');
  });
});
