import { describe, expect, it } from 'vitest';
import { countVttCues, hasClosedCaptions, isBcp47, parseSubtitleStreams, planSubtitles, subtitlePlaylist, withDashClosedCaptions, withDashSubtitles, withHlsClosedCaptions, withHlsSubtitles } from '../../../shared/common/subtitles.ts';

const streams = parseSubtitleStreams([
  { index: 0, codec_type: 'video', codec_name: 'h264' },
  { index: 2, codec_type: 'subtitle', codec_name: 'subrip', tags: { language: 'eng' }, disposition: { default: 1, forced: 0 } },
  { index: 3, codec_type: 'subtitle', codec_name: 'hdmv_pgs_subtitle', tags: { language: 'fre' }, disposition: {} },
  { index: 4, codec_type: 'subtitle', codec_name: 'ass', tags: { language: 'und', title: 'Signs' }, disposition: { forced: 1 } },
  { index: 5, codec_type: 'subtitle', codec_name: 'mov_text', tags: { language: 'eng' } },
]);

describe('subtitle plan', () => {
  it('reads subtitle streams: und is untagged, dispositions kept', () => {
    expect(streams.map((s) => [s.index, s.codec, s.language, s.default, s.forced])).toEqual([
      [2, 'subrip', 'eng', true, false],
      [3, 'hdmv_pgs_subtitle', 'fre', false, false],
      [4, 'ass', null, false, true],
      [5, 'mov_text', 'eng', false, false],
    ]);
  });

  it('keeps text streams then sidecars, leaves bitmap out with a warning, names unique, one DEFAULT', () => {
    const plan = planSubtitles(streams, [{ path: '/x/film.fr.srt', language: 'fr' }]);
    expect(plan.tracks.map((t) => [t.name, t.language, t.default, t.forced, t.file, t.playlist])).toEqual([
      ['eng', 'eng', true, false, 'subs_0.vtt', 'subs_0.m3u8'],
      ['Signs', null, false, true, 'subs_1.vtt', 'subs_1.m3u8'],
      ['eng (2)', 'eng', false, false, 'subs_2.vtt', 'subs_2.m3u8'],
      ['fr', 'fr', false, false, 'subs_3.vtt', 'subs_3.m3u8'],
    ]);
    expect(plan.leftOut).toEqual([{ index: 3, codec: 'hdmv_pgs_subtitle', language: 'fre', reason: 'PGS subtitles are pictures and cannot become WebVTT text without OCR' }]);
    expect(plan.warnings).toEqual(['subtitle stream 3 (PGS, fre) left out: PGS subtitles are pictures and cannot become WebVTT text without OCR']);
  });

  it.each([
    ['fr', true], ['pt-BR', true], ['zh-Hant-TW', true], ['eng', true],
    ['english_uk', false], ['fr_FR', false], ['e', false], ['fr-', false], ['x-private', false], ['', false],
  ])('isBcp47(%j) = %s', (tag, ok) => expect(isBcp47(tag)).toBe(ok));
});

