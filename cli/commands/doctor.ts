import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { tierReadiness, type TiercastConfig } from '../../shared/common/config-schema.ts';
import { TIERS } from '../../shared/common/job.ts';
import { configForVerb, failVerb } from './route.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  readonly name: string;
  readonly status: CheckStatus;
  readonly message: string;
  readonly elapsedMs: number;
}

async function timed(name: string, run: () => Promise<{ status: CheckStatus; message: string }>): Promise<Check> {
  const t0 = Date.now();
  try {
    const r = await run();
    return { name, ...r, elapsedMs: Date.now() - t0 };
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'INTERNAL';
    const message = err instanceof Error ? err.message : String(err);
    return { name, status: 'fail', message: `${code}: ${message}`.slice(0, 2000), elapsedMs: Date.now() - t0 };
  }
}

/**
 * What an operator checks before trusting a machine or a configuration: the ffmpeg build and what it can do, the
 * data home, the store (a test object written, read and deleted, as the console's connection test does), the queue,
 * and which tiers are enabled and why the others are not. Nothing is dispatched and no job is touched.
 */
export async function runChecks(config: TiercastConfig, options: { home: string }): Promise<Check[]> {
  const checks: Check[] = [];

  checks.push(
    await timed('ffmpeg', async () => {
      const { resolveFfmpeg } = await import('../../shared/node/ffmpeg-locate.ts');
      const f = await resolveFfmpeg({ refresh: true });
      const missing = ['libx264', 'aac'].filter((e) => !f.encoders.has(e));
      const where = `ffmpeg ${f.version} from ${f.source} (${f.ffmpeg})`;
      if (missing.length) return { status: 'fail', message: `${where}: missing encoder ${missing.join(', ')}; transcodes need libx264 and aac` };
      if (f.major > 0 && f.major < 5) return { status: 'warn', message: `${where}: older than 5.1, the oldest build Tiercast is tested with` };
      return { status: 'ok', message: where };
    }),
    await timed('hdr', async () => {
      const { resolveFfmpeg } = await import('../../shared/node/ffmpeg-locate.ts');
      const f = await resolveFfmpeg();
      return f.canTonemap
        ? { status: 'ok', message: `HDR (PQ/HLG) sources are tone-mapped to SDR with ${f.tonemapMethod}` }
        : { status: 'warn', message: 'no zscale+tonemap or libplacebo: HDR sources are converted without tone-mapping (washed-out SDR); use a build with zscale' };
    }),
    await timed('codecs', async () => {
      const { resolveFfmpeg } = await import('../../shared/node/ffmpeg-locate.ts');
      const { CODEC_INFO, VIDEO_CODECS } = await import('../../shared/common/codecs.ts');
      const f = await resolveFfmpeg();
      const name = (c: (typeof VIDEO_CODECS)[number]) => `${CODEC_INFO[c].label} (${CODEC_INFO[c].encoder})`;
      const missing = VIDEO_CODECS.filter((c) => !f.encoders.has(CODEC_INFO[c].encoder));
      const have = VIDEO_CODECS.filter((c) => !missing.includes(c)).map(name);
      return missing.length === 0
        ? { status: 'ok', message: `rungs can be ${have.join(', ')}` }
        : { status: 'warn', message: `rungs can be ${have.join(', ') || 'nothing'}; no ${missing.map(name).join(', ')} in this build: --codecs ${missing.join(',')} fails with ENCODER_MISSING` };
    }),
    await timed('quality-metrics', async () => {
      const { resolveFfmpeg } = await import('../../shared/node/ffmpeg-locate.ts');
      const f = await resolveFfmpeg();
      return f.hasLibvmaf
        ? { status: 'ok', message: 'the ladder preview scores VMAF, SSIM and PSNR' }
        : { status: 'ok', message: 'no libvmaf in this build: the ladder preview scores SSIM and PSNR' };
    }),
    await timed('data-home', async () => {
      await mkdir(options.home, { recursive: true });
      const probe = path.join(options.home, `.doctor-${process.pid}-${randomBytes(3).toString('hex')}`);
      await writeFile(probe, 'tiercast doctor\n');
      await rm(probe, { force: true });
      return { status: 'ok', message: `${options.home} is writable` };
    }),
  );

  const { createStoreFromConfig } = await import('../../cloud/store-from-config.ts');
  const built = createStoreFromConfig(config, { home: options.home });
  try {
    checks.push(
      await timed('store', async () => {
        const s = built.store;
        const key = `doctor/${randomBytes(6).toString('hex')}.txt`;
        await s.put(key, 'tiercast doctor\n', { contentType: 'text/plain' });
        const head = await s.head(key);
        if (!head) return { status: 'fail', message: `${s.location}: a test object written a moment ago cannot be found` };
        await s.delete(key);
        return { status: 'ok', message: `wrote, read and deleted a test object in ${s.location}` };
      }),
    );
  } finally {
    built.close();
  }

  checks.push(
    await timed('queue', async () => {
      if (config.queue.kind === 'local') {
        const [{ createLocalQueue }, { homePaths }] = await Promise.all([import('../../shared/node/local-queue.ts'), import('../../shared/node/data-home.ts')]);
        const dir = config.queue.dir ?? homePaths(options.home).queue;
        const d = await createLocalQueue(dir).depth();
        return { status: 'ok', message: `local queue ${dir}: ${d.visible} waiting, ${d.inFlight} in flight` };
      }
      const { createSqsClient, createSqsJobQueue } = await import('../../cloud/sqs-queue.ts');
      const client = createSqsClient({
        ...(config.aws.region ? { region: config.aws.region } : {}),
        ...(config.queue.endpoint ? { endpoint: config.queue.endpoint } : {}),
        maxAttempts: 2,
      });
      try {
        const q = createSqsJobQueue({ client, queueUrls: { normal: config.queue.url, ...(config.queue.highPriorityUrl ? { high: config.queue.highPriorityUrl } : {}) } });
        const d = await q.depth();
        return { status: 'ok', message: `SQS ${config.queue.url}${config.queue.highPriorityUrl ? ' (+ high priority)' : ''}: ${d.visible} waiting, ${d.inFlight} in flight` };
      } finally {
        client.destroy();
      }
    }),
  );

  checks.push(
    await timed('job store', async () => {
      const { openJobStore } = await import('../../cloud/jobs-from-config.ts');
      const store = openJobStore(config, options);
      try {
        const [h, counts] = await Promise.all([store.health(), store.counts()]);
        const waiting = counts.queued + counts.dispatched + counts['retry-wait'];
        const running = counts.downloading + counts.analyzing + counts.encoding + counts.packaging + counts.uploading + counts.finalizing;
        const size = h.bytes === null ? '' : `, ${(h.bytes / 2 ** 20).toFixed(1)} MiB`;
        return {
          status: h.ok ? 'ok' : 'fail',
          message: `${store.kind} ${store.location}: ${h.jobs} jobs${size} (${waiting} waiting, ${running} running, ${counts.failed} failed); ${h.detail}`,
        };
      } finally {
        await store.close();
      }
    }),
  );

  const ready = tierReadiness(config);
  for (const tier of TIERS) {
    const on = config.tiers.enabled.includes(tier);
    const why = ready[tier];
    checks.push({
      name: `tier ${tier}`,
      // A tier enabled by hand whose resources are missing cannot run anything: that is a fault, not a note.
      status: on && why ? 'fail' : 'ok',
      message: on ? (why ? `enabled but ${why}` : 'enabled') : `off: ${why ?? 'not in tiers.enabled'}`,
      elapsedMs: 0,
    });
  }
  return checks;
}

