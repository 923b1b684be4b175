import { lazy, Suspense, useEffect, useMemo, useState } from 'react';
import { useStore, type StoreApi } from 'zustand';
import { useShallow } from 'zustand/react/shallow';
import type { ApiResponse } from '../../../../shared/common/api-contract.ts';
import { StoreProvider } from '../shared/store/store-context.tsx';
import { ErrorBanner, Loading } from '../shared/components/feedback.tsx';
import { toUiError, type UiError } from '../shared/errors.ts';
import type { ConsoleServices } from '../services/api.ts';
import { UploadScreen } from '../features/upload/components/upload-screen.tsx';
import { JobsScreen } from '../features/jobs/components/jobs-screen.tsx';
import { PreviewScreen, type PreviewFile } from '../features/preview/components/preview-screen.tsx';
import { SettingsScreen } from '../features/settings/components/settings-screen.tsx';
import { ErrorBoundary } from './error-boundary.tsx';
import { Sidebar } from './sidebar.tsx';
import { SCREENS, isScreenId, type ScreenId } from './screens.ts';
import { connectEvents, type AppState } from './store.ts';

// chart.js and shaka-player are the two heavy libraries: loaded when their screen first opens.
const DashboardsScreen = lazy(() => import('../features/dashboards/components/dashboards-screen.tsx').then((m) => ({ default: m.DashboardsScreen })));
const PlayerScreen = lazy(() => import('../features/player/components/player-screen.tsx').then((m) => ({ default: m.PlayerScreen })));

function screenFromHash(): ScreenId {
  const id = window.location.hash.replace(/^#\/?/, '');
  return isScreenId(id) ? id : 'upload';
}

export function App({ services, store }: { services: ConsoleServices; store: StoreApi<AppState> }) {
  const [screen, setScreen] = useState<ScreenId>(screenFromHash);
  const [info, setInfo] = useState<ApiResponse<'app.info'> | null>(null);
  const [infoError, setInfoError] = useState<UiError | null>(null);

  useEffect(() => {
    const off = connectEvents(services, store);
    void store.getState().uploadActions.init();
    services.api['app.info']({}).then(setInfo, (err) => setInfoError(toUiError(err)));
    return off;
  }, [services, store]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!e.altKey || e.ctrlKey || e.metaKey) return;
      const n = Number(e.key);
      const target = Number.isInteger(n) ? SCREENS[n - 1] : undefined;
      if (target) {
        e.preventDefault();
        go(target.id);
      }
    };
    const onHash = () => setScreen(screenFromHash());
    window.addEventListener('keydown', onKey);
    window.addEventListener('hashchange', onHash);
    return () => {
      window.removeEventListener('keydown', onKey);
      window.removeEventListener('hashchange', onHash);
    };
  }, []);

  const go = (id: ScreenId) => {
    setScreen(id);
    window.history.replaceState(window.history.state, '', `#/${id}`);
  };

  // Cross-feature data flows through the app: the upload selection feeds dispatch, ready files feed the preview.
  const { selected, rows, priority, priorities } = useStore(
    store,
    useShallow((s) => ({ selected: s.upload.selected, rows: s.upload.rows, priority: s.upload.priority, priorities: s.upload.priorities })),
  );
  const selectedFileIds = useMemo(() => Object.keys(selected), [selected]);
  const dispatchPriorities = useMemo(() => ({ priority, priorities }), [priority, priorities]);
  const previewFiles = useMemo<PreviewFile[]>(
    () => rows.flatMap((r) => (r.fileId && r.state === 'ready' ? [{ id: r.fileId, name: r.name, durationSec: r.media?.durationSec ?? null }] : [])),
    [rows],
  );

  const footer = info
    ? `${info.transport === 'web' ? 'web' : 'desktop'} · v${info.version} · ${info.store.kind === 's3' ? 'S3' : 'local store'} · ${info.ffmpeg.found ? 'ffmpeg ok' : 'no ffmpeg'}`
    : undefined;

  return (
    <StoreProvider store={store as StoreApi<unknown>}>
      <div className="shell">
        <Sidebar current={screen} onSelect={go} footer={footer} />
        <main className="main" id="main" data-screen={screen}>
          {infoError && <ErrorBanner error={infoError} />}
          {info && !info.ffmpeg.found && <ErrorBanner error={info.ffmpeg.error} />}
          <ErrorBoundary key={screen}>
            <Suspense fallback={<div className="screen"><Loading /></div>}>
              {screen === 'upload' && <UploadScreen />}
              {screen === 'preview' && <PreviewScreen files={previewFiles} />}
              {screen === 'jobs' && <JobsScreen selectedFileIds={selectedFileIds} priorities={dispatchPriorities} />}
              {screen === 'dashboards' && <DashboardsScreen />}
              {screen === 'player' && <PlayerScreen />}
              {screen === 'settings' && <SettingsScreen />}
            </Suspense>
          </ErrorBoundary>
        </main>
      </div>
    </StoreProvider>
  );
}
