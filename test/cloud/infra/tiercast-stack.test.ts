import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { App, Aspects } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { FFMPEG_PIN, NODE_BASE_IMAGE } from '../../../cloud/infra/ffmpeg-pin.ts';
import { JOB_TABLE } from '../../../cloud/job-table-layout.ts';
import type { Agents } from '../../../cloud/infra/constructs/agents.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatchers } from '../../../cloud/dispatch/index.ts';
import { TiercastStack } from '../../../cloud/infra/tiercast-stack.ts';
import { loadConfig } from '../../../shared/node/config.ts';
import { stackPropsFromContext } from '../../../cloud/infra/app-context.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tiercast-cdk-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let template: Template;
let prefixed: Template;
let defaultStack: TiercastStack;
let prefixedStack: TiercastStack;
/** A stand-in agent release (the real one is built in agent-release.slow.test.ts): a tarball and its latest.json. */
let release: { sha256: string; manifest: string };
const assetsOf = (outdir: string, stackName: string) =>
  JSON.parse(readFileSync(path.join(outdir, `${stackName}.assets.json`), 'utf8')) as {
    files: Record<string, { source: { path: string } }>;
    dockerImages: Record<string, { source: { dockerFile: string; platform?: string; dockerBuildArgs?: Record<string, string> } }>;
  };
beforeAll(() => {
  const userData = path.join(tmp, 'user-data.sh');
  writeFileSync(userData, '#!/bin/bash\necho start-the-tiercast-agent\n');
  const rel = path.join(tmp, 'release');
  execFileSync('mkdir', ['-p', path.join(rel, 'tiercast-agent-0.0.0/bin')]);
  writeFileSync(path.join(rel, 'tiercast-agent-0.0.0/tiercast.mjs'), 'console.log("agent")\n');
  execFileSync('tar', ['-czf', path.join(rel, 'tiercast-agent-0.0.0.tgz'), '-C', rel, 'tiercast-agent-0.0.0']);
  const sha256 = createHash('sha256').update(readFileSync(path.join(rel, 'tiercast-agent-0.0.0.tgz'))).digest('hex');
  writeFileSync(path.join(rel, 'latest.json'), JSON.stringify({ file: 'tiercast-agent-0.0.0.tgz', sha256 }));
  release = { sha256, manifest: path.join(rel, 'latest.json') };
  const appA = new App({ outdir: path.join(tmp, 'a') });
  defaultStack = new TiercastStack(appA, 'Default', { agentUserDataPath: userData, agentReleaseManifest: release.manifest });
  Aspects.of(appA).add(new AwsSolutionsChecks());
  template = Template.fromStack(defaultStack);
  const appB = new App({ outdir: path.join(tmp, 'b') });
  prefixedStack = new TiercastStack(appB, 'Prefixed', {
      agentReleaseManifest: path.join(tmp, 'no-release/latest.json'),
      webhookUrl: 'https://hooks.example.com/tiercast',
      alarmsToWebhook: true,
      alarmEmail: 'ops@example.com',
      lambdaConcurrency: { standard: 7 },
      keyPrefix: 'tc/',
      inputExpirationDays: 3,
      outputsArchiveClass: 'DEEP_ARCHIVE',
      lambdaEphemeralMb: 4096,
      fargateEphemeralGb: 100,
      agentUserDataPath: path.join(tmp, 'missing.sh'),
      agentConfigParameter: '/tiercast/agent-config',
      sweepMarginSec: 600,
      sweepLimit: 50,
      sweepEveryMinutes: 10,
      images: { kind: 'ecr', repositoryName: 'tiercast', lambdaTag: 'lambda-1', fargateTag: 'fargate-1' },
  });
  Aspects.of(appB).add(new AwsSolutionsChecks());
  prefixed = Template.fromStack(prefixedStack);
}, 180_000);

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, string>> };
function statements(t: Template): Array<{ logicalId: string; statement: Statement }> {
  const out: Array<{ logicalId: string; statement: Statement }> = [];
  const resources = t.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any> }>;
  for (const [logicalId, r] of Object.entries(resources)) {
    const docs = [r.Properties?.PolicyDocument, ...((r.Properties?.Policies as Array<{ PolicyDocument: unknown }> | undefined) ?? []).map((p) => p.PolicyDocument)].filter(Boolean);
    for (const doc of docs) for (const statement of (doc as { Statement: Statement[] }).Statement) out.push({ logicalId, statement });
  }
  return out;
}

