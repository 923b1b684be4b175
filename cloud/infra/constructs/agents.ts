import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FFMPEG_PIN, ffmpegDebSha256 } from '../ffmpeg-pin.ts';
import type { JobTable } from './job-table.ts';
import type { Network } from './network.ts';
import type { AgentQueues } from './queues.ts';
import { allowWildcards } from './nag.ts';
import type { ObjectStore } from './store.ts';
import type * as sns from 'aws-cdk-lib/aws-sns';

/** Debian 12 (bookworm) AMIs, from Debian's public SSM parameters: the same ffmpeg package as CI and the images. */
export const AGENT_AMI_PARAMETER = { amd64: '/aws/service/debian/release/bookworm/latest/amd64', arm64: '/aws/service/debian/release/bookworm/latest/arm64' } as const;

export interface AgentsProps {
  readonly network: Network;
  readonly store: ObjectStore;
  readonly jobs: JobTable;
  readonly queues: AgentQueues;
  readonly repoRoot: string;
  readonly instanceType?: string;
  readonly minInstances?: number;
  readonly maxInstances?: number;
  readonly backlogPerInstance?: number;
  /** Agent bootstrap script; default agent/deploy/user-data.sh. */
  readonly userDataPath?: string;
  /** latest.json written by `npm run release:agent`; default dist/agent-release/latest.json. */
  readonly releaseManifest?: string;
  readonly configParameter?: string;
  /** Scaling events (launch, terminate, errors) are published here. */
  readonly notifications: sns.ITopic;
}

/** The release `npm run release:agent` built: the tarball and its sha256, checked again here. */
export function readAgentRelease(manifestPath: string): { file: string; sha256: string } | undefined {
  if (!existsSync(manifestPath)) return undefined;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { file: string; sha256: string };
  const file = path.resolve(path.dirname(manifestPath), manifest.file);
  const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  if (sha256 !== manifest.sha256) throw new Error(`CONFIG_INVALID: agent release ${file} has sha256 ${sha256}, but ${manifestPath} says ${manifest.sha256}: rebuild it with npm run release:agent`);
  return { file, sha256 };
}

/**
 * The EC2 agent tier: Debian 12 hosts in an Auto Scaling group scaled on backlog per instance, booted by
 * agent/deploy/user-data.sh with the agent release the stack publishes as an asset (the CDK assets bucket, which no
 * worker role can write), checked against its sha256 before it runs.
 */
export class Agents extends Construct {
  readonly group: autoscaling.AutoScalingGroup;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly release?: s3assets.Asset;

