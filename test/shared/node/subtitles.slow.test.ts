import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { LadderSchema } from '../../../shared/common/ladder-schema.ts';
import { transcodeFile } from '../../../shared/node/transcode.ts';
import { runTiercast } from '../../helpers/cli.ts';
import { makeClip } from '../../helpers/clips.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-subs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ladder = LadderSchema.parse({
  name: 'subs',
  segmentSeconds: 1,
  preset: 'ultrafast',
  rungs: [{ name: '90p', shortEdge: 90, videoBitrate: 100_000, maxrate: 120_000, bufsize: 200_000 }],
});

const SRT = '1\n00:00:00,500 --> 00:00:01,200\nHello there\n\n2\n00:00:01,500 --> 00:00:02,500\nSecond line\n';
const ASS = [
  '[Script Info]', 'ScriptType: v4.00+', '', '[V4+ Styles]',
  'Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding',
  'Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,1', '', '[Events]',
  'Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text',
  'Dialogue: 0,0:00:00.50,0:00:01.50,Default,,0,0,0,,Bonjour {\\i1}monde{\\i0}', '',
].join('\n');

function write(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A 3 s clip with a SubRip (eng) and an ASS (fre) stream in Matroska. */
function mkvWithTextSubs(): string {
  const out = path.join(dir, 'text-subs.mkv');
  if (existsSync(out)) return out;
  const clip = makeClip({ durationSec: 3, width: 160, height: 90, ext: 'mkv' });
  ffmpeg(['-i', clip, '-i', write('a.srt', SRT), '-i', write('a.ass', ASS), '-map', '0', '-map', '1', '-map', '2', '-c:v', 'copy', '-c:a', 'copy', '-c:s:0', 'srt', '-c:s:1', 'ass',
    '-metadata:s:s:0', 'language=eng', '-metadata:s:s:1', 'language=fre', '-disposition:s:0', '0', out]);
  return out;
}

const { Parser } = createRequire(import.meta.url)('m3u8-parser') as {
  Parser: new () => { push(t: string): void; end(): void; manifest: { playlists?: { uri: string; attributes: Record<string, unknown> }[]; mediaGroups?: Record<string, Record<string, Record<string, { uri?: string; language?: string; default?: boolean }>>> } };
};
function master(outDir: string) {
  const p = new Parser();
  p.push(readFileSync(path.join(outDir, 'master.m3u8'), 'utf8'));
  p.end();
  return p.manifest;
}

interface XmlSet { '@_mimeType'?: string; '@_lang'?: string; '@_contentType'?: string; Representation?: { BaseURL?: string } | { BaseURL?: string }[] }
function textSets(outDir: string): XmlSet[] {
  const mpd = new XMLParser({ ignoreAttributes: false }).parse(readFileSync(path.join(outDir, 'manifest.mpd'), 'utf8')) as { MPD: { Period: { AdaptationSet: XmlSet | XmlSet[] } } };
  const sets = ([] as XmlSet[]).concat(mpd.MPD.Period.AdaptationSet);
  return sets.filter((s) => s['@_mimeType'] === 'text/vtt');
}

function baseUrl(set: XmlSet): string | undefined {
  const rep = Array.isArray(set.Representation) ? set.Representation[0] : set.Representation;
  return rep?.BaseURL;
}

describe('subtitles become WebVTT tracks', () => {
  it('embedded SubRip and ASS streams: an HLS SUBTITLES group on every variant and DASH text/vtt sets with lang', async () => {
    const outDir = path.join(dir, 'mkv-out');
    const report = await transcodeFile({ input: mkvWithTextSubs(), outDir, ladder, thumbnails: false });

    expect(report.subtitles?.tracks.map((t) => [t.language, t.source, t.cues])).toEqual([
      ['eng', 'stream 2 (subrip)', 2],
      ['fre', 'stream 3 (ass)', 1],
    ]);
    const m = master(outDir);
    const group = m.mediaGroups?.SUBTITLES?.subs ?? {};
    expect(Object.values(group).map((g) => g.language).sort()).toEqual(['eng', 'fre']);
    expect(m.playlists?.every((p) => p.attributes.SUBTITLES === 'subs')).toBe(true);
    for (const g of Object.values(group)) {
      const playlist = readFileSync(path.join(outDir, g.uri!), 'utf8');
      const vtt = /^(subs_\d+\.vtt)$/m.exec(playlist)![1]!;
      expect(readFileSync(path.join(outDir, vtt), 'utf8').startsWith('WEBVTT')).toBe(true);
    }
    const sets = textSets(outDir);
    expect(sets.map((s) => s['@_lang']).sort()).toEqual(['eng', 'fre']);
    const fre = sets.find((s) => s['@_lang'] === 'fre')!;
    // ASS styling becomes WebVTT markup; the cue keeps the source's time.
    const vtt = readFileSync(path.join(outDir, baseUrl(fre)!), 'utf8');
    expect(vtt).toContain('Bonjour <i>monde</i>');
    expect(vtt).toMatch(/00:00\.5\d\d --> 00:01\.5\d\d/);
  });

  it('an embedded mov_text stream (MP4) and a sidecar .srt given with language fr', async () => {
    const input = path.join(dir, 'movtext.mp4');
    ffmpeg(['-i', makeClip({ durationSec: 3, width: 160, height: 90 }), '-i', write('b.srt', SRT), '-map', '0', '-map', '1', '-c:v', 'copy', '-c:a', 'copy', '-c:s', 'mov_text', '-metadata:s:s:0', 'language=spa', input]);
    const side = write('extra subs.srt', SRT.replace('Hello there', 'Salut'));
    const outDir = path.join(dir, 'mp4-out');
    const report = await transcodeFile({ input, outDir, ladder, thumbnails: false, subtitles: [{ path: side, language: 'fr' }] });

    expect(report.subtitles?.tracks.map((t) => [t.language, t.source])).toEqual([
      ['spa', 'stream 2 (mov_text)'],
      ['fr', 'extra subs.srt'],
    ]);
    const group = master(outDir).mediaGroups?.SUBTITLES?.subs ?? {};
    expect(Object.values(group).map((g) => g.language)).toEqual(['spa', 'fr']);
    const fr = textSets(outDir).find((s) => s['@_lang'] === 'fr')!;
    expect(readFileSync(path.join(outDir, baseUrl(fr)!), 'utf8')).toContain('Salut');
  });

  it('a sidecar next to the input (<stem>.<lang>.srt) is found; HLS-only output has no MPD text sets', async () => {
    const sub = path.join(dir, 'side');
    mkdirSync(sub, { recursive: true });
    const input = path.join(sub, 'film.mp4');
    copyFileSync(makeClip({ durationSec: 3, width: 160, height: 90 }), input);
    writeFileSync(path.join(sub, 'film.pt-BR.srt'), SRT);
    const outDir = path.join(dir, 'side-out');
    const report = await transcodeFile({ input, outDir, ladder, thumbnails: false, formats: ['hls'] });
    expect(report.subtitles?.tracks.map((t) => [t.language, t.source, t.playlist])).toEqual([['pt-BR', 'film.pt-BR.srt', 'subs_0.m3u8']]);
    expect(readFileSync(path.join(outDir, 'master.m3u8'), 'utf8')).toContain('TYPE=SUBTITLES,GROUP-ID="subs",NAME="pt-BR",LANGUAGE="pt-BR"');
    expect(existsSync(path.join(outDir, 'manifest.mpd'))).toBe(false);
  });

  it('a broken .srt and a language that is not BCP 47 fail with SUBTITLE_INVALID naming the file; nothing is published', async () => {
    const input = makeClip({ durationSec: 2, width: 160, height: 90 });
    const broken = write('broken.srt', 'this is not\na subtitle file\n');
    const outDir = path.join(dir, 'broken-out');
    await expect(transcodeFile({ input, outDir, ladder, subtitles: [{ path: broken, language: 'en' }] })).rejects.toMatchObject({
      code: 'SUBTITLE_INVALID',
      message: expect.stringMatching(/^broken\.srt: not a valid SubRip or WebVTT file/),
    });
    await expect(transcodeFile({ input, outDir, ladder, subtitles: [{ path: write('ok.srt', SRT), language: 'english_uk' }] })).rejects.toMatchObject({
      code: 'SUBTITLE_INVALID',
      message: expect.stringMatching(/^ok\.srt: "english_uk" is not a BCP 47 language tag; use a tag such as en/),
    });
    expect(existsSync(outDir)).toBe(false);
  });

  it('a bitmap (PGS) stream is listed as left out with a warning', async () => {
    // ffmpeg cannot render text into PGS, so the Matroska codec id of an ASS track is rewritten to S_HDMV/PGS
    // (same length): ffprobe then reports hdmv_pgs_subtitle, which is what the plan looks at.
    const asAss = path.join(dir, 'for-pgs.mkv');
    ffmpeg(['-i', makeClip({ durationSec: 2, width: 160, height: 90, ext: 'mkv' }), '-i', write('c.ass', ASS), '-map', '0', '-map', '1', '-c:v', 'copy', '-c:a', 'copy', '-c:s', 'ass', '-metadata:s:s:0', 'language=ger', asAss]);
    const bytes = readFileSync(asAss);
    const at = bytes.indexOf('S_TEXT/ASS');
    expect(at).toBeGreaterThan(0);
    bytes.write('S_HDMV/PGS', at, 'latin1');
    const input = path.join(dir, 'pgs.mkv');
    writeFileSync(input, bytes);

    const outDir = path.join(dir, 'pgs-out');
    const report = await transcodeFile({ input, outDir, ladder, thumbnails: false });
    expect(report.subtitles?.tracks).toEqual([]);
    expect(report.subtitles?.leftOut).toEqual([{ index: 2, codec: 'hdmv_pgs_subtitle', language: 'ger', reason: expect.stringContaining('PGS subtitles are pictures') }]);
    expect(report.warnings.some((w) => w.startsWith('subtitle stream 2 (PGS, ger) left out'))).toBe(true);
    expect(readFileSync(path.join(outDir, 'master.m3u8'), 'utf8')).not.toContain('SUBTITLES');
  });

  it('CLI batch: an input whose sidecar has a bad language tag fails with SUBTITLE_INVALID, the next input gets its --subtitles FILE:lang track', async () => {
    const out = path.join(dir, 'cli-out');
    const clip = makeClip({ durationSec: 2, width: 160, height: 90 });
    mkdirSync(path.join(dir, 'cli-a'), { recursive: true });
    mkdirSync(path.join(dir, 'cli-b'), { recursive: true });
    const bad = path.join(dir, 'cli-a', 'bad.mp4');
    const good = path.join(dir, 'cli-b', 'good.mp4');
    copyFileSync(clip, bad);
    copyFileSync(clip, good);
    writeFileSync(path.join(dir, 'cli-a', 'bad.en_GB!.srt'), SRT);
    const env = { ...process.env, TIERCAST_HOME: path.join(dir, 'home') };
    const ladderFile = write('ladder.json', JSON.stringify(ladder));
    const run = await runTiercast(['transcode', bad, good, '--out', out, '--ladder', ladderFile, '--subtitles', `${write('d.srt', SRT)}:fr`, '--json'], { cwd: dir, env });
    expect(run.code).toBe(1);
    const doc = JSON.parse(run.stdout) as { inputs: { ok: boolean; outDir: string | null; error: { code: string; message: string } | null }[] };
    expect(doc.inputs[0]).toMatchObject({ ok: false, error: { code: 'SUBTITLE_INVALID', message: expect.stringContaining('bad.en_GB!.srt: "en_GB!" is not a BCP 47 language tag') } });
    expect(doc.inputs[1]).toMatchObject({ ok: true });
    expect(readFileSync(path.join(doc.inputs[1]!.outDir!, 'master.m3u8'), 'utf8')).toContain('LANGUAGE="fr"');

    const usage = await runTiercast(['transcode', good, '--out', out, '--loudness', 'loud'], { cwd: dir, env });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--loudness "loud": use broadcast, streaming or off');
  });
});
