import type { RendererApi } from '../../../../../../shared/common/api-contract.ts';
import type { JobsActions } from '../stores/jobs-slice.ts';

/** Live job rows and stage counts from the job store's change events. */
export function subscribeJobs(api: RendererApi, actions: JobsActions): () => void {
  return api.on('jobs.updated', (p) => actions.applyUpdated(p.jobs, p.counts));
}
