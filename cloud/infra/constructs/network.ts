import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/**
 * Public subnets and no NAT gateway: workers only talk to S3 (through the gateway endpoint), DynamoDB (gateway
 * endpoint), SQS, ECR and CloudWatch, and a NAT gateway would cost more per month than a thousand Lambda jobs. So a
 * Fargate task needs a public IP to pull its image (the dispatchers set assignPublicIp from
 * TIERCAST_ECS_ASSIGN_PUBLIC_IP=true). Rejected traffic goes to a flow log.
 */
export class Network extends Construct {
  readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // The VPC keeps its logical ID (stack scope): replacing it would replace every subnet and security group.
    this.vpc = new ec2.Vpc(scope, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });
    const flowLogs = new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    this.vpc.addFlowLog('RejectedTraffic', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });
  }

  get publicSubnetIds(): string[] {
    return this.vpc.publicSubnets.map((s) => s.subnetId);
  }
}
