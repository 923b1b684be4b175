/**
 * Incremental parser of ffmpeg's `-progress pipe:1` output: blocks of `key=value` lines, each block closed by
 * `progress=continue` or `progress=end`. Chunks may split lines anywhere; feed them as they come.
 */

export interface FfmpegProgress {
  /** Output position in seconds (null before the first frame is written). */
  readonly outTimeSec: number | null;
  /** 0..100 when the expected duration is known, else null. */
  readonly percent: number | null;
  /** Encoding speed relative to real time (2 = twice real time), when ffmpeg reports it. */
  readonly speed: number | null;
  readonly fps: number | null;
  readonly frame: number | null;
  readonly totalSizeBytes: number | null;
  /** Bits per second of the (first) output so far. */
  readonly bitrate: number | null;
  /** The block that closed with `progress=end`. */
  readonly done: boolean;
}

export class FfmpegProgressParser {
  private buffer = '';
  private block = new Map<string, string>();

  /** @param durationSec expected output duration, for `percent`. */
  constructor(private readonly durationSec: number | null = null) {}

  /** Feeds a chunk; returns the progress events of the blocks it completed. */
  push(chunk: string): FfmpegProgress[] {
    this.buffer += chunk;
    const events: FfmpegProgress[] = [];
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '').trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!line) continue;
      const eq = line.indexOf('=');
      if (eq <= 0) continue;
      const key = line.slice(0, eq).trim();
      const value = line.slice(eq + 1).trim();
      if (key === 'progress') {
        events.push(this.toEvent(value === 'end'));
        this.block = new Map();
      } else {
        this.block.set(key, value);
      }
    }
    return events;
  }

  private toEvent(done: boolean): FfmpegProgress {
    const b = this.block;
    // out_time_us is microseconds; out_time_ms is also microseconds (a long-standing ffmpeg misnomer).
    let outTimeSec = num(b.get('out_time_us') ?? b.get('out_time_ms'));
    if (outTimeSec !== null) outTimeSec = outTimeSec / 1e6;
    if (outTimeSec === null) outTimeSec = clock(b.get('out_time'));
    if (outTimeSec !== null && outTimeSec < 0) outTimeSec = 0;
    const speedRaw = b.get('speed');
    const speed = speedRaw ? num(speedRaw.replace(/x$/, '')) : null;
    const bitrateRaw = b.get('bitrate');
    const kbits = bitrateRaw ? num(bitrateRaw.replace(/kbits\/s$/, '')) : null;
    let percent: number | null = null;
    if (this.durationSec && this.durationSec > 0) {
      percent = done ? 100 : outTimeSec === null ? 0 : Math.min(100, Math.max(0, (outTimeSec / this.durationSec) * 100));
    }
    return {
      outTimeSec,
      percent,
      speed,
      fps: num(b.get('fps')),
      frame: num(b.get('frame')),
      totalSizeBytes: num(b.get('total_size')),
      bitrate: kbits === null ? null : Math.round(kbits * 1000),
      done,
    };
  }
}

function num(v: string | undefined): number | null {
  if (v === undefined || v === '' || v === 'N/A') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** `HH:MM:SS.micro` -> seconds. */
function clock(v: string | undefined): number | null {
  if (!v || v === 'N/A') return null;
  const m = /^(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(v);
  if (!m) return null;
  const sec = Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
  return m[1] ? -sec : sec;
}
