import { CODEC_INFO, VIDEO_CODECS, type VideoCodec } from '../../../../../../shared/common/codecs.ts';
import type { Ladder } from '../../../../../../shared/common/ladder-schema.ts';
import type { RungField } from '../stores/preview-slice.ts';

const FIELDS: readonly { field: RungField; label: string; kbps: boolean }[] = [
  { field: 'shortEdge', label: 'Size (short edge, px)', kbps: false },
  { field: 'videoBitrate', label: 'Bitrate (kb/s)', kbps: true },
  { field: 'maxrate', label: 'Maxrate (kb/s)', kbps: true },
  { field: 'bufsize', label: 'Bufsize (kb/s)', kbps: true },
];

/** Bitrates are edited in kb/s (what operators think in) and stored in b/s (CONVENTIONS.md). */
export function RungEditor({
  ladder,
  errors,
  onEdit,
  onCodec,
  onAdd,
  onRemove,
}: {
  ladder: Ladder;
  errors: Readonly<Record<string, string>>;
  onEdit(index: number, field: RungField, value: number): void;
  onCodec?(index: number, codec: VideoCodec): void;
  onAdd(): void;
  onRemove(index: number): void;
}) {
  return (
    <div>
      <table className="plain" aria-label="Rungs">
        <thead>
          <tr>
            <th>Rung</th>
            <th>Codec</th>
            {FIELDS.map((f) => (
              <th key={f.field} className="num">
                {f.label}
              </th>
            ))}
            <th />
          </tr>
        </thead>
        <tbody>
          {ladder.rungs.map((r, i) => (
            <tr key={i}>
              <td className="mono">{r.name}</td>
              <td>
                <select aria-label={`${r.name} codec`} value={r.codec} disabled={!onCodec} onChange={(e) => onCodec?.(i, e.target.value as VideoCodec)}>
                  {VIDEO_CODECS.map((c) => (
                    <option key={c} value={c}>
                      {CODEC_INFO[c].label}
                    </option>
                  ))}
                </select>
              </td>
              {FIELDS.map((f) => {
                const err = errors[`rungs.${i}.${f.field}`];
                const id = `rung-${i}-${f.field}`;
                return (
                  <td key={f.field} className="num">
                    <input
                      id={id}
                      type="number"
                      inputMode="numeric"
                      aria-label={`${r.name} ${f.label}`}
                      aria-invalid={err ? true : undefined}
                      aria-describedby={err ? `${id}-err` : undefined}
                      value={f.kbps ? Math.round(r[f.field] / 1000) : r[f.field]}
                      min={f.kbps ? 50 : 64}
                      onChange={(e) => {
                        const n = Number(e.target.value);
                        if (Number.isFinite(n)) onEdit(i, f.field, f.kbps ? Math.round(n * 1000) : Math.round(n));
                      }}
                    />
                    {err && (
                      <div id={`${id}-err`} className="field-error">
                        {err}
                      </div>
                    )}
                  </td>
                );
              })}
              <td>
                <button type="button" className="btn small" aria-label={`Remove rung ${r.name}`} disabled={ladder.rungs.length <= 1} onClick={() => onRemove(i)}>
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {errors.rungs && <div className="field-error">{errors.rungs}</div>}
      <button type="button" className="btn small" onClick={onAdd} disabled={ladder.rungs.length >= 12}>
        Add rung
      </button>
    </div>
  );
}
