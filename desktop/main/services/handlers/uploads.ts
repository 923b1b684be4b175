import { TiercastError } from '../../../../shared/common/errors.ts';
import type { NamespaceHandlers } from '../../api-calls.ts';
import type { FileRegistry } from '../files.ts';
import type { UploadManager, UploadSource } from '../uploads.ts';

/** `uploads.*`: the upload manager (services/uploads.ts); every call answers with the whole upload table. */

export interface UploadsDeps {
  readonly files: Pick<FileRegistry, 'get'>;
  readonly uploads: UploadManager;
}

export function uploadsHandlers({ files, uploads }: UploadsDeps): NamespaceHandlers<'uploads'> {
  /** Ready files only: one still probing or with a problem is skipped; an unknown id fails the call. */
  function sourcesOf(ids: readonly string[]): UploadSource[] {
    const sources: UploadSource[] = [];
    for (const id of ids) {
      const item = files.get(id);
      if (!item) throw new TiercastError('INPUT_NOT_FOUND', `no file with id ${id}`);
      if (item.state === 'ready') sources.push({ fileId: id, path: item.path, name: item.name, sizeBytes: item.sizeBytes });
    }
    return sources;
  }
  const thenList =
    <R>(action: (req: R) => void) =>
    async (req: R) => {
      action(req);
      return uploads.list();
    };
  return {
    'uploads.start': thenList((req) => uploads.start(sourcesOf(req.ids))),
    'uploads.pause': thenList((req) => uploads.pause(req.ids)),
    'uploads.resume': thenList((req) => uploads.resume(req.ids)),
    'uploads.cancel': thenList((req) => uploads.cancel(req.ids)),
    'uploads.retry': thenList((req) => uploads.retry(req.ids)),
    async 'uploads.list'() {
      return uploads.list();
    },
  };
}
