import type { JobQueue } from '../../shared/common/job-queue.ts';
import { createQueueDispatcher } from './queue.ts';
import type { TierDispatcher } from '../../shared/common/tier-dispatch.ts';

/**
 * Local tier: the job goes on the data home's folder queue, where the agent's worker in local mode picks it up
 * (`tiercast agent --local`, or `tiercast dispatch --wait`, which runs that worker in-process until its jobs finish).
 */
export function createLocalDispatcher(queue: JobQueue): TierDispatcher {
  return createQueueDispatcher({ queue, tiers: ['local'], name: 'local queue' });
}
