import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { JOB_TABLE } from '../../job-table-layout.ts';
import type { Wildcard } from './nag.ts';

/** What each writer of job state may do to the table; nothing gets a wildcard action. */
export const JOB_TABLE_ACTIONS = {
  /** Workers and the escalation sweep: read, conditional writes, leases, queries on the indexes. */
  worker: [
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:Query',
    'dynamodb:ConditionCheckItem',
    'dynamodb:TransactWriteItems',
    'dynamodb:TransactGetItems',
  ],
  /** The operators also delete jobs with their events (BatchWriteItem) and read counts (DescribeTable). */
  operator: [
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:BatchWriteItem',
    'dynamodb:Query',
    'dynamodb:ConditionCheckItem',
    'dynamodb:TransactWriteItems',
    'dynamodb:TransactGetItems',
    'dynamodb:DescribeTable',
  ],
  /** The stream consumer: the stream, and the job item it annotates with delivery log entries. */
  streamRead: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
} as const;

/**
 * The job table (issue 8): one table whose layout is cloud/job-table-layout.ts, shared with the DynamoDB job store.
 * On-demand, point-in-time recovery, AWS-managed KMS encryption, TTL on finished jobs, a NEW_AND_OLD_IMAGES stream
 * (the outbox the job-events function reads), three sparse GSIs with every attribute projected. Retained on stack
 * deletion: it is the source of truth for every job.
 */
export class JobTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const str = (name: string) => ({ name, type: dynamodb.AttributeType.STRING });
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: str(JOB_TABLE.partitionKey),
      sortKey: str(JOB_TABLE.sortKey),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: JOB_TABLE.ttlAttribute,
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const index of [JOB_TABLE.byStage, JOB_TABLE.byChange, JOB_TABLE.byAdmission]) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: str(index.partitionKey),
        sortKey: str(index.sortKey),
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
  }

  /** The environment every reader and writer of job state gets. */
  get env(): Record<string, string> {
    return { TIERCAST_JOB_STORE: 'dynamodb', TIERCAST_JOB_TABLE: this.table.tableName };
  }

  /** The table and its indexes: the only resources job-state statements name. */
  get arns(): string[] {
    return [this.table.tableArn, `${this.table.tableArn}/index/*`];
  }

  statement(kind: 'worker' | 'operator'): iam.PolicyStatement {
    return new iam.PolicyStatement({ sid: 'JobTable', actions: [...JOB_TABLE_ACTIONS[kind]], resources: this.arns });
  }

  /** Why job-state statements name `*` resources (cdk-nag AwsSolutions-IAM5). */
  wildcards(): Wildcard[] {
    return [{ resource: `${this.table.tableArn}/index/*`, reason: 'The job table\'s own GSIs (byStage, byChange, byAdmission): Query on an index needs its ARN' }];
  }

  streamWildcards(): Wildcard[] {
    return [{ resource: `${this.table.tableArn}/stream/*`, reason: 'The job table\'s own stream: its ARN ends in a creation timestamp unknown until deploy' }];
  }

  /** Reading the table's stream (the job-events function only). */
  streamStatement(): iam.PolicyStatement {
    return new iam.PolicyStatement({ sid: 'JobTableStream', actions: [...JOB_TABLE_ACTIONS.streamRead], resources: [`${this.table.tableArn}/stream/*`] });
  }
}
