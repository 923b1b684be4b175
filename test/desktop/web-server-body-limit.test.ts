import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TiercastError } from '../../shared/common/errors.ts';
import { createEventBus, type Handlers } from '../../desktop/main/api-calls.ts';
import { createMediaResolver } from '../../desktop/main/media.ts';
import { startWebConsole, type WebConsole } from '../../desktop/main/web-server.ts';
import { createLocalStore } from '../../shared/node/local-store.ts';

const MiB = 1024 * 1024;
const JSON_LIMIT = 1 * MiB;
const STAGE_LIMIT = 2 * MiB;
/** The most a client sends before giving up: far beyond any limit plus what kernel socket buffers absorb. */
const SEND_CAP = 256 * MiB;

/**
 * Streams an endless body on a raw socket as fast as the server takes it, and goes on after the answer, until the
 * server stops taking bytes (no drain for a second), closes the connection, or SEND_CAP is reached. Returns the
 * answer's status line and how many body bytes the server accepted in all: what it read, plus what the loopback
 * socket buffers hold.
 */
function flood(port: number, head: string): Promise<{ statusLine: string; sent: number }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    let answer = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      socket.destroy();
      if (process.env.TC_DEBUG) process.stderr.write(`sent ${sent} ${answer.split('\r\n')[0]}\n`);
      resolve({ statusLine: answer.split('\r\n')[0] ?? '', sent });
    };
    const pump = () => {
      while (!done && sent < SEND_CAP) {
        sent += chunk.length;
        if (!socket.write(chunk)) {
          const stalled = setTimeout(finish, 1000);
          socket.once('drain', () => {
            clearTimeout(stalled);
            pump();
          });
          return;
        }
      }
      finish();
    };
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('connect', () => {
      socket.write(head);
      pump();
    });
  });
}

describe('web console body limits (enforced while reading)', () => {
  let tmp: string;
  let web: WebConsole;
  let staged = 0;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-web-limit-'));
    const rendererDir = path.join(tmp, 'renderer');
    fs.mkdirSync(rendererDir, { recursive: true });
    fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
    const store = createLocalStore(path.join(tmp, 'store'));
    const handlers = { 'files.remove': async (req: { ids: string[] }) => ({ removed: req.ids.length }) } as unknown as Handlers;
    web = await startWebConsole({
      maxJsonBytes: JSON_LIMIT,
      
      rendererDir,
      services: {
        handlers,
        events: createEventBus(),
        media: createMediaResolver({ store: () => store, previewDir: path.join(tmp, 'preview') }),
        // Like the real service: refuses a declared size over the limit at once, and counts while streaming.
        async stageUpload(input) {
          if (input.declaredSize !== null && input.declaredSize > STAGE_LIMIT) throw new TiercastError('INPUT_TOO_LARGE', 'declared size over the limit');
          let seen = 0;
          const cap = new Transform({
            transform(c: Buffer, _e, cb) {
              seen += c.length;
              cb(seen > STAGE_LIMIT ? new TiercastError('INPUT_TOO_LARGE', 'over the limit') : null, c);
            },
          });
          await pipeline(input.body as Readable, cap, new Writable({ write: (_c, _e, cb) => cb() }));
          staged += seen;
          return { path: `/staging/${input.name}` };
        },
        close: async () => {},
      },
    });
  });

  afterAll(async () => {
    await web.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const head = (method: string, url: string, extra: string) =>
    `${method} ${url} HTTP/1.1\r\nHost: 127.0.0.1:${web.port}\r\nOrigin: ${web.origin}\r\nAuthorization: Bearer ${web.token}\r\n` +
    `Content-Type: application/json\r\n${extra}\r\n`;

  // What a server that stopped reading at the limit can have let through: the limit plus loopback socket buffers
  // (about 4-7 MiB measured here). A server that buffers to its limit or drains the rest goes far past it.
  const bound = (limit: number) => limit + 12 * MiB;

  it('answers 413 to a JSON call whose declared length is over the limit, without reading the body', async () => {
    const r = await flood(web.port, head('POST', '/api/files.remove', `Content-Length: ${SEND_CAP * 4}\r\n`));
    expect(r.statusLine).toMatch(/^HTTP\/1\.1 413 /);
    expect(r.sent).toBeLessThan(bound(0));
  });

  it('answers 413 to a chunked JSON body at the limit, having read no more than that', async () => {
    // A chunked body with one endless chunk: only counting while reading can stop it.
    const r = await flood(web.port, head('POST', '/api/files.remove', `Transfer-Encoding: chunked\r\n`) + `${(SEND_CAP * 4).toString(16)}\r\n`);
    expect(r.statusLine).toMatch(/^HTTP\/1\.1 413 /);
    expect(r.sent).toBeLessThan(bound(JSON_LIMIT));
  });

  it('answers 413 to a staged file over the limit, declared or streamed, and keeps what was staged empty', async () => {
    const declared = await flood(web.port, head('PUT', '/api/stage?name=a.mp4', `Content-Length: ${SEND_CAP * 4}\r\n`));
    expect(declared.statusLine).toMatch(/^HTTP\/1\.1 413 /);
    expect(declared.sent).toBeLessThan(bound(0));
    const streamed = await flood(web.port, head('PUT', '/api/stage?name=b.mp4', `Transfer-Encoding: chunked\r\n`) + `${(SEND_CAP * 4).toString(16)}\r\n`);
    expect(streamed.statusLine).toMatch(/^HTTP\/1\.1 413 /);
    expect(streamed.sent).toBeLessThan(bound(STAGE_LIMIT));
    expect(staged).toBe(0);
  });

  it('still answers small calls normally', async () => {
    const body = JSON.stringify({ ids: ['a', 'b'] });
    const r = await new Promise<string>((resolve, reject) => {
      const s = net.connect(web.port, '127.0.0.1', () => s.end(head('POST', '/api/files.remove', `Content-Length: ${body.length}\r\nConnection: close\r\n`) + body));
      let out = '';
      s.on('data', (d: Buffer) => (out += d.toString()));
      s.on('end', () => resolve(out));
      s.on('error', reject);
    });
    expect(r.split('\r\n')[0]).toMatch(/^HTTP\/1\.1 200 /);
  });
});