describe('TiercastStack', () => {
  it('bucket: encrypted, public access blocked, TLS only, lifecycle for raw uploads and outputs', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Id: 'expire-raw-uploads', Prefix: 'inputs/', ExpirationInDays: 7, Status: 'Enabled' }),
          Match.objectLike({
            Id: 'archive-outputs',
            Prefix: 'outputs/',
            Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }, { StorageClass: 'GLACIER', TransitionInDays: 90 }],
          }),
          Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    prefixed.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: 'tc/inputs/', ExpirationInDays: 3 }),
          Match.objectLike({ Prefix: 'tc/outputs/', Transitions: Match.arrayWith([{ StorageClass: 'DEEP_ARCHIVE', TransitionInDays: 90 }]) }),
        ]),
      },
    });
  });

  it('queues: normal and high priority, both redriving to one dead-letter queue after 3 receives', () => {
    // The agents' three, and the job-events function's on-failure queue.
    template.resourceCountIs('AWS::SQS::Queue', 4);
    const queues = template.findResources('AWS::SQS::Queue');
    const dlqId = Object.keys(queues).find((id) => id.startsWith('DeadLetterQueue'))!;
    expect(dlqId).toBeDefined();
    const redriven = Object.entries(queues).filter(([, q]) => q.Properties.RedrivePolicy);
    expect(redriven.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(['HighPriorityQueue', 'JobQueue']);
    for (const [, q] of redriven) {
      expect(q.Properties.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 3 });
    }
  });

  it('two Lambda functions from one container image: 2048 MB/120 s and 3008 MB/600 s, ephemeral storage configurable, no Lambda retries', () => {
    // The two transcode tiers plus the escalation function (same image, another command), and the job-events zip.
    template.resourceCountIs('AWS::Lambda::Function', 4);
    for (const [memory, timeout, tier] of [[2048, 120, 'lambda'], [3008, 600, 'lambda-enhanced']] as const) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        PackageType: 'Image',
        MemorySize: memory,
        Timeout: timeout,
        EphemeralStorage: { Size: 2048 },
        Environment: { Variables: Match.objectLike({ TIERCAST_TIER: tier, TIERCAST_STORE: 's3', TIERCAST_BUCKET: { Ref: Match.stringLikeRegexp('^Bucket') } }) },
      });
      prefixed.hasResourceProperties('AWS::Lambda::Function', { MemorySize: memory, EphemeralStorage: { Size: 4096 }, Environment: { Variables: Match.objectLike({ TIERCAST_PREFIX: 'tc/' }) } });
    }
    const images = Object.values(template.findResources('AWS::Lambda::Function', { Properties: { PackageType: 'Image' } })).map((f) => JSON.stringify(f.Properties.Code.ImageUri));
    expect(images).toHaveLength(3);
    expect(new Set(images).size).toBe(1);
    template.resourcePropertiesCountIs('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 0 }, 2);
    // Prebuilt images from ECR instead of assets.
    const prefixedImage = JSON.stringify(Object.values(prefixed.findResources('AWS::Lambda::Function', { Properties: { PackageType: 'Image' } }))[0]!.Properties.Code.ImageUri);
    expect(prefixedImage).toContain('/tiercast:lambda-1');
  });

  it('ECS: FARGATE and FARGATE_SPOT capacity providers, Container Insights, a 2 vCPU / 8 GB task logging to CloudWatch', () => {
    template.hasResourceProperties('AWS::ECS::ClusterCapacityProviderAssociations', {
      CapacityProviders: Match.arrayEquals(['FARGATE', 'FARGATE_SPOT']),
    });
    template.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }] });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '2048',
      Memory: '8192',
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      EphemeralStorage: { SizeInGiB: 50 },
      ContainerDefinitions: [
        Match.objectLike({
          Name: 'tiercast',
          StopTimeout: 120,
          LogConfiguration: { LogDriver: 'awslogs', Options: Match.objectLike({ 'awslogs-stream-prefix': 'job' }) },
          Environment: Match.arrayWith([{ Name: 'TIERCAST_STORE', Value: 's3' }, { Name: 'TIERCAST_FARGATE_EPHEMERAL_GB', Value: '50' }]),
        }),
      ],
    });
    prefixed.hasResourceProperties('AWS::ECS::TaskDefinition', { EphemeralStorage: { SizeInGiB: 100 } });
    // One task definition for both capacity providers: the tier comes from the job's status, not the image.
    const env = Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0]!.Properties.ContainerDefinitions[0].Environment as Array<{ Name: string }>;
    expect(env.map((e) => e.Name)).not.toContain('TIERCAST_TIER');
  });

  it('agents: launch template with the agent user data, ASG, target tracking on backlog per instance', () => {
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '0', MaxSize: '4', MetricsCollection: [{ Granularity: '1Minute', Metrics: ['GroupInServiceInstances'] }] });
    const lt = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0]!;
    const userData = JSON.stringify(lt.Properties.LaunchTemplateData.UserData);
    expect(userData).toContain('start-the-tiercast-agent');
    expect(userData).toContain('TIERCAST_QUEUE_URL_HIGH=');
    expect(userData).not.toContain('#!/bin/bash\\necho start');
    expect(lt.Properties.LaunchTemplateData.MetadataOptions).toMatchObject({ HttpTokens: 'required' });
    // The agents' config parameter: in their env file, and the only parameter they may read.
    const prefixedUserData = JSON.stringify(Object.values(prefixed.findResources('AWS::EC2::LaunchTemplate'))[0]!.Properties.LaunchTemplateData.UserData);
    expect(prefixedUserData).toContain('TIERCAST_SSM_CONFIG_PARAMETER=/tiercast/agent-config');
    const ssm = statements(prefixed).filter(({ statement }) => statement.Action === 'ssm:GetParameter');
    expect(ssm).toHaveLength(1);
    expect(JSON.stringify(ssm[0]!.statement.Resource)).toContain(':parameter/tiercast/agent-config');
    expect(statements(template).some(({ statement }) => String(statement.Action).startsWith('ssm:'))).toBe(false);
    const missing = JSON.stringify(Object.values(prefixed.findResources('AWS::EC2::LaunchTemplate'))[0]!.Properties.LaunchTemplateData.UserData);
    expect(missing).toContain('no agent release was built');
    expect(missing).not.toContain('TIERCAST_RELEASE_SHA256');

    const policy = Object.values(template.findResources('AWS::AutoScaling::ScalingPolicy'))[0]!;
    expect(policy.Properties.PolicyType).toBe('TargetTrackingScaling');
    const metrics = policy.Properties.TargetTrackingConfiguration.CustomizedMetricSpecification.Metrics as Array<Record<string, any>>;
    expect(metrics.filter((m) => m.ReturnData !== false)).toEqual([
      { Id: 'backlog_per_instance', Expression: 'IF(inservice > 0, backlog / inservice, backlog)', Label: 'Visible jobs per agent', ReturnData: true },
    ]);
    expect(metrics.map((m) => m.MetricStat?.Metric?.MetricName).filter(Boolean)).toEqual([
      'ApproximateNumberOfMessagesVisible', 'ApproximateNumberOfMessagesVisible', 'GroupInServiceInstances',
    ]);
    expect(policy.Properties.TargetTrackingConfiguration.TargetValue).toBe(2);
  });

  it('alarms: ECS CPU > 80%, Lambda errors, DLQ not empty, failure rate and p95 latency per tier', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    // CPU, two transcode functions, escalation (the sweep), DLQ, webhook failures, job-events failures, 5 + 5 per tier.
    expect(alarms).toHaveLength(1 + 2 + 1 + 1 + 1 + 1 + 5 + 5);
    const cpu = alarms.find((a) => a.Threshold === 80)!;
    expect(cpu.ComparisonOperator).toBe('GreaterThanThreshold');
    expect(JSON.stringify(cpu.Metrics)).toContain('ECS/ContainerInsights');
    // Both transcode functions and the escalation function.
    expect(alarms.filter((a) => a.MetricName === 'Errors' && a.Namespace === 'AWS/Lambda')).toHaveLength(3);
    // The agents' dead letters and the job-events function's on-failure queue.
    expect(alarms.filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible' && a.Threshold === 1)).toHaveLength(2);
    const p95 = alarms.filter((a) => a.ExtendedStatistic === 'p95' && a.MetricName === 'JobLatencySeconds' && a.Namespace === 'Tiercast');
    expect(p95.map((a) => a.Dimensions[0].Value).sort()).toEqual(['ec2', 'fargate', 'fargate-spot', 'lambda', 'lambda-enhanced']);
    expect(p95.find((a) => a.Dimensions[0].Value === 'lambda')!.Threshold).toBe(100);
    const failure = alarms.filter((a) => JSON.stringify(a.Metrics ?? []).includes('JobsFailed'));
    expect(failure).toHaveLength(5);
    expect(alarms.every((a) => Array.isArray(a.AlarmActions) && a.AlarmActions.length === 1)).toBe(true);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('IAM: no Allow statement has a wildcard action; the only wildcard Denies are the TLS-only guards', () => {
    for (const t of [template, prefixed]) {
      const all = statements(t);
      expect(all.length).toBeGreaterThan(10);
      for (const { logicalId, statement } of all) {
        const actions = ([] as string[]).concat(statement.Action);
        const wild = actions.filter((a) => a === '*' || a.includes('*'));
        if (statement.Effect === 'Allow') expect({ logicalId, wild }).toEqual({ logicalId, wild: [] });
        else if (wild.length) expect(statement.Condition).toEqual({ Bool: { 'aws:SecureTransport': 'false' } });
      }
      // No role leans on AWS managed policies (their statements would escape this check).
      for (const role of Object.values(t.findResources('AWS::IAM::Role'))) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      // No worker or operator can watch or stop tasks: nothing calls those APIs.
      expect(all.flatMap(({ statement }) => ([] as string[]).concat(statement.Action)).filter((a) => a === 'ecs:StopTask' || a === 'ecs:DescribeTasks')).toEqual([]);
      // Resource '*' only where the API has no resource-level permissions.
      const starResources = all.filter(({ statement }) => statement.Effect === 'Allow' && statement.Resource === '*').flatMap(({ statement }) => ([] as string[]).concat(statement.Action));
      expect(new Set(starResources)).toEqual(new Set(['cloudwatch:GetMetricData', 'cloudwatch:PutMetricData', 'ecr:GetAuthorizationToken']));
      const put = all.find(({ statement }) => statement.Action === 'cloudwatch:PutMetricData')!;
      expect(put.statement.Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': 'Tiercast' } });
    }
    // A key prefix scopes every object statement to it.
    const objectResources = statements(prefixed)
      .filter(({ statement }) => ([] as string[]).concat(statement.Action).includes('s3:GetObject'))
      .map(({ statement }) => JSON.stringify(statement.Resource));
    // Two transcode functions, escalation, Fargate task, agents, operators (the release read is in the default stack).
    expect(objectResources.length).toBe(6);
    for (const r of objectResources) expect(r).toContain('/tc/*');
    const list = statements(prefixed).find(({ statement }) => ([] as string[]).concat(statement.Action).includes('s3:ListBucket'))!;
    expect(list.statement.Condition).toEqual({ StringLike: { 's3:prefix': ['tc/*'] } });
  });

  it('stack outputs carry the operators\' configuration names', () => {
    const outputs = template.toJSON().Outputs as Record<string, unknown>;
    for (const key of ['TIERCASTBUCKET', 'TIERCASTQUEUEURL', 'TIERCASTQUEUEURLHIGH', 'LAMBDAFUNCTIONNAME', 'LAMBDAFUNCTIONNAMEENHANCED', 'ECSCLUSTERNAME', 'ECSTASKDEFINITION', 'ECSSUBNETS', 'ECSSECURITYGROUPS']) {
      expect(outputs).toHaveProperty(key);
    }
  });
});


type Resources = Record<string, { Type: string; Properties: Record<string, any>; DependsOn?: string | string[] }>;
const idOf = (t: Template, prefix: string, type?: string) => {
  const ids = Object.entries(t.toJSON().Resources as Resources)
    .filter(([id, r]) => new RegExp(`^${prefix}[0-9A-F]{8}$`).test(id) && (!type || r.Type === type))
    .map(([id]) => id);
  expect(ids, prefix).toHaveLength(1);
  return ids[0]!;
};
const fnEnv = (t: Template, prefix: string) => (t.toJSON().Resources as Resources)[idOf(t, prefix)]!.Properties.Environment.Variables as Record<string, unknown>;

/** Statements granted to a role, over every policy attached to it (default policy and any other). */
function roleStatements(t: Template, rolePrefix: string): Statement[] {
  const roleId = idOf(t, rolePrefix);
  const resources = t.toJSON().Resources as Resources;
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as unknown[]).some((x) => JSON.stringify(x) === JSON.stringify({ Ref: roleId })))
    .flatMap((r) => r.Properties.PolicyDocument.Statement as Statement[]);
}
const withAction = (sts: Statement[], action: string) => sts.filter((st) => ([] as string[]).concat(st.Action).includes(action));

