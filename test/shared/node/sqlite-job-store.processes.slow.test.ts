import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { JobStore } from '../../../shared/common/job-store.ts';
import { openSqliteJobStore } from '../../../shared/node/sqlite-job-store.ts';
import { raceEightProcesses } from '../../helpers/job-store-racers.ts';
import { newJob } from '../../helpers/jobs.ts';

/** Several processes (CLI, console, local agents) share one jobs.db: their compare-and-set writes must not tear. */

let dir: string;
let file: string;
let store: JobStore;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-sqlite-race-'));
  file = path.join(dir, 'jobs.db');
  store = openSqliteJobStore(file);
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SQLite job store across processes', () => {
  // Eight tsx processes start on a shared 2-core machine: most of the time is their start-up.
  it('8 processes racing on one job: exactly one wins each version, one version per write', async () => {
    const job = newJob();
    await store.insert([job]);
    await raceEightProcesses(store, job.spec.id, { ...process.env, RACER_STORE: 'sqlite', RACER_LOCATION: file });
  }, 400_000);
});
