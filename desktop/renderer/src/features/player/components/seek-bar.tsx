import { useRef, useState, type KeyboardEvent, type MouseEvent } from 'react';
import { formatDuration } from '../../../shared/format.ts';
import type { ThumbnailView } from '../hooks/use-shaka.ts';

/** A seek bar that previews the frame under the pointer from the sprite sheet (xywh of the WebVTT cue). */
export function SeekBar({
  currentTime,
  duration,
  onSeek,
  thumbnailAt,
}: {
  currentTime: number;
  duration: number;
  onSeek(t: number): void;
  thumbnailAt(t: number): Promise<ThumbnailView | null>;
}) {
  const bar = useRef<HTMLDivElement>(null);
  const [hover, setHover] = useState<{ x: number; t: number; thumb: ThumbnailView | null } | null>(null);
  const seq = useRef(0);

  const timeAt = (e: MouseEvent) => {
    const r = bar.current!.getBoundingClientRect();
    const x = Math.min(Math.max(0, e.clientX - r.left), r.width);
    return { x, t: r.width > 0 ? (x / r.width) * duration : 0 };
  };
  const onMove = (e: MouseEvent) => {
    if (!duration) return;
    const { x, t } = timeAt(e);
    const mine = ++seq.current;
    setHover((h) => ({ x, t, thumb: h?.thumb ?? null }));
    void thumbnailAt(t).then((thumb) => {
      if (mine === seq.current) setHover({ x, t, thumb });
    });
  };
  const onKey = (e: KeyboardEvent) => {
    const step = e.shiftKey ? 10 : 5;
    if (e.key === 'ArrowRight') onSeek(Math.min(duration, currentTime + step));
    else if (e.key === 'ArrowLeft') onSeek(Math.max(0, currentTime - step));
    else return;
    e.preventDefault();
  };
  const pct = duration > 0 ? (currentTime / duration) * 100 : 0;
  return (
    <div
      ref={bar}
      className="seekbar"
      role="slider"
      tabIndex={0}
      aria-label="Seek"
      aria-valuemin={0}
      aria-valuemax={Math.round(duration)}
      aria-valuenow={Math.round(currentTime)}
      aria-valuetext={`${formatDuration(currentTime)} of ${formatDuration(duration)}`}
      onMouseMove={onMove}
      onMouseLeave={() => {
        seq.current++;
        setHover(null);
      }}
      onClick={(e) => duration && onSeek(timeAt(e).t)}
      onKeyDown={onKey}
      data-testid="seekbar"
    >
      <div className="played" style={{ width: `${pct}%` }} />
      {hover && (
        <div className="seek-thumb" style={{ left: hover.x }} data-testid="seek-thumb">
          {hover.thumb && (
            <div
              // xywh are pixels of the sprite sheet at its natural size; shaka does not load the sheet, so its
              // imageWidth/imageHeight cannot size the background (they come back 0 for WebVTT sprites).
              role="img"
              aria-label={`Frame at ${formatDuration(hover.t)}`}
              style={{
                width: hover.thumb.width,
                height: hover.thumb.height,
                backgroundImage: `url("${hover.thumb.uri}")`,
                backgroundPosition: `-${hover.thumb.x}px -${hover.thumb.y}px`,
              }}
            />
          )}
          <div className="small">{formatDuration(hover.t)}</div>
        </div>
      )}
    </div>
  );
}
