import { contract, type ApiParsedRequest, type ApiRequest, type ApiResponse, type CallName } from '../../shared/common/api-contract.ts';
import type { CallContext, CallHandler, Handlers } from '../../desktop/main/api-calls.ts';
import { createFileRegistry } from '../../desktop/main/services/files.ts';
import { createConsoleJobs } from '../../desktop/main/services/jobs.ts';
import { createOutputsReader } from '../../desktop/main/services/outputs.ts';
import { createConsoleRouting } from '../../desktop/main/services/routing.ts';
import { createUploadManager } from '../../desktop/main/services/uploads.ts';
import { probeFile } from '../../shared/node/probe.ts';
import { jobsFor, testSpec } from './jobs.ts';

/**
 * One call of a namespace's handlers (desktop/main/services/handlers/) as a transport makes it: the request parsed
 * by the contract first, the answer parsed by it after, so a handler that answers outside its contract fails here.
 */
export async function callHandler<K extends CallName>(handlers: Partial<Handlers>, name: K, request: ApiRequest<K>, ctx: CallContext = { transport: 'ipc' }): Promise<ApiResponse<K>> {
  const handler = handlers[name] as CallHandler<K> | undefined;
  if (!handler) throw new Error(`no handler for ${name}`);
  const answer = await handler(contract[name].request.parse(request) as ApiParsedRequest<K>, ctx);
  return contract[name].response.parse(answer) as ApiResponse<K>;
}

/**
 * The console's parts over a temp data home as desktop/main/services/index.ts wires them, minus the worker: the real
 * SQLite job store and jobs service (nothing admitted: the jobs stay where a test puts them), the local store, routing,
 * the file registry with the real ffprobe, the upload manager and the console's jobs.
 */
export async function consoleParts(home: string) {
  const setup = await jobsFor(home, { caps: { local: 0 } });
  const routing = createConsoleRouting({ home, config: () => setup.config });
  const files = createFileRegistry({ probe: probeFile, route: routing.routeFile, maxInputBytes: () => 1e9, onUpdate: () => {} });
  const uploads = await createUploadManager({ store: () => setup.store, stateDir: setup.paths.uploads });
  const jobs = createConsoleJobs({ jobs: () => setup.jobs, route: routing.route, newJobId: () => testSpec().id, onUpdate: () => {} });
  const outputs = createOutputsReader(() => setup.store);
  async function close(): Promise<void> {
    files.close();
    jobs.close();
    await uploads.close();
    await setup.close();
  }
  return { setup, routing, files, uploads, jobs, outputs, close };
}
