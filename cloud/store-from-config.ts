import path from 'node:path';
import type { TiercastConfig } from '../shared/common/config-schema.ts';
import { homePaths } from '../shared/node/data-home.ts';
import { createLocalStore } from '../shared/node/local-store.ts';
import type { ObjectStore } from '../shared/node/object-store.ts';
import { createS3Client, createS3Store } from './s3-store.ts';

const MIB = 1024 * 1024;

/**
 * The configured object store, built one way for every composition root (CLI, agent, console, Lambda/Fargate),
 * so they agree on region fallback, profile, part size and where upload resume state lives: an upload the CLI
 * was interrupted in resumes from the console, and the other way round. The S3 resume state lives in uploads/s3,
 * apart from the console's own upload queue in uploads/.
 */
export function createStoreFromConfig(
  config: TiercastConfig,
  options: { home: string; /** false on hosts without a lasting disk (Lambda): no resume across runs. */ resumable?: boolean },
): { store: ObjectStore; close: () => void } {
  const paths = homePaths(options.home);
  if (config.store.kind === 'local') {
    return { store: createLocalStore(config.store.root ?? paths.store), close: () => {} };
  }
  const s = config.store;
  const region = s.region ?? config.aws.region;
  const client = createS3Client({
    ...(region ? { region } : {}),
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    forcePathStyle: s.forcePathStyle,
    ...(config.aws.profile ? { profile: config.aws.profile } : {}),
  });
  const store = createS3Store({
    client,
    bucket: s.bucket,
    prefix: s.prefix,
    ...(options.resumable === false ? {} : { resumeDir: path.join(paths.uploads, 's3') }),
    partSizeBytes: s.partSizeMb * MIB,
    concurrency: s.uploadConcurrency,
  });
  return { store, close: () => client.destroy() };
}
