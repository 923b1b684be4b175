import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { change, type JobEvent } from '../../shared/common/job-lifecycle.ts';
import type { JobStore } from '../../shared/common/job-store.ts';
import type { JobStatus } from '../../shared/common/job.ts';

/** One request as a webhook receiver sees it: headers and the raw body bytes (what signatures are made over). */
export interface ReceivedHook {
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly raw: Buffer;
  readonly at: number;
}

export interface Reply {
  readonly status: number;
  readonly headers?: Record<string, string>;
}

/**
 * A real HTTP receiver on 127.0.0.1. `replies` are used in order, then `status` (default 200) for everything after.
 */
export async function startReceiver(options: { replies?: Reply[]; status?: number } = {}): Promise<{
  url: string;
  received: ReceivedHook[];
  replies: Reply[];
  close(): Promise<void>;
}> {
  const received: ReceivedHook[] = [];
  const replies = [...(options.replies ?? [])];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '/', headers: req.headers, raw: Buffer.concat(chunks), at: Date.now() });
      const reply = replies.shift() ?? { status: options.status ?? 200 };
      res.writeHead(reply.status, reply.headers ?? {});
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    replies,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Moves a job through the real store with the lifecycle's change(): one versioned write and its event. */
export async function move(store: JobStore, id: string, patch: Partial<JobStatus>): Promise<JobEvent | null> {
  const { status } = await store.get(id);
  const c = change(status, patch, new Date());
  await store.write(c.next, status.version, c.event);
  return c.event;
}

/** queued -> downloading -> finalizing -> done; returns the job.done event. */
export async function finish(store: JobStore, id: string): Promise<JobEvent> {
  await move(store, id, { stage: 'downloading', attempts: 1 });
  await move(store, id, { stage: 'finalizing' });
  return (await move(store, id, { stage: 'done', finishedAt: new Date().toISOString() }))!;
}
