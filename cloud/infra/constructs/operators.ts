import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { FargateWorkers } from './fargate.ts';
import type { JobTable } from './job-table.ts';
import type { AgentQueues } from './queues.ts';
import { allowWildcards } from './nag.ts';
import type { ObjectStore } from './store.ts';

export interface OperatorsProps {
  readonly store: ObjectStore;
  readonly jobs: JobTable;
  readonly queues: AgentQueues;
  readonly fargate: FargateWorkers;
  readonly functions: lambda.IFunction[];
}

/**
 * The managed policy to attach to whoever runs `tiercast dispatch` / `jobs` / `retry` / `delete` and the console
 * against this stack. The only principal that may delete inputs and write anywhere in the bucket.
 */
export class Operators extends Construct {
  readonly policy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: OperatorsProps) {
    super(scope, id);
    this.policy = new iam.ManagedPolicy(scope, 'OperatorPolicy', {
      description: 'Attach to the operators who run tiercast dispatch/jobs and the console against this stack',
      statements: [
        ...props.store.operatorStatements(),
        props.jobs.statement('operator'),
        new iam.PolicyStatement({ sid: 'Enqueue', actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], resources: [...props.queues.arns, props.queues.deadLetterQueue.queueArn] }),
        new iam.PolicyStatement({ sid: 'InvokeLambdaTiers', actions: ['lambda:InvokeFunction'], resources: props.functions.map((f) => f.functionArn) }),
        ...props.fargate.runTaskStatements(),
        // GetMetricData has no resource-level permissions.
        new iam.PolicyStatement({ sid: 'ReadMetrics', actions: ['cloudwatch:GetMetricData'], resources: ['*'] }),
      ],
    });
    allowWildcards(this.policy, [
      ...props.store.operatorWildcards(),
      ...props.jobs.wildcards(),
      ...props.fargate.runTaskWildcards(),
      { resource: '*', reason: 'cloudwatch:GetMetricData has no resource-level permissions (the console reads the Tiercast metrics)' },
    ]);
  }
}
