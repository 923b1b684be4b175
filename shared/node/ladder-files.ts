import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TiercastError } from '../common/errors.ts';
import { LADDER_NAME_PATTERN, type Ladder } from '../common/ladder-schema.ts';
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

/** A ladder of 12 rungs is about 2 KB of JSON; anything this large is not a ladder. */
export const MAX_LADDER_FILE_BYTES = 256 * 1024;

function laddersDir(home?: string): string {
  return homePaths(home ?? dataHome()).ladders;
}

/** A path, not a name: has a separator or ends in .json (`--ladder ./mine.json`, `--ladder /etc/x.json`). */
function looksLikePath(value: string): boolean {
  return value.includes('/') || value.includes(path.sep) || value.toLowerCase().endsWith('.json');
}

/**
 * Reads a ladder JSON file: a regular file of at most MAX_LADDER_FILE_BYTES (so `/dev/zero` or a FIFO is refused at
 * once instead of read until memory runs out), and an error never quotes the file's bytes (`--ladder /etc/passwd`
 * must not print its first line; JSON.parse's own message does).
 */
async function readLadderFile(file: string, label: string): Promise<Ladder> {
  const refuse = (why: string, cause?: unknown) => new TiercastError('CONFIG_INVALID', `${label}: ${why}`, { ...(cause ? { cause } : {}), details: { file } });
  const checkStat = (st: { isFile(): boolean; size: number }) => {
    if (!st.isFile()) throw refuse('not a regular file, so not a ladder JSON file');
    if (st.size > MAX_LADDER_FILE_BYTES) throw refuse(`${st.size} bytes, over the ${MAX_LADDER_FILE_BYTES} bytes a ladder file may have`);
  };
  let text: string;
  try {
    checkStat(await stat(file));
    // O_NONBLOCK: a FIFO swapped in after the stat opens without waiting for a writer, then fails the fstat check.
    const handle = await open(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
    try {
      checkStat(await handle.stat());
      const buf = Buffer.alloc(MAX_LADDER_FILE_BYTES + 1);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      if (bytesRead > MAX_LADDER_FILE_BYTES) throw refuse(`over the ${MAX_LADDER_FILE_BYTES} bytes a ladder file may have`);
      text = buf.toString('utf8', 0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof TiercastError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw refuse(code === 'ENOENT' ? 'no such ladder file' : `cannot read it (${code ?? 'unknown error'})`, err);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw refuse('not valid JSON');
  }
  return parseLadder(json, label);
}

/**
 * Resolves the CLI's `--ladder NAME|FILE`: a path reads that JSON file (size-capped, regular files only); otherwise
 * a ladder name (loadNamedLadder). Unknown names fail with CONFIG_INVALID listing what exists.
 */
export async function loadLadder(nameOrFile: string, options: { home?: string } = {}): Promise<Ladder> {
  if (looksLikePath(nameOrFile)) return readLadderFile(path.resolve(nameOrFile), path.basename(nameOrFile));
  return loadNamedLadder(nameOrFile, { ...options, fileHint: true });
}

/**
 * A ladder by name only, for callers that must never read a path (the console): a built-in name, then a ladder saved
 * in the data home (ladders/<name>.json). A value that is not a ladder name (`/etc/passwd`, `../x`) is refused
 * before any file is touched.
 */
export async function loadNamedLadder(name: string, options: { home?: string; fileHint?: boolean } = {}): Promise<Ladder> {
  if (Object.hasOwn(LADDERS, name)) return LADDERS[name]!;
  if (!LADDER_NAME_PATTERN.test(name) || name.length > 64 || looksLikePath(name)) {
    throw new TiercastError('CONFIG_INVALID', 'not a ladder name (letters, digits, . _ - only, at most 64)', { details: { ladder: name.slice(0, 64) } });
  }
  try {
    return await readLadderFile(path.join(laddersDir(options.home), `${name}.json`), `saved ladder ${name}`);
  } catch (err) {
    if (!(err instanceof TiercastError && err.message.endsWith('no such ladder file'))) throw err;
  }
  const known = (await listLadders(options)).map((l) => l.name);
  throw new TiercastError('CONFIG_INVALID', `unknown ladder "${name}"; known ladders: ${known.join(', ')}${options.fileHint ? ' (or give a path to a ladder JSON file)' : ''}`, {
    details: { ladder: name, known },
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
