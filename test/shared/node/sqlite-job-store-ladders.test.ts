import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getLadder } from '../../../shared/common/ladders.ts';
import { parseJobSpec } from '../../../shared/common/job.ts';
import { openSqliteJobStore } from '../../../shared/node/sqlite-job-store.ts';
import { newJob, testSpec } from '../../helpers/jobs.ts';

/** Schema 2 keeps each distinct ladder once (README "Job control plane"); what that must not change. */
describe('SQLite job store: ladders stored once', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-ladders-'));
    file = path.join(dir, 'jobs.db');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const rows = (sql: string) => {
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare(sql).all() as Record<string, unknown>[];
    } finally {
      db.close();
    }
  };

  it('keeps one ladder row for a batch sharing a ladder and gives each job its ladder back', async () => {
    const store = openSqliteJobStore(file);
    const other = { ...getLadder('default'), name: 'other', segmentSeconds: 6 };
    const jobs = [...Array.from({ length: 40 }, () => newJob()), newJob(testSpec({ ladder: other }))];
    await store.insert(jobs);
    expect(rows('SELECT count(*) AS n FROM ladders')[0]!.n).toBe(2);
    expect(rows("SELECT count(*) AS n FROM jobs WHERE spec LIKE '%rungs%'")[0]!.n).toBe(0);
    const first = await store.get(jobs[0]!.spec.id);
    const last = await store.get(jobs[40]!.spec.id);
    expect(first.spec).toEqual(jobs[0]!.spec);
    expect(last.spec.ladder.name).toBe('other');
    expect(last.spec.ladder.segmentSeconds).toBe(6);
    await store.close();
  });

  it('drops a ladder when the last job pointing at it is deleted (at the next open), keeps it while one remains', async () => {
    let store = openSqliteJobStore(file);
    const other = { ...getLadder('default'), name: 'other' };
    const [a, b, c] = [newJob(testSpec({ ladder: other })), newJob(testSpec({ ladder: other })), newJob()];
    await store.insert([a!, b!, c!]);
    await store.remove(a!.spec.id, a!.status.version);
    await store.close();
    store = openSqliteJobStore(file);
    expect(rows('SELECT count(*) AS n FROM ladders')[0]!.n).toBe(2);
    await store.remove(b!.spec.id, b!.status.version);
    await store.close();
    store = openSqliteJobStore(file);
    expect(rows('SELECT count(*) AS n FROM ladders')[0]!.n).toBe(1);
    expect((await store.get(c!.spec.id)).spec.ladder.name).toBe('default');
    await store.close();
  });

  it('stores the ladder again after a batch that carried it was rolled back', async () => {
    const store = openSqliteJobStore(file);
    const ladder = parseJobSpec(testSpec()).ladder;
    const good = newJob(testSpec({ ladder }));
    // STRICT tables refuse a text priority: the whole batch, its ladder row included, rolls back.
    const bad = newJob(testSpec({ ladder }));
    const broken = { ...bad, status: { ...bad.status, priority: 'high' as unknown as number } };
    await expect(store.insert([good, broken])).rejects.toMatchObject({ code: 'STORE_ERROR' });
    expect(rows('SELECT count(*) AS n FROM ladders')[0]!.n).toBe(0);
    await store.insert([good]);
    expect((await store.get(good.spec.id)).spec.ladder).toEqual(ladder);
    await store.close();
  });

  it('opens a schema-1 file: its rows (ladder inline) read as before and new rows share ladders', async () => {
    const v1 = new Database(file);
    v1.exec(`CREATE TABLE jobs (id TEXT PRIMARY KEY, version INTEGER NOT NULL, stage TEXT NOT NULL, tier TEXT, priority INTEGER NOT NULL,
      created_at TEXT NOT NULL, updated_at TEXT NOT NULL, change_seq INTEGER NOT NULL, idempotency_key TEXT UNIQUE, spec TEXT NOT NULL,
      status TEXT NOT NULL) STRICT;
      CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;`);
    const old = newJob();
    v1.prepare('INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, 1, NULL, ?, ?)').run(
      old.status.id, old.status.version, old.status.stage, old.status.tier, old.status.priority, old.status.createdAt, old.status.updatedAt,
      JSON.stringify(old.spec), JSON.stringify({ ...old.status, history: undefined }),
    );
    v1.prepare("INSERT INTO counters VALUES ('__change_seq', 1)").run();
    v1.pragma('user_version = 1');
    v1.close();

    const store = openSqliteJobStore(file);
    expect((await store.get(old.spec.id)).spec).toEqual(old.spec);
    const fresh = newJob();
    await store.insert([fresh]);
    expect((await store.get(fresh.spec.id)).spec).toEqual(fresh.spec);
    expect(rows('SELECT id, ladder_hash FROM jobs ORDER BY change_seq').map((r) => r.ladder_hash === null)).toEqual([true, false]);
    await store.close();
  });
});
