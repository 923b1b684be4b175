import { AccessDeniedException, ECSClient, RunTaskCommand, type RunTaskCommandInput } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TiercastError } from '../../../shared/common/errors.ts';
import { createEcsDispatcher } from '../../../cloud/dispatch/ecs.ts';

const ecs = mockClient(ECSClient);
beforeEach(() => ecs.reset());
afterEach(() => ecs.reset());

const client = new ECSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
const dispatcher = () =>
  createEcsDispatcher({
    client,
    cluster: 'tiercast',
    taskDefinition: 'tiercast-transcode:7',
    subnets: ['subnet-0a1b', 'subnet-0c2d'],
    securityGroups: ['sg-0123'],
    assignPublicIp: false,
    containerName: 'transcoder',
    retries: 3,
    minTimeoutMs: 1,
    maxTimeoutMs: 2,
  });

const expectedInput = (jobId: string, provider: 'FARGATE' | 'FARGATE_SPOT') => ({
  cluster: 'tiercast',
  taskDefinition: 'tiercast-transcode:7',
  count: 1,
  capacityProviderStrategy: [{ capacityProvider: provider, weight: 1 }],
  networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-0a1b', 'subnet-0c2d'], securityGroups: ['sg-0123'], assignPublicIp: 'DISABLED' } },
  overrides: { containerOverrides: [{ name: 'transcoder', environment: [{ name: 'TIERCAST_JOB_ID', value: jobId }] }] },
  startedBy: `tiercast-${jobId}`.slice(0, 36),
  tags: [{ key: 'tiercast:job-id', value: jobId }],
}) as RunTaskCommandInput & Record<string, unknown>;
const taskArn = (n: string) => `arn:aws:ecs:us-east-1:123456789012:task/tiercast/${n}`;
const capacityFailure = { failures: [{ arn: 'arn:aws:ecs:us-east-1:123456789012:cluster/tiercast', reason: 'Capacity is unavailable at this time. Please try again later or in a different availability zone' }], tasks: [] };

describe('ECS (Fargate) dispatcher', () => {
  it('runs a Spot task with the exact RunTask input', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: taskArn('a1') }], failures: [] });
    const result = await dispatcher().dispatch({ jobId: 'job-1', tier: 'fargate-spot', priority: 5 });
    expect(result).toEqual({ tier: 'fargate-spot', ref: taskArn('a1') });
    expect(ecs).toHaveReceivedCommandWith(RunTaskCommand, expectedInput('job-1', 'FARGATE_SPOT'));
    expect(ecs.commandCalls(RunTaskCommand)[0]!.args[0].input).toEqual(expectedInput('job-1', 'FARGATE_SPOT'));
  });

  it('runs on-demand FARGATE for the fargate tier, public IP when configured', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: taskArn('b2') }] });
    const d = createEcsDispatcher({ client, cluster: 'c', taskDefinition: 't', subnets: ['subnet-1'], securityGroups: [], assignPublicIp: true, containerName: 'x' });
    await d.dispatch({ jobId: 'job-2', tier: 'fargate', priority: 5 });
    expect(ecs).toHaveReceivedCommandWith(RunTaskCommand, {
      capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }],
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1'], securityGroups: [], assignPublicIp: 'ENABLED' } },
    });
  });

  it('falls back to on-demand when Spot capacity is unavailable (failures[]), and records it', async () => {
    ecs
      .on(RunTaskCommand, { capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] })
      .resolves(capacityFailure)
      .on(RunTaskCommand, { capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }] })
      .resolves({ tasks: [{ taskArn: taskArn('c3') }] });
    const result = await dispatcher().dispatch({ jobId: 'job-3', tier: 'fargate-spot', priority: 5 });
    expect(result.tier).toBe('fargate');
    expect(result.ref).toBe(taskArn('c3'));
    expect(result.note).toMatch(/Fargate Spot capacity unavailable \(Capacity is unavailable.*\): fell back to on-demand FARGATE/);
    expect(ecs).toHaveReceivedNthCommandWith(RunTaskCommand, 1, expectedInput('job-3', 'FARGATE_SPOT'));
    expect(ecs).toHaveReceivedNthCommandWith(RunTaskCommand, 2, expectedInput('job-3', 'FARGATE'));
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 2);
  });

  it('falls back when the capacity problem comes as an exception', async () => {
    const err = Object.assign(new Error('Unable to place task: capacity is unavailable for FARGATE_SPOT'), { name: 'CapacityProviderNotAvailableException' });
    ecs.on(RunTaskCommand).rejectsOnce(err).resolves({ tasks: [{ taskArn: taskArn('d4') }] });
    const result = await dispatcher().dispatch({ jobId: 'job-4', tier: 'fargate-spot', priority: 5 });
    expect(result.tier).toBe('fargate');
    expect(ecs).toHaveReceivedLastCommandWith(RunTaskCommand, { capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }] });
  });

  it('CAPACITY_UNAVAILABLE when on-demand has no capacity either', async () => {
    ecs.on(RunTaskCommand).resolves(capacityFailure);
    const err = (await dispatcher().dispatch({ jobId: 'job-5', tier: 'fargate-spot', priority: 5 }).catch((e: unknown) => e)) as TiercastError;
    expect(err.code).toBe('CAPACITY_UNAVAILABLE');
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 2);
  });

  it('retries throttling, then succeeds on the same provider', async () => {
    const throttle = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
    ecs.on(RunTaskCommand).rejectsOnce(throttle).resolves({ tasks: [{ taskArn: taskArn('e5') }] });
    const result = await dispatcher().dispatch({ jobId: 'job-6', tier: 'fargate-spot', priority: 5 });
    expect(result).toMatchObject({ tier: 'fargate-spot', ref: taskArn('e5'), note: 'started after 2 attempts (throttled)' });
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 2);
    expect(ecs).toHaveReceivedLastCommandWith(RunTaskCommand, { capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] });
  });

  it('other failures are DISPATCH_FAILED without a fallback', async () => {
    ecs.on(RunTaskCommand).rejects(new AccessDeniedException({ message: 'not authorized to perform ecs:RunTask', $metadata: {} }));
    const err = (await dispatcher().dispatch({ jobId: 'job-7', tier: 'fargate-spot', priority: 5 }).catch((e: unknown) => e)) as TiercastError;
    expect(err.code).toBe('DISPATCH_FAILED');
    expect(err.message).toMatch(/AccessDeniedException/);
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 1);

    ecs.reset();
    ecs.on(RunTaskCommand).resolves({ tasks: [], failures: [{ reason: 'MISSING', detail: 'task definition not found' }] });
    const missing = (await dispatcher().dispatch({ jobId: 'job-8', tier: 'fargate', priority: 5 }).catch((e: unknown) => e)) as TiercastError;
    expect(missing.code).toBe('DISPATCH_FAILED');
    expect(missing.message).toMatch(/MISSING: task definition not found/);
  });

  it('a long job id is cut to 36 characters in startedBy and kept whole in the tag', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: taskArn('f6') }] });
    const id = 'a'.repeat(60);
    await dispatcher().dispatch({ jobId: id, tier: 'fargate', priority: 5 });
    const input = ecs.commandCalls(RunTaskCommand)[0]!.args[0].input;
    expect(input.startedBy).toHaveLength(36);
    expect(input.tags).toEqual([{ key: 'tiercast:job-id', value: id }]);
  });
});
