import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CfnOutput, Duration, IgnoreMode, RemovalPolicy, Size, Stack, type StackProps } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { storeKeys, type Tier } from '../../shared/common/job.ts';
import { METRICS_NAMESPACE, TIER_DIMENSION } from '../../shared/common/metrics-query.ts';

/**
 * Everything Tiercast needs on AWS, in one stack: the bucket (object store and job ledger), the agents' queues, the
 * two Lambda tiers, the Fargate cluster and task, the EC2 agent group, a dashboard and alarms.
 *
 * IAM is written out action by action (no `grant*` helpers: they emit `s3:GetObject*`-style wildcards), and every
 * statement names its bucket, queue, function or log group. The only `Resource: *` statements are for APIs that
 * have no resource-level permissions (cloudwatch:GetMetricData, ecr:GetAuthorizationToken from CDK's image pull).
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
  /** /tmp of both Lambda functions in MiB (512-10240); keep it equal to TIERCAST_LAMBDA_EPHEMERAL_MB. Default 2048. */
  readonly lambdaEphemeralMb?: number;
  readonly lambdaArchitecture?: 'x86_64' | 'arm64';
  /** Fargate task ephemeral storage in GiB (21-200). Default 50. */
  readonly fargateEphemeralGb?: number;
  readonly agentInstanceType?: string;
  readonly agentMinInstances?: number;
  readonly agentMaxInstances?: number;
  /** Target of the agents' target tracking: visible messages per in-service instance. Default 2. */
  readonly backlogPerInstance?: number;
  /** Agent user data script; default agent/deploy/user-data.sh when the file exists. */
  readonly agentUserDataPath?: string;
  /**
   * SSM parameter (name, e.g. `/tiercast/agent-config`) holding the agents' config.json; agents may read only it.
   * Encrypted with the account's default aws/ssm key when SecureString.
   */
  readonly agentConfigParameter?: string;
  /** The sweep: seconds beyond a Lambda tier's timeout before a running job counts as stuck (default 300). */
  readonly sweepMarginSec?: number;
  /** The sweep: stuck jobs escalated per run; the listing stops there and the next run takes the rest (default 200). */
  readonly sweepLimit?: number;
  /** The sweep: minutes between runs (default 5). */
  readonly sweepEveryMinutes?: number;
  /** Alarm emails go here when given. */
  readonly alarmEmail?: string;
  /** p95 job latency alarm per tier, seconds. */
  readonly latencyP95AlarmSec?: Partial<Record<Tier, number>>;
  /** Failed / finished jobs per tier above which the failure-rate alarm fires. Default 0.2. */
  readonly failureRateAlarm?: number;
  /**
   * Where the worker images come from. `asset` (default): built from cloud/lambda/Dockerfile and
   * cloud/fargate/Dockerfile by `cdk deploy` (synth only stages the build context). `ecr`: prebuilt images.
   */
  readonly images?: { readonly kind: 'asset' } | { readonly kind: 'ecr'; readonly repositoryName: string; readonly lambdaTag: string; readonly fargateTag: string };
  /** Repository root (the Docker build context). Default: two levels above this file. */
  readonly repoRoot?: string;
}

export const LAMBDA_STANDARD = { memoryMb: 2048, timeoutSec: 120 } as const;
export const LAMBDA_ENHANCED = { memoryMb: 3008, timeoutSec: 600 } as const;
export const FARGATE_TASK = { cpu: 2048, memoryMiB: 8192 } as const;
export const CONTAINER_NAME = 'tiercast';

const DEFAULT_P95_ALARM_SEC: Record<Tier, number> = {
  local: 3600,
  lambda: 100,
  'lambda-enhanced': 540,
  fargate: 3600,
  'fargate-spot': 3600,
  ec2: 3600,
};
const CLOUD_TIERS: readonly Tier[] = ['lambda', 'lambda-enhanced', 'fargate', 'fargate-spot', 'ec2'];

/**
 * The Docker build context is the repository root, whitelisted to what the images need, so staging at synth copies
 * a few hundred KB rather than node_modules and the other engineers' folders.
 */
export const DOCKER_CONTEXT_EXCLUDE = [
  '*',
  '!package.json',
  '!package-lock.json',
  '!tsconfig.base.json',
  '!tsconfig.json',
  '!shared',
  '!cloud',
  'cloud/infra',
  '**/*.test.ts',
];

const cfnId = (tier: Tier) => tier.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase());

