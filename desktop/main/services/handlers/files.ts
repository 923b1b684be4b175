import type { NamespaceHandlers } from '../../api-calls.ts';
import type { FileRegistry } from '../files.ts';

/** `files.*`: the files the operator added (services/files.ts), re-routed with the ladder the Upload screen selects. */

export interface FilesDeps {
  readonly files: Pick<FileRegistry, 'add' | 'list' | 'remove' | 'reroute'>;
  /** Refuses an unknown ladder name (routing.ts). */
  readonly selectLadder: (name: string) => Promise<void>;
}

export function filesHandlers({ files, selectLadder }: FilesDeps): NamespaceHandlers<'files'> {
  return {
    async 'files.add'(req) {
      return files.add(req.paths);
    },
    async 'files.list'() {
      return { items: files.list() };
    },
    async 'files.remove'(req) {
      return { removed: files.remove(req.ids) };
    },
    async 'files.reroute'(req) {
      if (req.ladder) await selectLadder(req.ladder);
      return { items: await files.reroute(req.ids) };
    },
  };
}
