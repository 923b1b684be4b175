import { createStore, type StoreApi } from 'zustand/vanilla';
import type { ConsoleServices } from '../services/api.ts';
import { createUploadSlice, type UploadSlice } from '../features/upload/stores/upload-slice.ts';
import { createJobsSlice, type JobsSlice } from '../features/jobs/stores/jobs-slice.ts';
import { createPreviewSlice, type PreviewSlice } from '../features/preview/stores/preview-slice.ts';
import { createDashboardsSlice, type DashboardsSlice } from '../features/dashboards/stores/dashboards-slice.ts';
import { createPlayerSlice, type PlayerSlice } from '../features/player/stores/player-slice.ts';
import { createSettingsSlice, type SettingsSlice } from '../features/settings/stores/settings-slice.ts';
import { subscribeUpload } from '../features/upload/api/subscribe.ts';
import { subscribeJobs } from '../features/jobs/api/subscribe.ts';
import { subscribePreview } from '../features/preview/api/subscribe.ts';

export type AppState = UploadSlice & JobsSlice & PreviewSlice & DashboardsSlice & PlayerSlice & SettingsSlice;

/** zustand's slices pattern: every feature contributes one small creator, each under its own keys. */
export function createAppStore(services: ConsoleServices): StoreApi<AppState> {
  return createStore<AppState>()((set, get, api) => {
    // Each creator only touches its own keys, so it can run against the combined store's set/get.
    const s = set as never;
    const g = get as never;
    const a = api as never;
    return {
      ...createUploadSlice(services)(s, g, a),
      ...createJobsSlice(services)(s, g, a),
      ...createPreviewSlice(services)(s, g, a),
      ...createDashboardsSlice(services)(s, g, a),
      ...createPlayerSlice(services)(s, g, a),
      ...createSettingsSlice(services)(s, g, a),
    };
  });
}

/** Follows every event channel for the app's lifetime; returns the unsubscribe function. */
export function connectEvents(services: ConsoleServices, store: StoreApi<AppState>): () => void {
  const st = store.getState();
  const offs = [
    subscribeUpload(services.api, st.uploadActions),
    subscribeJobs(services.api, st.jobsActions),
    subscribePreview(services.api, st.previewActions),
  ];
  return () => offs.forEach((off) => off());
}
