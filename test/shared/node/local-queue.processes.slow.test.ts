import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalQueue } from '../../../shared/node/local-queue.ts';
import { repoRoot } from '../../helpers/media.ts';

/** The local queue's claim is a rename(2): several processes draining one folder get each message exactly once. */

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-lq-proc-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CONSUMER = `
import { createLocalQueue } from ${JSON.stringify(path.join(repoRoot, 'shared/node/local-queue.ts'))};
const q = createLocalQueue(process.env.LQ_DIR, { pollIntervalMs: 20 });
const got = [];
for (;;) {
  const batch = await q.receive({ maxMessages: 3, waitSeconds: 1 });
  if (batch.length === 0) break;
  for (const m of batch) {
    got.push(m.body);
    await q.delete(m);
  }
}
process.stdout.write(JSON.stringify(got));
`;

function consumer(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CONSUMER], { cwd: repoRoot, env: { ...process.env, LQ_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`consumer exited ${code}: ${err}`))));
  });
}

describe('local queue across processes', () => {
  it('three processes draining one folder receive each of 60 messages exactly once', async () => {
    const q = createLocalQueue(dir);
    const sent = Array.from({ length: 60 }, (_, i) => `m${i}`);
    for (const body of sent) await q.send(body);
    const results = await Promise.all([consumer(), consumer(), consumer()]);
    const all = results.flat();
    expect(all.sort()).toEqual([...sent].sort());
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 0 });
  });
});
