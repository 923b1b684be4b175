import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
  type DynamoDBClientConfig,
} from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import pLimit from 'p-limit';
import { TiercastError } from '../shared/common/errors.ts';
import { ANNOUNCED_EVENTS, RUNNING_STAGES, type JobEvent } from '../shared/common/job-lifecycle.ts';
import {
  VersionConflict,
  type ChangesPage,
  type JobPage,
  type JobRecord,
  type JobStore,
  type ListQuery,
  type NewJob,
  type StageCounts,
  type WebhookDelivery,
} from '../shared/common/job-store.ts';
import { isTerminal, JobSpecSchema, JobStatusSchema, STAGES, type JobStatus, type Stage, type Tier } from '../shared/common/job.ts';
import { JOB_TABLE } from './job-table-layout.ts';

/**
 * The job store on DynamoDB: one table laid out as cloud/job-table-layout.ts says (cloud/README.md "Job table").
 *
 * - write: the job item's compare-and-set on `version` and its event item in one TransactWriteItems (a plain
 *   conditional UpdateItem when there is no event). A failed condition is a VersionConflict, or JOB_NOT_FOUND when
 *   the old image (ReturnValuesOnConditionCheckFailure ALL_OLD) shows no item.
 * - Index attributes (stageShard, updatedKey, changeShard, admitTier/admitKey while queued, expiresAt once finished)
 *   are recomputed from the status on every write, so an index never holds a stale stage.
 * - Queries fan out over the index shards and merge by sort key; pages resume from the last sort key returned.
 * - Throttling is retried by the SDK's retry strategy and again here; a TransactionConflict (another transaction on
 *   the same item in flight) is retried here: it is not a lost version race. Other errors are STORE_ERROR naming
 *   the table and what to do.
 * - No undelivered/settleEvent: on AWS the table's stream delivers announced events (items with `announce`).
 */

export interface DynamoJobStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Days a finished job (done, failed, cancelled) and its events and deliveries are kept before TTL removes them. Default 30. */
  readonly retentionDays?: number;
  /** Index shards; must match what the table was written with. Default JOB_TABLE.shards. */
  readonly shards?: number;
  /** Transactions in flight at once while inserting (each up to 100 items). Default 8. */
  readonly insertConcurrency?: number;
}

/** A document client for composition roots (only cloud/ may import the SDK). */
export function createDynamoDocumentClient(config: DynamoDBClientConfig = {}): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(config), { marshallOptions: { removeUndefinedValues: true } });
}

const SLOT_STAGES: readonly Stage[] = ['dispatched', ...RUNNING_STAGES];
const SWEEP_STAGES: readonly Stage[] = ['retry-wait', ...SLOT_STAGES];
/** changedSince re-reads this much before its cursor: writers' clocks disagree, and index updates land late. */
export const CHANGE_OVERLAP_MS = 5000;
const TX_MAX_ITEMS = 100;
const QUERY_CONCURRENCY = 16;
const RETRY_ATTEMPTS = 8;
const THROTTLE_NAMES = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'ThrottlingError']);
const RETRY_REASONS = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded']);

type Item = Record<string, unknown>;
interface Reason {
  readonly Code?: string;
  readonly Item?: unknown;
}
const nameOf = (err: unknown) => (err as { name?: string }).name ?? '';
const reasonsOf = (err: unknown): readonly Reason[] => (nameOf(err) === 'TransactionCanceledException' ? ((err as { CancellationReasons?: Reason[] }).CancellationReasons ?? []) : []);

/** FNV-1a: a stable shard per job id, the same in every process and release. */
export function shardOf(id: string, shards: number = JOB_TABLE.shards): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) % shards;
}

const jobKey = (id: string) => ({ pk: `JOB#${id}`, sk: 'JOB' });
const pad = (n: number, width: number) => String(n).padStart(width, '0');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const encodeCursor = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
function decodeCursor(cursor: string): unknown {
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new TiercastError('INVALID_REQUEST', `not a page cursor: ${JSON.stringify(cursor.slice(0, 40))}`);
  }
}

