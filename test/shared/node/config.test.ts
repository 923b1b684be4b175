import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TiercastError } from '../../../shared/common/errors.ts';
import { loadConfig, redactConfig, saveConfig } from '../../../shared/node/config.ts';

let home: string;
beforeEach(() => {
  home = mkdtempSync(path.join(os.tmpdir(), 'tiercast-config-'));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

const writeFile = (doc: unknown, name = 'config.json') => {
  const p = path.join(home, name);
  writeFileSync(p, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return p;
};

async function configError(promise: Promise<unknown>): Promise<TiercastError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TiercastError);
  expect((err as TiercastError).code).toBe('CONFIG_INVALID');
  return err as TiercastError;
}

const awsEnv = {
  TIERCAST_BUCKET: 'media-bucket',
  AWS_REGION: 'eu-west-1',
  LAMBDA_FUNCTION_NAME: 'tiercast-transcode',
  LAMBDA_FUNCTION_NAME_ENHANCED: 'tiercast-transcode-xl',
  ECS_CLUSTER_NAME: 'tiercast',
  ECS_TASK_DEFINITION: 'tiercast-task:3',
  ECS_SUBNETS: 'subnet-0a1b, subnet-0c2d',
  ECS_SECURITY_GROUPS: 'sg-0123',
  TIERCAST_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/tiercast-jobs',
};

describe('loadConfig defaults', () => {
  it('with nothing configured: local store, local queue, only the local tier, issue defaults for the tiers', async () => {
    const c = await loadConfig({ env: {}, home });
    expect(c.store).toEqual({ kind: 'local' });
    expect(c.queue).toEqual({ kind: 'local' });
    expect(c.tiers.enabled).toEqual(['local']);
    expect(c.tiers.lambda).toMatchObject({ memoryMb: 2048, timeoutSec: 120, enhancedMemoryMb: 3008, enhancedTimeoutSec: 600, ephemeralMb: 512 });
    expect(c.tiers.fargate).toMatchObject({ vcpu: 2, memoryGb: 8, ephemeralGb: 20, spotShare: 0.7, onDemandAboveBytes: 1024 ** 3 });
    expect(c.metrics.source).toBe('local');
  });

  it('AWS tiers switch on only when their resources are configured, with an S3 store', async () => {
    const all = await loadConfig({ env: awsEnv, home });
    expect(all.tiers.enabled).toEqual(['local', 'lambda', 'lambda-enhanced', 'fargate', 'fargate-spot', 'ec2']);
    expect(all.store).toMatchObject({ kind: 's3', bucket: 'media-bucket', region: 'eu-west-1', prefix: '' });
    expect(all.tiers.fargate.subnets).toEqual(['subnet-0a1b', 'subnet-0c2d']);
    expect(all.queue).toEqual({ kind: 'sqs', url: awsEnv.TIERCAST_QUEUE_URL, highPriorityLatencySec: 5 });

    const { ECS_SUBNETS: _s, LAMBDA_FUNCTION_NAME_ENHANCED: _l, ...partial } = awsEnv;
    const some = await loadConfig({ env: partial, home });
    expect(some.tiers.enabled).toEqual(['local', 'lambda', 'ec2']);

    const { TIERCAST_BUCKET: _b, ...noBucket } = awsEnv;
    const local = await loadConfig({ env: noBucket, home });
    expect(local.tiers.enabled).toEqual(['local']);
  });
});

describe('sections and tier rules', () => {
  it('keeps the agent and console sections for their owners to validate', async () => {
    writeFile({ agent: { concurrency: 3 }, console: { theme: 'dark' } });
    const c = await loadConfig({ env: {}, home });
    expect(c.agent).toEqual({ concurrency: 3 });
    expect(c.console).toEqual({ theme: 'dark' });
  });

  it('arm64 Fargate tasks cannot use Spot: fargate-spot stays off by default and is refused when asked for', async () => {
    const c = await loadConfig({ env: awsEnv, home, flags: { tiers: { fargate: { arch: 'arm64' } } } });
    expect(c.tiers.enabled).toContain('fargate');
    expect(c.tiers.enabled).not.toContain('fargate-spot');
    const err = await configError(loadConfig({ env: { ...awsEnv, TIERCAST_TIERS: 'fargate-spot' }, home, flags: { tiers: { fargate: { arch: 'arm64' } } } }));
    expect(err.message).toMatch(/Spot runs only x86_64/);
  });

  it('a high-priority queue URL equal to the normal one is refused', async () => {
    const err = await configError(loadConfig({ env: { ...awsEnv, TIERCAST_QUEUE_URL_HIGH: awsEnv.TIERCAST_QUEUE_URL }, home }));
    expect(err.details.field).toBe('queue.highPriorityUrl');
  });
});

describe('precedence: flags > environment > file > defaults', () => {
  it('each layer overrides the one below, field by field', async () => {
    writeFile({ tiers: { lambda: { memoryMb: 1024, timeoutSec: 60 }, local: { concurrency: 3 } }, metrics: { source: 'cloudwatch' } });
    const fileOnly = await loadConfig({ env: {}, home });
    expect(fileOnly.tiers.lambda.memoryMb).toBe(1024);
    expect(fileOnly.tiers.lambda.timeoutSec).toBe(60);

    const withEnv = await loadConfig({ env: { TIERCAST_LAMBDA_MEMORY_MB: '1536' }, home });
    expect(withEnv.tiers.lambda.memoryMb).toBe(1536);
    expect(withEnv.tiers.lambda.timeoutSec).toBe(60);
    expect(withEnv.tiers.local.concurrency).toBe(3);

    const withFlags = await loadConfig({ env: { TIERCAST_LAMBDA_MEMORY_MB: '1536' }, flags: { tiers: { lambda: { memoryMb: 4096 } } }, home });
    expect(withFlags.tiers.lambda.memoryMb).toBe(4096);
    expect(withFlags.tiers.lambda.timeoutSec).toBe(60);
    expect(withFlags.metrics.source).toBe('cloudwatch');
  });

  it('--config FILE replaces the data-home file, and must exist', async () => {
    writeFile({ tiers: { local: { concurrency: 3 } } });
    const other = writeFile({ tiers: { local: { concurrency: 5 } } }, 'other.json');
    expect((await loadConfig({ env: {}, home, configPath: other })).tiers.local.concurrency).toBe(5);
    const err = await configError(loadConfig({ env: {}, home, configPath: path.join(home, 'missing.json') }));
    expect(err.message).toContain('missing.json');
  });

  it('a store kind chosen by env replaces the file store instead of merging into it', async () => {
    writeFile({ store: { kind: 's3', bucket: 'file-bucket', prefix: 'p/' } });
    const c = await loadConfig({ env: { TIERCAST_STORE: 'local', TIERCAST_STORE_ROOT: '/srv/media' }, home });
    expect(c.store).toEqual({ kind: 'local', root: '/srv/media' });
    const s3 = await loadConfig({ env: { TIERCAST_PREFIX: 'env/' }, home });
    expect(s3.store).toMatchObject({ kind: 's3', bucket: 'file-bucket', prefix: 'env/' });
  });
});

describe('errors name the field and its source', () => {
  it('an env var that is not a number', async () => {
    const err = await configError(loadConfig({ env: { TIERCAST_LAMBDA_MEMORY_MB: 'lots' }, home }));
    expect(err.message).toContain('tiers.lambda.memoryMb');
    expect(err.message).toContain('TIERCAST_LAMBDA_MEMORY_MB');
    expect(err.details.source).toContain('TIERCAST_LAMBDA_MEMORY_MB');
  });

  it('a file field out of range names the file path', async () => {
    const file = writeFile({ tiers: { lambda: { ephemeralMb: 20_000 } } });
    const err = await configError(loadConfig({ env: {}, home }));
    expect(err.details.field).toBe('tiers.lambda.ephemeralMb');
    expect(err.message).toContain(file);
  });

  it('a misspelt key in the file is reported, not ignored', async () => {
    writeFile({ tiers: { lambda: { memoryMB: 4096 } } });
    const err = await configError(loadConfig({ env: {}, home }));
    expect(err.details.field).toBe('tiers.lambda.memoryMB');
  });

  it('invalid JSON and non-object files', async () => {
    writeFile('{ "store": ');
    expect((await configError(loadConfig({ env: {}, home }))).message).toContain('not valid JSON');
    writeFile('[1,2]');
    expect((await configError(loadConfig({ env: {}, home }))).message).toContain('JSON object');
  });

  it('bad ids from operators\' env names', async () => {
    const err = await configError(loadConfig({ env: { ...awsEnv, ECS_SUBNETS: 'subnet-0a1b,vpc-1' }, home }));
    expect(err.details.field).toBe('tiers.fargate.subnets.1');
    expect(err.message).toContain('ECS_SUBNETS');
  });

  it('a cloud tier enabled explicitly without its resources', async () => {
    const err = await configError(loadConfig({ env: { TIERCAST_TIERS: 'local,lambda' }, home }));
    expect(err.message).toMatch(/lambda cannot be enabled/);
    expect(err.message).toContain('TIERCAST_TIERS');
  });

  it('credentials are refused in the file and in flags', async () => {
    writeFile({ aws: { region: 'us-east-1', secretAccessKey: 'abc' } });
    const err = await configError(loadConfig({ env: {}, home }));
    expect(err.message).toContain('aws.secretAccessKey');
    expect(err.message).not.toContain('abc');
  });
});

describe('saveConfig', () => {
  it('merges into the file, removes keys set to null, and validates before writing', async () => {
    writeFile({ tiers: { local: { concurrency: 2 } } });
    const saved = await saveConfig(home, { tiers: { lambda: { functionName: 'f1' } }, metrics: { source: 'cloudwatch' } });
    expect(saved.tiers.local.concurrency).toBe(2);
    expect(saved.tiers.lambda.functionName).toBe('f1');
    const onDisk = JSON.parse(readFileSync(path.join(home, 'config.json'), 'utf8'));
    expect(onDisk).toEqual({ tiers: { local: { concurrency: 2 }, lambda: { functionName: 'f1' } }, metrics: { source: 'cloudwatch' } });

    await saveConfig(home, { tiers: { lambda: { functionName: null } } });
    expect(JSON.parse(readFileSync(path.join(home, 'config.json'), 'utf8')).tiers.lambda).toEqual({});

    const before = readFileSync(path.join(home, 'config.json'), 'utf8');
    await configError(saveConfig(home, { tiers: { local: { concurrency: 0 } } }));
    expect(readFileSync(path.join(home, 'config.json'), 'utf8')).toBe(before);
  });

  it('writes the --config file when given one, and leaves the data home alone', async () => {
    const file = path.join(home, 'ops', 'tiercast.json');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ tiers: { local: { concurrency: 3 } } }));
    const saved = await saveConfig(home, { tiers: { lambda: { functionName: 'f2' } } }, { configPath: file });
    expect(saved.tiers).toMatchObject({ local: { concurrency: 3 }, lambda: { functionName: 'f2' } });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ tiers: { local: { concurrency: 3 }, lambda: { functionName: 'f2' } } });
    expect(existsSync(path.join(home, 'config.json'))).toBe(false);
  });

  it('creates the data home and file when missing', async () => {
    const fresh = path.join(home, 'nested', 'home');
    mkdirSync(path.dirname(fresh), { recursive: true });
    await saveConfig(fresh, { store: { kind: 's3', bucket: 'abc-bucket', prefix: 'tc/' } });
    expect(existsSync(path.join(fresh, 'config.json'))).toBe(true);
    expect((await loadConfig({ env: {}, home: fresh })).store).toMatchObject({ bucket: 'abc-bucket', prefix: 'tc/' });
  });
});

describe('redactConfig', () => {
  it('drops credential-looking keys and user info in URLs, keeps the rest', () => {
    const r = redactConfig({ store: { kind: 's3', endpoint: 'http://user:pw@127.0.0.1:9000', bucket: 'b' }, extra: { sessionToken: 'x' } });
    expect(r).toEqual({ store: { kind: 's3', endpoint: 'http://[redacted]@127.0.0.1:9000', bucket: 'b' }, extra: {} });
  });
});
