import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The import rules of the layers (README "Layout"). The per-layer tsconfigs catch Node/DOM use by type;
 * this test catches imports across layers, which types alone do not.
 */
const root = path.resolve(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  const abs = path.join(root, dir);
  let entries: string[];
  try {
    entries = readdirSync(abs);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const rel = path.join(dir, name);
    if (name === 'node_modules' || name === 'out') return [];
    return statSync(path.join(root, rel)).isDirectory() ? sourceFiles(rel) : /\.(ts|tsx|mts)$/.test(name) ? [rel] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  const specs = new Set<string>();
  for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm)) {
    specs.add((m[1] ?? m[2] ?? m[3])!);
  }
  return [...specs];
}

/** Resolve a relative import to a repo path; bare specifiers stay as they are. */
function target(file: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return path.relative(root, path.resolve(path.dirname(path.join(root, file)), spec)).split(path.sep).join('/');
}

interface Rule {
  layer: string;
  forbid: (t: string) => string | null;
}

const isRel = (t: string) => /^(shared|cloud|agent|desktop|cli|bench|test)\//.test(t);
const rules: Rule[] = [
  {
    layer: 'shared/common',
    forbid: (t) =>
      isRel(t) ? (t.startsWith('shared/common/') ? null : 'shared/common imports only shared/common')
      : t.startsWith('node:') || ['fs', 'path', 'os', 'child_process', 'electron', 'react'].includes(t) || t.startsWith('@aws-sdk/')
        ? 'shared/common is pure: no Node, DOM, Electron or AWS'
        : null,
  },
  {
    layer: 'shared/node',
    forbid: (t) =>
      isRel(t) ? (t.startsWith('shared/') ? null : 'shared/node imports only shared/')
      : t.startsWith('@aws-sdk/') || t === 'electron' || t === 'react' ? 'shared/node: no AWS, Electron or React' : null,
  },
  {
    layer: 'cloud',
    forbid: (t) => (isRel(t) && !/^(shared|cloud)\//.test(t) ? 'cloud imports only shared/ and cloud/' : t === 'electron' ? 'no Electron in cloud/' : null),
  },
  {
    layer: 'agent',
    forbid: (t) =>
      isRel(t) && !/^(shared|cloud|agent)\//.test(t) ? 'agent imports only shared/, cloud/ adapters and agent/'
      : /^cloud\/(lambda|fargate|infra)\//.test(t) ? 'agent never imports the Lambda/Fargate entry points or the CDK app'
      : t.startsWith('@aws-sdk/') ? 'only cloud/ imports @aws-sdk' : null,
  },
  {
    layer: 'desktop/renderer',
    forbid: (t) =>
      isRel(t) ? (/^(shared\/common|desktop\/renderer)\//.test(t) ? null : 'the renderer imports only shared/common and itself')
      : t.startsWith('node:') || t === 'electron' || t.startsWith('@aws-sdk/') ? 'the renderer never imports Node, Electron or AWS' : null,
  },
  {
    layer: 'desktop/preload',
    forbid: (t) => (isRel(t) && !/^(shared\/common|desktop\/preload)\//.test(t) ? 'the preload imports only shared/common' : t.startsWith('@aws-sdk/') ? 'no AWS in preload' : null),
  },
  {
    layer: 'desktop/main',
    forbid: (t) =>
      isRel(t) && /^(desktop\/renderer|cli)\//.test(t) ? 'desktop/main never imports the renderer or the CLI'
      : /^cloud\/(lambda|fargate|infra)\//.test(t) ? 'desktop/main never imports entry points or the CDK app'
      : t.startsWith('@aws-sdk/') ? 'only cloud/ imports @aws-sdk' : null,
  },
];

describe('layering', () => {
  for (const rule of rules) {
    it(`${rule.layer} respects its import rules`, () => {
      const violations: string[] = [];
      for (const file of sourceFiles(rule.layer)) {
        for (const spec of importsOf(file)) {
          const why = rule.forbid(target(file, spec));
          if (why) violations.push(`${file} -> ${spec}: ${why}`);
        }
      }
      expect(violations).toEqual([]);
    });
  }

  it('only cloud/ imports @aws-sdk, and nothing but composition roots imports agent/ or desktop/', () => {
    const violations: string[] = [];
    for (const layer of ['shared', 'agent', 'desktop', 'cli']) {
      for (const file of sourceFiles(layer)) {
        for (const spec of importsOf(file)) {
          const t = target(file, spec);
          if (t.startsWith('@aws-sdk/')) violations.push(`${file} -> ${spec}`);
        }
      }
    }
    for (const layer of ['shared', 'cloud']) {
      for (const file of sourceFiles(layer)) {
        for (const spec of importsOf(file)) {
          const t = target(file, spec);
          if (/^(agent|desktop|cli)\//.test(t)) violations.push(`${file} -> ${spec}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('the checker sees real files (guards against a silently empty scan)', () => {
    expect(sourceFiles('shared/common').length).toBeGreaterThan(2);
    expect(importsOf('shared/common/job.ts')).toContain('zod');
  });
});