export class TiercastStack extends Stack {
  readonly bucket: s3.Bucket;
  readonly jobQueue: sqs.Queue;
  readonly highPriorityQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly lambdaStandard: lambda.DockerImageFunction;
  readonly lambdaEnhanced: lambda.DockerImageFunction;
  /** Escalates jobs a Lambda tier was killed on (on-failure destination) and sweeps stuck ones (schedule). */
  readonly escalation: lambda.DockerImageFunction;
  readonly cluster: ecs.Cluster;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly agents: autoscaling.AutoScalingGroup;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: TiercastStackProps = {}) {
    super(scope, id, props);
    const repoRoot = props.repoRoot ?? path.resolve(import.meta.dirname, '../..');
    const prefix = props.keyPrefix ?? '';
    const images = props.images ?? { kind: 'asset' as const };

    // ---- Object store and ledger -----------------------------------------------------------------------------
    const archiveClass = {
      GLACIER: s3.StorageClass.GLACIER,
      DEEP_ARCHIVE: s3.StorageClass.DEEP_ARCHIVE,
      GLACIER_INSTANT_RETRIEVAL: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
    }[props.outputsArchiveClass ?? 'GLACIER'];
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'expire-raw-uploads',
          prefix: `${prefix}${storeKeys.inputPrefix}`,
          expiration: Duration.days(props.inputExpirationDays ?? 7),
        },
        {
          id: 'archive-outputs',
          prefix: `${prefix}outputs/`,
          transitions: [
            { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(props.outputsInfrequentAccessDays ?? 30) },
            { storageClass: archiveClass, transitionAfter: Duration.days(props.outputsArchiveDays ?? 90) },
          ],
        },
        {
          // Long enough for the store's resumable uploads (ListParts) to pick an interrupted upload back up.
          id: 'abort-stale-multipart',
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      // The console plays outputs through presigned URLs from its renderer (shaka-player): GET needs CORS.
      cors: [
        {
          allowedMethods: [s3.HttpMethods.GET, s3.HttpMethods.HEAD],
          allowedOrigins: ['*'],
          allowedHeaders: ['Range'],
          exposedHeaders: ['ETag', 'Content-Length', 'Content-Range'],
          maxAge: 3600,
        },
      ],
    });
    const objectsArn = this.bucket.arnForObjects(`${prefix}*`);
    const storeStatements = (): iam.PolicyStatement[] => [
      new iam.PolicyStatement({
        sid: 'ObjectStore',
        actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        resources: [objectsArn],
      }),
      new iam.PolicyStatement({
        sid: 'ObjectStoreList',
        actions: ['s3:ListBucket', 's3:ListBucketMultipartUploads'],
        resources: [this.bucket.bucketArn],
        ...(prefix ? { conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } } } : {}),
      }),
    ];

    // ---- Queues (EC2 agents) -----------------------------------------------------------------------------------
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
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
    this.jobQueue = new sqs.Queue(this, 'JobQueue', jobQueueProps);
    this.highPriorityQueue = new sqs.Queue(this, 'HighPriorityQueue', jobQueueProps);
    const queueArns = [this.jobQueue.queueArn, this.highPriorityQueue.queueArn];

    // ---- What every worker reads -----------------------------------------------------------------------------
    const workerEnv: Record<string, string> = {
      TIERCAST_STORE: 's3',
      TIERCAST_BUCKET: this.bucket.bucketName,
      ...(prefix ? { TIERCAST_PREFIX: prefix } : {}),
      TIERCAST_LOG_FORMAT: 'json',
    };

    // ---- Network ---------------------------------------------------------------------------------------------------
    // Public subnets and no NAT gateway: workers only talk to S3 (through the gateway endpoint), SQS and CloudWatch,
    // and a NAT gateway would cost more per month than a thousand Lambda jobs.
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });

    // ---- Fargate tiers -------------------------------------------------------------------------------------------
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      enableFargateCapacityProviders: true,
      // Standalone RunTask tasks report CPU only through Container Insights (the dashboard and CPU alarm use it).
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    const taskLogs = new logs.LogGroup(this, 'FargateLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const taskRole = new iam.Role(this, 'FargateTaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Tiercast Fargate worker: its bucket only',
    });
    for (const s of storeStatements()) taskRole.addToPolicy(s);
    // awslogs does not extract EMF, so the Fargate entry publishes its job metrics itself, in its namespace only.
    taskRole.addToPolicy(new iam.PolicyStatement({
      sid: 'JobMetrics',
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': METRICS_NAMESPACE } },
    }));
    // The awslogs driver and the image pull add their own scoped statements to this role.
    const executionRole = new iam.Role(this, 'FargateExecutionRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Pulls the Tiercast image and writes its log group',
    });
    const fargateEphemeralGb = props.fargateEphemeralGb ?? 50;
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: FARGATE_TASK.cpu,
      memoryLimitMiB: FARGATE_TASK.memoryMiB,
      ephemeralStorageGiB: fargateEphemeralGb,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      taskRole,
      executionRole,
    });
    const fargateImage =
      images.kind === 'asset'
        ? ecs.ContainerImage.fromAsset(repoRoot, { file: 'cloud/fargate/Dockerfile', exclude: DOCKER_CONTEXT_EXCLUDE, ignoreMode: IgnoreMode.DOCKER })
        : ecs.ContainerImage.fromEcrRepository(ecr.Repository.fromRepositoryName(this, 'FargateRepository', images.repositoryName), images.fargateTag);
    const taskSecurityGroup = new ec2.SecurityGroup(this, 'TaskSecurityGroup', { vpc, description: 'Tiercast Fargate workers: outbound only', allowAllOutbound: true });
    // What a worker needs to hand a job on to another tier (escalation, Spot re-dispatch): CONVENTIONS.md names.
    const taskDefinitionArn = this.formatArn({ service: 'ecs', resource: 'task-definition', resourceName: `${this.taskDefinition.family}:*` });
    const fargateDispatchEnv: Record<string, string> = {
      ECS_CLUSTER_NAME: this.cluster.clusterName,
      ECS_TASK_DEFINITION: this.taskDefinition.family,
      ECS_SUBNETS: vpc.publicSubnets.map((sn) => sn.subnetId).join(','),
      ECS_SECURITY_GROUPS: taskSecurityGroup.securityGroupId,
      // Public subnets without NAT: a task reaches ECR, S3 and CloudWatch only with a public address.
      TIERCAST_ECS_ASSIGN_PUBLIC_IP: 'true',
      TIERCAST_ECS_CONTAINER_NAME: CONTAINER_NAME,
    };
    const queueDispatchEnv: Record<string, string> = { TIERCAST_QUEUE_URL: this.jobQueue.queueUrl, TIERCAST_QUEUE_URL_HIGH: this.highPriorityQueue.queueUrl };
    /** RunTask of this task definition in this cluster (tagging the new task with its job id), passing its roles. */
    const runTaskStatements = (): iam.PolicyStatement[] => [
      new iam.PolicyStatement({
        sid: 'RunFargateTasks',
        actions: ['ecs:RunTask'],
        resources: [taskDefinitionArn],
        conditions: { ArnEquals: { 'ecs:cluster': this.cluster.clusterArn } },
      }),
      // RunTask with tags is authorised for ecs:TagResource too ("tag on create"); only as part of RunTask.
      new iam.PolicyStatement({
        sid: 'TagNewTasks',
        actions: ['ecs:TagResource'],
        resources: [this.formatArn({ service: 'ecs', resource: 'task', resourceName: `${this.cluster.clusterName}/*` })],
        conditions: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
      }),
      new iam.PolicyStatement({ sid: 'PassTaskRoles', actions: ['iam:PassRole'], resources: [taskRole.roleArn, executionRole.roleArn] }),
    ];
    // A Spot task re-dispatches its own job on on-demand FARGATE when it is interrupted (cloud/fargate/main.ts).
    for (const st of runTaskStatements()) taskRole.addToPolicy(st);
    this.taskDefinition.addContainer(CONTAINER_NAME, {
      containerName: CONTAINER_NAME,
      image: fargateImage,
      essential: true,
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'job', logGroup: taskLogs }),
      // The dispatcher sets TIERCAST_JOB_ID as a container override; the tier (fargate or fargate-spot) is read from
      // the job's status, so one task definition serves both capacity providers.
      environment: {
        ...workerEnv,
        ...fargateDispatchEnv,
        TIERCAST_TIERS: 'fargate,fargate-spot',
        TIERCAST_HOME: '/work/tiercast',
        TIERCAST_FARGATE_EPHEMERAL_GB: String(fargateEphemeralGb),
      },
      // Spot gives two minutes' notice: let the entry point use it to requeue the job before SIGKILL.
      stopTimeout: Duration.seconds(120),
    });

    // ---- Lambda tiers --------------------------------------------------------------------------------------------
    const lambdaCode =
      images.kind === 'asset'
        ? lambda.DockerImageCode.fromImageAsset(repoRoot, { file: 'cloud/lambda/Dockerfile', exclude: DOCKER_CONTEXT_EXCLUDE, ignoreMode: IgnoreMode.DOCKER })
        : lambda.DockerImageCode.fromEcr(ecr.Repository.fromRepositoryName(this, 'LambdaRepository', images.repositoryName), { tagOrDigest: images.lambdaTag });
    const ephemeralMb = props.lambdaEphemeralMb ?? 2048;
    const makeFunction = (
      cid: string,
      tier: 'lambda' | 'lambda-enhanced',
      size: { memoryMb: number; timeoutSec: number },
      escalation: { env: Record<string, string>; statements: iam.PolicyStatement[] },
    ) => {
      const logGroup = new logs.LogGroup(this, `${cid}Logs`, { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
      const role = new iam.Role(this, `${cid}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Tiercast ${tier} worker: its bucket and its own log group only`,
      });
      for (const s of storeStatements()) role.addToPolicy(s);
      role.addToPolicy(new iam.PolicyStatement({ sid: 'Logs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
      // The handler escalates a job it hands back straight to the next tier: exactly the dispatch calls that needs.
      for (const st of escalation.statements) role.addToPolicy(st);
      return new lambda.DockerImageFunction(this, cid, {
        description: `Tiercast ${tier} tier: one transcode job per invocation`,
        code: lambdaCode,
        architecture: props.lambdaArchitecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
        memorySize: size.memoryMb,
        timeout: Duration.seconds(size.timeoutSec),
        ephemeralStorageSize: Size.mebibytes(ephemeralMb),
        // The handler checks free /tmp and prices its run from these; the configuration must match the function.
        environment: {
          ...workerEnv,
          TIERCAST_TIER: tier,
          TIERCAST_HOME: '/tmp/tiercast',
          TIERCAST_LAMBDA_EPHEMERAL_MB: String(ephemeralMb),
          TIERCAST_LAMBDA_TIMEOUT_SEC: String(LAMBDA_STANDARD.timeoutSec),
          TIERCAST_LAMBDA_ENHANCED_TIMEOUT_SEC: String(LAMBDA_ENHANCED.timeoutSec),
          ...escalation.env,
        },
        role,
        logGroup,
      });
    };
    // Escalation targets: lambda -> lambda-enhanced -> Fargate (Spot policy) -> EC2 agents; lambda-enhanced -> Fargate -> EC2.
    // A function cannot name itself in its environment, and neither escalates onto its own tier.
    this.lambdaEnhanced = makeFunction('LambdaEnhanced', 'lambda-enhanced', LAMBDA_ENHANCED, {
      env: { ...fargateDispatchEnv, ...queueDispatchEnv, TIERCAST_TIERS: 'fargate,fargate-spot,ec2' },
      statements: [...runTaskStatements(), new iam.PolicyStatement({ sid: 'EnqueueForAgents', actions: ['sqs:SendMessage'], resources: queueArns })],
    });
    this.lambdaStandard = makeFunction('LambdaStandard', 'lambda', LAMBDA_STANDARD, {
      env: { ...fargateDispatchEnv, ...queueDispatchEnv, LAMBDA_FUNCTION_NAME_ENHANCED: this.lambdaEnhanced.functionName, TIERCAST_TIERS: 'lambda-enhanced,fargate,fargate-spot,ec2' },
      statements: [
        new iam.PolicyStatement({ sid: 'InvokeEnhanced', actions: ['lambda:InvokeFunction'], resources: [this.lambdaEnhanced.functionArn] }),
        ...runTaskStatements(),
        new iam.PolicyStatement({ sid: 'EnqueueForAgents', actions: ['sqs:SendMessage'], resources: queueArns }),
      ],
    });
    const functions = [this.lambdaStandard, this.lambdaEnhanced];

    // ---- Escalation: jobs Lambda killed (timeout, out of memory) and jobs stuck in a running stage ------------------
    const escalationCode =
      images.kind === 'asset'
        ? lambda.DockerImageCode.fromImageAsset(repoRoot, { file: 'cloud/lambda/Dockerfile', exclude: DOCKER_CONTEXT_EXCLUDE, ignoreMode: IgnoreMode.DOCKER, cmd: ['handler.escalation'] })
        : lambda.DockerImageCode.fromEcr(ecr.Repository.fromRepositoryName(this, 'EscalationRepository', images.repositoryName), { tagOrDigest: images.lambdaTag, cmd: ['handler.escalation'] });
    const escalationLogs = new logs.LogGroup(this, 'EscalationLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const escalationRole = new iam.Role(this, 'EscalationRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Tiercast escalation: its bucket, its log group, and dispatch to the Lambda, Fargate and agent tiers',
    });
    for (const st of storeStatements()) escalationRole.addToPolicy(st);
    escalationRole.addToPolicy(new iam.PolicyStatement({ sid: 'Logs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [escalationLogs.logGroupArn] }));
    escalationRole.addToPolicy(new iam.PolicyStatement({ sid: 'InvokeLambdaTiers', actions: ['lambda:InvokeFunction'], resources: functions.map((f) => f.functionArn) }));
    for (const st of runTaskStatements()) escalationRole.addToPolicy(st);
    escalationRole.addToPolicy(new iam.PolicyStatement({ sid: 'EnqueueForAgents', actions: ['sqs:SendMessage'], resources: queueArns }));
    this.escalation = new lambda.DockerImageFunction(this, 'Escalation', {
      description: 'Tiercast escalation: re-dispatches jobs a Lambda tier was killed on, and sweeps stuck jobs',
      code: escalationCode,
      architecture: props.lambdaArchitecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
      memorySize: 512,
      timeout: Duration.minutes(5),
      environment: {
        ...workerEnv,
        ...fargateDispatchEnv,
        ...queueDispatchEnv,
        TIERCAST_HOME: '/tmp/tiercast',
        LAMBDA_FUNCTION_NAME: this.lambdaStandard.functionName,
        LAMBDA_FUNCTION_NAME_ENHANCED: this.lambdaEnhanced.functionName,
        TIERCAST_TIERS: 'lambda,lambda-enhanced,fargate,fargate-spot,ec2',
        // The sweep judges staleness by these limits: keep them equal to the functions' timeouts.
        TIERCAST_LAMBDA_TIMEOUT_SEC: String(LAMBDA_STANDARD.timeoutSec),
        TIERCAST_LAMBDA_ENHANCED_TIMEOUT_SEC: String(LAMBDA_ENHANCED.timeoutSec),
        TIERCAST_SWEEP_MARGIN_SEC: String(props.sweepMarginSec ?? 300),
        TIERCAST_SWEEP_LIMIT: String(props.sweepLimit ?? 200),
      },
      role: escalationRole,
      logGroup: escalationLogs,
    });
    // On-failure destination of both transcode functions. The invoke permission sits in a policy of its own (not the
    // roles' default policies, which the functions depend on, while the escalation function depends on their names),
    // and the async configuration waits for it: Lambda checks the role can reach the destination.
    const escalationArn = this.escalation.functionArn;
    const toEscalation: lambda.IDestination = { bind: () => ({ destination: escalationArn }) };
    for (const fn of functions) {
      const policy = new iam.Policy(this, `${fn.node.id}DestinationPolicy`, {
        roles: [fn.role!],
        statements: [new iam.PolicyStatement({ sid: 'OnFailureDestination', actions: ['lambda:InvokeFunction'], resources: [escalationArn] })],
      });
      // The router owns retries (and escalates a tier up); Lambda's own async retries would rerun the same job on the
      // same tier, so a failed run goes straight to the escalation function.
      fn.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.hours(1), onFailure: toEscalation });
      fn.node.findChild('EventInvokeConfig').node.addDependency(policy);
    }
    new events.Rule(this, 'SweepSchedule', {
      description: 'Every 5 minutes: escalate Lambda jobs stuck in a running stage past their time limit',
      schedule: events.Schedule.rate(Duration.minutes(props.sweepEveryMinutes ?? 5)),
      targets: [new eventsTargets.LambdaFunction(this.escalation, { event: events.RuleTargetInput.fromObject({ sweep: true }), retryAttempts: 0 })],
    });
    // A Fargate container killed for memory never tells the ledger: the task's STOPPED event does.
    new events.Rule(this, 'FargateTaskStopped', {
      description: 'Tiercast Fargate tasks whose container exited: the escalation function escalates memory kills',
      eventPattern: {
        source: ['aws.ecs'],
        detailType: ['ECS Task State Change'],
        detail: { clusterArn: [this.cluster.clusterArn], lastStatus: ['STOPPED'], stopCode: ['EssentialContainerExited'] },
      },
      targets: [new eventsTargets.LambdaFunction(this.escalation, { retryAttempts: 2 })],
    });

    // ---- EC2 agents ----------------------------------------------------------------------------------------------
    const agentLogs = new logs.LogGroup(this, 'AgentLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const agentRole = new iam.Role(this, 'AgentRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'Tiercast agent hosts: their bucket, their queues and their log group',
    });
    for (const s of storeStatements()) agentRole.addToPolicy(s);
    agentRole.addToPolicy(new iam.PolicyStatement({
      sid: 'Queues',
      actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
      resources: queueArns,
    }));
    agentRole.addToPolicy(new iam.PolicyStatement({
      sid: 'Logs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
      resources: [agentLogs.logGroupArn],
    }));
    if (props.agentConfigParameter) {
      const name = props.agentConfigParameter.replace(/^\//, '');
      agentRole.addToPolicy(new iam.PolicyStatement({
        sid: 'AgentConfig',
        actions: ['ssm:GetParameter'],
        resources: [this.formatArn({ service: 'ssm', resource: 'parameter', resourceName: name })],
      }));
    }
    const agentSecurityGroup = new ec2.SecurityGroup(this, 'AgentSecurityGroup', { vpc, description: 'Tiercast agents: outbound only', allowAllOutbound: true });
    const userData = ec2.UserData.forLinux();
    // Resource names reach the agent's script as an environment file; the script itself is the agent's own.
    userData.addCommands(
      'mkdir -p /etc/tiercast',
      `cat > /etc/tiercast/agent.env <<'TIERCAST_ENV'`,
      `AWS_REGION=${this.region}`,
      'TIERCAST_STORE=s3',
      `TIERCAST_BUCKET=${this.bucket.bucketName}`,
      ...(prefix ? [`TIERCAST_PREFIX=${prefix}`] : []),
      'TIERCAST_QUEUE=sqs',
      `TIERCAST_QUEUE_URL=${this.jobQueue.queueUrl}`,
      `TIERCAST_QUEUE_URL_HIGH=${this.highPriorityQueue.queueUrl}`,
      `TIERCAST_AGENT_LOG_GROUP=${agentLogs.logGroupName}`,
      ...(props.agentConfigParameter ? [`TIERCAST_SSM_CONFIG_PARAMETER=${props.agentConfigParameter}`] : []),
      'TIERCAST_LOG_FORMAT=json',
      'TIERCAST_ENV',
    );
    const userDataPath = props.agentUserDataPath ?? path.join(repoRoot, 'agent/deploy/user-data.sh');
    if (existsSync(userDataPath)) {
      const script = readFileSync(userDataPath, 'utf8').replace(/^#!.*\n/, '');
      userData.addCommands(script);
    } else {
      userData.addCommands(
        `echo "Tiercast: agent/deploy/user-data.sh was not found when this stack was synthesized; install and start the agent (tiercast agent) with /etc/tiercast/agent.env" >&2`,
        'exit 1',
      );
    }
    const launchTemplate = new ec2.LaunchTemplate(this, 'AgentLaunchTemplate', {
      machineImage: ec2.MachineImage.latestAmazonLinux2023(),
      instanceType: new ec2.InstanceType(props.agentInstanceType ?? 'c6i.2xlarge'),
      role: agentRole,
      userData,
      securityGroup: agentSecurityGroup,
      requireImdsv2: true,
      // agent/deploy/user-data.sh reads TIERCAST_* instance tags as settings.
      instanceMetadataTags: true,
      associatePublicIpAddress: true,
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(100, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: true }) }],
    });
    this.agents = new autoscaling.AutoScalingGroup(this, 'Agents', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      launchTemplate,
      minCapacity: props.agentMinInstances ?? 0,
      maxCapacity: props.agentMaxInstances ?? 4,
      groupMetrics: [new autoscaling.GroupMetrics(autoscaling.GroupMetric.IN_SERVICE_INSTANCES)],
    });
    // Target tracking on backlog per instance (AWS's SQS pattern) as metric math. With no instance in service the
    // expression is the backlog itself, so the group can scale out from zero, which plain `visible / instances` cannot.
    const sqsVisible = (qid: string, queue: sqs.Queue) => ({
      id: qid,
      metricStat: {
        metric: { namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesVisible', dimensions: [{ name: 'QueueName', value: queue.queueName }] },
        stat: 'Sum',
      },
      returnData: false,
    });
    new autoscaling.CfnScalingPolicy(this, 'AgentBacklogScaling', {
      autoScalingGroupName: this.agents.autoScalingGroupName,
      policyType: 'TargetTrackingScaling',
      estimatedInstanceWarmup: 180,
      targetTrackingConfiguration: {
        targetValue: props.backlogPerInstance ?? 2,
        customizedMetricSpecification: {
          metrics: [
            sqsVisible('normal', this.jobQueue),
            sqsVisible('high', this.highPriorityQueue),
            {
              id: 'inservice',
              metricStat: {
                metric: { namespace: 'AWS/AutoScaling', metricName: 'GroupInServiceInstances', dimensions: [{ name: 'AutoScalingGroupName', value: this.agents.autoScalingGroupName }] },
                stat: 'Average',
              },
              returnData: false,
            },
            { id: 'backlog', expression: 'FILL(normal, 0) + FILL(high, 0)', returnData: false },
            { id: 'backlog_per_instance', expression: 'IF(inservice > 0, backlog / inservice, backlog)', label: 'Visible jobs per agent', returnData: true },
          ],
        },
      },
    });

    // ---- Operators (CLI, console, dispatch) ------------------------------------------------------------------------
    const operatorPolicy = new iam.ManagedPolicy(this, 'OperatorPolicy', {
      description: 'Attach to the operators who run tiercast dispatch/jobs and the console against this stack',
      statements: [
        ...storeStatements(),
        new iam.PolicyStatement({ sid: 'Enqueue', actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], resources: [...queueArns, this.deadLetterQueue.queueArn] }),
        new iam.PolicyStatement({ sid: 'InvokeLambdaTiers', actions: ['lambda:InvokeFunction'], resources: functions.map((f) => f.functionArn) }),
        ...runTaskStatements().filter((st) => st.sid !== 'PassTaskRoles'),
        new iam.PolicyStatement({
          sid: 'WatchFargateTasks',
          actions: ['ecs:DescribeTasks', 'ecs:StopTask'],
          resources: [this.formatArn({ service: 'ecs', resource: 'task', resourceName: `${this.cluster.clusterName}/*` })],
        }),
        new iam.PolicyStatement({ sid: 'PassTaskRoles', actions: ['iam:PassRole'], resources: [taskRole.roleArn, executionRole.roleArn] }),
        // GetMetricData has no resource-level permissions.
        new iam.PolicyStatement({ sid: 'ReadMetrics', actions: ['cloudwatch:GetMetricData'], resources: ['*'] }),
      ],
    });

    // ---- Alarms ----------------------------------------------------------------------------------------------------
    const topic = new sns.Topic(this, 'AlarmTopic', { displayName: 'Tiercast alarms', enforceSSL: true });
    if (props.alarmEmail) topic.addSubscription(new snsSubs.EmailSubscription(props.alarmEmail));
    const alarmAction = new cwActions.SnsAction(topic);
    const addAlarm = (cid: string, alarmProps: cloudwatch.AlarmProps) => {
      const alarm = new cloudwatch.Alarm(this, cid, { treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, ...alarmProps });
      alarm.addAlarmAction(alarmAction);
      this.alarms.push(alarm);
      return alarm;
    };
    const fiveMinutes = Duration.minutes(5);
    const ecsCpu = new cloudwatch.MathExpression({
      expression: '100 * used / reserved',
      label: 'ECS CPU %',
      period: fiveMinutes,
      usingMetrics: {
        used: new cloudwatch.Metric({ namespace: 'ECS/ContainerInsights', metricName: 'CpuUtilized', dimensionsMap: { ClusterName: this.cluster.clusterName }, statistic: 'Sum', period: fiveMinutes }),
        reserved: new cloudwatch.Metric({ namespace: 'ECS/ContainerInsights', metricName: 'CpuReserved', dimensionsMap: { ClusterName: this.cluster.clusterName }, statistic: 'Sum', period: fiveMinutes }),
      },
    });
    addAlarm('EcsCpuHigh', {
      alarmDescription: 'Fargate workers above 80% of their reserved CPU for 15 minutes',
      metric: ecsCpu,
      threshold: 80,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
    });
    for (const [cid, fn] of [['LambdaStandardErrors', this.lambdaStandard], ['LambdaEnhancedErrors', this.lambdaEnhanced]] as const) {
      addAlarm(cid, {
        alarmDescription: 'Lambda invocations failing (handler crashed or timed out, not a classified job failure)',
        metric: fn.metricErrors({ period: fiveMinutes, statistic: 'Sum' }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
      });
    }
    addAlarm('EscalationErrors', {
      alarmDescription: 'The escalation function is failing: jobs killed on a Lambda tier or stuck may not be moved on',
      metric: this.escalation.metricErrors({ period: fiveMinutes, statistic: 'Sum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
    });
    addAlarm('DeadLetterQueueNotEmpty', {
      alarmDescription: 'Jobs gave up after 3 receives: look at them before they expire (14 days)',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: 'Maximum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
    });
    const jobMetric = (metricName: string, tier: Tier, statistic: string, period: Duration) =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { [TIER_DIMENSION]: tier }, statistic, period });
    const fifteenMinutes = Duration.minutes(15);
    for (const tier of CLOUD_TIERS) {
      addAlarm(`FailureRate${cfnId(tier)}`, {
        alarmDescription: `More than ${Math.round((props.failureRateAlarm ?? 0.2) * 100)}% of ${tier} jobs failed in 15 minutes`,
        metric: new cloudwatch.MathExpression({
          expression: 'IF((FILL(ok, 0) + FILL(failed, 0)) > 0, FILL(failed, 0) / (FILL(ok, 0) + FILL(failed, 0)), 0)',
          label: `${tier} failure rate`,
          period: fifteenMinutes,
          usingMetrics: { ok: jobMetric('JobsSucceeded', tier, 'Sum', fifteenMinutes), failed: jobMetric('JobsFailed', tier, 'Sum', fifteenMinutes) },
        }),
        threshold: props.failureRateAlarm ?? 0.2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
      });
      const p95 = props.latencyP95AlarmSec?.[tier] ?? DEFAULT_P95_ALARM_SEC[tier];
      addAlarm(`LatencyP95${cfnId(tier)}`, {
        alarmDescription: `p95 job latency on ${tier} above ${p95} s for 30 minutes`,
        metric: jobMetric('JobLatencySeconds', tier, 'p95', fifteenMinutes),
        threshold: p95,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 2,
      });
    }

    // ---- Dashboard -------------------------------------------------------------------------------------------------
    const hour = Duration.hours(1);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.days(7) });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Job latency p50 / p95 / p99 (s)',
        width: 12,
        left: CLOUD_TIERS.flatMap((t) => ['p50', 'p95', 'p99'].map((s) => jobMetric('JobLatencySeconds', t, s, hour).with({ label: `${t} ${s}` }))),
      }),
      new cloudwatch.GraphWidget({
        title: 'Cost per tier per day (USD)',
        width: 12,
        stacked: true,
        left: CLOUD_TIERS.map((t) => jobMetric('JobCostUSD', t, 'Sum', Duration.days(1)).with({ label: t })),
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Jobs finished per hour',
        width: 8,
        stacked: true,
        left: CLOUD_TIERS.flatMap((t) => [jobMetric('JobsSucceeded', t, 'Sum', hour).with({ label: `${t} ok` }), jobMetric('JobsFailed', t, 'Sum', hour).with({ label: `${t} failed` })]),
      }),
      new cloudwatch.GraphWidget({
        title: 'Queue depth',
        width: 8,
        left: [this.jobQueue, this.highPriorityQueue, this.deadLetterQueue].map((q, i) =>
          q.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: fiveMinutes, label: ['normal', 'high', 'dead letters'][i]! }),
        ),
      }),
      new cloudwatch.GraphWidget({ title: 'ECS CPU % (Container Insights)', width: 8, left: [ecsCpu], leftAnnotations: [{ value: 80, label: 'alarm' }] }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Lambda duration against timeout (ms)',
        width: 8,
        left: functions.flatMap((f) => [f.metricDuration({ statistic: 'Maximum', period: fiveMinutes })]),
        leftAnnotations: [
          { value: LAMBDA_STANDARD.timeoutSec * 1000, label: 'lambda timeout' },
          { value: LAMBDA_ENHANCED.timeoutSec * 1000, label: 'lambda-enhanced timeout' },
        ],
      }),
      new cloudwatch.GraphWidget({ title: 'Lambda throttles', width: 8, left: functions.map((f) => f.metricThrottles({ statistic: 'Sum', period: fiveMinutes })) }),
      new cloudwatch.GraphWidget({ title: 'Lambda errors', width: 8, left: functions.map((f) => f.metricErrors({ statistic: 'Sum', period: fiveMinutes })) }),
    );
    this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', width: 24, alarms: this.alarms }));

    // ---- What the operators' configuration needs (CONVENTIONS.md names) ------------------------------------------
    const out = (name: string, value: string, description: string) => new CfnOutput(this, name.replace(/_/g, ''), { key: name.replace(/_/g, ''), value, description });
    out('TIERCAST_BUCKET', this.bucket.bucketName, 'TIERCAST_BUCKET');
    out('TIERCAST_QUEUE_URL', this.jobQueue.queueUrl, 'TIERCAST_QUEUE_URL');
    out('TIERCAST_QUEUE_URL_HIGH', this.highPriorityQueue.queueUrl, 'TIERCAST_QUEUE_URL_HIGH');
    out('DeadLetterQueueUrl', this.deadLetterQueue.queueUrl, 'Jobs that failed 3 receives');
    out('LAMBDA_FUNCTION_NAME', this.lambdaStandard.functionName, 'LAMBDA_FUNCTION_NAME');
    out('LAMBDA_FUNCTION_NAME_ENHANCED', this.lambdaEnhanced.functionName, 'LAMBDA_FUNCTION_NAME_ENHANCED');
    out('ECS_CLUSTER_NAME', this.cluster.clusterName, 'ECS_CLUSTER_NAME');
    out('ECS_TASK_DEFINITION', this.taskDefinition.family, 'ECS_TASK_DEFINITION (family: the latest revision runs)');
    out('ECS_SUBNETS', vpc.publicSubnets.map((s) => s.subnetId).join(','), 'ECS_SUBNETS (public; set TIERCAST_ECS_ASSIGN_PUBLIC_IP=true)');
    out('ECS_SECURITY_GROUPS', taskSecurityGroup.securityGroupId, 'ECS_SECURITY_GROUPS');
    out('EscalationFunctionName', this.escalation.functionName, 'Escalation and stuck-job sweep (invoke with {"sweep":true} to sweep now)');
    out('OperatorPolicyArn', operatorPolicy.managedPolicyArn, 'Attach to operators (dispatch, jobs, console)');
    out('AgentGroupName', this.agents.autoScalingGroupName, 'EC2 agent Auto Scaling group');
    out('AlarmTopicArn', topic.topicArn, 'Subscribe to receive alarms');
  }
}
