import { Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { FargateWorkers } from './fargate.ts';
import { lambdaImage, type Arch, type ImageSource } from './images.ts';
import type { JobTable } from './job-table.ts';
import type { AgentQueues } from './queues.ts';
import { allowWildcards } from './nag.ts';
import type { ObjectStore } from './store.ts';

export const LAMBDA_STANDARD = { memoryMb: 2048, timeoutSec: 120 } as const;
export const LAMBDA_ENHANCED = { memoryMb: 3008, timeoutSec: 600 } as const;

/** Reserved concurrency per transcode function: the Lambda tiers' admission caps. */
export interface LambdaConcurrency {
  readonly standard: number;
  readonly enhanced: number;
}
export const DEFAULT_LAMBDA_CONCURRENCY: LambdaConcurrency = { standard: 50, enhanced: 10 };

export interface LambdaTiersProps {
  readonly store: ObjectStore;
  readonly jobs: JobTable;
  readonly queues: AgentQueues;
  readonly fargate: FargateWorkers;
  readonly fargateDispatchEnv: Record<string, string>;
  readonly workerEnv: Record<string, string>;
  readonly images: ImageSource;
  readonly repoRoot: string;
  readonly arch: Arch;
  /** /tmp of both functions in MiB. */
  readonly ephemeralMb: number;
  readonly concurrency: LambdaConcurrency;
}

export const lambdaArchitecture = (arch: Arch) => (arch === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64);

/**
 * The lambda and lambda-enhanced tiers: one image, two sizes, each with its own role and log group, and a reserved
 * concurrency that caps how many jobs each tier runs at once (the admission caps; stack outputs say them).
 * Escalation targets: lambda -> lambda-enhanced -> Fargate (Spot policy) -> EC2 agents; lambda-enhanced -> Fargate ->
 * EC2. A function cannot name itself in its environment, and neither escalates onto its own tier.
 */
export class LambdaTiers extends Construct {
  readonly standard: lambda.DockerImageFunction;
  readonly enhanced: lambda.DockerImageFunction;

  constructor(scope: Construct, id: string, props: LambdaTiersProps) {
    super(scope, id);
    const code = lambdaImage(Stack.of(this), props.images, props.repoRoot, props.arch);
    const enqueue = new iam.PolicyStatement({ sid: 'EnqueueForAgents', actions: ['sqs:SendMessage'], resources: props.queues.arns });
    this.enhanced = this.makeFunction('LambdaEnhanced', 'lambda-enhanced', LAMBDA_ENHANCED, props.concurrency.enhanced, code, props, {
      env: { ...props.fargateDispatchEnv, ...props.queues.dispatchEnv, TIERCAST_TIERS: 'fargate,fargate-spot,ec2' },
      statements: [...props.fargate.runTaskStatements(), enqueue],
    });
    this.standard = this.makeFunction('LambdaStandard', 'lambda', LAMBDA_STANDARD, props.concurrency.standard, code, props, {
      env: { ...props.fargateDispatchEnv, ...props.queues.dispatchEnv, LAMBDA_FUNCTION_NAME_ENHANCED: this.enhanced.functionName, TIERCAST_TIERS: 'lambda-enhanced,fargate,fargate-spot,ec2' },
      statements: [
        new iam.PolicyStatement({ sid: 'InvokeEnhanced', actions: ['lambda:InvokeFunction'], resources: [this.enhanced.functionArn] }),
        ...props.fargate.runTaskStatements(),
        enqueue,
      ],
    });
  }

  get functions(): lambda.DockerImageFunction[] {
    return [this.standard, this.enhanced];
  }

  private makeFunction(
    cid: string,
    tier: 'lambda' | 'lambda-enhanced',
    size: { memoryMb: number; timeoutSec: number },
    reserved: number,
    code: lambda.DockerImageCode,
    props: LambdaTiersProps,
    escalation: { env: Record<string, string>; statements: iam.PolicyStatement[] },
  ): lambda.DockerImageFunction {
    // Scope: the stack, so the functions keep their logical IDs and names (operators' configuration holds them).
    const scope = Stack.of(this);
    const logGroup = new logs.LogGroup(scope, `${cid}Logs`, { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const role = new iam.Role(scope, `${cid}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Tiercast ${tier} worker: reads its bucket, writes jobs/ and outputs/, its job table, its log group`,
    });
    for (const s of props.store.workerStatements()) role.addToPolicy(s);
    role.addToPolicy(props.jobs.statement('worker'));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'Logs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    // The handler escalates a job it hands back straight to the next tier: exactly the dispatch calls that needs.
    for (const st of escalation.statements) role.addToPolicy(st);
    allowWildcards(role, [...props.store.workerWildcards(), ...props.jobs.wildcards(), ...props.fargate.runTaskWildcards()]);
    return new lambda.DockerImageFunction(scope, cid, {
      description: `Tiercast ${tier} tier: one transcode job per invocation`,
      code,
      architecture: lambdaArchitecture(props.arch),
      memorySize: size.memoryMb,
      timeout: Duration.seconds(size.timeoutSec),
      ephemeralStorageSize: Size.mebibytes(props.ephemeralMb),
      reservedConcurrentExecutions: reserved,
      // The handler checks free /tmp and prices its run from these; the configuration must match the function.
      environment: {
        ...props.workerEnv,
        ...props.jobs.env,
        TIERCAST_TIER: tier,
        TIERCAST_HOME: '/tmp/tiercast',
        TIERCAST_LAMBDA_EPHEMERAL_MB: String(props.ephemeralMb),
        TIERCAST_LAMBDA_TIMEOUT_SEC: String(LAMBDA_STANDARD.timeoutSec),
        TIERCAST_LAMBDA_ENHANCED_TIMEOUT_SEC: String(LAMBDA_ENHANCED.timeoutSec),
        ...escalation.env,
      },
      role,
      logGroup,
    });
  }
}
