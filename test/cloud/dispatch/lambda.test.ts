import { InvokeCommand, LambdaClient, ResourceNotFoundException, TooManyRequestsException } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TiercastError } from '../../../shared/common/errors.ts';
import { createLambdaDispatcher } from '../../../cloud/dispatch/lambda.ts';

const lambda = mockClient(LambdaClient);
beforeEach(() => lambda.reset());
afterEach(() => lambda.reset());

const client = new LambdaClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
const dispatcher = (retries = 3) =>
  createLambdaDispatcher({ client, functionName: 'tiercast-transcode', enhancedFunctionName: 'tiercast-transcode-xl', retries, minTimeoutMs: 1, maxTimeoutMs: 2 });

const throttle = () => new TooManyRequestsException({ message: 'Rate Exceeded.', $metadata: { httpStatusCode: 429 }, Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' });
const payloadOf = (n: number) => JSON.parse(new TextDecoder().decode(lambda.commandCalls(InvokeCommand)[n]!.args[0].input.Payload as Uint8Array));

describe('Lambda dispatcher', () => {
  it('invokes the tier\'s function asynchronously with the job id as payload', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 202, $metadata: { requestId: 'req-1' } });
    const result = await dispatcher().dispatch({ jobId: 'job-1', tier: 'lambda', priority: 5 });
    expect(result).toEqual({ tier: 'lambda', ref: 'req-1' });
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, { FunctionName: 'tiercast-transcode', InvocationType: 'Event' });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    expect(payloadOf(0)).toEqual({ schemaVersion: 1, jobId: 'job-1' });
    expect(Object.keys(lambda.commandCalls(InvokeCommand)[0]!.args[0].input).sort()).toEqual(['FunctionName', 'InvocationType', 'Payload']);
  });

  it('sends lambda-enhanced jobs to the enhanced function', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 202, $metadata: {} });
    const result = await dispatcher().dispatch({ jobId: 'job-2', tier: 'lambda-enhanced', priority: 5 });
    expect(result.tier).toBe('lambda-enhanced');
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, { FunctionName: 'tiercast-transcode-xl', InvocationType: 'Event' });
    expect(payloadOf(0).jobId).toBe('job-2');
  });

  it('retries throttling with backoff and says so', async () => {
    lambda.on(InvokeCommand).rejectsOnce(throttle()).rejectsOnce(throttle()).resolves({ StatusCode: 202, $metadata: { requestId: 'req-3' } });
    const result = await dispatcher().dispatch({ jobId: 'job-3', tier: 'lambda', priority: 5 });
    expect(result.ref).toBe('req-3');
    expect(result.note).toMatch(/after 3 attempts \(throttled\)/);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 3);
    for (let i = 0; i < 3; i++) expect(payloadOf(i)).toEqual({ schemaVersion: 1, jobId: 'job-3' });
  });

  it('gives up with THROTTLED when throttling persists', async () => {
    lambda.on(InvokeCommand).rejects(throttle());
    const err = await dispatcher(2).dispatch({ jobId: 'job-4', tier: 'lambda', priority: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TiercastError);
    expect((err as TiercastError).code).toBe('THROTTLED');
    expect((err as TiercastError).cause).toBeInstanceOf(TooManyRequestsException);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 3);
  });

  it('does not retry a missing function: DISPATCH_FAILED at once, SDK error kept', async () => {
    lambda.on(InvokeCommand).rejects(new ResourceNotFoundException({ message: 'Function not found: arn:...:tiercast-transcode', $metadata: {} }));
    const err = (await dispatcher().dispatch({ jobId: 'job-5', tier: 'lambda', priority: 5 }).catch((e: unknown) => e)) as TiercastError;
    expect(err.code).toBe('DISPATCH_FAILED');
    expect(err.message).toMatch(/ResourceNotFoundException: Function not found/);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
  });

  it('refuses tiers it does not serve and unconfigured functions', async () => {
    await expect(dispatcher().dispatch({ jobId: 'j', tier: 'fargate', priority: 5 })).rejects.toMatchObject({ code: 'DISPATCH_FAILED' });
    const only = createLambdaDispatcher({ client, functionName: 'f' });
    expect(only.tiers).toEqual(['lambda']);
    await expect(only.dispatch({ jobId: 'j', tier: 'lambda-enhanced', priority: 5 })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
  });
});
