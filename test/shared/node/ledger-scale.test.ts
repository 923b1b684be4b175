import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TiercastError } from '../../../shared/common/errors.ts';
import { STAGES, ledgerKeys, type JobStatus } from '../../../shared/common/job.ts';
import { createLedger } from '../../../shared/node/ledger.ts';
import { compareKeys } from '../../../shared/node/local-store.ts';
import type { ObjectMeta, ObjectStore } from '../../../shared/node/object-store.ts';

/**
 * The scale: listing works for 25,000 jobs. The ledger's listing logic (prefix walk, bounded windows of
 * status reads, ordering, paging, filters) is exercised on a Map-backed store that counts reads, because writing
 * and removing 50,000 files per test run costs over a minute on the shared two-core box; the local folder store at
 * this scale is measured outside the test suite (see the report: 25,000 jobs listed in about 2.4 s).
 */
function memoryStore(): ObjectStore & { reads: number; inFlight: number; maxInFlight: number; data: Map<string, Buffer> } {
  const data = new Map<string, Buffer>();
  const self = {
    kind: 'local' as const,
    location: 'memory',
    data,
    reads: 0,
    inFlight: 0,
    maxInFlight: 0,
    async put(key: string, body: Buffer | Uint8Array | string | Readable) {
      if (body instanceof Readable) throw new Error('not needed');
      data.set(key, Buffer.from(body as string));
      return { key, size: data.get(key)!.length };
    },
    async getBuffer(key: string) {
      self.reads++;
      self.inFlight++;
      self.maxInFlight = Math.max(self.maxInFlight, self.inFlight);
      await new Promise((r) => setImmediate(r));
      self.inFlight--;
      const b = data.get(key);
      if (!b) throw new TiercastError('INPUT_NOT_FOUND', `no object ${key}`);
      return b;
    },
    async head(key: string): Promise<ObjectMeta | null> {
      const b = data.get(key);
      return b ? { key, size: b.length, lastModified: new Date() } : null;
    },
    async *list(prefix: string) {
      for (const key of [...data.keys()].filter((k) => k.startsWith(prefix)).sort(compareKeys)) yield (await self.head(key))!;
    },
    async *listPrefixes(prefix: string) {
      const set = new Set<string>();
      for (const k of data.keys()) {
        if (!k.startsWith(prefix)) continue;
        const slash = k.indexOf('/', prefix.length);
        if (slash >= 0) set.add(k.slice(0, slash + 1));
      }
      yield* [...set].sort(compareKeys);
    },
  };
  const unsupported = async () => {
    throw new Error('not used by listJobs');
  };
  return Object.assign(self, {
    putFile: unsupported, get: unsupported, getFile: unsupported, delete: unsupported, deletePrefix: unsupported,
    copy: unsupported,
  }) as unknown as ObjectStore & typeof self;
}

const N = 25_000;
const idOf = (i: number) => `job-${String(i).padStart(6, '0')}`;

function seeded() {
  const store = memoryStore();
  const now = new Date().toISOString();
  for (let i = 0; i < N; i++) {
    const id = idOf(i);
    const status: JobStatus = {
      schemaVersion: 1, id, stage: STAGES[i % 9]!, progress: 0, tier: 'local', tierReason: null, attempts: 0,
      createdAt: now, updatedAt: now, startedAt: null, finishedAt: null, worker: null, error: null,
      estimatedCostUsd: null, costUsd: null, priceDate: null, history: [],
    };
    store.data.set(ledgerKeys.spec(id), Buffer.from('{}'));
    store.data.set(ledgerKeys.status(id), Buffer.from(JSON.stringify(status)));
  }
  return store;
}

describe('ledger listing at 25,000 jobs', () => {
  it('lists every job once, in id order, with bounded concurrent reads', async () => {
    const store = seeded();
    const ledger = createLedger(store);
    let n = 0;
    let previous = '';
    for await (const s of ledger.listJobs({ concurrency: 8 })) {
      if (!(s.id > previous)) throw new Error(`out of order: ${s.id} after ${previous}`);
      previous = s.id;
      n++;
    }
    expect(n).toBe(N);
    expect(store.reads).toBe(N);
    expect(store.maxInFlight).toBeLessThanOrEqual(8);
    expect(store.maxInFlight).toBeGreaterThan(1);
  });

  it('reads only what a page needs, and filters by stage', async () => {
    const store = seeded();
    const ledger = createLedger(store);
    const page: string[] = [];
    for await (const s of ledger.listJobs({ startAfter: idOf(20_000), limit: 50 })) page.push(s.id);
    expect(page).toEqual(Array.from({ length: 50 }, (_, k) => idOf(20_001 + k)));
    expect(store.reads).toBe(50);
    let done = 0;
    for await (const s of ledger.listJobs({ stage: 'done' })) {
      expect(s.stage).toBe('done');
      done++;
    }
    expect(done).toBe(Math.ceil((N - STAGES.indexOf('done')) / 9));
  });
});
