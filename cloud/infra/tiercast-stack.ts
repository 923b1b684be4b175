import path from 'node:path';
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { Tier } from '../../shared/common/job.ts';
import { Agents } from './constructs/agents.ts';
import { Alarms } from './constructs/alarms.ts';
import { Dashboard } from './constructs/dashboard.ts';
import { Escalation } from './constructs/escalation.ts';
import { FargateWorkers } from './constructs/fargate.ts';
import type { ImageSource } from './constructs/images.ts';
import { JobEvents } from './constructs/job-events.ts';
import { JobTable } from './constructs/job-table.ts';
import { DEFAULT_LAMBDA_CONCURRENCY, LambdaTiers, type LambdaConcurrency } from './constructs/lambda-tiers.ts';
import { Network } from './constructs/network.ts';
import { Operators } from './constructs/operators.ts';
import { AgentQueues } from './constructs/queues.ts';
import { ObjectStore } from './constructs/store.ts';

export { CONTAINER_NAME, FARGATE_TASK } from './constructs/fargate.ts';
export { DOCKER_CONTEXT_EXCLUDE } from './constructs/images.ts';
export { LAMBDA_ENHANCED, LAMBDA_STANDARD } from './constructs/lambda-tiers.ts';

/**
 * Everything Tiercast needs on AWS, in one stack, one construct per concern (cloud/infra/constructs/, each with the
 * grants it needs): the object store, the job table, the agents' queues, the network, the Fargate tier, the Lambda
 * tiers, escalation and the sweep, the job events (stream consumer), the EC2 agents, the operators' policy, alarms
 * and the dashboard.
 *
 * IAM is written out action by action (no `grant*` helpers: they emit `s3:GetObject*`-style wildcards), and every
 * statement names its bucket prefix, table, queue, function or log group. cdk-nag's AwsSolutions pack runs on the
 * synthesised stack in the tests; the findings that are choices are suppressed, each with its reason and narrowed to
 * its one resource, by the construct that makes the choice (constructs/nag.ts).
 */
export interface TiercastStackProps extends StackProps {
  /** Key prefix inside the bucket (TIERCAST_PREFIX), e.g. `tiercast/`; default none. */
  readonly keyPrefix?: string;
  /** Raw uploads under inputs/ are deleted after this many days. Default 7. */
  readonly inputExpirationDays?: number;
  /** Outputs move to STANDARD_IA after this many days (S3 minimum 30). Default 30. */
  readonly outputsInfrequentAccessDays?: number;
  /** Outputs move to the archive class after this many days. Default 90. */
  readonly outputsArchiveDays?: number;
  /**
   * Archive class. GLACIER (Flexible Retrieval) and DEEP_ARCHIVE need a restore before a player can fetch segments;
   * GLACIER_INSTANT_RETRIEVAL keeps archived renditions playable. Default GLACIER.
   */
  readonly outputsArchiveClass?: 'GLACIER' | 'DEEP_ARCHIVE' | 'GLACIER_INSTANT_RETRIEVAL';
  /** Overwritten or deleted object versions expire after this many days. Default 30. */
  readonly noncurrentVersionDays?: number;
  /** /tmp of both Lambda functions in MiB (512-10240); keep it equal to TIERCAST_LAMBDA_EPHEMERAL_MB. Default 2048. */
  readonly lambdaEphemeralMb?: number;
  readonly lambdaArchitecture?: 'x86_64' | 'arm64';
  /** Reserved concurrency of the two transcode functions: the Lambda tiers' admission caps. Default 50 / 10. */
  readonly lambdaConcurrency?: Partial<LambdaConcurrency>;
  /** Fargate task ephemeral storage in GiB (21-200). Default 50. */
  readonly fargateEphemeralGb?: number;
  readonly agentInstanceType?: string;
  readonly agentMinInstances?: number;
  readonly agentMaxInstances?: number;
  /** Target of the agents' target tracking: visible messages per in-service instance. Default 2. */
  readonly backlogPerInstance?: number;
  /** Agent user data script; default agent/deploy/user-data.sh. */
  readonly agentUserDataPath?: string;
  /** latest.json of `npm run release:agent`; default dist/agent-release/latest.json. */
  readonly agentReleaseManifest?: string;
  /**
   * SSM parameter (name, e.g. `/tiercast/agent-config`) holding the agents' config.json; agents may read only it.
   * Encrypted with the account's default aws/ssm key when SecureString.
   */
  readonly agentConfigParameter?: string;
  /** The sweep: seconds beyond a Lambda tier's timeout before a running job counts as stuck (default 300). */
  readonly sweepMarginSec?: number;
  /** The sweep: jobs handled per run; the next run takes the rest (default 200). */
  readonly sweepLimit?: number;
  /** The sweep: minutes between runs (default 1). */
  readonly sweepEveryMinutes?: number;
  /** TIERCAST_WEBHOOK_URL of the job-events function: done / failed / cancelled jobs are POSTed there. */
  readonly webhookUrl?: string;
  /** Also send alarms to `webhookUrl` (an SNS HTTPS subscription; the receiver confirms it once). Default false. */
  readonly alarmsToWebhook?: boolean;
  /** Alarm emails go here when given. */
  readonly alarmEmail?: string;
  /** p95 job latency alarm per tier, seconds. */
  readonly latencyP95AlarmSec?: Partial<Record<Tier, number>>;
  /** Failed / finished jobs per tier above which the failure-rate alarm fires. Default 0.2. */
  readonly failureRateAlarm?: number;
  /** Where the worker images come from: built from the Dockerfiles (`asset`, default) or prebuilt in ECR. */
  readonly images?: ImageSource;
  /** Repository root (the Docker build context). Default: two levels above this file. */
  readonly repoRoot?: string;
}

