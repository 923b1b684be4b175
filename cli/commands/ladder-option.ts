import type { Ladder } from '../../shared/common/ladder-schema.ts';
import type { PerTitleAnalysis } from '../../shared/common/per-title.ts';

export type LadderFor = (file: string, options?: { signal?: AbortSignal; workDir?: string; onProgress?: (fraction: number) => void }) => Promise<{ ladder: Ladder; analysis: PerTitleAnalysis | null }>;

/**
 * `--ladder NAME|FILE|auto` (and `--codecs LIST`) for every verb: a named or file ladder and the codec list are loaded
 * and validated once, up front, so a bad value is a usage error before any input is touched; `auto` is resolved per
 * input by the per-title analysis (README "Per-title ladders"), which needs the source on this machine. `--codecs`
 * applies to the resolved ladder either way (README "Codecs").
 */
export async function ladderOption(value: string, codecList?: string): Promise<LadderFor> {
  const [{ AUTO_LADDER_NAME }, { loadLadder }, { applyCodecs, parseCodecList }] = await Promise.all([
    import('../../shared/common/per-title.ts'),
    import('../../shared/node/ladder-files.ts'),
    import('../../shared/common/codecs.ts'),
  ]);
  const codecs = codecList === undefined ? null : parseCodecList(codecList);
  const withCodecs = (ladder: Ladder) => (codecs ? applyCodecs(ladder, codecs) : ladder);
  if (value !== AUTO_LADDER_NAME) {
    const ladder = withCodecs(await loadLadder(value));
    return async () => ({ ladder, analysis: null });
  }
  const { analyzePerTitle } = await import('../../shared/node/per-title.ts');
  return async (file, options = {}) => {
    const { ladder, analysis } = await analyzePerTitle({ input: file, ...options });
    return { ladder: withCodecs(ladder), analysis };
  };
}

export const LADDER_HELP = 'a built-in ladder (default, reference, mobile), a saved one, a ladder JSON file, or auto (per-title: built for each input from trial encodes)';
