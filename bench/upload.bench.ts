/**
 * Upload benchmark: a 500 MB file to s3rver as Tiercast's resumable multipart putFile, as lib-storage's streamed
 * Upload (store.put of a stream) and as one streamed PutObject. Each upload runs in its own child process so its
 * peak RSS is its own; an idle child (same imports, no upload) gives the baseline. Times are compared as ratios
 * within this one run.
 *
 *   npx tsx bench/upload.bench.ts [--mb 500] [--part-mb 8] [--concurrency 4] [--json]
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createS3Store } from '../cloud/s3-store.ts';
import { s3rverClient, startS3rver } from '../test/helpers/s3rver.ts';

const MiB = 1024 * 1024;
const MODES = ['idle', 'multipart-putFile', 'libstorage-stream', 'single-PutObject'] as const;
type Mode = (typeof MODES)[number];

export interface UploadBenchResult {
  readonly mode: Mode;
  readonly seconds: number;
  readonly peakRssMiB: number;
  readonly mibPerSec: number | null;
  /** multipart only: when the last part was stored; the rest is CompleteMultipartUpload. */
  readonly partsDoneSeconds?: number;
}

interface ChildArgs {
  mode: Mode;
  endpoint: string;
  bucket: string;
  file: string;
  partMiB: number;
  concurrency: number;
}

/** Runs in the child: one upload, then its own timing and peak RSS on stdout. */
async function child(args: ChildArgs): Promise<void> {
  const client = s3rverClient(args.endpoint);
  const store = createS3Store({ client, bucket: args.bucket, partSizeBytes: args.partMiB * MiB, concurrency: args.concurrency });
  const size = statSync(args.file).size;
  const key = `bench/${args.mode}.bin`;
  const t0 = performance.now();
  let partsDoneSeconds: number | undefined;
  switch (args.mode) {
    case 'idle':
      break;
    case 'multipart-putFile':
      await store.putFile(key, args.file, {
        onProgress: (p) => {
          if (p.loaded === size) partsDoneSeconds = (performance.now() - t0) / 1000;
        },
      });
      break;
    case 'libstorage-stream':
      await store.put(key, createReadStream(args.file, { highWaterMark: 1 * MiB }));
      break;
    case 'single-PutObject':
      await client.send(
        new PutObjectCommand({ Bucket: args.bucket, Key: key, Body: createReadStream(args.file, { highWaterMark: 1 * MiB }), ContentLength: size }),
      );
      break;
  }
  const seconds = (performance.now() - t0) / 1000;
  if (args.mode !== 'idle') {
    const head = await store.head(key);
    if (head?.size !== size) throw new Error(`${args.mode}: stored ${head?.size} bytes, expected ${size}`);
    await store.delete(key);
  }
  client.destroy();
  process.stdout.write(JSON.stringify({ seconds, partsDoneSeconds, peakRssKiB: process.resourceUsage().maxRSS }) + '\n');
}

interface ChildResult {
  seconds: number;
  partsDoneSeconds?: number;
  peakRssKiB: number;
}

function runChild(args: ChildArgs): Promise<ChildResult> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', self, '--child', JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${args.mode} child exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult);
      } catch (err) {
        reject(err);
      }
    });
  });
}

async function writeRandomFile(file: string, bytes: number): Promise<void> {
  const out = createWriteStream(file);
  const chunk = 8 * MiB;
  for (let written = 0; written < bytes; written += chunk) {
    const n = Math.min(chunk, bytes - written);
    if (!out.write(randomBytes(n))) await new Promise<void>((r) => out.once('drain', r));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

export async function runUploadBench(options: { mb?: number; partMiB?: number; concurrency?: number } = {}): Promise<UploadBenchResult[]> {
  const mb = options.mb ?? 500;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tiercast-bench-upload-'));
  const file = path.join(tmp, 'source.bin');
  const s3 = await startS3rver();
  try {
    await writeRandomFile(file, mb * 1_000_000);
    const results: UploadBenchResult[] = [];
    for (const mode of MODES) {
      const r = await runChild({ mode, endpoint: s3.endpoint, bucket: s3.bucket, file, partMiB: options.partMiB ?? 8, concurrency: options.concurrency ?? 4 });
      results.push({
        mode,
        seconds: Math.round(r.seconds * 100) / 100,
        peakRssMiB: Math.round((r.peakRssKiB / 1024) * 10) / 10,
        mibPerSec: mode === 'idle' ? null : Math.round((mb * 1_000_000) / MiB / r.seconds),
        ...(r.partsDoneSeconds !== undefined ? { partsDoneSeconds: Math.round(r.partsDoneSeconds * 100) / 100 } : {}),
      });
    }
    return results;
  } finally {
    await s3.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const childIndex = process.argv.indexOf('--child');
  if (childIndex > 0) {
    await child(JSON.parse(process.argv[childIndex + 1]!) as ChildArgs);
  } else {
    const mb = arg('mb', 500);
    const results = await runUploadBench({ mb, partMiB: arg('part-mb', 8), concurrency: arg('concurrency', 4) });
    const single = results.find((r) => r.mode === 'single-PutObject')!;
    const multi = results.find((r) => r.mode === 'multipart-putFile')!;
    const idle = results.find((r) => r.mode === 'idle')!;
    const summary = {
      fileMB: mb,
      cpus: os.cpus().length,
      node: process.version,
      results,
      multipartOverSingleTimeRatio: Math.round((multi.seconds / single.seconds) * 100) / 100,
      extraRssMiB: Object.fromEntries(results.filter((r) => r.mode !== 'idle').map((r) => [r.mode, Math.round((r.peakRssMiB - idle.peakRssMiB) * 10) / 10])),
    };
    const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
    mkdirSync(resultsDir, { recursive: true });
    const resultFile = path.join(resultsDir, `upload-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(resultFile, JSON.stringify(summary, null, 2) + '\n');
    if (process.argv.includes('--json')) {
      process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    } else {
      console.log(`upload of ${mb} MB to s3rver on 127.0.0.1 (${summary.cpus} CPUs, Node ${summary.node})`);
      console.log('mode                  seconds   MiB/s   peak RSS MiB   over idle');
      for (const r of results) {
        console.log(
          `${r.mode.padEnd(20)} ${String(r.seconds).padStart(8)} ${String(r.mibPerSec ?? '-').padStart(7)} ${String(r.peakRssMiB).padStart(14)} ${String(r.mode === 'idle' ? '-' : summary.extraRssMiB[r.mode]).padStart(11)}`,
        );
      }
      console.log(`multipart / single PutObject time ratio: ${summary.multipartOverSingleTimeRatio}`);
      console.log(`(written to ${path.relative(process.cwd(), resultFile)})`);
      if (multi.partsDoneSeconds !== undefined) {
        console.log(`multipart: parts stored after ${multi.partsDoneSeconds} s; CompleteMultipartUpload took the other ${Math.round((multi.seconds - multi.partsDoneSeconds) * 100) / 100} s`);
      }
    }
  }
}
