import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRow } from '../../../../shared/common/api-contract.ts';
import { contract } from '../../../../shared/common/api-contract.ts';
import { LADDERS } from '../../../../shared/common/ladders.ts';
import { createLedger, type JobLedger } from '../../../../shared/node/ledger.ts';
import { createLocalStore } from '../../../../shared/node/local-store.ts';
import { createJobsService, type JobsService } from '../../../../desktop/main/services/jobs.ts';

/** The jobs table over a real local ledger: listing, filters, paging, and refreshes that re-read only what changed. */
describe('jobs service', () => {
  let tmp: string;
  let ledger: JobLedger;
  let reads = 0;
  let service: JobsService;
  const updates: JobRow[][] = [];
  const sent: string[] = [];

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-jobs-'));
    const real = createLedger(createLocalStore(tmp));
    // Count status reads to prove a refresh only reads what changed.
    ledger = { ...real, getStatus: (id: string) => (reads++, real.getStatus(id)) };
    for (let i = 0; i < 30; i++) {
      const id = `job${String(i).padStart(3, '0')}`;
      await real.createJob(
        {
          schemaVersion: 1,
          id,
          createdAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
          input: { key: `inputs/${id}/x.mp4`, name: i % 3 === 0 ? `Holiday ${i}.mp4` : `clip ${i}.mov`, sizeBytes: 1000 + i },
          ladder: LADDERS.default!,
        },
        { tier: 'local', tierReason: 'small', estimatedCostUsd: 0, priceDate: '2025-06-01' },
      );
      if (i < 10) await real.updateStatus(id, { stage: 'done', progress: 1, startedAt: new Date(Date.UTC(2026, 0, 1, 1)).toISOString(), finishedAt: new Date(Date.UTC(2026, 0, 1, 1, 0, 30)).toISOString() });
      else if (i < 13) await real.updateStatus(id, { stage: 'failed', error: { code: 'DECODE_FAILED', message: 'bad' }, finishedAt: new Date().toISOString() });
    }
    service = createJobsService({
      ledger: () => ledger,
      route: () => ({ tier: 'local', reason: 'test', estimatedCostUsd: 0, priceDate: '2025-06-01' }),
      send: async (job) => void sent.push(job.jobId),
      onUpdate: (rows) => updates.push(rows),
    });
  });
  afterAll(() => {
    service.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('lists every job with filters, search, counts and pages', async () => {
    await service.refreshAll();
    const all = service.list({ limit: 1000 });
    expect(all.total).toBe(30);
    expect(all.counts).toEqual({ done: 10, failed: 3, queued: 17 });
    expect(all.jobs[0]!.id).toBe('job029');
    expect(contract['jobs.list'].response.safeParse(all).success).toBe(true);
    expect(all.jobs.find((j) => j.id === 'job001')).toMatchObject({ stage: 'done', elapsedSec: 30, ladder: 'default', name: 'clip 1.mov' });

    expect(service.list({ limit: 100, stage: 'active' }).total).toBe(17);
    expect(service.list({ limit: 100, stage: 'failed' }).jobs.every((j) => j.error?.code === 'DECODE_FAILED')).toBe(true);
    expect(service.list({ limit: 100, search: 'holiday' }).total).toBe(10);
    expect(service.list({ limit: 100, tier: 'lambda' }).total).toBe(0);

    const page1 = service.list({ limit: 12 });
    const page2 = service.list({ limit: 12, cursor: page1.nextCursor! });
    const page3 = service.list({ limit: 12, cursor: page2.nextCursor! });
    expect(page3.nextCursor).toBeNull();
    const ids = [...page1.jobs, ...page2.jobs, ...page3.jobs].map((j) => j.id);
    expect(new Set(ids).size).toBe(30);
  });

  it('re-reads only the statuses that changed since the last listing', async () => {
    await new Promise((r) => setTimeout(r, 20));
    await createLedger(createLocalStore(tmp)).updateStatus('job020', { stage: 'encoding', progress: 0.5 });
    reads = 0;
    updates.length = 0;
    await service.refreshAll();
    expect(reads).toBe(1);
    expect(updates.flat().map((r) => r.id)).toEqual(['job020']);
    expect(service.list({ limit: 5, search: 'job020' }).jobs[0]).toMatchObject({ stage: 'encoding', progress: 0.5 });
  });

  it('retries a failed job and cancels a queued one, refusing the wrong states', async () => {
    const retried = await service.retry('job011');
    expect(retried).toMatchObject({ stage: 'queued', error: null });
    expect(sent).toEqual(['job011']);
    await expect(service.retry('job001')).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(service.retry('job015')).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    // Queued after an error (waiting out a backoff): "retry now" sends it again, with its attempts reset.
    await createLedger(createLocalStore(tmp)).updateStatus('job016', { attempts: 3, error: { code: 'ENCODE_FAILED', message: 'x' } });
    expect(await service.retry('job016')).toMatchObject({ stage: 'queued', error: null, attempts: 0 });
    expect(sent).toEqual(['job011', 'job016']);
    const cancelled = await service.cancel('job025');
    expect(cancelled).toMatchObject({ stage: 'failed', error: { code: 'CANCELLED' } });
    await expect(service.cancel('job025')).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(service.get('nosuchjob')).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
  });
});
