import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { FargateWorkers } from './fargate.ts';
import { lambdaImage, type Arch, type ImageSource } from './images.ts';
import type { JobTable } from './job-table.ts';
import { LAMBDA_ENHANCED, LAMBDA_STANDARD, lambdaArchitecture, type LambdaConcurrency, type LambdaTiers } from './lambda-tiers.ts';
import type { AgentQueues } from './queues.ts';
import { allowWildcards } from './nag.ts';
import type { ObjectStore } from './store.ts';

/** The scheduled sweep's event (cloud/lambda/escalation.ts treats any event that is not a destination record or an ECS task change as a sweep). */
export const SWEEP_EVENT = { kind: 'sweep' } as const;
/** The escalation function runs at most this many at once (sweeps, destination records and task events share it). */
export const ESCALATION_CONCURRENCY = 5;

export interface EscalationProps {
  readonly store: ObjectStore;
  readonly jobs: JobTable;
  readonly queues: AgentQueues;
  readonly fargate: FargateWorkers;
  readonly fargateDispatchEnv: Record<string, string>;
  readonly lambdas: LambdaTiers;
  readonly workerEnv: Record<string, string>;
  readonly images: ImageSource;
  readonly repoRoot: string;
  readonly arch: Arch;
  readonly concurrency: LambdaConcurrency;
  readonly sweepMarginSec?: number;
  readonly sweepLimit?: number;
  readonly sweepEveryMinutes?: number;
}

/**
 * The escalation function (same image, command handler.escalation): the on-failure destination of both transcode
 * functions, the target of this cluster's task STOPPED events, and the sweep every `sweepEveryMinutes` (default 1)
 * that claims due retries and stuck jobs from the job table and admits queued jobs under the caps.
 */
export class Escalation extends Construct {
  readonly fn: lambda.DockerImageFunction;
  readonly sweepRule: events.Rule;

  constructor(scope: Construct, id: string, props: EscalationProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const functions = props.lambdas.functions;
    const logGroup = new logs.LogGroup(stack, 'EscalationLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const role = new iam.Role(stack, 'EscalationRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Tiercast escalation: reads its bucket, writes jobs/ and outputs/, its job table, dispatch to every tier',
    });
    for (const st of props.store.workerStatements()) role.addToPolicy(st);
    role.addToPolicy(props.jobs.statement('worker'));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'Logs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'InvokeLambdaTiers', actions: ['lambda:InvokeFunction'], resources: functions.map((f) => f.functionArn) }));
    for (const st of props.fargate.runTaskStatements()) role.addToPolicy(st);
    role.addToPolicy(new iam.PolicyStatement({ sid: 'EnqueueForAgents', actions: ['sqs:SendMessage'], resources: props.queues.arns }));
    allowWildcards(role, [...props.store.workerWildcards(), ...props.jobs.wildcards(), ...props.fargate.runTaskWildcards()]);
    this.fn = new lambda.DockerImageFunction(stack, 'Escalation', {
      description: 'Tiercast escalation: re-dispatches jobs a Lambda tier was killed on, sweeps due retries and stuck jobs',
      code: lambdaImage(stack, props.images, props.repoRoot, props.arch, ['handler.escalation']),
      architecture: lambdaArchitecture(props.arch),
      memorySize: 512,
      timeout: Duration.minutes(5),
      reservedConcurrentExecutions: ESCALATION_CONCURRENCY,
      environment: {
        ...props.workerEnv,
        ...props.jobs.env,
        ...props.fargateDispatchEnv,
        ...props.queues.dispatchEnv,
        TIERCAST_HOME: '/tmp/tiercast',
        LAMBDA_FUNCTION_NAME: props.lambdas.standard.functionName,
        LAMBDA_FUNCTION_NAME_ENHANCED: props.lambdas.enhanced.functionName,
        TIERCAST_TIERS: 'lambda,lambda-enhanced,fargate,fargate-spot,ec2',
        // The sweep judges staleness by these limits: keep them equal to the functions' timeouts.
        TIERCAST_LAMBDA_TIMEOUT_SEC: String(LAMBDA_STANDARD.timeoutSec),
        TIERCAST_LAMBDA_ENHANCED_TIMEOUT_SEC: String(LAMBDA_ENHANCED.timeoutSec),
        // Admission: never more running jobs per Lambda tier than its reserved concurrency.
        TIERCAST_LAMBDA_CONCURRENCY: String(props.concurrency.standard),
        TIERCAST_LAMBDA_ENHANCED_CONCURRENCY: String(props.concurrency.enhanced),
        TIERCAST_SWEEP_MARGIN_SEC: String(props.sweepMarginSec ?? 300),
        TIERCAST_SWEEP_LIMIT: String(props.sweepLimit ?? 200),
      },
      role,
      logGroup,
    });
    // On-failure destination of both transcode functions. The invoke permission sits in a policy of its own (not the
    // roles' default policies, which the functions depend on, while the escalation function depends on their names),
    // and the async configuration waits for it: Lambda checks the role can reach the destination.
    const escalationArn = this.fn.functionArn;
    const toEscalation: lambda.IDestination = { bind: () => ({ destination: escalationArn }) };
    for (const fn of functions) {
      const policy = new iam.Policy(stack, `${fn.node.id}DestinationPolicy`, {
        roles: [fn.role!],
        statements: [new iam.PolicyStatement({ sid: 'OnFailureDestination', actions: ['lambda:InvokeFunction'], resources: [escalationArn] })],
      });
      // The router owns retries (and escalates a tier up); Lambda's own async retries would rerun the same job on the
      // same tier, so a failed run goes straight to the escalation function.
      fn.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.hours(1), onFailure: toEscalation });
      fn.node.findChild('EventInvokeConfig').node.addDependency(policy);
    }
    const every = props.sweepEveryMinutes ?? 1;
    this.sweepRule = new events.Rule(stack, 'SweepSchedule', {
      description: `Every ${every} minute(s): re-dispatch due retries, escalate stuck jobs, admit queued jobs under the caps`,
      schedule: events.Schedule.rate(Duration.minutes(every)),
      targets: [new eventsTargets.LambdaFunction(this.fn, { event: events.RuleTargetInput.fromObject(SWEEP_EVENT), retryAttempts: 0 })],
    });
    // A Fargate container killed for memory never tells the job store: the task's STOPPED event does.
    new events.Rule(stack, 'FargateTaskStopped', {
      description: 'Tiercast Fargate tasks whose container exited: the escalation function escalates memory kills',
      eventPattern: {
        source: ['aws.ecs'],
        detailType: ['ECS Task State Change'],
        detail: { clusterArn: [props.fargate.cluster.clusterArn], lastStatus: ['STOPPED'], stopCode: ['EssentialContainerExited'] },
      },
      targets: [new eventsTargets.LambdaFunction(this.fn, { retryAttempts: 2 })],
    });
  }
}
