import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildAgent } from '../../agent/main.ts';
import { defaultConcurrency, resolveAgentSettings } from '../../shared/node/worker-settings.ts';
import { loadConfig } from '../../shared/node/config.ts';
import { repoRoot } from '../helpers/media.ts';

let home: string;
beforeEach(() => {
  home = mkdtempSync(path.join(os.tmpdir(), 'tiercast-agent-main-'));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

async function settings(flags: Parameters<typeof resolveAgentSettings>[0], env: Record<string, string> = {}, file?: unknown) {
  if (file !== undefined) writeFileSync(path.join(home, 'config.json'), JSON.stringify(file));
  const config = await loadConfig({ env: { TIERCAST_HOME: home, ...env }, home });
  return resolveAgentSettings(flags, { TIERCAST_HOME: home, ...env }, config, home);
}

function configError(fn: () => Promise<unknown>) {
  return fn().then(
    () => {
      throw new Error('expected a CONFIG_INVALID error');
    },
    (err: { code?: string; message: string }) => {
      expect(err.code).toBe('CONFIG_INVALID');
      return err.message;
    },
  );
}

describe('agent settings', () => {
  it('defaults: concurrency from the cores, heartbeat a third of the visibility timeout, work folder in the data home', async () => {
    const s = await settings({ local: true });
    expect(s.concurrency).toBe(defaultConcurrency());
    expect(s.visibilityTimeoutSec).toBe(120);
    expect(s.heartbeatSec).toBe(40);
    expect(s.waitSeconds).toBe(20);
    expect(s.workDir).toBe(path.join(home, 'work'));
    expect(s.healthPort).toBeNull();
  });

  it('defaultConcurrency divides the cores by the threads a job uses, never below 1', () => {
    expect(defaultConcurrency(1)).toBe(1);
    expect(defaultConcurrency(2)).toBe(1);
    expect(defaultConcurrency(8)).toBe(4);
    expect(defaultConcurrency(9)).toBe(4);
  });

  it('precedence: flags over environment over the config file', async () => {
    const file = { agent: { concurrency: 3, maxReceives: 7, graceMs: 1000 } };
    const s = await settings({ local: true, concurrency: 5 }, { TIERCAST_AGENT_CONCURRENCY: '4', TIERCAST_AGENT_GRACE_MS: '2000' }, file);
    expect(s).toMatchObject({ concurrency: 5, graceMs: 2000, maxReceives: 7 });
  });

  it('names the bad field and where it came from', async () => {
    expect(await configError(() => settings({ local: true }, { TIERCAST_AGENT_WAIT_SECONDS: '30' }))).toMatch(/agent\.waitSeconds \(from TIERCAST_AGENT_WAIT_SECONDS\)/);
    expect(await configError(() => settings({ local: true }, { TIERCAST_AGENT_CONCURRENCY: 'many' }))).toMatch(/agent\.concurrency \(from TIERCAST_AGENT_CONCURRENCY\): not a number/);
    expect(await configError(() => settings({ local: true }, {}, { agent: { visibilityTimeoutSec: 30, heartbeatSec: 30 } }))).toMatch(
      /agent\.heartbeatSec \(from config file\): must be shorter than visibilityTimeoutSec/,
    );
    expect(await configError(() => settings({ local: true }, {}, { agent: { colour: 'blue' } }))).toMatch(/agent\./);
  });

  it('an SQS agent needs the shared S3 store', async () => {
    const env = { TIERCAST_HOME: home, TIERCAST_QUEUE: 'sqs', TIERCAST_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/jobs' };
    expect(await configError(() => buildAgent({}, { env, log: pino({ level: 'silent' }) }))).toMatch(/S3 store/);
  });

  it('local mode builds a local queue and store in the data home', async () => {
    const agent = await buildAgent({ local: true }, { env: { TIERCAST_HOME: home }, log: pino({ level: 'silent' }) });
    expect(agent.tier).toBe('local');
    expect(agent.store.kind).toBe('local');
    expect(agent.store.location).toContain(home);
    await agent.shutdown();
  });
});

describe('Spot interruption notice', () => {
  it('stops the agent gracefully, as SIGTERM does', async () => {
    const imds = http.createServer((req, res) => {
      if (req.method === 'PUT') return res.writeHead(200).end('token');
      if (req.url === '/latest/meta-data/spot/instance-action' && req.headers['x-aws-ec2-metadata-token'] === 'token') {
        return res.writeHead(200, { 'content-type': 'application/json' }).end('{"action":"terminate","time":"2026-11-22T05:00:00Z"}');
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => imds.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(imds.address() as AddressInfo).port}`;
      const agent = await buildAgent({ local: true, spotWatch: true }, { env: { TIERCAST_HOME: home, AWS_EC2_METADATA_SERVICE_ENDPOINT: endpoint, TIERCAST_AGENT_WAIT_SECONDS: '1' }, log: pino({ level: 'silent' }) });
      await agent.start();
      await agent.worker.start();
      await agent.stopped;
      expect(agent.worker.status().state).toBe('stopped');
    } finally {
      await new Promise((r) => imds.close(r));
    }
  });
});

describe('tiercast agent (CLI)', () => {
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [path.join(repoRoot, 'bin/tiercast.js'), 'agent', ...args], {
      env: { PATH: process.env.PATH ?? '', TIERCAST_HOME: home, ...env },
      encoding: 'utf8',
      timeout: 30_000,
    });

  it('exits 2 with the field named on a configuration error', () => {
    const r = run(['--local', '--once'], { TIERCAST_AGENT_HEARTBEAT_SEC: '500' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^CONFIG_INVALID: agent\.heartbeatSec \(from TIERCAST_AGENT_HEARTBEAT_SEC\)/m);
  });

  it('exits 2 on a bad flag', () => {
    const r = run(['--concurrency', 'lots']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--concurrency must be a whole number/);
  });

  it('--local --once on an empty queue exits 0', () => {
    const r = run(['--local', '--once'], { TIERCAST_AGENT_WAIT_SECONDS: '0', TIERCAST_LOG_FORMAT: 'json' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/"msg":"agent worker stopped"/);
  });
});
