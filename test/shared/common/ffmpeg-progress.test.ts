import { describe, expect, it } from 'vitest';
import { FfmpegProgressParser } from '../../../shared/common/ffmpeg-progress.ts';

const block = (outUs: number, extra = '', end = false) =>
  `frame=120\nfps=48.5\nstream_0_0_q=28.0\nbitrate= 812.3kbits/s\ntotal_size=262192\nout_time_us=${outUs}\nout_time_ms=${outUs}\nout_time=00:00:04.000000\ndup_frames=0\ndrop_frames=0\nspeed=1.94x\n${extra}progress=${end ? 'end' : 'continue'}\n`;

describe('FfmpegProgressParser', () => {
  it('turns one block into one typed event with percent from the duration', () => {
    const p = new FfmpegProgressParser(8);
    const [e] = p.push(block(4_000_000));
    expect(e).toEqual({ outTimeSec: 4, percent: 50, speed: 1.94, fps: 48.5, frame: 120, totalSizeBytes: 262192, bitrate: 812300, done: false });
  });

  it('handles chunks split anywhere, including mid-line and CRLF', () => {
    const p = new FfmpegProgressParser(10);
    const text = block(2_000_000).replace(/\n/g, '\r\n') + block(5_000_000);
    const events = [];
    for (let i = 0; i < text.length; i += 7) events.push(...p.push(text.slice(i, i + 7)));
    expect(events.map((e) => e.outTimeSec)).toEqual([2, 5]);
    expect(events.map((e) => e.percent)).toEqual([20, 50]);
  });

  it('N/A values become null; progress=end is done at 100%', () => {
    const p = new FfmpegProgressParser(3);
    const [first] = p.push('frame=0\nfps=0.00\nbitrate=N/A\ntotal_size=N/A\nout_time_us=N/A\nout_time=N/A\nspeed=N/A\nprogress=continue\n');
    expect(first).toMatchObject({ outTimeSec: null, percent: 0, speed: null, bitrate: null, totalSizeBytes: null, done: false });
    const [last] = p.push(block(2_900_000, '', true));
    expect(last).toMatchObject({ done: true, percent: 100 });
  });

  it('clamps percent and negative start times; no duration means null percent', () => {
    expect(new FfmpegProgressParser(2).push(block(5_000_000))[0]!.percent).toBe(100);
    expect(new FfmpegProgressParser(2).push(block(-40_000))[0]!.outTimeSec).toBe(0);
    expect(new FfmpegProgressParser(null).push(block(1_000_000))[0]!.percent).toBeNull();
  });

  it('falls back to out_time when the microsecond keys are missing', () => {
    const [e] = new FfmpegProgressParser(100).push('out_time=00:01:02.500000\nprogress=continue\n');
    expect(e!.outTimeSec).toBeCloseTo(62.5, 6);
  });
});
