import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDispatchers } from '../../../cloud/dispatch/index.ts';
import { loadConfig } from '../../../shared/node/config.ts';
import { createLocalQueue } from '../../../shared/node/local-queue.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-dispatchers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('createDispatchers', () => {
  it('builds adapters only for the enabled tiers', async () => {
    const localQueue = createLocalQueue(path.join(dir, 'q'));
    const none = createDispatchers(await loadConfig({ env: {}, home: dir }), { localQueue });
    expect(Object.keys(none.dispatchers)).toEqual(['local']);
    none.close();

    const env = { TIERCAST_BUCKET: 'media-bucket', AWS_REGION: 'us-east-1', LAMBDA_FUNCTION_NAME: 'f', ECS_CLUSTER_NAME: 'c', ECS_TASK_DEFINITION: 't', ECS_SUBNETS: 'subnet-0a' };
    const some = createDispatchers(await loadConfig({ env, home: dir }), { localQueue });
    expect(Object.keys(some.dispatchers).sort()).toEqual(['fargate', 'fargate-spot', 'lambda', 'local']);
    expect(some.dispatchers.lambda!.tiers).toEqual(['lambda']);
    expect(some.dispatchers['fargate-spot']).toBe(some.dispatchers.fargate);
    some.close();
    some.close();
  });

  it('the EC2 tier gets the agents\' queue when one is configured or given', async () => {
    const env = { TIERCAST_BUCKET: 'media-bucket', AWS_REGION: 'us-east-1', TIERCAST_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/q' };
    const built = createDispatchers(await loadConfig({ env, home: dir }), {});
    expect(built.dispatchers.ec2?.tiers).toEqual(['ec2']);
    expect(built.dispatchers.local).toBeUndefined();
    built.close();
  });
});
