import fsp from 'node:fs/promises';
import type { LadderSummary } from '../../../../shared/common/api-contract.ts';
import { TiercastError } from '../../../../shared/common/errors.ts';
import type { Ladder } from '../../../../shared/common/ladder-schema.ts';
import { DEFAULT_LADDER_NAME } from '../../../../shared/common/ladders.ts';
import { listLadders, saveLadder } from '../../../../shared/node/ladder-files.ts';
import type { NamespaceHandlers } from '../../api-calls.ts';

/** `ladders.*`: built-in ladders and the ones saved in the data home's `ladders/` (shared/node/ladder-files.ts). */

export interface LaddersDeps {
  readonly home: string;
  /** A ladder by name (routing.ts); never a path. */
  readonly ladderFor: (name: string) => Promise<Ladder>;
}

export function laddersHandlers({ home, ladderFor }: LaddersDeps): NamespaceHandlers<'ladders'> {
  const entryOf = async (name: string) => (await listLadders({ home })).find((l) => l.name === name);

  /** A saved ladder that no longer loads is listed with no rungs rather than hiding the others. */
  async function rungsOf(name: string): Promise<LadderSummary['rungs']> {
    try {
      return (await ladderFor(name)).rungs.map((r) => ({ name: r.name, shortEdge: r.shortEdge, videoBitrate: r.videoBitrate }));
    } catch {
      return [];
    }
  }

  return {
    async 'ladders.list'() {
      const ladders: LadderSummary[] = [];
      for (const l of await listLadders({ home })) {
        ladders.push({ name: l.name, description: l.description.slice(0, 500), builtin: l.origin === 'builtin', rungs: await rungsOf(l.name) });
      }
      return { ladders, defaultLadder: DEFAULT_LADDER_NAME };
    },
    async 'ladders.get'(req) {
      const entry = await entryOf(req.name);
      if (!entry) throw new TiercastError('CONFIG_INVALID', `unknown ladder "${req.name}"`);
      return { ladder: await ladderFor(req.name), builtin: entry.origin === 'builtin' };
    },
    async 'ladders.save'(req) {
      await saveLadder(req.ladder, { home, overwrite: true });
      return { ladder: await ladderFor(req.ladder.name) };
    },
    async 'ladders.delete'(req) {
      const entry = await entryOf(req.name);
      if (!entry) return { deleted: false };
      if (entry.origin === 'builtin' || !entry.file) throw new TiercastError('CONFIG_INVALID', `"${req.name}" is a built-in ladder and cannot be deleted`);
      await fsp.rm(entry.file, { force: true });
      return { deleted: true };
    },
  };
}
