import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { TiercastError } from '../common/errors.ts';
import type { Ladder } from '../common/ladder-schema.ts';
import { LADDERS, parseLadder } from '../common/ladders.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { dataHome, homePaths } from './data-home.ts';

/** Where ladders come from: built in, saved in the data home's ladders/ folder, or a JSON file given by path. */
export interface LadderListing {
  readonly name: string;
  readonly origin: 'builtin' | 'saved';
  readonly description: string;
  readonly rungs: readonly string[];
  readonly file: string | null;
}

const NAME = /^[A-Za-z0-9_.-]+$/;

function laddersDir(home?: string): string {
  return homePaths(home ?? dataHome()).ladders;
}

/** A path, not a name: has a separator or ends in .json (`--ladder ./mine.json`, `--ladder /etc/x.json`). */
function looksLikePath(value: string): boolean {
  return value.includes('/') || value.includes(path.sep) || value.toLowerCase().endsWith('.json');
}

async function readLadderFile(file: string, label: string): Promise<Ladder> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TiercastError('CONFIG_INVALID', `${label}: ${code === 'ENOENT' ? 'no such ladder file' : `cannot read it (${code ?? String(err)})`}`, {
      cause: err,
      details: { file },
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TiercastError('CONFIG_INVALID', `${label}: not valid JSON (${(err as Error).message})`, { cause: err, details: { file } });
  }
  return parseLadder(json, label);
}

/**
 * Resolves `--ladder NAME|FILE`: a path reads that JSON file; otherwise a built-in name, then a ladder saved in
 * the data home (ladders/<name>.json). Unknown names fail with CONFIG_INVALID listing what exists.
 */
export async function loadLadder(nameOrFile: string, options: { home?: string } = {}): Promise<Ladder> {
  if (looksLikePath(nameOrFile)) return readLadderFile(path.resolve(nameOrFile), path.basename(nameOrFile));
  if (Object.hasOwn(LADDERS, nameOrFile)) return LADDERS[nameOrFile]!;
  if (NAME.test(nameOrFile)) {
    const file = path.join(laddersDir(options.home), `${nameOrFile}.json`);
    try {
      return await readLadderFile(file, `saved ladder ${nameOrFile}`);
    } catch (err) {
      if (!(err instanceof TiercastError && err.message.endsWith('no such ladder file'))) throw err;
    }
  }
  const known = (await listLadders(options)).map((l) => l.name);
  throw new TiercastError('CONFIG_INVALID', `unknown ladder "${nameOrFile}"; known ladders: ${known.join(', ')} (or give a path to a ladder JSON file)`, {
    details: { ladder: nameOrFile, known },
  });
}

/** Validates and saves a ladder as ladders/<name>.json in the data home (written whole, then renamed). */
export async function saveLadder(ladder: unknown, options: { home?: string; overwrite?: boolean } = {}): Promise<string> {
  const valid = parseLadder(ladder);
  if (Object.hasOwn(LADDERS, valid.name)) {
    throw new TiercastError('CONFIG_INVALID', `"${valid.name}" is a built-in ladder; save yours under another name`);
  }
  const dir = laddersDir(options.home);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${valid.name}.json`);
  if (!options.overwrite) {
    const existing = await readdir(dir);
    if (existing.includes(`${valid.name}.json`)) {
      throw new TiercastError('CONFIG_INVALID', `a saved ladder named "${valid.name}" exists already (${file})`, { details: { file } });
    }
  }
  try {
    await writeFileAtomic(file, `${JSON.stringify(valid, null, 2)}\n`);
  } catch (err) {
    throw new TiercastError('CONFIG_INVALID', `cannot save ladder ${valid.name} to ${file} (${(err as Error).message})`, { cause: err });
  }
  return file;
}

/** Built-in ladders, then the saved ones (a saved file that no longer validates is listed with its problem). */
export async function listLadders(options: { home?: string } = {}): Promise<LadderListing[]> {
  const out: LadderListing[] = Object.values(LADDERS).map((l) => ({
    name: l.name,
    origin: 'builtin',
    description: l.description,
    rungs: l.rungs.map((r) => r.name),
    file: null,
  }));
  const dir = laddersDir(options.home);
  let names: string[] = [];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
  } catch {
    return out;
  }
  for (const n of names) {
    const name = n.slice(0, -'.json'.length);
    if (Object.hasOwn(LADDERS, name)) continue;
    const file = path.join(dir, n);
    try {
      const l = await readLadderFile(file, `saved ladder ${name}`);
      out.push({ name, origin: 'saved', description: l.description, rungs: l.rungs.map((r) => r.name), file });
    } catch (err) {
      out.push({ name, origin: 'saved', description: `invalid: ${(err as Error).message}`, rungs: [], file });
    }
  }
  return out;
}
