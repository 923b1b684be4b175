import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from './atomic-file.ts';
import type { Logger } from './log.ts';

/**
 * Work folders: each agent process owns `<workRoot>/agent-<pid>-<rand>/` and puts one `job-*` folder per running job
 * in it. Several agents (or the console and an agent) may share a work root, so the start-up sweep removes only
 * folders whose owning process is gone, never a live neighbour's.
 */

const AGENT_DIR_RE = /^agent-(\d+)-[0-9a-f]+$/;

interface Owner {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function claimWorkDir(workRoot: string): Promise<string> {
  const dir = path.join(workRoot, `agent-${process.pid}-${randomBytes(4).toString('hex')}`);
  await fs.mkdir(dir, { recursive: true });
  const owner: Owner = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() };
  await writeFileAtomic(path.join(dir, 'owner.json'), JSON.stringify(owner));
  return dir;
}

/** Removes agent folders of processes that no longer run on this host; returns what it removed. */
export async function sweepWorkRoot(workRoot: string, log?: Logger): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(workRoot);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = AGENT_DIR_RE.exec(name);
    if (!m) continue;
    const dir = path.join(workRoot, name);
    let owner: Partial<Owner> = {};
    try {
      owner = JSON.parse(await fs.readFile(path.join(dir, 'owner.json'), 'utf8')) as Owner;
    } catch {
      // Crashed before writing owner.json: the pid in the name is all we have.
    }
    const pid = owner.pid ?? Number(m[1]);
    // A folder from another host (a shared mount) cannot be judged from here: leave it.
    if (owner.host && owner.host !== os.hostname()) continue;
    if (alive(pid)) continue; // includes this process: another worker in it (the console) may own the folder
    try {
      await fs.rm(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch (err) {
      log?.warn({ dir, err: String(err) }, 'could not remove a stale work folder');
    }
  }
  return removed;
}
