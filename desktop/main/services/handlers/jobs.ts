import type { ApiErrorBody, ApiParsedRequest, ApiResponse, FileItem, JobDetail, JobRow } from '../../../../shared/common/api-contract.ts';
import { TiercastError, toTiercastError, type ErrorCode } from '../../../../shared/common/errors.ts';
import type { Ladder } from '../../../../shared/common/ladder-schema.ts';
import type { NamespaceHandlers } from '../../api-calls.ts';
import type { FileRegistry } from '../files.ts';
import type { ActionResult, ConsoleJobs, SubmitInput } from '../jobs.ts';
import type { OutputsReader } from '../outputs.ts';
import type { UploadManager } from '../uploads.ts';

/**
 * `jobs.*`: every action is one call of the jobs service through the console's jobs (services/jobs.ts), and the
 * table reads the job store a page at a time. A dispatch uploads the ready files first; a file that is unknown, not
 * ready or fails to upload gets its own error and the others go on.
 */

export interface JobsDeps {
  readonly files: Pick<FileRegistry, 'idle' | 'get' | 'media'>;
  readonly uploads: Pick<UploadManager, 'start' | 'whenDone'>;
  readonly jobs: ConsoleJobs;
  /** A ladder by name (routing.ts). */
  readonly ladderFor: (name: string) => Promise<Ladder>;
  readonly outputs: OutputsReader;
}

type DispatchResult = ApiResponse<'jobs.dispatch'>['results'][number];

const failed = (fileId: string, error: ApiErrorBody): DispatchResult => ({ fileId, jobId: null, tier: null, reason: null, error });

/** An upload's failure as a result's error (a store error unless it says otherwise). */
function uploadError(err: unknown): ApiErrorBody {
  const e = toTiercastError(err, 'STORE_ERROR');
  return { code: e.code, message: e.message.slice(0, 4000) };
}

/** The one result of a single-id action, or its error thrown. */
const oneJob = (results: ActionResult[]): JobRow => {
  const r = results[0]!;
  if (r.error) throw new TiercastError(r.error.code as ErrorCode, r.error.message);
  return r.job!;
};

export function jobsHandlers(deps: JobsDeps): NamespaceHandlers<'jobs'> {
  const { files, uploads, jobs } = deps;

  /** Ready files to upload, and a result for each one that is not (once probing still under way has finished). */
  async function partition(fileIds: readonly string[]): Promise<{ ready: FileItem[]; refused: DispatchResult[] }> {
    await files.idle();
    const ready: FileItem[] = [];
    const refused: DispatchResult[] = [];
    for (const id of fileIds) {
      const item = files.get(id);
      if (!item) refused.push(failed(id, { code: 'INPUT_NOT_FOUND', message: `no file with id ${id}` }));
      else if (item.state !== 'ready' || !files.media(id)) refused.push(failed(id, item.problem ?? { code: 'INVALID_REQUEST', message: `${item.name} is not ready` }));
      else ready.push(item);
    }
    return { ready, refused };
  }

  /** Uploads the files (at most the upload manager's concurrency at once): the stored inputs, and a result per failure. */
  async function upload(items: readonly FileItem[]): Promise<{ stored: SubmitInput[]; refused: DispatchResult[] }> {
    uploads.start(items.map((i) => ({ fileId: i.id, path: i.path, name: i.name, sizeBytes: i.sizeBytes })));
    const stored: SubmitInput[] = [];
    const refused: DispatchResult[] = [];
    const settled = await Promise.allSettled(items.map((item) => uploads.whenDone(item.id)));
    settled.forEach((s, i) => {
      const item = items[i]!;
      if (s.status === 'fulfilled') stored.push({ fileId: item.id, name: item.name, key: s.value.key, sizeBytes: item.sizeBytes, media: files.media(item.id)! });
      else refused.push(failed(item.id, uploadError(s.reason)));
    });
    return { stored, refused };
  }

  async function list(req: ApiParsedRequest<'jobs.list'>): Promise<ApiResponse<'jobs.list'>> {
    const page = await jobs.page({ ...(req.stage ? { stage: req.stage } : {}), ...(req.tier ? { tier: req.tier } : {}), limit: req.limit, cursor: req.cursor ?? null });
    const search = req.search?.trim().toLowerCase();
    const rows = search ? page.rows.filter((r) => r.id.toLowerCase().includes(search) || r.name.toLowerCase().includes(search)) : page.rows;
    const total = search ? rows.length : page.total;
    return { jobs: rows, nextCursor: page.cursor, total: req.tier ? Math.max(rows.length, 0) : total, counts: page.counts };
  }

  /** A done job's report and output summary; null for both while it is not done or its outputs cannot be read. */
  async function outputsOf(id: string): Promise<Pick<JobDetail, 'report' | 'outputs'>> {
    try {
      const p = await deps.outputs(id);
      const { manifest, url } = p;
      return {
        report: p.report as JobDetail['report'],
        outputs: {
          hlsUrl: url(manifest.hls),
          dashUrl: url(manifest.dash),
          posterUrl: url(manifest.poster),
          files: manifest.files.length,
          totalBytes: manifest.files.reduce((a, f) => a + f.sizeBytes, 0),
        },
      };
    } catch {
      return { report: null, outputs: null };
    }
  }

  return {
    async 'jobs.dispatch'(req) {
      const ladder = await deps.ladderFor(req.ladder);
      const { ready, refused } = await partition(req.fileIds);
      const uploaded = await upload(ready);
      const submitted = await jobs.submit(uploaded.stored, {
        tier: req.tier,
        ladder,
        ...(req.formats ? { formats: req.formats } : {}),
        ...(req.priority ? { priority: req.priority } : {}),
        ...(req.priorities ? { priorities: req.priorities } : {}),
      });
      return { results: [...refused, ...uploaded.refused, ...submitted] };
    },
    'jobs.list': list,
    async 'jobs.get'(req) {
      const { status, ...rest } = await jobs.detail(req.id);
      return { ...rest, ...(status.stage === 'done' ? await outputsOf(req.id) : { report: null, outputs: null }) };
    },
    async 'jobs.retry'(req) {
      return { job: oneJob(await jobs.retry([req.id])) };
    },
    async 'jobs.cancel'(req) {
      return { job: oneJob(await jobs.cancel([req.id])) };
    },
    async 'jobs.changes'(req) {
      return jobs.changes(req.cursor, req.limit);
    },
    async 'jobs.delete'(req) {
      return { results: (await jobs.remove(req.ids)).map((r) => ({ id: r.id, error: r.error })) };
    },
    async 'jobs.redrive'(req) {
      return { results: await jobs.redrive(req.ids ?? (await jobs.deadLettered())) };
    },
  };
}
