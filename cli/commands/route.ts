import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { TiercastConfig } from '../../shared/common/config-schema.ts';
import type { Tier } from '../../shared/common/job.ts';
import { TIERS } from '../../shared/common/job.ts';
import type { FittedLadder, Ladder } from '../../shared/common/ladder-schema.ts';
import type { Route, RouteMedia } from '../../shared/common/router.ts';
import { LADDER_HELP, ladderOption, type LadderFor } from './ladder-option.ts';
import { exitCodeFor, formatBytes } from './probe.ts';

/** One input after probing, ladder fitting and routing; `error` set when any step failed for this file alone. */
export interface AnalyzedFile {
  readonly file: string;
  readonly sizeBytes: number | null;
  readonly media: RouteMedia | null;
  readonly fitted: FittedLadder | null;
  readonly route: Route | null;
  readonly error: { code: string; message: string } | null;
}

export function parseTier(value: string | undefined): 'auto' | Tier | null {
  const v = (value ?? 'auto').trim();
  return v === 'auto' || (TIERS as readonly string[]).includes(v) ? (v as 'auto' | Tier) : null;
}

function errorOf(err: unknown, file: string): { code: string; message: string } {
  const code = (err as { code?: string }).code ?? 'INTERNAL';
  const raw = err instanceof Error ? err.message : String(err);
  const name = path.basename(file);
  return { code, message: raw.startsWith(`${name}: `) || exitCodeFor(code) === 2 ? raw : `${name}: ${raw}` };
}

/**
 * Probe, fit and route one file. A file that cannot be probed or routed gets its error code here and the caller goes
 * on with the rest. The Spot draw uses spotKeyFor(name, size), the key dispatch and re-dispatch use too.
 */
export async function analyzeFile(
  file: string,
  ladder: Ladder,
  config: TiercastConfig,
  options: { tier?: 'auto' | Tier; jobId?: string; formatCount?: number } = {},
): Promise<AnalyzedFile> {
  const [{ probeFile }, { fitLadder }, { routeJob, spotKeyFor }] = await Promise.all([
    import('../../shared/node/probe.ts'),
    import('../../shared/common/ladders.ts'),
    import('../../shared/common/router.ts'),
  ]);
  let sizeBytes: number | null = null;
  let media: RouteMedia | null = null;
  let fitted: FittedLadder | null = null;
  try {
    const st = await stat(file).catch((err: NodeJS.ErrnoException) => {
      throw Object.assign(new Error(err.code === 'ENOENT' ? 'no such file' : err.message), { code: 'INPUT_NOT_FOUND' });
    });
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'INPUT_NOT_FOUND' });
    sizeBytes = st.size;
    const info = await probeFile(file);
    if (!info.video) throw Object.assign(new Error('no video stream'), { code: 'NO_VIDEO_STREAM' });
    media = { durationSec: info.durationSec, width: info.video.displayWidth, height: info.video.displayHeight, fps: info.video.fps };
    fitted = fitLadder(info, ladder);
    const route = routeJob(
      {
        sizeBytes,
        media,
        ladder: fitted,
        requestedTier: options.tier ?? 'auto',
        ...(options.jobId ? { jobId: options.jobId } : {}),
        // The Spot draw hashes name + size (not the job id), so `route` and `dispatch` agree for one file.
        spotKey: spotKeyFor({ name: path.basename(file), sizeBytes }),
        ...(options.formatCount ? { formatCount: options.formatCount } : {}),
      },
      config,
    );
    return { file, sizeBytes, media, fitted, route, error: null };
  } catch (err) {
    return { file, sizeBytes, media, fitted, route: null, error: errorOf(err, file) };
  }
}

/** analyzeFile with the ladder of `--ladder` for this file (`auto` runs the per-title analysis on it first). */
export async function analyzeWithLadder(
  file: string,
  ladderFor: LadderFor,
  config: TiercastConfig,
  options: Parameters<typeof analyzeFile>[3] = {},
): Promise<{ analyzed: AnalyzedFile; ladder: Ladder | null }> {
  let ladder: Ladder;
  try {
    ({ ladder } = await ladderFor(file));
  } catch (err) {
    return { analyzed: { file, sizeBytes: null, media: null, fitted: null, route: null, error: errorOf(err, file) }, ladder: null };
  }
  return { analyzed: await analyzeFile(file, ladder, config, options), ladder };
}

export function formatUsdShort(usd: number): string {
  if (usd === 0) return '$0';
  return usd >= 0.01 ? `$${usd.toFixed(2)}` : `$${usd.toPrecision(2)}`;
}

const sec = (s: number) => (s < 120 ? `${Math.round(s)} s` : `${(s / 60).toFixed(1)} min`);

export function routeToJson(a: AnalyzedFile) {
  return {
    file: a.file,
    ok: a.error === null,
    sizeBytes: a.sizeBytes,
    media: a.media,
    ladder: a.fitted ? { name: a.fitted.ladder, preset: a.fitted.preset, rungs: a.fitted.rungs.map((r) => `${r.name} ${r.width}x${r.height}@${r.fps}`) } : null,
    tier: a.route?.tier ?? null,
    reason: a.route?.reason ?? null,
    estimate: a.route
      ? {
          seconds: a.route.estimate.seconds,
          costUsd: a.route.estimate.costUsd,
          computeUsd: a.route.estimate.cost.computeUsd,
          requestsUsd: a.route.estimate.cost.requestsUsd,
          storageUsdPerMonth: a.route.estimate.cost.storageUsdPerMonth,
          priceDate: a.route.estimate.priceDate,
          region: a.route.estimate.cost.region,
        }
      : null,
    alternatives: a.route
      ? a.route.alternatives.map((p) => ({ tier: p.tier, enabled: p.enabled, fits: p.blocked === null, blocked: p.blocked, seconds: p.seconds, costUsd: p.costUsd }))
      : [],
    error: a.error,
  };
}

