/**
 * The job mix the job store benchmark routes (not a benchmark itself): 60 % of inputs under 50 MB, 30 % at 50-150 MB,
 * 10 % above, 5-12 Mb/s sources, and a configuration that names every AWS tier so the router weighs them all.
 */
import type { RouteInput } from '../shared/common/router.ts';
import { loadConfig } from '../shared/node/config.ts';

const MB = 1024 * 1024;

export function inputFor(i: number, ladder: RouteInput['ladder']): RouteInput {
  const r = (Math.imul(i, 2654435761) >>> 0) / 2 ** 32;
  // A second, independent draw for the bitrate, so size and duration are not tied together.
  const r2 = (Math.imul(i ^ 0x5bd1e995, 2246822519) >>> 0) / 2 ** 32;
  const band = i % 10;
  const sizeMb = band < 6 ? 5 + r * 44 : band < 9 ? 50 + r * 99 : 151 + r * 1500;
  const bitrate = 5e6 + r2 * 7e6;
  return {
    sizeBytes: Math.round(sizeMb * MB),
    media: { durationSec: (sizeMb * MB * 8) / bitrate, width: 1920, height: 1080, fps: 30 },
    ladder,
    jobId: `bench-${String(i).padStart(6, '0')}`,
  };
}

/** All AWS tiers named (no calls are made): the router then weighs every tier, its most expensive path. */
export function routingConfig(home: string) {
  return loadConfig({
    home,
    env: {
      TIERCAST_BUCKET: 'bench-bucket',
      AWS_REGION: 'us-east-1',
      LAMBDA_FUNCTION_NAME: 'f',
      LAMBDA_FUNCTION_NAME_ENHANCED: 'g',
      ECS_CLUSTER_NAME: 'c',
      ECS_TASK_DEFINITION: 't',
      ECS_SUBNETS: 'subnet-0a',
      TIERCAST_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/q',
    },
  });
}
