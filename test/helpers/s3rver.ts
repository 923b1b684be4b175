import { S3Client } from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * s3rver 3.7.1 on 127.0.0.1 (random port, temp folder), for tests and benchmarks.
 *
 * It runs in a child Node process because its paginated listing encrypts continuation tokens with DES, which
 * Node 20's OpenSSL 3 only has with --openssl-legacy-provider; a child also keeps its logger's process-wide
 * exception handlers out of the test runner, and keeps its memory apart from the process being measured.
 * The child adds ListParts and AbortMultipartUpload, which s3rver lacks (see CHILD).
 */
export interface S3rverHandle {
  readonly endpoint: string;
  readonly bucket: string;
  readonly client: S3Client;
  /** The s3rver child's pid (for measuring it apart). */
  readonly pid: number;
  stop(): Promise<void>;
}

const s3rverMain = createRequire(import.meta.url).resolve('s3rver');

const CHILD = `
const S3rver = require(process.env.S3RVER_MAIN);
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory: process.env.S3RVER_DIR,
  configureBuckets: [{ name: process.env.S3RVER_BUCKET }],
});
// s3rver 3.7.1 lacks ListParts and AbortMultipartUpload (GET/DELETE ?uploadId answer MethodNotAllowed); resumable
// uploads need both, so they are filled in here from s3rver's own upload folder (part files + .md5 files).
const fs = require('node:fs');
const path = require('node:path');
const xml = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
server.middleware.unshift(async (ctx, next) => {
  const m = new RegExp('^/([^/]+)/(.+)$').exec(ctx.path);
  if (!m || typeof ctx.query.uploadId !== 'string' || (ctx.method !== 'GET' && ctx.method !== 'DELETE')) return next();
  const [, bucket, key] = m;
  const uploadId = ctx.query.uploadId;
  const dir = path.join(server.store.getResourcePath(bucket, undefined, 'uploads'), path.basename(uploadId));
  if (!fs.existsSync(dir)) {
    ctx.status = 404;
    ctx.type = 'application/xml';
    ctx.body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message><UploadId>' + xml(uploadId) + '</UploadId></Error>';
    return;
  }
  if (ctx.method === 'DELETE') {
    fs.rmSync(dir, { recursive: true, force: true });
    ctx.status = 204;
    return;
  }
  const marker = Number(ctx.query['part-number-marker'] || 0);
  const maxParts = Math.min(Number(ctx.query['max-parts'] || 1000), 1000);
  const numbers = fs.readdirSync(dir).filter((n) => /^[0-9]+$/.test(n) && fs.existsSync(path.join(dir, n + '.md5')))
    .map(Number).filter((n) => n > marker).sort((a, b) => a - b);
  const page = numbers.slice(0, maxParts);
  const truncated = numbers.length > page.length;
  const parts = page.map((n) => {
    const st = fs.statSync(path.join(dir, String(n)));
    const md5 = fs.readFileSync(path.join(dir, n + '.md5'), 'utf8');
    return '<Part><PartNumber>' + n + '</PartNumber><LastModified>' + st.mtime.toISOString() + '</LastModified><ETag>"' + md5 + '"</ETag><Size>' + st.size + '</Size></Part>';
  }).join('');
  ctx.status = 200;
  ctx.type = 'application/xml';
  ctx.body = '<?xml version="1.0" encoding="UTF-8"?><ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>' + xml(bucket) + '</Bucket><Key>' + xml(decodeURIComponent(key)) + '</Key><UploadId>' + xml(uploadId) + '</UploadId><PartNumberMarker>' + marker + '</PartNumberMarker>' + (truncated ? '<NextPartNumberMarker>' + page[page.length - 1] + '</NextPartNumberMarker>' : '') + '<MaxParts>' + maxParts + '</MaxParts><IsTruncated>' + truncated + '</IsTruncated>' + parts + '</ListPartsResult>';
});
server.run().then(
  (addr) => process.send({ port: addr.port }),
  (err) => { console.error(err); process.exit(1); },
);
const stop = () => server.close().finally(() => process.exit(0));
process.on('message', (m) => { if (m === 'stop') stop(); });
process.on('disconnect', stop);
`;

/** Static dummy credentials: s3rver checks signatures against these. Never real ones. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export function s3rverClient(endpoint: string, extra: { maxAttempts?: number } = {}): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    // s3rver predates the SDK's default CRC32 checksums (and rejects their trailer encoding).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...extra,
  });
}

export async function startS3rver(options: { bucket?: string } = {}): Promise<S3rverHandle> {
  const bucket = options.bucket ?? `tc-${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-s3rver-'));
  const child: ChildProcess = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, NODE_OPTIONS: '', S3RVER_MAIN: s3rverMain, S3RVER_DIR: dir, S3RVER_BUCKET: bucket },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not start in 30 s: ${stderr}`)), 30_000);
    child.once('message', (m: { port: number }) => {
      clearTimeout(timer);
      resolve(m.port);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with ${code}: ${stderr}`));
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = s3rverClient(endpoint);
  let stopped = false;
  return {
    endpoint,
    bucket,
    client,
    pid: child.pid!,
    async stop() {
      if (stopped) return;
      stopped = true;
      client.destroy();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.send('stop');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A tiny HTTP proxy in front of s3rver that answers S3 XML errors (by default `503 SlowDown`) to selected requests,
 * e.g. the first attempt of some parts, to prove retries keep an upload intact. `shouldFail` sees every attempt.
 */
export interface FaultProxy {
  readonly endpoint: string;
  /** Requests answered with 503, as `METHOD url`. */
  readonly injected: string[];
  /** Every request seen, as `METHOD url`. */
  readonly seen: string[];
  stop(): Promise<void>;
}

/** What to answer instead of forwarding: true means 503 SlowDown. */
export type InjectedFault = boolean | { readonly status: number; readonly code: string; readonly message?: string };

export async function startFaultProxy(
  target: string,
  shouldFail: (req: { method: string; url: string; attempt: number }) => InjectedFault,
): Promise<FaultProxy> {
  const upstream = new URL(target);
  const attempts = new Map<string, number>();
  const injected: string[] = [];
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    const id = `${req.method} ${req.url}`;
    seen.push(id);
    const attempt = (attempts.get(id) ?? 0) + 1;
    attempts.set(id, attempt);
    const fault = shouldFail({ method: req.method ?? 'GET', url: req.url ?? '/', attempt });
    if (fault) {
      const { status, code, message } = fault === true ? { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' } : fault;
      injected.push(id);
      req.resume();
      req.on('end', () => {
        res.writeHead(status, { 'content-type': 'application/xml' });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message ?? code}</Message>` +
            `<RequestId>${randomBytes(8).toString('hex')}</RequestId></Error>`,
        );
      });
      return;
    }
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    forward.on('error', (err) => {
      res.writeHead(502);
      res.end(String(err));
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    injected,
    seen,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
