import type { Ladder } from '../../shared/common/ladder-schema.ts';
import type { PerTitleAnalysis } from '../../shared/common/per-title.ts';

export type LadderFor = (file: string, options?: { signal?: AbortSignal; workDir?: string; onProgress?: (fraction: number) => void }) => Promise<{ ladder: Ladder; analysis: PerTitleAnalysis | null }>;

/**
 * `--ladder NAME|FILE|auto` for every verb: a named or file ladder is loaded (and validated) once, up front, so a
 * bad value is a usage error before any input is touched; `auto` is resolved per input by the per-title analysis
 * (README "Per-title ladders"), which needs the source on this machine.
 */
export async function ladderOption(value: string): Promise<LadderFor> {
  const [{ AUTO_LADDER_NAME }, { loadLadder }] = await Promise.all([import('../../shared/common/per-title.ts'), import('../../shared/node/ladder-files.ts')]);
  if (value !== AUTO_LADDER_NAME) {
    const ladder = await loadLadder(value);
    return async () => ({ ladder, analysis: null });
  }
  const { analyzePerTitle } = await import('../../shared/node/per-title.ts');
  return async (file, options = {}) => analyzePerTitle({ input: file, ...options });
}

export const LADDER_HELP = 'a built-in ladder (default, reference, mobile), a saved one, a ladder JSON file, or auto (per-title: built for each input from trial encodes)';
