import { useEffect, useMemo, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { formatBitrate, formatDuration, formatResolution } from '../../../shared/format.ts';
import { EmptyState, ErrorBanner, Loading } from '../../../shared/components/feedback.tsx';
import { useShaka } from '../hooks/use-shaka.ts';
import { manifestUrl, type PlayerFormat } from '../stores/player-slice.ts';
import { usePlayer } from '../stores/use-player.ts';
import { SeekBar } from './seek-bar.tsx';

export function PlayerScreen() {
  const s = usePlayer(useShallow((st) => st.player));
  const actions = usePlayer((st) => st.playerActions);
  // State, not a ref: the <video> appears only once there are jobs, and the player must follow it.
  const [video, setVideo] = useState<HTMLVideoElement | null>(null);

  useEffect(() => {
    void actions.loadJobs();
  }, [actions]);

  const manifest = manifestUrl(s.sources, s.format);
  const source = useMemo(
    () => (manifest ? { url: manifest.url, thumbnailsVttUrl: s.sources?.thumbnailsVttUrl ?? null } : null),
    [manifest?.url, s.sources?.thumbnailsVttUrl],
  );
  const shaka = useShaka(video, source, actions.mediaHeaders, actions.setError);

  return (
    <section className="screen" aria-labelledby="player-title">
      <h1 id="player-title">Player</h1>
      <div className="toolbar">
        <label className="toolbar">
          Job
          <select aria-label="Finished job" value={s.jobId ?? ''} onChange={(e) => void actions.open(e.target.value || null)} disabled={!s.jobs.length}>
            {s.jobs.map((j) => (
              <option key={j.id} value={j.id}>
                {j.name} · {j.id}
              </option>
            ))}
          </select>
        </label>
        <div className="toolbar" role="radiogroup" aria-label="Format">
          {(['hls', 'dash'] as PlayerFormat[]).map((f) => (
            <button
              key={f}
              type="button"
              role="radio"
              aria-checked={manifest?.format === f}
              className={`btn${manifest?.format === f ? ' primary' : ''}`}
              disabled={!s.sources || !(f === 'hls' ? s.sources.hlsUrl : s.sources.dashUrl)}
              onClick={() => actions.setFormat(f)}
            >
              {f.toUpperCase()}
            </button>
          ))}
        </div>
        <span className="spacer" />
        <button type="button" className="btn" onClick={() => void actions.loadJobs()}>
          Refresh list
        </button>
      </div>
      {s.error && <ErrorBanner error={s.error} onDismiss={() => actions.setError(null)} />}
      {s.jobsLoading ? (
        <Loading label="Loading finished jobs…" />
      ) : !s.jobs.length ? (
        <EmptyState>No finished jobs yet. Dispatch files on the Jobs screen; finished jobs can be played here in HLS or DASH.</EmptyState>
      ) : (
        <div className="player-layout">
          <div>
            {s.loading && <Loading label="Loading outputs…" />}
            <video ref={setVideo} className="player-video" controls={false} muted playsInline autoPlay data-testid="video" data-loaded={shaka.loadedUrl ?? ''} poster={s.sources?.posterUrl ?? undefined} />
            <SeekBar
              currentTime={shaka.stats?.currentTime ?? 0}
              duration={shaka.stats?.duration || s.sources?.durationSec || 0}
              onSeek={(t) => {
                if (video) video.currentTime = t;
              }}
              thumbnailAt={shaka.thumbnailAt}
            />
            <div className="toolbar" style={{ marginTop: 8 }}>
              <button type="button" className="btn" onClick={() => void (video?.paused ? video.play() : video?.pause())}>
                Play / pause
              </button>
              <span className="mono">
                {formatDuration(shaka.stats?.currentTime ?? 0)} / {formatDuration(shaka.stats?.duration ?? s.sources?.durationSec ?? 0)}
              </span>
            </div>
          </div>
          <aside className="card">
            <h2 className="small">Quality</h2>
            <ul className="variant-list" aria-label="Variants" data-testid="variants">
              <li>
                <button type="button" className="btn" aria-pressed={shaka.abr} onClick={() => shaka.setAbr(true)}>
                  Automatic (ABR)
                </button>
              </li>
              {shaka.variants.map((v) => (
                <li key={v.id}>
                  <button
                    type="button"
                    className="btn"
                    data-variant={v.id}
                    data-active={v.active}
                    aria-pressed={!shaka.abr && v.active}
                    onClick={() => shaka.selectVariant(v.id)}
                  >
                    {formatResolution(v.width, v.height)} · {formatBitrate(v.bandwidth)} {v.active && <span className="badge run">playing</span>}
                  </button>
                </li>
              ))}
            </ul>
            {shaka.audioLanguages.length > 1 && (
              <>
                <h2 className="small">
                  <label htmlFor="audio-language">Audio</label>
                </h2>
                <select
                  id="audio-language"
                  data-testid="audio-language"
                  value={shaka.audioLanguage ?? ''}
                  onChange={(e) => shaka.selectAudioLanguage(e.target.value)}
                >
                  {shaka.audioLanguages.map((l) => (
                    <option key={l} value={l}>
                      {languageName(l)}
                    </option>
                  ))}
                </select>
              </>
            )}
            {shaka.textTracks.length > 0 && (
              <>
                <h2 className="small">
                  <label htmlFor="text-track">Subtitles</label>
                </h2>
                <select
                  id="text-track"
                  data-testid="text-track"
                  value={String(shaka.textTracks.find((t) => t.active)?.id ?? 'off')}
                  onChange={(e) => shaka.selectTextTrack(e.target.value === 'off' ? null : Number(e.target.value))}
                >
                  <option value="off">Off</option>
                  {shaka.textTracks.map((t) => (
                    <option key={t.id} value={String(t.id)} data-language={t.language}>
                      {t.label && t.label !== t.language ? `${t.label} · ` : ''}
                      {languageName(t.language)}
                      {t.forced ? ' (forced)' : ''}
                    </option>
                  ))}
                </select>
              </>
            )}
            <h2 className="small">Stats</h2>
            <dl className="kv" data-testid="stats">
              <dt>Estimated bandwidth</dt>
              <dd>{formatBitrate(shaka.stats?.estimatedBandwidth)}</dd>
              <dt>Stream bandwidth</dt>
              <dd>{formatBitrate(shaka.stats?.streamBandwidth)}</dd>
              <dt title="The size of the variant being fetched now">Resolution</dt>
              <dd data-testid="stat-resolution">{formatResolution(shaka.stats?.width, shaka.stats?.height)}</dd>
              <dt title="The size of the decoded frame on screen; it follows a switch once the new variant's first frame shows">Picture</dt>
              <dd data-testid="stat-picture">{formatResolution(shaka.stats?.pictureWidth, shaka.stats?.pictureHeight)}</dd>
              <dt>Dropped frames</dt>
              <dd>
                {shaka.stats ? `${shaka.stats.droppedFrames} of ${shaka.stats.decodedFrames}` : '—'}
              </dd>
            </dl>
          </aside>
        </div>
      )}
    </section>
  );
}

/** "French (fr)" from a BCP 47 code, falling back to the code where the browser has no name for it. */
function languageName(code: string): string {
  try {
    const name = new Intl.DisplayNames(['en'], { type: 'language' }).of(code);
    return name && name !== code ? `${name} (${code})` : code;
  } catch {
    return code;
  }
}
