import type { Command } from 'commander';
import { register as probe } from './probe.ts';
import { register as ladder } from './ladder.ts';
import { register as transcode } from './transcode.ts';
import { register as route } from './route.ts';
import { register as submit } from './submit.ts';
import { register as jobs } from './jobs.ts';
import { register as jobActions } from './job-actions.ts';
import { register as doctor } from './doctor.ts';
import { register as agent } from './agent.ts';
import { register as consoleCmd } from './console.ts';

/** Each verb registers itself; heavy modules are imported lazily inside the action so `--help` stays fast. */
export function registerCommands(program: Command): void {
  for (const register of [probe, ladder, transcode, route, submit, jobs, jobActions, agent, consoleCmd, doctor]) register(program);
}
