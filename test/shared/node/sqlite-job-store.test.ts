import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteJobStore } from '../../../shared/node/sqlite-job-store.ts';
import { jobStoreContract } from '../../contract/job-store.contract.ts';

jobStoreContract('SQLite', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-sqlite-'));
  const store = openSqliteJobStore(path.join(dir, 'jobs.db'));
  return {
    store,
    async teardown() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
