import type { JobQueue } from '../../shared/common/job-queue.ts';
import { TiercastError, toTiercastError } from '../../shared/common/errors.ts';
import type { Tier } from '../../shared/common/job.ts';
import { jobPointer, type DispatchRequest, type DispatchResult, type TierDispatcher } from '../../shared/common/tier-dispatch.ts';

/**
 * Queue tiers: the EC2 agents' SQS queue, or the local folder queue for the local tier. The message is only a pointer
 * (`{ schemaVersion: 1, jobId }`); the ledger holds the job.
 *
 * Priorities 1-10 map to two queues: 8, 9 and 10 go to the high-priority queue, 1-7 to the normal one (both JobQueue
 * implementations apply this cut at HIGH_PRIORITY_MIN = 8; an SQS setup without a high queue sends everything to the
 * normal queue). Agents poll the high queue first.
 */

export const HIGH_PRIORITY_MIN = 8;

export function queueLane(priority: number): 'high' | 'normal' {
  return priority >= HIGH_PRIORITY_MIN ? 'high' : 'normal';
}

export function createQueueDispatcher(options: { readonly queue: JobQueue; readonly tiers: readonly Tier[]; readonly name: string }): TierDispatcher {
  return {
    tiers: options.tiers,
    async dispatch(request: DispatchRequest): Promise<DispatchResult> {
      if (!options.tiers.includes(request.tier)) {
        throw new TiercastError('DISPATCH_FAILED', `the ${options.name} dispatcher cannot run tier ${request.tier}`);
      }
      if (!Number.isInteger(request.priority) || request.priority < 1 || request.priority > 10) {
        throw new TiercastError('INVALID_JOB', `priority must be an integer 1-10, got ${request.priority}`);
      }
      try {
        const { messageId } = await options.queue.send(JSON.stringify(jobPointer(request.jobId)), { priority: request.priority });
        return { tier: request.tier, ref: messageId, note: `queued on the ${options.name} (${queueLane(request.priority)} priority)` };
      } catch (err) {
        const e = toTiercastError(err, 'QUEUE_ERROR');
        throw new TiercastError(e.code === 'THROTTLED' ? 'THROTTLED' : 'DISPATCH_FAILED', `${options.name}: ${e.message}`, { cause: err, details: { jobId: request.jobId } });
      }
    },
  };
}

/** EC2 tier: agents on hosts poll the SQS queue. */
export function createEc2Dispatcher(queue: JobQueue): TierDispatcher {
  return createQueueDispatcher({ queue, tiers: ['ec2'], name: 'agents\' SQS queue' });
}
