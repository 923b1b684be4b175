import { Command, CommanderError } from 'commander';
import { registerCommands } from './commands/index.ts';

/**
 * `tiercast <verb>`: the one binary (CONVENTIONS.md). Exit codes: 0 all succeeded, 1 some input or job failed,
 * 2 usage or configuration error. Each verb lives in cli/commands/<verb>.ts and sets process.exitCode itself.
 */
const program = new Command('tiercast')
  .description('Operator tooling for cloud video transcoding')
  .version('0.1.0')
  .showHelpAfterError()
  // A verb's options after a sub-verb belong to the sub-verb (`tiercast jobs import --json`).
  .enablePositionalOptions()
  .exitOverride();

registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version exit 0; every other parse error is a usage error.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    const code = (err as { code?: string }).code;
    process.stderr.write(`${code ? `${code}: ` : ''}${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = code === 'CONFIG_INVALID' ? 2 : 1;
  }
}
