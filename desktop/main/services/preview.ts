import fsp from 'node:fs/promises';
import path from 'node:path';
import type { ApiResponse, EventPayload } from '../../../shared/common/api-contract.ts';
import type { PerTitleAnalysis } from '../../../shared/common/per-title.ts';
import { TiercastError, toTiercastError } from '../../../shared/common/errors.ts';
import type { Ladder } from '../../../shared/common/ladder-schema.ts';
import type { MediaInfo } from '../../../shared/common/media.ts';

/**
 * Ladder preview: a few seconds of the source encoded with every rung by the shared core (previewLadder), frames
 * and measurements turned into console media URLs. Each run writes into `<preview dir>/<runId>/`; only the most
 * recent runs are kept.
 */

/** What the core's previewLadder gives back, in the shape this service relies on. */
export interface PreviewOutcome {
  readonly frameAtSec: number;
  readonly source: { readonly width: number; readonly height: number; readonly frame: string };
  readonly rungs: ReadonlyArray<{
    readonly name: string;
    readonly width: number;
    readonly height: number;
    /** Absent: H.264. */
    readonly codec?: 'h264' | 'hevc' | 'av1';
    readonly bitrate: number;
    readonly sizeBytes: number;
    readonly speed: number | null;
    readonly ssim: number | null;
    readonly psnr: number | null;
    readonly vmaf: number | null;
    /** Absolute path of the rung's frame (inside outDir). */
    readonly frame: string;
  }>;
  readonly dropped: ReadonlyArray<{ readonly name: string; readonly reason: string }>;
  readonly vmafAvailable: boolean;
}

export type PreviewFn = (options: {
  input: string;
  media: MediaInfo;
  ladder: Ladder;
  startSec: number;
  durationSec: number;
  outDir: string;
  signal: AbortSignal;
  onProgress?: (p: { progress: number; rung: string | null; phase: 'encoding' | 'measuring' }) => void;
}) => Promise<PreviewOutcome>;

/** The per-title analysis (`--ladder auto`): the resolved ladder for this input from a base ladder. */
export type PerTitleFn = (options: { input: string; media: MediaInfo; base: Ladder; workDir: string; signal: AbortSignal; onProgress?: (fraction: number) => void }) => Promise<{
  ladder: Ladder;
  analysis: PerTitleAnalysis;
}>;

/** The shared core's per-title analysis (README "Per-title ladders"), loaded on first use. */
export const corePerTitle: PerTitleFn = async ({ input, media, base, workDir, signal, onProgress }) => {
  const { analyzePerTitle } = await import('../../../shared/node/per-title.ts');
  return analyzePerTitle({ input, media, base, workDir, signal, ...(onProgress ? { onProgress } : {}) });
};

const KEEP_RUNS = 8;

