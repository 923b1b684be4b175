import type { Command } from 'commander';

// Placeholder until this verb lands (owner: see issue). Replace this whole file.
export function register(program: Command): void {
  program
    .command('route')
    .description('(not yet available)')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('tiercast route: not available yet\n');
      process.exitCode = 2;
    });
}
