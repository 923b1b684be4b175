import type { ApiResponse } from '../../../../shared/common/api-contract.ts';
import type { TiercastConfig } from '../../../../shared/common/config-schema.ts';
import { toTiercastError } from '../../../../shared/common/errors.ts';
import type { MetricsSource } from '../../../../shared/common/metrics-query.ts';
import { resolveFfmpeg } from '../../../../shared/node/ffmpeg-locate.ts';
import type { ObjectStore } from '../../../../shared/node/object-store.ts';
import type { NamespaceHandlers } from '../../api-calls.ts';

/** `app.*`: what the console runs on (version, transport, ffmpeg build, store, metrics source, tiers, data home). */

export interface AppDeps {
  readonly home: string;
  readonly version: string;
  readonly config: () => TiercastConfig;
  readonly store: () => Pick<ObjectStore, 'kind' | 'location'>;
  readonly metricsKind: () => MetricsSource['kind'];
}

const ENCODERS = ['libx264', 'libx265', 'libvpx-vp9', 'libsvtav1', 'aac', 'libopus'];

/** The ffmpeg build the console would run, or why there is none (never a throw: the About screen says it). */
async function ffmpegSummary(): Promise<ApiResponse<'app.info'>['ffmpeg']> {
  try {
    const f = await resolveFfmpeg();
    return {
      found: true,
      version: f.version.slice(0, 256),
      source: f.source,
      hasLibvmaf: f.hasLibvmaf,
      canTonemap: f.canTonemap,
      encoders: ENCODERS.filter((e) => f.encoders.has(e)),
    };
  } catch (err) {
    const e = toTiercastError(err, 'FFMPEG_MISSING');
    return { found: false, error: { code: e.code, message: e.message.slice(0, 4000) } };
  }
}

export function appHandlers(deps: AppDeps): NamespaceHandlers<'app'> {
  return {
    async 'app.info'(_req, ctx) {
      const store = deps.store();
      return {
        version: deps.version,
        transport: ctx.transport,
        platform: process.platform,
        ffmpeg: await ffmpegSummary(),
        store: { kind: store.kind, location: store.location },
        metricsSource: deps.metricsKind(),
        tiersEnabled: [...deps.config().tiers.enabled],
        dataHome: deps.home,
      };
    },
  };
}