export function createPreviewService(options: {
  dir: string;
  run: PreviewFn | null;
  /** Default: the shared core's analysis (corePerTitle); null: not available. */
  perTitle?: PerTitleFn | null;
  onProgress: (p: EventPayload<'preview.progress'>) => void;
}) {
  const running = new Map<string, AbortController>();
  const base = path.resolve(options.dir);

  const urlOf = (file: string): string => {
    const rel = path.relative(base, path.resolve(file));
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw new TiercastError('INTERNAL', `preview frame outside the preview folder: ${file}`);
    return `/media/preview/${rel.split(path.sep).map(encodeURIComponent).join('/')}`;
  };

  async function prune(): Promise<void> {
    const entries = await fsp.readdir(base, { withFileTypes: true }).catch(() => []);
    const dirs = await Promise.all(
      entries.filter((e) => e.isDirectory() && !running.has(e.name)).map(async (e) => ({ name: e.name, mtime: (await fsp.stat(path.join(base, e.name))).mtimeMs })),
    );
    dirs.sort((a, b) => b.mtime - a.mtime);
    for (const d of dirs.slice(KEEP_RUNS)) await fsp.rm(path.join(base, d.name), { recursive: true, force: true });
  }

  return {
    async run(req: { runId: string; input: string; media: MediaInfo; ladder: Ladder; auto?: boolean; startSec: number; durationSec: number }): Promise<ApiResponse<'preview.run'>> {
      if (!options.run) throw new TiercastError('INTERNAL', 'ladder preview is not available in this build');
      if (running.has(req.runId)) throw new TiercastError('INVALID_REQUEST', `preview ${req.runId} is already running`);
      const duration = req.media.durationSec;
      const window = Math.min(req.durationSec, Math.max(0.5, duration));
      const startSec = Math.max(0, Math.min(req.startSec, Math.max(0, duration - window)));
      const outDir = path.join(base, req.runId);
      await fsp.rm(outDir, { recursive: true, force: true });
      await fsp.mkdir(outDir, { recursive: true });
      const controller = new AbortController();
      running.set(req.runId, controller);
      const t0 = Date.now();
      const progress = (phase: EventPayload<'preview.progress'>['phase'], value: number, rung: string | null, error: EventPayload<'preview.progress'>['error'] = null) =>
        options.onProgress({ runId: req.runId, phase, progress: Math.max(0, Math.min(1, value)), rung, error });
      progress('encoding', 0, null);
      try {
        let ladder = req.ladder;
        let perTitle: ApiResponse<'preview.run'>['perTitle'];
        if (req.auto) {
          const perTitleFn = options.perTitle === undefined ? corePerTitle : options.perTitle;
          if (!perTitleFn) throw new TiercastError('INTERNAL', 'per-title ladders are not available in this build');
          // The analysis takes the first half of the progress bar, the preview of its ladder the second.
          const r = await perTitleFn({ input: req.input, media: req.media, base: req.ladder, workDir: outDir, signal: controller.signal, onProgress: (f) => progress('measuring', f / 2, 'analysis') });
          ladder = r.ladder;
          const a = r.analysis;
          perTitle = { metric: a.metric, points: [...a.points], hull: [...a.hull], chosen: a.chosen.map((c) => ({ ...c, why: c.why.slice(0, 500) })), cpuSec: a.cpuSec, elapsedSec: a.elapsedSec };
        }
        const share = req.auto ? 0.5 : 0;
        const out = await options.run({
          input: req.input,
          media: req.media,
          ladder,
          startSec,
          durationSec: window,
          outDir,
          signal: controller.signal,
          onProgress: (p) => progress(p.phase, share + (1 - share) * p.progress, p.rung),
        });
        progress('done', 1, null);
        return {
          runId: req.runId,
          frameAtSec: out.frameAtSec,
          source: { width: out.source.width, height: out.source.height, frameUrl: urlOf(out.source.frame) },
          rungs: out.rungs.map((r) => ({
            name: r.name,
            ...(r.codec ? { codec: r.codec } : {}),
            width: r.width,
            height: r.height,
            bitrate: r.bitrate,
            sizeBytes: r.sizeBytes,
            speed: r.speed,
            ssim: r.ssim,
            psnr: r.psnr === null || Number.isFinite(r.psnr) ? r.psnr : 100,
            vmaf: r.vmaf,
            frameUrl: urlOf(r.frame),
            sourceFrameUrl: urlOf(out.source.frame),
          })),
          dropped: out.dropped.map((d) => ({ name: d.name.slice(0, 32), reason: d.reason.slice(0, 500) })),
          vmafAvailable: out.vmafAvailable,
          elapsedSec: (Date.now() - t0) / 1000,
          ...(perTitle ? { ladder, perTitle } : {}),
        };
      } catch (err) {
        const e = controller.signal.aborted ? new TiercastError('CANCELLED', `preview ${req.runId} cancelled`, { cause: err }) : toTiercastError(err);
        progress(e.code === 'CANCELLED' ? 'cancelled' : 'failed', 1, null, { code: e.code, message: e.message.slice(0, 4000) });
        throw e;
      } finally {
        running.delete(req.runId);
        void prune();
      }
    },
    cancel(runId: string): boolean {
      const c = running.get(runId);
      c?.abort('cancelled');
      return c !== undefined;
    },
    close(): void {
      for (const c of running.values()) c.abort('closing');
    },
  };
}
