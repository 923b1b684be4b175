import os from 'node:os';
import path from 'node:path';

/**
 * The one data home shared by the CLI, the agent in local mode and the console (CONVENTIONS.md):
 * TIERCAST_HOME, else the platform's user-data folder.
 */
export function dataHome(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.TIERCAST_HOME) return path.resolve(env.TIERCAST_HOME);
  const home = env.HOME ?? env.USERPROFILE ?? os.homedir();
  switch (platform) {
    case 'darwin':
      return path.join(home, 'Library', 'Application Support', 'tiercast');
    case 'win32':
      return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'tiercast');
    default:
      return path.join(env.XDG_DATA_HOME ?? path.join(home, '.local', 'share'), 'tiercast');
  }
}

/** Well-known places inside the data home. */
export function homePaths(home: string = dataHome()) {
  return {
    home,
    config: path.join(home, 'config.json'),
    /** The local object store (jobs/, outputs/, inputs/ live here). */
    store: path.join(home, 'store'),
    /** The job store (SQLite): state, events and webhook deliveries of every job. */
    jobsDb: path.join(home, 'jobs.db'),
    /** The local job queue. */
    queue: path.join(home, 'queue'),
    /** Local metrics (EMF JSON lines). */
    metrics: path.join(home, 'metrics'),
    /** Scratch space for jobs; swept at start-up. */
    work: path.join(home, 'work'),
    /** Saved ladders. */
    ladders: path.join(home, 'ladders'),
    /** Upload resume state. */
    uploads: path.join(home, 'uploads'),
  } as const;
}
