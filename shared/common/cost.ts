import type { TiercastConfig } from './config-schema.ts';
import { TiercastError } from './errors.ts';
import type { Tier } from './job.ts';
import { resolvePrices, type PriceTable } from './prices.ts';

/**
 * The cost of one job on one tier, from a duration: the predicted one before dispatch (estimate) or the measured one
 * after (actual). Compute (Lambda GB-seconds and requests, Fargate vCPU/GB-hours and ephemeral storage with the Spot
 * discount, a share of an EC2 host's hour), object-store requests and a month of storage are kept apart, because
 * storage is paid for as long as outputs are kept, not per run.
 */

export type CostConfig = Pick<TiercastConfig, 'tiers' | 'prices' | 'aws' | 'store'>;

export interface StorageUse {
  readonly inputBytes: number;
  readonly outputBytes: number;
  /** Objects written (segments, playlists, manifests, posters) and read. */
  readonly putRequests: number;
  readonly getRequests: number;
}

export interface CostBreakdown {
  readonly tier: Tier;
  readonly computeUsd: number;
  readonly requestsUsd: number;
  /** One month of keeping the input and outputs in S3 (0 for a local store). */
  readonly storageUsdPerMonth: number;
  /** compute + requests + one month of storage. */
  readonly totalUsd: number;
  readonly priceDate: string;
  readonly region: string;
  /** How the compute figure was made, for people ("2048 MB x 41.2 s x $0.0000166667/GB-s + request"). */
  readonly detail: string;
  readonly notes: readonly string[];
}

export interface CostInput {
  readonly tier: Tier;
  /** Billable run time of the worker, seconds (for Fargate, from image pull to stop). */
  readonly seconds: number;
  readonly storage?: StorageUse;
}

const round = (usd: number) => Math.round(usd * 1e10) / 1e10;

const resolved = new WeakMap<object, { region: string | undefined; prices: unknown; out: { table: PriceTable; note: string | null } }>();

/** The price table for a loaded configuration (read-only once loaded): resolved once per config, region and prices. */
export function pricesFor(config: Pick<TiercastConfig, 'prices' | 'aws' | 'store'>): { table: PriceTable; note: string | null } {
  const region = config.store.kind === 's3' ? (config.store.region ?? config.aws.region) : config.aws.region;
  const known = resolved.get(config);
  if (known && known.region === region && known.prices === config.prices) return known.out;
  const out = resolvePrices(region, config.prices);
  resolved.set(config, { region, prices: config.prices, out });
  return out;
}

