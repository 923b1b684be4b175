import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatchers } from '../../../cloud/dispatch/index.ts';
import { TiercastStack } from '../../../cloud/infra/tiercast-stack.ts';
import { loadConfig } from '../../../shared/node/config.ts';
import { stackPropsFromContext } from '../../../cloud/infra/app-context.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tiercast-cdk-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let template: Template;
let prefixed: Template;
beforeAll(() => {
  const userData = path.join(tmp, 'user-data.sh');
  writeFileSync(userData, '#!/bin/bash\necho start-the-tiercast-agent\n');
  template = Template.fromStack(new TiercastStack(new App({ outdir: path.join(tmp, 'a') }), 'Default', { agentUserDataPath: userData }));
  prefixed = Template.fromStack(
    new TiercastStack(new App({ outdir: path.join(tmp, 'b') }), 'Prefixed', {
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
    }),
  );
}, 120_000);

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
    template.resourceCountIs('AWS::SQS::Queue', 3);
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
    // The two transcode tiers plus the escalation function (same image, another command).
    template.resourceCountIs('AWS::Lambda::Function', 3);
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
    const images = Object.values(template.findResources('AWS::Lambda::Function')).map((f) => JSON.stringify(f.Properties.Code.ImageUri));
    expect(images).toHaveLength(3);
    expect(new Set(images).size).toBe(1);
    template.resourcePropertiesCountIs('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 0 }, 2);
    // Prebuilt images from ECR instead of assets.
    const prefixedImage = JSON.stringify(Object.values(prefixed.findResources('AWS::Lambda::Function'))[0]!.Properties.Code.ImageUri);
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
    expect(missing).toContain('user-data.sh was not found');

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
    expect(alarms).toHaveLength(1 + 2 + 1 + 1 + 5 + 5);
    const cpu = alarms.find((a) => a.Threshold === 80)!;
    expect(cpu.ComparisonOperator).toBe('GreaterThanThreshold');
    expect(JSON.stringify(cpu.Metrics)).toContain('ECS/ContainerInsights');
    // Both transcode functions and the escalation function.
    expect(alarms.filter((a) => a.MetricName === 'Errors' && a.Namespace === 'AWS/Lambda')).toHaveLength(3);
    expect(alarms.filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible' && a.Threshold === 1)).toHaveLength(1);
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
    // Two transcode functions, escalation, Fargate task, agents, operators.
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

  it('escalation function: same image, command handler.escalation, both function names and the dispatch settings; a 5-minute sweep', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      ImageConfig: { Command: ['handler.escalation'] },
      Timeout: 300,
      Environment: {
        Variables: Match.objectLike({
          TIERCAST_STORE: 's3',
          LAMBDA_FUNCTION_NAME: { Ref: idOf(template, 'LambdaStandard') },
          LAMBDA_FUNCTION_NAME_ENHANCED: { Ref: idOf(template, 'LambdaEnhanced') },
          ECS_CLUSTER_NAME: { Ref: idOf(template, 'Cluster', 'AWS::ECS::Cluster') },
          TIERCAST_TIERS: 'lambda,lambda-enhanced,fargate,fargate-spot,ec2',
          TIERCAST_LAMBDA_TIMEOUT_SEC: '120',
          TIERCAST_LAMBDA_ENHANCED_TIMEOUT_SEC: '600',
          TIERCAST_SWEEP_MARGIN_SEC: '300',
          TIERCAST_SWEEP_LIMIT: '200',
        }),
      },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [idOf(template, 'Escalation'), 'Arn'] }, Input: '{"sweep":true}' })],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        detail: { clusterArn: [{ 'Fn::GetAtt': [idOf(template, 'Cluster', 'AWS::ECS::Cluster'), 'Arn'] }], lastStatus: ['STOPPED'], stopCode: ['EssentialContainerExited'] },
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
    const arn = (prefix: string) => ({ 'Fn::GetAtt': [idOf(template, prefix, prefix === 'Cluster' ? 'AWS::ECS::Cluster' : undefined), 'Arn'] });
    const invoke = (role: string) => withAction(roleStatements(template, role), 'lambda:InvokeFunction').flatMap((st) => ([] as unknown[]).concat(st.Resource));
    expect(invoke('LambdaStandardRole')).toEqual([arn('LambdaEnhanced'), arn('Escalation')]);
    expect(invoke('LambdaEnhancedRole')).toEqual([arn('Escalation')]);
    expect(invoke('EscalationRole')).toEqual([arn('LambdaStandard'), arn('LambdaEnhanced')]);
    expect(invoke('FargateTaskRole')).toEqual([]);
    const passRoles = [arn('FargateTaskRole'), arn('FargateExecutionRole')];
    for (const role of ['LambdaStandardRole', 'LambdaEnhancedRole', 'EscalationRole', 'FargateTaskRole']) {
      const sts = roleStatements(template, role);
      const run = withAction(sts, 'ecs:RunTask');
      expect(run, role).toHaveLength(1);
      expect(run[0]!.Action).toBe('ecs:RunTask');
      expect(JSON.stringify(run[0]!.Resource)).toContain(`:task-definition/${Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0]!.Properties.Family}:*`);
      expect(run[0]!.Condition).toEqual({ ArnEquals: { 'ecs:cluster': arn('Cluster') } });
      const tag = withAction(sts, 'ecs:TagResource');
      expect(tag.map((st) => st.Condition), role).toEqual([{ StringEquals: { 'ecs:CreateAction': 'RunTask' } }]);
      const pass = withAction(sts, 'iam:PassRole');
      expect(pass.map((st) => st.Resource), role).toEqual([passRoles]);
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
