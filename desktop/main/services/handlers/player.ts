import type { ApiResponse } from '../../../../shared/common/api-contract.ts';
import type { NamespaceHandlers } from '../../api-calls.ts';
import type { OutputsReader } from '../outputs.ts';

/** `player.*`: what Shaka needs to play a finished job, from its published outputs (services/outputs.ts). */

export interface PlayerDeps {
  readonly outputs: OutputsReader;
}

type Variant = ApiResponse<'player.sources'>['variants'][number];

/** The report's renditions as the player's variant list (at most 20; missing numbers read as 0). */
function variantsOf(report: Record<string, unknown> | null): Variant[] {
  const renditions = Array.isArray(report?.renditions) ? (report.renditions as Array<Record<string, unknown>>) : [];
  return renditions.slice(0, 20).map((r) => ({
    name: String(r.name ?? '').slice(0, 64),
    width: Number(r.width) || 0,
    height: Number(r.height) || 0,
    bandwidth: Number(r.bitratePeak ?? r.maxrate ?? r.targetBitrate) || 0,
    codecs: String(r.codecs ?? '').slice(0, 256),
  }));
}

export function playerHandlers({ outputs }: PlayerDeps): NamespaceHandlers<'player'> {
  return {
    async 'player.sources'(req) {
      const { manifest, report, url } = await outputs(req.jobId);
      const input = report?.input as { durationSec?: unknown } | undefined;
      return {
        jobId: req.jobId,
        hlsUrl: url(manifest.hls),
        dashUrl: url(manifest.dash),
        thumbnailsVttUrl: url(manifest.thumbnails),
        posterUrl: url(manifest.poster),
        variants: variantsOf(report),
        durationSec: typeof input?.durationSec === 'number' ? input.durationSec : null,
      };
    },
  };
}