  constructor(scope: Construct, id: string, props: AgentsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const instanceType = new ec2.InstanceType(props.instanceType ?? 'c6i.2xlarge');
    const arch = instanceType.architecture === ec2.InstanceArchitecture.ARM_64 ? 'arm64' : 'amd64';
    this.logGroup = new logs.LogGroup(stack, 'AgentLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    this.role = new iam.Role(stack, 'AgentRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'Tiercast agent hosts: read their bucket, write jobs/ and outputs/, their queues, job table and log group',
    });
    for (const s of props.store.workerStatements()) this.role.addToPolicy(s);
    this.role.addToPolicy(props.jobs.statement('worker'));
    this.role.addToPolicy(new iam.PolicyStatement({
      sid: 'Queues',
      actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
      resources: props.queues.arns,
    }));
    this.role.addToPolicy(new iam.PolicyStatement({
      sid: 'Logs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
      resources: [this.logGroup.logGroupArn],
    }));
    if (props.configParameter) {
      this.role.addToPolicy(new iam.PolicyStatement({
        sid: 'AgentConfig',
        actions: ['ssm:GetParameter'],
        resources: [stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: props.configParameter.replace(/^\//, '') })],
      }));
    }
    const release = readAgentRelease(props.releaseManifest ?? path.join(props.repoRoot, 'dist/agent-release/latest.json'));
    if (release) {
      this.release = new s3assets.Asset(this, 'Release', { path: release.file });
      // Read only this object; the assets bucket is written by the deployment role alone.
      this.role.addToPolicy(new iam.PolicyStatement({
        sid: 'AgentRelease',
        actions: ['s3:GetObject'],
        resources: [stack.formatArn({ service: 's3', region: '', account: '', resource: this.release.s3BucketName, resourceName: this.release.s3ObjectKey })],
      }));
    }

    const securityGroup = new ec2.SecurityGroup(stack, 'AgentSecurityGroup', { vpc: props.network.vpc, description: 'Tiercast agents: outbound only', allowAllOutbound: true });
    const launchTemplate = new ec2.LaunchTemplate(stack, 'AgentLaunchTemplate', {
      machineImage: ec2.MachineImage.fromSsmParameter(AGENT_AMI_PARAMETER[arch]),
      instanceType,
      role: this.role,
      userData: this.userData(props, arch, release?.sha256),
      securityGroup,
      requireImdsv2: true,
      // agent/deploy/user-data.sh reads TIERCAST_* instance tags as settings (data, validated; never run as shell).
      instanceMetadataTags: true,
      associatePublicIpAddress: true,
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(100, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: true }) }],
    });
    this.group = new autoscaling.AutoScalingGroup(stack, 'Agents', {
      vpc: props.network.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      launchTemplate,
      minCapacity: props.minInstances ?? 0,
      maxCapacity: props.maxInstances ?? 4,
      groupMetrics: [new autoscaling.GroupMetrics(autoscaling.GroupMetric.IN_SERVICE_INSTANCES)],
      notifications: [{ topic: props.notifications }],
    });
    allowWildcards(this.role, [...props.store.workerWildcards(), ...props.jobs.wildcards()]);
    this.addBacklogScaling(props.queues, props.backlogPerInstance ?? 2);
  }

  private userData(props: AgentsProps, arch: 'amd64' | 'arm64', releaseSha256: string | undefined): ec2.UserData {
    const stack = Stack.of(this);
    const userData = ec2.UserData.forLinux();
    const lib = readFileSync(path.join(props.repoRoot, 'agent/deploy/bootstrap-lib.sh'), 'utf8');
    // Resource names reach the agent's script as an environment file (data: user-data.sh never sources it).
    userData.addCommands(
      'mkdir -p /etc/tiercast /usr/local/lib/tiercast',
      `cat > /etc/tiercast/agent.env <<'TIERCAST_ENV'`,
      `AWS_REGION=${stack.region}`,
      'TIERCAST_STORE=s3',
      `TIERCAST_BUCKET=${props.store.bucket.bucketName}`,
      ...(props.store.prefix ? [`TIERCAST_PREFIX=${props.store.prefix}`] : []),
      ...Object.entries(props.jobs.env).map(([k, v]) => `${k}=${v}`),
      'TIERCAST_QUEUE=sqs',
      `TIERCAST_QUEUE_URL=${props.queues.jobQueue.queueUrl}`,
      `TIERCAST_QUEUE_URL_HIGH=${props.queues.highPriorityQueue.queueUrl}`,
      `TIERCAST_AGENT_LOG_GROUP=${this.logGroup.logGroupName}`,
      ...(props.configParameter ? [`TIERCAST_SSM_CONFIG_PARAMETER=${props.configParameter}`] : []),
      ...(this.release && releaseSha256 ? [`TIERCAST_RELEASE_URL=${this.release.s3ObjectUrl}`, `TIERCAST_RELEASE_SHA256=${releaseSha256}`] : []),
      `TIERCAST_FFMPEG_VERSION=${FFMPEG_PIN.debianVersion}`,
      `TIERCAST_FFMPEG_DEB_SHA256=${ffmpegDebSha256(arch)}`,
      'TIERCAST_LOG_FORMAT=json',
      'TIERCAST_ENV',
      `cat > /usr/local/lib/tiercast/bootstrap-lib.sh <<'TIERCAST_LIB'`,
      lib.replace(/\n$/, ''),
      'TIERCAST_LIB',
    );
    const userDataPath = props.userDataPath ?? path.join(props.repoRoot, 'agent/deploy/user-data.sh');
    if (!this.release) {
      userData.addCommands(`echo "Tiercast: no agent release was built when this stack was synthesized; run npm run release:agent, then cdk deploy" >&2`, 'exit 1');
    } else if (existsSync(userDataPath)) {
      userData.addCommands(readFileSync(userDataPath, 'utf8').replace(/^#!.*\n/, ''));
    } else {
      userData.addCommands(`echo "Tiercast: agent/deploy/user-data.sh was not found when this stack was synthesized" >&2`, 'exit 1');
    }
    return userData;
  }

  /**
   * Target tracking on backlog per instance (AWS's SQS pattern) as metric math. With no instance in service the
   * expression is the backlog itself, so the group can scale out from zero, which plain `visible / instances` cannot.
   */
  private addBacklogScaling(queues: AgentQueues, target: number): void {
    const sqsVisible = (qid: string, queue: sqs.Queue) => ({
      id: qid,
      metricStat: {
        metric: { namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesVisible', dimensions: [{ name: 'QueueName', value: queue.queueName }] },
        stat: 'Sum',
      },
      returnData: false,
    });
    new autoscaling.CfnScalingPolicy(Stack.of(this), 'AgentBacklogScaling', {
      autoScalingGroupName: this.group.autoScalingGroupName,
      policyType: 'TargetTrackingScaling',
      estimatedInstanceWarmup: 180,
      targetTrackingConfiguration: {
        targetValue: target,
        customizedMetricSpecification: {
          metrics: [
            sqsVisible('normal', queues.jobQueue),
            sqsVisible('high', queues.highPriorityQueue),
            {
              id: 'inservice',
              metricStat: {
                metric: { namespace: 'AWS/AutoScaling', metricName: 'GroupInServiceInstances', dimensions: [{ name: 'AutoScalingGroupName', value: this.group.autoScalingGroupName }] },
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
  }
}
