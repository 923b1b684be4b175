import type { RendererApi } from '../../../../../../shared/common/api-contract.ts';
import type { PreviewActions } from '../stores/preview-slice.ts';

export function subscribePreview(api: RendererApi, actions: PreviewActions): () => void {
  return api.on('preview.progress', (p) => actions.applyProgress(p));
}
