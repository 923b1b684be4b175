import type { RouteSummary } from '../../../shared/common/api-contract.ts';
import type { TiercastConfig } from '../../../shared/common/config-schema.ts';
import type { Tier } from '../../../shared/common/job.ts';
import type { Ladder } from '../../../shared/common/ladder-schema.ts';
import { DEFAULT_LADDER_NAME, fitLadder } from '../../../shared/common/ladders.ts';
import type { MediaInfo } from '../../../shared/common/media.ts';
import { routeJob, type Route } from '../../../shared/common/router.ts';
import { loadNamedLadder } from '../../../shared/node/ladder-files.ts';

/**
 * Ladders by name and routes for the console: the Upload table routes each file with the ladder the operator
 * selected, and a dispatch routes each job with the ladder it names. Names only: the console never reads a ladder
 * from a path (README "The command line").
 */

export interface RouteInput {
  readonly sizeBytes: number;
  readonly media: MediaInfo | null;
  readonly ladder: Ladder;
  readonly requested: 'auto' | Tier;
  readonly jobId?: string;
}

function routeSummary(route: Route): RouteSummary {
  return {
    tier: route.tier,
    reason: route.reason.slice(0, 2000),
    estimatedCostUsd: route.estimate.costUsd,
    priceDate: route.estimate.priceDate,
    estimatedSeconds: route.estimate.seconds ?? null,
  };
}

export function createConsoleRouting(options: { readonly home: string; readonly config: () => TiercastConfig }) {
  let selectedLadder = DEFAULT_LADDER_NAME;
  const ladderFor = async (name: string): Promise<Ladder> => loadNamedLadder(name, { home: options.home });

  function route(input: RouteInput): Route {
    const fitted = input.media?.video ? fitLadder(input.media, input.ladder) : input.ladder;
    const v = input.media?.video;
    return routeJob(
      {
        sizeBytes: input.sizeBytes,
        media: input.media && v ? { durationSec: input.media.durationSec, width: v.displayWidth, height: v.displayHeight, fps: v.fps } : null,
        ladder: fitted,
        requestedTier: input.requested,
        ...(input.jobId ? { jobId: input.jobId } : {}),
      },
      options.config(),
    );
  }

  return {
    ladderFor,
    route,
    /** The ladder the Upload table routes with; an unknown name is refused and leaves the selection as it was. */
    async selectLadder(name: string): Promise<void> {
      await ladderFor(name);
      selectedLadder = name;
    },
    /** A probed file's route with the selected ladder, as the Upload table shows it. */
    async routeFile(file: { sizeBytes: number; media: MediaInfo; name: string }): Promise<RouteSummary> {
      const ladder = await ladderFor(selectedLadder);
      // The router hashes a job id to split Spot and on-demand; a stable key per file keeps the table's answer stable.
      return routeSummary(route({ sizeBytes: file.sizeBytes, media: file.media, ladder, requested: 'auto', jobId: `r${file.name.length}${file.sizeBytes}` }));
    },
  };
}

export type ConsoleRouting = ReturnType<typeof createConsoleRouting>;
