import type { CallName, EventChannel } from '../../shared/common/api-contract.ts';

/**
 * IPC channel names and the lists of calls and events, without zod: the sandboxed preload must stay a few
 * kilobytes, so it cannot pull in the contract's schemas. The type checks below make these lists follow the
 * contract exactly (a call added to the contract and not here fails to compile); test/desktop/preload checks it
 * at run time too. desktop/main/ipc.ts uses the same names.
 */
export const CALLS = [
  'app.info',
  'files.add',
  'files.list',
  'files.remove',
  'files.reroute',
  'uploads.start',
  'uploads.pause',
  'uploads.resume',
  'uploads.cancel',
  'uploads.retry',
  'uploads.list',
  'ladders.list',
  'ladders.get',
  'ladders.save',
  'ladders.delete',
  'preview.run',
  'preview.cancel',
  'jobs.dispatch',
  'jobs.list',
  'jobs.get',
  'jobs.retry',
  'jobs.cancel',
  'jobs.changes',
  'jobs.delete',
  'jobs.redrive',
  'metrics.query',
  'player.sources',
  'settings.get',
  'settings.save',
  'settings.testConnection',
] as const satisfies readonly CallName[];

export const EVENTS = ['files.updated', 'uploads.progress', 'jobs.updated', 'preview.progress'] as const satisfies readonly EventChannel[];

type MissingCalls = Exclude<CallName, (typeof CALLS)[number]>;
type MissingEvents = Exclude<EventChannel, (typeof EVENTS)[number]>;
export const callsAreComplete: [MissingCalls] extends [never] ? true : MissingCalls = true;
export const eventsAreComplete: [MissingEvents] extends [never] ? true : MissingEvents = true;

export const callChannel = (name: string): string => `tiercast:call:${name}`;
export const eventChannel = (name: string): string => `tiercast:event:${name}`;
