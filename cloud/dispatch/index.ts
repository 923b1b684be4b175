import type { TiercastConfig } from '../../shared/common/config-schema.ts';
import type { JobQueue } from '../../shared/common/job-queue.ts';
import { createSqsClient, createSqsJobQueue } from '../sqs-queue.ts';
import { createEcsClient, createLambdaClient } from './clients.ts';
import { createEcsDispatcher } from './ecs.ts';
import { createLambdaDispatcher } from './lambda.ts';
import { createLocalDispatcher } from './local.ts';
import { createEc2Dispatcher } from './queue.ts';
import type { Dispatchers } from '../../shared/common/tier-dispatch.ts';

export type { DispatchRequest, DispatchResult, Dispatchers, TierDispatcher } from '../../shared/common/tier-dispatch.ts';

/**
 * Dispatchers for every enabled tier, built from configuration. SDK clients are created only for tiers that are on,
 * and `close()` releases them. The local tier needs the local folder queue from the caller (shared/node).
 */
export function createDispatchers(
  config: TiercastConfig,
  deps: { readonly localQueue?: JobQueue; readonly ec2Queue?: JobQueue },
): { dispatchers: Dispatchers; close(): void } {
  const enabled = new Set(config.tiers.enabled);
  const dispatchers: Dispatchers = {};
  const closers: Array<() => void> = [];
  const aws = { ...(config.aws.region ? { region: config.aws.region } : {}), ...(config.aws.profile ? { profile: config.aws.profile } : {}) };

  if (enabled.has('local') && deps.localQueue) dispatchers.local = createLocalDispatcher(deps.localQueue);

  if (enabled.has('lambda') || enabled.has('lambda-enhanced')) {
    const client = createLambdaClient(aws);
    closers.push(() => client.destroy());
    const lambda = createLambdaDispatcher({
      client,
      ...(config.tiers.lambda.functionName ? { functionName: config.tiers.lambda.functionName } : {}),
      ...(config.tiers.lambda.enhancedFunctionName ? { enhancedFunctionName: config.tiers.lambda.enhancedFunctionName } : {}),
    });
    for (const t of lambda.tiers) if (enabled.has(t)) dispatchers[t] = lambda;
  }

  const f = config.tiers.fargate;
  if ((enabled.has('fargate') || enabled.has('fargate-spot')) && f.cluster && f.taskDefinition) {
    const client = createEcsClient(aws);
    closers.push(() => client.destroy());
    const ecs = createEcsDispatcher({
      client,
      cluster: f.cluster,
      taskDefinition: f.taskDefinition,
      subnets: f.subnets,
      securityGroups: f.securityGroups,
      assignPublicIp: f.assignPublicIp,
      containerName: f.containerName,
    });
    if (enabled.has('fargate')) dispatchers.fargate = ecs;
    if (enabled.has('fargate-spot')) dispatchers['fargate-spot'] = ecs;
  }

  if (enabled.has('ec2')) {
    let queue = deps.ec2Queue;
    if (!queue && config.queue.kind === 'sqs') {
      const client = createSqsClient({ ...(config.aws.region ? { region: config.aws.region } : {}), ...(config.queue.endpoint ? { endpoint: config.queue.endpoint } : {}) });
      closers.push(() => client.destroy());
      queue = createSqsJobQueue({ client, queueUrls: { normal: config.queue.url, ...(config.queue.highPriorityUrl ? { high: config.queue.highPriorityUrl } : {}) } });
    }
    if (queue) dispatchers.ec2 = createEc2Dispatcher(queue);
  }

  return {
    dispatchers,
    close() {
      for (const c of closers) {
        try {
          c();
        } catch {
          /* closing is best effort; every closer runs */
        }
      }
    },
  };
}
