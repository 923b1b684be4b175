import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { TiercastError } from '../common/errors.ts';
import { ANNOUNCED_EVENTS, type JobEvent } from '../common/job-lifecycle.ts';
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
} from '../common/job-store.ts';
import { JobSpecSchema, JobStatusSchema, STAGES, type JobStatus, type Stage, type Tier } from '../common/job.ts';

/**
 * The job store on SQLite (better-sqlite3): one file in the data home (`jobs.db`), WAL so readers never wait for the
 * writer, a busy timeout so the CLI, the console and local agents share it across processes. Every write is one
 * IMMEDIATE transaction: the compare-and-set on the version and the event of that change (the outbox) land together
 * or not at all. See README "Job control plane".
 */

export interface SqliteJobStoreOptions {
  /** How long a write waits for another process's write before STORE_ERROR. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
  /** Open read-only (doctor on a store it must not create). */
  readonly readonly?: boolean;
}

const SCHEMA_VERSION = 1;
const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  stage TEXT NOT NULL,
  tier TEXT,
  priority INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  change_seq INTEGER NOT NULL,
  idempotency_key TEXT UNIQUE,
  spec TEXT NOT NULL,
  status TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS jobs_by_stage ON jobs(stage, updated_at, id);
CREATE INDEX IF NOT EXISTS jobs_by_tier_stage ON jobs(tier, stage, updated_at, id);
CREATE INDEX IF NOT EXISTS jobs_by_updated ON jobs(updated_at, id);
CREATE INDEX IF NOT EXISTS jobs_admission ON jobs(tier, priority DESC, created_at, id) WHERE stage = 'queued';
CREATE UNIQUE INDEX IF NOT EXISTS jobs_by_change ON jobs(change_seq);
CREATE TABLE IF NOT EXISTS events (
  job_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at TEXT NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL,
  announce INTEGER NOT NULL,
  settled INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, seq)
) STRICT;
CREATE INDEX IF NOT EXISTS events_undelivered ON events(at) WHERE announce = 1 AND settled = 0;
CREATE TABLE IF NOT EXISTS deliveries (
  job_id TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (job_id, delivery_id, attempt)
) STRICT;
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
`;
const CHANGE_SEQ = '__change_seq';
const RUNNING_OR_DISPATCHED: readonly Stage[] = ['dispatched', 'downloading', 'analyzing', 'encoding', 'packaging', 'uploading', 'finalizing'];
const SWEEP_STAGES: readonly Stage[] = ['retry-wait', ...RUNNING_OR_DISPATCHED];

/** SQLite's errors as the operator needs them: which file, what happened, what to do. */
function storeError(file: string, err: unknown): TiercastError {
  if (err instanceof TiercastError) return err;
  const code = (err as { code?: string }).code ?? '';
  const message = err instanceof Error ? err.message : String(err);
  const hint = code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')
    ? 'another process held the database past the busy timeout; try again, and check for a stuck tiercast process'
    : code.startsWith('SQLITE_FULL')
      ? 'the disk is full; free space and try again (nothing was written)'
      : code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB')
        ? 'the file is damaged or not a Tiercast job database; move it aside (the outputs in the store are kept) and restore a backup'
        : code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM')
          ? 'the file or its folder cannot be written; check its permissions'
          : 'see the message';
  return new TiercastError('STORE_ERROR', `job store ${file}: ${message} (${code || 'error'}): ${hint}`, { cause: err, details: { file, sqliteCode: code } });
}

const encodeCursor = (...parts: (string | number)[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');
function decodeCursor(cursor: string): unknown[] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v)) return v;
  } catch {
    /* fall through */
  }
  throw new TiercastError('INVALID_REQUEST', `not a page cursor: ${JSON.stringify(cursor.slice(0, 40))}`);
}

interface JobRow {
  id: string;
  spec: string;
  status: string;
}

export function openSqliteJobStore(file: string, options: SqliteJobStoreOptions = {}): JobStore {
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  let db: Database.Database;
  try {
    if (!options.readonly) fs.mkdirSync(path.dirname(file), { recursive: true });
    db = new Database(file, { timeout: busyTimeoutMs, readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    if (!options.readonly) {
      db.pragma('journal_mode = WAL');
      // FULL: a job the store said it wrote survives a power cut, not only a crash; batches keep the fsyncs few.
      db.pragma('synchronous = FULL');
      migrate(db);
    }
  } catch (err) {
    throw storeError(file, err);
  }
  const guard = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw storeError(file, err);
    }
  };

  const st = {
    insertJob: db.prepare(
      `INSERT INTO jobs (id, version, stage, tier, priority, created_at, updated_at, change_seq, idempotency_key, spec, status)
       VALUES (@id, @version, @stage, @tier, @priority, @created_at, @updated_at, @change_seq, @idempotency_key, @spec, @status)
       ON CONFLICT DO NOTHING`,
    ),
    get: db.prepare<[string], JobRow>('SELECT id, spec, status FROM jobs WHERE id = ?'),
    byKey: db.prepare<[string], { id: string }>('SELECT id FROM jobs WHERE idempotency_key = ?'),
    update: db.prepare(
      `UPDATE jobs SET version = @version, stage = @stage, tier = @tier, priority = @priority, updated_at = @updated_at,
         change_seq = @change_seq, status = @status WHERE id = @id AND version = @expected`,
    ),
    exists: db.prepare<[string], { version: number }>('SELECT version FROM jobs WHERE id = ?'),
    deleteJob: db.prepare('DELETE FROM jobs WHERE id = ? AND version = ?'),
    deleteEvents: db.prepare('DELETE FROM events WHERE job_id = ?'),
    deleteDeliveries: db.prepare('DELETE FROM deliveries WHERE job_id = ?'),
    insertEvent: db.prepare('INSERT INTO events (job_id, seq, at, type, body, announce) VALUES (?, ?, ?, ?, ?, ?)'),
    events: db.prepare<[string], { body: string }>('SELECT body FROM events WHERE job_id = ? ORDER BY seq'),
    undelivered: db.prepare<[number], { body: string }>('SELECT body FROM events WHERE announce = 1 AND settled = 0 ORDER BY at, job_id, seq LIMIT ?'),
    settle: db.prepare('UPDATE events SET settled = 1 WHERE job_id = ? AND seq = ?'),
    insertDelivery: db.prepare('INSERT OR REPLACE INTO deliveries (job_id, delivery_id, attempt, body) VALUES (?, ?, ?, ?)'),
    deliveries: db.prepare<[string], { body: string }>('SELECT body FROM deliveries WHERE job_id = ? ORDER BY rowid'),
    bump: db.prepare<[string, number], { value: number }>(
      'INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value RETURNING value',
    ),
    counter: db.prepare<[string], { value: number }>('SELECT value FROM counters WHERE name = ?'),
    setCounter: db.prepare('INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value'),
    changes: db.prepare<[number, number], JobRow & { change_seq: number }>('SELECT id, spec, status, change_seq FROM jobs WHERE change_seq > ? ORDER BY change_seq LIMIT ?'),
    admission: db.prepare<[string, number], JobRow>(
      `SELECT id, spec, status FROM jobs WHERE stage = 'queued' AND tier = ? ORDER BY priority DESC, created_at, id LIMIT ?`,
    ),
    inFlight: db.prepare<string[], { n: number }>(
      `SELECT count(*) AS n FROM jobs WHERE tier = ? AND stage IN (${RUNNING_OR_DISPATCHED.map(() => '?').join(', ')})`,
    ),
    countAll: db.prepare<[], { stage: Stage; n: number }>('SELECT stage, count(*) AS n FROM jobs GROUP BY stage'),
    countTier: db.prepare<[string], { stage: Stage; n: number }>('SELECT stage, count(*) AS n FROM jobs WHERE tier = ? GROUP BY stage'),
    total: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM jobs'),
  };
  const nextChangeSeq = () => st.bump.get(CHANGE_SEQ, 1)!.value;

  const parseStatus = (row: JobRow): JobStatus => JobStatusSchema.parse({ ...JSON.parse(row.status), history: [] });
  const parseRecord = (row: JobRow): JobRecord => ({ spec: JobSpecSchema.parse(JSON.parse(row.spec)), status: parseStatus(row) });
  const statusJson = (s: JobStatus) => JSON.stringify({ ...s, history: undefined });
  const addEvent = (e: JobEvent) => st.insertEvent.run(e.jobId, e.seq, e.at, e.type, JSON.stringify(e), ANNOUNCED_EVENTS.includes(e.type) ? 1 : 0);

  // One read and one write of the change counter per batch, not per job (inside the same IMMEDIATE transaction).
  const insertMany = db.transaction((jobs: readonly NewJob[]) => {
    let seq = st.counter.get(CHANGE_SEQ)?.value ?? 0;
    const out = jobs.map((j) => {
      if (j.idempotencyKey && st.byKey.get(j.idempotencyKey)) return { jobId: j.status.id, created: false };
      const r = st.insertJob.run({
        id: j.status.id,
        version: j.status.version,
        stage: j.status.stage,
        tier: j.status.tier,
        priority: j.status.priority,
        created_at: j.status.createdAt,
        updated_at: j.status.updatedAt,
        change_seq: seq + 1,
        idempotency_key: j.idempotencyKey ?? null,
        spec: JSON.stringify(j.spec),
        status: statusJson(j.status),
      });
      if (r.changes === 0) return { jobId: j.status.id, created: false };
      seq += 1;
      addEvent(j.event);
      return { jobId: j.status.id, created: true };
    });
    st.setCounter.run(CHANGE_SEQ, seq);
    return out;
  });

  const writeOne = db.transaction((next: JobStatus, expected: number, event: JobEvent | null) => {
    if (next.version !== expected + 1) throw new TiercastError('INTERNAL', `job ${next.id}: version ${next.version} does not follow ${expected}`);
    const r = st.update.run({
      id: next.id,
      version: next.version,
      stage: next.stage,
      tier: next.tier,
      priority: next.priority,
      updated_at: next.updatedAt,
      change_seq: nextChangeSeq(),
      status: statusJson(next),
      expected,
    });
    if (r.changes === 0) {
      if (!st.exists.get(next.id)) throw notFound(next.id);
      throw new VersionConflict(next.id, expected);
    }
    if (event) addEvent(event);
  });

  const removeOne = db.transaction((id: string, expected: number) => {
    const r = st.deleteJob.run(id, expected);
    if (r.changes === 0) {
      if (!st.exists.get(id)) throw notFound(id);
      throw new VersionConflict(id, expected);
    }
    st.deleteEvents.run(id);
    st.deleteDeliveries.run(id);
  });

  const notFound = (id: string) => new TiercastError('JOB_NOT_FOUND', `job ${id} is not in the job store ${file}`, { details: { jobId: id } });

  function list(query: ListQuery): JobPage {
    const limit = Math.max(1, Math.min(1000, query.limit));
    const stages = query.stage === undefined ? null : typeof query.stage === 'string' ? [query.stage] : [...query.stage];
    const desc = (query.order ?? 'desc') === 'desc';
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (stages) {
      where.push(`stage IN (${stages.map(() => '?').join(', ')})`);
      args.push(...stages);
    }
    if (query.tier) {
      where.push('tier = ?');
      args.push(query.tier);
    }
    if (query.cursor) {
      const [at, id] = decodeCursor(query.cursor) as [string, string];
      where.push(desc ? '(updated_at < ? OR (updated_at = ? AND id < ?))' : '(updated_at > ? OR (updated_at = ? AND id > ?))');
      args.push(at, at, id);
    }
    const dir = desc ? 'DESC' : 'ASC';
    const sql = `SELECT id, spec, status, updated_at FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY updated_at ${dir}, id ${dir} LIMIT ?`;
    const rows = db.prepare<(string | number)[], JobRow & { updated_at: string }>(sql).all(...args, limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { items: page.map(parseStatus), cursor: rows.length > limit && last ? encodeCursor(last.updated_at, last.id) : null };
  }

  function changedSince(cursor: string | null, limit: number): ChangesPage {
    const from = cursor === null ? (st.counter.get(CHANGE_SEQ)?.value ?? 0) : cursor === '' ? 0 : Number(decodeCursor(cursor)[0]);
    if (!Number.isInteger(from)) throw new TiercastError('INVALID_REQUEST', 'not a change cursor');
    const rows = cursor === null ? [] : st.changes.all(from, Math.max(1, Math.min(5000, limit)));
    return { items: rows.map(parseStatus), cursor: encodeCursor(rows.at(-1)?.change_seq ?? from) };
  }

  function counts(tier?: Tier): StageCounts {
    const out = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
    for (const r of tier ? st.countTier.all(tier) : st.countAll.all()) out[r.stage] = r.n;
    return out;
  }

  const store: JobStore = {
    kind: 'sqlite',
    location: file,
    insert: async (jobs) => guard(() => insertMany.immediate(jobs)),
    get: async (id) =>
      guard(() => {
        const row = st.get.get(id);
        if (!row) throw notFound(id);
        return parseRecord(row);
      }),
    findByIdempotencyKey: async (key) => guard(() => st.byKey.get(key)?.id ?? null),
    write: async (next, expected, event) => guard(() => writeOne.immediate(next, expected, event)),
    remove: async (id, expected) => guard(() => removeOne.immediate(id, expected)),
    list: async (query) => guard(() => list(query)),
    changedSince: async (cursor, limit) => guard(() => changedSince(cursor, limit)),
    counts: async (o) => guard(() => counts(o?.tier)),
    admissionQueue: async (tier, limit) => guard(() => st.admission.all(tier, limit).map(parseStatus)),
    inFlight: async (tier) => guard(() => st.inFlight.get(tier, ...RUNNING_OR_DISPATCHED)!.n),
    sweepCandidates: async (limit, cursor) => guard(() => list({ stage: SWEEP_STAGES, limit, cursor: cursor ?? null, order: 'asc' })),
    events: async (id) => guard(() => st.events.all(id).map((r) => JSON.parse(r.body) as JobEvent)),
    undelivered: async (limit) => guard(() => st.undelivered.all(limit).map((r) => JSON.parse(r.body) as JobEvent)),
    settleEvent: async (jobId, seq) => guard(() => void st.settle.run(jobId, seq)),
    recordDelivery: async (d: WebhookDelivery) => guard(() => void st.insertDelivery.run(d.jobId, d.deliveryId, d.attempt, JSON.stringify(d))),
    deliveries: async (jobId) => guard(() => st.deliveries.all(jobId).map((r) => JSON.parse(r.body) as WebhookDelivery)),
    increment: async (name, delta = 1) => {
      if (name === CHANGE_SEQ) throw new TiercastError('INVALID_REQUEST', `counter name ${name} is reserved`);
      return guard(() => st.bump.get(name, delta)!.value);
    },
    health: async () =>
      guard(() => {
        const check = db.pragma('quick_check', { simple: true }) as string;
        const bytes = (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
        return { ok: check === 'ok', jobs: st.total.get()!.n, bytes, detail: `SQLite ${db.prepare('SELECT sqlite_version() AS v').pluck().get() as string}, WAL, integrity ${check}` };
      }),
    close: async () => {
      if (db.open) db.close();
    },
  };
  return store;
}

function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new TiercastError('STORE_ERROR', `job store ${db.name} has schema ${current}, newer than this Tiercast (${SCHEMA_VERSION}): upgrade Tiercast`);
  }
  if (current === SCHEMA_VERSION) return;
  db.transaction(() => {
    db.exec(SCHEMA);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
