import { InvalidArgumentError, type Command } from 'commander';

/**
 * `tiercast agent`: the headless worker (agent/main.ts). Exit codes: 0 after a clean stop (or --once with every job
 * done), 1 when a --once job failed, 2 for a usage or configuration error.
 */

function intOption(name: string, min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`${name} must be a whole number`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be ${min}..${max}`);
    return n;
  };
}

export function register(program: Command): void {
  program
    .command('agent')
    .description('Run the worker: take jobs from the queue (SQS, or the local queue with --local) and transcode them')
    .option('--local', 'local mode: the local queue and object store in the data home (no AWS)')
    .option('--once', 'work until the queue is empty, then exit')
    .option('--concurrency <n>', 'jobs at once (default: cores / 2, at least 1)', intOption('--concurrency', 1, 256))
    .option('--config <file>', 'config file (default: config.json in the data home)')
    .option('--health-port <n>', 'port of /healthz, /readyz, /metrics on 127.0.0.1 (0 = random)', intOption('--health-port', 0, 65_535))
    .option('--work-dir <dir>', 'scratch folder for jobs (default: work/ in the data home)')
    .option('--spot-watch', 'watch the EC2 Spot interruption notice and stop gracefully when it comes')
    .option('--log-format <format>', 'json | pretty | auto', (v: string) => {
      if (!['json', 'pretty', 'auto'].includes(v)) throw new InvalidArgumentError('--log-format must be json, pretty or auto');
      return v;
    })
    .addHelpText(
      'after',
      `
Environment (flags win, then environment, then the config file's "agent" section):
  TIERCAST_AGENT_CONCURRENCY, TIERCAST_AGENT_WORK_DIR, TIERCAST_AGENT_MIN_FREE_DISK_BYTES,
  TIERCAST_AGENT_VISIBILITY_TIMEOUT_SEC, TIERCAST_AGENT_HEARTBEAT_SEC, TIERCAST_AGENT_WAIT_SECONDS,
  TIERCAST_AGENT_MAX_RECEIVES, TIERCAST_AGENT_GRACE_MS, TIERCAST_AGENT_HEALTH_PORT, TIERCAST_AGENT_SPOT_WATCH,
  plus the queue and store settings: TIERCAST_QUEUE_URL, TIERCAST_QUEUE_URL_HIGH, TIERCAST_BUCKET, AWS_REGION.
Signals: SIGTERM/SIGINT stop taking jobs and let running ones finish (grace period); a second signal aborts them
and hands their messages back to the queue at once.`,
    )
    .action(async (opts: { local?: boolean; once?: boolean; concurrency?: number; config?: string; healthPort?: number; workDir?: string; spotWatch?: boolean; logFormat?: 'json' | 'pretty' | 'auto' }) => {
      const { runAgent } = await import('../../agent/main.ts');
      let code: number;
      try {
        code = await runAgent(opts);
      } catch (err) {
        const c = (err as { code?: string }).code;
        process.stderr.write(`${c ? `${c}: ` : ''}${err instanceof Error ? err.message : String(err)}\n`);
        code = c === 'CONFIG_INVALID' ? 2 : 1;
      }
      process.exitCode = code;
      // A stray handle (an SDK socket, a timer) must not keep a stopped agent alive until systemd's SIGKILL.
      setTimeout(() => process.exit(code), 2_000).unref();
    });
}