/** Every resource another one names (Ref, Fn::GetAtt, DependsOn). */
function references(value: unknown, out: Set<string>): Set<string> {
  if (Array.isArray(value)) for (const v of value) references(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'Ref' && typeof v === 'string') out.add(v);
      else if (k === 'Fn::GetAtt' && Array.isArray(v)) out.add(String(v[0]));
      else references(v, out);
    }
  }
  return out;
}

describe('escalation loop in the stack', () => {
  it('deploys as written: no circular dependency among the resources (functions, their roles, destinations, the schedule)', () => {
    for (const t of [template, prefixed]) {
      const resources = t.toJSON().Resources as Resources;
      const edges = new Map(Object.entries(resources).map(([id, r]) => [id, [...references(r.Properties ?? {}, new Set()), ...([] as string[]).concat(r.DependsOn ?? [])].filter((d) => d in resources)]));
      const state = new Map<string, 'visiting' | 'done'>();
      const visit = (id: string, path: string[]): void => {
        if (state.get(id) === 'done') return;
        if (state.get(id) === 'visiting') throw new Error(`cycle: ${[...path, id].join(' -> ')}`);
        state.set(id, 'visiting');
        for (const d of edges.get(id)!) visit(d, [...path, id]);
        state.set(id, 'done');
      };
      for (const id of edges.keys()) visit(id, []);
    }
  });

  it('both transcode functions: no Lambda retries, on-failure destination the escalation function, after its invoke policy exists', () => {
    const escalationId = idOf(template, 'Escalation');
    const configs = Object.entries(template.toJSON().Resources as Resources).filter(([, r]) => r.Type === 'AWS::Lambda::EventInvokeConfig');
    expect(configs.map(([, r]) => r.Properties.FunctionName).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([
      { Ref: idOf(template, 'LambdaEnhanced') },
      { Ref: idOf(template, 'LambdaStandard') },
    ]);
    for (const [, r] of configs) {
      expect(r.Properties).toMatchObject({
        MaximumRetryAttempts: 0,
        MaximumEventAgeInSeconds: 3600,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [escalationId, 'Arn'] } } },
      });
      const fn = (r.Properties.FunctionName as { Ref: string }).Ref.replace(/[0-9A-F]{8}$/, '');
      expect(([] as string[]).concat(r.DependsOn ?? [])).toContain(idOf(template, `${fn}DestinationPolicy`));
    }
  });

  it('escalation function: same image, command handler.escalation, both function names and the dispatch settings; a sweep every minute', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      ImageConfig: { Command: ['handler.escalation'] },
      Timeout: 300,
      Environment: {
        Variables: Match.objectLike({
          TIERCAST_STORE: 's3',
          LAMBDA_FUNCTION_NAME: { Ref: idOf(template, 'LambdaStandard') },
          LAMBDA_FUNCTION_NAME_ENHANCED: { Ref: idOf(template, 'LambdaEnhanced') },
          ECS_CLUSTER_NAME: { Ref: idOf(template, 'FargateCluster', 'AWS::ECS::Cluster') },
          TIERCAST_TIERS: 'lambda,lambda-enhanced,fargate,fargate-spot,ec2',
          TIERCAST_LAMBDA_TIMEOUT_SEC: '120',
          TIERCAST_LAMBDA_ENHANCED_TIMEOUT_SEC: '600',
          TIERCAST_SWEEP_MARGIN_SEC: '300',
          TIERCAST_SWEEP_LIMIT: '200',
        }),
      },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [idOf(template, 'Escalation'), 'Arn'] }, Input: '{"kind":"sweep"}' })],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        detail: { clusterArn: [{ 'Fn::GetAtt': [idOf(template, 'FargateCluster', 'AWS::ECS::Cluster'), 'Arn'] }], lastStatus: ['STOPPED'], stopCode: ['EssentialContainerExited'] },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [idOf(template, 'Escalation'), 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [idOf(template, 'Escalation'), 'Arn'] },
    });
    prefixed.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
    prefixed.hasResourceProperties('AWS::Lambda::Function', {
      ImageConfig: { Command: ['handler.escalation'] },
      Environment: { Variables: Match.objectLike({ TIERCAST_SWEEP_MARGIN_SEC: '600', TIERCAST_SWEEP_LIMIT: '50', TIERCAST_PREFIX: 'tc/' }) },
    });
    // Prebuilt images: the same tag with the escalation command.
    prefixed.hasResourceProperties('AWS::Lambda::Function', { ImageConfig: { Command: ['handler.escalation'] }, Code: { ImageUri: Match.anyValue() } });
  });

  it('the escalation environment of each worker loads into dispatchers for exactly the tiers above it', async () => {
    // Stand-ins for what CloudFormation resolves, in the shapes the config schema checks.
    const resolve = (v: unknown): string => {
      if (typeof v === 'string') return v;
      const o = v as Record<string, any>;
      if (o.Ref) return /Subnet/.test(o.Ref) ? 'subnet-0abc' : /Queue/.test(o.Ref) ? `https://sqs.us-east-1.amazonaws.com/123456789012/${o.Ref}` : `name-${o.Ref}`.toLowerCase();
      if (o['Fn::GetAtt']) return o['Fn::GetAtt'][1] === 'GroupId' ? 'sg-0abc' : `${o['Fn::GetAtt'][0]}-${o['Fn::GetAtt'][1]}`;
      if (o['Fn::Join']) return (o['Fn::Join'][1] as unknown[]).map(resolve).join(o['Fn::Join'][0]);
      throw new Error(`unresolved ${JSON.stringify(v)}`);
    };
    const home = mkdtempSync(path.join(tmp, 'home-'));
    const tiersOf = async (vars: Record<string, unknown>) => {
      const env = { ...Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, resolve(v)])), AWS_REGION: 'us-east-1' };
      const config = await loadConfig({ env, home });
      const built = createDispatchers(config, {});
      built.close();
      return { enabled: config.tiers.enabled, dispatchers: Object.keys(built.dispatchers).sort() };
    };
    expect(await tiersOf(fnEnv(template, 'LambdaStandard'))).toEqual({
      enabled: ['lambda-enhanced', 'fargate', 'fargate-spot', 'ec2'],
      dispatchers: ['ec2', 'fargate', 'fargate-spot', 'lambda-enhanced'],
    });
    expect(await tiersOf(fnEnv(template, 'LambdaEnhanced'))).toEqual({ enabled: ['fargate', 'fargate-spot', 'ec2'], dispatchers: ['ec2', 'fargate', 'fargate-spot'] });
    expect((await tiersOf(fnEnv(template, 'Escalation'))).dispatchers).toEqual(['ec2', 'fargate', 'fargate-spot', 'lambda', 'lambda-enhanced']);
    const container = Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0]!.Properties.ContainerDefinitions[0].Environment as Array<{ Name: string; Value: unknown }>;
    const fargate = await tiersOf(Object.fromEntries(container.map((e) => [e.Name, e.Value])));
    expect(fargate).toEqual({ enabled: ['fargate', 'fargate-spot'], dispatchers: ['fargate', 'fargate-spot'] });
    expect(container).toEqual(expect.arrayContaining([{ Name: 'TIERCAST_ECS_ASSIGN_PUBLIC_IP', Value: 'true' }]));
  });

  it('IAM for escalation: invoke only the function(s) above, RunTask only this task definition in this cluster, PassRole only its two roles', () => {
    const arn = (prefix: string) => ({ 'Fn::GetAtt': [idOf(template, prefix, prefix === 'FargateCluster' ? 'AWS::ECS::Cluster' : undefined), 'Arn'] });
    const invoke = (role: string) => withAction(roleStatements(template, role), 'lambda:InvokeFunction').flatMap((st) => ([] as unknown[]).concat(st.Resource));
    expect(invoke('LambdaStandardRole')).toEqual([arn('LambdaEnhanced'), arn('Escalation')]);
    expect(invoke('LambdaEnhancedRole')).toEqual([arn('Escalation')]);
    expect(invoke('EscalationRole')).toEqual([arn('LambdaStandard'), arn('LambdaEnhanced')]);
    expect(invoke('FargateTaskRole')).toEqual([]);
    const passRoles = [arn('FargateTaskRole'), arn('FargateExecutionRole')];
    for (const role of ['LambdaStandardRole', 'LambdaEnhancedRole', 'EscalationRole', 'FargateTaskRole']) {
      const sts = roleStatements(template, role);
      const run = withAction(sts, 'ecs:RunTask').filter((st) => st.Effect === 'Allow');
      expect(run, role).toHaveLength(1);
      // No override reaches beyond the task definition: no ECS Exec, only its own roles, only to ECS tasks.
      expect(withAction(sts, 'ecs:RunTask').filter((st) => st.Effect === 'Deny').map((st) => st.Condition), role).toEqual([{ Bool: { 'ecs:enable-execute-command': 'true' } }]);
      expect(run[0]!.Action).toBe('ecs:RunTask');
      expect(JSON.stringify(run[0]!.Resource)).toContain(`:task-definition/${Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0]!.Properties.Family}:*`);
      expect(run[0]!.Condition).toEqual({ ArnEquals: { 'ecs:cluster': arn('FargateCluster') } });
      const tag = withAction(sts, 'ecs:TagResource');
      expect(tag.map((st) => st.Condition), role).toEqual([{ StringEquals: { 'ecs:CreateAction': 'RunTask' } }]);
      const pass = withAction(sts, 'iam:PassRole');
      expect(pass.map((st) => st.Resource), role).toEqual([passRoles]);
      expect(pass[0]!.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
    }
    for (const role of ['LambdaStandardRole', 'LambdaEnhancedRole', 'EscalationRole']) {
      const send = withAction(roleStatements(template, role), 'sqs:SendMessage');
      expect(send.map((st) => st.Action), role).toEqual(['sqs:SendMessage']);
      expect(send[0]!.Resource).toEqual([arn('JobQueue'), arn('HighPriorityQueue')]);
    }
    expect(withAction(roleStatements(template, 'FargateTaskRole'), 'sqs:SendMessage')).toEqual([]);
  });
});

