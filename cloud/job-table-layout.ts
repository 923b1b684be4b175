/**
 * The DynamoDB job table's layout: one place that the table store (cloud/dynamo-job-store.ts) and the CDK stack
 * (cloud/infra) both read, so the synthesised table always matches what the code queries.
 *
 * One table, on-demand billing, items keyed by `pk` + `sk`:
 *   JOB#<id>   / JOB             the job: spec, state, version, lease
 *   JOB#<id>   / EVT#<seq>       one event per transition (the outbox; the stream delivers them)
 *   JOB#<id>   / DLV#<delivery>  webhook delivery log entries
 *   CTR#<name> / CTR             atomic counters (fan-in of chunked jobs)
 *   IDEM#<key> / IDEM            idempotent submit: the job id a client key created
 *
 * Index attributes are written only on the items an index serves (sparse indexes), and sharded where one stage
 * would otherwise put a burst of 25,000 writes on one index partition.
 */
export const JOB_TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds; set on finished jobs (and their events) to now + the retention. */
  ttlAttribute: 'expiresAt',
  /** Queries by stage, newest update first or last: `<stage>#<shard>` -> `<updatedAt>#<id>`. */
  byStage: { indexName: 'byStage', partitionKey: 'stageShard', sortKey: 'updatedKey' },
  /** Everything changed since T: `chg#<shard>` -> `<updatedAt>#<id>`. */
  byChange: { indexName: 'byChange', partitionKey: 'changeShard', sortKey: 'updatedKey' },
  /** Admission: queued jobs per tier, highest priority first, then oldest: `<tier>` -> `<10-priority>#<createdAt>#<id>`. */
  byAdmission: { indexName: 'byAdmission', partitionKey: 'admitTier', sortKey: 'admitKey' },
  /**
   * What the indexes copy besides their keys: the job's state, never its spec. An update is billed by item size on the
   * table and again on every index it touches; the spec (ladder included) would triple each index write.
   */
  indexAttributes: ['id', 'version', 'stage', 'tier', 'priority', 'createdAt', 'updatedAt', 'status'],
  /** Index partitions per stage and for changes; queries fan out over all of them and merge. */
  shards: 8,
} as const;
