import type { RendererApi } from '../../../../../../shared/common/api-contract.ts';
import type { UploadActions } from '../stores/upload-slice.ts';

/** Follows the upload feature's event channels; returns the unsubscribe function. */
export function subscribeUpload(api: RendererApi, actions: UploadActions): () => void {
  const offFiles = api.on('files.updated', (p) => actions.applyFilesUpdated(p));
  const offUploads = api.on('uploads.progress', (p) => actions.applyUploads(p));
  return () => {
    offFiles();
    offUploads();
  };
}
