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
import { homePaths } from '../../../shared/node/data-home.ts';
import { createLedger, type JobLedger } from '../../../shared/node/ledger.ts';
import { createLocalStore } from '../../../shared/node/local-store.ts';
import { createLogger } from '../../../shared/node/log.ts';
import type { ObjectStore } from '../../../shared/node/object-store.ts';
import { makeClip } from '../../helpers/clips.ts';

/**
 * The Fargate entry re-dispatches its own job on on-demand FARGATE when SIGTERM (a Spot interruption) stops it. In
 * process, with real ffmpeg and a local-folder ledger; signals come from an emitter (the entry's injection seam) and
 * the ECS client is aws-sdk-client-mock, handed to the dispatcher through the entry's `dispatchers` seam.
 * main.slow.test.ts keeps the child-process run with a real SIGTERM (no ECS configured: intent recorded only).
 */

const ecs = mockClient(ECSClient);
const home = mkdtempSync(path.join(os.tmpdir(), 'tiercast-fargate-redispatch-'));
let store: ObjectStore;
let ledger: JobLedger;
let clip: string;
beforeAll(() => {
  store = createLocalStore(homePaths(home).store);
  ledger = createLedger(store);
  clip = makeClip({ durationSec: 20, width: 1280, height: 720 });
});
afterAll(() => rmSync(home, { recursive: true, force: true }));
beforeEach(() => ecs.reset());

const small = { name: '180p', shortEdge: 180, videoBitrate: 300_000, maxrate: 400_000, bufsize: 600_000 };

async function spotJob(id: string): Promise<void> {
  const key = `inputs/${id}/clip.mp4`;
  await store.putFile(key, clip);
  await ledger.createJob(
    {
      schemaVersion: 1,
      id,
      createdAt: new Date().toISOString(),
      input: { key, name: 'clip.mp4', sizeBytes: statSync(clip).size },
      // veryslow 720p: still encoding when the signal comes, on any machine.
      ladder: { name: 'test', preset: 'veryslow', segmentSeconds: 2, rungs: [{ name: '720p', shortEdge: 720, videoBitrate: 2_500_000, maxrate: 3_000_000, bufsize: 5_000_000 }, small] },
      formats: ['hls'],
    },
    { tier: 'fargate-spot', tierReason: 'test dispatch' },
  );
}

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
    dispatchers: () => ({
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
      close: () => client.destroy(),
    }),
  });
  for (;;) {
    const s = await ledger.getStatus(id);
    if (s.stage === 'encoding') break;
    if (s.stage === 'done' || s.stage === 'failed') throw new Error(`job ended before encoding: ${s.stage}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  signals.emit('SIGTERM', 'SIGTERM');
  return { code: await run, forced };
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
    const status = await ledger.getStatus('fg-redispatch');
    expect(status).toMatchObject({ stage: 'queued', tier: 'fargate', error: null, attempts: 0 });
    expect(status.tierReason).toMatch(/^fargate: interrupted on fargate-spot by SIGTERM; re-dispatch on fargate \(on-demand\) requested; predicted \d+ s/);
    expect(status.history.at(-1)).toMatchObject({ stage: 'queued', tier: 'fargate', note: 're-dispatch on fargate' });
    expect(await ledger.readManifest('fg-redispatch')).toBeNull();
  });

  it('when RunTask is refused: the job stays queued with INTERRUPTED and the intent plus the failure recorded', async () => {
    ecs.on(RunTaskCommand).rejects(new AccessDeniedException({ message: 'not authorized to perform: ecs:RunTask', $metadata: { httpStatusCode: 400 } }));
    await spotJob('fg-refused');
    const { code, forced } = await runUntilEncodingThenTerm('fg-refused');
    expect(code).toBe(EXIT.INTERRUPTED);
    expect(forced).toEqual([]);
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 1);
    const status = await ledger.getStatus('fg-refused');
    expect(status).toMatchObject({ stage: 'queued', tier: 'fargate', error: { code: 'INTERRUPTED' }, attempts: 0 });
    expect(status.tierReason).toMatch(/^interrupted on fargate-spot by SIGTERM; re-dispatch on fargate \(on-demand\) requested; re-dispatch failed: DISPATCH_FAILED: .*AccessDeniedException/);
    // Never marked failed on the way.
    expect(status.history.map((h) => h.stage)).not.toContain('failed');
  });
});
