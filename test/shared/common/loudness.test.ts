import { describe, expect, it } from 'vitest';
import { expectedNormalization, loudnessMiss, loudnessTarget, measureFilter, normalizeFilter, parseEbur128Summary, parseLoudnormJson } from '../../../shared/common/loudness.ts';

const EBUR128 = `[Parsed_ebur128_1 @ 0x55] Summary:

  Integrated loudness:
    I:         -41.8 LUFS
    Threshold: -51.8 LUFS

  Loudness range:
    LRA:         3.2 LU
    Threshold: -61.8 LUFS
    LRA low:   -43.0 LUFS
    LRA high:  -39.8 LUFS

  True peak:
    Peak:      -38.1 dBFS
`;

const LOUDNORM = `[Parsed_loudnorm_2 @ 0x56] 
{
	"input_i" : "-41.75",
	"input_tp" : "-38.06",
	"input_lra" : "3.20",
	"input_thresh" : "-51.75",
	"output_i" : "-16.04",
	"output_tp" : "-15.27",
	"output_lra" : "0.00",
	"output_thresh" : "-26.04",
	"normalization_type" : "dynamic",
	"target_offset" : "0.04"
}
`;

describe('loudness', () => {
  it('parses the ebur128 summary and the loudnorm JSON', () => {
    expect(parseEbur128Summary(`noise\n${EBUR128}`)).toEqual({ integratedLufs: -41.8, truePeakDbtp: -38.1, lraLu: 3.2 });
    expect(parseEbur128Summary(EBUR128.replace('-41.8 LUFS\n    Threshold: -51.8', '-70.0 LUFS\n    Threshold: -70.0').replace('-38.1', '-inf'))).toEqual({ integratedLufs: null, truePeakDbtp: null, lraLu: 3.2 });
    expect(parseEbur128Summary('nothing')).toBeNull();
    expect(parseLoudnormJson(LOUDNORM)).toEqual({ inputI: -41.75, inputTp: -38.06, inputLra: 3.2, inputThresh: -51.75, targetOffset: 0.04, normalizationType: 'dynamic' });
    expect(parseLoudnormJson('{ "input_i" : "x" }')).toBeNull();
  });

  it('presets and filters: stereo mix first, loudnorm 0.5 dB under the ceiling, measured values with linear=true', () => {
    const streaming = loudnessTarget('streaming')!;
    expect(streaming).toEqual({ preset: 'streaming', integratedLufs: -16, truePeakDbtp: -1 });
    expect(loudnessTarget('broadcast')).toEqual({ preset: 'broadcast', integratedLufs: -23, truePeakDbtp: -1 });
    expect(loudnessTarget('off')).toBeNull();
    expect(measureFilter(null)).toBe('aformat=channel_layouts=stereo,ebur128=peak=true:framelog=verbose');
    expect(measureFilter(streaming)).toBe('aformat=channel_layouts=stereo,ebur128=peak=true:framelog=verbose,loudnorm=I=-16:TP=-1.5:LRA=20:print_format=json');
    const first = parseLoudnormJson(LOUDNORM)!;
    expect(normalizeFilter(streaming, first)).toBe(
      'aformat=channel_layouts=stereo,loudnorm=I=-16:TP=-1.5:LRA=20:measured_I=-41.75:measured_TP=-38.06:measured_LRA=3.20:measured_thresh=-51.75:offset=0.04:linear=true',
    );
  });

  it('linear when the gain keeps the peak under the ceiling, dynamic otherwise', () => {
    const t = loudnessTarget('streaming')!;
    const base = { inputI: -30, inputTp: -20, inputLra: 5, inputThresh: -40, targetOffset: 0 };
    expect(expectedNormalization(t, base)).toBe('linear');
    expect(expectedNormalization(t, { ...base, inputTp: -3 })).toBe('dynamic');
  });

  it('an output misses when more than 1 LU off or above the ceiling', () => {
    const t = loudnessTarget('streaming')!;
    expect(loudnessMiss(t, { integratedLufs: -16.9, truePeakDbtp: -1.2, lraLu: 1 })).toBeNull();
    expect(loudnessMiss(t, { integratedLufs: -17.2, truePeakDbtp: -3, lraLu: 1 })).toBe('the output measures -17.2 LUFS, 1.2 LU from the -16 LUFS target (tolerance 1 LU)');
    expect(loudnessMiss(t, { integratedLufs: -16, truePeakDbtp: -0.4, lraLu: 1 })).toBe("the output's true peak is -0.4 dBTP, above the -1 dBTP ceiling");
    expect(loudnessMiss(t, { integratedLufs: null, truePeakDbtp: null, lraLu: 0 })).toBe('the output is silent, target -16 LUFS');
  });
});