/** The change feed's position: everything at or before `w` (an updatedKey) was returned, except later versions of `seen`. */
interface ChangeCursor {
  readonly w: string;
  /** [id, version, updatedKey] of items returned (or present at the start) at or after w - the overlap. */
  readonly seen: readonly (readonly [string, number, string])[];
}

export function createDynamoJobStore(options: DynamoJobStoreOptions): JobStore {
  const { client, tableName: table } = options;
  const retentionSec = Math.round((options.retentionDays ?? 30) * 86_400);
  const shards = options.shards ?? JOB_TABLE.shards;
  const shardList = Array.from({ length: shards }, (_, i) => i);
  const queryLimit = pLimit(QUERY_CONCURRENCY);

  /** What an operator reads: the table, what went wrong, what to do. ConditionalCheckFailed never gets here. */
  function storeError(what: string, err: unknown): TiercastError {
    if (err instanceof TiercastError) return err;
    const name = nameOf(err);
    const message = err instanceof Error ? err.message : String(err);
    const reasons = reasonsOf(err).map((r) => r.Code ?? 'None');
    const hint =
      name === 'ResourceNotFoundException'
        ? `the table (or one of its indexes) does not exist in this account and region: deploy the Tiercast stack (cloud/infra, \`npm run cdk -- deploy\`) which creates it, or check the table name given (${table}) and AWS_REGION`
        : name === 'AccessDeniedException' || name === 'UnrecognizedClientException'
          ? 'the credentials may not use this table: attach the stack\'s OperatorPolicyArn (or the function\'s role) and check the profile'
          : THROTTLE_NAMES.has(name) || reasons.some((r) => RETRY_REASONS.has(r))
            ? 'DynamoDB kept throttling after retries: try again; on a provisioned table raise its capacity (the stack uses on-demand)'
            : name === 'ValidationException'
              ? 'DynamoDB refused the request: the table may not match cloud/job-table-layout.ts (recreate it from the stack)'
              : 'see the message, and try again';
    const code = THROTTLE_NAMES.has(name) ? 'THROTTLED' : 'STORE_ERROR';
    return new TiercastError(code, `job table ${table}: ${what} failed: ${name ? `${name}: ` : ''}${message}: ${hint}`, {
      cause: err,
      details: { table, awsError: name, ...(reasons.length ? { reasons } : {}) },
    });
  }

  /** One call with our own retries on throttling and transaction conflicts (on top of the SDK's), errors translated. */
  async function send<T>(what: string, fn: () => Promise<T>, passThrough: (err: unknown) => boolean = () => false): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (passThrough(err)) throw err;
        const reasons = reasonsOf(err);
        const retry = THROTTLE_NAMES.has(nameOf(err)) || (reasons.some((r) => RETRY_REASONS.has(r.Code ?? '')) && !reasons.some((r) => r.Code === 'ConditionalCheckFailed'));
        if (!retry || attempt >= RETRY_ATTEMPTS) throw storeError(what, err);
        await sleep(Math.random() * Math.min(2000, 25 * 2 ** attempt));
      }
    }
  }

  const notFound = (id: string) => new TiercastError('JOB_NOT_FOUND', `job ${id} is not in the job table ${table}`, { details: { jobId: id } });
  const expiresAt = () => Math.floor(Date.now() / 1000) + retentionSec;

  /** The job item's attributes that follow from its status; null ones are REMOVEd on update. */
  function statusAttributes(s: JobStatus): Record<string, unknown> {
    const shard = shardOf(s.id, shards);
    const queued = s.stage === 'queued' && s.tier !== null;
    return {
      id: s.id,
      version: s.version,
      stage: s.stage,
      tier: s.tier,
      priority: s.priority,
      createdAt: s.createdAt,
      updatedAt: s.updatedAt,
      status: JSON.stringify({ ...s, history: undefined }),
      [JOB_TABLE.byStage.partitionKey]: `${s.stage}#${shard}`,
      [JOB_TABLE.byStage.sortKey]: `${s.updatedAt}#${s.id}`,
      [JOB_TABLE.byChange.partitionKey]: `chg#${shard}`,
      [JOB_TABLE.byAdmission.partitionKey]: queued ? s.tier : null,
      [JOB_TABLE.byAdmission.sortKey]: queued ? `${pad(10 - s.priority, 2)}#${s.createdAt}#${s.id}` : null,
      [JOB_TABLE.ttlAttribute]: isTerminal(s.stage) ? expiresAt() : null,
    };
  }
  const withoutNulls = (item: Item): Item => Object.fromEntries(Object.entries(item).filter(([, v]) => v !== null && v !== undefined));

  function eventItem(e: JobEvent, finished: boolean): Item {
    return withoutNulls({
      pk: `JOB#${e.jobId}`,
      sk: `EVT#${pad(e.seq, 10)}`,
      type: e.type,
      at: e.at,
      body: JSON.stringify(e),
      // The stream consumer filters on this: only done/failed/cancelled are delivered.
      announce: ANNOUNCED_EVENTS.includes(e.type) ? e.type : null,
      [JOB_TABLE.ttlAttribute]: finished ? expiresAt() : null,
    });
  }

  const parseStatus = (item: Item): JobStatus => JobStatusSchema.parse({ ...JSON.parse(String(item.status)), history: [] });

  // --- insert ---

  /** Items of one new job: the job, its created event, and its submit key. */
  function newJobItems(j: NewJob) {
    const job = { Put: { TableName: table, Item: { ...jobKey(j.status.id), ...withoutNulls(statusAttributes(j.status)), spec: JSON.stringify(j.spec) }, ConditionExpression: 'attribute_not_exists(pk)' } };
    const event = { Put: { TableName: table, Item: eventItem(j.event, isTerminal(j.status.stage)) } };
    const idem = j.idempotencyKey
      ? [{ Put: { TableName: table, Item: { pk: `IDEM#${j.idempotencyKey}`, sk: 'IDEM', jobId: j.status.id }, ConditionExpression: 'attribute_not_exists(pk)' } }]
      : [];
    return [job, event, ...idem];
  }

  /** One transaction for a group of jobs; a job whose id or key exists is dropped and the rest tried again. */
  async function insertGroup(group: readonly NewJob[], created: Map<string, boolean>): Promise<void> {
    let pending = [...group];
    while (pending.length) {
      const parts = pending.map(newJobItems);
      try {
        await send('insert', () => client.send(new TransactWriteCommand({ TransactItems: parts.flat() })), (err) => reasonsOf(err).some((r) => r.Code === 'ConditionalCheckFailed'));
        for (const j of pending) created.set(j.status.id, true);
        return;
      } catch (err) {
        const reasons = reasonsOf(err);
        const failed = new Set<number>();
        let at = 0;
        parts.forEach((p, i) => {
          if (reasons.slice(at, at + p.length).some((r) => r.Code === 'ConditionalCheckFailed')) failed.add(i);
          at += p.length;
        });
        if (failed.size === 0) throw storeError('insert', err);
        pending = pending.filter((j, i) => {
          if (failed.has(i)) created.set(j.status.id, false);
          return !failed.has(i);
        });
      }
    }
  }

  async function insert(jobs: readonly NewJob[]) {
    // Later copies of an id or key in the same call lose to the first, as they would one after another.
    const ids = new Set<string>();
    const keys = new Set<string>();
    const created = new Map<string, boolean>();
    const fresh: NewJob[] = [];
    const tried = new Set<NewJob>();
    for (const j of jobs) {
      if (ids.has(j.status.id) || (j.idempotencyKey && keys.has(j.idempotencyKey))) continue;
      ids.add(j.status.id);
      if (j.idempotencyKey) keys.add(j.idempotencyKey);
      fresh.push(j);
      tried.add(j);
    }
    const groups: NewJob[][] = [];
    let size = TX_MAX_ITEMS;
    for (const j of fresh) {
      const n = j.idempotencyKey ? 3 : 2;
      if (size + n > TX_MAX_ITEMS) {
        groups.push([]);
        size = 0;
      }
      groups.at(-1)!.push(j);
      size += n;
    }
    const limit = pLimit(options.insertConcurrency ?? 8);
    await Promise.all(groups.map((g) => limit(() => insertGroup(g, created))));
    return jobs.map((j) => ({ jobId: j.status.id, created: tried.has(j) && created.get(j.status.id) === true }));
  }

  // --- write and remove ---

  const conditionFailed = (err: unknown) => nameOf(err) === 'ConditionalCheckFailedException' || reasonsOf(err)[0]?.Code === 'ConditionalCheckFailed';
  /** The old image that came with a failed condition: none means the job is not there. */
  const lostTo = (err: unknown, id: string, expected: number) => {
    const old = nameOf(err) === 'ConditionalCheckFailedException' ? (err as { Item?: unknown }).Item : reasonsOf(err)[0]?.Item;
    return old ? new VersionConflict(id, expected) : notFound(id);
  };

  function updateOf(next: JobStatus, expected: number) {
    const names: Record<string, string> = { '#ver': 'version' };
    const values: Record<string, unknown> = { ':expected': expected };
    const set: string[] = [];
    const remove: string[] = [];
    Object.entries(statusAttributes(next)).forEach(([k, v], i) => {
      names[`#a${i}`] = k;
      if (v === null) remove.push(`#a${i}`);
      else {
        values[`:a${i}`] = v;
        set.push(`#a${i} = :a${i}`);
      }
    });
    return {
      TableName: table,
      Key: jobKey(next.id),
      UpdateExpression: `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
      ConditionExpression: '#ver = :expected',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
  }

  async function write(next: JobStatus, expected: number, event: JobEvent | null): Promise<void> {
    if (next.version !== expected + 1) throw new TiercastError('INTERNAL', `job ${next.id}: version ${next.version} does not follow ${expected}`);
    const update = updateOf(next, expected);
    try {
      if (event) {
        const items = [{ Update: update }, { Put: { TableName: table, Item: eventItem(event, isTerminal(next.stage)) } }];
        await send('write', () => client.send(new TransactWriteCommand({ TransactItems: items })), conditionFailed);
      } else {
        await send('write', () => client.send(new UpdateCommand(update)), conditionFailed);
      }
    } catch (err) {
      if (conditionFailed(err)) throw lostTo(err, next.id, expected);
      throw err;
    }
    if (event && (isTerminal(next.stage) || (event.from !== null && isTerminal(event.from)))) await retainWithJob(next.id, isTerminal(next.stage));
  }

  /**
   * A job that finishes takes its earlier events and deliveries along into TTL (and a retried one takes them back
   * out). Best effort after the committed write: an item missed here lives on until the job is removed.
   */
  async function retainWithJob(id: string, finished: boolean): Promise<void> {
    try {
      const items = await queryAll({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `JOB#${id}` }, ProjectionExpression: 'pk, sk' });
      await Promise.all(
        items.filter((k) => k.sk !== 'JOB').map((k) =>
          queryLimit(() =>
            client.send(
              new UpdateCommand({
                TableName: table,
                Key: { pk: k.pk, sk: k.sk },
                UpdateExpression: finished ? 'SET #t = :t' : 'REMOVE #t',
                ConditionExpression: 'attribute_exists(pk)',
                ExpressionAttributeNames: { '#t': JOB_TABLE.ttlAttribute },
                ...(finished ? { ExpressionAttributeValues: { ':t': expiresAt() } } : {}),
              }),
            ),
          ),
        ),
      );
    } catch {
      // Deliberately quiet: the job's own write succeeded; see above.
    }
  }

  async function remove(id: string, expected: number): Promise<void> {
    try {
      await send(
        'remove',
        () =>
          client.send(
            new DeleteCommand({
              TableName: table,
              Key: jobKey(id),
              ConditionExpression: '#ver = :expected',
              ExpressionAttributeNames: { '#ver': 'version' },
              ExpressionAttributeValues: { ':expected': expected },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            }),
          ),
        conditionFailed,
      );
    } catch (err) {
      if (conditionFailed(err)) throw lostTo(err, id, expected);
      throw err;
    }
    // Then its events and deliveries (not one transaction: a job may have more than 100 of them).
    const rest = await queryAll({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `JOB#${id}` }, ProjectionExpression: 'pk, sk' });
    for (let i = 0; i < rest.length; i += 25) {
      let requests: Item[] = rest.slice(i, i + 25).map((k) => ({ DeleteRequest: { Key: { pk: k.pk, sk: k.sk } } }));
      for (let attempt = 1; requests.length; attempt++) {
        const out = await send('remove', () => client.send(new BatchWriteCommand({ RequestItems: { [table]: requests } })));
        requests = (out.UnprocessedItems?.[table] as Item[] | undefined) ?? [];
        if (requests.length) await sleep(Math.min(2000, 25 * 2 ** attempt));
      }
    }
  }

  // --- queries ---

  async function queryAll(input: QueryCommandInput): Promise<Item[]> {
    const out: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await send('query', () => client.send(new QueryCommand({ ...input, ExclusiveStartKey: start })));
      out.push(...((page.Items ?? []) as Item[]));
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /** Up to `want` items of one index partition after (or before) `after`, in sort order, filtered by tier. */
  async function takeFrom(index: typeof JOB_TABLE.byStage | typeof JOB_TABLE.byChange, partition: string, forward: boolean, after: string | null, want: number, tier?: Tier): Promise<Item[]> {
    const out: Item[] = [];
    let start: Record<string, unknown> | undefined;
    const values: Record<string, unknown> = { ':p': partition, ...(after !== null ? { ':after': after } : {}), ...(tier ? { ':tier': tier } : {}) };
    do {
      const page = await send('query', () =>
        client.send(
          new QueryCommand({
            TableName: table,
            IndexName: index.indexName,
            KeyConditionExpression: `#p = :p${after !== null ? ` AND #s ${forward ? '>' : '<'} :after` : ''}`,
            ...(tier ? { FilterExpression: '#tier = :tier' } : {}),
            ExpressionAttributeNames: { '#p': index.partitionKey, ...(after !== null ? { '#s': index.sortKey } : {}), ...(tier ? { '#tier': 'tier' } : {}) },
            ExpressionAttributeValues: values,
            ScanIndexForward: forward,
            Limit: Math.min(1000, Math.max(want - out.length, 1) + (tier ? 50 : 0)),
            ExclusiveStartKey: start,
          }),
        ),
      );
      out.push(...((page.Items ?? []) as Item[]));
      start = page.LastEvaluatedKey;
    } while (start && out.length < want);
    return out.slice(0, want);
  }

  const sortKeyOf = (item: Item) => String(item[JOB_TABLE.byStage.sortKey]);
  const bySortKey = (forward: boolean) => (a: Item, b: Item) => (sortKeyOf(a) < sortKeyOf(b) ? -1 : sortKeyOf(a) > sortKeyOf(b) ? 1 : 0) * (forward ? 1 : -1);

  async function list(query: ListQuery): Promise<JobPage> {
    const limit = Math.max(1, Math.min(1000, query.limit));
    const stages = query.stage === undefined ? STAGES : typeof query.stage === 'string' ? [query.stage] : query.stage;
    const forward = (query.order ?? 'desc') === 'asc';
    let after: string | null = null;
    if (query.cursor) {
      const c = decodeCursor(query.cursor) as [string, string];
      if (!Array.isArray(c) || typeof c[0] !== 'string' || (c[1] !== 'asc' && c[1] !== 'desc') || (c[1] === 'asc') !== forward) {
        throw new TiercastError('INVALID_REQUEST', 'not a page cursor of this listing');
      }
      after = c[0];
    }
    // Every stage: the change index holds every job once, in 8 partitions instead of 96.
    const partitions: [typeof JOB_TABLE.byStage | typeof JOB_TABLE.byChange, string][] =
      query.stage === undefined
        ? shardList.map((shard) => [JOB_TABLE.byChange, `chg#${shard}`])
        : stages.flatMap((stage) => shardList.map((shard): [typeof JOB_TABLE.byStage, string] => [JOB_TABLE.byStage, `${stage}#${shard}`]));
    const parts = await Promise.all(partitions.map(([index, p]) => queryLimit(() => takeFrom(index, p, forward, after, limit + 1, query.tier))));
    const merged = parts.flat().sort(bySortKey(forward));
    const page = merged.slice(0, limit);
    const last = page.at(-1);
    return { items: page.map(parseStatus), cursor: merged.length > limit && last ? encodeCursor([sortKeyOf(last), forward ? 'asc' : 'desc']) : null };
  }

  /**
   * Change feed on the byChange index. Each page re-reads CHANGE_OVERLAP_MS before its cursor and drops what it
   * already returned (by id and version, kept in the cursor), so a writer whose clock is up to that much behind, or
   * an index update that lands late, is not missed. A writer further behind than that can be: keep clocks in sync
   * (AWS hosts use NTP). The cursor grows with the writes in that window (about 40 bytes each).
   */
  async function changedSince(cursor: string | null, limit: number): Promise<ChangesPage> {
    const want = Math.max(1, Math.min(5000, limit));
    const now = new Date().toISOString();
    const minus = (key: string) => new Date(Date.parse(key.slice(0, 24)) - CHANGE_OVERLAP_MS).toISOString();
    const state: ChangeCursor = cursor === null ? { w: now, seen: [] } : cursor === '' || cursor === '0' ? { w: '', seen: [] } : parseChangeCursor(cursor);
    const low = state.w === '' ? null : minus(state.w);
    const seen = new Map(state.seen.map(([id, v]) => [id, v]));
    const fresh = (item: Item) => (seen.get(String(item.id)) ?? 0) < Number(item.version);
    // From now on (null): what is in the overlap window now counts as returned, so the next page does not repeat it.
    const take = cursor === null ? Number.MAX_SAFE_INTEGER : want;
    const parts = await Promise.all(
      shardList.map((shard) =>
        queryLimit(async () => {
          const out: Item[] = [];
          let after = low;
          for (;;) {
            const ask = Math.min(1000, take + seen.size);
            const got = await takeFrom(JOB_TABLE.byChange, `chg#${shard}`, true, after, ask);
            out.push(...got.filter(fresh));
            if (got.length < ask || out.length >= take) return out.slice(0, take);
            after = sortKeyOf(got.at(-1)!);
          }
        }),
      ),
    );
    const merged = parts.flat().sort(bySortKey(true));
    const returned = merged.slice(0, take);
    const last = returned.at(-1);
    // Everything up to w has been returned. Never past the reader's own clock: a writer whose clock runs ahead must
    // not push the window over writes that honest clocks make later (those items stay in `seen` instead).
    const full = cursor !== null && merged.length > take;
    const reach = full && last ? (sortKeyOf(last) < now ? sortKeyOf(last) : now) : now;
    const w = reach > state.w ? reach : state.w;
    const floor = minus(w);
    const kept = new Map<string, readonly [string, number, string]>();
    for (const s of state.seen) if (s[2] >= floor) kept.set(s[0], s);
    for (const item of returned) if (sortKeyOf(item) >= floor) kept.set(String(item.id), [String(item.id), Number(item.version), sortKeyOf(item)]);
    return { items: cursor === null ? [] : returned.map(parseStatus), cursor: encodeCursor({ w, seen: [...kept.values()] } satisfies ChangeCursor) };
  }

  function parseChangeCursor(cursor: string): ChangeCursor {
    const c = decodeCursor(cursor) as ChangeCursor;
    if (!c || typeof c.w !== 'string' || !Array.isArray(c.seen)) throw new TiercastError('INVALID_REQUEST', 'not a change cursor');
    return c;
  }

  async function countStage(stage: Stage, tier?: Tier): Promise<number> {
    const counts = await Promise.all(
      shardList.map((shard) =>
        queryLimit(async () => {
          let n = 0;
          let start: Record<string, unknown> | undefined;
          do {
            const page = await send('count', () =>
              client.send(
                new QueryCommand({
                  TableName: table,
                  IndexName: JOB_TABLE.byStage.indexName,
                  KeyConditionExpression: '#p = :p',
                  ...(tier ? { FilterExpression: '#tier = :tier' } : {}),
                  ExpressionAttributeNames: { '#p': JOB_TABLE.byStage.partitionKey, ...(tier ? { '#tier': 'tier' } : {}) },
                  ExpressionAttributeValues: { ':p': `${stage}#${shard}`, ...(tier ? { ':tier': tier } : {}) },
                  Select: 'COUNT',
                  ExclusiveStartKey: start,
                }),
              ),
            );
            n += page.Count ?? 0;
            start = page.LastEvaluatedKey;
          } while (start);
          return n;
        }),
      ),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  async function counts(tier?: Tier): Promise<StageCounts> {
    const n = await Promise.all(STAGES.map((s) => countStage(s, tier)));
    return Object.fromEntries(STAGES.map((s, i) => [s, n[i]!])) as Record<Stage, number>;
  }

  async function admissionQueue(tier: Tier, limit: number): Promise<readonly JobStatus[]> {
    const out: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await send('admission query', () =>
        client.send(
          new QueryCommand({
            TableName: table,
            IndexName: JOB_TABLE.byAdmission.indexName,
            KeyConditionExpression: '#p = :p',
            ExpressionAttributeNames: { '#p': JOB_TABLE.byAdmission.partitionKey },
            ExpressionAttributeValues: { ':p': tier },
            Limit: limit - out.length,
            ExclusiveStartKey: start,
          }),
        ),
      );
      out.push(...((page.Items ?? []) as Item[]));
      start = page.LastEvaluatedKey;
    } while (start && out.length < limit);
    return out.map(parseStatus);
  }

  async function events(id: string): Promise<readonly JobEvent[]> {
    const items = await queryAll({
      TableName: table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :evt)',
      ExpressionAttributeValues: { ':pk': `JOB#${id}`, ':evt': 'EVT#' },
      ConsistentRead: true,
    });
    return items.map((i) => JSON.parse(String(i.body)) as JobEvent);
  }

  async function deliveries(jobId: string): Promise<readonly WebhookDelivery[]> {
    const items = await queryAll({
      TableName: table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :dlv)',
      ExpressionAttributeValues: { ':pk': `JOB#${jobId}`, ':dlv': 'DLV#' },
      ConsistentRead: true,
    });
    return items.map((i) => JSON.parse(String(i.body)) as WebhookDelivery).sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.attempt - b.attempt));
  }

  async function health() {
    const d = await send('DescribeTable', () => client.send(new DescribeTableCommand({ TableName: table })));
    const t = d.Table;
    const c = await counts();
    const jobs = Object.values(c).reduce((a, b) => a + b, 0);
    const status = t?.TableStatus ?? 'UNKNOWN';
    const missing = [JOB_TABLE.byStage, JOB_TABLE.byChange, JOB_TABLE.byAdmission].map((i) => i.indexName).filter((n) => !t?.GlobalSecondaryIndexes?.some((g) => g.IndexName === n));
    return {
      ok: status === 'ACTIVE' && missing.length === 0,
      jobs,
      bytes: t?.TableSizeBytes ?? null,
      // DynamoDB refreshes ItemCount and TableSizeBytes about every six hours (dynalite never does).
      detail: `DynamoDB table ${table} ${status}, ${t?.ItemCount ?? 0} items (all kinds, as of DynamoDB's last refresh), stream ${t?.StreamSpecification?.StreamEnabled ? t.StreamSpecification.StreamViewType : 'off'}${missing.length ? `, missing indexes ${missing.join(', ')}` : ''}`,
    };
  }

  return {
    kind: 'dynamodb',
    location: table,
    insert,
    async get(id) {
      const out = await send('get', () => client.send(new GetCommand({ TableName: table, Key: jobKey(id), ConsistentRead: true })));
      if (!out.Item) throw notFound(id);
      return { spec: JobSpecSchema.parse(JSON.parse(String(out.Item.spec))), status: parseStatus(out.Item) } satisfies JobRecord;
    },
    async findByIdempotencyKey(key) {
      const out = await send('get', () => client.send(new GetCommand({ TableName: table, Key: { pk: `IDEM#${key}`, sk: 'IDEM' }, ConsistentRead: true })));
      return out.Item ? String(out.Item.jobId) : null;
    },
    write,
    remove,
    list,
    changedSince,
    counts: (o) => counts(o?.tier),
    admissionQueue,
    inFlight: async (tier) => (await Promise.all(SLOT_STAGES.map((s) => countStage(s, tier)))).reduce((a, b) => a + b, 0),
    sweepCandidates: (limit, cursor) => list({ stage: SWEEP_STAGES, limit, cursor: cursor ?? null, order: 'asc' }),
    events,
    async recordDelivery(d) {
      // Deliveries are made for announced events, i.e. of finished jobs: they expire with them.
      const item = { pk: `JOB#${d.jobId}`, sk: `DLV#${d.deliveryId}#${pad(d.attempt, 4)}`, body: JSON.stringify(d), [JOB_TABLE.ttlAttribute]: expiresAt() };
      await send('recordDelivery', () => client.send(new PutCommand({ TableName: table, Item: item })));
    },
    deliveries,
    async increment(name, delta = 1) {
      const out = await send('increment', () =>
        client.send(
          new UpdateCommand({
            TableName: table,
            Key: { pk: `CTR#${name}`, sk: 'CTR' },
            UpdateExpression: 'ADD #v :d',
            ExpressionAttributeNames: { '#v': 'value' },
            ExpressionAttributeValues: { ':d': delta },
            ReturnValues: 'UPDATED_NEW',
          }),
        ),
      );
      return Number(out.Attributes?.value);
    },
    health,
    // The client is the caller's: it closes it.
    close: async () => undefined,
  };
}

