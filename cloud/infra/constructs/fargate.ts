import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../../shared/common/metrics-query.ts';
import { fargateImage, type ImageSource } from './images.ts';
import type { JobTable } from './job-table.ts';
import type { Network } from './network.ts';
import { acceptFinding, allowWildcards, type Wildcard } from './nag.ts';
import type { ObjectStore } from './store.ts';

export const FARGATE_TASK = { cpu: 2048, memoryMiB: 8192 } as const;
export const CONTAINER_NAME = 'tiercast';

export interface FargateWorkersProps {
  readonly network: Network;
  readonly store: ObjectStore;
  readonly jobs: JobTable;
  readonly workerEnv: Record<string, string>;
  readonly images: ImageSource;
  readonly repoRoot: string;
  /** Task ephemeral storage in GiB (21-200). */
  readonly ephemeralGb: number;
}

/**
 * The fargate and fargate-spot tiers: one cluster with both capacity providers, one task definition (x86_64, the
 * image is built for linux/amd64), its roles and security group. `runTaskStatements()` is what anyone who starts
 * this task needs; the task role itself gets them too (a Spot task re-dispatches its own job on on-demand FARGATE).
 */
export class FargateWorkers extends Construct {
  readonly cluster: ecs.Cluster;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly taskRole: iam.Role;
  readonly executionRole: iam.Role;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: FargateWorkersProps) {
    super(scope, id);
    const { vpc } = props.network;
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      enableFargateCapacityProviders: true,
      // Standalone RunTask tasks report CPU only through Container Insights (the dashboard and CPU alarm use it).
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    const taskLogs = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    this.taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Tiercast Fargate worker: reads its bucket, writes jobs/ and outputs/, its job table',
    });
    for (const s of props.store.workerStatements()) this.taskRole.addToPolicy(s);
    this.taskRole.addToPolicy(props.jobs.statement('worker'));
    // awslogs does not extract EMF, so the Fargate entry publishes its job metrics itself, in its namespace only.
    this.taskRole.addToPolicy(new iam.PolicyStatement({
      sid: 'JobMetrics',
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': METRICS_NAMESPACE } },
    }));
    // The awslogs driver and the image pull add their own scoped statements to this role.
    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Pulls the Tiercast image and writes its log group',
    });
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: FARGATE_TASK.cpu,
      memoryLimitMiB: FARGATE_TASK.memoryMiB,
      ephemeralStorageGiB: props.ephemeralGb,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      taskRole: this.taskRole,
      executionRole: this.executionRole,
    });
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', { vpc, description: 'Tiercast Fargate workers: outbound only', allowAllOutbound: true });
    for (const st of this.runTaskStatements()) this.taskRole.addToPolicy(st);
    this.taskDefinition.addContainer(CONTAINER_NAME, {
      containerName: CONTAINER_NAME,
      image: fargateImage(Stack.of(this), props.images, props.repoRoot),
      essential: true,
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'job', logGroup: taskLogs }),
      // The dispatcher sets TIERCAST_JOB_ID as a container override; the tier (fargate or fargate-spot) is read from
      // the job's status, so one task definition serves both capacity providers. Resource names only: no secret
      // travels in this environment.
      environment: {
        ...props.workerEnv,
        ...props.jobs.env,
        ...this.dispatchEnv(props.network),
        TIERCAST_TIERS: 'fargate,fargate-spot',
        TIERCAST_HOME: '/work/tiercast',
        TIERCAST_FARGATE_EPHEMERAL_GB: String(props.ephemeralGb),
      },
      // Spot gives two minutes' notice: let the entry point use it to requeue the job before SIGKILL.
      stopTimeout: Duration.seconds(120),
    });
    allowWildcards(this.taskRole, [
      ...props.store.workerWildcards(),
      ...props.jobs.wildcards(),
      ...this.runTaskWildcards(),
      { resource: '*', reason: 'cloudwatch:PutMetricData has no resource-level permissions; the statement is limited to the Tiercast namespace' },
    ]);
    allowWildcards(this.executionRole, [{ resource: '*', reason: 'ecr:GetAuthorizationToken (CDK image pull grant) has no resource-level permissions' }]);
    acceptFinding(this.taskDefinition, 'AwsSolutions-ECS2', 'The environment holds resource names (bucket, table, cluster, subnets) and settings only, no secret');
  }

  /** What a worker needs to hand a job on to this tier (escalation, Spot re-dispatch): CONVENTIONS.md names. */
  dispatchEnv(network: Network): Record<string, string> {
    return {
      ECS_CLUSTER_NAME: this.cluster.clusterName,
      ECS_TASK_DEFINITION: this.taskDefinition.family,
      ECS_SUBNETS: network.publicSubnetIds.join(','),
      ECS_SECURITY_GROUPS: this.securityGroup.securityGroupId,
      // Public subnets without NAT: a task reaches ECR, S3 and CloudWatch only with a public address.
      TIERCAST_ECS_ASSIGN_PUBLIC_IP: 'true',
      TIERCAST_ECS_CONTAINER_NAME: CONTAINER_NAME,
    };
  }

  /** Why the RunTask statements name `*` resources (cdk-nag AwsSolutions-IAM5). */
  runTaskWildcards(): Wildcard[] {
    const stack = Stack.of(this);
    return [
      { resource: stack.formatArn({ service: 'ecs', resource: 'task-definition', resourceName: `${this.taskDefinition.family}:*` }), reason: 'Every revision of this one task definition family (dispatch runs the latest), in this cluster only' },
      { resource: stack.formatArn({ service: 'ecs', resource: 'task', resourceName: `${this.cluster.clusterName}/*` }), reason: 'Tag the task being started in this cluster, only as part of RunTask (ecs:CreateAction condition)' },
    ];
  }

  /**
   * RunTask of this task definition's family in this cluster, and nothing a caller could stretch through overrides:
   * the only roles it may pass (a taskRoleArn / executionRoleArn override) are this task's own two, only to ECS
   * tasks, and ECS Exec (a shell into a worker) is refused. Tagging the new task with its job id is allowed only as
   * part of RunTask. No DescribeTasks / StopTask: nothing calls them.
   */
  runTaskStatements(): iam.PolicyStatement[] {
    const stack = Stack.of(this);
    const taskDefinitionArn = stack.formatArn({ service: 'ecs', resource: 'task-definition', resourceName: `${this.taskDefinition.family}:*` });
    return [
      new iam.PolicyStatement({
        sid: 'RunFargateTasks',
        actions: ['ecs:RunTask'],
        resources: [taskDefinitionArn],
        conditions: { ArnEquals: { 'ecs:cluster': this.cluster.clusterArn } },
      }),
      new iam.PolicyStatement({
        sid: 'NoExecIntoTasks',
        effect: iam.Effect.DENY,
        actions: ['ecs:RunTask'],
        resources: [taskDefinitionArn],
        conditions: { Bool: { 'ecs:enable-execute-command': 'true' } },
      }),
      // RunTask with tags is authorised for ecs:TagResource too ("tag on create"); only as part of RunTask.
      new iam.PolicyStatement({
        sid: 'TagNewTasks',
        actions: ['ecs:TagResource'],
        resources: [stack.formatArn({ service: 'ecs', resource: 'task', resourceName: `${this.cluster.clusterName}/*` })],
        conditions: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
      }),
      new iam.PolicyStatement({
        sid: 'PassTaskRoles',
        actions: ['iam:PassRole'],
        resources: [this.taskRole.roleArn, this.executionRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    ];
  }
}
