import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AccessDeniedException, ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEcsDispatcher } from '../../../cloud/dispatch/ecs.ts';
import { EXIT, runFargateJob } from '../../../cloud/fargate/main.ts';
import type { JobStore } from '../../../shared/common/job-store.ts';
import { homePaths } from '../../../shared/node/data-home.ts';
import { createLocalStore } from '../../../shared/node/local-store.ts';
import { createLogger } from '../../../shared/node/log.ts';
import type { ObjectStore } from '../../../shared/node/object-store.ts';
import { openSqliteJobStore } from '../../../shared/node/sqlite-job-store.ts';
import { makeClip } from '../../helpers/clips.ts';
import { newJob, testSpec } from '../../helpers/jobs.ts';

/**
 * When SIGTERM (a Spot interruption) stops the Fargate entry, executeJob requeues the job on on-demand `fargate` and
 * the jobs service admits it there at once through the tier adapters. In process, with real ffmpeg and a real SQLite
 * job store; signals come from an emitter (the entry's injection seam) and the ECS client is aws-sdk-client-mock,
 * handed to the ECS adapter through the entry's `dispatchers` option.
 * main.slow.test.ts keeps the child-process run with a real SIGTERM (no ECS configured: intent recorded only).
 */

const ecs = mockClient(ECSClient);
const home = mkdtempSync(path.join(os.tmpdir(), 'tiercast-fargate-redispatch-'));
let store: ObjectStore;
let jobStore: JobStore;
let clip: string;
beforeAll(() => {
  store = createLocalStore(homePaths(home).store);
  jobStore = openSqliteJobStore(path.join(home, 'test-jobs.db'));
  clip = makeClip({ durationSec: 20, width: 1280, height: 720 });
});
afterAll(async () => {
  await jobStore?.close();
  rmSync(home, { recursive: true, force: true });
});
beforeEach(() => ecs.reset());

const small = { name: '180p', shortEdge: 180, videoBitrate: 300_000, maxrate: 400_000, bufsize: 600_000 };

async function spotJob(id: string): Promise<void> {
  const key = `inputs/${id}/clip.mp4`;
  await store.putFile(key, clip);
  const spec = testSpec({
    id,
    input: { key, name: 'clip.mp4', sizeBytes: statSync(clip).size },
    // veryslow 720p: still encoding when the signal comes, on any machine.
    ladder: { name: 'test', preset: 'veryslow', segmentSeconds: 2, rungs: [{ name: '720p', shortEdge: 720, videoBitrate: 2_500_000, maxrate: 3_000_000, bufsize: 5_000_000 }, small] },
    formats: ['hls'],
  });
  await jobStore.insert([newJob(spec, { tier: 'fargate-spot', tierReason: 'test dispatch' })]);
}
const statusOf = async (id: string) => (await jobStore.get(id)).status;

async function runUntilEncodingThenTerm(id: string) {
  const signals = new EventEmitter();
  const forced: number[] = [];
  const client = new ECSClient({ region: 'us-east-1' });
  const run = runFargateJob({
    env: { PATH: process.env.PATH, TIERCAST_HOME: home, TIERCAST_STORE: 'local', TIERCAST_JOB_ID: id },
    signals: signals as unknown as Pick<NodeJS.Process, 'on' | 'off'>,
    forceExit: (code) => forced.push(code),
    log: createLogger({ name: 'test', format: 'json', level: 'silent' }),
    metricsSink: () => {},
    jobStore,
    dispatchers: {
      fargate: createEcsDispatcher({
        client,
        cluster: 'tiercast-cluster',
        taskDefinition: 'tiercast-task',
        subnets: ['subnet-0a1'],
        securityGroups: ['sg-0c3'],
        assignPublicIp: true,
        containerName: 'tiercast',
        retries: 0,
      }),
    },
  });
  for (;;) {
    const s = await statusOf(id);
    if (s.stage === 'encoding') break;
    if (s.stage === 'done' || s.stage === 'failed') throw new Error(`job ended before encoding: ${s.stage}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  signals.emit('SIGTERM', 'SIGTERM');
  const code = await run;
  client.destroy();
  return { code, forced };
}

describe('Fargate entry: re-dispatch on SIGTERM', () => {
  it('runs one task on on-demand FARGATE for the interrupted job before exiting 143', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/tiercast-cluster/next' }], failures: [] });
    await spotJob('fg-redispatch');
    const { code, forced } = await runUntilEncodingThenTerm('fg-redispatch');
    expect(code).toBe(EXIT.INTERRUPTED);
    expect(forced).toEqual([]);
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 1);
    expect(ecs.commandCalls(RunTaskCommand)[0]!.args[0].input).toEqual({
      cluster: 'tiercast-cluster',
      taskDefinition: 'tiercast-task',
      count: 1,
      capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }],
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-0a1'], securityGroups: ['sg-0c3'], assignPublicIp: 'ENABLED' } },
      overrides: { containerOverrides: [{ name: 'tiercast', environment: [{ name: 'TIERCAST_JOB_ID', value: 'fg-redispatch' }] }] },
      startedBy: 'tiercast-fg-redispatch',
      tags: [{ key: 'tiercast:job-id', value: 'fg-redispatch' }],
    });
    // Requeued on on-demand with the attempt given back, then admitted there (the RunTask above).
    const status = await statusOf('fg-redispatch');
    expect(status).toMatchObject({ stage: 'dispatched', tier: 'fargate', error: { code: 'INTERRUPTED' }, attempts: 0, lease: null });
    const events = (await jobStore.events('fg-redispatch')).slice(-2);
    expect(events).toMatchObject([
      { stage: 'queued', from: 'encoding', tier: 'fargate', note: 'INTERRUPTED: back to the queue' },
      { stage: 'dispatched', from: 'queued', tier: 'fargate', note: 'admitted to fargate' },
    ]);
    expect(await store.head('outputs/fg-redispatch/manifest.json')).toBeNull();
  });

  it('when RunTask is refused: the job stays queued on fargate with the dispatch failure recorded, for the sweep to admit', async () => {
    ecs.on(RunTaskCommand).rejects(new AccessDeniedException({ message: 'not authorized to perform: ecs:RunTask', $metadata: { httpStatusCode: 400 } }));
    await spotJob('fg-refused');
    const { code, forced } = await runUntilEncodingThenTerm('fg-refused');
    expect(code).toBe(EXIT.INTERRUPTED);
    expect(forced).toEqual([]);
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 1);
    const status = await statusOf('fg-refused');
    expect(status).toMatchObject({ stage: 'queued', tier: 'fargate', attempts: 0, dispatchedAt: null });
    expect(status.error!.message).toMatch(/^dispatch to fargate: .*AccessDeniedException|^dispatch to fargate: .*not authorized/);
    // Never marked failed on the way: it waits for the sweep's admission.
    expect((await jobStore.events('fg-refused')).map((e) => e.stage)).not.toContain('failed');
  });
});