describe('cdk context', () => {
  it('validates the tiercast context object and names the bad field', () => {
    expect(stackPropsFromContext(undefined)).toEqual({ stackName: 'Tiercast', props: {} });
    expect(stackPropsFromContext('{"keyPrefix":"a/","lambdaEphemeralMb":1024}').props).toEqual({ keyPrefix: 'a/', lambdaEphemeralMb: 1024 });
    expect(() => stackPropsFromContext({ lambdaEphemeralMb: 100 })).toThrow(/tiercast\.lambdaEphemeralMb/);
    expect(() => stackPropsFromContext({ keyPrefix: 'no-slash' })).toThrow(/tiercast\.keyPrefix/);
    expect(() => stackPropsFromContext({ bogus: 1 })).toThrow(/CONFIG_INVALID/);
    expect(stackPropsFromContext({ sweepMarginSec: 120, sweepEveryMinutes: 2 }).props).toEqual({ sweepMarginSec: 120, sweepEveryMinutes: 2 });
    expect(() => stackPropsFromContext({ sweepEveryMinutes: 0.5 })).toThrow(/tiercast\.sweepEveryMinutes/);
  });
});

/** The logical IDs of every worker role: both transcode functions, escalation, the Fargate task, the agents. */
const WORKER_ROLES = ['LambdaStandardRole', 'LambdaEnhancedRole', 'EscalationRole', 'FargateTaskRole', 'AgentRole'];
const S3_WRITES = ['s3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:AbortMultipartUpload', 's3:PutObjectAcl'];
const resourcesOf = (st: Statement) => ([] as unknown[]).concat(st.Resource).map((r) => JSON.stringify(r));

