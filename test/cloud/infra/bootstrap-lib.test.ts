import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * agent/deploy/bootstrap-lib.sh is what every agent host runs at boot (the launch template writes it verbatim, see
 * tiercast-stack.test.ts): settings are data, never shell, and the release is refused unless its sha256 matches.
 */
const lib = path.join(import.meta.dirname, '../../../agent/deploy/bootstrap-lib.sh');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tiercast-bootstrap-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Run `script` in bash with the library sourced; arguments as $1..$n. */
function bash(script: string, ...args: string[]) {
  const r = spawnSync('bash', ['-c', `set -euo pipefail; . "$0"; ${script}`, lib, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('bootstrap-lib.sh', () => {
  it('tc_verify_release accepts the tarball with the published sha256 and refuses a tampered or unknown one', () => {
    const tgz = path.join(tmp, 'release.tgz');
    writeFileSync(tgz, Buffer.from('a release tarball'));
    const sha = execFileSync('sha256sum', [tgz], { encoding: 'utf8' }).split(' ')[0]!;
    expect(bash('tc_verify_release "$1" "$2"', tgz, sha).status).toBe(0);
    writeFileSync(tgz, Buffer.from('a release tarbalL'));
    const tampered = bash('tc_verify_release "$1" "$2"', tgz, sha);
    expect(tampered.status).toBe(1);
    expect(tampered.stderr).toContain(`expected ${sha}: refusing to install it`);
    expect(bash('tc_verify_release "$1" "$2"', tgz, '').status).toBe(2);
    expect(bash('tc_verify_release "$1" "$2"', tgz, 'ABC; touch /tmp/x').status).toBe(2);
    expect(bash('tc_verify_release "$1" "$2"', path.join(tmp, 'missing.tgz'), sha).status).toBe(1);
  });

  it('tc_load_env exports values literally: a value that looks like shell is never run', () => {
    const marker = path.join(tmp, 'pwned');
    const env = path.join(tmp, 'agent.env');
    writeFileSync(env, [
      'TIERCAST_BUCKET=my-bucket',
      `TIERCAST_EVIL=$(touch ${marker})`,
      `TIERCAST_EVIL2=\`touch ${marker}\``,
      `PATH=/nowhere`,
      `TIERCAST_SPACES=a b c`,
      '# a comment',
      '',
    ].join('\n'));
    const r = bash('tc_load_env "$1"; printf "%s|%s|%s|%s" "$TIERCAST_BUCKET" "${TIERCAST_EVIL-unset}" "$TIERCAST_SPACES" "$PATH" ', env);
    expect(r.status).toBe(0);
    const [bucket, evil, spaces, pathVar] = r.stdout.split('|');
    expect(bucket).toBe('my-bucket');
    // Refused (a $ in the value), not evaluated.
    expect(evil).toBe('unset');
    expect(spaces).toBe('a b c');
    expect(pathVar).not.toBe('/nowhere');
    expect(existsSync(marker)).toBe(false);
    expect(r.stderr).toContain('skipping a malformed line');
  });

  it('tc_add_setting takes instance tags as data: bad names and values are refused, existing names are kept', () => {
    const env = path.join(tmp, 'tags.env');
    writeFileSync(env, 'TIERCAST_BUCKET=from-template\n');
    expect(bash('tc_add_setting "$1" TIERCAST_BUCKET from-tag', env).status).toBe(0);
    expect(bash('tc_add_setting "$1" TIERCAST_AGENT_CONCURRENCY 4', env).status).toBe(0);
    expect(bash('tc_add_setting "$1" "TIERCAST_X;reboot" 1', env).status).toBe(1);
    expect(bash('tc_add_setting "$1" LD_PRELOAD /tmp/x.so', env).status).toBe(1);
    expect(bash('tc_add_setting "$1" TIERCAST_Y "$2"', env, 'a\nTIERCAST_Z=1').status).toBe(1);
    expect(bash('tc_add_setting "$1" TIERCAST_Y "$2"', env, '"quoted"').status).toBe(1);
    expect(readFileSync(env, 'utf8')).toBe('TIERCAST_BUCKET=from-template\nTIERCAST_AGENT_CONCURRENCY=4\n');
  });

  it('user-data.sh loads its settings with tc_load_env and checks the release and ffmpeg with the library, never `source`s settings', () => {
    const script = readFileSync(path.join(import.meta.dirname, '../../../agent/deploy/user-data.sh'), 'utf8');
    expect(script).toMatch(/^tc_load_env "\$ENV_FILE"$/m);
    expect(script).toMatch(/^tc_verify_release "\$release_tgz" "\$\{TIERCAST_RELEASE_SHA256/m);
    expect(script).toMatch(/^tc_verify_deb "\$deb" /m);
    // The only file it sources is the library itself.
    expect(script.split('\n').filter((l) => /^\s*(\.|source)\s/.test(l))).toEqual(['. "$LIB"']);
    expect(script).not.toMatch(/npm (ci|install)|git clone|dnf /);
    expect(spawnSync('bash', ['-n', path.join(import.meta.dirname, '../../../agent/deploy/user-data.sh')]).status).toBe(0);
  });
});
