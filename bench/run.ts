/**
 * `npm run bench [-- NAME... [--flag value ...]]`: runs every bench/*.bench.ts (or those named), each in its own
 * Node process so one benchmark's memory and warm caches do not colour the next. Each prints its own ratios and
 * writes bench/results/. Exit code 1 if any benchmark process failed.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const all = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace(/\.bench\.ts$/, ''))
  .sort();

// Benchmark names come first; everything from the first flag on goes to each benchmark.
const argv = process.argv.slice(2).filter((a) => a !== '--');
const firstFlag = argv.findIndex((a) => a.startsWith('-'));
const names = firstFlag >= 0 ? argv.slice(0, firstFlag) : argv;
const passThrough = firstFlag >= 0 ? argv.slice(firstFlag) : [];

const unknown = names.filter((n) => !all.includes(n));
if (unknown.length) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; available: ${all.join(', ')}\n`);
  process.exit(2);
}
const selected = names.length ? names : all;

let failed = 0;
for (const name of selected) {
  process.stderr.write(`\n== bench ${name}\n`);
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, `${name}.bench.ts`), ...passThrough], { stdio: 'inherit' });
    child.on('close', (c) => resolve(c ?? 1));
    child.on('error', () => resolve(1));
  });
  if (code !== 0) {
    failed++;
    process.stderr.write(`bench ${name} failed (exit ${code})\n`);
  }
}
process.exitCode = failed ? 1 : 0;