describe('least privilege (issue 9 §4)', () => {
  it('workers write and delete only under outputs/: never inputs, never the release; only operators delete anywhere', () => {
    for (const [t, pre] of [[template, ''], [prefixed, 'tc/']] as const) {
      for (const role of WORKER_ROLES) {
        const writes = roleStatements(t, role).filter((st) => st.Effect === 'Allow' && ([] as string[]).concat(st.Action).some((a) => a.startsWith('s3:') && S3_WRITES.includes(a)));
        const resources = writes.flatMap(resourcesOf);
        // outputs/ only: job state is in the job table, so no worker writes jobs/ in the bucket either.
        expect(resources, role).toEqual([expect.stringMatching(new RegExp(`/${pre}outputs/\\*"\\]\\]}$`))]);
        // No delete of anything else (inputs/ or the whole prefix), no write on the assets bucket holding the release.
        expect(resources.some((r) => r.includes('inputs') || r.includes('releases') || r.includes('cdk-')), role).toBe(false);
      }
      const operator = statements(t).filter(({ logicalId, statement }) => logicalId.startsWith('OperatorPolicy') && ([] as string[]).concat(statement.Action).includes('s3:DeleteObject'));
      expect(operator.flatMap(({ statement }) => resourcesOf(statement))).toEqual([expect.stringMatching(new RegExp(`/${pre}\\*"\\]\\]}$`))]);
    }
    // The release is read by the agents only, that one object, from the CDK assets bucket no worker may write.
    const releaseReads = statements(template).filter(({ statement }) => JSON.stringify(statement.Resource).includes('cdk-') && JSON.stringify(statement.Action).includes('s3:'));
    expect(releaseReads.map(({ logicalId, statement }) => [logicalId.replace(/[0-9A-F]{8}$/, ''), statement.Action])).toEqual([['AgentRoleDefaultPolicy', 's3:GetObject']]);
    const asset = (defaultStack.node.findChild('AgentTier') as Agents).release!;
    expect(JSON.stringify(releaseReads[0]!.statement.Resource)).toContain(`/${asset.assetHash}.tgz`);
    expect(Object.values(assetsOf(path.join(tmp, 'a'), 'Default').files).map((f) => f.source.path)).toContain(`asset.${asset.assetHash}.tgz`);
  });

  it('bucket: versioned, noncurrent versions expire, access logs in a bucket of their own', () => {
    const buckets = template.findResources('AWS::S3::Bucket');
    const main = buckets[idOf(template, 'Bucket')]!.Properties;
    expect(main.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(main.LifecycleConfiguration.Rules).toContainEqual(expect.objectContaining({ Id: 'expire-noncurrent-versions', NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' }));
    expect(main.LoggingConfiguration).toMatchObject({ DestinationBucketName: { Ref: expect.stringMatching(/^StoreAccessLogs/) } });
    expect(template.toJSON().Resources[idOf(template, 'Bucket')].DeletionPolicy).toBe('Retain');
  });

  it('reserved concurrency per function: the admission caps, set from props and given as stack outputs', () => {
    const reserved = (t: Template, prefix: string) => (t.toJSON().Resources as Resources)[idOf(t, prefix)]!.Properties.ReservedConcurrentExecutions;
    expect([reserved(template, 'LambdaStandard'), reserved(template, 'LambdaEnhanced'), reserved(template, 'Escalation')]).toEqual([50, 10, 5]);
    expect([reserved(prefixed, 'LambdaStandard'), reserved(prefixed, 'LambdaEnhanced')]).toEqual([7, 10]);
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) expect(fn.Properties.ReservedConcurrentExecutions).toBeGreaterThan(0);
    const outputs = prefixed.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.LambdaConcurrencyStandard!.Value).toBe('7');
    expect(outputs.LambdaConcurrencyEnhanced!.Value).toBe('10');
    // The sweep admits under the same caps.
    expect(fnEnv(prefixed, 'Escalation')).toMatchObject({ TIERCAST_LAMBDA_CONCURRENCY: '7', TIERCAST_LAMBDA_ENHANCED_CONCURRENCY: '10' });
    expect(stackPropsFromContext({ lambdaConcurrency: { standard: 3 } }).props).toEqual({ lambdaConcurrency: { standard: 3 } });
    expect(() => stackPropsFromContext({ lambdaConcurrency: { standard: 0 } })).toThrow(/tiercast\.lambdaConcurrency\.standard/);
  });

  it('images: platform pinned to the functions\' architecture, one pinned base image and ffmpeg, the Dockerfiles\' defaults equal the pin', () => {
    const images = Object.values(assetsOf(path.join(tmp, 'a'), 'Default').dockerImages).map((i) => i.source);
    expect(images.map((i) => i.dockerFile).sort()).toEqual(['cloud/fargate/Dockerfile', 'cloud/lambda/Dockerfile']);
    for (const image of images) {
      expect(image.platform).toBe('linux/amd64');
      expect(image.dockerBuildArgs).toMatchObject({ NODE_BASE: NODE_BASE_IMAGE, FFMPEG_VERSION: FFMPEG_PIN.debianVersion, FFMPEG_DEB_SHA256: FFMPEG_PIN.debSha256.amd64 });
    }
    expect(NODE_BASE_IMAGE).toMatch(/^node:22-bookworm-slim@sha256:[0-9a-f]{64}$/);
    for (const file of ['cloud/lambda/Dockerfile', 'cloud/fargate/Dockerfile']) {
      const text = readFileSync(path.join(import.meta.dirname, '../../..', file), 'utf8');
      const arg = (name: string) => new RegExp(`^ARG ${name}=(.*)$`, 'm').exec(text)?.[1];
      expect({ file, base: arg('NODE_BASE'), ffmpeg: arg('FFMPEG_VERSION'), sha: arg('FFMPEG_DEB_SHA256') }).toEqual({
        file, base: NODE_BASE_IMAGE, ffmpeg: FFMPEG_PIN.debianVersion, sha: FFMPEG_PIN.debSha256.amd64,
      });
      expect(text).toMatch(/--target=node22 /);
      expect(text).toMatch(/sha256sum -c -/);
    }
    // The functions run where their image was built for.
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) expect(fn.Properties.Architectures).toEqual(['x86_64']);
    // An architecture with no pinned ffmpeg hash cannot be built: synth says which file to fix.
    expect(() => new TiercastStack(new App({ outdir: path.join(tmp, 'arm') }), 'Arm', { lambdaArchitecture: 'arm64', agentReleaseManifest: release.manifest })).toThrow(/ffmpeg-pin\.ts/);
  });

  it('the ffmpeg pinned for the cloud tiers is the major CI tests against (Debian\'s /usr/bin/ffmpeg)', () => {
    const ci = /ffmpeg version (\d+\.\d+)/.exec(execFileSync('ffmpeg', ['-hide_banner', '-version'], { encoding: 'utf8' }))![1];
    expect(FFMPEG_PIN.version.startsWith(`${ci}.`)).toBe(true);
    expect(FFMPEG_PIN.debianVersion).toBe(`7:${FFMPEG_PIN.version}`);
  });

  it('runtimes: zip functions on nodejs22.x or later; the agents boot Debian 12 with the pinned ffmpeg', () => {
    const zips = Object.values(template.findResources('AWS::Lambda::Function')).filter((f) => f.Properties.Runtime);
    expect(zips.length).toBe(1);
    for (const fn of zips) expect(Number(/^nodejs(\d+)\.x$/.exec(fn.Properties.Runtime)![1])).toBeGreaterThanOrEqual(22);
    const params = template.toJSON().Parameters as Record<string, { Type: string; Default: string }>;
    expect(Object.values(params).map((p) => p.Default)).toContain('/aws/service/debian/release/bookworm/latest/amd64');
    const userData = JSON.stringify(Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0]!.Properties.LaunchTemplateData.UserData);
    expect(userData).toContain(`TIERCAST_FFMPEG_VERSION=${FFMPEG_PIN.debianVersion}`);
    expect(userData).toContain(`TIERCAST_FFMPEG_DEB_SHA256=${FFMPEG_PIN.debSha256.amd64}`);
    expect(userData).toContain(`TIERCAST_RELEASE_SHA256=${release.sha256}`);
    // The hash check user-data runs is agent/deploy/bootstrap-lib.sh, verbatim.
    const lib = readFileSync(path.join(import.meta.dirname, '../../../agent/deploy/bootstrap-lib.sh'), 'utf8');
    expect(JSON.parse(`"${/cat > \/usr\/local\/lib\/tiercast\/bootstrap-lib.sh <<'TIERCAST_LIB'\\n(.*?)\\nTIERCAST_LIB/.exec(userData)![1]}"`)).toBe(lib.replace(/\n$/, ''));
  });

  it('Fargate tasks in the public subnets get a public IP; the scaling group notifies the alarm topic', () => {
    const container = Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0]!.Properties.ContainerDefinitions[0].Environment as Array<{ Name: string; Value: unknown }>;
    expect(container).toContainEqual({ Name: 'TIERCAST_ECS_ASSIGN_PUBLIC_IP', Value: 'true' });
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { NotificationConfigurations: [Match.objectLike({ TopicARN: { Ref: idOf(template, 'AlarmTopic') } })] });
    template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT' });
  });
});

