import type { StateCreator } from 'zustand';
import type { ApiResponse, JobRow } from '../../../../../../shared/common/api-contract.ts';
import { toUiError, type UiError } from '../../../shared/errors.ts';
import type { ConsoleServices } from '../../../services/api.ts';

export type PlayerSources = ApiResponse<'player.sources'>;
export type PlayerFormat = 'hls' | 'dash';

export interface PlayerState {
  readonly jobs: readonly JobRow[];
  readonly jobsLoading: boolean;
  readonly jobId: string | null;
  readonly format: PlayerFormat;
  readonly sources: PlayerSources | null;
  readonly loading: boolean;
  readonly error: UiError | null;
}

export interface PlayerActions {
  loadJobs(): Promise<void>;
  open(jobId: string | null): Promise<void>;
  setFormat(format: PlayerFormat): void;
  setError(error: UiError | null): void;
  /** Headers shaka adds to manifest and segment requests (the transport's auth). */
  mediaHeaders(): Record<string, string>;
}

export interface PlayerSlice {
  player: PlayerState;
  playerActions: PlayerActions;
}

export const initialPlayerState: PlayerState = {
  jobs: [],
  jobsLoading: false,
  jobId: null,
  format: 'hls',
  sources: null,
  loading: false,
  error: null,
};

/** The manifest to play: the chosen format, or the other one when the job has only that. */
export function manifestUrl(sources: PlayerSources | null, format: PlayerFormat): { url: string; format: PlayerFormat } | null {
  if (!sources) return null;
  const hls = sources.hlsUrl ? { url: sources.hlsUrl, format: 'hls' as const } : null;
  const dash = sources.dashUrl ? { url: sources.dashUrl, format: 'dash' as const } : null;
  return format === 'hls' ? (hls ?? dash) : (dash ?? hls);
}

export function createPlayerSlice(services: ConsoleServices): StateCreator<PlayerSlice, [], [], PlayerSlice> {
  return (set, get) => {
    const patch = (p: Partial<PlayerState>) => set((s) => ({ player: { ...s.player, ...p } }));
    return {
      player: initialPlayerState,
      playerActions: {
        async loadJobs() {
          patch({ jobsLoading: get().player.jobs.length === 0 });
          try {
            const res = await services.api['jobs.list']({ stage: 'done', limit: 500 });
            patch({ jobs: res.jobs, jobsLoading: false });
            if (!get().player.jobId && res.jobs[0]) await get().playerActions.open(res.jobs[0].id);
          } catch (err) {
            patch({ jobsLoading: false, error: toUiError(err) });
          }
        },
        async open(jobId) {
          // Re-opening what is already open must not tear playback down.
          if (jobId && jobId === get().player.jobId && get().player.sources) return;
          patch({ jobId, sources: null, error: null, loading: !!jobId });
          if (!jobId) return;
          try {
            const sources = await services.api['player.sources']({ jobId });
            if (get().player.jobId !== jobId) return;
            const fmt = manifestUrl(sources, get().player.format)?.format ?? get().player.format;
            patch({ sources, format: fmt, loading: false });
          } catch (err) {
            if (get().player.jobId === jobId) patch({ loading: false, error: toUiError(err) });
          }
        },
        setFormat(format) {
          patch({ format });
        },
        setError(error) {
          patch({ error });
        },
        mediaHeaders() {
          return services.mediaHeaders();
        },
      },
    };
  };
}