function printHuman(a: AnalyzedFile, showLadder: boolean): void {
  const name = path.basename(a.file);
  if (a.error || !a.route) {
    process.stderr.write(`${a.error?.code ?? 'INTERNAL'}: ${a.error?.message ?? `${name}: not routed`}\n`);
    return;
  }
  const r = a.route;
  const m = a.media!;
  const lines = [
    `${name}: ${r.tier}  ~${sec(r.estimate.seconds)}  ${formatUsdShort(r.estimate.costUsd)} (compute ${formatUsdShort(r.estimate.cost.computeUsd)}; prices ${r.estimate.cost.region} ${r.estimate.priceDate})`,
    `  ${formatBytes(a.sizeBytes ?? 0)}, ${m.width}x${m.height} ${Math.round(m.fps * 100) / 100} fps, ${m.durationSec.toFixed(1)} s`,
    `  why: ${r.reason}`,
  ];
  if (showLadder && a.fitted) {
    lines.push(`  ladder ${a.fitted.ladder} (${a.fitted.preset}): ${a.fitted.rungs.map((x) => `${x.name} ${x.width}x${x.height}`).join(', ')}`);
  }
  const others = r.alternatives.filter((p) => p.enabled && p.tier !== r.tier);
  for (const p of others) lines.push(`  ${p.tier}: ${p.blocked ? `no (${p.blocked})` : `~${sec(p.seconds)} ${formatUsdShort(p.costUsd)}`}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Loads configuration for a verb; a bad config is a usage error (exit 2) reported once. */
export async function configForVerb(opts: { config?: string }): Promise<TiercastConfig> {
  const { loadConfig } = await import('../../shared/node/config.ts');
  return loadConfig({ ...(opts.config ? { configPath: opts.config } : {}) });
}

export function failVerb(verb: string, err: unknown, json: boolean): void {
  const code = (err as { code?: string }).code ?? 'INTERNAL';
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${code}: ${message}\n`);
  if (json) process.stdout.write(`${JSON.stringify({ schemaVersion: 1, verb, ok: false, error: { code, message } }, null, 2)}\n`);
  process.exitCode = exitCodeFor(code) === 2 || code === 'STORE_ERROR' || code === 'QUEUE_ERROR' ? 2 : 1;
}

export function register(program: Command): void {
  program
    .command('route')
    .description('Show which tier each file would run on, why, and what it would cost (nothing is uploaded)')
    .argument('<files...>', 'media files')
    .option('--ladder <name|file|auto>', LADDER_HELP, 'default')
    .option('--tier <tier>', `auto or one of ${TIERS.join(', ')}`, 'auto')
    .option('--config <file>', 'config file instead of <data home>/config.json')
    .option('--json', 'print one JSON document on stdout')
    .addHelpText(
      'after',
      '\nThe router takes the size class (Lambda under 50 MB, the enhanced function under 150 MB, Fargate above), then\n' +
        'predicts run time, disk and memory on each enabled tier from duration x output pixels x preset and skips tiers\n' +
        'whose limits the job would exceed. With no AWS configuration every file routes to local.\n' +
        'Exit codes: 0 all routed, 1 some file failed (the rest still routed), 2 usage or configuration error.',
    )
    .action(async (files: string[], opts: { ladder: string; tier?: string; config?: string; json?: boolean }) => {
      const json = opts.json === true;
      const tier = parseTier(opts.tier);
      let config: TiercastConfig;
      let ladderFor: LadderFor;
      try {
        if (!tier) throw Object.assign(new Error(`--tier "${opts.tier}": use auto or one of ${TIERS.join(', ')}`), { code: 'CONFIG_INVALID' });
        config = await configForVerb(opts);
        ladderFor = await ladderOption(opts.ladder);
      } catch (err) {
        failVerb('route', err, json);
        return;
      }
      const results: AnalyzedFile[] = [];
      for (const file of files) {
        const { analyzed: a } = await analyzeWithLadder(file, ladderFor!, config, { tier: tier! });
        results.push(a);
        if (!json) printHuman(a, true);
        else if (a.error) process.stderr.write(`${a.error.code}: ${a.error.message}\n`);
      }
      const failed = results.filter((r) => r.error).length;
      const routed = results.filter((r) => r.route);
      const totalUsd = routed.reduce((sum, r) => sum + r.route!.estimate.costUsd, 0);
      if (json) {
        const doc = { schemaVersion: 1, verb: 'route', ok: failed === 0, enabledTiers: config.tiers.enabled, totalEstimatedUsd: totalUsd, files: results.map(routeToJson) };
        process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
      } else if (files.length > 1) {
        process.stdout.write(`total: ${routed.length} of ${files.length} files routed, ${formatUsdShort(totalUsd)} estimated\n`);
      }
      const configErrors = results.filter((r) => r.error && exitCodeFor(r.error.code) === 2).length;
      process.exitCode = failed === 0 ? 0 : configErrors === failed ? 2 : 1;
    });
}
