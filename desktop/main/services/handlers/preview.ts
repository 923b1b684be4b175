import path from 'node:path';
import type { ApiParsedRequest } from '../../../../shared/common/api-contract.ts';
import { TiercastError } from '../../../../shared/common/errors.ts';
import type { MediaInfo } from '../../../../shared/common/media.ts';
import { probeFile } from '../../../../shared/node/probe.ts';
import type { NamespaceHandlers } from '../../api-calls.ts';
import type { FileRegistry } from '../files.ts';
import type { createPreviewService } from '../preview.ts';

/** `preview.*`: a ladder preview of an added file (its probe is reused) or of a path, run by services/preview.ts. */

export interface PreviewDeps {
  readonly files: Pick<FileRegistry, 'get' | 'media'>;
  readonly preview: Pick<ReturnType<typeof createPreviewService>, 'run' | 'cancel'>;
}

export function previewHandlers({ files, preview }: PreviewDeps): NamespaceHandlers<'preview'> {
  /** The file to preview: an added file must be known and free of problems; a path is probed here. */
  async function inputOf(req: ApiParsedRequest<'preview.run'>): Promise<{ input: string; media: MediaInfo }> {
    if (!req.fileId) {
      const input = path.resolve(req.path!);
      return { input, media: await probeFile(input) };
    }
    const item = files.get(req.fileId);
    if (!item) throw new TiercastError('INPUT_NOT_FOUND', `no file with id ${req.fileId}`);
    if (item.state === 'problem') throw new TiercastError(item.problem!.code, item.problem!.message);
    return { input: item.path, media: files.media(req.fileId) ?? (await probeFile(item.path)) };
  }

  return {
    async 'preview.run'(req) {
      const { input, media } = await inputOf(req);
      return preview.run({ runId: req.runId, input, media, ladder: req.ladder, ...(req.auto ? { auto: true } : {}), startSec: req.startSec, durationSec: req.durationSec });
    },
    async 'preview.cancel'(req) {
      return { cancelled: preview.cancel(req.runId) };
    },
  };
}
