import path from 'node:path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as lambdaNode from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { lambdaArchitecture } from './lambda-tiers.ts';
import type { Arch } from './images.ts';
import type { JobTable } from './job-table.ts';
import { acceptFinding, allowWildcards } from './nag.ts';

/** EventBridge source of the job events (detail-type `Job Done` / `Job Failed` / `Job Cancelled`). */
export const EVENT_SOURCE = 'tiercast';
/** The stream trigger: records per batch, retries of a failing batch (halved each time), then the failure queue. */
export const STREAM_TRIGGER = { batchSize: 100, retryAttempts: 5, maxBatchingWindowSec: 1 } as const;
export const JOB_EVENTS_CONCURRENCY = 10;

export interface JobEventsProps {
  readonly jobs: JobTable;
  readonly repoRoot: string;
  readonly arch: Arch;
  /** TIERCAST_WEBHOOK_URL: where done / failed / cancelled events are POSTed. */
  readonly webhookUrl?: string;
}

/**
 * The job table's stream consumer (cloud/lambda/job-events.ts, a zip function on nodejs22.x bundled by esbuild at
 * synth): delivers webhooks signed with the secret in Secrets Manager (only its ARN is in the environment) and puts
 * `tiercast` events on the default bus. Failing batches are bisected and retried, then their stream positions go to
 * an SQS queue (on-failure destination) that alarms when it holds anything.
 */
export class JobEvents extends Construct {
  readonly fn: lambdaNode.NodejsFunction;
  readonly failures: sqs.Queue;
  readonly webhookSecret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: JobEventsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const table = props.jobs.table;
    this.webhookSecret = new secretsmanager.Secret(this, 'WebhookSecret', {
      description: 'Tiercast webhook signing key (X-Tiercast-Signature: sha256=HMAC of the body); give the same value to the receiver',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.failures = new sqs.Queue(this, 'Failures', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Tiercast job events: reads the job table stream, logs deliveries, signs webhooks, puts tiercast events',
    });
    role.addToPolicy(props.jobs.streamStatement());
    // The delivery log (DLV# items) lives beside the job: read the job, write its log entries.
    role.addToPolicy(new iam.PolicyStatement({ sid: 'DeliveryLog', actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'], resources: props.jobs.arns }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'WebhookSecret', actions: ['secretsmanager:GetSecretValue'], resources: [this.webhookSecret.secretArn] }));
    role.addToPolicy(new iam.PolicyStatement({
      sid: 'PutJobEvents',
      actions: ['events:PutEvents'],
      resources: [stack.formatArn({ service: 'events', resource: 'event-bus', resourceName: 'default' })],
      conditions: { StringEquals: { 'events:source': EVENT_SOURCE } },
    }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'Logs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    allowWildcards(role, [...props.jobs.wildcards(), ...props.jobs.streamWildcards()]);
    acceptFinding(this.webhookSecret, 'AwsSolutions-SMG4', 'The webhook signing key is shared with the receiver; rotating it is a coordinated change (cloud/README.md)');
    acceptFinding(this.failures, 'AwsSolutions-SQS3', 'This queue is itself the dead-letter destination (on-failure) of the stream trigger');
    this.fn = new lambdaNode.NodejsFunction(this, 'Function', {
      description: 'Tiercast job events: webhooks and EventBridge events for finished jobs, from the job table stream',
      entry: path.join(props.repoRoot, 'cloud/lambda/job-events.ts'),
      handler: 'handler',
      projectRoot: props.repoRoot,
      depsLockFilePath: path.join(props.repoRoot, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambdaArchitecture(props.arch),
      memorySize: 256,
      timeout: Duration.seconds(60),
      reservedConcurrentExecutions: JOB_EVENTS_CONCURRENCY,
      bundling: {
        format: lambdaNode.OutputFormat.ESM,
        target: 'node22',
        // The SDK is bundled (pinned by the lockfile), not taken from the runtime.
        bundleAwsSDK: true,
        banner: "import { createRequire as __tcReq } from 'node:module'; const require = __tcReq(import.meta.url);",
      },
      environment: {
        ...props.jobs.env,
        TIERCAST_WEBHOOK_SECRET_ARN: this.webhookSecret.secretArn,
        ...(props.webhookUrl ? { TIERCAST_WEBHOOK_URL: props.webhookUrl } : {}),
        TIERCAST_EVENT_SOURCE: EVENT_SOURCE,
        TIERCAST_LOG_FORMAT: 'json',
      },
      role,
      logGroup,
    });
    acceptFinding(this.fn, 'AwsSolutions-L1', 'Node 22 LTS on purpose: the runtime of the containers, the EC2 hosts and CI; they move together');
    const trigger = new lambda.EventSourceMapping(this, 'Stream', {
      target: this.fn,
      eventSourceArn: table.tableStreamArn!,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: STREAM_TRIGGER.batchSize,
      maxBatchingWindow: Duration.seconds(STREAM_TRIGGER.maxBatchingWindowSec),
      bisectBatchOnError: true,
      retryAttempts: STREAM_TRIGGER.retryAttempts,
      reportBatchItemFailures: true,
      onFailure: new SqsDlq(this.failures),
    });
    // Lambda checks the stream permissions when the trigger is created.
    trigger.node.addDependency(role);
  }
}
