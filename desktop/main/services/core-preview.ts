import path from 'node:path';
import { fitLadder } from '../../../shared/common/ladders.ts';
import { resolveFfmpeg } from '../../../shared/node/ffmpeg-locate.ts';
import type { PreviewFn } from './preview.ts';

/** The shared core's previewLadder in the shape the preview service (preview.ts) uses. */
export const corePreview: PreviewFn = async ({ input, media, ladder, startSec, durationSec, outDir, signal, onProgress }) => {
  // Loaded on first use: the preview's encoder and scorer are only needed when an operator opens the preview screen.
  const { previewLadder } = await import('../../../shared/node/preview.ts');
  const result = await previewLadder({ input, ladder, startSec, durationSec, outDir, signal, preset: ladder.preset, ...(onProgress ? { onProgress } : {}) });
  const { hasLibvmaf } = await resolveFfmpeg();
  const first = result.rungs[0];
  return {
    frameAtSec: result.startSec + result.durationSec / 2,
    source: { width: result.referenceWidth, height: result.referenceHeight, frame: first?.sourceFrameJpeg ?? path.join(outDir, 'source.jpg') },
    rungs: result.rungs.map((r) => ({
      name: r.name,
      codec: r.codec,
      width: r.width,
      height: r.height,
      bitrate: r.bitrateMeasured,
      sizeBytes: r.sizeBytes,
      speed: Number.isFinite(r.encodeSpeed) ? r.encodeSpeed : null,
      ssim: Number.isFinite(r.ssim) ? r.ssim : null,
      psnr: Number.isFinite(r.psnr) ? r.psnr : null,
      vmaf: r.vmaf,
      frame: r.frameJpeg,
    })),
    dropped: media.video ? fitLadder(media, ladder).dropped : [],
    vmafAvailable: hasLibvmaf,
  };
};
