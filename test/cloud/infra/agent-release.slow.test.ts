import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAgentRelease } from '../../../cloud/infra/constructs/agents.ts';
import { TiercastStack } from '../../../cloud/infra/tiercast-stack.ts';
import { buildAgentRelease, type AgentRelease } from '../../../scripts/release-agent.ts';

/**
 * `npm run release:agent` for real: the tarball runs on its own Node with no npm install, and the hash check user-data
 * runs (agent/deploy/bootstrap-lib.sh, written verbatim into the launch template) accepts it and refuses it tampered.
 */
const repoRoot = path.resolve(import.meta.dirname, '../../..');
const lib = path.join(repoRoot, 'agent/deploy/bootstrap-lib.sh');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tiercast-release-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const verify = (file: string, sha: string) => spawnSync('bash', ['-c', '. "$0"; tc_verify_release "$1" "$2"', lib, file, sha], { encoding: 'utf8' });

let release: AgentRelease;
beforeAll(() => {
  release = buildAgentRelease(path.join(tmp, 'out'));
}, 300_000);

describe('agent release', () => {
  it('a versioned tarball and its sha256 (sha256sum format) and latest.json for the stack', () => {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    expect(path.basename(release.file)).toBe(`tiercast-agent-${pkg.version}-linux-${process.arch === 'x64' ? 'x86_64' : process.arch}.tgz`);
    const sum = execFileSync('sha256sum', [release.file], { encoding: 'utf8' }).split(' ')[0];
    expect(release.sha256).toBe(sum);
    expect(readFileSync(`${release.file}.sha256`, 'utf8')).toBe(`${sum}  ${path.basename(release.file)}\n`);
    expect(readAgentRelease(path.join(tmp, 'out/latest.json'))).toEqual({ file: release.file, sha256: sum });
    // sha256sum -c reads the .sha256 file as written.
    expect(spawnSync('sha256sum', ['-c', `${path.basename(release.file)}.sha256`], { cwd: path.dirname(release.file) }).status).toBe(0);
  });

  it('holds its own Node, the bundled CLI and only the run-time modules; it runs with no npm, tsx or esbuild', () => {
    const entries = execFileSync('tar', ['-tzf', release.file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).split('\n').filter(Boolean);
    const root = `${release.name}/`;
    expect(entries.every((e) => e.startsWith(root))).toBe(true);
    for (const f of ['bin/node', 'tiercast.mjs', 'release.json', 'tiercast-agent.service', 'node_modules/better-sqlite3/build/Release/better_sqlite3.node', 'node_modules/bindings/package.json', 'node_modules/m3u8-parser/package.json']) {
      expect(entries, f).toContain(root + f);
    }
    expect(entries.some((e) => /node_modules\/(tsx|esbuild|typescript|aws-cdk-lib|prebuild-install)\//.test(e))).toBe(false);
    expect(entries.some((e) => e.includes('better-sqlite3/deps/') || e.includes('better-sqlite3/src/'))).toBe(false);

    const host = path.join(tmp, 'host');
    mkdirSync(host);
    execFileSync('tar', ['-xzf', release.file, '-C', host, '--strip-components=1']);
    // A PATH with no node, npm or npx: the release runs on its own binary.
    const env = { PATH: '/usr/bin:/bin', HOME: tmp, TIERCAST_HOME: path.join(tmp, 'home') };
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    expect(execFileSync(path.join(host, 'bin/node'), [path.join(host, 'tiercast.mjs'), '--version'], { env, encoding: 'utf8' }).trim()).toBe(pkg.version);
    expect(execFileSync(path.join(host, 'bin/node'), [path.join(host, 'tiercast.mjs'), 'agent', '--help'], { env, encoding: 'utf8' })).toContain('Usage: tiercast agent');
    // The native module loads under the shipped Node (same ABI, recorded in release.json).
    const meta = JSON.parse(readFileSync(path.join(host, 'release.json'), 'utf8')) as { nodeAbi: string; node: string };
    expect(meta.nodeAbi).toBe(process.versions.modules);
    expect(execFileSync(path.join(host, 'bin/node'), ['-e', "process.stdout.write(String(new (require('better-sqlite3'))(':memory:').prepare('select 41 + 1 as n').get().n))"], { cwd: host, env, encoding: 'utf8' })).toBe('42');
    // The unit starts the release's own binary.
    expect(readFileSync(path.join(host, 'tiercast-agent.service'), 'utf8')).toMatch(/^ExecStart=\/opt\/tiercast\/current\/bin\/node \/opt\/tiercast\/current\/tiercast\.mjs agent --spot-watch$/m);
  });

  it('the hash check user-data runs accepts this release and refuses it tampered', () => {
    expect(verify(release.file, release.sha256).status).toBe(0);
    const tampered = path.join(tmp, 'tampered.tgz');
    copyFileSync(release.file, tampered);
    const bytes = readFileSync(tampered);
    const at = bytes.length - 100;
    bytes[at] = bytes[at]! ^ 0xff;
    writeFileSync(tampered, bytes);
    const r = verify(tampered, release.sha256);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('refusing to install it');
    // The stack refuses a tarball that no longer matches its latest.json, so it never publishes a hash that fails at boot.
    const manifest = path.join(tmp, 'tampered.json');
    writeFileSync(manifest, JSON.stringify({ file: 'tampered.tgz', sha256: release.sha256 }));
    expect(() => readAgentRelease(manifest)).toThrow(/rebuild it with npm run release:agent/);
  });

  it('the stack publishes it as an asset and hands user-data its location and sha256', () => {
    const outdir = path.join(tmp, 'cdk');
    const stack = new TiercastStack(new App({ outdir }), 'Release', { agentReleaseManifest: path.join(tmp, 'out/latest.json') });
    const t = Template.fromStack(stack);
    const userData = JSON.stringify(Object.values(t.findResources('AWS::EC2::LaunchTemplate'))[0]!.Properties.LaunchTemplateData.UserData);
    expect(userData).toContain(`TIERCAST_RELEASE_SHA256=${release.sha256}`);
    // The CDK assets bucket (written by the deployment role only), the object named by the asset's hash.
    expect(userData).toMatch(/TIERCAST_RELEASE_URL=",\{"Fn::Sub":"s3:\/\/cdk-[a-z0-9]+-assets-\$\{AWS::AccountId\}-\$\{AWS::Region\}\/[0-9a-f]{64}\.tgz"\}/);
    // (userData is the template JSON, so the script's quotes arrive escaped.)
    expect(userData).toContain('tc_verify_release \\"$release_tgz\\"');
    const files = JSON.parse(readFileSync(path.join(outdir, 'Release.assets.json'), 'utf8')) as { files: Record<string, { source: { path: string } }> };
    const staged = Object.values(files.files).map((f) => f.source.path).find((p) => p.endsWith('.tgz'))!;
    expect(execFileSync('sha256sum', [path.join(outdir, staged)], { encoding: 'utf8' }).split(' ')[0]).toBe(release.sha256);
  });
});
