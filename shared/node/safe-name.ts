import path from 'node:path';

/**
 * Folder names for outputs, made from input file names. Unicode is kept (an operator's "Été à Paris.mov" stays
 * readable); what could escape the output folder or confuse tools is removed: path separators, control
 * characters, characters Windows forbids, leading dots (hidden files, `..`) and leading dashes (option-like
 * names). Shell metacharacters such as `$(touch x)` are harmless here (nothing runs a shell) and are kept.
 */

const MAX_BYTES = 120;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com\d|lpt\d)$/i;

export function safeName(input: string, fallback = 'input'): string {
  // Both separators, whatever the platform: a name made on Windows may arrive on Linux and vice versa.
  const base = input.split(/[\\/]/).filter(Boolean).at(-1) ?? '';
  const ext = path.extname(base);
  let name = (ext && ext.length < base.length ? base.slice(0, -ext.length) : base).normalize('NFC');
  name = name
    .replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, '')
    .replace(/[<>:"|?*]/g, '_')
    .replace(/\s+/g, ' ')
    .replace(/^[\s.\-]+/u, '')
    .replace(/[\s.]+$/u, '');
  name = truncateUtf8(name, MAX_BYTES).replace(/[\s.]+$/u, '');
  if (!name) name = fallback;
  if (WINDOWS_RESERVED.test(name)) name = `_${name}`;
  return name;
}

function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s, 'utf8') <= maxBytes) return s;
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const b = Buffer.byteLength(ch, 'utf8');
    if (bytes + b > maxBytes) break;
    out += ch;
    bytes += b;
  }
  return out;
}

/**
 * One safe name per input, distinct even on case-insensitive file systems: the second `clip.mp4` (from another
 * folder) or `clip.mov` becomes `clip-2`.
 */
export function uniqueSafeNames(inputs: readonly string[]): string[] {
  const used = new Set<string>();
  return inputs.map((input) => {
    const base = safeName(input);
    let name = base;
    for (let n = 2; used.has(name.toLowerCase()); n++) name = `${base}-${n}`;
    used.add(name.toLowerCase());
    return name;
  });
}

/** The output folder of one input: always a direct child of `outRoot`. */
export function outputDirFor(outRoot: string, name: string): string {
  const root = path.resolve(outRoot);
  const dir = path.resolve(root, name);
  if (path.dirname(dir) !== root) throw new Error(`refusing output folder outside ${root}: ${name}`);
  return dir;
}
