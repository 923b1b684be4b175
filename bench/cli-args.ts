import { readFileSync } from 'node:fs';

/** Shared by the benchmarks (not a benchmark itself): `--name value` from the command line. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

/** CPU seconds used so far by this process and its reaped children (utime, stime, cutime, cstime). */
export function cpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return [14, 15, 16, 17].reduce((sum, n) => sum + Number(fields[n - 3]), 0) / 100;
}