export class TiercastStack extends Stack {
  readonly bucket: s3.Bucket;
  readonly jobTable: dynamodb.Table;
  readonly jobQueue: sqs.Queue;
  readonly highPriorityQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly lambdaStandard: lambda.DockerImageFunction;
  readonly lambdaEnhanced: lambda.DockerImageFunction;
  /** Escalates jobs a Lambda tier was killed on (on-failure destination) and sweeps (schedule). */
  readonly escalation: lambda.DockerImageFunction;
  readonly jobEvents: JobEvents;
  readonly cluster: ecs.Cluster;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly agents: autoscaling.AutoScalingGroup;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: TiercastStackProps = {}) {
    super(scope, id, props);
    const repoRoot = props.repoRoot ?? path.resolve(import.meta.dirname, '../..');
    const images = props.images ?? { kind: 'asset' as const };
    const arch = props.lambdaArchitecture === 'arm64' ? 'arm64' : 'amd64';
    const concurrency = { ...DEFAULT_LAMBDA_CONCURRENCY, ...props.lambdaConcurrency };

    const store = new ObjectStore(this, 'Store', { ...props, prefix: props.keyPrefix ?? '' });
    const jobs = new JobTable(this, 'Jobs');
    const queues = new AgentQueues(this, 'Queues');
    const network = new Network(this, 'Network');
    // What every worker reads (resource names only: no secret in any environment).
    const workerEnv: Record<string, string> = {
      TIERCAST_STORE: 's3',
      TIERCAST_BUCKET: store.bucket.bucketName,
      ...(store.prefix ? { TIERCAST_PREFIX: store.prefix } : {}),
      TIERCAST_LOG_FORMAT: 'json',
    };
    const fargate = new FargateWorkers(this, 'Fargate', { network, store, jobs, workerEnv, images, repoRoot, ephemeralGb: props.fargateEphemeralGb ?? 50 });
    const fargateDispatchEnv = fargate.dispatchEnv(network);
    const lambdas = new LambdaTiers(this, 'LambdaTiers', {
      store, jobs, queues, fargate, fargateDispatchEnv, workerEnv, images, repoRoot, arch, concurrency,
      ephemeralMb: props.lambdaEphemeralMb ?? 2048,
    });
    const escalation = new Escalation(this, 'EscalationLoop', {
      store, jobs, queues, fargate, fargateDispatchEnv, lambdas, workerEnv, images, repoRoot, arch, concurrency,
      ...(props.sweepMarginSec !== undefined ? { sweepMarginSec: props.sweepMarginSec } : {}),
      ...(props.sweepLimit !== undefined ? { sweepLimit: props.sweepLimit } : {}),
      ...(props.sweepEveryMinutes !== undefined ? { sweepEveryMinutes: props.sweepEveryMinutes } : {}),
    });
    this.jobEvents = new JobEvents(this, 'JobEvents', { jobs, repoRoot, arch, ...(props.webhookUrl ? { webhookUrl: props.webhookUrl } : {}) });
    const alarms = new Alarms(this, 'Alarms', {
      clusterName: fargate.cluster.clusterName,
      transcodeFunctions: lambdas.functions,
      sweep: escalation.fn,
      deadLetterQueue: queues.deadLetterQueue,
      eventFailures: this.jobEvents.failures,
      ...(props.alarmEmail ? { alarmEmail: props.alarmEmail } : {}),
      ...(props.alarmsToWebhook && props.webhookUrl ? { alarmWebhookUrl: props.webhookUrl } : {}),
      ...(props.latencyP95AlarmSec ? { latencyP95AlarmSec: props.latencyP95AlarmSec } : {}),
      ...(props.failureRateAlarm !== undefined ? { failureRateAlarm: props.failureRateAlarm } : {}),
    });
    const agents = new Agents(this, 'AgentTier', {
      network, store, jobs, queues, repoRoot,
      notifications: alarms.topic,
      instanceType: props.agentInstanceType,
      minInstances: props.agentMinInstances,
      maxInstances: props.agentMaxInstances,
      backlogPerInstance: props.backlogPerInstance,
      userDataPath: props.agentUserDataPath,
      releaseManifest: props.agentReleaseManifest,
      configParameter: props.agentConfigParameter,
    });
    const operators = new Operators(this, 'Operators', { store, jobs, queues, fargate, functions: lambdas.functions });
    const dashboard = new Dashboard(this, 'Monitoring', {
      functions: lambdas.functions,
      queues: { normal: queues.jobQueue, high: queues.highPriorityQueue, deadLetters: queues.deadLetterQueue },
      ecsCpu: alarms.ecsCpu,
      alarms: alarms.alarms,
    });

    this.bucket = store.bucket;
    this.jobTable = jobs.table;
    ({ jobQueue: this.jobQueue, highPriorityQueue: this.highPriorityQueue, deadLetterQueue: this.deadLetterQueue } = queues);
    this.lambdaStandard = lambdas.standard;
    this.lambdaEnhanced = lambdas.enhanced;
    this.escalation = escalation.fn;
    this.cluster = fargate.cluster;
    this.taskDefinition = fargate.taskDefinition;
    this.agents = agents.group;
    this.alarms = alarms.alarms;
    this.dashboard = dashboard.dashboard;

    // ---- What the operators' configuration needs (CONVENTIONS.md names) ------------------------------------------
    const out = (name: string, value: string, description: string) => new CfnOutput(this, name.replace(/_/g, ''), { key: name.replace(/_/g, ''), value, description });
    out('TIERCAST_BUCKET', store.bucket.bucketName, 'TIERCAST_BUCKET');
    out('TIERCAST_JOB_TABLE', jobs.table.tableName, 'TIERCAST_JOB_TABLE (with TIERCAST_JOB_STORE=dynamodb)');
    out('TIERCAST_QUEUE_URL', queues.jobQueue.queueUrl, 'TIERCAST_QUEUE_URL');
    out('TIERCAST_QUEUE_URL_HIGH', queues.highPriorityQueue.queueUrl, 'TIERCAST_QUEUE_URL_HIGH');
    out('DeadLetterQueueUrl', queues.deadLetterQueue.queueUrl, 'Jobs that failed 3 receives');
    out('LAMBDA_FUNCTION_NAME', lambdas.standard.functionName, 'LAMBDA_FUNCTION_NAME');
    out('LAMBDA_FUNCTION_NAME_ENHANCED', lambdas.enhanced.functionName, 'LAMBDA_FUNCTION_NAME_ENHANCED');
    out('LambdaConcurrencyStandard', String(concurrency.standard), 'Admission cap of the lambda tier (reserved concurrency)');
    out('LambdaConcurrencyEnhanced', String(concurrency.enhanced), 'Admission cap of the lambda-enhanced tier (reserved concurrency)');
    out('ECS_CLUSTER_NAME', fargate.cluster.clusterName, 'ECS_CLUSTER_NAME');
    out('ECS_TASK_DEFINITION', fargate.taskDefinition.family, 'ECS_TASK_DEFINITION (family: the latest revision runs)');
    out('ECS_SUBNETS', network.publicSubnetIds.join(','), 'ECS_SUBNETS (public; set TIERCAST_ECS_ASSIGN_PUBLIC_IP=true)');
    out('ECS_SECURITY_GROUPS', fargate.securityGroup.securityGroupId, 'ECS_SECURITY_GROUPS');
    out('EscalationFunctionName', escalation.fn.functionName, 'Escalation and sweep (invoke with {"kind":"sweep"} to sweep now)');
    out('JobEventsFailureQueueUrl', this.jobEvents.failures.queueUrl, 'Job table stream batches the job-events function gave up on');
    out('WebhookSecretArn', this.jobEvents.webhookSecret.secretArn, 'The webhook signing secret: give its value to the receiver');
    out('OperatorPolicyArn', operators.policy.managedPolicyArn, 'Attach to operators (dispatch, jobs, console)');
    out('AgentGroupName', agents.group.autoScalingGroupName, 'EC2 agent Auto Scaling group');
    out('AlarmTopicArn', alarms.topic.topicArn, 'Subscribe to receive alarms');

  }
}
