import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/**
 * The EC2 agents' queues: normal and high priority, both redriving to one dead-letter queue after 3 receives.
 * Stateful: the queues are created in the stack's scope so their logical IDs (and messages in flight) survive.
 */
export class AgentQueues extends Construct {
  readonly jobQueue: sqs.Queue;
  readonly highPriorityQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(scope, 'DeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const jobQueueProps: sqs.QueueProps = {
      // The agent extends visibility while it works; this is only the first lease.
      visibilityTimeout: Duration.minutes(15),
      retentionPeriod: Duration.days(4),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 3 },
    };
    this.jobQueue = new sqs.Queue(scope, 'JobQueue', jobQueueProps);
    this.highPriorityQueue = new sqs.Queue(scope, 'HighPriorityQueue', jobQueueProps);
  }

  get arns(): string[] {
    return [this.jobQueue.queueArn, this.highPriorityQueue.queueArn];
  }

  /** What a dispatcher needs to enqueue for the agents (CONVENTIONS.md names). */
  get dispatchEnv(): Record<string, string> {
    return { TIERCAST_QUEUE_URL: this.jobQueue.queueUrl, TIERCAST_QUEUE_URL_HIGH: this.highPriorityQueue.queueUrl };
  }
}