describe('packaging', () => {
  const { tracks } = planSubtitles(streams.filter((s) => s.index === 2 || s.index === 4), []);
  const master = ['#EXTM3U', '#EXT-X-VERSION:7', '', '#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO="audio"', 'media_0.m3u8', '#EXT-X-STREAM-INF:BANDWIDTH=2,AUDIO="audio"', 'media_1.m3u8', ''].join('\n');

  it('HLS: SUBTITLES renditions before the variants, the group on every variant', () => {
    const out = withHlsSubtitles(master, tracks).split('\n');
    expect(out).toContain('#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="eng",LANGUAGE="eng",DEFAULT=YES,AUTOSELECT=YES,FORCED=NO,URI="subs_0.m3u8"');
    expect(out).toContain('#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="Signs",DEFAULT=NO,AUTOSELECT=YES,FORCED=YES,URI="subs_1.m3u8"');
    expect(out.filter((l) => l.startsWith('#EXT-X-STREAM-INF')).every((l) => l.endsWith(',SUBTITLES="subs"'))).toBe(true);
    expect(out.findIndex((l) => l.startsWith('#EXT-X-MEDIA'))).toBeLessThan(out.findIndex((l) => l.startsWith('#EXT-X-STREAM-INF')));
    expect(withHlsSubtitles(master, [])).toBe(master);
  });

  it('a one-segment VOD playlist spanning the programme', () => {
    expect(subtitlePlaylist(tracks[0]!, 12.34)).toBe('#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:13\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:12.340,\nsubs_0.vtt\n#EXT-X-ENDLIST\n');
  });

  it('DASH: a text/vtt adaptation set per track with lang and the next free id, inside the Period', () => {
    const mpd = '<MPD>\n\t<Period id="0">\n\t\t<AdaptationSet id="0" contentType="video"/>\n\t\t<AdaptationSet id="1" contentType="audio"/>\n\t</Period>\n</MPD>\n';
    const out = withDashSubtitles(mpd, tracks);
    expect(out).toContain('\t\t<AdaptationSet id="2" contentType="text" mimeType="text/vtt" lang="eng">');
    expect(out).toContain('\t\t<AdaptationSet id="3" contentType="text" mimeType="text/vtt">');
    expect(out).toContain('<Role schemeIdUri="urn:mpeg:dash:role:2011" value="forced-subtitle"/>');
    expect(out).toContain('<BaseURL>subs_1.vtt</BaseURL>');
    expect(out.indexOf('subs_1.vtt')).toBeLessThan(out.indexOf('</Period>'));
    expect(() => withDashSubtitles('<MPD/>', tracks)).toThrow(/no Period/);
  });

  it('counts cues', () => {
    expect(countVttCues('WEBVTT\n\n00:00.500 --> 00:01.500\nHi\n\n01:00:02.000 --> 01:00:03.000\nYo\n')).toBe(2);
    expect(countVttCues('WEBVTT\n')).toBe(0);
  });
});

describe('CEA-608 captions kept in the video', () => {
  it('are detected from ffprobe\'s closed_captions flag on a video stream', () => {
    expect(hasClosedCaptions([{ codec_type: 'video', closed_captions: 1 }])).toBe(true);
    expect(hasClosedCaptions([{ codec_type: 'video', closed_captions: 0 }, { codec_type: 'audio' }])).toBe(false);
  });

  it('HLS: a CLOSED-CAPTIONS rendition CC1 replaces CLOSED-CAPTIONS=NONE on every variant', () => {
    const master = '#EXTM3U\n\n#EXT-X-STREAM-INF:BANDWIDTH=1,CLOSED-CAPTIONS=NONE\nmedia_0.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2,CLOSED-CAPTIONS=NONE\nmedia_1.m3u8\n';
    const out = withHlsClosedCaptions(master);
    expect(out).toContain('#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC1",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC1"');
    expect(out).not.toContain('CLOSED-CAPTIONS=NONE');
    expect(out.split('\n').filter((l) => l.endsWith('CLOSED-CAPTIONS="cc"'))).toHaveLength(2);
  });

  it('DASH: a CEA-608 Accessibility descriptor on the video adaptation set only', () => {
    const mpd = '<Period>\n\t\t<AdaptationSet id="0" contentType="video" par="16:9">\n\t\t\t<Representation id="0"/>\n\t\t</AdaptationSet>\n\t\t<AdaptationSet id="1" contentType="audio">\n\t\t</AdaptationSet>\n</Period>';
    const out = withDashClosedCaptions(mpd);
    expect(out).toContain('<AdaptationSet id="0" contentType="video" par="16:9">\n\t\t\t<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC1"/>\n\t\t\t<Representation id="0"/>');
    expect(out.match(/Accessibility/g)).toHaveLength(1);
  });
});