describe('job control plane (issue 8 §8)', () => {
  const tableId = () => idOf(template, 'JobsTable', 'AWS::DynamoDB::Table');
  const tableArn = () => ({ 'Fn::GetAtt': [tableId(), 'Arn'] });

  it('one DynamoDB table: on-demand, PITR, encrypted, TTL, NEW_AND_OLD_IMAGES stream, pk/sk, three GSIs from the shared layout, retained', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    const table = (template.toJSON().Resources as Resources)[tableId()]! as unknown as { Properties: Record<string, any>; DeletionPolicy: string; UpdateReplacePolicy: string };
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
    const p = table.Properties;
    expect(p).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: JOB_TABLE.ttlAttribute, Enabled: true },
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      KeySchema: [{ AttributeName: JOB_TABLE.partitionKey, KeyType: 'HASH' }, { AttributeName: JOB_TABLE.sortKey, KeyType: 'RANGE' }],
    });
    for (const def of p.AttributeDefinitions as Array<{ AttributeType: string }>) expect(def.AttributeType).toBe('S');
    const gsis = p.GlobalSecondaryIndexes as Array<Record<string, any>>;
    expect(gsis.map((g) => g.IndexName).sort()).toEqual(['byAdmission', 'byChange', 'byStage']);
    for (const index of [JOB_TABLE.byStage, JOB_TABLE.byChange, JOB_TABLE.byAdmission]) {
      expect(gsis.find((g) => g.IndexName === index.indexName)).toEqual({
        IndexName: index.indexName,
        KeySchema: [{ AttributeName: index.partitionKey, KeyType: 'HASH' }, { AttributeName: index.sortKey, KeyType: 'RANGE' }],
        Projection: { ProjectionType: 'ALL' },
      });
      expect(p.AttributeDefinitions).toEqual(expect.arrayContaining([{ AttributeName: index.partitionKey, AttributeType: 'S' }, { AttributeName: index.sortKey, AttributeType: 'S' }]));
    }
  });

  it('every writer of job state gets TIERCAST_JOB_STORE=dynamodb and the table name', () => {
    const jobEnv = { TIERCAST_JOB_STORE: 'dynamodb', TIERCAST_JOB_TABLE: { Ref: tableId() } };
    for (const fn of ['LambdaStandard', 'LambdaEnhanced', 'Escalation']) expect(fnEnv(template, fn), fn).toMatchObject(jobEnv);
    const container = Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0]!.Properties.ContainerDefinitions[0].Environment;
    expect(container).toEqual(expect.arrayContaining([{ Name: 'TIERCAST_JOB_STORE', Value: 'dynamodb' }, { Name: 'TIERCAST_JOB_TABLE', Value: { Ref: tableId() } }]));
    const userData = JSON.stringify(Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0]!.Properties.LaunchTemplateData.UserData);
    expect(userData).toContain(`TIERCAST_JOB_STORE=dynamodb\\nTIERCAST_JOB_TABLE=",{"Ref":"${tableId()}"}`);
  });

  it('IAM on the table: specific actions only, resources only the table and its indexes (its stream for the consumer alone)', () => {
    const allowed = new Set([JSON.stringify(tableArn()), JSON.stringify({ 'Fn::Join': ['', [tableArn(), '/index/*']] })]);
    const stream = JSON.stringify({ 'Fn::Join': ['', [tableArn(), '/stream/*']] });
    const dynamo = statements(template).filter(({ statement }) => ([] as string[]).concat(statement.Action).some((a) => a.startsWith('dynamodb:')));
    const holders = new Set(dynamo.map(({ logicalId }) => logicalId.replace(/[0-9A-F]{8}$/, '')));
    expect([...holders].sort()).toEqual(['AgentRoleDefaultPolicy', 'EscalationRoleDefaultPolicy', 'FargateTaskRoleDefaultPolicy', 'JobEventsRoleDefaultPolicy', 'LambdaEnhancedRoleDefaultPolicy', 'LambdaStandardRoleDefaultPolicy', 'OperatorPolicy']);
    for (const { logicalId, statement } of dynamo) {
      const actions = ([] as string[]).concat(statement.Action);
      expect(actions.every((a) => /^dynamodb:[A-Z][A-Za-z]+$/.test(a)), logicalId).toBe(true);
      const streamActions = actions.filter((a) => /Stream|GetRecords|GetShardIterator/.test(a));
      if (streamActions.length) {
        expect(logicalId).toMatch(/^JobEventsRole/);
        expect(resourcesOf(statement)).toEqual([stream]);
        expect(streamActions.sort()).toEqual(['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams']);
      } else {
        expect(new Set(resourcesOf(statement)), logicalId).toEqual(allowed);
      }
      // Workers never scan or drop the table.
      expect(actions.filter((a) => ['dynamodb:Scan', 'dynamodb:DeleteTable', 'dynamodb:UpdateTable'].includes(a)), logicalId).toEqual([]);
    }
    const workerActions = withAction(roleStatements(template, 'LambdaStandardRole'), 'dynamodb:UpdateItem')[0]!.Action;
    expect(workerActions).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem', 'dynamodb:TransactWriteItems']));
  });

  it('the stream consumer: cloud/lambda/job-events.ts handler, triggered by the table stream with bisect, retries and an SQS on-failure destination', () => {
    const fnId = idOf(template, 'JobEventsFunction', 'AWS::Lambda::Function');
    const fn = (template.toJSON().Resources as Resources)[fnId]!.Properties;
    expect(fn.Handler).toBe('index.handler');
    const failures = idOf(template, 'JobEventsFailures', 'AWS::SQS::Queue');
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId },
      EventSourceArn: { 'Fn::GetAtt': [tableId(), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [failures, 'Arn'] } } },
    });
    const mapping = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).find((m) => JSON.stringify(m.Properties.FunctionName).includes(fnId))!;
    expect(([] as string[]).concat(mapping.DependsOn ?? []).some((d) => d.startsWith('JobEventsRoleDefaultPolicy'))).toBe(true);
    // The on-failure destination needs send on that queue only.
    expect(withAction(roleStatements(template, 'JobEventsRole'), 'sqs:SendMessage').flatMap((st) => st.Resource)).toEqual([{ 'Fn::GetAtt': [failures, 'Arn'] }]);
  });

  it('consumer environment: the store, the table, the webhook URL when given, the secret only by ARN; PutEvents on the default bus with source tiercast', () => {
    const secretId = idOf(template, 'JobEventsWebhookSecret', 'AWS::SecretsManager::Secret');
    expect(fnEnv(template, 'JobEventsFunction')).toEqual({
      TIERCAST_JOB_STORE: 'dynamodb',
      TIERCAST_JOB_TABLE: { Ref: tableId() },
      TIERCAST_WEBHOOK_SECRET_ARN: { Ref: secretId },
      TIERCAST_EVENT_SOURCE: 'tiercast',
      TIERCAST_LOG_FORMAT: 'json',
    });
    expect(fnEnv(prefixed, 'JobEventsFunction')).toMatchObject({ TIERCAST_WEBHOOK_URL: 'https://hooks.example.com/tiercast' });
    // No environment anywhere holds a secret value (only the ARN above).
    for (const t of [template, prefixed]) for (const f of Object.values(t.findResources('AWS::Lambda::Function'))) expect(Object.keys(f.Properties.Environment.Variables)).not.toContain('TIERCAST_WEBHOOK_SECRET');
    const sts = roleStatements(template, 'JobEventsRole');
    expect(withAction(sts, 'secretsmanager:GetSecretValue').map((st) => st.Resource)).toEqual([{ Ref: secretId }]);
    const put = withAction(sts, 'events:PutEvents');
    expect(put).toHaveLength(1);
    expect(JSON.stringify(put[0]!.Resource)).toContain(':event-bus/default');
    expect(put[0]!.Condition).toEqual({ StringEquals: { 'events:source': 'tiercast' } });
  });

  it('alarms: sweep errors, webhook delivery failures (EMF, Tiercast namespace), on-failure queue depth; alarms can reach the webhook', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    const webhook = alarms.find((a) => a.MetricName === 'WebhookDeliveryFailed')!;
    expect(webhook).toMatchObject({ Namespace: 'Tiercast', Statistic: 'Sum', Threshold: 1 });
    const depth = alarms.find((a) => JSON.stringify(a.Dimensions ?? []).includes(idOf(template, 'JobEventsFailures', 'AWS::SQS::Queue')))!;
    expect(depth.MetricName).toBe('ApproximateNumberOfMessagesVisible');
    const sweep = alarms.find((a) => a.MetricName === 'Errors' && JSON.stringify(a.Dimensions).includes(idOf(template, 'Escalation')))!;
    expect(sweep.Threshold).toBe(1);
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    prefixed.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'https', Endpoint: 'https://hooks.example.com/tiercast' });
    prefixed.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  it('stack outputs name the table and the consumer\'s failure queue', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.TIERCASTJOBTABLE!.Value).toEqual({ Ref: tableId() });
    expect(outputs).toHaveProperty('JobEventsFailureQueueUrl');
    expect(outputs).toHaveProperty('WebhookSecretArn');
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('no unsuppressed finding on either stack', () => {
    for (const stack of [defaultStack, prefixedStack]) {
      const findings = [...Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')), ...Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'))];
      expect(findings.map((f) => `${f.id}: ${String(f.entry.data).slice(0, 120)}`)).toEqual([]);
    }
  });

  it('every suppression gives its reason, and every wildcard suppression names the one resource it allows', () => {
    let count = 0;
    for (const t of [template, prefixed]) {
      for (const [logicalId, r] of Object.entries(t.toJSON().Resources as Record<string, { Metadata?: { cdk_nag?: { rules_to_suppress: Array<{ id: string; reason: string; applies_to?: unknown[] }> } } }>)) {
        for (const rule of r.Metadata?.cdk_nag?.rules_to_suppress ?? []) {
          count++;
          expect(rule.reason.length, `${logicalId} ${rule.id}`).toBeGreaterThan(30);
          if (rule.id === 'AwsSolutions-IAM5') {
            expect(rule.applies_to, logicalId).toHaveLength(1);
            expect(rule.applies_to![0], logicalId).toMatch(/^Resource::/);
          }
        }
      }
    }
    expect(count).toBeGreaterThan(10);
    // None is stack-wide.
    expect(JSON.stringify(template.toJSON().Metadata ?? {})).not.toContain('cdk_nag');
  });
});
