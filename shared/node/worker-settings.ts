import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { TiercastConfig } from '../common/config-schema.ts';
import { TiercastError } from '../common/errors.ts';
import { homePaths } from './data-home.ts';

/**
 * The worker's settings, one resolution for every worker: `tiercast agent` (EC2), `tiercast agent --local`,
 * `tiercast dispatch --wait` and the console's local tier, so the local set-ups cannot drift (disk floor, grace
 * period, visibility). Precedence: flags, then TIERCAST_AGENT_* in the environment, then the config file's "agent"
 * section, then defaults.
 */

export interface AgentFlags {
  readonly local?: boolean;
  readonly once?: boolean;
  readonly concurrency?: number;
  readonly config?: string;
  readonly healthPort?: number;
  readonly workDir?: string;
  readonly spotWatch?: boolean;
  readonly logFormat?: 'json' | 'pretty' | 'auto';
}

/** Threads one job's ffmpeg keeps busy (decode plus the rungs); the default concurrency divides the cores by it. */
export const THREADS_PER_JOB = 2;

export function defaultConcurrency(cores: number = os.availableParallelism?.() ?? os.cpus().length): number {
  return Math.max(1, Math.floor(cores / THREADS_PER_JOB));
}

const int = (min: number, max: number) => z.number().int().min(min).max(max);

/** The agent's own settings. In the config file they live under "agent"; in the environment as TIERCAST_AGENT_*. */
export const AgentSettingsSchema = z
  .strictObject({
    concurrency: int(1, 256),
    workDir: z.string().min(1),
    minFreeDiskBytes: z.number().int().nonnegative(),
    visibilityTimeoutSec: int(1, 43_200),
    heartbeatSec: z.number().positive(),
    waitSeconds: int(0, 20),
    maxReceives: int(1, 1000),
    graceMs: int(0, 3_600_000),
    retryBaseSec: z.number().positive(),
    retryMaxSec: z.number().positive(),
    /** null: no health endpoint. 0: a random port (printed). */
    healthPort: int(0, 65_535).nullable(),
    healthHost: z.string().min(1),
    spotWatch: z.boolean(),
    imdsEndpoint: z.url(),
  })
  .refine((s) => s.heartbeatSec < s.visibilityTimeoutSec, {
    message: 'must be shorter than visibilityTimeoutSec, or a running job\'s message reappears',
    path: ['heartbeatSec'],
  });
export type AgentSettings = z.infer<typeof AgentSettingsSchema>;

const ENV: ReadonlyArray<readonly [string, keyof AgentSettings, 'number' | 'bool' | 'string']> = [
  ['TIERCAST_AGENT_CONCURRENCY', 'concurrency', 'number'],
  ['TIERCAST_AGENT_WORK_DIR', 'workDir', 'string'],
  ['TIERCAST_AGENT_MIN_FREE_DISK_BYTES', 'minFreeDiskBytes', 'number'],
  ['TIERCAST_AGENT_VISIBILITY_TIMEOUT_SEC', 'visibilityTimeoutSec', 'number'],
  ['TIERCAST_AGENT_HEARTBEAT_SEC', 'heartbeatSec', 'number'],
  ['TIERCAST_AGENT_WAIT_SECONDS', 'waitSeconds', 'number'],
  ['TIERCAST_AGENT_MAX_RECEIVES', 'maxReceives', 'number'],
  ['TIERCAST_AGENT_GRACE_MS', 'graceMs', 'number'],
  ['TIERCAST_AGENT_RETRY_BASE_SEC', 'retryBaseSec', 'number'],
  ['TIERCAST_AGENT_RETRY_MAX_SEC', 'retryMaxSec', 'number'],
  ['TIERCAST_AGENT_HEALTH_PORT', 'healthPort', 'number'],
  ['TIERCAST_AGENT_HEALTH_HOST', 'healthHost', 'string'],
  ['TIERCAST_AGENT_SPOT_WATCH', 'spotWatch', 'bool'],
  ['AWS_EC2_METADATA_SERVICE_ENDPOINT', 'imdsEndpoint', 'string'],
];

function configInvalid(field: string, source: string, message: string): TiercastError {
  return new TiercastError('CONFIG_INVALID', `agent.${field} (from ${source}): ${message}`, { details: { field: `agent.${field}`, source } });
}

/** Agent settings with their precedence; errors name the field and where its value came from. */
export function resolveAgentSettings(flags: AgentFlags, env: NodeJS.ProcessEnv, config: TiercastConfig, home: string): AgentSettings {
  const local = flags.local === true || config.queue.kind === 'local';
  const sources = new Map<string, string>();
  const merged: Record<string, unknown> = {
    concurrency: local ? config.tiers.local.concurrency : defaultConcurrency(),
    workDir: homePaths(home).work,
    minFreeDiskBytes: (local ? 512 : 2048) * 1024 * 1024,
    visibilityTimeoutSec: 120,
    heartbeatSec: undefined,
    waitSeconds: 20,
    maxReceives: 3,
    // The Spot notice gives two minutes; the systemd unit's TimeoutStopSec (120) must exceed this.
    graceMs: 90_000,
    retryBaseSec: 10,
    retryMaxSec: 900,
    healthPort: local ? null : 9464,
    healthHost: '127.0.0.1',
    spotWatch: false,
    imdsEndpoint: 'http://169.254.169.254',
  };
  const fileSection = (config as Record<string, unknown>).agent;
  if (fileSection !== undefined) {
    if (!fileSection || typeof fileSection !== 'object' || Array.isArray(fileSection)) throw configInvalid('', 'config file', 'must be an object');
    for (const [k, v] of Object.entries(fileSection)) {
      merged[k] = v;
      sources.set(k, 'config file');
    }
  }
  for (const [name, key, kind] of ENV) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let value: unknown = raw;
    if (kind === 'number') {
      value = Number(raw);
      if (!Number.isFinite(value)) throw configInvalid(key, name, `not a number: ${JSON.stringify(raw)}`);
    } else if (kind === 'bool') {
      if (!/^(1|0|true|false|yes|no)$/i.test(raw)) throw configInvalid(key, name, `not a boolean: ${JSON.stringify(raw)}`);
      value = /^(1|true|yes)$/i.test(raw);
    }
    merged[key] = value;
    sources.set(key, name);
  }
  const fromFlags: Partial<Record<keyof AgentSettings, unknown>> = {
    concurrency: flags.concurrency,
    healthPort: flags.healthPort,
    workDir: flags.workDir,
    spotWatch: flags.spotWatch || undefined,
  };
  for (const [k, v] of Object.entries(fromFlags)) {
    if (v === undefined) continue;
    merged[k] = v;
    sources.set(k, `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  }
  if (merged.heartbeatSec === undefined) merged.heartbeatSec = Math.max(1, Math.floor(Number(merged.visibilityTimeoutSec) / 3));
  const r = AgentSettingsSchema.safeParse(merged);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.') || '(agent)';
    throw configInvalid(field, sources.get(field) ?? 'default', `${issue.message} (got ${JSON.stringify(merged[field])})`);
  }
  return { ...r.data, workDir: path.resolve(r.data.workDir) };
}
