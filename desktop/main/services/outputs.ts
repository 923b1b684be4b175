import { TiercastError } from '../../../shared/common/errors.ts';
import type { OutputManifest } from '../../../shared/common/job.ts';
import { createJobOutputs } from '../../../shared/node/job-outputs.ts';
import type { ObjectStore } from '../../../shared/node/object-store.ts';

/**
 * A finished job's published outputs as the console serves them: the manifest, the report (null when unreadable)
 * and console media URLs under `/media/outputs/<jobId>/` (desktop/README.md "Web transport security").
 */
export interface PublishedOutputs {
  readonly manifest: OutputManifest;
  readonly report: Record<string, unknown> | null;
  readonly url: (rel: string | null) => string | null;
}

export type OutputsReader = (jobId: string) => Promise<PublishedOutputs>;

export function createOutputsReader(store: () => ObjectStore): OutputsReader {
  return async (jobId) => {
    const current = store();
    const manifest = await createJobOutputs(current).readManifest(jobId);
    if (!manifest) throw new TiercastError('JOB_NOT_FOUND', `job ${jobId} has no published outputs yet`);
    const url = (rel: string | null) => (rel ? `/media/outputs/${encodeURIComponent(jobId)}/${rel.split('/').map(encodeURIComponent).join('/')}` : null);
    let report: Record<string, unknown> | null = null;
    try {
      report = JSON.parse((await current.getBuffer(`outputs/${jobId}/${manifest.report}`)).toString('utf8')) as Record<string, unknown>;
    } catch {
      report = null;
    }
    return { manifest, report, url };
  };
}
