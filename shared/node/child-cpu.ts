import { readFile } from 'node:fs/promises';

/** Linux reports process times in USER_HZ ticks, which the kernel fixes at 100 for /proc whatever its own HZ. */
const TICKS_PER_SECOND = 100;

/**
 * CPU seconds (user + system) of every child process this process has waited for: on Linux the kernel adds a
 * child's times to its parent's `cutime`/`cstime` when the child is reaped, which Node does as each ffmpeg exits.
 * The difference across a stretch of work is the CPU its ffmpeg processes used, threads included (exact when
 * nothing else spawns children meanwhile). Null off Linux.
 */
export async function childCpuSeconds(): Promise<number | null> {
  try {
    const text = await readFile('/proc/self/stat', 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3, cutime 16, cstime 17.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const cutime = Number(fields[13]);
    const cstime = Number(fields[14]);
    return Number.isFinite(cutime) && Number.isFinite(cstime) ? (cutime + cstime) / TICKS_PER_SECOND : null;
  } catch {
    return null;
  }
}
