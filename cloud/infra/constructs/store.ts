import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { storeKeys } from '../../../shared/common/job.ts';
import type { Wildcard } from './nag.ts';

/** Where workers publish: outputs/<job id>/ (storeKeys.outputPrefix), the only place they write. */
const OUTPUTS_PREFIX = 'outputs/';
const OUTPUTS = `${OUTPUTS_PREFIX}*`;

export interface ObjectStoreProps {
  /** Key prefix inside the bucket (TIERCAST_PREFIX); '' for none. */
  readonly prefix: string;
  readonly inputExpirationDays?: number;
  readonly outputsInfrequentAccessDays?: number;
  readonly outputsArchiveDays?: number;
  readonly outputsArchiveClass?: 'GLACIER' | 'DEEP_ARCHIVE' | 'GLACIER_INSTANT_RETRIEVAL';
  /** Overwritten and deleted object versions are kept this many days, then expire. Default 30. */
  readonly noncurrentVersionDays?: number;
}

/**
 * The bucket: inputs, outputs and the job ledger, versioned (a worker's overwrite or an operator's delete can be
 * undone for `noncurrentVersionDays`), with server access logs in a bucket of their own.
 *
 * Who may do what (cloud/README.md "Infrastructure"): workers read the whole prefix but write and delete only under
 * outputs/ (job state lives in the job table, so nothing writes jobs/ any more); only the operator policy writes and
 * deletes anywhere, inputs included.
 */
export class ObjectStore extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogs: s3.Bucket;
  readonly prefix: string;

  constructor(scope: Construct, id: string, props: ObjectStoreProps) {
    super(scope, id);
    this.prefix = props.prefix;
    const prefix = props.prefix;
    const archiveClass = {
      GLACIER: s3.StorageClass.GLACIER,
      DEEP_ARCHIVE: s3.StorageClass.DEEP_ARCHIVE,
      GLACIER_INSTANT_RETRIEVAL: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
    }[props.outputsArchiveClass ?? 'GLACIER'];
    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
    });
    // Stateful: created in the stack's scope so its logical ID (and so the bucket) survives the split into constructs.
    this.bucket = new s3.Bucket(scope, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      versioned: true,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'bucket/',
      lifecycleRules: [
        {
          id: 'expire-raw-uploads',
          prefix: `${prefix}${storeKeys.inputPrefix}`,
          expiration: Duration.days(props.inputExpirationDays ?? 7),
        },
        {
          id: 'archive-outputs',
          prefix: `${prefix}${OUTPUTS_PREFIX}`,
          transitions: [
            { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(props.outputsInfrequentAccessDays ?? 30) },
            { storageClass: archiveClass, transitionAfter: Duration.days(props.outputsArchiveDays ?? 90) },
          ],
        },
        {
          // Versioning keeps what was overwritten or deleted; it goes after this many days (and its delete markers).
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: Duration.days(props.noncurrentVersionDays ?? 30),
          expiredObjectDeleteMarker: true,
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
  }

  /** Object ARNs under the store's prefix, e.g. `jobs/*`. */
  objects(pattern: string): string {
    return this.bucket.arnForObjects(`${this.prefix}${pattern}`);
  }

  private listStatement(): iam.PolicyStatement {
    return new iam.PolicyStatement({
      sid: 'ObjectStoreList',
      actions: ['s3:ListBucket', 's3:ListBucketMultipartUploads'],
      resources: [this.bucket.bucketArn],
      ...(this.prefix ? { conditions: { StringLike: { 's3:prefix': [`${this.prefix}*`] } } } : {}),
    });
  }

  /**
   * A worker (Lambda tiers, escalation, Fargate task, agents): reads anything under the prefix (inputs included),
   * writes and deletes only outputs (outputs/<id>/: the renditions, then the manifest last). ListBucket is needed for S3 to answer 404
   * instead of 403 for a missing key (cloud/README.md "Storage").
   */
  workerStatements(): iam.PolicyStatement[] {
    const writable = [this.objects(OUTPUTS)];
    return [
      new iam.PolicyStatement({ sid: 'ObjectStoreRead', actions: ['s3:GetObject'], resources: [this.objects('*')] }),
      new iam.PolicyStatement({
        sid: 'ObjectStoreWriteOutputs',
        actions: ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        resources: writable,
      }),
      this.listStatement(),
    ];
  }

  /** Why the worker statements name `*` resources (cdk-nag AwsSolutions-IAM5). */
  workerWildcards(): Wildcard[] {
    return [
      { resource: this.objects('*'), reason: 'Workers read any object under the store prefix (inputs, job specs, ladders); GetObject only' },
      { resource: this.objects(OUTPUTS), reason: 'Workers publish outputs/<id>/ (and remove orphan versions there), ids unknown at deploy' },
    ];
  }

  operatorWildcards(): Wildcard[] {
    return [{ resource: this.objects('*'), reason: 'Operators upload inputs and delete jobs with their inputs and outputs: the whole store prefix, this bucket only' }];
  }

  /** The operators (CLI, console): upload inputs, delete jobs with their inputs and outputs. */
  operatorStatements(): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({
        sid: 'ObjectStore',
        actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        resources: [this.objects('*')],
      }),
      this.listStatement(),
    ];
  }
}
