import type { PreviewRung } from '../../../../../../shared/common/api-contract.ts';
import { CODEC_INFO } from '../../../../../../shared/common/codecs.ts';
import { formatBitrate, formatBytes, formatNumber, formatSpeed } from '../../../shared/format.ts';

export function RungCard({ rung, frameAtSec }: { rung: PreviewRung; frameAtSec: number }) {
  return (
    <article className="card rung-card" aria-label={`Rung ${rung.name}`} data-testid="rung-card">
      <header className="toolbar">
        <strong>{rung.name}</strong>
        <span className="muted">
          {CODEC_INFO[rung.codec ?? 'h264'].label} {rung.width}×{rung.height}
        </span>
      </header>
      <div className="frames">
        <figure>
          <img src={rung.sourceFrameUrl} alt={`Source at ${frameAtSec.toFixed(2)} s`} loading="lazy" decoding="async" />
          <figcaption>Source</figcaption>
        </figure>
        <figure>
          <img src={rung.frameUrl} alt={`${rung.name} at ${frameAtSec.toFixed(2)} s`} data-testid="rung-frame" decoding="async" />
          <figcaption>{rung.name}</figcaption>
        </figure>
      </div>
      <dl className="kv">
        <dt>Bitrate</dt>
        <dd>{formatBitrate(rung.bitrate)}</dd>
        <dt>Size</dt>
        <dd>{formatBytes(rung.sizeBytes)}</dd>
        <dt>Encode speed</dt>
        <dd>{formatSpeed(rung.speed)}</dd>
        <dt>SSIM</dt>
        <dd>{formatNumber(rung.ssim, 4)}</dd>
        <dt>PSNR</dt>
        <dd>{rung.psnr === null ? '—' : `${formatNumber(rung.psnr, 2)} dB`}</dd>
        {rung.vmaf !== null && (
          <>
            <dt>VMAF</dt>
            <dd>{formatNumber(rung.vmaf, 1)}</dd>
          </>
        )}
      </dl>
    </article>
  );
}
