import type { Command } from 'commander';

// Placeholder until this verb lands (owner: see issue). Replace this whole file.
export function register(program: Command): void {
  program
    .command('transcode')
    .description('(not yet available)')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('tiercast transcode: not available yet\n');
      process.exitCode = 2;
    });
}