/**
 * Creates the job table from cloud/job-table-layout.ts (on-demand, the three indexes projecting everything, a
 * NEW_AND_OLD_IMAGES stream, TTL on expiresAt) and waits until it is ACTIVE. For tests, local development and
 * set-up checks; on AWS the CDK stack (cloud/infra) creates the same table. An existing table is left as it is.
 */
export async function createJobTable(client: DynamoDBDocumentClient, tableName: string): Promise<void> {
  const keys = (pk: string, sk: string) => [
    { AttributeName: pk, KeyType: 'HASH' as const },
    { AttributeName: sk, KeyType: 'RANGE' as const },
  ];
  const indexes = [JOB_TABLE.byStage, JOB_TABLE.byChange, JOB_TABLE.byAdmission];
  const attributes = [...new Set([JOB_TABLE.partitionKey, JOB_TABLE.sortKey, ...indexes.flatMap((i) => [i.partitionKey, i.sortKey])])];
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: attributes.map((a) => ({ AttributeName: a, AttributeType: 'S' as const })),
        KeySchema: keys(JOB_TABLE.partitionKey, JOB_TABLE.sortKey),
        GlobalSecondaryIndexes: indexes.map((i) => ({ IndexName: i.indexName, KeySchema: keys(i.partitionKey, i.sortKey), Projection: { ProjectionType: 'ALL' as const } })),
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
  } catch (err) {
    if (nameOf(err) !== 'ResourceInUseException') {
      throw new TiercastError('STORE_ERROR', `creating job table ${tableName} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err, details: { table: tableName } });
    }
  }
  for (let i = 0; ; i++) {
    const d = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (d.Table?.TableStatus === 'ACTIVE') break;
    if (i > 600) throw new TiercastError('STORE_ERROR', `job table ${tableName} is still ${d.Table?.TableStatus} after 5 minutes`, { details: { table: tableName } });
    await sleep(500);
  }
  await client.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { Enabled: true, AttributeName: JOB_TABLE.ttlAttribute } })).catch((err: unknown) => {
    // Enabling TTL twice is refused with a ValidationException ("TimeToLive is already enabled").
    if (!/already enabled/i.test(err instanceof Error ? err.message : '')) throw err;
  });
}