export function formatChecks(checks: readonly Check[]): string {
  const mark: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };
  const width = Math.max(...checks.map((c) => c.name.length));
  return checks.map((c) => `${mark[c.status]}  ${c.name.padEnd(width)}  ${c.message}`).join('\n');
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('Check this machine and configuration: ffmpeg and its capabilities, data home, store, queue, tiers')
    .option('--config <file>', 'config file instead of <data home>/config.json')
    .option('--json', 'print one JSON document on stdout')
    .addHelpText(
      'after',
      '\nThe store check writes, reads and deletes one small object under doctor/; nothing else is written.\n' +
        'AWS tiers are checked against the configuration (their resources named); Lambda and ECS are not called.\n' +
        'Exit codes: 0 no check failed (warnings allowed), 1 some check failed, 2 usage or configuration error.',
    )
    .action(async (opts: { config?: string; json?: boolean }) => {
      const json = opts.json === true;
      try {
        const config = await configForVerb(opts);
        const { dataHome } = await import('../../shared/node/data-home.ts');
        const checks = await runChecks(config, { home: dataHome() });
        const ok = checks.every((c) => c.status !== 'fail');
        if (json) process.stdout.write(`${JSON.stringify({ schemaVersion: 1, verb: 'doctor', ok, checks }, null, 2)}\n`);
        else process.stdout.write(`${formatChecks(checks)}\n`);
        process.exitCode = ok ? 0 : 1;
      } catch (err) {
        failVerb('doctor', err, json);
      }
    });
}