export function jobCost(input: CostInput, config: CostConfig): CostBreakdown {
  const { table, note } = pricesFor(config);
  const notes: string[] = note ? [note] : [];
  const seconds = Math.max(0, input.seconds);
  let computeUsd = 0;
  let requestsUsd = 0;
  let detail: string;
  const t = config.tiers;

  switch (input.tier) {
    case 'local':
      detail = 'runs on this machine: no cloud compute cost';
      break;
    case 'lambda':
    case 'lambda-enhanced': {
      const memoryMb = input.tier === 'lambda' ? t.lambda.memoryMb : t.lambda.enhancedMemoryMb;
      const gbSecond = t.lambda.arch === 'arm64' ? table.lambda.gbSecondArm64 : table.lambda.gbSecondX86;
      // Lambda bills per millisecond.
      const billed = Math.ceil(seconds * 1000) / 1000;
      const extraEphemeralGb = Math.max(0, t.lambda.ephemeralMb - table.lambda.freeEphemeralMb) / 1024;
      computeUsd = (memoryMb / 1024) * billed * gbSecond + extraEphemeralGb * billed * table.lambda.ephemeralGbSecond;
      requestsUsd += table.lambda.request;
      detail = `${memoryMb} MB x ${billed.toFixed(1)} s x $${gbSecond}/GB-s (${t.lambda.arch})${extraEphemeralGb > 0 ? ` + ${extraEphemeralGb.toFixed(2)} GB extra /tmp` : ''} + 1 request`;
      break;
    }
    case 'fargate':
    case 'fargate-spot': {
      const f = t.fargate;
      const arm = f.arch === 'arm64';
      const billed = Math.max(table.fargate.minimumBilledSeconds, Math.ceil(seconds));
      const hourly =
        f.vcpu * (arm ? table.fargate.vcpuHourArm64 : table.fargate.vcpuHourX86) +
        f.memoryGb * (arm ? table.fargate.gbHourArm64 : table.fargate.gbHourX86) +
        Math.max(0, f.ephemeralGb - table.fargate.freeEphemeralGb) * table.fargate.ephemeralGbHour;
      const spot = input.tier === 'fargate-spot';
      const factor = spot ? 1 - table.fargate.spotDiscount : 1;
      computeUsd = hourly * (billed / 3600) * factor;
      detail = `${f.vcpu} vCPU + ${f.memoryGb} GB x ${billed} s at $${hourly.toFixed(5)}/h${spot ? ` less the ${Math.round(table.fargate.spotDiscount * 100)}% Spot discount` : ''}${billed > seconds ? ' (one-minute minimum)' : ''}`;
      break;
    }
    case 'ec2': {
      const e = t.ec2;
      const hourly = e.hourlyUsd ?? table.ec2Hourly[e.instanceType];
      if (hourly === undefined) {
        throw new TiercastError('CONFIG_INVALID', `tiers.ec2.instanceType: no price for ${e.instanceType} in the ${table.region} table; set tiers.ec2.hourlyUsd`, {
          details: { field: 'tiers.ec2.hourlyUsd' },
        });
      }
      // Hosts are paid while idle too: a job's share is its slot-time divided by how busy the fleet is.
      computeUsd = ((hourly / e.jobsPerHost) * (seconds / 3600)) / e.utilization;
      // send, receive, delete, plus visibility extensions about once a minute.
      requestsUsd += (3 + Math.floor(seconds / 60)) * table.sqs.request;
      detail = `${e.instanceType} $${hourly}/h shared by ${e.jobsPerHost} jobs x ${Math.ceil(seconds)} s at ${Math.round(e.utilization * 100)}% utilisation`;
      break;
    }
  }

  let storageUsdPerMonth = 0;
  if (input.storage && config.store.kind === 's3') {
    const s = input.storage;
    requestsUsd += s.putRequests * table.s3.putRequest + s.getRequests * table.s3.getRequest;
    storageUsdPerMonth = ((s.inputBytes + s.outputBytes) / 1024 ** 3) * table.s3.storageGbMonth;
  }
  return {
    tier: input.tier,
    computeUsd: round(computeUsd),
    requestsUsd: round(requestsUsd),
    storageUsdPerMonth: round(storageUsdPerMonth),
    totalUsd: round(computeUsd + requestsUsd + storageUsdPerMonth),
    priceDate: table.date,
    region: table.region,
    detail,
    notes,
  };
}

/** Before dispatch: from the router's predicted run time. */
export function estimateCost(tier: Tier, predictedSeconds: number, config: CostConfig, storage?: StorageUse): CostBreakdown {
  return jobCost({ tier, seconds: predictedSeconds, ...(storage ? { storage } : {}) }, config);
}

export interface MeasuredRun {
  /** Wall time the worker ran (Lambda: billed duration when known; Fargate: task start to stop). */
  readonly durationSec: number;
  /** Lambda's reported billed duration (REPORT line), preferred when present. */
  readonly billedDurationSec?: number;
  readonly inputBytes?: number;
  readonly outputBytes?: number;
  readonly objectsWritten?: number;
  readonly objectsRead?: number;
}

/** After the run: from measured durations and what was actually written. */
export function actualCost(tier: Tier, run: MeasuredRun, config: CostConfig): CostBreakdown {
  const seconds = run.billedDurationSec ?? run.durationSec;
  const storage: StorageUse | undefined =
    run.outputBytes !== undefined || run.inputBytes !== undefined
      ? {
          inputBytes: run.inputBytes ?? 0,
          outputBytes: run.outputBytes ?? 0,
          putRequests: run.objectsWritten ?? 0,
          getRequests: run.objectsRead ?? 0,
        }
      : undefined;
  return jobCost({ tier, seconds, ...(storage ? { storage } : {}) }, config);
}

/** Money for people: at least two significant digits below a cent. */
export function formatUsd(usd: number): string {
  if (usd === 0) return '$0';
  if (usd >= 0.01) return `$${usd.toFixed(usd >= 100 ? 0 : 2)}`;
  return `$${usd.toPrecision(2)}`;
}
