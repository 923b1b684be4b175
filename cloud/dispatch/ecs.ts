import { RunTaskCommand, type ECSClient, type RunTaskCommandInput } from '@aws-sdk/client-ecs';
import { TiercastError } from '../../shared/common/errors.ts';
import { errorName, withBackoff, type BackoffOptions } from './retry.ts';
import type { DispatchRequest, DispatchResult, TierDispatcher } from '../../shared/common/tier-dispatch.ts';

/**
 * Fargate tier: one RunTask per job, capacity provider FARGATE_SPOT or FARGATE (weight 1), awsvpc networking from the
 * configured subnets and security groups, and the job id handed to the container as TIERCAST_JOB_ID (plus a tag and
 * startedBy, so the task can be found from the job and the job from the task).
 *
 * Spot capacity: ECS reports "Capacity is unavailable at this time" either as a `failures[]` entry or as an exception.
 * ECS never substitutes on-demand for Spot by itself, so on a capacity failure for a Spot request we run the same task
 * on FARGATE and say so in the result's note (the ledger records it). Throttling and server errors are retried with
 * backoff; everything else is DISPATCH_FAILED with the SDK error as `cause`.
 */

export interface EcsDispatcherOptions extends BackoffOptions {
  readonly client: ECSClient;
  readonly cluster: string;
  readonly taskDefinition: string;
  readonly subnets: readonly string[];
  readonly securityGroups: readonly string[];
  readonly assignPublicIp: boolean;
  /** Container in the task definition that receives the job id. */
  readonly containerName: string;
}

export const JOB_ID_ENV = 'TIERCAST_JOB_ID';
export const JOB_ID_TAG = 'tiercast:job-id';

const RETRYABLE = /^(ThrottlingException|Throttling|TooManyRequestsException|ServerException|ServiceUnavailableException)$/;
const CAPACITY = /capacity/i;

export function isEcsRetryable(err: unknown): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return RETRYABLE.test(errorName(err)) || status === 429;
}

function isCapacityError(err: unknown): boolean {
  return CAPACITY.test(errorName(err)) || (err instanceof Error && CAPACITY.test(err.message));
}

type Provider = 'FARGATE' | 'FARGATE_SPOT';

export function createEcsDispatcher(options: EcsDispatcherOptions): TierDispatcher {
  const { client } = options;
  if (options.subnets.length === 0) throw new TiercastError('CONFIG_INVALID', 'Fargate needs at least one subnet (ECS_SUBNETS)');

  function input(jobId: string, provider: Provider): RunTaskCommandInput {
    return {
      cluster: options.cluster,
      taskDefinition: options.taskDefinition,
      count: 1,
      capacityProviderStrategy: [{ capacityProvider: provider, weight: 1 }],
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: [...options.subnets],
          securityGroups: [...options.securityGroups],
          assignPublicIp: options.assignPublicIp ? 'ENABLED' : 'DISABLED',
        },
      },
      overrides: {
        containerOverrides: [{ name: options.containerName, environment: [{ name: JOB_ID_ENV, value: jobId }] }],
      },
      // startedBy allows 36 characters; the tag carries the full id.
      startedBy: `tiercast-${jobId}`.slice(0, 36),
      tags: [{ key: JOB_ID_TAG, value: jobId }],
    };
  }

  /** One RunTask (with backoff on throttling): the task ARN, or the capacity failure reason, or a thrown error. */
  async function run(jobId: string, provider: Provider): Promise<{ taskArn: string; attempts: number } | { capacity: string }> {
    try {
      const { value, attempts } = await withBackoff(() => client.send(new RunTaskCommand(input(jobId, provider))), isEcsRetryable, options);
      const taskArn = value.tasks?.[0]?.taskArn;
      if (taskArn) return { taskArn, attempts };
      const reasons = (value.failures ?? []).map((f) => [f.reason, f.detail].filter(Boolean).join(': ')).filter(Boolean);
      const text = reasons.join('; ') || 'RunTask started no task and gave no reason';
      if (reasons.some((r) => CAPACITY.test(r))) return { capacity: text };
      throw new TiercastError('DISPATCH_FAILED', `ECS RunTask on ${provider} failed: ${text}`, { details: { jobId, provider, failures: reasons } });
    } catch (err) {
      if (err instanceof TiercastError) throw err;
      if (isCapacityError(err)) return { capacity: `${errorName(err)}: ${(err as Error).message}` };
      const name = errorName(err) || 'Error';
      throw new TiercastError(isEcsRetryable(err) ? 'THROTTLED' : 'DISPATCH_FAILED', `ECS RunTask on ${provider}: ${name}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
        details: { jobId, provider, sdkError: name },
      });
    }
  }

  return {
    tiers: ['fargate', 'fargate-spot'],
    async dispatch(request: DispatchRequest): Promise<DispatchResult> {
      if (request.tier !== 'fargate' && request.tier !== 'fargate-spot') {
        throw new TiercastError('DISPATCH_FAILED', `the ECS dispatcher cannot run tier ${request.tier}`);
      }
      const throttledNote = (attempts: number) => (attempts > 1 ? `started after ${attempts} attempts (throttled)` : undefined);
      if (request.tier === 'fargate-spot') {
        const spot = await run(request.jobId, 'FARGATE_SPOT');
        if ('taskArn' in spot) {
          const note = throttledNote(spot.attempts);
          return { tier: 'fargate-spot', ref: spot.taskArn, ...(note ? { note } : {}) };
        }
        const onDemand = await run(request.jobId, 'FARGATE');
        if ('taskArn' in onDemand) {
          return { tier: 'fargate', ref: onDemand.taskArn, note: `Fargate Spot capacity unavailable (${spot.capacity}): fell back to on-demand FARGATE` };
        }
        throw new TiercastError('CAPACITY_UNAVAILABLE', `no Fargate capacity: Spot: ${spot.capacity}; on-demand: ${onDemand.capacity}`, {
          details: { jobId: request.jobId },
        });
      }
      const result = await run(request.jobId, 'FARGATE');
      if ('taskArn' in result) {
        const note = throttledNote(result.attempts);
        return { tier: 'fargate', ref: result.taskArn, ...(note ? { note } : {}) };
      }
      throw new TiercastError('CAPACITY_UNAVAILABLE', `no Fargate capacity: ${result.capacity}`, { details: { jobId: request.jobId } });
    },
  };
}
