// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { createServices, createWebServices, takeToken } from '../../../desktop/renderer/src/services/api.ts';

afterEach(() => {
  document.head.querySelectorAll('meta[name=tiercast-token]').forEach((m) => m.remove());
  sessionStorage.clear();
  history.replaceState(null, '', '/');
});

describe('renderer services layer', () => {
  it('takes the token from the URL fragment and removes it from the address bar', () => {
    history.replaceState(null, '', '/?x=1#token=abc123');
    expect(takeToken()).toBe('abc123');
    expect(location.href).not.toContain('abc123');
    expect(location.search).toBe('?x=1');
    // A reload of the same tab still works.
    expect(takeToken()).toBe('abc123');
  });

  it('prefers the token the server injected into the page', () => {
    const meta = document.createElement('meta');
    meta.name = 'tiercast-token';
    meta.content = 'from-meta';
    document.head.appendChild(meta);
    history.replaceState(null, '', '/?token=from-query');
    expect(takeToken()).toBe('from-meta');
    expect(location.search).toBe('');
  });

  it('refuses to start without a token, with an actionable code', () => {
    expect(() => createServices()).toThrow(/opened without its access token/);
  });

  it('sends calls as POST /api/<call> with the bearer token and turns error envelopes into coded errors', async () => {
    const seen: { url: string; init: RequestInit }[] = [];
    const fetchImpl = (async (url: string, init: RequestInit) => {
      seen.push({ url, init });
      if (url.endsWith('/api/jobs.get')) return new Response(JSON.stringify({ ok: false, error: { code: 'JOB_NOT_FOUND', message: 'no job x' } }), { status: 404 });
      if (url.includes('/api/stage')) return new Response(JSON.stringify({ ok: true, value: { path: '/home/staging/a.mp4' } }));
      return new Response(JSON.stringify({ ok: true, value: { removed: 1 } }));
    }) as typeof fetch;
    const s = createWebServices({ baseUrl: 'http://127.0.0.1:9', token: 'tok', fetchImpl });
    await expect(s.api['files.remove']({ ids: ['a'] })).resolves.toEqual({ removed: 1 });
    expect(seen[0]!.url).toBe('http://127.0.0.1:9/api/files.remove');
    expect((seen[0]!.init.headers as Record<string, string>).authorization).toBe('Bearer tok');
    expect(seen[0]!.init.body).toBe('{"ids":["a"]}');
    await expect(s.api['jobs.get']({ id: 'x' })).rejects.toMatchObject({ code: 'JOB_NOT_FOUND', message: 'no job x' });

    const path = await s.stageFile(new File(['abc'], 'a b.mp4'), 'shoot/day 1');
    expect(path).toBe('/home/staging/a.mp4');
    const stage = seen[2]!;
    expect(stage.url).toBe('http://127.0.0.1:9/api/stage?name=a+b.mp4&relativeDir=shoot%2Fday+1');
    expect(stage.init.method).toBe('PUT');
    expect((stage.init.headers as Record<string, string>).authorization).toBe('Bearer tok');
    expect(s.mediaHeaders()).toEqual({ authorization: 'Bearer tok' });
  });
});
