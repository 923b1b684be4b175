/**
 * One racer of the cross-process race tests (test/shared/node/sqlite-job-store.processes.slow.test.ts and
 * test/cloud/dynamo-job-store.slow.test.ts): opens the store named by RACER_STORE (`sqlite` with RACER_LOCATION a
 * jobs.db file, or `dynamodb` with RACER_LOCATION a table on AWS_ENDPOINT_URL_DYNAMODB), prints `ready`, waits for a
 * line on stdin, then drives job RACER_JOB through its lifecycle against the other racers: read, change, write at the
 * read version; a lost race re-reads. Prints the versions it won as JSON: `{"won":[...]}`.
 */
import readline from 'node:readline';
import { createDynamoDocumentClient, createDynamoJobStore } from '../../cloud/dynamo-job-store.ts';
import { change } from '../../shared/common/job-lifecycle.ts';
import { isVersionConflict, type JobStore } from '../../shared/common/job-store.ts';
import type { JobStatus, Stage } from '../../shared/common/job.ts';
import { openSqliteJobStore } from '../../shared/node/sqlite-job-store.ts';

const kind = process.env.RACER_STORE;
const location = process.env.RACER_LOCATION ?? '';
const jobId = process.env.RACER_JOB ?? '';
const me = `racer-${process.env.RACER_INDEX ?? process.pid}`;

const ORDER: readonly Stage[] = ['queued', 'dispatched', 'downloading', 'analyzing', 'encoding', 'packaging', 'uploading', 'finalizing', 'done'];

/** The next step from any state, the same in every racer: encoding goes up in quarters (in-place, no event) first. */
function nextPatch(s: JobStatus): Partial<JobStatus> | null {
  if (s.stage === 'done') return null;
  if (s.stage === 'encoding' && s.progress < 1) return { progress: s.progress + 0.25, worker: me };
  return { stage: ORDER[ORDER.indexOf(s.stage) + 1]!, worker: me };
}

function open(): JobStore {
  if (kind === 'sqlite') return openSqliteJobStore(location);
  if (kind === 'dynamodb') return createDynamoJobStore({ client: createDynamoDocumentClient({ maxAttempts: 10 }), tableName: location });
  throw new Error(`RACER_STORE must be sqlite or dynamodb, not ${kind}`);
}

const store = open();
process.stdout.write('ready\n');
await new Promise<void>((resolve) => readline.createInterface({ input: process.stdin }).once('line', () => resolve()));
const won: number[] = [];
let lost = 0;
for (;;) {
  const { status } = await store.get(jobId);
  const patch = nextPatch(status);
  if (!patch) break;
  const c = change(status, patch, new Date(), me);
  try {
    await store.write(c.next, status.version, c.event);
    won.push(c.next.version);
  } catch (err) {
    if (!isVersionConflict(err)) throw err;
    lost += 1;
  }
}
await store.close();
process.stdout.write(`${JSON.stringify({ won, lost })}\n`);
process.exit(0);
